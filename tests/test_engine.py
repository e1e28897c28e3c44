"""The in-process engine on SQLite: one transaction per sale, idempotency, debits, lookups."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal as D

import pytest
from sqlalchemy import inspect, text

from tests.support import SITE_FEED, SITE_TILL, FixedClock, sample_request
from ticketing.access.acting import ActingEngine
from ticketing.access.roles import Actor, Role
from ticketing.contract.errors import (
    CouponClosed,
    IdempotencyKeyReused,
    InsufficientBalance,
    InvalidToken,
    OddsChanged,
    OperatorNotFound,
    TicketNotFound,
)
from ticketing.contract.models import EventStatus, EventUpdate, TicketQuery
from ticketing.demo.data import PLAYER_TOKEN, SAMPLE_TOKEN
from ticketing.engine import OPERATOR_CACHE_SECONDS
from ticketing.odds.simulator import MAX_ODDS, MIN_ODDS, OddsSimulator


def test_sample_request_sells_and_debits(engine):
    before = engine.balance(SITE_TILL, SAMPLE_TOKEN)
    ticket = engine.create_ticket(SITE_TILL, sample_request())
    assert ticket.status == "new" and ticket.result == "pending" and ticket.approved
    assert ticket.source == "sms" and ticket.coupon_id == "455" and len(ticket.events) == 7
    assert engine.balance(SITE_TILL, SAMPLE_TOKEN) == before - D("25.00")
    assert engine.get_ticket(SITE_TILL, ticket.code) == ticket
    assert engine.get_ticket(SITE_TILL, ticket.id) == ticket
    assert engine.get_ticket(SITE_TILL, f" {ticket.code.lower()[:3]} {ticket.code.lower()[3:]} ") == ticket


def test_stored_ticket_keeps_the_odds_it_was_priced_at_and_the_next_sale_takes_the_new_odds(engine):
    ticket = engine.create_ticket(SITE_TILL, sample_request())
    first = engine.get_coupon(SITE_TILL, "455").events[0]
    engine.update_event(SITE_FEED, "455", first.id, EventUpdate(odds={101: first.odds[101] + D("1.00")}))
    assert engine.get_ticket(SITE_TILL, ticket.code).events[0].odds == first.odds[101]
    after = engine.create_ticket(SITE_TILL, sample_request())
    assert after.events[0].odds == first.odds[101] + D("1.00")
    assert after.payout > ticket.payout


def test_idempotent_repeat_returns_the_first_ticket_without_a_second_debit(engine):
    before = engine.balance(SITE_TILL, SAMPLE_TOKEN)
    first = engine.create_ticket(SITE_TILL, sample_request(), idempotency_key="draft-1")
    again = engine.create_ticket(SITE_TILL, sample_request(), idempotency_key="draft-1")
    assert again == first
    assert engine.balance(SITE_TILL, SAMPLE_TOKEN) == before - D("25.00")
    with pytest.raises(IdempotencyKeyReused):
        engine.create_ticket(SITE_TILL, sample_request(stake=30), idempotency_key="draft-1")
    assert len(engine.list_tickets(SITE_TILL, TicketQuery(operator="site", limit=100))) == 1


def test_a_refused_sale_writes_nothing(engine):
    before = engine.balance(SITE_TILL, SAMPLE_TOKEN)
    engine.update_event(SITE_FEED, "455", 390815, EventUpdate(status=EventStatus.SUSPENDED))
    with pytest.raises(Exception, match="Event 390815 is not available"):
        engine.create_ticket(SITE_TILL, sample_request(), idempotency_key="k")
    assert engine.balance(SITE_TILL, SAMPLE_TOKEN) == before
    assert engine.list_tickets(SITE_TILL, TicketQuery(limit=100)) == []


def test_insufficient_balance(engine):
    with pytest.raises(InsufficientBalance):
        engine.create_ticket(SITE_TILL, sample_request(token=PLAYER_TOKEN, stake=5000.01, coupon_id=455))
    assert engine.balance(SITE_TILL, PLAYER_TOKEN) == D("5000.00")
    assert engine.list_tickets(SITE_TILL, TicketQuery(limit=10)) == [], "a refused sale stores no ticket"


def test_unknown_token_and_operator(engine):
    with pytest.raises(InvalidToken):
        engine.create_ticket(SITE_TILL, sample_request(token="nobody"))
    with pytest.raises(OperatorNotFound, match="Operator elsewhere was not found"):
        engine.create_ticket(Actor("elsewhere", Role.TILL), sample_request(operator="elsewhere"))


def test_an_operator_change_made_elsewhere_shows_within_the_cache_period_however_busy(engine, monkeypatch):
    clock = [1000.0]
    monkeypatch.setattr("ticketing.engine.time.monotonic", lambda: clock[0])
    engine.create_ticket(SITE_TILL, sample_request())
    with engine.store.write() as conn:
        operator = engine.store.load_operator(conn, "site")
        taxed = operator.tax_profile.model_copy(update={"withholding_rate": D("0.15")})
        engine.store.save_operator(conn, operator.model_copy(update={"tax_profile": taxed}))
    for _ in range(11):
        clock[0] += OPERATOR_CACHE_SECONDS / 10 - 0.01
        engine.create_ticket(SITE_TILL, sample_request())
    assert engine.get_operator("site").tax_profile.withholding_rate == D("0.15")


def test_events_shape_with_moved_odds(engine):
    coupon = engine.get_coupon(SITE_TILL, "455")
    events = [{"id": e.id, "bet": 101, "odds": e.odds[101]} for e in coupon.events]
    moved = coupon.events[2]
    engine.update_event(SITE_FEED, "455", moved.id, EventUpdate(odds={101: moved.odds[101] + D("0.05")}))
    with pytest.raises(OddsChanged) as raised:
        engine.create_ticket(SITE_TILL, sample_request(bets=None, events=events))
    assert [e["id"] for e in raised.value.details["events"]] == [moved.id]
    ticket = engine.create_ticket(SITE_TILL, sample_request(bets=None, events=events, odds_diff="0.05"))
    assert ticket.events[2].odds == moved.odds[101] + D("0.05")


def test_coupon_closed_at_its_deadline(engine):
    deadline = engine.get_coupon(SITE_TILL, "455").closes_at
    engine.clock = lambda: deadline + timedelta(seconds=1)
    with pytest.raises(CouponClosed):
        engine.create_ticket(SITE_TILL, sample_request())
    assert "455" not in [c.id for c in engine.list_open_coupons(SITE_TILL)]


def test_ticket_lookup_of_nonsense_is_not_found(engine):
    for reference in ("", "   ", "ZZZZZZ", "'; drop table tickets; --", "0" * 24, "é" * 30):
        with pytest.raises(TicketNotFound):
            engine.get_ticket(SITE_TILL, reference)


def test_list_filters(engine):
    sold = [engine.create_ticket(SITE_TILL, sample_request()) for _ in range(3)]
    engine.create_ticket(SITE_TILL, sample_request(token=PLAYER_TOKEN))
    assert len(engine.list_tickets(SITE_TILL, TicketQuery(operator="site", limit=100))) == 4
    mine = engine.list_tickets(SITE_TILL, TicketQuery(user_id=sold[0].user_id, limit=2))
    assert [t.id for t in mine] == [t.id for t in sorted(sold, key=lambda t: (t.created, t.id), reverse=True)][:2]
    assert engine.list_tickets(SITE_TILL, TicketQuery(created_from=sold[0].created + timedelta(days=1))) == []
    assert engine.list_tickets(SITE_TILL, TicketQuery(skip_types=["jackpot"])) == []


def test_demo_data_and_simulator(engine):
    coupons = {c.id: len(c.events) for c in engine.list_open_coupons(SITE_TILL)}
    assert coupons == {"455": 7, "456": 13, "457": 17}
    before = {e.id: dict(e.odds) for c in engine.list_open_coupons(SITE_TILL) for e in c.events}
    simulator = OddsSimulator(ActingEngine(engine, SITE_FEED), seed=7)
    moved = sum(simulator.tick() for _ in range(5))
    after = {e.id: dict(e.odds) for c in engine.list_open_coupons(SITE_TILL) for e in c.events}
    assert moved == 20 and before != after
    assert all(MIN_ODDS <= o <= MAX_ODDS for odds in after.values() for o in odds.values())


def test_a_ticket_code_already_taken_is_drawn_again(engine, monkeypatch):
    first = engine.create_ticket(SITE_TILL, sample_request())
    codes = iter([first.code, "WXY347"])
    # Drawn by the ticket's builder, drawn again by the engine.
    for drawn_in in ("ticketing.selling.tickets", "ticketing.engine"):
        monkeypatch.setattr(f"{drawn_in}.new_ticket_code", lambda: next(codes))
    second = engine.create_ticket(SITE_TILL, sample_request())
    assert second.code == "WXY347"
    assert len(engine.list_tickets(SITE_TILL, TicketQuery(limit=10))) == 2


def test_a_sale_at_odds_near_900_on_every_event_is_capped_and_stored(engine):
    """25 x 900^13 has 41 digits: the sale is priced exactly, capped and stored, not a 500."""
    for event in engine.get_coupon(SITE_TILL, "456").events:
        engine.update_event(SITE_FEED, "456", event.id, EventUpdate(odds={101: D("900.37")}))
    ticket = engine.create_ticket(SITE_TILL, sample_request(coupon_id="456", stake="50", bets=[101] * 13))
    assert ticket.payout == D("10000000.00") and ticket.tax == D("1999990.00")
    assert str(ticket.total_odds) == "255548424892096335477728165363142250703.33"
    assert engine.get_ticket(SITE_TILL, ticket.code) == ticket


def test_each_ticket_is_stored_with_its_own_sale_time(engine):
    """The batch writer makes a time's stored form once for all the tickets that share it: a ticket sold later must
    not be stored with an earlier sale's time."""
    start = datetime.now(UTC).replace(microsecond=0)
    times = [start, start, start + timedelta(seconds=1, microseconds=5), start]
    sold = []
    for moment in times:
        engine.clock = FixedClock(moment)
        sold.append(engine.create_ticket(SITE_TILL, sample_request(stake=str(25 + len(sold)))))
    stored = [engine.get_ticket(SITE_TILL, ticket.id) for ticket in sold]
    assert [t.created for t in stored] == times
    assert [t.created for t in sold] == times


def test_picks_have_no_foreign_key_and_a_postgresql_database_made_before_loses_its_own(engine):
    """The picks' foreign key to their ticket locked the ticket's row once a pick on PostgreSQL (README
    "Performance"): a new database is made without it, and an earlier PostgreSQL database loses it at the next start,
    its tickets and picks untouched."""
    store = engine.store
    sold = engine.create_ticket(SITE_TILL, sample_request())
    assert inspect(store.engine).get_foreign_keys("ticket_events") == []
    if store.is_sqlite:
        return
    with store.engine.begin() as conn:
        conn.execute(
            text(
                "ALTER TABLE ticket_events ADD CONSTRAINT ticket_events_ticket_id_fkey"
                " FOREIGN KEY (ticket_id) REFERENCES tickets (id) ON DELETE CASCADE"
            )
        )
    assert len(inspect(store.engine).get_foreign_keys("ticket_events")) == 1, "an earlier version's database"
    store.create_schema()
    assert inspect(store.engine).get_foreign_keys("ticket_events") == []
    assert engine.get_ticket(SITE_TILL, sold.id).events == sold.events
