"""Cancel a ticket from its receipt or the desk, while the operator's window allows: ask once, then cancel.

The engine decides (window, deadline, the till that sold it, not settled); the button is only shown while the
window is open, and the engine's refusal is shown in its own words otherwise.
"""

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import streamlit as st

from terminal_ui.after_sale import AfterSaleCalls
from terminal_ui.text import md_escape
from ticketing.contract.errors import TicketingError
from ticketing.contract.models import Coupon, Ticket
from ticketing.contract.money import format_money

state = st.session_state


def _flow(code: str, asked: bool = False, done: Ticket | None = None, error: str | None = None) -> dict:
    """One ticket's cancellation on one screen: asked to confirm, cancelled, or refused."""
    return {"code": code, "asked": asked, "done": done, "error": error}


def _ask(key: str, code: str) -> None:
    state[key] = _flow(code, asked=True)


def _keep(key: str, code: str) -> None:
    state[key] = _flow(code)


def _cancel(calls: AfterSaleCalls, code: str, key: str) -> None:
    try:
        state[key] = _flow(code, done=calls.cancel_ticket(code))
    except TicketingError as refused:
        state[key] = _flow(code, error=refused.message)


def cancelled_here(key: str, code: str) -> Ticket | None:
    """The ticket as this screen's cancel left it, once it has (the cancel runs in the click's callback, so a screen
    knows before it draws anything whether its ticket is still sold)."""
    flow = state.get(key)
    return flow["done"] if flow is not None and flow["code"] == code else None


def _refund_destination(cancelled: Ticket) -> str:
    return "credited back to the account it was paid from" if cancelled.settlement.credited else "cash"


def cancellable_until(calls: AfterSaleCalls, ticket: Ticket, coupon: Coupon | None = None) -> datetime | None:
    """For the receipt's "cancellable until" line: the end of the window, while it is still open."""
    until = calls.cancellable_until(ticket, coupon)
    return until if until is not None and datetime.now(UTC) < until else None


def cancel_control(calls: AfterSaleCalls, ticket: Ticket, timezone: str, key: str) -> Ticket | None:
    """The Cancel button, its confirmation and its outcome; returns the cancelled ticket once it is cancelled."""
    flow = state.get(key)
    if flow is None or flow["code"] != ticket.code:
        flow = state[key] = _flow(ticket.code)
    if flow["done"] is not None:
        done = flow["done"]
        refund = f"{format_money(done.settlement.refund, done.currency)} ({_refund_destination(done)})"
        st.warning(f"Ticket **{done.code}** cancelled: refund {refund}.", icon=":material/cancel:")
        return done
    if flow["error"]:
        st.error(md_escape(flow["error"]), icon=":material/block:")
    until = cancellable_until(calls, ticket)
    if until is None:
        return None
    if not flow["asked"]:
        st.button(
            f"Cancel ticket (until {until.astimezone(ZoneInfo(timezone)):%H:%M})",
            key=f"{key}_ask",
            icon=":material/cancel:",
            on_click=_ask,
            args=(key, ticket.code),
        )
        return None
    with st.container(border=True, key=f"{key}_confirm_box"):
        st.warning(
            f"Cancel ticket **{ticket.code}** and refund {format_money(ticket.stake, ticket.currency)}?",
            icon=":material/help:",
        )
        with st.container(horizontal=True, gap="small"):
            st.button(
                "Yes, cancel it", key=f"{key}_confirm", type="primary", on_click=_cancel, args=(calls, ticket.code, key)
            )
            st.button("Keep it", key=f"{key}_keep", on_click=_keep, args=(key, ticket.code))
    return None
