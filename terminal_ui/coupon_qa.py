"""Coupon QA (`pages/coupon_qa.py`): check a coupon file, save it as a draft, try the draft end to end in its sandbox,
then publish the version reviewed, once a confirmation has shown what goes on sale.

Nothing here puts a coupon on sale by accident: a file is only checked until an admin saves it as a draft, which no
till sees; Publish asks first and names the draft's version, so a draft uploaded again meanwhile is refused. Every
engine call acts for the admin signed in on this page, and the engine checks the role again. Times are the
operator's: a file's times without an offset are read in its zone, and every time here is shown in it.
"""

import hashlib
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from zoneinfo import ZoneInfo

import pandas as pd
import streamlit as st
from pandas.io.formats.style import Styler

from terminal_ui.connection import Connection, Service, connection
from terminal_ui.keys import keyboard
from terminal_ui.receipt import receipt_html, show_receipt
from terminal_ui.roles import admin_sign_in
from terminal_ui.text import md_escape
from ticketing.contract import wire
from ticketing.contract.errors import CouponMissing, OddsChanged, TicketingError
from ticketing.contract.models import (
    BET_IDS,
    PICK_LABELS,
    Coupon,
    CouponStatus,
    EventStatus,
    EventUpdate,
    PickedEvent,
)
from ticketing.contract.money import format_money
from ticketing.coupons.check import CheckReport, check_file, local_time
from ticketing.coupons.models import Draft, Sandbox, SandboxSale
from ticketing.coupons.report import QaReport, build_report, to_markdown
from ticketing.coupons.rules import coupon_body, version_of
from ticketing.selling.slip import PickStringError, parse_pick_string, pick_string
from ticketing.settings import PROJECT_ROOT
from ticketing.settlement.result_string import LABELS, ResultStringError, parse_result_string

SAMPLES = sorted((PROJECT_ROOT / "samples").glob("*.*"))
SEVERITY_STYLE = {
    "error": "background-color: #fde2e1; color: #8a1c1c; font-weight: 600",
    "warning": "background-color: #fff4cc; color: #7a5a00",
}
STATUSES = [status.value for status in EventStatus]
ROW_PIXELS, MOST_ROWS_SHOWN = 35, 20


def rows_height(rows: int) -> int:
    """A table tall enough for its rows (up to 20; more scroll): a report is read whole, not through a slot."""
    return ROW_PIXELS * (min(rows, MOST_ROWS_SHOWN) + 1) + 3


state = st.session_state


# ---- callbacks: every engine call that changes something is made here ------------------------------------------------


SANDBOX, DRAFT = "sandbox", "draft"
"""Where an action's outcome is shown: under the sandbox's controls, or under the draft's heading."""


def _outcome(coupon_id: str, kind: str, text: str, where: str = SANDBOX) -> None:
    """What the last action on this coupon did, shown until the next one (or another file)."""
    state.qa_outcome = {"coupon_id": coupon_id, "kind": kind, "text": text, "where": where}


def _act(coupon_id: str, action, done: str, where: str = SANDBOX) -> None:
    try:
        action()
        _outcome(coupon_id, "success", done, where)
    except TicketingError as refused:
        _outcome(coupon_id, "error", refused.message, where)


def save_draft(service: Service, coupon: Coupon) -> None:
    saved = f"Draft {coupon.id} saved: no till sees it."
    _act(coupon.id, lambda: service.save_draft(coupon_body(coupon)), saved, DRAFT)


def remember_seen_odds(sandbox: Sandbox) -> None:
    """The odds on screen when the picks are typed are the odds the 'player' saw: a move made after them is caught
    by `odds_diff` at the sale, as at a till."""
    state.qa_seen = {"coupon_id": sandbox.coupon.id, "odds": {e.id: dict(e.odds) for e in sandbox.coupon.events}}


