"""Which credential a page acts for. The sell page and the tickets desk act as the till; a page that publishes
coupons acts as admin only once an admin credential is configured (`TICKETING_ADMIN_KEY_ID`,
`TICKETING_ADMIN_SECRET`) or entered, per browser session. The engine checks the role again on every call.
"""

import streamlit as st

from terminal_ui.connection import Connection, Service
from terminal_ui.text import md_escape
from ticketing.access.roles import Actor, Role
from ticketing.client import TicketingClient
from ticketing.contract.errors import TicketingError

state = st.session_state
ADMIN = "admin_credential"
"""Session state: `(Actor, Service)` of the signed-in admin. The secret never goes into session state."""


def admin(conn: Connection) -> tuple[Actor, Service] | None:
    """The admin this session acts as: signed in on a page, else the configured one, else none."""
    if ADMIN not in state and conn.settings.admin_key_id and conn.settings.admin_secret:
        try:
            sign_in_as(conn, conn.settings.admin_key_id, conn.settings.admin_secret)
        except TicketingError as refused:
            state.admin_error = f"The configured admin credential was refused: {refused.message}"
            state[ADMIN] = None
    return state.get(ADMIN)


def sign_in_as(conn: Connection, key_id: str, secret: str) -> None:
    actor, service = conn.sign_in(key_id, secret)
    if actor.role != Role.ADMIN:
        raise TicketingError(f"{actor.credential} is a {actor.role.value} credential: this needs an admin's")
    state[ADMIN] = (actor, service)
    state.admin_error = None


def _sign_in(conn: Connection) -> None:
    """Callback of the sign-in form: the secret is read from its widget and the widget emptied at once."""
    key_id = (state.get("admin_key_id") or "").strip()
    secret = state.pop("admin_secret", "") or ""
    try:
        sign_in_as(conn, key_id, secret)
    except TicketingError as refused:
        state.admin_error = refused.message


def _sign_out() -> None:
    signed_in = state.get(ADMIN)
    if signed_in is not None and isinstance(signed_in[1], TicketingClient):
        signed_in[1].close()
    state[ADMIN] = None
    state.admin_error = None


def admin_sign_in(conn: Connection, purpose: str) -> tuple[Actor, Service] | None:
    """The session's admin, or a sign-in form saying what it is needed for (and None)."""
    signed_in = admin(conn)
    if signed_in is not None:
        actor, _service = signed_in
        left, right = st.columns([4, 1])
        left.caption(f"Acting as admin: {md_escape(actor.credential)}")
        right.button("Sign out", key="admin_sign_out", on_click=_sign_out)
        return signed_in
    with st.form("admin_sign_in", border=True):
        st.markdown(f"**Admin credential needed** to {purpose}. The till's credential cannot.")
        st.text_input("Key id", key="admin_key_id", value=conn.settings.admin_key_id or "")
        st.text_input("Secret", key="admin_secret", type="password")
        st.form_submit_button("Sign in as admin", on_click=_sign_in, args=(conn,))
    if state.get("admin_error"):
        st.error(state.admin_error)
    return None


def acting_roles(conn: Connection) -> str:
    """For the sidebar: which credential acts for each role in this session."""
    signed_in = admin(conn)
    admin_text = md_escape(signed_in[0].credential) if signed_in else "not signed in"
    return f"**Till:** {md_escape(conn.till_credential)}  \n**Admin:** {admin_text}"
