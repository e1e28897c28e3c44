"""How much a pick costs on the sell page, against a bare page with the same 17 x 3 buttons and nothing else.

Both pages run under Streamlit's AppTest in this one process, on the 17-event coupon, clicking pick after pick;
AppTest reruns the whole page for a click (the browser reruns only the live fragment, which is cheaper still).
Prints the median rerun time of each and their ratio. Target: ratio <= 1.5.

    python bench/terminal_rerun.py [--rounds 60]
"""

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

BARE_PAGE = """
import streamlit as st

st.session_state.setdefault("picks", {})

def pick(row, bet):
    st.session_state.picks[row] = bet

for row in range(17):
    for bet, column in zip((101, 102, 103), st.columns(3)):
        chosen = st.session_state.picks.get(row) == bet
        column.button(f"{bet}", key=f"pick-{row}-{bet}", type="primary" if chosen else "secondary",
                      on_click=pick, args=(row, bet))
"""


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=100)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="bench-terminal-"))
    os.environ |= {"TICKETING_DB": str(folder / "bench.sqlite3"), "TICKETING_SIMULATOR": "off"}
    os.environ.pop("TICKETING_API_URL", None)

    from ticketing.embedded import open_engine
    from ticketing.settings import Settings

    events = open_engine(Settings(database=os.environ["TICKETING_DB"], simulator=False)).get_coupon("457").events
    sell = AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=60)
    sell.query_params["coupon"] = "457"
    sell.run()
    sell_keys = [f"pick-{e.id}-{bet}" for e in events for bet in (101, 102, 103)]

    bare_path = folder / "bare_page.py"
    bare_path.write_text(BARE_PAGE)
    bare = AppTest.from_file(str(bare_path), default_timeout=60).run()
    bare_keys = [f"pick-{row}-{bet}" for row in range(17) for bet in (101, 102, 103)]

    pages = [(sell, sell_keys), (bare, bare_keys)]
    interleaved_medians(pages, 5)  # warm-up: imports, caches
    sell_ms, bare_ms = interleaved_medians(pages, args.rounds)
    print(f"sell page, 17-event coupon, pick rerun: median {sell_ms:7.1f} ms over {args.rounds} picks")
    print(f"bare page, 17 x 3 buttons,  click rerun: median {bare_ms:7.1f} ms over {args.rounds} clicks")
    print(f"ratio sell / bare: {sell_ms / bare_ms:.2f} (target <= 1.5)")


if __name__ == "__main__":
    main()