def odds_changed_words(coupon: Coupon, moved: OddsChanged, seen: dict[int, dict[int, Decimal]]) -> str:
    """Which picks moved, from what to what; the 'player' has now seen the new odds, so the same picks sold again
    are sold at them (as a cashier's Accept at the till), without typing the picks anew."""
    numbers = {event.id: number for number, event in enumerate(coupon.events, start=1)}
    seen = {event_id: dict(odds) for event_id, odds in seen.items()}
    changes = []
    for pick in moved.details.get("events", []):
        seen.setdefault(pick["id"], dict(coupon.event(pick["id"]).odds))[pick["bet"]] = Decimal(
            str(pick["current_odds"])
        )
        changes.append(
            f"event {numbers.get(pick['id'], pick['id'])} {PICK_LABELS[pick['bet']]} "
            f"{Decimal(str(pick['odds'])):.2f} → {Decimal(str(pick['current_odds'])):.2f}"
        )
    state.qa_seen = {"coupon_id": coupon.id, "odds": seen}
    return (
        f"Test sale refused ({moved.code}): the odds moved beyond the tolerance since the picks were typed: "
        + "; ".join(changes)
        + ". Sell again to sell at the new odds."
    )


def sell_test_ticket(service: Service, sandbox: Sandbox) -> None:
    coupon = sandbox.coupon
    try:
        picks = parse_pick_string(state.get("qa_picks") or "", coupon)
        stake = Decimal(str(state.get("qa_stake") or "").strip())
        odds_diff = Decimal(str(state.get("qa_odds_diff") or "0").strip())
    except PickStringError as wrong:
        _outcome(coupon.id, "error", f"Picks: {wrong}")
        return
    except InvalidOperation:
        _outcome(coupon.id, "error", "Stake and odds tolerance are amounts, such as 50 or 0.10")
        return
    seen = state.get("qa_seen") or {}
    odds = dict(seen["odds"]) if seen.get("coupon_id") == coupon.id else {}
    events = [
        PickedEvent(id=event.id, bet=picks[event.id], odds=odds.get(event.id, event.odds)[picks[event.id]])
        for event in coupon.events
    ]
    try:
        ticket = service.sell_test_ticket(coupon.id, SandboxSale(stake=stake, odds_diff=odds_diff, events=events))
    except OddsChanged as moved:
        _outcome(coupon.id, "error", odds_changed_words(coupon, moved, odds))
    except TicketingError as refused:
        _outcome(coupon.id, "error", f"Test sale refused ({refused.code}): {refused.message}")
    except ValueError as invalid:
        _outcome(coupon.id, "error", f"Test sale not sent: {invalid}")
    else:
        state.qa_receipt = ticket.code
        _outcome(coupon.id, "success", f"Test ticket {ticket.code} sold: potential payout {ticket.payout:,.2f}.")


def move_event(service: Service, sandbox: Sandbox) -> None:
    coupon = sandbox.coupon
    event_id = state.qa_move_event
    try:
        typed = (state.get("qa_move_odds") or "").split()
        odds = {bet: Decimal(value) for bet, value in zip(BET_IDS, typed, strict=False) if value != "-"}
        change = EventUpdate(status=EventStatus(state.qa_move_status), odds=odds or None)
    except (InvalidOperation, ValueError) as wrong:
        _outcome(coupon.id, "error", f"Odds not moved: {wrong}")
        return
    _act(coupon.id, lambda: service.update_sandbox_event(coupon.id, event_id, change), f"Event {event_id} changed.")


def enter_results(service: Service, sandbox: Sandbox) -> None:
    coupon = sandbox.coupon
    try:
        typed = parse_result_string(state.get("qa_results") or "", len(coupon.events))
    except ResultStringError as wrong:
        _outcome(coupon.id, "error", f"Results: {wrong}")
        return
    entered = sandbox.summary.results

    def enter() -> None:
        for event, result in zip(coupon.events, typed, strict=True):
            if result is not None and entered.get(event.id) != result:
                service.enter_sandbox_result(coupon.id, event.id, result)

    _act(coupon.id, enter, "Test results entered.")


