"""The sell screen (`pages/terminal.py`): pick a coupon, pick 1/X/2 for every event at live odds, stake, sell,
print the receipt."""

import random
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import streamlit as st
import streamlit.components.v1 as components
from pydantic import ValidationError

from terminal_ui.after_sale import after_sale
from terminal_ui.cancel import cancel_control, cancellable_until
from terminal_ui.connection import Connection, connection
from terminal_ui.receipt import receipt_html
from terminal_ui.text import format_countdown, md_escape
from ticketing.errors import OddsChanged, TicketingError
from ticketing.models import BET_IDS, PICK_LABELS, Coupon, EventStatus, Ticket
from ticketing.money import format_money
from ticketing.pricing import price_ticket
from ticketing.slip import (
    Picks,
    PickStringError,
    parse_pick_string,
    pick_string,
    quick_pick,
    summarize_slip,
    ticket_request,
)

ODDS_REFRESH_SECONDS = 2
ODDS_MAX_AGE = ODDS_REFRESH_SECONDS / 2
"""Each refresh finds the last read of the odds too old and reads them again; the picks clicked in between reuse
that read instead of asking the engine on every click. A sale is still checked by the engine against its own odds."""
TREND_SECONDS = 5  # how long an odds change stays marked with its arrow

ARROWS = {1: ":green[▲]", -1: ":red[▼]"}


@dataclass
class Sale:
    """The sale of the current draft: one idempotency key until a ticket is sold or the slip starts anew."""

    draft_key: str = field(default_factory=lambda: uuid.uuid4().hex)
    pending: bool = False
    seen_odds: dict[int, dict[int, Decimal]] = field(default_factory=dict)
    receipt: Ticket | None = None
    receipt_coupon: Coupon | None = None
    error: str | None = None
    moved: list[dict] | None = None


state = st.session_state


# ---- callbacks: every state change happens here ---------------------------------------------------------------


def choose_coupon() -> None:
    state.current_coupon = state.coupon_id
    start_new_slip()


def start_new_slip() -> None:
    """The stake goes too: the next run sets the coupon's own."""
    state.picks = {}
    state.sale = Sale()
    state.pick_string = ""
    state.pick_string_error = None
    state.player_token = ""
    state.pop("stake", None)


def toggle_pick(event_id: int, bet: int) -> None:
    picks: Picks = state.picks
    if picks.get(event_id) == bet:
        del picks[event_id]
    else:
        picks[event_id] = bet
    state.sale.moved = state.sale.error = None


def apply_pick_string(conn: Connection, coupon_id: str) -> None:
    try:
        state.picks = parse_pick_string(state.pick_string, conn.live_coupon(coupon_id, ODDS_MAX_AGE))
        state.pick_string_error = None
    except PickStringError as problem:
        state.pick_string_error = str(problem)
    state.sale.moved = state.sale.error = None


def quick_pick_seed() -> str | None:
    """QA reproduces a quick pick by opening the page with `?seed=...`: the same seed, the same picks."""
    return st.query_params.get("seed") or None


def apply_quick_pick(conn: Connection, coupon_id: str) -> None:
    seed = quick_pick_seed()
    rng = random.Random(seed) if seed else random.SystemRandom()
    state.picks = quick_pick(conn.live_coupon(coupon_id, ODDS_MAX_AGE), rng)
    state.pick_string_error = None
    state.sale.moved = state.sale.error = None


def clear_picks() -> None:
    state.picks = {}
    state.pick_string = ""
    state.pick_string_error = None
    state.sale.moved = state.sale.error = None


def set_stake(amount: Decimal) -> None:
    state.stake = float(amount)


def request_sale(shown_odds: dict[int, dict[int, Decimal]]) -> None:
    """Lock the slip: the Sell button renders disabled and the sale runs in the same script run."""
    sale: Sale = state.sale
    if sale.pending or sale.receipt is not None:
        return
    sale.seen_odds = shown_odds
    sale.pending, sale.moved, sale.error = True, None, None


def accept_new_odds() -> None:
    sale: Sale = state.sale
    for moved in sale.moved or []:
        sale.seen_odds.setdefault(moved["id"], {})[moved["bet"]] = Decimal(str(moved["current_odds"]))
    sale.pending, sale.moved, sale.error = True, None, None


# ---- the sale itself --------------------------------------------------------------------------------------------


