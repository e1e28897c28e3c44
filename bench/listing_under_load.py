"""Sales per second of `POST /be/tickets` alone, and with four clients listing full pages of `GET /be/tickets`.

One `python -m ticketing.serve` (1 worker, SQLite) on 127.0.0.1, with tickets sold beforehand so that every page is
full. wrk drives the sales (8 connections, the sample request); a second wrk, 4 connections, asks for
`GET /be/tickets?limit=500` again and again meanwhile. The two phases alternate `--rounds` times; prints each, and
the ratio of the mean sales rate with the listing to the one without (target: at least 0.8).

    apt-get install wrk
    python bench/listing_under_load.py [--seconds 10] [--rounds 2] [--page 500]
"""

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.api_throughput import parse_wrk  # noqa: E402
from tests.servers import engine_server  # noqa: E402
from tests.support import SAMPLE_REQUEST_TEXT, sample_request  # noqa: E402
from ticketing.embedded import open_engine  # noqa: E402
from ticketing.settings import DEMO_SITE_SECRET, Settings  # noqa: E402
from ticketing.signing import signed_headers  # noqa: E402

SCRIPT = """
wrk.method = "{method}"
wrk.body = {body}
{headers}
"""


def wrk_command(method: str, url: str, body: bytes, connections: int, seconds: float, folder: Path) -> list[str]:
    """wrk sending one signed request over and over (signed now: the signature holds for 5 minutes)."""
    headers = signed_headers("site", DEMO_SITE_SECRET, body) | {"content-type": "application/json"}
    script = folder / f"{method.lower()}.lua"
    script.write_text(
        SCRIPT.format(
            method=method,
            body=json.dumps(body.decode()),
            headers="\n".join(f'wrk.headers["{k}"] = "{v}"' for k, v in headers.items()),
        )
    )
    return ["wrk", "-t", "1", "-c", str(connections), "-d", f"{seconds}s", "--latency", "-s", str(script), url]


def run(command: list[str], seconds: float) -> dict:
    out = subprocess.run(command, capture_output=True, text=True, check=True, timeout=seconds + 60).stdout
    return parse_wrk(out)


def sell_beforehand(database: Path, tickets: int) -> None:
    engine = open_engine(Settings(database=str(database), simulator=False))
    with ThreadPoolExecutor(16) as pool:
        list(pool.map(lambda _: engine.create_ticket(sample_request()), range(tickets)))
    engine.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--page", type=int, default=500, help="tickets per listed page")
    parser.add_argument("--listers", type=int, default=4, help="listing clients (connections)")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed: apt-get install wrk")
    folder = Path(tempfile.mkdtemp(prefix="bench-listing-"))
    database = folder / "bench.sqlite3"
    sell_beforehand(database, 4 * args.page)
    command = [sys.executable, "-m", "ticketing.serve", "--host", "127.0.0.1"]
    alone, together, listed = [], [], []
    with engine_server(database, folder / "serve.log", command=command) as (url, _process):
        for round_number in range(1, args.rounds + 1):
            sales = wrk_command("POST", f"{url}/be/tickets", SAMPLE_REQUEST_TEXT.encode(), 8, args.seconds, folder)
            alone.append(run(sales, args.seconds))
            listing = wrk_command(
                "GET", f"{url}/be/tickets?limit={args.page}", b"", args.listers, args.seconds + 2, folder
            )
            listers = subprocess.Popen(listing, stdout=subprocess.PIPE, text=True)
            time.sleep(1)  # the listing load is running before the sales are counted
            together.append(run(sales, args.seconds))
            listed.append(parse_wrk(listers.communicate(timeout=args.seconds + 60)[0]))
            print(
                f"round {round_number}: sales alone {alone[-1]['rps']:.0f}/s (p99 {alone[-1]['p99']:.0f} ms, "
                f"{alone[-1]['errors']} errors); with {args.listers} listing clients {together[-1]['rps']:.0f}/s "
                f"(p99 {together[-1]['p99']:.0f} ms, {together[-1]['errors']} errors), "
                f"pages {listed[-1]['rps']:.0f}/s (p50 {listed[-1]['p50']:.0f} ms, {listed[-1]['errors']} errors)"
            )
    without = statistics.mean(r["rps"] for r in alone)
    with_listing = statistics.mean(r["rps"] for r in together)
    print(f"pages of {args.page} tickets, {args.seconds} s per phase, {args.rounds} round(s), wrk on 127.0.0.1")
    print(f"sales/s alone {without:.0f}, with listing {with_listing:.0f}: ratio {with_listing / without:.2f}")
    print("target: ratio >= 0.8")


if __name__ == "__main__":
    main()