def reset_sandbox(service: Service, coupon_id: str) -> None:
    state.qa_receipt = None
    _act(coupon_id, lambda: service.reset_sandbox(coupon_id), "Sandbox reset: the draft as saved, no test ticket.")


def cancel_round(service: Service, coupon_id: str) -> None:
    _act(coupon_id, lambda: service.cancel_sandbox_round(coupon_id), "Test round called off: every stake refunded.")


def ask_to_publish(coupon_id: str, version: str) -> None:
    state.qa_confirm = {"coupon_id": coupon_id, "version": version}


def keep_draft() -> None:
    state.qa_confirm = None


def publish(service: Service, coupon_id: str, version: str) -> None:
    state.qa_confirm = None
    try:
        service.publish_draft(coupon_id, version)
    except TicketingError as refused:
        _outcome(coupon_id, "error", f"Not published: {refused.message}", DRAFT)
        return
    _outcome(coupon_id, "success", f"Coupon {coupon_id} is on sale on every till (version {version}).", DRAFT)


def withdraw(service: Service, coupon_id: str) -> None:
    off_sale = f"Coupon {coupon_id} is off sale, back to a draft."
    _act(coupon_id, lambda: service.withdraw_coupon(coupon_id), off_sale, DRAFT)


def discard(service: Service, coupon_id: str) -> None:
    gone = f"Draft {coupon_id} and its sandbox discarded."
    _act(coupon_id, lambda: service.discard_draft(coupon_id), gone, DRAFT)


# ---- the file and its report -----------------------------------------------------------------------------------------


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


def forget_other_files(name: str, content: bytes) -> None:
    """Messages and confirmations belong to the file they were made for: another file starts clean."""
    key = f"{name}:{hashlib.sha256(content).hexdigest()}"
    if state.get("qa_file") != key:
        state.qa_file = key
        state.qa_outcome = state.qa_confirm = state.qa_receipt = None


def styled_problems(report: QaReport) -> Styler:
    """Errors first (as the check sorts them), each row coloured by its severity."""
    frame = pd.DataFrame(
        [
            {"severity": p.severity.value, "where": p.where, "field": p.field, "problem": p.message}
            for p in report.problems
        ]
    )
    return frame.style.apply(lambda row: [SEVERITY_STYLE[row["severity"]]] * len(row), axis=1)


def events_frame(report: QaReport) -> pd.DataFrame:
    rows = []
    for e in report.events:
        row = {"#": e.number, "event": e.event_id, "fixture": e.fixture, "kickoff": e.kickoff}
        row |= {label: f"{e.odds[label]:.2f}" if label in e.odds else "" for label in ("1", "X", "2")}
        row |= {f"p({label})": f"{e.chances[label]:.1f}%" for label in ("1", "X", "2") if label in e.chances}
        row |= {"margin": f"{e.margin:.2f}%", "favourite": e.favourite}
        rows.append(row)
    return pd.DataFrame(rows)


