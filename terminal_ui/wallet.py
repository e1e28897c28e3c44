"""The wallet screen (`pages/wallet.py`, an admin's): which wallet holds the operator's players' money, every message
sent to it (by ticket and by state) with a retry for the failed ones, and the reconciliation of the engine's tickets
with the wallet's ledger. A till can look up a player's balance in that wallet.

Every figure is the engine's (`wallet_status`, `wallet_messages`, `reconcile_wallet`), embedded or remote alike.
"""

import pandas as pd
import streamlit as st

from terminal_ui.connection import Connection, Service, connection
from terminal_ui.roles import admin_sign_in
from terminal_ui.text import md_escape
from ticketing.contract.errors import TicketingError
from ticketing.contract.money import format_money
from ticketing.wallets.outbox import OutboxMessage
from ticketing.wallets.reconcile import Reconciliation

STATES = ["all", "failed", "pending", "delivered", "discarded", "cancelled"]
state = st.session_state


# ---- callbacks -----------------------------------------------------------------------------------------------------


def retry(service: Service, ticket: str | None) -> None:
    try:
        retried = service.retry_wallet_messages(ticket=ticket)
        state.wallet_notice = f"{retried} message(s) sent again." if retried else "Nothing to send again."
        state.wallet_error = None
    except TicketingError as refused:
        state.wallet_error = refused.message


def reconcile(service: Service) -> None:
    try:
        state.wallet_report = service.reconcile_wallet()
        state.wallet_error = None
    except TicketingError as refused:
        state.wallet_report = None
        state.wallet_error = refused.message


def look_up_player(conn: Connection) -> None:
    token = (state.pop("wallet_player_token", "") or "").strip()
    if not token:
        return
    try:
        player = conn.service.wallet_player(token)
        state.wallet_player = (
            f"Player {player.player_id}: {format_money(player.balance, player.currency)} ({player.wallet} wallet)"
        )
    except TicketingError as refused:
        state.wallet_player = f"Not found: {refused.message}"


# ---- the screen ----------------------------------------------------------------------------------------------------


COLUMNS = ["message", "ticket", "action", "state", "attempts", "last error", "reason", "created", "due", "delivered"]


def messages_frame(messages: list[OutboxMessage]) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                "message": m.id,
                "ticket": m.code or m.ticket_id,
                "action": m.action,
                "state": m.state,
                "attempts": m.attempts,
                "last error": m.last_error or "",
                "reason": m.reason or "",
                "created": m.created,
                "due": m.due,
                "delivered": m.delivered_at,
            }
            for m in messages
        ],
        columns=COLUMNS,
    )


def report_view(report: Reconciliation) -> None:
    engine, wallet = report.engine, report.wallet
    st.markdown(
        "| | tickets | debited | credited | refunded |\n|---|---:|---:|---:|---:|\n"
        f"| engine | {engine.tickets} | {engine.debited:,.2f} | {engine.credited:,.2f} | {engine.refunded:,.2f} |\n"
        f"| wallet | {wallet.tickets} | {wallet.debited:,.2f} | {wallet.credited:,.2f} | {wallet.refunded:,.2f} |"
    )
    if not report.differences:
        st.success(f"No difference: every ticket matches the wallet's ledger ({report.checked_at:%Y-%m-%d %H:%M} UTC).")
        return
    waiting = sum(1 for d in report.differences if d.undelivered)
    st.error(
        f"{len(report.differences)} difference(s); {waiting} of them on tickets with messages not delivered yet "
        "(they may be on their way)."
    )
    st.dataframe(
        pd.DataFrame([d.model_dump() for d in report.differences]),
        hide_index=True,
        width="stretch",
        key="wallet_differences",
    )


def wallet_page() -> None:
    st.title("Wallet")
    conn = connection()
    with st.expander("A player's balance (as the till)"):
        st.text_input(
            "Player token", key="wallet_player_token", type="password", on_change=look_up_player, args=(conn,)
        )
        if state.get("wallet_player"):
            st.write(state.wallet_player)
    signed_in = admin_sign_in(conn, "see the wallet's messages and reconcile it")
    if signed_in is None:
        return
    _actor, service = signed_in
    try:
        status = service.wallet_status()
    except TicketingError as refused:
        st.error(refused.message)
        return
    if status.wallet != "pam":
        st.info(
            f"Operator {md_escape(status.operator)} keeps its players' money in the engine's own accounts: no message "
            "goes to any wallet, and there is nothing to reconcile."
        )
        return
    st.caption(f"Operator **{md_escape(status.operator)}** · PAM wallet at `{status.url}`")
    counts = st.columns(4)
    for column, name in zip(counts, ("failed", "pending", "delivered", "discarded"), strict=True):
        column.metric(name.capitalize(), status.messages.get(name, 0))

    st.subheader("Messages")
    left, right = st.columns([2, 1])
    ticket = left.text_input("Ticket (code or id)", key="wallet_ticket").strip() or None
    chosen = right.selectbox("State", STATES, key="wallet_state")
    try:
        messages = service.wallet_messages(ticket=ticket, state=None if chosen == "all" else chosen)
    except TicketingError as refused:
        st.error(refused.message)
        messages = []
    st.dataframe(
        messages_frame(messages),
        hide_index=True,
        width="stretch",
        key="wallet_messages",
        column_config={
            column: st.column_config.DatetimeColumn(column.capitalize(), format="YYYY-MM-DD HH:mm:ss")
            for column in ("created", "due", "delivered")
        },
    )
    label = f"Retry ticket {ticket}'s failed messages" if ticket else "Retry every failed message"
    st.button(label, key="wallet_retry", on_click=retry, args=(service, ticket))

    st.subheader("Reconciliation")
    st.button("Reconcile with the wallet's ledger", key="wallet_reconcile", on_click=reconcile, args=(service,))
    if state.get("wallet_notice"):
        st.info(state.wallet_notice)
    if state.get("wallet_error"):
        st.error(state.wallet_error)
    if state.get("wallet_report") is not None:
        report_view(state.wallet_report)
