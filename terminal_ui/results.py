"""The results screen (`pages/results.py`, an admin's): a coupon past its deadline, its events in order, results
typed as a string like the pick string (`1X2V-1`) or clicked, the settlement previewed before it is confirmed,
and corrections.

The preview is the engine's own settlement run on the typed results and rolled back (`preview_results`), so what
is shown is what Confirm does. It is run again only when the typed results change.
"""

from dataclasses import dataclass
from zoneinfo import ZoneInfo

import streamlit as st

from terminal_ui import clicks
from terminal_ui.after_sale import AfterSaleCalls, after_sale
from terminal_ui.connection import connection
from terminal_ui.demo_round import DEMO_FOLLOW, demo_round_panel
from terminal_ui.roles import admin_sign_in
from terminal_ui.text import md_escape
from ticketing.contract.errors import TicketingError
from ticketing.contract.models import Coupon, CouponStatus, EventResult, SettlementSummary
from ticketing.contract.money import format_money
from ticketing.settlement.result_string import LABELS, ResultStringError, parse_result_string, result_string

RESULT_BUTTONS = [EventResult.HOME, EventResult.DRAW, EventResult.AWAY, EventResult.VOID]
LOCKED = (CouponStatus.FINAL, CouponStatus.CANCELLED)

state = st.session_state


@dataclass
class Confirming:
    coupon_id: str
    results: dict[int, EventResult]


# ---- callbacks -----------------------------------------------------------------------------------------------------


def edits() -> dict[str, dict[int, EventResult | None]]:
    """Per coupon, the results typed or clicked that differ from those entered (None: a result taken back).
    Results entered meanwhile (by another admin, the demo round) show through wherever nothing was typed."""
    return state.setdefault("results_edits", {})


def typed_results(coupon: Coupon, entered: dict[int, EventResult]) -> list[EventResult | None]:
    mine = edits().get(coupon.id, {})
    return [mine[event.id] if event.id in mine else entered.get(event.id) for event in coupon.events]


def keep_edits(coupon: Coupon, entered: dict[int, EventResult], results: list[EventResult | None]) -> None:
    pairs = zip(coupon.events, results, strict=True)
    edits()[coupon.id] = {event.id: result for event, result in pairs if entered.get(event.id) != result}


def type_results(coupon: Coupon, entered: dict[int, EventResult]) -> None:
    clicks.session_clicks("results").forget()
    try:
        keep_edits(coupon, entered, parse_result_string(state.results_text, len(coupon.events)))
        state.results_text_error = None
    except ResultStringError as problem:
        state.results_text_error = str(problem)


def click_result(coupon: Coupon, entered: dict[int, EventResult], index: int, result: EventResult) -> None:
    """A click chooses the result, or takes it back if it was chosen; a copy of the click acts once
    (`terminal_ui/clicks.py`: the demo round's live status refreshes this page)."""
    if not clicks.session_clicks("results").take((coupon.id, index, result), clicks.clock()):
        return
    results = typed_results(coupon, entered)
    results[index] = None if results[index] == result else result
    keep_edits(coupon, entered, results)
    state.results_text_error = None


def choose_coupon() -> None:
    state.results_text_error = None


def request_confirm(coupon_id: str, results: dict[int, EventResult]) -> None:
    if state.get("results_confirming") is None:
        state.results_confirming = Confirming(coupon_id, results)
        state.results_done = None


def perform_confirm(calls: AfterSaleCalls) -> None:
    """Enter the results. No Streamlit call in here, so a rerun cannot cut it between the entry and its record."""
    confirming: Confirming = state.results_confirming
    try:
        state.results_done = (confirming.coupon_id, calls.enter_results(confirming.coupon_id, confirming.results), None)
        edits().pop(confirming.coupon_id, None)
    except TicketingError as refused:
        state.results_done = (confirming.coupon_id, None, refused.message)
    finally:
        state.results_confirming = None


# ---- the screen ----------------------------------------------------------------------------------------------------


