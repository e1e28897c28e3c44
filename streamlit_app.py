"""The jackpot terminal: `streamlit run streamlit_app.py`."""

import streamlit as st

from terminal_ui.connection import connection
from terminal_ui.entry import follow_deep_link
from terminal_ui.heap import freeze_loaded_modules
from terminal_ui.roles import acting_roles
from ticketing.identifiers import mask_token

st.set_page_config(page_title="Jackpot terminal", page_icon=":material/sports_soccer:", layout="wide")

navigation = st.navigation(
    [
        st.Page("pages/terminal.py", title="Sell", icon=":material/point_of_sale:", default=True),
        st.Page("pages/payout.py", title="Pay out", icon=":material/payments:"),
        st.Page("pages/tickets.py", title="Tickets desk", icon=":material/receipt_long:"),
        st.Page("pages/shift.py", title="Shift", icon=":material/account_balance_wallet:"),
        st.Page("pages/results.py", title="Results", icon=":material/scoreboard:"),
        st.Page("pages/coupon_qa.py", title="Coupon QA", icon=":material/fact_check:"),
        st.Page("pages/wallet.py", title="Wallet", icon=":material/account_balance:"),
    ]
)

follow_deep_link()
conn = connection()
with st.sidebar:
    st.subheader("Jackpot terminal")
    answers = conn.answers()
    profile = conn.profile() if answers else None
    st.markdown(
        f"**Engine:** {conn.mode}  \n"
        f"**Status:** {':green[answering]' if answers else ':red[not answering]'}  \n"
        f"**Operator:** {conn.settings.operator} · **Currency:** {profile.currency if profile else '?'}  \n"
        f"**Source:** retail  \n"
        f"**Shop account:** `{mask_token(conn.settings.shop_token)}`  \n"
        f"{acting_roles(conn)}"
    )
    if conn.simulator is not None:
        st.caption("Live odds simulator on")

navigation.run()
freeze_loaded_modules()
