"""How much a pick costs on the sell page, against a bare page with the same 17 x 3 buttons and nothing else.

The bare page (bench/bare_page.py) lays its buttons out as the sell page lays out its grid, one horizontal
container a row, and freezes its heap as the terminal does (`terminal_ui/heap.py`), so the ratio measures what the
sell page does beyond the buttons, not a cheaper layout or garbage collection it chose.

Measured two ways in one run, on the 17-event coupon, clicking pick after pick, one page then the other in turn:
1. Under Streamlit's AppTest (script time only). AppTest reruns the whole page for every click.
2. In headless Chromium against `streamlit run`, from the click until the app's script state is back to
   "notRunning" (as Streamlit's own e2e suite watches it). This is what a cashier waits for: on the sell page a pick
   reruns only the live fragment (grid and slip). One click's time here spreads over a range three times its
   smallest value (the browser's and the server's event loops, two cores shared with the servers), so a median of
   a few dozen clicks moves by a tenth between runs: the default is 120 clicks a page, and the quartiles are printed.
   Both servers run under `bench/timed_streamlit.py`, which logs each run's server time: printed beside the browser's.
Prints the medians and their ratios. Target: ratio <= 1.5.

    python bench/terminal_rerun.py [--rounds 200] [--browser-rounds 120]
"""

import argparse
import os
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from playwright.sync_api import TimeoutError as PlaywrightTimeout
from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.scratch import scratch_folder  # noqa: E402
from tests.browser import WATCH_SCRIPT_RUNS, chromium, open_app, wait_for_app, widget  # noqa: E402
from tests.servers import free_port, running, terminal_server  # noqa: E402

BARE_PAGE = ROOT / "bench" / "bare_page.py"
TIMED_STREAMLIT = [sys.executable, str(ROOT / "bench" / "timed_streamlit.py")]
BROWSER_WARM_UP = 10


def rerun_ms(at: AppTest, key: str) -> float:
    button = at.button(key=key)
    started = time.perf_counter()
    button.click().run()
    elapsed = (time.perf_counter() - started) * 1000
    assert not at.exception, at.exception
    return elapsed


def interleaved_medians(pages: list[tuple[AppTest, list[str]]], rounds: int) -> list[float]:
    """One click on each page in turn, so that a busy moment of the machine weighs on both alike."""
    timings: list[list[float]] = [[] for _ in pages]
    for i in range(rounds):
        for (at, keys), page_timings in zip(pages, timings, strict=True):
            page_timings.append(rerun_ms(at, keys[i % len(keys)]))
    return [statistics.median(t) for t in timings]


def timed_click(page, button, attempts: int = 3) -> float:
    """Milliseconds of the script run a click causes. A click that lands while the page is redrawn can be lost;
    it is then made again (the lost one caused no run, so nothing is counted twice)."""
    for _ in range(attempts):
        wait_for_app(page)
        page.evaluate("window.__runs.length = 0")
        button.click()
        try:
            page.wait_for_function("window.__runs.length > 0", timeout=5_000)
        except PlaywrightTimeout:
            continue
        return page.evaluate("window.__runs[0]")
    raise RuntimeError("no script run followed the click")


@dataclass
class BrowserFigures:
    clicks: list[float]
    server_runs: list[float]

    def summary(self) -> str:
        low, median, high = statistics.quantiles(self.clicks, n=4)
        return (
            f"median {median:6.1f} ms (quartiles {low:.1f}-{high:.1f}) over {len(self.clicks)} clicks; "
            f"server {statistics.median(self.server_runs):.1f} ms a run"
        )


def server_run_ms(log: Path) -> list[float]:
    return [float(line.split()[1]) for line in log.read_text().splitlines()]