def report_section(report: QaReport, name: str) -> None:
    if report.errors:
        st.error(
            f"**{md_escape(name)}**: {report.errors} error(s), {report.warnings} warning(s): "
            "fix the errors to publish.",
            icon=":material/block:",
        )
    elif report.warnings:
        st.warning(f"**{md_escape(name)}**: no error, {report.warnings} warning(s).", icon=":material/warning:")
    else:
        st.success(f"**{md_escape(name)}**: no problem found.", icon=":material/check_circle:")
    if report.problems:
        st.subheader("Problems")
        # A table, not a data grid: a grid cuts a long problem at its column's edge, a table wraps it.
        st.table(styled_problems(report), hide_index=True)
    coupon = report.coupon
    if coupon is not None:
        st.subheader(f"Preview: {coupon.id} · {coupon.name}")
        fixed = f" (fixed {coupon.fixed_stake:,.2f})" if coupon.fixed_stake is not None else ""
        cap = f" · max payout {coupon.max_payout:,.2f}" if coupon.max_payout is not None else ""
        prizes = ", ".join(f"{k} correct {v:,.2f}" for k, v in sorted(coupon.bonus_prizes.items(), reverse=True))
        st.caption(
            md_escape(
                f"{coupon.events} events · {coupon.currency} · closes {coupon.closes_at} · stake "
                f"{coupon.min_stake:,.2f}–{coupon.max_stake:,.2f}{fixed}{cap} · more than {coupon.max_void_events} "
                f"void events void the round{f' · bonus {prizes}' if prizes else ''}"
            )
        )
        st.dataframe(
            events_frame(report),
            hide_index=True,
            width="stretch",
            height=rows_height(len(report.events)),
            key="preview",
        )
        risk = report.liability
        with st.container(horizontal=True, key="liability"):
            st.metric(
                f"All favourites win ({risk.favourites}), one ticket at {risk.stake:,.2f}",
                format_money(risk.favourites_payout, coupon.currency),
                f"{'capped, ' if risk.favourites_capped else ''}total odds {risk.favourites_odds:,.2f}",
                delta_color="off",
                border=True,
            )
            st.metric(
                "Largest payout the cap allows",
                format_money(risk.largest_payout, coupon.currency),
                "the cap" if risk.largest_capped else "longest odds at the largest stake",
                delta_color="off",
                border=True,
            )
    with st.container(horizontal=True, key="exports"):
        stem = (coupon.id if coupon else name.rsplit(".", 1)[0]) or "coupon"
        st.download_button(
            "Download QA report (Markdown)",
            to_markdown(report),
            file_name=f"qa-report-{stem}.md",
            mime="text/markdown",
            key="export_markdown",
            icon=":material/download:",
        )
        st.download_button(
            "JSON",
            wire.dumps(report),
            file_name=f"qa-report-{stem}.json",
            mime="application/json",
            key="export_json",
        )


# ---- the draft, its sandbox, publishing ------------------------------------------------------------------------------


def outcome_of(coupon_id: str, where: str) -> None:
    outcome = state.get("qa_outcome")
    if outcome and outcome["coupon_id"] == coupon_id and outcome["where"] == where:
        show = st.success if outcome["kind"] == "success" else st.error
        show(md_escape(outcome["text"]))


def draft_of(service: Service, coupon_id: str) -> Draft | None:
    try:
        return service.get_draft(coupon_id)
    except CouponMissing:
        return None


def on_sale(service: Service, coupon_id: str) -> Coupon | None:
    try:
        coupon = service.get_coupon(coupon_id)
    except CouponMissing:
        return None
    return coupon if coupon.status != CouponStatus.DRAFT else None


def draft_header(service: Service, draft: Draft | None, checked: Coupon | None, live: bool, zone: ZoneInfo) -> None:
    if draft is None:
        if checked is not None:
            st.info(
                f"Coupon {md_escape(checked.id)} is on sale: save this file as a draft to try a new version and "
                "republish it (only while no ticket is sold)."
                if live
                else f"Coupon {md_escape(checked.id)} has no draft yet: save it to try it in a sandbox and publish it."
            )
            st.button(
                "Save as draft",
                key="save_draft",
                type="primary",
                icon=":material/save:",
                on_click=save_draft,
                args=(service, checked),
            )
        return
    coupon = draft.coupon
    st.markdown(
        f"**Draft {md_escape(coupon.id)}** · version `{draft.version}` · saved "
        f"{local_time(draft.updated, zone)} by {md_escape(draft.updated_by)} · not on sale: no till sees it"
    )
    if checked is not None and version_of(coupon_body(checked)) != draft.version:
        st.warning("This file differs from the saved draft: saving it updates the draft and starts a fresh sandbox.")
        st.button(
            "Update draft", key="save_draft", icon=":material/save:", on_click=save_draft, args=(service, checked)
        )


