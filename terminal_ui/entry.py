"""Every page runs under the entry script (`streamlit_app.py`), even on a server's first visit to a page URL.

Until some session has run the entry script once, Streamlit treats a `pages/` folder beside it the old way: a visit
straight to `/tickets` runs `pages/tickets.py` alone, without the sidebar, the shop settings or our navigation.
The page then sends the visit through the entry script, which brings it back to the page.
"""

import streamlit as st
from streamlit.runtime.pages_manager import PagesManager

DEEP_LINK = "deep_link"
ENTRY_RAN = "entry_script_ran"


def ensure_entry_script(page_path: str) -> None:
    """At the top of every page: a session whose first run skipped the entry script is sent through it once."""
    if PagesManager.uses_pages_directory and not st.session_state.get(ENTRY_RAN):
        st.session_state[DEEP_LINK] = page_path
        st.switch_page("streamlit_app.py")


def follow_deep_link() -> None:
    """Called by the entry script once its navigation exists."""
    st.session_state[ENTRY_RAN] = True
    target = st.session_state.pop(DEEP_LINK, None)
    if target:
        st.switch_page(target)
