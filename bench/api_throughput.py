"""Throughput of the real `POST /be/tickets` against a bare FastAPI app that only parses the same request model.

Both run under uvicorn on 127.0.0.1, started alike (1 worker, uvicorn's default event loop, HTTP parser and
logging), driven by wrk with the same connections, duration and requests, one after the other in this one run. The
bare endpoint is `async def` like the real one (bench/bare_api.py); the old yardstick, a sync `def` endpoint that
pays a thread-pool hop per request, is measured too for comparison with older figures. The real one checks the
signature, validates, prices, debits and writes the ticket durably to SQLite (WAL, synchronous=FULL). Every
request is a distinct signed sale (its own stake), so none can be answered from an earlier ticket. Prints
requests/s, p50/p99 latency, errors and repeated sales of each, and each one's ratio to the async bare app.

    apt-get install wrk            # the load generator (Debian package)
    python bench/api_throughput.py [--connections 8] [--seconds 10]
    python bench/api_throughput.py --postgres postgresql+psycopg://postgres@127.0.0.1:5432/postgres

With --postgres the real endpoint is also measured on PostgreSQL with 1 and 2 uvicorn workers (a fresh database
each, created through that URL), in the same run. With --pam the real endpoint is also measured selling through an
operator's PAM wallet (README "Wallets"): the reference wallet runs on this machine too, and each sale is written
`new`, sent to the wallet as `ticket_create` and opened on its answer (the player identified once, then cached).
"""

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.databases import POSTGRES_ENV, Databases  # noqa: E402
from tests.servers import engine_server, free_port, running  # noqa: E402
from tests.support import SAMPLE_REQUEST_TEXT  # noqa: E402
from ticketing.demo_data import SAMPLE_TOKEN  # noqa: E402
from ticketing.settings import DEMO_SITE_SECRET  # noqa: E402
from ticketing.signing import sign  # noqa: E402

SALES_PER_SECOND = 8000
"""Distinct signed sales made for each second of a run: more than even the bare app answers on the README's machine
(~6,000 req/s). Should an endpoint answer more, the `repeated` column says how many sales it was sent twice."""

STAKE_FIELD = '"stake": 25,'
PAM_TOKEN, PAM_SECRET = "bench-pam-player-token", "bench-wallet-secret"
PAM_BALANCE = "1000000000.00"

WRK_SCRIPT = """
-- Every request is a sale of its own (its own stake, so its own signature): an engine that refuses replays would
-- answer a repeated body from its first ticket. The sales are read and formatted before the clock starts.
wrk.method = "POST"
wrk.headers["content-type"] = "application/json"
wrk.headers["operator-name"] = {operator}
wrk.headers["timestamp"] = {timestamp}
local prefix, suffix = {prefix}, {suffix}
local sales = {{}}
-- Globals, so that done() can read them from each thread (thread:get).
distinct, sent = 0, 0
local threads = {{}}

function setup(thread)
    table.insert(threads, thread)
end

function init(args)
    for line in io.lines(args[1]) do
        local stake, signature = line:match("^(%S+) (%S+)$")
        wrk.headers["signature"] = signature
        sales[#sales + 1] = wrk.format(nil, nil, nil, prefix .. stake .. suffix)
    end
    distinct = #sales
end

function request()
    sent = sent + 1
    return sales[(sent - 1) % distinct + 1]
end

function done(summary, latency, requests)
    local repeated = 0
    for _, thread in ipairs(threads) do
        -- Less the one request wrk asks the first thread for, to check it, before the run.
        repeated = repeated + math.max(0, thread:get("sent") - 1 - thread:get("distinct"))
    end
    io.write(string.format("Repeated sales: %d\\n", repeated))
end
"""


def write_sales(folder: Path, count: int, request_text: str = SAMPLE_REQUEST_TEXT) -> tuple[Path, Path]:
    """The wrk script and its data: the spec's sample request (or `request_text`), byte for byte but for the stake
    (25.00, 25.01, ...), each signed now for operator `site`."""
    before, found, after = request_text.partition(STAKE_FIELD)
    assert found, "the sample request's stake field has changed"
    prefix, suffix = before + '"stake": ', "," + after
    timestamp = str(int(time.time()))
    stakes = [f"{Decimal(25) + Decimal(i) / 100:.2f}" for i in range(count)]
    sales = folder / "sales.txt"
    sales.write_text(
        "".join(f"{s} {sign(DEMO_SITE_SECRET, timestamp, (prefix + s + suffix).encode())}\n" for s in stakes)
    )
    script = folder / "post.lua"
    script.write_text(
        WRK_SCRIPT.format(
            operator=json.dumps("site"),
            timestamp=json.dumps(timestamp),
            prefix=json.dumps(prefix),
            suffix=json.dumps(suffix),
        )
    )
    return script, sales