def browser_figures(folder: Path, events: list, rounds: int) -> tuple[BrowserFigures, BrowserFigures]:
    bare_port = free_port()
    bare_cmd = [
        *TIMED_STREAMLIT,
        "run",
        str(BARE_PAGE),
        "--server.port",
        str(bare_port),
        "--server.address",
        "127.0.0.1",
        "--server.headless",
        "true",
        "--browser.gatherUsageStats",
        "false",
    ]
    sell_log, bare_log = folder / "sell-runs.log", folder / "bare-runs.log"
    sell_env = {"TICKETING_SIMULATOR": "off", "BENCH_RUN_LOG": str(sell_log), "PYTHONPATH": str(ROOT)}
    bare_env = {"BENCH_RUN_LOG": str(bare_log), "PYTHONPATH": str(ROOT)}
    with (
        terminal_server(Path(os.environ["TICKETING_DB"]), folder / "sell.log", sell_env, TIMED_STREAMLIT) as (
            url,
            _sell,
        ),
        running(bare_cmd, f"http://127.0.0.1:{bare_port}/_stcore/health", bare_env, folder / "bare.log"),
        chromium() as browser,
    ):
        sell = open_app(browser, f"{url}/?coupon=457")
        bare = open_app(browser, f"http://127.0.0.1:{bare_port}/", ready=".st-key-pick-16-103")
        pages = [
            (sell, [f"pick-{e.id}-{bet}" for e in events for bet in (101, 102, 103)], [], sell_log),
            (bare, [f"pick-{row}-{bet}" for row in range(17) for bet in (101, 102, 103)], [], bare_log),
        ]
        for page, _keys, _timings, _log in pages:
            page.evaluate(WATCH_SCRIPT_RUNS)
        for i in range(rounds + BROWSER_WARM_UP):
            if i == BROWSER_WARM_UP:
                for *_, log in pages:
                    log.write_text("")
            for page, keys, timings, _log in pages:
                elapsed = timed_click(page, widget(page, keys[i % len(keys)]).locator("button"))
                if i >= BROWSER_WARM_UP:
                    timings.append(elapsed)
        sell_figures, bare_figures = (BrowserFigures(timings, server_run_ms(log)) for _, _, timings, log in pages)
        return sell_figures, bare_figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=200)
    parser.add_argument("--browser-rounds", type=int, default=120)
    args = parser.parse_args()
    with scratch_folder("bench-terminal-") as folder:
        os.environ |= {"TICKETING_DB": str(folder / "bench.sqlite3"), "TICKETING_SIMULATOR": "off"}
        os.environ.pop("TICKETING_API_URL", None)

        from tests.support import SITE_TILL
        from ticketing.embedded import open_engine
        from ticketing.settings import Settings

        engine = open_engine(Settings(database=os.environ["TICKETING_DB"], simulator=False))
        events = engine.get_coupon(SITE_TILL, "457").events
        engine.close()
        sell = AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=60)
        sell.query_params["coupon"] = "457"
        sell.run()
        sell_keys = [f"pick-{e.id}-{bet}" for e in events for bet in (101, 102, 103)]

        bare = AppTest.from_file(str(BARE_PAGE), default_timeout=60).run()
        bare_keys = [f"pick-{row}-{bet}" for row in range(17) for bet in (101, 102, 103)]

        pages = [(sell, sell_keys), (bare, bare_keys)]
        interleaved_medians(pages, 5)  # warm-up: imports, caches
        sell_ms, bare_ms = interleaved_medians(pages, args.rounds)
        sell_browser, bare_browser = browser_figures(folder, events, args.browser_rounds)
        print("1. AppTest (whole page rerun per click)")
        print(f"   sell page, 17-event coupon, pick rerun: median {sell_ms:7.1f} ms over {args.rounds} picks")
        print(f"   bare page, 17 x 3 buttons,  click rerun: median {bare_ms:7.1f} ms over {args.rounds} clicks")
        print(f"   ratio sell / bare: {sell_ms / bare_ms:.2f} (target <= 1.5)")
        print("2. headless Chromium, click to idle (the sell page reruns its live fragment)")
        print(f"   sell page, 17-event coupon, pick: {sell_browser.summary()}")
        print(f"   bare page, 17 x 3 buttons, click: {bare_browser.summary()}")
        ratio = statistics.median(sell_browser.clicks) / statistics.median(bare_browser.clicks)
        server_ratio = statistics.median(sell_browser.server_runs) / statistics.median(bare_browser.server_runs)
        print(f"   ratio sell / bare: {ratio:.2f} (target <= 1.5); server time alone: {server_ratio:.2f}")


if __name__ == "__main__":
    main()
