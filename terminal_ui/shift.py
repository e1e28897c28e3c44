"""The till's shift (`pages/shift.py`): open it with a float, watch the cash position, close it with the cash
counted, print the end-of-shift report. Every figure is the engine's, from the shift's cash operations."""

from datetime import UTC, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import streamlit as st

from terminal_ui.after_sale import AfterSaleCalls, after_sale
from terminal_ui.connection import connection
from terminal_ui.printouts import shift_report_html
from terminal_ui.text import md_escape
from ticketing.contract.errors import TicketingError
from ticketing.contract.models import Shift
from ticketing.contract.money import format_money
from ticketing.shifts.report import operations_frame, operations_to_csv, shift_figures

state = st.session_state


def amount(key: str) -> Decimal:
    """Number inputs hold floats; they become exact money here and nowhere else."""
    return Decimal(f"{state.get(key) or 0:.2f}")


def open_shift(calls: AfterSaleCalls) -> None:
    try:
        calls.open_shift(amount("shift_float"))
        state.shift_error = None
    except TicketingError as refused:
        state.shift_error = refused.message


def close_shift(calls: AfterSaleCalls) -> None:
    try:
        state.shift_report_id = calls.close_shift(amount("shift_counted")).id
        state.shift_error = None
    except TicketingError as refused:
        state.shift_error = refused.message


def add_cash(calls: AfterSaleCalls, key: str, error_key: str) -> None:
    try:
        calls.add_cash(amount(key))
        state[error_key] = None
        state[key] = 0.0
    except TicketingError as refused:
        state[error_key] = refused.message


def add_cash_control(calls: AfterSaleCalls, currency: str, key: str, error_key: str) -> None:
    """Cash from the safe into the drawer, counted in the shift: what a payout larger than the drawer needs first.
    A refusal is kept under `error_key` for the page to show."""
    with st.container(horizontal=True, vertical_alignment="bottom", key=f"{key}_box"):
        st.number_input(
            f"Cash added from the safe ({currency})", key=key, min_value=0.0, step=1000.0, format="%.2f", width=280
        )
        st.button(
            "Add cash", key=f"{key}_button", icon=":material/add_card:", on_click=add_cash, args=(calls, key, error_key)
        )


def cash_position(shift: Shift, currency: str) -> None:
    money = lambda value: format_money(value, currency)  # noqa: E731 - a local shorthand
    # Each figure as wide as its digits, wrapping to a new line rather than cutting them (six equal columns cut a
    # float of KES 5,000.00 at 1366 pixels).
    with st.container(horizontal=True, gap="medium", key="cash_position"):
        st.metric("Float", money(shift.float), width="content")
        st.metric(f"Sales ({shift.stakes_count})", money(shift.stakes), width="content")
        st.metric(f"Cash added ({shift.cash_added_count})", money(shift.cash_added), width="content")
        st.metric(f"Payouts ({shift.payouts_count})", money(shift.payouts), width="content")
        st.metric(f"Refunds ({shift.refunds_count})", money(shift.refunds), width="content")
        st.metric("Expected cash", money(shift.expected), width="content")


def operations(calls: AfterSaleCalls, shift: Shift, zone: ZoneInfo, key: str) -> dict:
    tickets = calls.tickets({op.ticket_id for op in shift.operations if op.ticket_id})
    frame = operations_frame(shift, tickets, zone)
    st.dataframe(
        frame,
        hide_index=True,
        width="stretch",
        key=f"{key}_operations",
        column_config={
            "at": st.column_config.DatetimeColumn("Time", format="YYYY-MM-DD HH:mm:ss"),
            "amount": st.column_config.NumberColumn("Amount", format="%.2f"),
        },
    )
    st.download_button(
        "Export cash operations (CSV)",
        data=operations_to_csv(frame),
        file_name=f"shift-{shift.id}-{shift.till}.csv",
        mime="text/csv",
        key=f"{key}_csv",
        icon=":material/download:",
    )
    return tickets


def report(calls: AfterSaleCalls, shift: Shift, currency: str, timezone: str) -> None:
    tickets = operations(calls, shift, ZoneInfo(timezone), key=f"report_{shift.id}")
    html = shift_report_html(shift, shift_figures(shift, tickets), currency, timezone, datetime.now(UTC))
    st.iframe(html, height=640)


def open_section(calls: AfterSaleCalls, currency: str) -> None:
    st.info(f"Till {md_escape(calls.till)} has no open shift: count the float in the drawer and open one.")
    st.number_input(f"Float ({currency})", key="shift_float", min_value=0.0, step=500.0, format="%.2f")
    st.button(
        "Open shift", key="open_shift", type="primary", icon=":material/lock_open:", on_click=open_shift, args=(calls,)
    )


def close_section(calls: AfterSaleCalls, shift: Shift, currency: str, zone: ZoneInfo) -> None:
    st.subheader(f"Shift {shift.id}, open since {shift.opened_at.astimezone(zone):%Y-%m-%d %H:%M}")
    cash_position(shift, currency)
    add_cash_control(calls, currency, key="shift_cash_in", error_key="shift_error")
    operations(calls, shift, zone, key="current")
    st.subheader("Close the shift")
    st.number_input(f"Counted cash ({currency})", key="shift_counted", min_value=0.0, step=100.0, format="%.2f")
    st.button(
        "Close shift", key="close_shift", type="primary", icon=":material/lock:", on_click=close_shift, args=(calls,)
    )


def shift_page() -> None:
    state.setdefault("shift_error", None)
    state.setdefault("shift_report_id", None)
    conn = connection()
    calls = after_sale(conn)
    zone = ZoneInfo(conn.settings.timezone)
    st.title("Shift")
    currency = conn.profile().currency
    st.caption(f"Till {md_escape(calls.till)} · operator {md_escape(conn.settings.operator)}")
    if state.shift_error:
        st.error(md_escape(state.shift_error), icon=":material/block:")
    shift = calls.current_shift()
    if shift is None:
        open_section(calls, currency)
    else:
        close_section(calls, shift, currency, zone)

    closed = [s for s in calls.list_shifts() if s.closed_at is not None]
    if not closed:
        return
    st.subheader("End-of-shift reports")
    by_id = {s.id: s for s in closed}
    if state.shift_report_id not in by_id:
        state.shift_report_id = closed[0].id
    st.selectbox(
        "Shift",
        list(by_id),
        key="shift_report_id",
        format_func=lambda sid: (
            f"Shift {sid} · {by_id[sid].opened_at.astimezone(zone):%Y-%m-%d %H:%M}–"
            f"{by_id[sid].closed_at.astimezone(zone):%H:%M} · difference {by_id[sid].difference:+,.2f}"
        ),
    )
    report(calls, calls.shift(state.shift_report_id), currency, conn.settings.timezone)
