"""The pay out screen (`pages/payout.py`): scan a ticket brought back to the counter, read one verdict, pay once.

The engine pays a ticket once whatever happens (a second attempt, from any till, is refused with when and by whom);
the screen adds what the sell page does for a sale: the Pay click only locks the screen (the button re-renders
disabled, "Paying…") and the payout runs in that same script run, so a double click sends one payout.
"""

from dataclasses import dataclass, field
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import streamlit as st

from terminal_ui.after_sale import AfterSaleCalls, after_sale
from terminal_ui.connection import connection
from terminal_ui.errors import plain_errors
from terminal_ui.keys import keyboard, request_focus
from terminal_ui.printouts import payout_slip_html
from terminal_ui.shift import add_cash_control
from terminal_ui.text import md_escape
from ticketing.contract.errors import TicketAlreadyPaid, TicketingError
from ticketing.contract.models import EventResult, PayoutSlip, Shift, Ticket
from ticketing.contract.money import format_money
from ticketing.settlement.counter import Mark, VerdictKind, pick_marks, verdict

COLOURS = {
    VerdictKind.WINNER: "green",
    VerdictKind.REFUND: "blue",
    VerdictKind.NOT_A_WINNER: "red",
    VerdictKind.WAITING: "orange",
    VerdictKind.ALREADY_PAID: "violet",
    VerdictKind.CANCELLED: "gray",
    VerdictKind.CREDITED: "blue",
}
MARKS = {
    Mark.CORRECT: ":green[✓ correct]",
    Mark.WRONG: ":red[✗ wrong]",
    Mark.VOID: ":gray[void, counts]",
    Mark.WAITING: ":orange[waiting]",
}

state = st.session_state
PAYOUT_CASH_ERROR = "payout_cash_error"
"""Why cash could not be added from the Pay out page (the shift closed meanwhile, an amount refused)."""


@dataclass
class CounterTicket:
    """The ticket on the counter: what was scanned, and its payout once paid in this session."""

    ticket: Ticket | None = None
    known: dict[int, EventResult] = field(default_factory=dict)
    error: str | None = None
    pending: bool = False
    slip: PayoutSlip | None = None
    pay_error: str | None = None


# ---- callbacks: every state change happens here -------------------------------------------------------------------


def look_up(calls: AfterSaleCalls) -> None:
    """A scanner types the code and Enter: the field is emptied at once, so the next scan replaces it."""
    reference = (state.get("payout_ref") or "").strip()
    state.payout_ref = ""
    if not reference:
        return
    counter = state.counter = CounterTicket()
    state[PAYOUT_CASH_ERROR] = None  # it was about the last ticket's cash
    try:
        counter.ticket = calls.find_ticket(reference)
        if counter.ticket.settlement is None:
            counter.known = calls.results_known(counter.ticket.coupon_id)
    except TicketingError as error:
        counter.error = error.message


def request_pay() -> None:
    counter: CounterTicket = state.counter
    if counter.pending or counter.slip is not None or counter.ticket is None:
        return
    counter.pending, counter.pay_error = True, None


def next_ticket() -> None:
    state.counter = CounterTicket()
    request_focus("payout")


def already_paid_words(code: str, paid: TicketAlreadyPaid) -> str:
    """The engine says when in UTC; the verdict above says it in the terminal's time zone: one time, not two."""
    zone = ZoneInfo(connection().settings.timezone)
    at = datetime.fromisoformat(paid.details["paid_at"]).replace(tzinfo=UTC).astimezone(zone)
    return f"Ticket {code} was already paid at {at:%H:%M:%S} ({at:%Z}) by {paid.details['till']}: not paid again."


def perform_pay(calls: AfterSaleCalls) -> None:
    """Pay the ticket. No Streamlit call in here, so a rerun cannot cut it between the payout and its record."""
    counter: CounterTicket = state.counter
    try:
        counter.slip = calls.pay_out(counter.ticket.code)
    except TicketAlreadyPaid as paid:
        counter.pay_error = already_paid_words(counter.ticket.code, paid)
    except TicketingError as refused:
        counter.pay_error = refused.message
    finally:
        counter.pending = False
        request_focus("payout")  # the next scan goes to the code field
    try:
        counter.ticket = calls.find_ticket(counter.ticket.code)
    except TicketingError as error:
        counter.error = error.message


# ---- the screen ----------------------------------------------------------------------------------------------------


def verdict_block(ticket: Ticket, known: dict[int, EventResult], zone: ZoneInfo) -> bool:
    """The one large verdict; returns whether the ticket is payable at the counter."""
    paid = ticket.settlement.paid if ticket.settlement else None
    said = verdict(ticket, len(known), paid.paid_at.astimezone(zone) if paid else None)
    with st.container(border=True, key="verdict"):
        st.markdown(f"# :{COLOURS[said.kind]}[{said.kind.value}]")
        if said.amount is not None:
            action = "to pay" if said.payable else ""
            st.markdown(f"## {format_money(said.amount, ticket.currency)} {action}".rstrip())
        st.markdown(f"**{ticket.code}** · coupon {md_escape(ticket.coupon_id)} · {md_escape(said.detail)}")
    return said.payable