def stake_value() -> Decimal | None:
    """The stake widget holds a float; it becomes exact money here and nowhere else."""
    value = state.get("stake")
    return None if value is None else Decimal(f"{value:.2f}")


def sale_token(conn: Connection) -> str:
    return (state.get("player_token") or "").strip() or conn.settings.shop_token


def perform_sale(conn: Connection, coupon: Coupon) -> None:
    """Sell the draft. No Streamlit call in here, so a rerun cannot cut it between the sale and its record."""
    sale: Sale = state.sale
    try:
        request = ticket_request(
            coupon,
            state.picks,
            sale.seen_odds,
            stake_value(),
            conn.settings.operator,
            sale_token(conn),
            conn.settings.odds_diff,
        )
        sale.receipt = conn.service.create_ticket(request, idempotency_key=sale.draft_key)
        sale.receipt_coupon = coupon
    except OddsChanged as changed:
        sale.moved = changed.details.get("events", [])
    except TicketingError as error:
        sale.error = error.message
    except (ValidationError, KeyError):
        sale.error = "The slip is incomplete: pick every event and enter a valid stake"
    finally:
        sale.pending = False


# ---- the screen --------------------------------------------------------------------------------------------------


def remember_odds(coupon: Coupon) -> dict[tuple[int, int], int]:
    """Arrows for odds that moved in the last few seconds: {(event, bet): +1 or -1}."""
    memory, now = state.odds_memory, time.monotonic()
    for event in coupon.events:
        for bet, odds in event.odds.items():
            before = memory["last"].get((event.id, bet))
            if before is not None and before != odds:
                memory["trend"][(event.id, bet)] = (1 if odds > before else -1, now)
            memory["last"][(event.id, bet)] = odds
    return {k: d for k, (d, since) in memory["trend"].items() if now - since < TREND_SECONDS}


def event_grid(coupon: Coupon, trends: dict, zone: ZoneInfo) -> None:
    # One horizontal container a row (not st.columns): a third of the layout blocks, so a pick reruns faster.
    picks: Picks = state.picks
    for number, event in enumerate(coupon.events, start=1):
        open_ = event.status == EventStatus.AVAILABLE
        status = "" if open_ else f" :orange-badge[{event.status.value.upper()}]"
        with st.container(horizontal=True, vertical_alignment="center", gap="small", wrap=False):
            st.markdown(
                f"**{number}. {md_escape(event.home)} v {md_escape(event.away)}**{status}  \n"
                f":gray[{event.kickoff.astimezone(zone):%a %d %b %H:%M} · {md_escape(event.competition)}]",
                width="stretch",
            )
            for bet in BET_IDS:
                odds = event.odds.get(bet)
                arrow = ARROWS.get(trends.get((event.id, bet)), "")
                st.button(
                    f"{PICK_LABELS[bet]} · {odds:.2f} {arrow}".rstrip() if odds else PICK_LABELS[bet],
                    key=f"pick-{event.id}-{bet}",
                    type="primary" if picks.get(event.id) == bet else "secondary",
                    disabled=not open_ or odds is None,
                    on_click=toggle_pick,
                    args=(event.id, bet),
                    width=96,
                )


def slip_panel(conn: Connection, coupon: Coupon, shown_odds: dict) -> None:
    sale: Sale = state.sale
    currency = coupon.currency
    summary = summarize_slip(coupon, state.picks, stake_value(), conn.tax_profile())
    price = summary.price
    lines = [
        ("Picks", f"{summary.picked} of {summary.needed}"),
        ("Slip", f"`{pick_string(coupon, state.picks)}`"),
        ("Total odds", f"{summary.total_odds:,.2f}" if summary.total_odds else "–"),
    ]
    if price is not None and price.excise:
        lines += [
            ("Excise", format_money(price.excise, currency)),
            ("Net stake", format_money(price.net_stake, currency)),
        ]
    lines += [
        ("Stake", format_money(stake_value() or Decimal(0), currency)),
        ("Potential payout", format_money(price.payout, currency) if price else "–"),
        ("Withholding tax", format_money(price.tax, currency) if price else "–"),
    ]
    notes = [f"⚠ {problem}" for problem in summary.problems]
    if price is not None and price.capped:
        notes.insert(0, f"Capped at the coupon's maximum payout {format_money(coupon.max_payout, currency)}")
    # One Markdown element for the table and the payout, one caption for the notes: each element costs a redraw.
    with st.container(border=True, key="slip-summary"):
        st.markdown(
            "\n".join(
                f"| {label} | {value} |" if i else f"| {label} | {value} |\n|:--|--:|"
                for i, (label, value) in enumerate(lines)
            )
            + f"\n\n#### Net payout: {format_money(price.net_payout, currency) if price else '–'}"
        )
        if notes:
            st.caption("  \n".join(notes))
        st.button(
            "Selling…" if sale.pending else "Sell ticket",
            key="sell",
            type="primary",
            icon=":material/point_of_sale:",
            disabled=sale.pending or not summary.ready,
            on_click=request_sale,
            args=(shown_odds,),
            shortcut="Ctrl+Enter",
            width="stretch",
        )
        st.caption(f"Odds tolerance (odds_diff): {conn.settings.odds_diff:.2f} · Ctrl+Enter sells")
    if sale.moved:
        odds_changed_prompt(conn, coupon, sale.moved)
    if sale.error:
        st.error(sale.error, icon=":material/error:")
    if sale.pending:
        with st.spinner("Selling…"):
            perform_sale(conn, coupon)
        st.rerun()