def wrk(url: str, connections: int, seconds: int, folder: Path, request_text: str = SAMPLE_REQUEST_TEXT) -> dict:
    # One wrk thread: each thread would cycle through the same sales.
    script, sales = write_sales(folder, SALES_PER_SECOND * seconds, request_text)
    out = subprocess.run(
        [
            "wrk",
            "-t",
            "1",
            "-c",
            str(connections),
            "-d",
            f"{seconds}s",
            "--latency",
            "-s",
            str(script),
            url,
            "--",
            str(sales),
        ],
        capture_output=True,
        text=True,
        check=True,
        timeout=seconds + 60,
    ).stdout
    return parse_wrk(out)


def uvicorn_command(app: str, port: int, workers: int = 1) -> list[str]:
    """The command `tests.servers.engine_server` starts the real engine with, for any app: the same workers, and
    uvicorn's defaults for the rest as there (uvloop, httptools, an access log line a request)."""
    return [
        sys.executable,
        "-m",
        "uvicorn",
        app,
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        str(workers),
    ]


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
        "repeated": int(re.search(r"Repeated sales: (\d+)", out).group(1)),
    }


def pam_run(args, folder: Path) -> dict:
    """The engine (SQLite, 1 worker) selling for a player of the reference wallet, both on 127.0.0.1."""
    port = free_port()
    wallet_url = f"http://127.0.0.1:{port}"
    player = f"{PAM_TOKEN}=bench-player:{PAM_BALANCE}"
    command = [sys.executable, "-m", "ticketing.wallets.reference_wallet", "--port", str(port)]
    command += ["--secret", PAM_SECRET, "--db", str(folder / "wallet.sqlite3"), "--player", player]
    env = {"TICKETING_SITE_WALLET_URL": f"{wallet_url}/pam", "TICKETING_SITE_WALLET_SECRET": PAM_SECRET}
    with (
        running(command, f"{wallet_url}/health", {}, folder / "wallet.log"),
        engine_server(folder / "pam.sqlite3", folder / "engine-pam.log", extra_env=env) as (url, _process),
    ):
        request_text = SAMPLE_REQUEST_TEXT.replace(SAMPLE_TOKEN, PAM_TOKEN)
        return wrk(f"{url}/be/tickets", args.connections, args.seconds, folder, request_text)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--postgres", help="an admin URL of a PostgreSQL server to measure it too")
    parser.add_argument("--pam", action="store_true", help="also sell through the reference PAM wallet")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed: apt-get install wrk")
    folder = Path(tempfile.mkdtemp(prefix="bench-api-"))

    runs = []
    for name, app in (
        ("(a) bare app, async def, parse only", "bench.bare_api:app"),
        ("(a') bare app, sync def (for history)", "bench.bare_api:sync_app"),
    ):
        port = free_port()
        with running(uvicorn_command(app, port), f"http://127.0.0.1:{port}/docs", {}, folder / f"bare-{len(runs)}.log"):
            runs.append((name, wrk(f"http://127.0.0.1:{port}/be/tickets", args.connections, args.seconds, folder)))
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
                runs.append((name, wrk(f"{url}/be/tickets", args.connections, args.seconds, folder)))
        if args.pam:
            runs.append(("(c) POST /be/tickets through a PAM wallet", pam_run(args, folder)))
    finally:
        if postgres is not None:
            postgres.drop_all()

    (_, bare), (_, bare_sync), (_, real) = runs[:3]
    print(f"{args.connections} connections, {args.seconds} s each, wrk on 127.0.0.1, every request a distinct sale")
    print(f"{'':42} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'errors':>7} {'repeated':>9} {'vs (a)':>7}")
    for name, result in runs:
        print(
            f"{name:42} {result['rps']:9.1f} {result['p50']:8.2f} {result['p99']:8.2f} {result['errors']:7d}"
            f" {result['repeated']:9d} {result['rps'] / bare['rps']:7.2f}"
        )
    print(f"ratio (b) on SQLite / (a): {real['rps'] / bare['rps']:.2f}")
    if args.pam:
        pam = runs[-1][1]
        print(f"through the PAM wallet / the engine's own accounts, both SQLite: {pam['rps'] / real['rps']:.2f}")
    print(f"for history, against the sync yardstick (a'): {real['rps'] / bare_sync['rps']:.2f}")
    print("target (issue #16): (b) on SQLite / (a) >= 0.5, aim 0.7, with zero errors and no repeated sale")


if __name__ == "__main__":
    main()
