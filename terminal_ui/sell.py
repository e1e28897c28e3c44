"""The sell screen (`pages/terminal.py`): pick a coupon, pick 1/X/2 for every event at live odds, stake, sell,
print the receipt.

The slip is a `Draft` (terminal_ui/drafts.py): widgets show it and their callbacks write to it, so a page change
or a reload finds it whole. Nothing on this screen can sell a slip other than the one on screen: an input that is
not understood empties or blocks the slip, and a sale is decided only after every input of its run is applied.
"""

import random
import time
from datetime import UTC, datetime
from decimal import Decimal
from html import escape
from zoneinfo import ZoneInfo

import streamlit as st
from pydantic import ValidationError

from terminal_ui import clicks
from terminal_ui.after_sale import after_sale
from terminal_ui.cancel import cancel_control, cancellable_until, cancelled_here
from terminal_ui.connection import Connection, connection
from terminal_ui.drafts import Draft, session_draft
from terminal_ui.errors import plain_errors
from terminal_ui.keys import keyboard, request_focus
from terminal_ui.receipt import receipt_html, show_receipt
from terminal_ui.text import format_countdown, md_escape
from ticketing.access.acting import ActingEngine
from ticketing.contract.errors import (
    BetNotOffered,
    CouponClosed,
    CouponMissing,
    CouponNotFound,
    EngineUnavailable,
    EventNotAvailable,
    IdempotencyKeyReused,
    InsufficientBalance,
    InvalidToken,
    NoOpenShift,
    OddsChanged,
    StakeOutOfLimits,
    TicketingError,
    WrongPicks,
)
from ticketing.contract.identifiers import mask_token
from ticketing.contract.models import BET_IDS, PICK_LABELS, Coupon, CouponStatus, EventStatus, Ticket
from ticketing.contract.money import format_money
from ticketing.selling.pricing import payout_cap, price_ticket
from ticketing.selling.slip import (
    PickStringError,
    StakeError,
    parse_pick_string,
    parse_stake,
    pick_string,
    quick_pick,
    summarize_slip,
    ticket_request,
)

RECEIPT_CANCEL = "receipt_cancel"
"""The receipt screen's cancel flow, in the session state."""
ODDS_REFRESH_SECONDS = 2
ODDS_MAX_AGE = ODDS_REFRESH_SECONDS / 2
"""Each refresh finds the last read of the odds too old and reads them again; the picks clicked in between reuse
that read instead of asking the engine on every click. A sale is still checked by the engine against its own odds."""
TREND_SECONDS = 5  # how long an odds change stays marked with its arrow

ARROWS = {1: ":green[▲]", -1: ":red[▼]"}
MONOSPACE_ROWS = {"Slip"}  # the pick string, one character an event, reads best in a fixed width

state = st.session_state


# ---- callbacks: every state change happens here ---------------------------------------------------------------


def draft() -> Draft:
    """The session's draft, for callbacks and the live fragment. Found again through `session_draft` when the
    session state has lost it: Streamlit's "Clear caches" empties the state, and the next live refresh or callback
    runs before any full run has put the draft back. Keeping the URL on the draft is the full run's job."""
    return state.get("draft") or session_draft()


def typed(key: str, current: str | None) -> str | None:
    """The value of the widget `key` if the cashier changed it, else None.

    After Streamlit's "Clear caches" (which empties the session state) the browser's widgets all look changed and
    their callbacks fire; only a value that differs from the draft is a change the cashier made."""
    value = state.get(key)
    return None if value is None or value == current else value


def choose_coupon(offered: tuple[str, ...]) -> None:
    """Only a coupon the picker offered is a choice: when an option's text changes (its deadline moved), the
    browser sends the old text, which is no coupon, and the slip on screen must stay."""
    coupon_id = typed("coupon_id", draft().coupon_id)
    if coupon_id in offered:
        draft().new_slip(coupon_id, stake=None)
        request_focus("pick")


def open_coupon(coupon_id: str) -> None:
    draft().new_slip(coupon_id, stake=None)
    request_focus("pick")


def new_ticket() -> None:
    """The next ticket on the same coupon and stake: a repeat sale needs only its picks."""
    slip = draft()
    slip.new_slip(slip.coupon_id, stake=slip.stake)
    request_focus("pick")


def toggle_pick(event_id: int, bet: int) -> None:
    """A click chooses the pick, or clears it if it was chosen; the same click sent twice acts once."""
    slip = draft()
    if slip.toggle_pick(event_id, bet, clicks.clock()):
        slip.clear_messages()


