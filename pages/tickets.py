"""The tickets desk: find any ticket by code or id, reprint it, and account for a shift."""

from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import streamlit as st

from terminal_ui.after_sale import after_sale
from terminal_ui.cancel import cancel_control, cancellable_until, cancelled_here
from terminal_ui.connection import connection
from terminal_ui.entry import ensure_entry_script
from terminal_ui.errors import plain_errors
from terminal_ui.keys import keyboard, request_focus
from terminal_ui.receipt import receipt_html, show_receipt
from terminal_ui.text import md_escape
from ticketing.contract.errors import TicketingError
from ticketing.contract.models import Coupon, Ticket, TicketQuery, TicketResult, TicketStatus
from ticketing.contract.money import format_money
from ticketing.shifts.report import (
    filter_frame,
    period_bounds,
    sales_per_hour,
    shift_totals,
    tickets_frame,
    to_csv,
)

ensure_entry_script("pages/tickets.py")
conn = connection()
service = conn.service
zone = ZoneInfo(conn.settings.timezone)
state = st.session_state
state.setdefault("desk", {"ticket": None, "error": None, "reprint": False})
DESK_CANCEL = "desk_cancel"
"""The desk's cancel flow, in the session state."""


def look_up() -> None:
    """The field is emptied once read: the next scan (a scanner types the code and Enter) replaces it instead of
    adding to it, and the cursor stays there for it."""
    reference = state.get("lookup_ref", "").strip()
    state.lookup_ref = ""
    request_focus("lookup")
    desk = state.desk
    desk.update(ticket=None, error=None, reprint=False)
    if not reference:
        return
    try:
        desk["ticket"] = service.get_ticket(reference)
    except TicketingError as error:
        desk["error"] = error.message


def reprint() -> None:
    state.desk["reprint"] = True


def coupon_of(ticket: Ticket) -> Coupon | None:
    try:
        return service.get_coupon(ticket.coupon_id)
    except TicketingError:
        return None


def settled_figures(ticket: Ticket) -> list[tuple[str, Decimal | str]]:
    """What the ticket is worth now and what became of it: a settled ticket's figures are not those it was sold
    with (a void leg at odds 1.00, a bonus tier), and whether, when and by which till it was paid."""
    settled = ticket.settlement
    if settled is None:
        return []
    rows: list[tuple[str, Decimal | str]] = []
    if settled.result == TicketResult.VOID:
        rows.append(("Refund (settled)", settled.refund))
    elif settled.result == TicketResult.WON:
        rows += [
            ("Payout (settled)", settled.payout),
            ("Withholding tax (settled)", settled.tax),
            ("Net payout (settled)", settled.net_payout),
        ]
    if settled.credited:
        rows.append(("Credited to the account it was paid from", settled.credited))
    if settled.paid is not None:
        paid = settled.paid
        when = f"{paid.paid_at.astimezone(zone):%Y-%m-%d %H:%M}"
        note = f" · {md_escape(paid.follow_up)}" if paid.follow_up else ""
        rows.append(
            (
                "Paid in cash",
                f"{format_money(paid.amount, ticket.currency)} at {when} by {md_escape(paid.till)}{note}",
            )
        )
    return rows


def ticket_details(ticket: Ticket) -> None:
    # Cancelled by this screen's own button (in its callback, before this run): shown as it is now, not as looked up.
    ticket = cancelled_here(DESK_CANCEL, ticket.code) or ticket
    coupon = coupon_of(ticket)
    events = {e.id: e for e in coupon.events} if coupon else {}
    st.markdown(f"## :blue[{ticket.code}]")
    st.caption(f"Ticket id {ticket.id} · coupon {ticket.coupon_id}{' · ' + coupon.name if coupon else ''}")
    status, result, approved = st.columns(3)
    status.metric("Status", ticket.status.value)
    result.metric("Result", ticket.result.value)
    approved.metric("Approval", "approved" if ticket.approved else "not approved")
    picks = [
        {
            "#": n,
            "event": e.id,
            "fixture": events[e.id].fixture if e.id in events else "",
            "pick": e.pick,
            "odds": f"{e.odds:.2f}",
        }
        for n, e in enumerate(ticket.events, start=1)
    ]
    st.dataframe(picks, hide_index=True, width="stretch")
    money = [
        ("Stake", ticket.stake),
        ("Potential payout (as sold)", ticket.payout),
        ("Withholding tax (as sold)", ticket.tax),
        ("Net payout (as sold)", ticket.net_payout),
    ]
    if ticket.excise:
        money.insert(1, ("Excise", ticket.excise))
    money += settled_figures(ticket)
    st.markdown(
        "| | |\n|:--|--:|\n"
        + "\n".join(
            f"| {label} | {value if isinstance(value, str) else format_money(value, ticket.currency)} |"
            for label, value in money
        )
        + f"\n| Total odds | {ticket.total_odds:,.2f} |"
        + f"\n| Created | {ticket.created.astimezone(zone):%Y-%m-%d %H:%M:%S %Z} |"
        + f"\n| Updated | {ticket.updated.astimezone(zone):%Y-%m-%d %H:%M:%S %Z} |"
    )
    st.button("Reprint receipt", key="reprint", icon=":material/print:", on_click=reprint)
    cancelled = cancel_control(after_sale(conn), ticket, conn.settings.timezone, key=DESK_CANCEL)
    if state.desk["reprint"]:
        st.info(f"Receipt copy of {ticket.code}: it is marked COPY - REPRINT.", icon=":material/content_copy:")
        until = None if cancelled else cancellable_until(after_sale(conn), ticket, coupon)
        settings = conn.settings
        show_receipt(
            receipt_html(
                cancelled or ticket,
                coupon,
                settings.timezone,
                settings.shop_name,
                settings.receipt_terms,
                copy=True,
                printable=True,
                cancellable_until=until,
            ),
            key="desk_receipt",
        )


