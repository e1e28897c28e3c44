"""One live-odds refresh of the sell page (the 2 s fragment) against one full rerun of the page, in a real browser.

Starts `streamlit run streamlit_app.py` (simulator on) and headless Debian Chromium, watches the app's script state
(`data-test-script-state` on stApp, as Streamlit's own e2e suite does) and times each run from "running" to
"notRunning": the fragment's own ticks while nothing is touched, then full reruns caused by changing the stake (a
widget outside the fragment). The server runs under `bench/timed_streamlit.py`, which also logs each run's server
time (script and Streamlit's clean-up, without the browser's share). Prints the median of each, both ways. The
fragment must be the cheaper one.

    python bench/fragment_refresh.py [--runs 12]
"""

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.scratch import scratch_folder  # noqa: E402
from tests.browser import WATCH_SCRIPT_RUNS, chromium, open_app, wait_for_app  # noqa: E402
from tests.servers import terminal_server  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=12)
    args = parser.parse_args()
    with scratch_folder("bench-fragment-") as folder:
        run_log = folder / "runs.log"
        env = {"TICKETING_SIMULATOR": "on", "BENCH_RUN_LOG": str(run_log)}
        launcher = [sys.executable, str(ROOT / "bench" / "timed_streamlit.py")]
        with terminal_server(folder / "bench.sqlite3", folder / "streamlit.log", env, launcher) as (url, _process):
            with chromium() as browser:
                page = open_app(browser, f"{url}/?coupon=456")
                run_log.write_text("")
                page.evaluate(WATCH_SCRIPT_RUNS)
                deadline = time.monotonic() + args.runs * 2 + 10
                while page.evaluate("window.__runs.length") < args.runs and time.monotonic() < deadline:
                    time.sleep(0.5)
                fragment = page.evaluate("window.__runs.splice(0)")
                full = []
                stake = page.get_by_label("Stake (KES)")
                for n in range(args.runs):
                    wait_for_app(page)
                    page.evaluate("window.__runs.length = 0")
                    stake.fill(str(100 + n))
                    stake.press("Enter")
                    page.wait_for_function("window.__runs.length > 0", timeout=10_000)
                    full.append(page.evaluate("window.__runs[0]"))
        server = server_times(run_log)
        print(f"sell page, 13-event coupon ({len(fragment)} refreshes, {len(full)} reruns)")
        print(f"{'':34} {'browser, median':>16} {'server, median':>15}")
        for name, browser_ms, server_ms in (
            ("live odds refresh (fragment)", fragment, server["fragment"]),
            ("full page rerun (stake change)", full, server["full"]),
        ):
            print(f"{name:34} {statistics.median(browser_ms):13.1f} ms {statistics.median(server_ms):12.1f} ms")
        print(
            f"fragment / full: browser {statistics.median(fragment) / statistics.median(full):.2f}, "
            f"server {statistics.median(server['fragment']) / statistics.median(server['full']):.2f} "
            "(the fragment must be the cheaper one)"
        )


def server_times(run_log: Path) -> dict[str, list[float]]:
    times: dict[str, list[float]] = {"fragment": [], "full": []}
    for line in run_log.read_text().splitlines():
        kind, ms = line.split()
        times[kind].append(float(ms))
    return times


if __name__ == "__main__":
    main()
