"""The demo round, run for a presenter: one action publishes a short coupon, moves its odds until its deadline,
then plays its matches (results drawn from the odds, seeded) one every few seconds, the last one settling it.

It runs in a thread of the terminal's process, like the odds simulator, so the presenter can sell, watch the
results come in and pay out meanwhile. With "enter the results myself", the drawn results wait on the Results page
to be previewed and confirmed instead.
"""

import logging
import random
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

import streamlit as st

from terminal_ui.after_sale import AfterSaleCalls
from terminal_ui.clicks import session_clicks
from terminal_ui.connection import Connection
from terminal_ui.text import format_countdown, md_escape
from ticketing.contract.errors import TicketingError
from ticketing.contract.models import Coupon, EventResult, SettlementSummary
from ticketing.demo.data import DEMO_OPERATOR
from ticketing.demo.round import CLOSES_IN, demo_round_coupon, draw_results
from ticketing.odds.simulator import next_odds
from ticketing.settlement.result_string import result_string

log = logging.getLogger(__name__)

MOVE_EVERY = 4.0
PLAY_EVERY = 3.0
"""Seconds between two odds moves of the demo coupon, and between two matches ending."""

state = st.session_state


class Phase(StrEnum):
    SELLING = "selling"
    PLAYING = "playing"
    DRAWN = "drawn"
    """Results drawn, waiting for the presenter to enter them on the Results page."""
    SETTLED = "settled"
    FAILED = "failed"


RUNNING = (Phase.SELLING, Phase.PLAYING)
"""A round in these phases is not replaced: one round at a time."""


def utc_now() -> datetime:
    return datetime.now(UTC)


class DemoRound:
    def __init__(
        self,
        calls: AfterSaleCalls,
        coupon: Coupon,
        seed: int,
        play_automatically: bool = True,
        clock: Callable[[], datetime] = utc_now,
    ):
        self.calls = calls
        self.coupon = coupon
        self.seed = seed
        self.play_automatically = play_automatically
        self.clock = clock
        self.rng = random.Random(seed)
        self.phase = Phase.SELLING
        self.drawn: dict[int, EventResult] | None = None
        self.entered = 0
        self.summary: SettlementSummary | None = None
        self.error: str | None = None
        self._stop = threading.Event()

    @property
    def drawn_string(self) -> str:
        return result_string([self.drawn.get(e.id) for e in self.coupon.events]) if self.drawn else ""

    def step(self) -> float | None:
        """One step of the round; the seconds to wait before the next, or None when it is over."""
        left = (self.coupon.closes_at - self.clock()).total_seconds()
        if left > 0:
            event = self.rng.choice(self.coupon.events)
            current = self.calls.coupon(self.coupon.id).event(event.id)
            bet = self.rng.choice(sorted(current.odds))
            self.calls.set_odds(self.coupon.id, event.id, {bet: next_odds(current.odds[bet], self.rng)})
            return min(MOVE_EVERY, left)
        if self.drawn is None:
            # Drawn from the odds the market closed at.
            self.drawn = draw_results(self.calls.coupon(self.coupon.id), self.seed)
            self.phase = Phase.PLAYING if self.play_automatically else Phase.DRAWN
            if not self.play_automatically:
                return None
        event = self.coupon.events[self.entered]
        self.summary = self.calls.enter_results(self.coupon.id, {event.id: self.drawn[event.id]})
        self.entered += 1
        if self.entered == len(self.coupon.events):
            self.phase = Phase.SETTLED
            return None
        return PLAY_EVERY

    def run(self) -> None:
        try:
            while (wait := self.step()) is not None:
                if self._stop.wait(wait):
                    return
        except TicketingError as error:
            self.phase, self.error = Phase.FAILED, error.message
        except Exception as error:
            # Shown on the panel: a presenter must see that the round stopped, and why.
            log.exception("demo round %s failed", self.coupon.id)
            self.phase, self.error = Phase.FAILED, f"{type(error).__name__}: {error}"

    def start(self) -> "DemoRound":
        threading.Thread(target=self.run, name=f"demo-round-{self.coupon.id}", daemon=True).start()
        return self

    def stop(self) -> None:
        self._stop.set()


_rounds: dict[int, DemoRound] = {}
_lock = threading.Lock()


DEMO_FOLLOW = "demo_follow"
"""The demo round's coupon for the Results page to show, once, when the round reaches a new phase."""


def current_round(conn: Connection) -> DemoRound | None:
    """The latest demo round of this terminal's engine (shared by every browser session of the process)."""
    with _lock:
        return _rounds.get(id(conn))


def start_round(conn: Connection, calls: AfterSaleCalls, seed: int, minutes: float, automatic: bool) -> DemoRound:
    """A new round, or the one still selling or playing: the Start button is disabled then, but Streamlit's page can
    send one click twice (`terminal_ui/clicks.py`) and the copy can arrive before the disabled button is drawn; two
    presenters' sessions starting at once get one round too (the lock is held while the coupon is published)."""
    with _lock:
        earlier = _rounds.get(id(conn))
        if earlier is not None and earlier.phase in RUNNING:
            return earlier
        zone = ZoneInfo(conn.profile().timezone)
        raw = demo_round_coupon(utc_now(), seed, closes_in=timedelta(minutes=minutes), zone=zone)
        round_ = DemoRound(calls, calls.publish_coupon(raw), seed, automatic)
        if earlier is not None:
            earlier.stop()
        _rounds[id(conn)] = round_
    return round_.start()


