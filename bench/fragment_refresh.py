"""One live-odds refresh of the sell page (the 2 s fragment) against one full rerun of the page, in a real browser.

Starts `streamlit run streamlit_app.py` (simulator on) and headless Debian Chromium, watches the app's script state
(`data-test-script-state` on stApp, as Streamlit's own e2e suite does) and times each run from "running" to
"notRunning": the fragment's own ticks while nothing is touched, then full reruns caused by changing the stake (a
widget outside the fragment). Prints the median of each. The fragment must be the cheaper one.

    python bench/fragment_refresh.py [--runs 12]
"""

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.browser import WATCH_SCRIPT_RUNS, chromium, open_app, wait_for_app  # noqa: E402
from tests.servers import terminal_server  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=12)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="bench-fragment-"))
    env = {"TICKETING_SIMULATOR": "on"}
    with terminal_server(folder / "bench.sqlite3", folder / "streamlit.log", env) as (url, _process):
        with chromium() as browser:
            page = open_app(browser, f"{url}/?coupon=456")
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
    fragment_ms, full_ms = statistics.median(fragment), statistics.median(full)
    print(f"sell page, 13-event coupon, in headless Chromium ({len(fragment)} refreshes, {len(full)} reruns)")
    print(f"live odds refresh (fragment): median {fragment_ms:7.1f} ms")
    print(f"full page rerun (stake change): median {full_ms:7.1f} ms")
    print(f"fragment / full: {fragment_ms / full_ms:.2f} (the fragment must be the cheaper one)")


if __name__ == "__main__":
    main()
