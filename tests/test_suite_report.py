"""The test run's own report: a run without PostgreSQL must end by saying so, not look like a full run."""

import os
import subprocess
import sys
from pathlib import Path

from tests.databases import POSTGRES_COMMAND, POSTGRES_ENV

ROOT = Path(__file__).resolve().parent.parent


def run_pytest(*selection: str) -> list[str]:
    """The lines a person sees from `python -m pytest ...` on this suite, without a PostgreSQL server named."""
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *selection],
        cwd=ROOT,
        env={name: value for name, value in os.environ.items() if name != POSTGRES_ENV},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout.splitlines()


def test_a_run_that_skips_postgresql_ends_by_saying_so_and_how_to_run_it():
    lines = run_pytest("tests/test_engine.py", "-k", "nonsense or insufficient")
    banner = next(n for n, line in enumerate(lines) if "PostgreSQL half NOT run: 2 tests skipped" in line)
    assert banner > max(n for n, line in enumerate(lines) if line.startswith("SKIPPED"))
    assert POSTGRES_COMMAND in lines[banner + 2]
    assert ".ci/run" in lines[banner + 3]
    assert "2 passed, 2 skipped" in lines[banner + 4] and banner + 4 == len(lines) - 1


def test_a_run_with_no_postgresql_test_in_it_has_no_banner():
    lines = run_pytest("tests/test_engine.py", "-k", "nonsense and sqlite")
    assert not any("PostgreSQL" in line for line in lines)