def apply_pick_string(conn: Connection, coupon_id: str) -> None:
    """A string that is not understood empties the slip: the picks on screen are never an older string's."""
    slip = draft()
    text = typed("pick_string", slip.pick_string)
    if text is None:
        return
    take_pick_string(conn, coupon_id, slip, text)


def take_pick_string(conn: Connection, coupon_id: str, slip: Draft, text: str) -> None:
    slip.pick_string = text
    slip.clear_messages()
    if not slip.pick_string.strip():
        slip.pick_string_error = None
        return
    try:
        slip.replace_picks(parse_pick_string(slip.pick_string, conn.live_coupon(coupon_id, ODDS_MAX_AGE)))
        slip.pick_string_error = None
        request_focus("stake")
    except PickStringError as problem:
        slip.replace_picks({})
        slip.pick_string_error = str(problem)
        request_focus("pick")


def quick_pick_seed() -> str | None:
    """QA reproduces a quick pick by opening the page with `?seed=...`: the same seed, the same picks."""
    return st.query_params.get("seed") or None


def apply_quick_pick(conn: Connection, coupon_id: str) -> None:
    seed = quick_pick_seed()
    rng = random.Random(seed) if seed else random.SystemRandom()
    slip = draft()
    slip.replace_picks(quick_pick(conn.live_coupon(coupon_id, ODDS_MAX_AGE), rng))
    slip.pick_string, slip.pick_string_error = "", None
    slip.clear_messages()


def clear_picks() -> None:
    slip = draft()
    slip.replace_picks({})
    slip.pick_string, slip.pick_string_error = "", None
    slip.clear_messages()
    request_focus("pick")


def typed_stake() -> None:
    stake = typed("stake", draft().stake)
    if stake is not None:
        draft().stake = stake
        draft().clear_messages()


def typed_token() -> None:
    token = typed("player_token", draft().player_token)
    if token is not None:
        draft().player_token = token
        draft().clear_messages()


def show_token_field() -> None:
    draft().token_field = True
    request_focus("token")


def request_sale(shown_odds: dict[int, dict[int, Decimal]]) -> None:
    """Lock the slip: the Sell button renders disabled and the sale runs in the same script run, once every input
    of that run has been applied (a pick string typed just before Ctrl+Enter included)."""
    slip = draft()
    if slip.pending or slip.receipt is not None or slip.moved:
        return
    slip.seen_odds = shown_odds
    slip.pending = True
    slip.clear_messages()


def sell_key() -> None:
    take_sell_key(draft(), (state.get("keys") or {}).get("sell_key"))


def take_sell_key(slip: Draft, pressed: object) -> bool:
    """A Ctrl+Enter for this run to decide, unless it is a press already taken or a copy for another slip (the
    keyboard sends a press again when the page does not show it taken): whether it was taken."""
    press = pressed if isinstance(pressed, dict) else {}
    at = press.get("at")
    if at is not None and at == slip.keyed_at:
        return False
    if press.get("copy") and press.get("slip") != slip.sale_key:
        return False
    slip.keyed_at = at
    slip.sell_by_key = True
    slip.keyed_fields = {k: press.get(k) for k in ("stake", "pick")}
    return True


def take_keyed_fields(conn: Connection, coupon: Coupon, slip: Draft) -> None:
    """Ctrl+Enter sells what the stake and pick fields showed at the key press. On a loaded till the run of the
    last keystrokes can reach the server after the key's own: sold then, the ticket carried the slip's older stake
    (50.00 for the 60 typed). The fields' own runs, when they come, find the slip already as shown."""
    shown, slip.keyed_fields = slip.keyed_fields, {}
    stake = shown.get("stake")
    if isinstance(stake, str) and coupon.stake_rules.fixed_stake is None and stake != (slip.stake or ""):
        slip.stake = stake
    pick = shown.get("pick")
    if isinstance(pick, str) and pick != slip.pick_string:
        take_pick_string(conn, coupon.id, slip, pick)


def accept_new_odds() -> None:
    slip = draft()
    for moved in slip.moved or []:
        slip.seen_odds.setdefault(moved["id"], {})[moved["bet"]] = Decimal(str(moved["current_odds"]))
    slip.moved, slip.error, slip.missing = None, None, None
    slip.pending = True


def back_to_slip() -> None:
    draft().clear_messages()


def reprint_last(conn: Connection) -> None:
    if conn.sold:
        draft().reprint = True


def close_reprint() -> None:
    draft().reprint = False


# ---- the sale itself --------------------------------------------------------------------------------------------


def ticket_cap(conn: Connection, coupon: Coupon) -> Decimal:
    """What the engine will cap this coupon's tickets at: the coupon's cap or the operator's, the lower."""
    return payout_cap(coupon.max_payout, conn.profile().max_payout)


