"""The betting slip a terminal builds before it sells: picks, keyboard pick strings, quick picks, the live summary.

Pure functions over a coupon: the terminal shows `summarize_slip`, which prices with the engine's own
`price_ticket`, so the screen and the stored ticket cannot disagree.
"""

import random
import re
from decimal import Decimal

from pydantic import BaseModel

from ticketing.contract.models import (
    BETS_BY_LABEL,
    PICK_LABELS,
    Coupon,
    EventStatus,
    PickedEvent,
    TicketRequest,
    TicketSource,
    TicketType,
)
from ticketing.contract.money import round_odds
from ticketing.selling.pricing import Price, TaxProfile, price_ticket

PICK_STRING_CHARS = {**BETS_BY_LABEL, "0": BETS_BY_LABEL["X"]}
"""Keyboard entry: 1, X (or 0 on a numeric keypad) and 2."""

Picks = dict[int, int]
"""event id -> bet id"""


class PickStringError(ValueError):
    pass


def parse_pick_string(text: str, coupon: Coupon) -> Picks:
    """`1X21X20` -> picks in coupon order. Case, spaces and a leading `JP` are ignored."""
    cleaned = "".join(text.split()).upper()
    if cleaned.startswith("JP"):
        cleaned = cleaned[2:]
    wrong = [f"'{ch}' at position {i}" for i, ch in enumerate(cleaned, start=1) if ch not in PICK_STRING_CHARS]
    if wrong:
        raise PickStringError(f"Only 1, X (or 0) and 2 are picks: {', '.join(wrong)}")
    if len(cleaned) != len(coupon.events):
        raise PickStringError(f"{len(coupon.events)} picks needed, got {len(cleaned)}")
    return {event.id: PICK_STRING_CHARS[ch] for event, ch in zip(coupon.events, cleaned, strict=True)}


def pick_string(coupon: Coupon, picks: Picks) -> str:
    return "".join(PICK_LABELS.get(picks.get(event.id), "-") for event in coupon.events)


def quick_pick(coupon: Coupon, rng: random.Random) -> Picks:
    """A random pick for every open event, weighted like a punter: favourites more often."""
    picks = {}
    for event in coupon.events:
        if event.status == EventStatus.AVAILABLE:
            bets = sorted(event.odds)
            picks[event.id] = rng.choices(bets, weights=[float(1 / event.odds[b]) for b in bets])[0]
    return picks


def open_picks(coupon: Coupon, picks: Picks) -> Picks:
    """The picks still valid for this coupon: known events that are available."""
    return {e.id: picks[e.id] for e in coupon.events if e.id in picks and e.status == EventStatus.AVAILABLE}


class SlipSummary(BaseModel):
    picked: int
    needed: int
    total_odds: Decimal | None
    price: Price | None
    problems: list[str]

    @property
    def ready(self) -> bool:
        return not self.problems


class StakeError(ValueError):
    pass


_THOUSANDS = re.compile(r"\d{1,3}(,\d{3})+(\.\d+)?")
_AMOUNT = re.compile(r"\d+(\.\d+)?")


def parse_stake(text: str) -> Decimal:
    """A stake as the cashier typed it (`50`, `50.5`, `1,500.00`), exactly: never rounded, so the slip, the ticket
    and the field show one amount. More than 2 decimals is refused, not rounded."""
    cleaned = text.strip()
    if not cleaned:
        raise StakeError("Stake: enter an amount")
    if _THOUSANDS.fullmatch(cleaned):
        cleaned = cleaned.replace(",", "")
    if cleaned.startswith("-"):
        raise StakeError(f"Stake: {text.strip()} is not an amount above 0")
    if not _AMOUNT.fullmatch(cleaned):
        raise StakeError(f"Stake: {text.strip()!r} is not an amount: type digits and a point, e.g. 50 or 50.50")
    amount = Decimal(cleaned)
    if amount != amount.quantize(Decimal("0.01")):
        raise StakeError(f"Stake: {cleaned} has more than 2 decimals: type whole cents, e.g. {amount:.2f}")
    return amount


def stake_problem(coupon: Coupon, stake: Decimal | None) -> str | None:
    rules = coupon.stake_rules
    if stake is None:
        return "Stake: enter an amount"
    if stake <= 0:
        return f"Stake: {stake:,.2f} is not an amount above 0"
    if stake != stake.quantize(Decimal("0.01")):
        return f"Stake: {stake} has more than 2 decimals"
    if not rules.allows(stake):
        if rules.fixed_stake is not None:
            return f"Stake: this coupon takes exactly {rules.fixed_stake:,.2f}"
        if stake < rules.min_stake:
            return f"Stake: {stake:,.2f} is below this coupon's minimum {rules.min_stake:,.2f}"
        return f"Stake: {stake:,.2f} is above this coupon's maximum {rules.max_stake:,.2f}"
    return None


def summarize_slip(
    coupon: Coupon,
    picks: Picks,
    stake: Decimal | None,
    profile: TaxProfile,
    cap: Decimal | None,
    stake_error: str | None = None,
) -> SlipSummary:
    """Priced only when every event is picked and the stake is one the engine would take: a payout on screen is
    always the payout of a ticket that can be sold, capped as the engine caps it (`payout_cap`). `stake_error` is
    why the typed stake could not be read."""
    valid = open_picks(coupon, picks)
    problems = [
        f"Event {number}, {event.fixture}, is {event.status.value}: this coupon cannot be sold now"
        for number, event in enumerate(coupon.events, start=1)
        if event.status != EventStatus.AVAILABLE
    ]
    if len(valid) < len(coupon.events) and not problems:
        left = [str(n) for n, event in enumerate(coupon.events, start=1) if event.id not in valid]
        problems.append(f"Pick every event: {len(left)} left ({', '.join(left)})")
    problem = stake_error or stake_problem(coupon, stake)
    if problem:
        problems.append(problem)
    price = None
    if len(valid) == len(coupon.events) and problem is None:
        odds = [coupon.event(event_id).odds[bet] for event_id, bet in valid.items()]
        price = price_ticket(stake, odds, profile, cap)
    total = price.total_odds if price else None
    return SlipSummary(
        picked=len(valid),
        needed=len(coupon.events),
        total_odds=round_odds(total) if total is not None else None,
        price=price,
        problems=problems,
    )


def ticket_request(
    coupon: Coupon,
    picks: Picks,
    shown_odds: dict[int, dict[int, Decimal]],
    stake: Decimal,
    operator: str,
    token: str,
    odds_diff: Decimal,
) -> TicketRequest:
    """The `events` shape, carrying the odds the cashier saw, so the engine enforces `odds_diff` against them."""
    events = [
        PickedEvent(id=event.id, bet=picks[event.id], odds=shown_odds[event.id][picks[event.id]])
        for event in coupon.events
    ]
    return TicketRequest(
        operator=operator,
        stake=stake,
        currency=coupon.currency,
        source=TicketSource.RETAIL,
        type=TicketType.JACKPOT,
        token=token,
        odds_diff=odds_diff,
        coupon_id=coupon.id,
        events=events,
    )
