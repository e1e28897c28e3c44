"""Instructions the sale process spends a sale, counted by callgrind: a figure the machine's speed does not move.

The sale writer process's own `decide` (`ticketing/selling/sale_process.py`) is given pre-made sale orders (the
spec's sample, each with its own stake and signature) in batches, on a fresh SQLite database, with the engine's
outbox thread stopped as in the real sale process. It runs twice under callgrind, with `--fewer` and `--more` sales;
the difference of the two counts over the difference of the sales leaves out start-up and imports. Timings on the
README's virtual machine move ±20% between minutes; this count moves by a few hundred instructions.

    apt-get install valgrind
    python bench/sale_instructions.py [--batch 4] [--fewer 300] [--more 700]

Takes about four minutes (Python runs ~50 times slower under callgrind).
"""

import argparse
import os
import re
import shutil
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.api_throughput import top_up_shop  # noqa: E402
from bench.scratch import scratch_folder  # noqa: E402
from tests.support import sample_request  # noqa: E402
from ticketing.embedded import open_engine  # noqa: E402
from ticketing.heap import freeze_what_start_built  # noqa: E402
from ticketing.selling.sale_process import CheckedRequest, SaleOrder, decide  # noqa: E402
from ticketing.settings import Settings  # noqa: E402

WARM_UP = 200
"""Sales decided before the ones counted: the coupon read and cached, the statements prepared."""


def sell(sales: int, batch: int, folder: Path) -> None:
    database = str(folder / f"sales-{sales}.sqlite3")
    engine = open_engine(Settings(database=database, simulator=False))
    engine.outbox.stop()
    top_up_shop(database)
    freeze_what_start_built()
    expires = int(time.time()) + 600
    orders = [
        SaleOrder(
            "site",
            "till",
            None,
            f"{i:064x}",
            expires,
            None,
            CheckedRequest.of(sample_request(stake=Decimal(25) + Decimal(i) / 100)),
        )
        for i in range(WARM_UP + sales)
    ]
    for start in range(0, len(orders), batch):
        answers = decide(engine, orders[start : start + batch])
        if any(answer.status != 200 for answer in answers):
            sys.exit(f"a sale was refused: {answers}")


def instructions(sales: int, batch: int, folder: Path) -> int:
    command = [
        "valgrind",
        "--tool=callgrind",
        f"--callgrind-out-file={folder / f'callgrind-{sales}.out'}",
        sys.executable,
        __file__,
        "--sell",
        str(sales),
        "--batch",
        str(batch),
        "--folder",
        str(folder),
    ]
    # The same string hashes in both runs, so that neither pays for a different layout of the same dicts.
    env = {**os.environ, "PYTHONHASHSEED": "0"}
    run = subprocess.run(command, capture_output=True, text=True, check=True, env=env)
    return int(re.search(r"Collected : (\d+)", run.stderr).group(1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=4, help="sales a batch (8 connections make batches of ~4)")
    parser.add_argument("--fewer", type=int, default=300)
    parser.add_argument("--more", type=int, default=700)
    parser.add_argument("--sell", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--folder", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.sell is not None:
        sell(args.sell, args.batch, args.folder)
        return
    if shutil.which("valgrind") is None:
        sys.exit("needs valgrind (apt-get install valgrind)")
    with scratch_folder("bench-instructions-") as folder:
        fewer, more = (instructions(sales, args.batch, folder) for sales in (args.fewer, args.more))
    per_sale = (more - fewer) / (args.more - args.fewer)
    print(f"sale process, SQLite, batches of {args.batch}: {per_sale:,.0f} instructions a sale")
    print(f"({args.fewer} sales: {fewer:,}; {args.more} sales: {more:,}; callgrind, user space)")


if __name__ == "__main__":
    main()
