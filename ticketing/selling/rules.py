"""The business rules of a jackpot ticket, as pure functions over the request and the coupon's current state.

`validate_ticket` runs them in a fixed order and returns the picks at the current odds with the product of those
odds, or raises the first rule's typed error. No I/O here: the engine calls it inside the transaction that stores the
ticket. What a sale checks a coupon against is worked out once a coupon model (`coupon_on_sale`): a sale of 17
events is checked in ~5 µs and priced in as many again (README "Performance", the eleventh pass).
"""

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from math import lcm, prod
from operator import itemgetter
from typing import NamedTuple

from ticketing.contract.errors import (
    BetNotOffered,
    CouponClosed,
    CurrencyNotAccepted,
    EventNotAvailable,
    FeatureNotImplemented,
    OddsChanged,
    StakeOutOfLimits,
    WrongPicks,
)
from ticketing.contract.models import (
    Coupon,
    EventStatus,
    PickedEvent,
    StakeRules,
    TicketEvent,
    TicketRequest,
    TicketType,
    ticket_event,
)


def check_type_supported(request: TicketRequest) -> None:
    if request.type != TicketType.JACKPOT:
        raise FeatureNotImplemented(f"{request.type.value} feature not implemented yet")


def check_coupon_open(coupon: Coupon, now: datetime) -> None:
    if not coupon.is_open_at(now):
        raise CouponClosed(f"Coupon {coupon.id} is closed", coupon_id=coupon.id)


def check_currency(currency: str, coupon: Coupon, operator_currency: str) -> None:
    if currency != operator_currency or currency != coupon.currency:
        raise CurrencyNotAccepted(
            f"Currency {currency} is not accepted: coupon {coupon.id} is sold in {coupon.currency}",
            currency=currency,
        )


def check_stake(stake: Decimal, rules: StakeRules, currency: str) -> None:
    if rules.allows(stake):
        return
    if rules.fixed_stake is not None:
        message = f"Stake {stake:.2f} {currency} not allowed: this coupon takes exactly {rules.fixed_stake:.2f}"
    else:
        message = (
            f"Stake {stake:.2f} {currency} is outside the coupon's limits "
            f"{rules.min_stake:.2f} to {rules.max_stake:.2f}"
        )
    raise StakeOutOfLimits(message, min_stake=rules.min_stake, max_stake=rules.max_stake)


@dataclass(frozen=True, slots=True)
class CouponOnSale:
    """A coupon as a sale checks and prices it, worked out once a coupon model (`coupon_on_sale`), not once a sale:
    for each event in coupon order, its bets, each with the pick it makes at the current odds (one frozen
    `TicketEvent`, shared by every ticket sold on this model) and those odds as a whole number of units of a size
    common to the coupon (hundredths for odds of two decimals), so that the product of a sale's odds is the product
    of their units over `odds_den`, exactly; the events' ids in coupon order, and each one's position; the first
    event not available."""

    coupon: Coupon
    offered: tuple[dict[int, tuple[TicketEvent, int]], ...]
    odds_den: int
    event_ids: list[int]
    positions: dict[int, int]
    unavailable: int | None


class CheckedPicks(NamedTuple):
    """A sale's picks, in coupon order, at the current odds, and the product of those odds as a fraction of two
    integers: what `price_in_cents` prices."""

    events: list[TicketEvent]
    odds_num: int
    odds_den: int


MAX_COUPONS_ON_SALE = 64
"""More than the coupons on sale at once, each at its latest odds (a model left behind by an odds move is kept until
the cache is full, then all are worked out again: ~140 µs for 17 events, once a model)."""

_on_sale: dict[int, CouponOnSale] = {}