def preview(calls: AfterSaleCalls, coupon: Coupon, draft: list[EventResult | None]) -> SettlementSummary:
    """The engine's settlement of the typed results, kept until they change (each run holds the write lock)."""
    key = (coupon.id, result_string(draft))
    kept = state.get("results_preview")
    if kept is None or kept[0] != key:
        typed = {event.id: result for event, result in zip(coupon.events, draft, strict=True) if result is not None}
        kept = state.results_preview = (key, calls.preview_results(coupon.id, typed))
    return kept[1]


def summary_table(now: SettlementSummary, after: SettlementSummary | None, currency: str) -> str:
    """The settlement in figures: as it stands, and beside it what confirming would make of it. Before a coupon
    is first settled there is nothing to compare with, so the preview stands alone."""
    money = lambda value: f"{value:,.2f}"  # noqa: E731 - the currency heads the table
    tiers = sorted(set(now.bonus_winners) | set(after.bonus_winners if after else {}), reverse=True)

    def rows(s: SettlementSummary) -> list[str]:
        return [
            f"{s.results_known} of {s.events}",
            str(s.tickets),
            str(s.winners),
            *[str(s.bonus_winners.get(tier, 0)) for tier in tiers],
            str(s.losers),
            str(s.voided),
            money(s.total_payout),
            money(s.total_tax),
            money(s.total_net_payout),
            money(s.total_refund),
            f"**{money(s.total_net_payout + s.total_refund)}**",
        ]

    labels = [
        "Results",
        "Tickets",
        "Winners, all correct",
        *[f"Bonus winners, {tier} correct" for tier in tiers],
        "Not winners",
        "Void, refunded",
        "Payouts",
        "Withholding tax",
        "Net payouts",
        "Refunds",
        "**To pay out**",
    ]
    columns = [("Now", rows(now))] if after is None or now.status == CouponStatus.RESULTED else []
    if after is not None:
        columns.append(("After confirming", rows(after)))
    lines = [f"| {currency} | " + " | ".join(name for name, _ in columns) + " |", "|:--|" + "--:|" * len(columns)]
    lines += [f"| {label} | " + " | ".join(values[i] for _, values in columns) + " |" for i, label in enumerate(labels)]
    return "\n".join(lines)


def events_grid(coupon: Coupon, draft: list, entered: dict, locked: bool, zone: ZoneInfo) -> None:
    for index, event in enumerate(coupon.events):
        was = entered.get(event.id)
        changed = was is not None and draft[index] != was
        note = f" :orange-badge[was {LABELS[was]}]" if changed else ""
        with st.container(horizontal=True, vertical_alignment="center", gap="small", wrap=False):
            st.markdown(
                f"**{index + 1}. {md_escape(event.fixture)}**{note}  \n"
                f":gray[{event.kickoff.astimezone(zone):%a %d %b %H:%M} · {md_escape(event.competition)}]",
                width="stretch",
            )
            for result in RESULT_BUTTONS:
                st.button(
                    LABELS[result],
                    key=f"result-{event.id}-{LABELS[result]}",
                    type="primary" if draft[index] == result else "secondary",
                    disabled=locked,
                    on_click=click_result,
                    args=(coupon, entered, index, result),
                    width=44,
                )
    clicks.session_clicks("results").shown(clicks.clock())


def status_line(summary: SettlementSummary) -> str:
    return {
        CouponStatus.OPEN: "closed for sale, waiting for results",
        CouponStatus.CLOSED: "closed for sale, waiting for results",
        CouponStatus.RESULTED: "resulted: results can still be corrected (each correction re-settles every ticket)",
        CouponStatus.FINAL: "final: the correction window has passed, results stand",
        CouponStatus.CANCELLED: "cancelled: every stake refunded",
    }[summary.status]


