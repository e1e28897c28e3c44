"""A py-spy profile of the real `POST /be/tickets` under wrk: the server started as bench/api_throughput.py starts
it, the same distinct signed sales, and `py-spy record --gil --idle --subprocesses` on the uvicorn process and its
sale writer process meanwhile (in raw format each stack starts with its process: `process PID:"command"`).

    pip install py-spy             # requirements-dev.txt pins it
    python bench/profile_sale.py [--seconds 10] [--connections 8] [--postgres URL] [--out sale.svg]

`--format raw` writes collapsed stacks (one line a stack, with its count) for grepping; the default is a flame graph.
`--gil` keeps only samples of the thread holding the interpreter: what the sale costs in the one resource every
thread of the process shares. The requests/s it prints are lower than the benchmark's (py-spy samples meanwhile).
"""

import argparse
import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.api_throughput import wrk  # noqa: E402
from bench.scratch import scratch_folder  # noqa: E402
from tests.databases import POSTGRES_ENV, Databases  # noqa: E402
from tests.servers import engine_server  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--postgres", help="an admin URL of a PostgreSQL server: profile the sale on it")
    parser.add_argument("--out", default="sale-profile.svg")
    parser.add_argument("--format", default="flamegraph", choices=["flamegraph", "raw", "speedscope"])
    args = parser.parse_args()
    if shutil.which("py-spy") is None or shutil.which("wrk") is None:
        sys.exit("needs py-spy (pip install py-spy) and wrk (apt-get install wrk)")
    with scratch_folder("bench-profile-") as folder:
        postgres = None
        database = str(folder / "profile.sqlite3")
        if args.postgres:
            os.environ[POSTGRES_ENV] = args.postgres
            postgres = Databases("postgresql", folder)
            database = postgres.make("profile")
        try:
            with engine_server(database, folder / "engine.log") as (url, process):
                spy = subprocess.Popen(
                    [
                        "py-spy",
                        "record",
                        "--gil",
                        "--rate",
                        "400",
                        "--idle",
                        "--subprocesses",
                        "--format",
                        args.format,
                        "--duration",
                        str(args.seconds),
                        "--pid",
                        str(process.pid),
                        "--output",
                        args.out,
                    ],
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
                result = wrk(f"{url}/be/tickets", args.connections, args.seconds, folder)
                spy.wait(timeout=60)
        finally:
            if postgres is not None:
                postgres.drop_all()
        print(
            f"{result['rps']:.0f} req/s, p99 {result['p99']:.1f} ms, {result['errors']} errors; profile in {args.out}"
        )


if __name__ == "__main__":
    main()
