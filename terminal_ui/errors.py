"""No traceback ever reaches a cashier's screen: a plain message with a reference, the trace in the server log.

`client.showErrorDetails = "none"` hides what Streamlit would show; this says something useful instead and lets the
rest of the page draw. Streamlit's own control flow (st.rerun, st.stop, st.switch_page) is not an `Exception`
and passes through.
"""

import logging
import secrets
from collections.abc import Iterator
from contextlib import contextmanager

import streamlit as st

log = logging.getLogger("terminal_ui")


@contextmanager
def plain_errors(where: str) -> Iterator[None]:
    try:
        yield
    except Exception:
        reference = secrets.token_hex(3).upper()
        log.exception("error %s in %s", reference, where)
        st.error(
            f"Something went wrong in {where} (reference {reference}). Nothing was sold by this error: check the "
            "slip and try again, or reload the page (the slip is kept). If it happens again, give the reference to "
            "the supervisor.",
            icon=":material/report:",
        )
