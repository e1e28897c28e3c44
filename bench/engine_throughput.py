"""Tickets per second of `TicketEngine.create_ticket` alone, in-process on a fresh SQLite file (WAL, synchronous=FULL):
no HTTP, no signature. The spec's sample ticket (7 events) over and over.

    python bench/engine_throughput.py [--tickets 2000]
"""

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.scratch import scratch_folder  # noqa: E402
from tests.support import SITE_TILL, sample_request  # noqa: E402
from ticketing.embedded import open_engine  # noqa: E402
from ticketing.settings import Settings  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tickets", type=int, default=2000)
    args = parser.parse_args()
    with scratch_folder("bench-engine-", ROOT / ".data" if (ROOT / ".data").exists() else None) as folder:
        engine = open_engine(Settings(database=str(folder / "bench.sqlite3"), simulator=False))
        request = sample_request()
        for _ in range(50):
            engine.create_ticket(SITE_TILL, request)
        timings = []
        started = time.perf_counter()
        for _ in range(args.tickets):
            begin = time.perf_counter()
            engine.create_ticket(SITE_TILL, request)
            timings.append((time.perf_counter() - begin) * 1000)
        elapsed = time.perf_counter() - started
        timings.sort()
        print(f"create_ticket in-process, SQLite WAL synchronous=FULL, {args.tickets} tickets of 7 events")
        print(
            f"{args.tickets / elapsed:.0f} tickets/s; p50 {statistics.median(timings):.2f} ms, "
            f"p99 {timings[int(len(timings) * 0.99)]:.2f} ms"
        )
        engine.close()


if __name__ == "__main__":
    main()
