"""Coupon QA: load a coupon file, see every problem in it, preview it, and try it on the engine."""

import hashlib
from datetime import UTC, datetime

import pandas as pd
import streamlit as st

from terminal_ui.connection import connection
from terminal_ui.entry import ensure_entry_script
from terminal_ui.keys import keyboard
from ticketing import wire
from ticketing.coupon_check import check_file, event_margins
from ticketing.errors import TicketingError
from ticketing.settings import PROJECT_ROOT

SAMPLES = sorted((PROJECT_ROOT / "samples").glob("*.*"))

ensure_entry_script("pages/coupon_qa.py")
conn = connection()
state = st.session_state
state.setdefault("published", None)


def publish(coupon_json: bytes, source: str) -> None:
    """The outcome is kept with the file it belongs to: another file shown later does not inherit its banner."""
    try:
        coupon = conn.service.publish_coupon(wire.loads(coupon_json), conn.settings.operator)
        state.published = {"id": coupon.id, "error": None, "source": source}
    except TicketingError as error:
        state.published = {"id": None, "error": error.message, "source": source}


def chosen_file() -> tuple[str, bytes] | None:
    upload, sample = st.columns([3, 2])
    uploaded = upload.file_uploader(
        "Coupon file (JSON in the engine's format, or CSV)", type=["json", "csv"], key="coupon_file"
    )
    sample_name = sample.selectbox("…or a sample from samples/", ["", *[p.name for p in SAMPLES]], key="sample")
    if uploaded is not None:
        return uploaded.name, uploaded.getvalue()
    if sample_name:
        return sample_name, (PROJECT_ROOT / "samples" / sample_name).read_bytes()
    return None


st.title("Coupon QA")
st.caption(
    "Every problem is listed with where it is. Errors block publishing, warnings do not. The same check runs on the "
    "command line: `python -m ticketing.coupon_check FILE...`"
)
keyboard()  # the till's stylesheet and keys on this page too
picked = chosen_file()
if picked is None:
    st.info("Upload a coupon file or pick a sample to check it.")
    st.stop()

name, content = picked
source = f"{name}:{hashlib.sha256(content).hexdigest()}"
report = check_file(name, content, [conn.profile().currency], datetime.now(UTC))
errors, warnings = len(report.errors), len(report.warnings)
if errors:
    st.error(
        f"**{name}**: {errors} error(s), {warnings} warning(s): fix the errors to publish.", icon=":material/block:"
    )
elif warnings:
    st.warning(f"**{name}**: no error, {warnings} warning(s): it can be published.", icon=":material/warning:")
else:
    st.success(f"**{name}**: no problem found.", icon=":material/check_circle:")

if report.problems:
    st.subheader("Problems")
    st.dataframe(
        pd.DataFrame([p.model_dump(mode="json") for p in report.problems]),
        hide_index=True,
        width="stretch",
        key="problems",
    )

if report.coupon is not None:
    coupon = report.coupon
    st.subheader(f"Preview: {coupon.id} · {coupon.name}")
    rules = coupon.stake_rules
    st.caption(
        f"{len(coupon.events)} events · {coupon.currency} · closes {coupon.closes_at:%Y-%m-%d %H:%M} UTC · stake "
        f"{rules.min_stake}–{rules.max_stake}{f' (fixed {rules.fixed_stake})' if rules.fixed_stake else ''}"
        f"{f' · max payout {coupon.max_payout:,.2f}' if coupon.max_payout else ''}"
    )
    preview = pd.DataFrame(event_margins(coupon))
    percent = st.column_config.NumberColumn(format="%.1f%%")
    for column in ("p(1)", "p(X)", "p(2)", "margin"):
        preview[column] = preview[column].map(lambda v: None if v is None else float(v * 100))
    st.dataframe(
        preview,
        hide_index=True,
        width="stretch",
        key="preview",
        column_config={c: percent for c in ("p(1)", "p(X)", "p(2)", "margin")},
    )
    st.subheader("Try it")
    st.button(
        "Publish to the engine",
        key="publish",
        type="primary",
        icon=":material/publish:",
        on_click=publish,
        args=(wire.dumps(coupon), source),
    )

published = state.published if state.published and state.published["source"] == source else None
if published and published["error"]:
    st.error(published["error"])
elif published and published["id"]:
    st.success(f"Coupon {published['id']} is live on the engine.", icon=":material/rocket_launch:")
    st.page_link(
        "pages/terminal.py",
        label=f"Open coupon {published['id']} in the terminal",
        icon=":material/point_of_sale:",
        query_params={"coupon": published["id"]},
    )