def sandbox_section(service: Service, sandbox: Sandbox, currency: str, zone: ZoneInfo) -> None:
    coupon, summary = sandbox.coupon, sandbox.summary
    st.subheader("Sandbox: try it end to end")
    st.caption(
        "Test tickets are sold by the engine's own rules and settled by its own settlement. They move no money and "
        "appear in no shift, list or total; their receipts say TEST – NOT VALID."
    )
    results = summary.results
    rows = [
        {
            "#": n,
            "event": e.id,
            "fixture": e.fixture,
            "kickoff": local_time(e.kickoff, zone),
            "status": e.status.value,
            **{PICK_LABELS[bet]: f"{e.odds[bet]:.2f}" for bet in BET_IDS if bet in e.odds},
            "result": LABELS[results[e.id]] if e.id in results else "",
        }
        for n, e in enumerate(coupon.events, start=1)
    ]
    st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch", key="sandbox_events")

    sell, move = st.columns(2, gap="large")
    with sell.container(border=True, key="sandbox_sale"):
        st.markdown("**Sell a test ticket**")
        rules = coupon.stake_rules
        st.text_input(
            f"Picks, in coupon order ({len(coupon.events)}: 1, X or 0, 2)",
            key="qa_picks",
            placeholder="1" * len(coupon.events),
            on_change=remember_seen_odds,
            args=(sandbox,),
        )
        left, right = st.columns(2)
        left.text_input(
            f"Stake ({currency} {rules.min_stake:,.2f}–{rules.max_stake:,.2f})",
            key="qa_stake",
            value=f"{rules.fixed_stake or rules.min_stake:.2f}",
        )
        right.text_input("Odds tolerance (odds_diff)", key="qa_odds_diff", value="0.00")
        st.button(
            "Sell test ticket",
            key="qa_sell",
            type="primary",
            icon=":material/science:",
            on_click=sell_test_ticket,
            args=(service, sandbox),
        )
    with move.container(border=True, key="sandbox_move"):
        st.markdown("**Move odds or an event's status**")
        st.selectbox(
            "Event",
            [e.id for e in coupon.events],
            key="qa_move_event",
            format_func=lambda event_id: f"{event_id} · {coupon.event(event_id).fixture}",
        )
        left, right = st.columns(2)
        left.text_input("New odds 1 X 2 (- keeps one)", key="qa_move_odds", placeholder="2.10 3.30 3.50")
        right.selectbox("Status", STATUSES, key="qa_move_status")
        st.button("Apply to the sandbox", key="qa_move", on_click=move_event, args=(service, sandbox))

    with st.container(border=True, key="sandbox_results"):
        st.markdown("**Test results** (before the deadline too: the sandbox plays the round now)")
        st.text_input(
            "Results in coupon order: 1, X (or 0), 2, V void, - not in yet; the last one settles the test tickets",
            key="qa_results",
            placeholder="1X2V" + "-" * max(len(coupon.events) - 4, 0),
        )
        with st.container(horizontal=True):
            st.button(
                "Enter test results",
                key="qa_enter_results",
                type="primary",
                on_click=enter_results,
                args=(service, sandbox),
            )
            st.button("Call the round off", key="qa_cancel_round", on_click=cancel_round, args=(service, coupon.id))
            st.button(
                "Reset sandbox",
                key="qa_reset",
                icon=":material/restart_alt:",
                on_click=reset_sandbox,
                args=(service, coupon.id),
            )
    outcome_of(coupon.id, SANDBOX)
    with st.container(horizontal=True, key="sandbox_summary"):
        st.metric("Test tickets", summary.tickets)
        st.metric("Results", f"{summary.results_known} of {summary.events}")
        st.metric("Winners", summary.winners)
        st.metric("Bonus winners", sum(summary.bonus_winners.values()))
        st.metric("Void, refunded", summary.voided)
        st.metric("Net payouts", format_money(summary.total_net_payout, currency))
        st.metric("Refunds", format_money(summary.total_refund, currency))
    if not sandbox.tickets:
        return
    st.dataframe(tickets_frame(sandbox), hide_index=True, width="stretch", key="sandbox_tickets")
    codes = [t.ticket.code for t in sandbox.tickets]
    chosen = state.get("qa_receipt") if state.get("qa_receipt") in codes else codes[-1]
    code = st.selectbox("Receipt of test ticket", codes, index=codes.index(chosen), key="qa_receipt_code")
    ticket = next(t.ticket for t in sandbox.tickets if t.ticket.code == code)
    settings = connection().settings
    show_receipt(
        receipt_html(ticket, coupon, zone.key, settings.shop_name, settings.receipt_terms), key="qa_test_receipt"
    )


