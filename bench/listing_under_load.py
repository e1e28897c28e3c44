"""Sales per second of `POST /be/tickets` alone, and while four clients list full pages of `GET /be/tickets`.

One `python -m ticketing.serve` (1 worker, SQLite) on 127.0.0.1, with tickets sold beforehand so that every page is
full. wrk drives the sales as `bench/api_throughput.py` does (8 connections, every request a distinct signed sale);
meanwhile four client threads of this script ask for `GET /be/tickets?limit=500` one after the other, each request
signed afresh, and read each answer whole. The two phases alternate `--rounds` times, so that a machine whose load
drifts weighs on both alike; prints each phase, and the ratio of the mean sales rate with the listing to the one
without (target: at least 0.8).

    apt-get install wrk
    python bench/listing_under_load.py [--seconds 10] [--rounds 2] [--page 500] [--listers 4]
"""

import argparse
import statistics
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.api_throughput import wrk  # noqa: E402
from bench.scratch import scratch_folder  # noqa: E402
from tests.servers import engine_server  # noqa: E402
from tests.support import SITE_TILL, sample_request  # noqa: E402
from ticketing.access.betstack_signing import signed_headers  # noqa: E402
from ticketing.embedded import open_engine  # noqa: E402
from ticketing.settings import DEMO_SITE_SECRET, Settings  # noqa: E402


class Listers:
    """Clients listing the newest page over and over, each on its own connection, until stopped."""

    def __init__(self, url: str, page: int, count: int):
        self.url, self.page, self.count = url, page, count
        self.stop = threading.Event()
        self.latencies: list[float] = []
        self.errors = 0
        self.threads = [threading.Thread(target=self._list, daemon=True) for _ in range(count)]

    def __enter__(self) -> "Listers":
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *_exc) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(60)

    def _list(self) -> None:
        with httpx.Client(base_url=self.url, timeout=60) as client:
            while not self.stop.is_set():
                started = time.perf_counter()
                response = client.get(
                    "/be/tickets", params={"limit": self.page}, headers=signed_headers("site", DEMO_SITE_SECRET)
                )
                full = response.status_code == 200 and response.content.count(b'"code":') >= self.page
                self.latencies.append(time.perf_counter() - started)
                self.errors += not full


def sell_beforehand(database: Path, tickets: int) -> None:
    engine = open_engine(Settings(database=str(database), simulator=False))
    with ThreadPoolExecutor(16) as pool:
        list(pool.map(lambda _: engine.create_ticket(SITE_TILL, sample_request()), range(tickets)))
    engine.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--page", type=int, default=500, help="tickets per listed page")
    parser.add_argument("--listers", type=int, default=4, help="listing clients")
    args = parser.parse_args()
    with scratch_folder("bench-listing-") as folder:
        database = folder / "bench.sqlite3"
        sell_beforehand(database, 4 * args.page)
        command = [sys.executable, "-m", "ticketing.serve", "--host", "127.0.0.1"]
        alone, together = [], []
        with engine_server(database, folder / "serve.log", command=command) as (url, _process):
            for round_number in range(1, args.rounds + 1):
                alone.append(wrk(f"{url}/be/tickets", 8, args.seconds, folder))
                with Listers(url, args.page, args.listers) as listers:
                    time.sleep(1)  # the listing load is running before the sales are counted
                    listed_before = len(listers.latencies)
                    together.append(wrk(f"{url}/be/tickets", 8, args.seconds, folder))
                    pages = len(listers.latencies) - listed_before
                p50 = statistics.median(listers.latencies) * 1000 if listers.latencies else float("nan")
                print(
                    f"round {round_number}: sales alone {alone[-1]['rps']:.0f}/s (p99 {alone[-1]['p99']:.0f} ms, "
                    f"{alone[-1]['errors']} errors); with {args.listers} listing clients {together[-1]['rps']:.0f}/s "
                    f"(p99 {together[-1]['p99']:.0f} ms, {together[-1]['errors']} errors), "
                    f"pages {pages / args.seconds:.0f}/s (p50 {p50:.0f} ms, {listers.errors} not full or failed)"
                )
        without = statistics.mean(r["rps"] for r in alone)
        with_listing = statistics.mean(r["rps"] for r in together)
        print(f"pages of {args.page} tickets, {args.seconds} s a phase, {args.rounds} round(s), on 127.0.0.1")
        print(f"sales/s alone {without:.0f}, with listing {with_listing:.0f}: ratio {with_listing / without:.2f}")
        print("target: ratio >= 0.8")


if __name__ == "__main__":
    main()
