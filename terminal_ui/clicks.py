"""A click on a toggle taken once, though Streamlit's page (1.67) can send it twice.

The page sends a widget's change on the next turn of the browser's loop (a `setTimeout(0)`). A live refresh
(`st.fragment(run_every=...)`) falling due before that turn sends the page's widget states, the click's trigger among
them, and then the click's own message sends it again: the server runs the button's callback twice. For a toggle (a
pick, a result) the second run undid the first; CI failed on it twice (README, "Event grid").
"""

import time
from collections.abc import Hashable
from dataclasses import dataclass

import streamlit as st

REPEATED_CLICK_SECONDS = 0.5
"""The same button clicked again within this time of the last click taken, or of the first draw that showed it, is
that click's copy. A cashier who clicks a pick twice that fast meant one pick; one who wants it off sees it lit and
clicks again."""

clock = time.monotonic
"""Read through the module, so that a test can set the time."""


@dataclass
class RepeatedClicks:
    """The last click taken on a set of toggles (the picks of a slip, the results of a coupon)."""

    button: Hashable | None = None
    at: float = 0.0
    """When it was taken (`time.monotonic`), then when the screen showing it was first drawn."""
    shown_yet: bool = False

    def take(self, button: Hashable, now: float) -> bool:
        """Whether a click on `button` is a new one, remembered if so."""
        if button == self.button and now - self.at < REPEATED_CLICK_SECONDS:
            return False
        self.button, self.at, self.shown_yet = button, now, False
        return True

    def shown(self, now: float) -> None:
        """The screen showing the last click is drawn. A copy comes straight after this run, however long it took; a
        person's second click only once they have seen it."""
        if self.button is not None and not self.shown_yet:
            self.at, self.shown_yet = now, True

    def forget(self) -> None:
        """The toggles were set another way (a typed string, Clear): the next click on any of them is a new one."""
        self.button = None


def session_clicks(name: str) -> RepeatedClicks:
    """The clicks of the browser session's toggles called `name`."""
    return st.session_state.setdefault(f"clicks_{name}", RepeatedClicks())