def coupon_on_sale(coupon: Coupon) -> CouponOnSale:
    """The coupon's `CouponOnSale`, kept by the model's identity, not its id: an odds move is a new model (the store
    builds one from the changed rows) and a model is never changed in place, so what was worked out from one cannot
    go stale. The model is kept with it, so its identity cannot pass to another model while kept."""
    key = id(coupon)
    kept = _on_sale.get(key)
    if kept is not None:
        return kept
    if len(_on_sale) >= MAX_COUPONS_ON_SALE:
        _on_sale.clear()
    unavailable = next((event.id for event in coupon.events if event.status != EventStatus.AVAILABLE), None)
    ratios = [{bet: odds.as_integer_ratio() for bet, odds in event.odds.items()} for event in coupon.events]
    scale = lcm(*(den for offered in ratios for _num, den in offered.values()))
    worked_out = CouponOnSale(
        coupon=coupon,
        offered=tuple(
            {
                bet: (ticket_event(event.id, bet, odds), num * (scale // den))
                for (bet, odds), (num, den) in zip(event.odds.items(), offered.values(), strict=True)
            }
            for event, offered in zip(coupon.events, ratios, strict=True)
        ),
        odds_den=scale ** len(coupon.events),
        event_ids=[event.id for event in coupon.events],
        positions={event.id: position for position, event in enumerate(coupon.events)},
        unavailable=unavailable,
    )
    _on_sale[key] = worked_out
    return worked_out


def resolve_picks(request: TicketRequest, on_sale: CouponOnSale) -> tuple[list[int], list[Decimal] | None]:
    """Each coupon event's bet and, when the request carried them, the odds the player saw: two lists in coupon
    order, every coupon event exactly once. Plain lists, no object a pick: a sale builds up to 64 of them."""
    expected = len(on_sale.event_ids)
    if request.bets is not None:
        if len(request.bets) != expected:
            raise WrongPicks(
                f"Coupon {on_sale.coupon.id} has {expected} events: expected {expected} bets, got {len(request.bets)}",
                expected=expected,
            )
        return request.bets, None

    picks = request.events or []
    if [pick.id for pick in picks] != on_sale.event_ids:
        picks = _in_coupon_order(picks, on_sale)
    return [pick.bet for pick in picks], [pick.odds for pick in picks]


def _in_coupon_order(picks: list[PickedEvent], on_sale: CouponOnSale) -> list[PickedEvent]:
    """The `events` shape's picks in coupon order (a terminal sends them so: `resolve_picks` looks no further), or
    the first thing wrong with them: an event not on the coupon, an event picked twice, events without a pick."""
    coupon = on_sale.coupon
    in_place: list[PickedEvent | None] = [None] * len(on_sale.event_ids)
    for pick in picks:
        position = on_sale.positions.get(pick.id)
        if position is None:
            raise EventNotAvailable(f"Could not create ticket. Event {pick.id} is not available", event_id=pick.id)
        if in_place[position] is not None:
            raise WrongPicks(f"Event {pick.id} is picked more than once", event_id=pick.id)
        in_place[position] = pick
    missing = [event_id for event_id, pick in zip(on_sale.event_ids, in_place, strict=True) if pick is None]
    if missing:
        expected = len(on_sale.event_ids)
        raise WrongPicks(
            f"Coupon {coupon.id} has {expected} events: no pick for event(s) {', '.join(map(str, missing))}",
            expected=expected,
            missing=missing,
        )
    return in_place


def check_events_available(on_sale: CouponOnSale) -> None:
    if on_sale.unavailable is not None:
        event_id = on_sale.unavailable
        raise EventNotAvailable(f"Could not create ticket. Event {event_id} is not available", event_id=event_id)


def price_picks(
    on_sale: CouponOnSale, bets: list[int], seen_odds: list[Decimal] | None, odds_diff: Decimal
) -> CheckedPicks:
    """Each pick (in coupon order, as `resolve_picks` gives them) at the coupon's current odds, with the exact product
    of those odds; raises `OddsChanged` naming every pick that moved too far from the odds the player saw."""
    found = list(map(dict.get, on_sale.offered, bets))
    if None in found:
        event, bet = next((e, b) for e, b, f in zip(on_sale.coupon.events, bets, found, strict=True) if f is None)
        raise BetNotOffered(f"Bet {bet} is not offered for event {event.id}", event_id=event.id, bet=bet)
    priced = [pick for pick, _units in found]
    if seen_odds is not None:
        moved = [
            {"id": pick.id, "bet": pick.bet, "odds": seen, "current_odds": pick.odds}
            for pick, seen in zip(priced, seen_odds, strict=True)
            if seen != pick.odds and abs(pick.odds - seen) > odds_diff
        ]
        if moved:
            raise OddsChanged(events=moved)
    return CheckedPicks(priced, prod(map(itemgetter(1), found)), on_sale.odds_den)


def validate_ticket(request: TicketRequest, coupon: Coupon, operator_currency: str, now: datetime) -> CheckedPicks:
    check_type_supported(request)
    check_coupon_open(coupon, now)
    check_currency(request.currency, coupon, operator_currency)
    check_stake(request.stake, coupon.stake_rules, request.currency)
    on_sale = coupon_on_sale(coupon)
    bets, seen_odds = resolve_picks(request, on_sale)
    check_events_available(on_sale)
    return price_picks(on_sale, bets, seen_odds, request.odds_diff)