def stake_of(slip: Draft) -> tuple[Decimal | None, str | None]:
    """The typed stake as exact money, or why it is not one."""
    try:
        return parse_stake(slip.stake or ""), None
    except StakeError as problem:
        return None, str(problem)


def sale_token(conn: Connection, slip: Draft) -> str:
    return slip.player_token.strip() or conn.settings.shop_token


def perform_sale(conn: Connection, coupon: Coupon, slip: Draft) -> None:
    """Sell the draft. No Streamlit call in here, so a rerun cannot cut it between the sale and its record."""
    try:
        request = ticket_request(
            coupon,
            slip.picks,
            slip.seen_odds,
            stake_of(slip)[0],
            conn.settings.operator,
            sale_token(conn, slip),
            conn.settings.odds_diff,
        )
        ticket = conn.service.create_ticket(request, idempotency_key=slip.sale_key)
        slip.receipt, slip.receipt_coupon = ticket, coupon
        if all(sold.code != ticket.code for sold, _ in conn.sold):
            conn.sold.appendleft((ticket, coupon))
    except OddsChanged as changed:
        slip.moved = changed.details.get("events", [])
    except TicketingError as error:
        slip.error = cashier_words(conn, coupon, slip, error)
    except (ValidationError, KeyError):
        slip.error = "Not sold: the slip is incomplete. Pick every event and enter a valid stake."
    finally:
        slip.pending = False


def cashier_words(conn: Connection, coupon: Coupon, slip: Draft, error: TicketingError) -> str:
    """An engine refusal as the cashier needs it: which event, whose account and how much, which field."""
    zone = ZoneInfo(conn.settings.timezone)
    stake = stake_of(slip)[0] or Decimal(0)
    player = bool(slip.player_token.strip())
    account = (
        f"the player's account {mask_token(slip.player_token.strip())}"
        if player
        else f"the shop account {mask_token(conn.settings.shop_token)}"
    )
    match error:
        case EventNotAvailable() | BetNotOffered():
            numbers = {e.id: (n, e) for n, e in enumerate(coupon.events, start=1)}
            found = numbers.get(error.details.get("event_id"))
            if found is None:
                return f"Not sold: an event of coupon {coupon.id} can no longer be picked. Check the grid."
            number, event = found
            return (
                f"Not sold: event {number}, {event.fixture}, is no longer available (suspended, started or "
                "cancelled). This coupon cannot be sold until it is available again."
            )
        case CouponClosed():
            return (
                f"Not sold: coupon {coupon.id} ({coupon.name}) closed at "
                f"{coupon.closes_at.astimezone(zone):%a %d %b %H:%M}. The slip is kept."
            )
        case CouponNotFound() | CouponMissing():
            return f"Not sold: coupon {coupon.id} ({coupon.name}) is no longer on the ticket engine."
        case InsufficientBalance():
            balance = account_balance(conn, sale_token(conn, slip))
            short = (
                f": its balance is {format_money(balance, coupon.currency)}, "
                f"{format_money(stake - balance, coupon.currency)} short"
                if balance is not None and balance < stake
                else ""
            )
            return f"Not sold: {account} cannot pay the stake {format_money(stake, coupon.currency)}{short}."
        case InvalidToken() if player:
            return (
                "Not sold: Player token: no account of this shop has this token "
                f"({mask_token(slip.player_token.strip())}). Check it, or empty the field to sell on the shop account."
            )
        case InvalidToken():
            return "Not sold: the shop account's token is refused by the engine. Call the supervisor."
        case NoOpenShift():
            return (
                "Not sold: this till has no open shift, and a ticket's cash is counted in the till's shift. Open the "
                "shift on the Shift page with the cash float in the drawer, then sell: the slip is kept."
            )
        case StakeOutOfLimits():
            return f"Not sold: Stake: {format_money(stake, coupon.currency)} is outside this coupon's limits."
        case WrongPicks():
            return "Not sold: the coupon's events changed since the slip was made. Clear the slip and pick again."
        case IdempotencyKeyReused():
            return (
                "Not sold: this slip was already sold with other picks or another stake (the engine kept that "
                "ticket). Check the last tickets below, then press New ticket."
            )
        case EngineUnavailable():
            return "Not sold: the ticket engine did not answer. Press Sell again: the same slip is never sold twice."
    return f"Not sold: {error.message} (engine code {error.code})."


