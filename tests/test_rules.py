"""The pure rules, on a hand-made coupon: no database, no server."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal as D

import pytest
from pydantic import ValidationError

from ticketing.contract import wire
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
    CouponEvent,
    CouponStatus,
    EventStatus,
    StakeRules,
    Ticket,
    TicketRequest,
    TicketStatus,
    trusted,
)
from ticketing.selling.pricing import TaxProfile
from ticketing.selling.rules import validate_ticket
from ticketing.selling.tickets import priced_ticket, request_fingerprint

NOW = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)


def coupon(**changes) -> Coupon:
    events = [
        CouponEvent(
            id=1,
            home="A",
            away="B",
            competition="L",
            kickoff=NOW + timedelta(days=1),
            odds={101: D("2.10"), 102: D("3.25"), 103: D("3.40")},
        ),
        CouponEvent(
            id=2,
            home="C",
            away="D",
            competition="L",
            kickoff=NOW + timedelta(days=1),
            odds={101: D("1.50"), 102: D("4.00"), 103: D("6.00")},
        ),
    ]
    base = dict(
        id="9",
        name="Test",
        currency="KES",
        closes_at=NOW + timedelta(hours=5),
        stake_rules=StakeRules(min_stake=D(25), max_stake=D(1000)),
        events=events,
    )
    return Coupon(**(base | changes))


def request(**changes) -> TicketRequest:
    base = dict(
        operator="site",
        stake=25,
        currency="KES",
        source="retail",
        type="jackpot",
        token="t",
        coupon_id="9",
        bets=[101, 103],
    )
    return TicketRequest.model_validate(base | changes)


def test_bets_are_priced_at_the_current_odds_in_coupon_order():
    picks = validate_ticket(request(), coupon(), "KES", NOW)
    assert [(p.id, p.bet, p.odds) for p in picks.events] == [(1, 101, D("2.10")), (2, 103, D("6.00"))]
    assert D(picks.odds_num) / D(picks.odds_den) == D("12.60")


def test_events_shape_in_any_order_comes_back_in_coupon_order():
    events = [{"id": 2, "bet": 102, "odds": 4.00}, {"id": 1, "bet": 101, "odds": 2.10}]
    picks = validate_ticket(request(bets=None, events=events), coupon(), "KES", NOW)
    assert [p.id for p in picks.events] == [1, 2]


@pytest.mark.parametrize(
    "seen, tolerance, accepted",
    [
        ("2.10", "0", True),
        ("2.05", "0", False),
        ("2.05", "0.05", True),
        ("2.04", "0.05", False),
        ("2.15", "0.05", True),
        ("2.16", "0.05", False),
    ],
)
def test_odds_diff_is_absolute_per_event(seen, tolerance, accepted):
    events = [{"id": 1, "bet": 101, "odds": seen}, {"id": 2, "bet": 101, "odds": "1.50"}]
    req = request(bets=None, events=events, odds_diff=tolerance)
    if accepted:
        assert validate_ticket(req, coupon(), "KES", NOW).events[0].odds == D("2.10")
    else:
        with pytest.raises(OddsChanged) as raised:
            validate_ticket(req, coupon(), "KES", NOW)
        assert raised.value.details["events"] == [{"id": 1, "bet": 101, "odds": D(seen), "current_odds": D("2.10")}]


@pytest.mark.parametrize(
    "changes, coupon_changes, error",
    [
        ({"type": "superbet"}, {}, FeatureNotImplemented),
        ({}, {"closes_at": NOW}, CouponClosed),
        ({"currency": "UGX"}, {}, CurrencyNotAccepted),
        ({"stake": "24.99"}, {}, StakeOutOfLimits),
        ({"stake": "1000.01"}, {}, StakeOutOfLimits),
        ({"bets": [101]}, {}, WrongPicks),
        ({"bets": [101, 104]}, {}, BetNotOffered),
        ({"bets": None, "events": [{"id": 1, "bet": 101, "odds": 2.1}]}, {}, WrongPicks),
        ({"bets": None, "events": [{"id": 1, "bet": 101, "odds": 2.1}] * 2}, {}, WrongPicks),
        (
            {"bets": None, "events": [{"id": 1, "bet": 101, "odds": 2.1}, {"id": 7, "bet": 101, "odds": 2.1}]},
            {},
            EventNotAvailable,
        ),
    ],
)
def test_each_rule_raises_its_error(changes, coupon_changes, error):
    with pytest.raises(error):
        validate_ticket(request(**changes), coupon(**coupon_changes), "KES", NOW)


@pytest.mark.parametrize("status", [EventStatus.SUSPENDED, EventStatus.STARTED, EventStatus.CANCELLED])
def test_an_unavailable_event_blocks_the_ticket(status):
    with pytest.raises(EventNotAvailable, match="Event 2 is not available"):
        validate_ticket(request(), with_event(coupon(), 1, status=status), "KES", NOW)


def with_event(c: Coupon, position: int, **changes) -> Coupon:
    """The coupon with one event changed, as a new model: the store's way (coupon models are frozen)."""
    events = list(c.events)
    events[position] = events[position].model_copy(update=changes)
    return c.model_copy(update={"events": events})