def tickets_frame(sandbox: Sandbox) -> pd.DataFrame:
    rows = []
    for tried in sandbox.tickets:
        ticket, settled, promised = tried.ticket, tried.ticket.settlement, tried.promised
        rows.append(
            {
                "code": ticket.code,
                "picks": pick_string(sandbox.coupon, {e.id: e.bet for e in ticket.events}),
                "stake": f"{ticket.stake:,.2f}",
                "sold: payout": f"{ticket.payout:,.2f}",
                "result": "" if settled is None else settled.result.value,
                "bonus tier": "" if settled is None or settled.prize_tier is None else str(settled.prize_tier),
                "settled: net payout": "" if settled is None else f"{settled.net_payout:,.2f}",
                "refund": "" if settled is None else f"{settled.refund:,.2f}",
                "coupon's rules: net payout": "" if promised is None else f"{promised.net_payout:,.2f}",
                "rules' refund": "" if promised is None else f"{promised.refund:,.2f}",
                "agrees": {True: "✓", False: "✗ differs", None: "waiting"}[tried.agrees],
            }
        )
    return pd.DataFrame(rows)


def publish_section(service: Service, draft: Draft, sandbox: Sandbox, zone: ZoneInfo) -> None:
    coupon = draft.coupon
    st.subheader("Publish")
    if draft.live is None:
        st.caption(f"Coupon {md_escape(coupon.id)} is not on sale: publishing puts this draft on sale.")
    elif draft.changes:
        st.markdown(f"Publishing **replaces** coupon {md_escape(coupon.id)} on sale. What changes, event by event:")
        changes = pd.DataFrame([c.model_dump(exclude={"event_id"}) for c in draft.changes])
        st.dataframe(changes, hide_index=True, width="stretch", key="changes")
    else:
        st.caption(f"Coupon {md_escape(coupon.id)} is on sale exactly as this draft.")
    if draft.refusal:
        st.error(md_escape(draft.refusal), icon=":material/block:")
    confirming = state.get("qa_confirm")
    if confirming and confirming["coupon_id"] == coupon.id and confirming["version"] != draft.version:
        st.error(
            f"Draft {md_escape(coupon.id)} was saved again (version `{draft.version}`) since you asked to publish "
            f"version `{confirming['version']}`: review it again before publishing.",
            icon=":material/sync_problem:",
        )
        confirming = state.qa_confirm = None
    if confirming and confirming["coupon_id"] == coupon.id:
        with st.container(border=True, key="publish_confirm_box"):
            replaced = f" It replaces the coupon on sale ({len(draft.changes)} change(s))." if draft.live else ""
            tried = len(sandbox.tickets)
            st.warning(
                f"Put coupon **{md_escape(coupon.id)} · {md_escape(coupon.name)}** on sale on every till now? "
                f"{len(coupon.events)} events, closes {local_time(coupon.closes_at, zone)}, version `{draft.version}`."
                f"{replaced} Its sandbox ({tried} test ticket(s)) is cleared.",
                icon=":material/help:",
            )
            with st.container(horizontal=True):
                st.button(
                    "Publish now",
                    key="qa_publish_confirm",
                    type="primary",
                    icon=":material/publish:",
                    on_click=publish,
                    args=(service, coupon.id, confirming["version"]),
                )
                st.button("Not now", key="qa_publish_keep", on_click=keep_draft)
        return
    with st.container(horizontal=True):
        st.button(
            "Publish…",
            key="qa_publish",
            type="primary",
            icon=":material/publish:",
            disabled=not draft.publishable,
            on_click=ask_to_publish,
            args=(coupon.id, draft.version),
        )
        st.button(
            "Discard draft", key="qa_discard", icon=":material/delete:", on_click=discard, args=(service, coupon.id)
        )