def account_balance(conn: Connection, token: str) -> Decimal | None:
    """Known to the embedded engine only: the API does not show balances."""
    if not isinstance(conn.service, ActingEngine):
        return None
    try:
        return conn.service.balance(token)
    except TicketingError:
        return None


# ---- the screen --------------------------------------------------------------------------------------------------


def remember_odds(coupon: Coupon) -> dict[tuple[int, int], int]:
    """Arrows for odds that moved in the last few seconds: {(event, bet): +1 or -1}."""
    memory, now = state.setdefault("odds_memory", {"last": {}, "trend": {}}), time.monotonic()
    if memory.get("read") is not coupon:  # the odds of one read do not move: compared once
        memory["read"] = coupon
        for event in coupon.events:
            for bet, odds in event.odds.items():
                before = memory["last"].get((event.id, bet))
                if before is not None and before != odds:
                    memory["trend"][(event.id, bet)] = (1 if odds > before else -1, now)
                memory["last"][(event.id, bet)] = odds
    return {k: d for k, (d, since) in memory["trend"].items() if now - since < TREND_SECONDS}


def is_closed(coupon: Coupon) -> bool:
    return coupon.status == CouponStatus.CLOSED or datetime.now(UTC) >= coupon.closes_at


def fixture_lines(coupon: Coupon, zone: ZoneInfo) -> str:
    """Every event's number, teams, kickoff and competition, one line each, as one element beside the picks."""
    lines = []
    for number, event in enumerate(coupon.events, start=1):
        status = "" if event.status == EventStatus.AVAILABLE else f" <span class='jp-badge'>{event.status.value}</span>"
        when = f"{event.kickoff.astimezone(zone):%a %H:%M} · {escape(event.competition)}"
        teams = f"{number}. {escape(event.fixture)}"
        lines.append(
            f"<div class='jp-fixture' title='{teams} · {when}'><span class='jp-teams'>{teams}</span>{status} "
            f"<span class='jp-when'>{when}</span></div>"
        )
    return "".join(lines)


def grid_text(coupon: Coupon, zone: ZoneInfo) -> tuple[str, dict[tuple[int, int], str]]:
    """The fixtures' HTML and every pick's label without its arrow: the same on every run until the odds are read
    again."""
    labels = {
        (event.id, bet): f"{PICK_LABELS[bet]} · {odds:.2f}"
        for event in coupon.events
        for bet, odds in event.odds.items()
    }
    return fixture_lines(coupon, zone), labels


def event_grid(conn: Connection, coupon: Coupon, slip: Draft, trends: dict, zone: ZoneInfo, closed: bool) -> None:
    """The fixtures are one HTML element beside one row of three buttons an event, lines and rows of one fixed
    height (the page's stylesheet): an element a row fewer than a label per row, and no Markdown to parse."""
    picks = slip.picks
    fixtures, labels = conn.derived(("grid", coupon.id, zone.key), coupon, lambda: grid_text(coupon, zone))
    st.html(fixtures)
    with st.container(gap=None, width="content", key="grid-picks"):
        for event in coupon.events:
            open_ = event.status == EventStatus.AVAILABLE and not closed
            with st.container(horizontal=True, vertical_alignment="center", gap="small", wrap=False):
                for bet in BET_IDS:
                    label = labels.get((event.id, bet))
                    arrow = ARROWS.get(trends.get((event.id, bet)))
                    st.button(
                        f"{label} {arrow}" if label and arrow else label or PICK_LABELS[bet],
                        key=f"pick-{event.id}-{bet}",
                        type="primary" if picks.get(event.id) == bet else "secondary",
                        disabled=not open_ or label is None,
                        on_click=toggle_pick,
                        args=(event.id, bet),
                        width=80,
                    )


