"""The business rules of a jackpot ticket, as pure functions over the request and the coupon's current state.

`validate_ticket` runs them in a fixed order and returns the picks priced at the current odds, or raises the
first rule's typed error. No I/O here: the engine calls it inside the transaction that stores the ticket.
"""

from datetime import datetime
from decimal import Decimal

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


def resolve_picks(request: TicketRequest, coupon: Coupon) -> tuple[list[int], list[Decimal] | None]:
    """Each coupon event's bet and, when the request carried them, the odds the player saw: two lists in coupon
    order, every coupon event exactly once. Plain lists, no object a pick: a sale builds up to 64 of them."""
    expected = len(coupon.events)
    if request.bets is not None:
        if len(request.bets) != expected:
            raise WrongPicks(
                f"Coupon {coupon.id} has {expected} events: expected {expected} bets, got {len(request.bets)}",
                expected=expected,
            )
        return request.bets, None

    on_coupon = {event.id for event in coupon.events}
    by_id: dict[int, PickedEvent] = {}
    for pick in request.events or []:
        if pick.id not in on_coupon:
            raise EventNotAvailable(f"Could not create ticket. Event {pick.id} is not available", event_id=pick.id)
        if pick.id in by_id:
            raise WrongPicks(f"Event {pick.id} is picked more than once", event_id=pick.id)
        by_id[pick.id] = pick
    missing = [event.id for event in coupon.events if event.id not in by_id]
    if missing:
        raise WrongPicks(
            f"Coupon {coupon.id} has {expected} events: no pick for event(s) {', '.join(map(str, missing))}",
            expected=expected,
            missing=missing,
        )
    picks = [by_id[event.id] for event in coupon.events]
    return [pick.bet for pick in picks], [pick.odds for pick in picks]


def check_events_available(coupon: Coupon) -> None:
    for event in coupon.events:
        if event.status != EventStatus.AVAILABLE:
            raise EventNotAvailable(f"Could not create ticket. Event {event.id} is not available", event_id=event.id)


def price_picks(
    coupon: Coupon, bets: list[int], seen_odds: list[Decimal] | None, odds_diff: Decimal
) -> list[TicketEvent]:
    """Each pick (in coupon order, as `resolve_picks` gives them) at the coupon's current odds; raises `OddsChanged`
    naming every pick that moved too far from the odds the player saw."""
    priced: list[TicketEvent] = []
    for event, bet in zip(coupon.events, bets, strict=True):
        current = event.odds.get(bet)
        if current is None:
            raise BetNotOffered(f"Bet {bet} is not offered for event {event.id}", event_id=event.id, bet=bet)
        # Ids, bets and odds all come from validated models: nothing to check again.
        priced.append(ticket_event(event.id, bet, current))
    if seen_odds is not None:
        moved = [
            {"id": pick.id, "bet": pick.bet, "odds": seen, "current_odds": pick.odds}
            for pick, seen in zip(priced, seen_odds, strict=True)
            if abs(pick.odds - seen) > odds_diff
        ]
        if moved:
            raise OddsChanged(events=moved)
    return priced


def validate_ticket(request: TicketRequest, coupon: Coupon, operator_currency: str, now: datetime) -> list[TicketEvent]:
    check_type_supported(request)
    check_coupon_open(coupon, now)
    check_currency(request.currency, coupon, operator_currency)
    check_stake(request.stake, coupon.stake_rules, request.currency)
    bets, seen_odds = resolve_picks(request, coupon)
    check_events_available(coupon)
    return price_picks(coupon, bets, seen_odds, request.odds_diff)