def entry_panel(calls: AfterSaleCalls, coupon: Coupon, summary: SettlementSummary, draft: list) -> None:
    entered = summary.results
    locked = summary.status in LOCKED
    state.results_text = result_string(draft)
    st.text_input(
        "Results: 1, X (or 0), 2, V for void, - not in yet; Enter to preview",
        key="results_text",
        on_change=type_results,
        args=(coupon, entered),
        disabled=locked,
    )
    if state.get("results_text_error"):
        st.error(f"Results not used: {state.results_text_error}", icon=":material/keyboard:")
    taken_back = [
        n for n, (e, r) in enumerate(zip(coupon.events, draft, strict=True), start=1) if r is None and e.id in entered
    ]
    typed = {event.id: result for event, result in zip(coupon.events, draft, strict=True) if result is not None}
    changes = {event_id: result for event_id, result in typed.items() if entered.get(event_id) != result}
    after = None
    if changes and not taken_back and not locked:
        try:
            after = preview(calls, coupon, draft)
        except TicketingError as refused:
            st.error(md_escape(refused.message))
    with st.container(border=True, key="results-preview"):
        st.markdown(summary_table(summary, after, coupon.currency))
        if after is not None and after.results_known < after.events:
            st.caption(f"The coupon settles when all {after.events} results are in.")
        if after is not None and after.paid_before_correction:
            st.warning("Paid in cash before this correction: " + ", ".join(after.paid_before_correction))
    if taken_back:
        st.error(f"A result entered cannot be taken back, only corrected: event {', '.join(map(str, taken_back))}")
    confirming = state.get("results_confirming")
    correction = summary.status == CouponStatus.RESULTED
    st.button(
        "Confirming…" if confirming else ("Confirm correction" if correction else "Confirm results"),
        key="confirm_results",
        type="primary",
        icon=":material/gavel:",
        disabled=confirming is not None or not changes or bool(taken_back) or locked,
        on_click=request_confirm,
        args=(coupon.id, changes),
        width="stretch",
    )
    if confirming is not None:
        with st.spinner("Entering results…"):
            perform_confirm(calls)
        st.rerun()


def outcome(coupon: Coupon) -> None:
    done = state.get("results_done")
    if not done or done[0] != coupon.id:
        return
    _coupon_id, summary, error = done
    if error:
        st.error(md_escape(error), icon=":material/block:")
    elif summary.status in (CouponStatus.RESULTED, CouponStatus.FINAL):
        st.success(
            f"Coupon {md_escape(coupon.id)} settled: {summary.winners} winner(s), "
            f"{sum(summary.bonus_winners.values())} bonus winner(s), {summary.voided} refund(s); "
            f"{format_money(summary.total_net_payout + summary.total_refund, coupon.currency)} to pay out.",
            icon=":material/check_circle:",
        )
        if summary.paid_before_correction:
            st.warning("Follow up, paid before the correction: " + ", ".join(summary.paid_before_correction))
    else:
        st.success(f"Results saved: {summary.results_known} of {summary.events} known.", icon=":material/check:")


def results_page() -> None:
    conn = connection()
    calls = after_sale(conn)
    zone = ZoneInfo(conn.settings.timezone)
    st.title("Results")
    if admin_sign_in(conn, "enter results and run a demo round") is None:
        return
    calls = after_sale(conn)
    demo_round_panel(conn, calls)
    coupons = calls.coupons_past_deadline()
    if not coupons:
        st.info("No coupon has passed its deadline yet: results are entered after it.")
    else:
        results_screen(calls, coupons, zone)


def results_screen(calls: AfterSaleCalls, coupons: list[Coupon], zone: ZoneInfo) -> None:
    by_id = {c.id: c for c in coupons}
    wanted = st.query_params.get("coupon")
    if "results_coupon" not in state or state.results_coupon not in by_id:
        state.results_coupon = wanted if wanted in by_id else coupons[0].id
    if state.get(DEMO_FOLLOW) in by_id:
        state.results_coupon = state.pop(DEMO_FOLLOW)
    st.selectbox(
        "Coupon past its deadline",
        list(by_id),
        key="results_coupon",
        format_func=lambda cid: (
            f"{cid} · {by_id[cid].name} · {len(by_id[cid].events)} events · closed "
            f"{by_id[cid].closes_at.astimezone(zone):%a %d %b %H:%M}"
        ),
        on_change=choose_coupon,
    )
    coupon = by_id[state.results_coupon]
    summary = calls.settlement(coupon.id)
    entered = summary.results
    draft = typed_results(coupon, entered)
    st.markdown(f"**{summary.results_known} of {summary.events} results** · {status_line(summary)}")
    outcome(coupon)
    grid, panel = st.columns([5, 4], gap="large")
    with grid:
        events_grid(coupon, draft, entered, summary.status in LOCKED, zone)
    with panel:
        entry_panel(calls, coupon, summary, draft)