def slip_panel(conn: Connection, coupon: Coupon, slip: Draft, shown_odds: dict, closed: bool, zone: ZoneInfo) -> None:
    currency = coupon.currency
    if slip.sell_by_key:
        take_keyed_fields(conn, coupon, slip)
    stake, stake_error = stake_of(slip)
    cap = ticket_cap(conn, coupon)
    summary = summarize_slip(coupon, slip.picks, stake, conn.tax_profile(), cap, stake_error)
    problems = list(summary.problems)
    if closed:
        problems.insert(0, f"Coupon {coupon.id} is closed: sales are over")
    if slip.sell_by_key:
        slip.sell_by_key = False
        if problems:
            slip.missing = "Ctrl+Enter: not sold. " + "; ".join(problems) + "."
        else:
            request_sale(slip.shown_odds or shown_odds)
    if slip.pending and problems:
        # The slip changed in the run that asked for the sale (a pick string typed just before Ctrl+Enter).
        slip.pending = False
        slip.missing = "Not sold: " + "; ".join(problems) + "."
    price = summary.price
    lines = [
        ("Picks", f"{summary.picked} of {summary.needed}"),
        ("Slip", pick_string(coupon, slip.picks)),
        ("Total odds", f"{summary.total_odds:,.2f}" if summary.total_odds else "–"),
    ]
    if price is not None and price.excise:
        lines += [
            ("Excise", format_money(price.excise, currency)),
            ("Net stake", format_money(price.net_stake, currency)),
        ]
    lines += [
        ("Stake", format_money(stake, currency) if stake is not None and not stake_error else "–"),
        ("Potential payout", format_money(price.payout, currency) if price else "–"),
        ("Withholding tax", format_money(price.tax, currency) if price else "–"),
    ]
    notes = []
    if price is not None and price.capped:
        notes.append(("jp-note", f"Capped at the maximum payout {format_money(cap, currency)}"))
    if problems and not slip.pending:
        notes += [("jp-problem", f"⚠ {problem}") for problem in problems]
    left_seconds = (coupon.closes_at - datetime.now(UTC)).total_seconds()
    deadline = (
        f"Closed at {coupon.closes_at.astimezone(zone):%H:%M}"
        if closed
        else f"Closes in {format_countdown(left_seconds)}"
    )
    notes.append(
        (
            "jp-note",
            f"{deadline} · odds of {datetime.now(zone):%H:%M:%S} · tolerance (odds_diff) {conn.settings.odds_diff:.2f}",
        )
    )
    net_payout = format_money(price.net_payout, currency) if price else "–"
    with st.container(border=True, key="slip-summary", width=330):
        st.html(slip_summary_html(lines, net_payout, notes))
        st.button(
            "Selling…" if slip.pending else "Sell ticket",
            key="sell",
            type="primary",
            icon=":material/point_of_sale:",
            disabled=slip.pending or bool(problems),
            on_click=request_sale,
            args=(shown_odds,),
            shortcut="Ctrl+Enter",
            width="stretch",
        )
        if slip.error or slip.missing:
            st.error(md_escape(slip.error or slip.missing), icon=":material/error:")
    if slip.pending:
        with st.spinner("Selling…"):
            perform_sale(conn, coupon, slip)
        st.rerun()


def slip_summary_html(lines: list[tuple[str, str]], net_payout: str, notes: list[tuple[str, str]]) -> str:
    """The slip's figures, net payout and notes as one HTML element: each element costs a redraw on every pick, and
    the browser draws HTML without the Markdown parser it would otherwise run on every pick. Every text is escaped."""

    def text(value: str) -> str:
        return escape(value, quote=False)

    def cell(label: str, value: str) -> str:
        return f"<code>{text(value)}</code>" if label in MONOSPACE_ROWS else text(value)

    (head_label, head_value), *rows = lines
    body = "".join(f"<tr><td>{text(label)}</td><td>{cell(label, value)}</td></tr>" for label, value in rows)
    return (
        f"<table class='jp-slip'><thead><tr><th>{text(head_label)}</th><th>{cell(head_label, head_value)}</th></tr>"
        f"</thead><tbody>{body}</tbody></table><div class='jp-net'>Net payout: {text(net_payout)}</div>"
        + "".join(f"<div class='{kind}'>{text(note)}</div>" for kind, note in notes)
    )


def closed_notice(conn: Connection, coupon: Coupon, zone: ZoneInfo) -> None:
    following = [c for c in conn.open_coupons() if c.id != coupon.id]
    st.warning(
        f"**Coupon {coupon.id} ({md_escape(coupon.name)}) closed at "
        f"{coupon.closes_at.astimezone(zone):%a %d %b %H:%M}**: sales are over. The slip is kept as it was."
        + ("" if following else " No other coupon is open."),
        icon=":material/schedule:",
    )
    if following:
        nearest = following[0]
        if st.button(
            f"Open coupon {nearest.id} · {nearest.name}", key="next_coupon", type="primary", icon=":material/redo:"
        ):
            open_coupon(nearest.id)
            st.rerun()


@st.fragment(run_every=ODDS_REFRESH_SECONDS)
def live_slip(conn: Connection, coupon_id: str, zone: ZoneInfo) -> None:
    """Odds, grid and summary refresh here every 2 s without rerunning the page."""
    with plain_errors("the live grid"):
        slip = draft()
        coupon = conn.live_coupon(coupon_id, ODDS_MAX_AGE)
        closed = is_closed(coupon)
        trends = remember_odds(coupon)
        if closed:
            closed_notice(conn, coupon, zone)
        shown_odds = {e.id: dict(e.odds) for e in coupon.events}
        # One row for the fixtures, the picks and the slip: fewer layout blocks than columns, on every pick.
        with st.container(horizontal=True, gap="small", key="grid"):
            event_grid(conn, coupon, slip, trends, zone, closed)
            slip_panel(conn, coupon, slip, shown_odds, closed, zone)
        slip.shown_odds = shown_odds
        slip.pick_clicks.shown(clicks.clock())