# ---- on the Results page ------------------------------------------------------------------------------------------


def _start(conn: Connection, calls: AfterSaleCalls) -> None:
    try:
        start_round(conn, calls, int(state.demo_seed), float(state.demo_minutes), not state.demo_by_hand)
        state.demo_error = None
    except TicketingError as refused:
        state.demo_error = refused.message


def _use_drawn(round_: DemoRound) -> None:
    """Put the drawn results in the Results page's entry, to be previewed and confirmed there."""
    state.results_coupon = round_.coupon.id
    state.setdefault("results_edits", {})[round_.coupon.id] = dict(round_.drawn)
    session_clicks("results").forget()


def _settled_words(calls: AfterSaleCalls, coupon: Coupon, at_settlement: SettlementSummary) -> str:
    """The round as it stands now: a correction on the Results page changes its results and its winners."""
    try:
        summary = calls.settlement(coupon.id)
    except TicketingError:
        summary = at_settlement
    drawn = result_string([summary.results.get(event.id) for event in coupon.events])
    bonus = sum(summary.bonus_winners.values())
    to_pay = "Pay them on the Pay out page." if summary.winners or bonus else "Nobody to pay."
    return (
        f"**{md_escape(coupon.id)}** settled (`{drawn}`): {summary.winners} winner(s), {bonus} bonus winner(s). "
        + to_pay
    )


@st.fragment(run_every=2)
def _live_status(conn: Connection, calls: AfterSaleCalls) -> None:
    round_ = current_round(conn)
    if round_ is None:
        return
    coupon = round_.coupon
    if round_.phase == Phase.SELLING:
        left = (coupon.closes_at - utc_now()).total_seconds()
        st.markdown(f"**{md_escape(coupon.id)}** on sale, closes in **{format_countdown(left)}**; its odds are moving.")
        st.page_link(
            "pages/terminal.py",
            label=f"Sell on {coupon.id}",
            icon=":material/point_of_sale:",
            query_params={"coupon": coupon.id},
        )
    elif round_.phase == Phase.PLAYING:
        st.markdown(f"**{md_escape(coupon.id)}**: matches played, {round_.entered} of {len(coupon.events)} results in")
    elif round_.phase == Phase.DRAWN:
        st.markdown(f"**{md_escape(coupon.id)}**: matches played, results drawn `{round_.drawn_string}`")
    elif round_.phase == Phase.SETTLED:
        st.markdown(_settled_words(calls, coupon, round_.summary))
    else:
        st.error(f"The demo round stopped: {md_escape(round_.error or 'unknown error')}")
    # A new phase changes the rest of the page (the coupon appears for results, a settlement): rerun it all.
    seen = (coupon.id, round_.phase, round_.entered)
    if state.get("demo_seen") != seen:
        first = "demo_seen" not in state
        state.demo_seen = seen
        if round_.phase != Phase.SELLING and state.get("demo_followed") != coupon.id:
            # The round's coupon is past its deadline: the page's coupon for results turns to it, once (a presenter
            # who started a second round was shown the first one's results: found by a review in the browser).
            state[DEMO_FOLLOW] = state.demo_followed = coupon.id
        if not first:
            st.rerun(scope="app")


def demo_round_panel(conn: Connection, calls: AfterSaleCalls) -> None:
    """For the demo operator only."""
    if conn.settings.operator != DEMO_OPERATOR:
        return
    round_ = current_round(conn)
    running = round_ is not None and round_.phase in RUNNING
    with st.expander("Demo round: sell, results, settlement and pay out in five minutes", expanded=round_ is not None):
        _live_status(conn, calls)
        if round_ is not None and round_.phase == Phase.DRAWN:
            st.button(
                "Use the drawn results",
                key="demo_use_drawn",
                icon=":material/sports_score:",
                on_click=_use_drawn,
                args=(round_,),
            )
        with st.container(horizontal=True, vertical_alignment="bottom", gap="small"):
            st.number_input("Seed", key="demo_seed", min_value=0, value=455, step=1, width=140)
            st.number_input(
                "Closes in (minutes)",
                key="demo_minutes",
                min_value=1.0,
                max_value=30.0,
                value=CLOSES_IN.total_seconds() / 60,
                step=1.0,
                width=160,
            )
            st.checkbox("Enter the results myself", key="demo_by_hand")
            st.button(
                "Start a demo round",
                key="demo_start",
                type="primary",
                icon=":material/play_arrow:",
                disabled=running,
                on_click=_start,
                args=(conn, calls),
            )
        if state.get("demo_error"):
            st.error(md_escape(state.demo_error))
