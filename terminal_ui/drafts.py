"""The slip in progress, kept where neither a page change nor a reload loses it.

Streamlit forgets a widget's value when a run does not draw the widget (a visit to the desk) and a reload starts a
new session. So the slip lives in a `Draft` held by this process, found again by the `draft` query parameter that
every page keeps in the URL: a reload of any page, or a return to the sell page, finds the same picks, stake,
coupon and sale key. The key is what makes a reload during a sale safe: the same draft is the same sale.
A draft is the browser tab's own (the URL), not shared by the other tabs of the till.
"""

import secrets
import threading
import uuid
from collections import OrderedDict
from dataclasses import dataclass, field
from decimal import Decimal

import streamlit as st

from terminal_ui.clicks import RepeatedClicks
from ticketing.contract.models import Coupon, Ticket
from ticketing.selling.slip import Picks

DRAFTS_KEPT = 1000
"""Drafts of this process kept, the least recently used dropped first: a till makes one per browser tab."""


@dataclass
class Draft:
    id: str
    coupon_id: str | None = None
    picks: Picks = field(default_factory=dict)
    stake: str | None = None
    """Exactly as typed (None until the coupon's own stake is set): what the field shows is what the slip parses,
    nothing is rounded on the way."""
    pick_string: str = ""
    pick_string_error: str | None = None
    player_token: str = ""
    token_field: bool = False
    """The player token field is drawn only once asked for (most sales are on the shop's account)."""
    sale_key: str = field(default_factory=lambda: uuid.uuid4().hex)
    """One idempotency key until a ticket is sold or the slip starts anew."""
    pending: bool = False
    sell_by_key: bool = False
    """Ctrl+Enter was pressed: the run decides, once every input of that run is applied."""
    keyed_fields: dict[str, str | None] = field(default_factory=dict)
    """What the stake and pick fields showed when Ctrl+Enter was pressed (`terminal_ui/keys.py`)."""
    keyed_at: int | None = None
    """The last Ctrl+Enter taken (its browser's timestamp): the keyboard sends a press again until the page shows it
    taken, and a press sent again must not act twice. Kept across slips: a late copy of the last sale's press must
    not sell the next slip."""
    shown_odds: dict[int, dict[int, Decimal]] = field(default_factory=dict)
    """The odds on screen at the last draw of the grid: what a Ctrl+Enter sale is checked against."""
    seen_odds: dict[int, dict[int, Decimal]] = field(default_factory=dict)
    moved: list[dict] | None = None
    error: str | None = None
    missing: str | None = None
    receipt: Ticket | None = None
    receipt_coupon: Coupon | None = None
    reprint: bool = False
    pick_clicks: RepeatedClicks = field(default_factory=RepeatedClicks)

    def toggle_pick(self, event_id: int, bet: int, now: float) -> bool:
        """Choose the pick, or clear it if it was chosen; whether the click was taken (not a copy of the last one,
        `terminal_ui/clicks.py`)."""
        if not self.pick_clicks.take((event_id, bet), now):
            return False
        if self.picks.get(event_id) == bet:
            del self.picks[event_id]
        else:
            self.picks[event_id] = bet
        return True

    def replace_picks(self, picks: Picks) -> None:
        """Picks set another way than by a click (a pick string, a quick pick, Clear, a new slip)."""
        self.picks = picks
        self.pick_clicks.forget()

    def clear_messages(self) -> None:
        self.moved = self.error = self.missing = None

    def new_slip(self, coupon_id: str | None, stake: str | None) -> None:
        """A fresh slip on `coupon_id`: no picks, a new sale key. The stake is the caller's choice."""
        self.coupon_id = coupon_id
        self.replace_picks({})
        self.stake = stake
        self.pick_string = ""
        self.pick_string_error = None
        self.player_token = ""
        self.token_field = False
        self.sale_key = uuid.uuid4().hex
        self.pending = self.sell_by_key = self.reprint = False
        self.shown_odds, self.seen_odds = {}, {}
        self.receipt = self.receipt_coupon = None
        self.clear_messages()


class DraftStore:
    def __init__(self, capacity: int = DRAFTS_KEPT):
        self._drafts: OrderedDict[str, Draft] = OrderedDict()
        self._capacity = capacity
        self._lock = threading.Lock()

    def find(self, draft_id: str | None) -> Draft | None:
        with self._lock:
            draft = self._drafts.get(draft_id) if draft_id else None
            if draft is not None:
                self._drafts.move_to_end(draft_id)
            return draft

    def new(self) -> Draft:
        draft = Draft(id=secrets.token_urlsafe(12))
        with self._lock:
            self._drafts[draft.id] = draft
            while len(self._drafts) > self._capacity:
                self._drafts.popitem(last=False)
        return draft


DRAFTS = DraftStore()


def session_draft() -> Draft:
    """This tab's draft: the session's, else the one the URL names (a reload), else a new one; kept in the URL."""
    state = st.session_state
    draft = state.get("draft")
    if draft is None:
        draft = DRAFTS.find(st.query_params.get("draft")) or DRAFTS.new()
        state.draft = draft
    if st.query_params.get("draft") != draft.id:
        st.query_params["draft"] = draft.id
    return draft