@st.dialog("Odds changed: check before selling", width="medium", on_dismiss=back_to_slip)
def odds_changed_dialog(conn: Connection, coupon: Coupon, slip: Draft) -> None:
    events = {e.id: (n, e) for n, e in enumerate(coupon.events, start=1)}
    accepted = {event_id: dict(odds) for event_id, odds in slip.seen_odds.items()}
    rows = []
    for change in slip.moved:
        number, event = events[change["id"]]
        before, after = Decimal(str(change["odds"])), Decimal(str(change["current_odds"]))
        accepted.setdefault(change["id"], {})[change["bet"]] = after
        rows.append(
            f"| {number}. {md_escape(event.fixture)} | {PICK_LABELS[change['bet']]} | {before:.2f} | **{after:.2f}** |"
        )
    stake = stake_of(slip)[0]
    table = "| Event | Pick | Old odds | New odds |\n|:--|:-:|--:|--:|\n" + "\n".join(rows)
    money = []
    if stake:
        profile, cap = conn.tax_profile(), ticket_cap(conn, coupon)
        old = price_ticket(stake, [slip.seen_odds[e.id][slip.picks[e.id]] for e in coupon.events], profile, cap)
        new = price_ticket(stake, [accepted[e.id][slip.picks[e.id]] for e in coupon.events], profile, cap)
        money = [
            "| | Old | New |\n|:--|--:|--:|",
            f"| Potential payout | {format_money(old.payout, coupon.currency)} | "
            f"**{format_money(new.payout, coupon.currency)}** |",
            f"| Net payout | {format_money(old.net_payout, coupon.currency)} | "
            f"**{format_money(new.net_payout, coupon.currency)}** |",
        ]
    st.warning("**Odds changed** since the slip was shown. Nothing has been sold.", icon=":material/trending_up:")
    st.markdown(table + ("\n\n" + "\n".join(money) if money else ""))
    back, accept = st.columns(2)
    if back.button("Back to the slip", key="back_to_slip", icon=":material/arrow_back:", width="stretch"):
        back_to_slip()
        st.rerun()
    if accept.button("Accept new odds and sell", key="accept_odds", type="primary", shortcut="Alt+A", width="stretch"):
        accept_new_odds()
        st.rerun()


@st.dialog("Reprint last ticket", on_dismiss=close_reprint)
def reprint_dialog(conn: Connection) -> None:
    sold, coupon = conn.sold[0]
    ticket = conn.service.get_ticket(sold.code)  # as it is now: a ticket cancelled since says so on its copy
    st.info(f"Copy of ticket **{ticket.code}**: it is marked COPY - REPRINT.", icon=":material/content_copy:")
    show_receipt(receipt_of(conn, ticket, coupon, copy=True), key="reprint_receipt")


def receipt_of(
    conn: Connection,
    ticket: Ticket,
    coupon: Coupon | None,
    copy: bool = False,
    cancellable_until: datetime | None = None,
) -> str:
    settings = conn.settings
    return receipt_html(
        ticket,
        coupon,
        settings.timezone,
        settings.shop_name,
        settings.receipt_terms,
        copy=copy,
        printable=True,
        cancellable_until=cancellable_until,
    )


def coupon_label(conn: Connection, coupon: Coupon) -> str:
    """The same text before and after the coupon closes (the closed notice says that): the picker's browser side
    keeps its choice by this text, and a choice whose text vanished was replaced by another coupon's, whose
    change then opened a new, empty slip."""
    rules = coupon.stake_rules
    stake = (
        f"stake {rules.fixed_stake:,.0f}"
        if rules.fixed_stake
        else f"stake {rules.min_stake:,.0f}–{rules.max_stake:,.0f}"
    )
    closes = coupon.closes_at.astimezone(ZoneInfo(conn.settings.timezone))
    size = f"{len(coupon.events)} events"
    return f"{coupon.id} · {coupon.name} · {size} · {stake} {coupon.currency} · closes {closes:%a %d %b %H:%M}"


def default_stake(coupon: Coupon) -> str:
    rules = coupon.stake_rules
    return f"{rules.fixed_stake or rules.min_stake:.2f}"


