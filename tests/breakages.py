"""Check that the tests behind each guarantee catch a deliberate breakage: `python -m tests.breakages`.

Each breakage of `tests/breakage_list.py` is applied, one at a time, to a scratch copy of this checkout (its tracked
and untracked, not ignored, files as they are on disk), and only its tests are run there, stopping at the first
failure. A breakage is CAUGHT when a test fails, NOT CAUGHT when they all pass. An entry whose text is no longer in
its file is a BROKEN BREAKAGE: said loudly, never skipped quietly. Exit status 0 only when every breakage that ran was
caught and every entry could be applied; 2 when the tests fail on the unbroken copy (then nothing is proven).

    python -m tests.breakages              # all of them
    python -m tests.breakages --list       # what there is
    python -m tests.breakages --only ID    # one (repeatable)

With `TICKETING_TEST_POSTGRES_URL` set the tests run on both backends, and the PostgreSQL-only breakages run too.
"""

import argparse
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ElementTree
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from tests.breakage_list import BREAKAGES, Breakage
from tests.databases import POSTGRES_ENV

ROOT = Path(__file__).resolve().parent.parent
GRACE_SECONDS = 20
"""After a timeout the tests get this long to stop the servers they started before they are killed."""


@dataclass
class Outcome:
    breakage: Breakage
    verdict: str
    detail: str = ""
    seconds: float = 0.0

    @property
    def good(self) -> bool:
        return self.verdict in ("caught", "not run")


def scratch_copy(destination: Path) -> None:
    """The checkout as it is on disk, without what git ignores (virtual environments, caches, databases)."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout
    for name in filter(None, listed.decode().split("\0")):
        source = ROOT / name
        if source.is_file():
            (destination / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, destination / name)


def applicable(breakage: Breakage, tree: Path) -> str | None:
    """Why the breakage cannot be applied to `tree`, or None."""
    path = tree / breakage.file
    if not path.is_file():
        return f"{breakage.file} does not exist"
    found = path.read_text().count(breakage.old)
    if found == 0:
        return f"its text is no longer in {breakage.file}"
    if found > 1:
        return f"its text is in {breakage.file} {found} times: make it unique"
    return None


def run_tests(tests: tuple[str, ...], tree: Path, timeout: int) -> tuple[str, str]:
    """(verdict, detail) of running `tests` in `tree`: passed, failed (the first failing test), or why neither."""
    report = tree / ".breakage-report.xml"
    report.unlink(missing_ok=True)
    command = [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", f"--junitxml={report}", *tests]
    # No bytecode: an edit of the same size within the same second would otherwise run the stale .pyc.
    env = os.environ | {"PYTHONDONTWRITEBYTECODE": "1"}
    process = subprocess.Popen(
        command, cwd=tree, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True
    )
    try:
        output, _ = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        # SIGINT first: pytest then runs its teardown, which stops the servers the tests started.
        os.killpg(process.pid, signal.SIGINT)
        try:
            process.communicate(timeout=GRACE_SECONDS)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.communicate()
        return "timed out", f"no result within {timeout} s"
    if process.returncode not in (0, 1):
        tail = " | ".join(output.decode(errors="replace").strip().splitlines()[-3:])
        return "error", f"pytest exit status {process.returncode}: {tail}"
    ran, failed = junit_results(report)
    if failed:
        return "failed", failed[0]
    if ran == 0:
        return "error", "no test ran (every one skipped or deselected)"
    return "passed", f"{ran} test(s) passed"


def junit_results(report: Path) -> tuple[int, list[str]]:
    """How many tests ran (not skipped), and the failing or erroring ones: node id and the first line of why."""
    ran, failed = 0, []
    for case in ElementTree.parse(report).iter("testcase"):
        if case.find("skipped") is not None:
            continue
        ran += 1
        problem = case.find("failure") if case.find("failure") is not None else case.find("error")
        if problem is not None:
            module = case.get("classname", "").replace(".", "/")
            message = (problem.get("message") or "").strip().splitlines()
            failed.append(f"{module}.py::{case.get('name')}" + (f" ({message[0][:160]})" if message else ""))
    return ran, failed


def check(breakage: Breakage, tree: Path, postgres: bool) -> Outcome:
    if breakage.needs_postgres and not postgres:
        return Outcome(breakage, "not run", f"needs PostgreSQL: set {POSTGRES_ENV}")
    path = tree / breakage.file
    original = path.read_text()
    path.write_text(original.replace(breakage.old, breakage.new, 1))
    started = time.monotonic()
    try:
        verdict, detail = run_tests(breakage.tests, tree, breakage.timeout)
    finally:
        path.write_text(original)
    seconds = time.monotonic() - started
    if verdict == "failed":
        return Outcome(breakage, "caught", f"by {detail}", seconds)
    if verdict == "passed":
        return Outcome(breakage, "NOT CAUGHT", detail, seconds)
    return Outcome(breakage, verdict.upper(), detail, seconds)


def baseline(chosen: list[Breakage], tree: Path) -> str | None:
    """Why the chosen breakages' tests do not all pass on the unbroken copy (then a failure would prove nothing)."""
    tests = tuple(dict.fromkeys(test for b in chosen for test in b.tests))
    verdict, detail = run_tests(tests, tree, sum(b.timeout for b in chosen))
    return None if verdict == "passed" else f"{verdict}: {detail}"