def picks_table(calls: AfterSaleCalls, ticket: Ticket, known: dict[int, EventResult]) -> None:
    try:
        events = {e.id: e for e in calls.coupon(ticket.coupon_id).events}
    except TicketingError:
        events = {}
    rows = ["| # | Match | Pick | Odds | Result | |", "|--:|:--|:-:|--:|:-:|:--|"]
    for mark in pick_marks(ticket, known):
        event = events.get(mark.event_id)
        fixture = md_escape(event.fixture) if event else f"Event {mark.event_id}"
        result = mark.result.value if mark.result else "–"
        rows.append(f"| {mark.number} | {fixture} | {mark.pick} | {mark.odds:.2f} | {result} | {MARKS[mark.mark]} |")
    st.markdown("\n".join(rows))


def pay_section(calls: AfterSaleCalls, counter: CounterTicket, shift: Shift | None) -> None:
    ticket = counter.ticket
    settled = ticket.settlement
    amount = settled.refund if settled.result == "void" else settled.net_payout
    short = shift is not None and amount > shift.expected
    if shift is None:
        st.warning(f"Till {md_escape(calls.till)} has no open shift: open one on the Shift page to pay.")
        st.page_link("pages/shift.py", label="Open a shift", icon=":material/point_of_sale:")
    elif short:
        # The engine refuses a payout the drawer cannot make (400/138): say so before, with the way out beside it.
        st.warning(
            f"The drawer holds {format_money(shift.expected, ticket.currency)} by the shift's count: add at least "
            f"{format_money(amount - shift.expected, ticket.currency)} from the safe to pay this ticket.",
            icon=":material/account_balance_wallet:",
        )
        if state.get(PAYOUT_CASH_ERROR):
            st.error(md_escape(state[PAYOUT_CASH_ERROR]), icon=":material/block:")
        add_cash_control(calls, ticket.currency, key="payout_cash_in", error_key=PAYOUT_CASH_ERROR)
    st.button(
        "Paying…" if counter.pending else f"Pay {format_money(amount, ticket.currency)}",
        key="pay",
        type="primary",
        icon=":material/payments:",
        disabled=counter.pending or shift is None or short,
        on_click=request_pay,
        width="stretch",
    )
    if counter.pending:
        with st.spinner("Paying…"):
            perform_pay(calls)
        st.rerun()


def paid_section(counter: CounterTicket, timezone: str) -> None:
    slip = counter.slip
    with st.container(border=True, key="verdict"):
        st.markdown("# :green[PAID]")
        st.markdown(f"## Hand over {format_money(slip.amount, slip.currency)}")
        st.markdown(f"**{slip.code}** · {slip.record.kind} paid by {md_escape(slip.record.till)}")
    st.button("Next ticket", key="next_ticket", type="primary", icon=":material/qr_code_scanner:", on_click=next_ticket)
    st.iframe(payout_slip_html(slip, counter.ticket, timezone), height=520)


def payout_page() -> None:
    """The page, then the keyboard script: the cursor is in the code field on arrival and after each payment, so a
    scanner's code and Enter land there."""
    if state.get("focus_target") != "payout":  # a first visit, or back from another page
        request_focus("payout")
    with plain_errors("the payout counter"):
        counter_screen()
    keyboard()


def counter_screen() -> None:
    state.setdefault("counter", CounterTicket())
    conn = connection()
    calls = after_sale(conn)
    zone = ZoneInfo(conn.settings.timezone)
    st.title("Pay out")
    shift = calls.current_shift(operations=False)
    opened = f"shift open since {shift.opened_at.astimezone(zone):%H:%M}" if shift else "no open shift"
    st.caption(f"Till {md_escape(calls.till)} · {opened}")
    st.text_input(
        "Ticket code: scan the receipt's QR code or type the code, then Enter",
        key="payout_ref",
        on_change=look_up,
        args=(calls,),
        placeholder="e.g. A12A42",
    )
    counter: CounterTicket = state.counter
    if counter.error:
        st.error(md_escape(counter.error), icon=":material/search_off:")
        return
    if counter.ticket is None:
        return
    if counter.slip is not None:
        paid_section(counter, conn.settings.timezone)
        return
    left, right = st.columns([2, 3], gap="large")
    with left:
        payable = verdict_block(counter.ticket, counter.known, zone)
        if counter.pay_error:
            st.error(md_escape(counter.pay_error), icon=":material/block:")
        if payable:
            pay_section(calls, counter, shift)
    with right:
        picks_table(calls, counter.ticket, counter.known)