def resolve_coupon(conn: Connection, slip: Draft) -> tuple[list[Coupon], Coupon | None, str | None]:
    """The coupons to offer, the slip's coupon, and a notice when a `?coupon=` link could not be followed.

    A link is followed on a session's first run. The slip's coupon stays chosen when it closes (its slip is
    kept, and the closed coupon says so); it is dropped only when the engine no longer knows it."""
    first_run = "coupon_link_seen" not in state
    state.coupon_link_seen = True
    wanted = st.query_params.get("coupon") if first_run else None
    coupons = conn.open_coupons(including=wanted)
    by_id = {c.id: c for c in coupons}
    notice = None
    if wanted and wanted != slip.coupon_id:
        if wanted in by_id:
            slip.new_slip(wanted, stake=None)
        else:
            notice = link_notice(conn, wanted)
    current = by_id.get(slip.coupon_id) if slip.coupon_id else None
    if current is None and slip.coupon_id:
        try:
            current = conn.service.get_coupon(slip.coupon_id)
            coupons = sorted([*coupons, current], key=lambda c: (c.closes_at, c.id))  # the open list's order
        except TicketingError:
            current = None
    if current is None and coupons:
        current = coupons[0]
        slip.new_slip(current.id, stake=None)
    return coupons, current, notice


def link_notice(conn: Connection, wanted: str) -> str:
    try:
        coupon = conn.service.get_coupon(wanted)
    except TicketingError:
        return f"The link asked for coupon “{wanted}”: no such coupon on the ticket engine."
    zone = ZoneInfo(conn.settings.timezone)
    return (
        f"The link asked for coupon {coupon.id} ({coupon.name}): it closed at "
        f"{coupon.closes_at.astimezone(zone):%a %d %b %H:%M} and cannot be sold."
    )


def sync_widgets(slip: Draft) -> None:
    """Widgets show the draft: after a page change or a reload Streamlit has forgotten their values."""
    for key, value in (
        ("coupon_id", slip.coupon_id),
        ("stake", slip.stake),
        ("pick_string", slip.pick_string),
        ("player_token", slip.player_token),
    ):
        if state.get(key) != value:
            state[key] = value


def top_bar(conn: Connection, coupons: list[Coupon], coupon: Coupon, slip: Draft) -> None:
    """One row that wraps on a narrow screen rather than squeezing its labels."""
    by_id = {c.id: c for c in coupons}
    fixed = coupon.stake_rules.fixed_stake is not None
    with st.container(horizontal=True, vertical_alignment="bottom", gap="small", key="top-bar"):
        labels = conn.derived(
            "coupon_labels", coupons, lambda: {cid: coupon_label(conn, c) for cid, c in by_id.items()}
        )
        st.selectbox(
            "Coupon",
            list(by_id),
            key="coupon_id",
            format_func=labels.__getitem__,
            on_change=choose_coupon,
            args=(tuple(by_id),),
            width=330,
        )
        st.text_input(
            "Pick string (1, X or 0, 2), then Enter",
            key="pick_string",
            placeholder=f"{len(coupon.events)} picks, e.g. {'1X2' * 2}…",
            on_change=apply_pick_string,
            args=(conn, coupon.id),
            width="stretch",
        )
        st.text_input(
            f"Stake ({coupon.currency}){', fixed' if fixed else ''}",
            key="stake",
            disabled=fixed,
            on_change=typed_stake,
            width=120,
        )
        if slip.token_field or slip.player_token:
            st.text_input(
                "Player token",
                key="player_token",
                type="password",
                on_change=typed_token,
                placeholder="this sale only",
                help="Sell on a registered player's account instead of the shop's, for this sale only.",
                width=160,
            )
        else:
            st.button(
                "Player account",
                key="show_token",
                icon=":material/person:",
                on_click=show_token_field,
                shortcut="Alt+K",
                help="Sell on a registered player's account instead of the shop's (Alt+K)",
            )
        st.button(
            "Quick pick",
            key="quick_pick",
            icon=":material/casino:",
            on_click=apply_quick_pick,
            args=(conn, coupon.id),
            shortcut="Alt+Q",
            help="Alt+Q",
        )
        st.button(
            "Clear", key="clear", icon=":material/backspace:", on_click=clear_picks, shortcut="Alt+X", help="Alt+X"
        )


