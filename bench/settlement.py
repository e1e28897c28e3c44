"""Settling a coupon: 100,000 tickets of the 17-event demo coupon 457, settled by entering its last result.

The tickets are written straight into a fresh database first (sold at the coupon's odds, picks drawn from those
odds, a third of them on 1,000 player accounts so that settlement also credits accounts). Then the results are
entered as an admin would: 16 settle nothing, the 17th settles the whole coupon in one durable pass, which is what
is timed. Memory: the growth of the process's resident set during that pass (its peak, reset just before).

    python bench/settlement.py [--tickets 100000] [--postgres postgresql+psycopg://postgres@127.0.0.1:5432/postgres]
"""

import argparse
import os
import random
import sys
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.scratch import scratch_folder  # noqa: E402
from tests.bulk_tickets import COUPON, LABELS, draw, write_tickets  # noqa: E402
from tests.databases import Databases  # noqa: E402
from tests.support import SITE_ADMIN  # noqa: E402
from ticketing.contract.models import EventResult  # noqa: E402
from ticketing.embedded import open_engine  # noqa: E402
from ticketing.settings import Settings  # noqa: E402


def rss_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"{field} not in /proc/self/status")


def run(database: str, count: int, label: str) -> None:
    engine = open_engine(Settings(database=database, simulator=False))
    rng = random.Random(457)
    started = time.perf_counter()
    write_tickets(engine, count, rng)
    print(f"[{label}] wrote {count:,} tickets of 17 events in {time.perf_counter() - started:.1f} s")
    coupon = engine.get_coupon(SITE_ADMIN, COUPON)
    engine.clock = lambda: coupon.closes_at + timedelta(hours=3)
    results = [LABELS[draw(rng, e.odds)] for e in coupon.events]
    results[5] = EventResult.VOID
    for event, result in zip(coupon.events[:-1], results[:-1], strict=True):
        engine.enter_result(SITE_ADMIN, COUPON, event.id, result)
    Path("/proc/self/clear_refs").write_text("5")  # the peak resident set starts again from here
    before = rss_kib("VmRSS")
    started = time.perf_counter()
    summary = engine.enter_result(SITE_ADMIN, COUPON, coupon.events[-1].id, results[-1])
    elapsed = time.perf_counter() - started
    growth_mib = (rss_kib("VmHWM") - before) / 1024
    assert (
        summary.tickets == count
        and summary.winners + summary.losers + summary.voided + sum(summary.bonus_winners.values()) == count
    ), summary
    print(
        f"[{label}] settled {count:,} tickets in {elapsed:.2f} s: {count / elapsed:,.0f} tickets/s; "
        f"resident set grew {growth_mib:.0f} MiB; winners {summary.winners}, bonus {summary.bonus_winners}, "
        f"lost {summary.losers}, void {summary.voided}; to pay {summary.total_net_payout:,.2f} KES"
    )
    engine.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tickets", type=int, default=100_000)
    parser.add_argument("--postgres", help="an admin URL: a fresh database is created and dropped")
    args = parser.parse_args()
    with scratch_folder("bench-settlement-") as folder:
        run(str(folder / "settle.sqlite3"), args.tickets, "SQLite")
        if args.postgres:
            os.environ["TICKETING_TEST_POSTGRES_URL"] = args.postgres
            databases = Databases("postgresql", folder)
            try:
                run(databases.make("settle"), args.tickets, "PostgreSQL")
            finally:
                databases.drop_all()


if __name__ == "__main__":
    main()
