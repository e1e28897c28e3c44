"""The yardstick of bench/terminal_rerun.py: 17 x 3 pick buttons and nothing else, laid out and kept as the sell
page keeps its grid (`terminal_ui/sell.py`, `streamlit_app.py`): the same page width, the rows in one container
without gaps, one horizontal container a row, 80-pixel buttons, and the heap frozen after a run that loaded
modules. `streamlit run bench/bare_page.py`."""

import streamlit as st

from terminal_ui.heap import freeze_loaded_modules

st.set_page_config(layout="wide")
st.session_state.setdefault("picks", {})


def pick(row: int, bet: int) -> None:
    st.session_state.picks[row] = bet


with st.container(gap=None, width="content"):
    for row in range(17):
        with st.container(horizontal=True, vertical_alignment="center", gap="small", wrap=False):
            for bet in (101, 102, 103):
                st.button(
                    f"{bet}",
                    key=f"pick-{row}-{bet}",
                    type="primary" if st.session_state.picks.get(row) == bet else "secondary",
                    on_click=pick,
                    args=(row, bet),
                    width=80,
                )

freeze_loaded_modules()