def recent_tickets(conn: Connection) -> None:
    if not conn.sold:
        return
    zone = ZoneInfo(conn.settings.timezone)
    with st.container(horizontal=True, vertical_alignment="center", key="recent"):
        st.markdown(
            "**Last tickets of this till:** "
            + " · ".join(
                f"`{ticket.code}` {ticket.created.astimezone(zone):%H:%M} {format_money(ticket.stake, ticket.currency)}"
                for ticket, _ in conn.sold
            ),
            width="stretch",
        )
        st.button(
            "Reprint last ticket",
            key="reprint_last",
            icon=":material/print:",
            on_click=reprint_last,
            args=(conn,),
            shortcut="Alt+L",
        )
    if draft().reprint:
        reprint_dialog(conn)


def sell_screen(conn: Connection, slip: Draft) -> None:
    coupons, coupon, notice = resolve_coupon(conn, slip)
    if coupon is None:
        st.info("No coupon is open for sale right now.")
        return
    if st.query_params.get("coupon") != coupon.id:
        st.query_params["coupon"] = coupon.id
    if slip.stake is None or coupon.stake_rules.fixed_stake is not None:
        slip.stake = default_stake(coupon)
    if state.get("focus_target") not in ("pick", "stake", "token"):  # a first visit, or back from another page
        request_focus("pick")
    sync_widgets(slip)
    top_bar(conn, coupons, coupon, slip)
    if notice:
        st.warning(md_escape(notice) + f" Showing coupon {coupon.id}.", icon=":material/link_off:")
    if slip.pick_string_error:
        st.error(
            f"Pick string not used, the slip is cleared: {md_escape(slip.pick_string_error)}",
            icon=":material/keyboard:",
        )
    if seed := quick_pick_seed():
        st.caption(f"Quick pick seed `{md_escape(seed)}`")
    live_slip(conn, coupon.id, ZoneInfo(conn.settings.timezone))
    recent_tickets(conn)
    if slip.moved:
        odds_changed_dialog(conn, coupon, slip)
    keyboard(on_sell_key=sell_key, picks=len(coupon.events), taken=slip.keyed_at, slip=slip.sale_key)


def receipt_screen(conn: Connection, slip: Draft) -> None:
    ticket = slip.receipt
    cancelled_before = cancelled_here(RECEIPT_CANCEL, ticket.code)
    if cancelled_before is None:
        st.success(f"Ticket sold: **{ticket.code}**", icon=":material/check_circle:")
    left, right = st.columns([2, 3])
    with left:
        st.markdown(f"# :blue[{ticket.code}]")
        money_at_the_counter(ticket, cancelled_before, slip.player_token.strip())
        st.button(
            "New ticket",
            key="new_ticket",
            type="primary",
            icon=":material/add:",
            on_click=new_ticket,
            shortcut="Alt+N",
            width="stretch",
        )
        st.caption("Alt+P prints the receipt · Alt+N starts the next ticket on the same coupon and stake")
        calls = after_sale(conn)
        cancelled = cancel_control(calls, ticket, conn.settings.timezone, key=RECEIPT_CANCEL)
        recent_tickets(conn)
    with right:
        until = None if cancelled else cancellable_until(calls, ticket, slip.receipt_coupon)
        shown = cancelled or ticket  # once cancelled, its receipt says so
        show_receipt(receipt_of(conn, shown, slip.receipt_coupon, cancellable_until=until), key="receipt")
    keyboard(taken=slip.keyed_at)  # no Ctrl+Enter press is made here (no Sell button): only the last one's answer


def money_at_the_counter(ticket: Ticket, cancelled: Ticket | None, player: str) -> None:
    """What the cashier takes or gives: the stake to collect, or once the ticket is cancelled its refund (never
    both on one screen: a cashier could take the stake and refund it)."""
    money = format_money(ticket.stake, ticket.currency)
    if cancelled is not None:
        refund = format_money(cancelled.settlement.refund, ticket.currency)
        if cancelled.settlement.credited:
            st.metric("Refund credited back to the account it was paid from", refund)
            st.caption("Nothing to give back in cash. The ticket is cancelled: it is not valid.")
        else:
            st.metric("Give back to the customer", refund)
            st.caption("The ticket is cancelled: it is not valid. Take its receipt back.")
        return
    if player:  # the stake is already taken from the player's account: no cash changes hands
        st.metric(f"Taken from the player's account {mask_token(player)}", money)
        st.caption("Nothing to collect: the stake is paid from the account.")
    else:
        st.metric("Collect from the customer", money)
    st.caption(f"Net payout if it wins {format_money(ticket.net_payout, ticket.currency)} · ticket id {ticket.id}")


def sell_page() -> None:
    with plain_errors("the sell screen"):
        conn = connection()
        slip = session_draft()
        if slip.receipt is not None:
            receipt_screen(conn, slip)
        else:
            sell_screen(conn, slip)