def lookup_section() -> None:
    st.text_input(
        "Ticket code or id: type it or scan the receipt's QR code or barcode, then Enter",
        key="lookup_ref",
        on_change=look_up,
        placeholder="e.g. A12A42",
    )
    desk = state.desk
    if desk["error"]:
        st.error(md_escape(desk["error"]), icon=":material/search_off:")
    elif desk["ticket"] is not None:
        ticket_details(desk["ticket"])


def shift_section() -> None:
    today = datetime.now(zone).date()
    period = st.date_input("Period", value=(today, today), key="shift_period", max_value=today)
    first, last = (period[0], period[-1]) if isinstance(period, tuple) and period else (today, today)
    start, end = period_bounds(first, last, zone)
    tickets = service.list_tickets(TicketQuery(created_from=start, created_to=end, limit=10000))
    frame = tickets_frame(tickets, zone)
    filters = st.columns(3)
    statuses = filters[0].multiselect("Status", [s.value for s in TicketStatus], key="shift_status")
    results = filters[1].multiselect("Result", [r.value for r in TicketResult], key="shift_result")
    coupons = filters[2].multiselect("Coupon", sorted(frame["coupon_id"].unique()), key="shift_coupon")
    shown = filter_frame(frame, statuses, results, coupons)
    totals = shift_totals(shown)
    currency = shown["currency"].iloc[0] if len(shown) else conn.profile().currency
    # Each figure as wide as its digits, wrapping to a new line on a narrow screen rather than cutting them.
    with st.container(horizontal=True, gap="large", key="shift_totals"):
        st.metric("Tickets", totals.tickets, width="content")
        st.metric(f"Stakes ({currency})", f"{totals.stakes:,.2f}", width="content")
        st.metric(f"Potential payouts ({currency})", f"{totals.payouts:,.2f}", width="content")
        st.metric(f"Withholding tax ({currency})", f"{totals.tax:,.2f}", width="content")
    if totals.cancelled:
        st.caption(f"{totals.cancelled} cancelled ticket(s) listed: refunded, so in none of these sums.")
    money = st.column_config.NumberColumn(format="%.2f")
    st.dataframe(
        shown,
        hide_index=True,
        width="stretch",
        key="shift_table",
        column_config={
            "created": st.column_config.DatetimeColumn("Created", format="YYYY-MM-DD HH:mm:ss"),
            "status": st.column_config.TextColumn("Status"),
            "result": st.column_config.TextColumn("Result"),
            "stake": money,
            "payout": money,
            "tax": money,
            "net_payout": money,
            "total_odds": st.column_config.NumberColumn("Total odds", format="%.2f"),
        },
    )
    st.download_button(
        "Export CSV (ids as text for spreadsheets)",
        data=to_csv(shown),
        file_name=f"tickets-{first}-{last}.csv",
        mime="text/csv",
        key="export_csv",
        icon=":material/download:",
    )
    st.subheader(f"Sales per hour ({conn.settings.timezone} time)")
    per_hour = sales_per_hour(shown, start, end, zone)
    if per_hour.empty:
        st.caption("No hour of this period has begun yet.")
    else:
        st.bar_chart(per_hour, x="hour", y="tickets", x_label=f"hour ({zone.key})", y_label="tickets", sort=False)


if "focus_seq" not in state or state.get("focus_target") != "lookup":
    request_focus("lookup")
st.title("Tickets desk")
find, shift = st.tabs(["Find a ticket", "Shift"])
with find, plain_errors("finding a ticket"):
    lookup_section()
with shift, plain_errors("the shift"):
    shift_section()
keyboard()