def odds_changed_prompt(conn: Connection, coupon: Coupon, moved: list[dict]) -> None:
    events = {e.id: (n, e) for n, e in enumerate(coupon.events, start=1)}
    accepted = {**state.sale.seen_odds}
    lines = []
    for change in moved:
        number, event = events[change["id"]]
        accepted.setdefault(change["id"], {})
        accepted[change["id"]] = {**accepted[change["id"]], change["bet"]: Decimal(str(change["current_odds"]))}
        lines.append(
            f"- **{number}. {md_escape(event.fixture)}**: {PICK_LABELS[change['bet']]} "
            f"{Decimal(str(change['odds'])):.2f} → **{Decimal(str(change['current_odds'])):.2f}**"
        )
    picks = state.picks
    odds = [accepted.get(e.id, {}).get(picks.get(e.id)) for e in coupon.events]
    new_payout = ""
    if all(odds) and stake_value():
        price = price_ticket(stake_value(), odds, conn.tax_profile(), coupon.max_payout)
        new_payout = (
            f"  \nNew potential payout **{format_money(price.payout, coupon.currency)}**, net "
            f"**{format_money(price.net_payout, coupon.currency)}**"
        )
    with st.container(border=True, key="odds-changed"):
        st.warning("**Odds changed** since the slip was shown:\n" + "\n".join(lines) + new_payout)
        st.button(
            "Accept new odds and sell", key="accept_odds", type="primary", on_click=accept_new_odds, width="stretch"
        )


@st.fragment(run_every=ODDS_REFRESH_SECONDS)
def live_slip(conn: Connection, coupon_id: str, zone: ZoneInfo) -> None:
    """Odds, grid and summary refresh here every 2 s without rerunning the page."""
    coupon = conn.live_coupon(coupon_id, ODDS_MAX_AGE)
    trends = remember_odds(coupon)
    left_seconds = (coupon.closes_at - datetime.now(UTC)).total_seconds()
    st.caption(f"Live odds · refreshed {datetime.now(zone):%H:%M:%S} · closes in {format_countdown(left_seconds)}")
    shown_odds = {e.id: dict(e.odds) for e in coupon.events}
    grid, slip = st.columns([3, 2], gap="large")
    with grid:
        event_grid(coupon, trends, zone)
    with slip:
        slip_panel(conn, coupon, shown_odds)


def coupon_label(conn: Connection, coupon: Coupon) -> str:
    rules = coupon.stake_rules
    stake = (
        f"stake {rules.fixed_stake:,.0f}"
        if rules.fixed_stake
        else f"stake {rules.min_stake:,.0f}–{rules.max_stake:,.0f}"
    )
    closes = coupon.closes_at.astimezone(ZoneInfo(conn.settings.timezone))
    size = f"{len(coupon.events)} events"
    return f"{coupon.id} · {coupon.name} · {size} · {stake} {coupon.currency} · closes {closes:%a %d %b %H:%M}"


def stake_input(coupon: Coupon) -> None:
    rules = coupon.stake_rules
    currency = coupon.currency
    if rules.fixed_stake is not None:
        state.stake = float(rules.fixed_stake)
        st.number_input(f"Stake ({currency}), fixed for this coupon", key="stake", format="%.2f", disabled=True)
        return
    st.number_input(f"Stake ({currency})", key="stake", min_value=0.0, step=10.0, format="%.2f")
    presets = [
        p
        for p in (rules.min_stake, Decimal(50), Decimal(100), Decimal(500), Decimal(1000))
        if rules.min_stake <= p <= rules.max_stake
    ]
    with st.container(horizontal=True, gap="small"):
        for amount in sorted(set(presets)):
            st.button(f"{amount:,.0f}", key=f"stake-{amount}", on_click=set_stake, args=(amount,), type="tertiary")