def test_fixed_stake_takes_only_that_stake():
    c = coupon(stake_rules=StakeRules(min_stake=D(99), max_stake=D(99), fixed_stake=D(99)))
    assert validate_ticket(request(stake=99), c, "KES", NOW)
    with pytest.raises(StakeOutOfLimits, match="exactly 99.00"):
        validate_ticket(request(stake=100), c, "KES", NOW)


def sold(sale: TicketRequest, profile: TaxProfile, test: bool = False, on: Coupon | None = None) -> Ticket:
    """The ticket a sale of `sale` on `on` (else `coupon()`) makes."""
    return priced_ticket(
        sale,
        validate_ticket(sale, on or coupon(), "KES", NOW),
        profile,
        None,
        ticket_id="a" * 24,
        operator="site",
        coupon_id="c1",
        user_id="u",
        atag=sale.atag,
        now=NOW,
        test=test,
    )


def test_a_priced_ticket_is_written_out_as_the_same_ticket_validated():
    """`trusted` skips validation, not the model's field order: a sale's answer lists its fields as a ticket read
    back from storage does, and a request rebuilt from its values has the fingerprint of the one sent."""
    sale = request()
    ticket = sold(sale, TaxProfile())
    assert ticket.model_dump_json() == Ticket.model_validate(ticket.model_dump()).model_dump_json()
    rebuilt = trusted(TicketRequest, **dict(reversed(list(sale.model_dump().items()))))
    assert request_fingerprint(rebuilt) == request_fingerprint(sale)


@pytest.mark.parametrize("test", [False, True])
@pytest.mark.parametrize("atag", [None, "afiliate-1"])
def test_a_sale_answer_is_written_as_pydantic_writes_the_ticket(test, atag):
    """The answer of a sale is read from the ticket's fields, not through `model_dump` (`wire._unsettled_ticket`):
    byte for byte what the model's own dump gives, for a ticket made by the sale and the same ticket read back."""
    ticket = sold(request(atag=atag), TaxProfile(excise_rate=D("0.125")), test=test)
    later = NOW + timedelta(minutes=3, seconds=7)
    paid_later = ticket.model_copy(update={"status": TicketStatus.OPEN, "updated": later})
    for written in (ticket, Ticket.model_validate(ticket.model_dump()), paid_later):
        assert wire.dumps(written) == wire.ENCODER.encode(written.model_dump(mode="python"))
    assert b'"updated":"2026-11-25T10:03:07"' in wire.dumps(paid_later)
    assert b'"test"' in wire.dumps(ticket) if test else b'"test"' not in wire.dumps(ticket)


def test_a_coupon_whose_odds_moved_is_priced_at_its_own_odds_not_at_those_worked_out_before():
    """What a sale checks a coupon against is worked out once a coupon model (`coupon_on_sale`): a coupon read again
    after a move, with the same id, is another model and is checked and priced at its own odds."""
    before = coupon()
    moved = with_event(before, 0, odds=before.events[0].odds | {101: D("2.50")})
    for c, odds, payout in [(before, "2.10", "315.00"), (moved, "2.50", "375.00"), (before, "2.10", "315.00")]:
        ticket = sold(request(), TaxProfile(withholding_rate=D(0)), on=c)
        assert (ticket.events[0].odds, ticket.payout) == (D(odds), D(payout))


def test_a_coupon_cannot_be_changed_in_place_once_a_sale_has_checked_it():
    """What a sale checks a coupon's events against is worked out once a coupon model and kept by its identity
    (`coupon_on_sale`): an event suspended, its odds or the coupon's events replaced in place would still be sold as
    they were. (The coupon's own status and deadline are read on every sale.) A change is a new model."""
    c = coupon()
    sold(request(), TaxProfile(), on=c)
    with pytest.raises(ValidationError, match="frozen"):
        c.events[1].status = EventStatus.SUSPENDED
    with pytest.raises(ValidationError, match="frozen"):
        c.events[0].odds = {101: D("9.99"), 102: D("3.25"), 103: D("3.40")}
    with pytest.raises(ValidationError, match="frozen"):
        c.status = CouponStatus.CLOSED
    with pytest.raises(ValidationError, match="frozen"):
        c.events = c.events[:1]
    with pytest.raises(EventNotAvailable):
        sold(request(), TaxProfile(), on=with_event(c, 1, status=EventStatus.SUSPENDED))
    assert [e.odds for e in sold(request(), TaxProfile(), on=c).events] == [D("2.10"), D("6.00")]


def test_a_pick_of_a_sold_ticket_cannot_be_changed_in_place():
    """The tickets sold on one coupon model share its picks (`coupon_on_sale`): a pick is frozen, so changing one
    ticket's cannot change another's."""
    first, second = sold(request(), TaxProfile()), sold(request(), TaxProfile())
    with pytest.raises(ValidationError, match="frozen"):
        first.events[0].odds = D("9.99")
    assert second.events[0].odds == D("2.10")