def live_section(service: Service, coupon_id: str) -> None:
    """A coupon on sale under this id: a link to it, and taking it back while it has no ticket."""
    st.markdown(f"Coupon **{md_escape(coupon_id)}** is on sale.")
    with st.container(horizontal=True):
        st.page_link(
            "pages/terminal.py",
            label=f"Open coupon {coupon_id} in the terminal",
            icon=":material/point_of_sale:",
            query_params={"coupon": coupon_id},
        )
        st.button(
            "Take off sale (back to a draft)",
            key="qa_withdraw",
            icon=":material/undo:",
            on_click=withdraw,
            args=(service, coupon_id),
        )


def chosen_draft(service: Service) -> str | None:
    drafts = service.list_drafts()
    if not drafts:
        return None
    labels = {d.id: f"{d.id} · {d.name}{' (replaces the coupon on sale)' if d.replaces_live else ''}" for d in drafts}
    picked = st.session_state.get("qa_draft")
    if picked and picked not in labels:
        # The browser sends an option's old text back when that text changed (taken off sale, the draft no longer
        # "replaces the coupon on sale"): the draft it named stays chosen, and the workspace with it.
        old_id = str(picked).split(" · ", 1)[0]
        st.session_state.qa_draft = old_id if old_id in labels else ""
    return st.selectbox(
        "…or work on a saved draft", ["", *labels], format_func=lambda i: labels.get(i, ""), key="qa_draft"
    )


def utc_offset(zone: ZoneInfo) -> str:
    """`EAT, UTC+03:00`"""
    now = datetime.now(zone)
    minutes = int(now.utcoffset().total_seconds() // 60)
    sign = "+" if minutes >= 0 else "-"
    return f"{now:%Z}, UTC{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


def coupon_qa_page() -> None:
    conn: Connection = connection()
    profile = conn.profile()
    zone = ZoneInfo(profile.timezone)
    st.title("Coupon QA")
    st.caption(
        f"Times without an offset are read as **{zone.key}** (the operator's zone, {utc_offset(zone)}); every time "
        "on this page is shown in it. Errors block publishing, warnings do not. The same check on the command line: "
        "`python -m ticketing.coupons.check [--json] FILE...`"
    )
    if conn.settings.timezone != zone.key:
        st.warning(
            f"This terminal shows times in {conn.settings.timezone}: set TICKETING_TIMEZONE={zone.key} so the till "
            "shows the times QA signed off."
        )
    keyboard()  # the till's stylesheet and keys on this page too
    picked = chosen_file()
    check: CheckReport | None = None
    if picked is not None:
        name, content = picked
        forget_other_files(name, content)
        now = datetime.now(UTC)
        check = check_file(name, content, [profile.currency], now, operator_max_payout=profile.max_payout, zone=zone)
        report_section(build_report(check, zone, now, conn.tax_profile()), name)
    if check is not None and not check.publishable:
        return
    st.divider()
    signed_in = admin_sign_in(conn, "save drafts, try them in the sandbox and publish them")
    if signed_in is None:
        return
    service = signed_in[1]
    checked = check.coupon if check is not None else None
    coupon_id = checked.id if checked is not None else chosen_draft(service)
    if not coupon_id:
        st.info("Upload a coupon file or pick a sample to check it, or pick a saved draft.")
        return
    draft = draft_of(service, coupon_id)
    live = on_sale(service, coupon_id) is not None
    draft_header(service, draft, checked, live, zone)
    outcome_of(coupon_id, DRAFT)
    if live:
        live_section(service, coupon_id)
    if draft is None:
        return
    sandbox = service.sandbox(coupon_id)
    sandbox_section(service, sandbox, draft.coupon.currency, zone)
    publish_section(service, draft, sandbox, zone)
