"""Throughput of the real `POST /be/tickets` against a bare FastAPI app that only parses the same request model.

Both run under uvicorn (1 worker) on 127.0.0.1, driven by wrk with the same connections and duration, one after
the other in this one run. The real one checks the signature, validates, prices, debits and writes the ticket
durably to SQLite (WAL, synchronous=FULL). Prints requests/s, p50/p99 latency and errors of each, and the ratio.

    apt-get install wrk            # the load generator (Debian package)
    python bench/api_throughput.py [--connections 8] [--seconds 10]
    python bench/api_throughput.py --postgres postgresql+psycopg://postgres@127.0.0.1:5432/postgres

With --postgres the real endpoint is also measured on PostgreSQL with 1 and 2 uvicorn workers (a fresh database
each, created through that URL), in the same run.
"""

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.databases import POSTGRES_ENV, Databases  # noqa: E402
from tests.servers import engine_server, free_port, running  # noqa: E402
from tests.support import SAMPLE_REQUEST_TEXT  # noqa: E402
from ticketing.settings import DEMO_SITE_SECRET  # noqa: E402
from ticketing.signing import signed_headers  # noqa: E402

WRK_SCRIPT = """
wrk.method = "POST"
wrk.body = {body}
{headers}
"""


def wrk(url: str, body: bytes, connections: int, seconds: int, folder: Path) -> dict:
    headers = signed_headers("site", DEMO_SITE_SECRET, body) | {"content-type": "application/json"}
    script = folder / "post.lua"
    script.write_text(
        WRK_SCRIPT.format(
            body=json.dumps(body.decode()),
            headers="\n".join(f'wrk.headers["{k}"] = "{v}"' for k, v in headers.items()),
        )
    )
    out = subprocess.run(
        ["wrk", "-t", "1", "-c", str(connections), "-d", f"{seconds}s", "--latency", "-s", str(script), url],
        capture_output=True,
        text=True,
        check=True,
        timeout=seconds + 60,
    ).stdout
    return parse_wrk(out)


def _ms(text: str) -> float:
    value, unit = re.match(r"([\d.]+)(us|ms|s|m)", text).groups()
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}[unit]


def parse_wrk(out: str) -> dict:
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    socket_errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    return {
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
        # Anchored: a "+/- Stdev" figure such as 74.50% also contains "50%".
        "p50": _ms(re.search(r"^\s+50%\s+(\S+)", out, re.M).group(1)),
        "p99": _ms(re.search(r"^\s+99%\s+(\S+)", out, re.M).group(1)),
        "requests": int(re.search(r"(\d+) requests in", out).group(1)),
        "errors": (int(non_2xx.group(1)) if non_2xx else 0)
        + (sum(map(int, socket_errors.groups())) if socket_errors else 0),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--postgres", help="an admin URL of a PostgreSQL server to measure it too")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed: apt-get install wrk")
    folder = Path(tempfile.mkdtemp(prefix="bench-api-"))
    body = SAMPLE_REQUEST_TEXT.encode()

    port = free_port()
    bare_cmd = [
        sys.executable,
        "-m",
        "uvicorn",
        "bench.bare_api:app",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--log-level",
        "warning",
    ]
    with running(bare_cmd, f"http://127.0.0.1:{port}/docs", {}, folder / "bare.log"):
        bare = wrk(f"http://127.0.0.1:{port}/be/tickets", body, args.connections, args.seconds, folder)
    runs = [("(a) bare app, parse only", bare)]
    targets = [("(b) POST /be/tickets, SQLite, 1 worker", str(folder / "bench.sqlite3"), 1)]
    postgres = None
    if args.postgres:
        os.environ[POSTGRES_ENV] = args.postgres
        postgres = Databases("postgresql", folder)
        targets += [
            (f"(b) POST /be/tickets, PostgreSQL, {n} worker{'s' * (n > 1)}", postgres.make("bench"), n) for n in (1, 2)
        ]
    try:
        for name, database, workers in targets:
            with engine_server(database, folder / f"engine-{len(runs)}.log", workers=workers) as (url, _process):
                runs.append((name, wrk(f"{url}/be/tickets", body, args.connections, args.seconds, folder)))
    finally:
        if postgres is not None:
            postgres.drop_all()

    print(f"{args.connections} connections, {args.seconds} s each, wrk on 127.0.0.1")
    print(f"{'':42} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'errors':>7} {'vs (a)':>7}")
    for name, result in runs:
        print(
            f"{name:42} {result['rps']:9.1f} {result['p50']:8.2f} {result['p99']:8.2f} {result['errors']:7d}"
            f" {result['rps'] / bare['rps']:7.2f}"
        )
    print("target: (b) on SQLite / (a) >= 0.7 with zero errors")


if __name__ == "__main__":
    main()
