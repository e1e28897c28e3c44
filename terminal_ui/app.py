"""The entry script's body (`streamlit_app.py`): page setup, navigation, the sidebar, then the chosen page."""

import threading

import streamlit as st

from terminal_ui.connection import connection
from terminal_ui.drafts import session_draft
from terminal_ui.entry import follow_deep_link
from terminal_ui.errors import plain_errors
from terminal_ui.heap import freeze_loaded_modules
from terminal_ui.roles import acting_roles
from ticketing.contract.identifiers import mask_token


def run_app() -> None:
    # The page icon is an emoji, drawn by the browser: a Material icon would be fetched from the internet.
    # The pages are in the top bar and the sidebar starts closed: a till's screen is for the slip.
    st.set_page_config(page_title="Jackpot terminal", page_icon="⚽", layout="wide", initial_sidebar_state="collapsed")

    navigation = st.navigation(
        [
            st.Page("pages/terminal.py", title="Sell", icon=":material/point_of_sale:", default=True),
            st.Page("pages/payout.py", title="Pay out", icon=":material/payments:"),
            st.Page("pages/tickets.py", title="Tickets desk", icon=":material/receipt_long:"),
            st.Page("pages/shift.py", title="Shift", icon=":material/account_balance_wallet:"),
            st.Page("pages/results.py", title="Results", icon=":material/scoreboard:"),
            st.Page("pages/coupon_qa.py", title="Coupon QA", icon=":material/fact_check:"),
            st.Page("pages/wallet.py", title="Wallet", icon=":material/account_balance:"),
        ],
        position="top",
    )

    follow_deep_link()
    session_draft()
    with st.sidebar, plain_errors("the sidebar"):
        sidebar()

    navigation.run()
    freeze_loaded_modules()


def sidebar() -> None:
    conn = connection()
    answers = conn.answers()
    profile = conn.profile() if answers else None
    running = sum(thread.name == "odds-simulator" for thread in threading.enumerate())
    # One element: the sidebar is drawn on every run of every page.
    st.markdown(
        "### Jackpot terminal\n\n"
        f"**Engine:** {conn.mode}  \n"
        f"**Status:** {':green[answering]' if answers else ':red[not answering]'}  \n"
        f"**Operator:** {conn.settings.operator} · **Currency:** {profile.currency if profile else '?'}  \n"
        f"**Source:** retail  \n"
        f"**Shop account:** `{mask_token(conn.settings.shop_token)}`  \n"
        f"{acting_roles(conn)}"
        + (f"\n\n:gray[Live odds simulator on ({running} running in this process)]" if conn.simulator else "")
    )