def print_table(outcomes: list[Outcome]) -> None:
    width = max(len(o.breakage.id) for o in outcomes)
    print()
    print(f"{'breakage':<{width}}  {'verdict':<17}  {'time':>6}  detail")
    for o in outcomes:
        took = f"{o.seconds:5.1f}s" if o.seconds else ""
        print(f"{o.breakage.id:<{width}}  {o.verdict:<17}  {took:>6}  {o.detail}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.breakages", description=__doc__.split("\n")[0])
    parser.add_argument("--only", action="append", metavar="ID", help="run only this breakage (repeatable)")
    parser.add_argument("--list", action="store_true", help="list the breakages and the tests each runs")
    parser.add_argument("--no-baseline", action="store_true", help="skip running the tests on the unbroken copy")
    args = parser.parse_args(argv)

    known = {b.id: b for b in BREAKAGES}
    unknown = [name for name in args.only or [] if name not in known]
    if unknown:
        parser.error(f"unknown breakage(s): {', '.join(unknown)}; see --list")
    chosen = [known[name] for name in args.only] if args.only else BREAKAGES
    if args.list:
        for b in chosen:
            where = " (PostgreSQL only)" if b.needs_postgres else ""
            print(f"{b.id}{where}: {b.guarantee}\n    breaks {b.file}; runs {' '.join(b.tests)}")
        return 0

    postgres = bool(os.environ.get(POSTGRES_ENV))
    with tempfile.TemporaryDirectory(prefix="breakages-") as scratch:
        tree = Path(scratch)
        scratch_copy(tree)
        broken = [Outcome(b, "BROKEN BREAKAGE", why) for b in chosen if (why := applicable(b, tree))]
        for outcome in broken:
            print(f"!!! BROKEN BREAKAGE {outcome.breakage.id}: {outcome.detail}", flush=True)
        runnable = [b for b in chosen if b not in {o.breakage for o in broken}]
        to_run = [b for b in runnable if postgres or not b.needs_postgres]
        if to_run and not args.no_baseline:
            print(f"baseline: the tests of {len(to_run)} breakage(s) on the unbroken copy...", flush=True)
            failure = baseline(to_run, tree)
            if failure:
                print(f"!!! the tests fail without any breakage ({failure}): fix that first", flush=True)
                return 2
        outcomes = []
        for breakage in runnable:
            print(f"{breakage.id}...", end=" ", flush=True)
            outcome = check(breakage, tree, postgres)
            print(f"{outcome.verdict} {outcome.detail}", flush=True)
            outcomes.append(outcome)
    outcomes = broken + outcomes
    print_table(outcomes)
    counts = Counter(o.verdict for o in outcomes)
    print("\n" + ", ".join(f"{n} {verdict}" for verdict, n in counts.most_common()))
    return 0 if all(o.good for o in outcomes) else 1


if __name__ == "__main__":
    sys.exit(main())