def sell_screen(conn: Connection) -> None:
    # `?coupon=ID` opens that coupon on a session's first run.
    wanted = None if "current_coupon" in state else st.query_params.get("coupon")
    coupons = conn.open_coupons(including=wanted)
    if not coupons:
        st.info("No coupon is open for sale right now.")
        return
    by_id = {c.id: c for c in coupons}
    # The chosen coupon lives in `current_coupon`: the picker's own key is dropped while the receipt shows.
    if wanted in by_id:
        state.current_coupon = wanted
    if state.get("current_coupon") not in by_id:
        state.current_coupon = coupons[0].id
        state.pop("stake", None)
    state.coupon_id = state.current_coupon
    coupon = by_id[state.current_coupon]
    if "stake" not in state:  # a first visit, a new coupon or slip, back from another page
        start_new_slip()
        state.stake = float(coupon.stake_rules.fixed_stake or coupon.stake_rules.min_stake)

    top = st.columns([3, 2, 2], vertical_alignment="bottom")
    top[0].selectbox(
        "Coupon",
        list(by_id),
        key="coupon_id",
        format_func=lambda cid: coupon_label(conn, by_id[cid]),
        on_change=choose_coupon,
    )
    with top[1]:
        stake_input(coupon)
    with top[2]:
        st.text_input(
            "Player token (optional, this sale only)",
            key="player_token",
            type="password",
            help="Sell on a registered player's account instead of the shop's.",
        )

    keys = st.columns([4, 1, 1], vertical_alignment="bottom")
    keys[0].text_input(
        "Keyboard picks: type the pick string (1, X or 0, 2) and press Enter",
        key="pick_string",
        placeholder=f"{len(coupon.events)} picks, e.g. {'1X2' * 2}…",
        on_change=apply_pick_string,
        args=(conn, coupon.id),
    )
    keys[1].button(
        "Quick pick",
        key="quick_pick",
        icon=":material/casino:",
        on_click=apply_quick_pick,
        args=(conn, coupon.id),
        shortcut="Alt+Q",
        width="stretch",
    )
    keys[2].button(
        "Clear", key="clear", icon=":material/backspace:", on_click=clear_picks, shortcut="Alt+X", width="stretch"
    )
    if state.pick_string_error:
        st.error(f"Pick string not used: {state.pick_string_error}", icon=":material/keyboard:")
    if seed := quick_pick_seed():
        st.caption(f"Quick pick seed `{seed}`")
    live_slip(conn, coupon.id, ZoneInfo(conn.settings.timezone))


def receipt_screen(conn: Connection, sale: Sale) -> None:
    ticket = sale.receipt
    st.success(f"Ticket sold: **{ticket.code}**", icon=":material/check_circle:")
    left, right = st.columns([2, 3])
    with left:
        st.markdown(f"# :blue[{ticket.code}]")
        st.caption(f"Ticket id {ticket.id}")
        st.metric("Net payout", format_money(ticket.net_payout, ticket.currency))
        st.button(
            "New ticket",
            key="new_ticket",
            type="primary",
            icon=":material/add:",
            on_click=start_new_slip,
            shortcut="Alt+N",
            width="stretch",
        )
        calls = after_sale(conn)
        cancelled = cancel_control(calls, ticket, conn.settings.timezone, key="receipt_cancel")
    with right:
        until = None if cancelled else cancellable_until(calls, ticket, sale.receipt_coupon)
        components.html(
            receipt_html(ticket, sale.receipt_coupon, conn.settings.timezone, printable=True, cancellable_until=until),
            height=560 + 22 * len(ticket.events),
            scrolling=True,
        )


def sell_page() -> None:
    state.setdefault("picks", {})
    state.setdefault("sale", Sale())
    state.setdefault("odds_memory", {"last": {}, "trend": {}})
    state.setdefault("pick_string_error", None)
    conn = connection()
    st.title("Sell a jackpot ticket")
    if state.sale.receipt is not None:
        receipt_screen(conn, state.sale)
    else:
        sell_screen(conn)
