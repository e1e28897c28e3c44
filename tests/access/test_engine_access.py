"""Roles, owners and replays held by the engine itself (in-process, as the terminal calls it), on each backend."""

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from decimal import Decimal as D
from pathlib import Path

import pytest
from sqlalchemy import Column, Integer, MetaData, String, Table, create_engine, func, select
from sqlalchemy.exc import IntegrityError

from tests.support import (
    RIVAL_ADMIN,
    RIVAL_ADMIN_ACTOR,
    RIVAL_FEED_ACTOR,
    RIVAL_TILL,
    SITE_ADMIN,
    SITE_FEED,
    SITE_TILL,
    add_rival,
    sample_request,
    till_of,
)
from ticketing.access.credentials import revoke_credential
from ticketing.access.replays import SignedRequest, claim
from ticketing.contract import wire
from ticketing.contract.errors import (
    CouponMissing,
    CouponNotFound,
    IdempotencyKeyReused,
    InvalidSignature,
    InvalidToken,
    NotAllowed,
    OperatorNotFound,
    ReplayedRequest,
    TicketNotFound,
)
from ticketing.contract.models import EventStatus, EventUpdate, TicketQuery
from ticketing.demo.data import SAMPLE_TOKEN, seed_demo_data
from ticketing.embedded import start_simulator
from ticketing.engine import TicketEngine
from ticketing.settings import DEMO_ADMIN_SECRET, DEMO_FEED_SECRET, DEMO_SITE_SECRET, Settings
from ticketing.storage import Store, coupons, database_url, request_signatures

SAMPLES = Path(__file__).resolve().parent.parent.parent / "samples"


def rival_coupon() -> dict:
    raw = wire.loads((SAMPLES / "good_coupon.json").read_bytes())
    raw["id"] = "RIVAL-1"
    return raw


def signed(label: str) -> SignedRequest:
    return SignedRequest(f"{label:0>64}", int(time.time()) + 301)


def tickets_of(engine: TicketEngine) -> list:
    with engine.store.read() as conn:
        return engine.store.query_tickets(conn, TicketQuery(limit=10000))


# ---- roles ---------------------------------------------------------------------------------------------------------


def test_a_till_cannot_move_odds_or_suspend_events_and_nothing_is_written(engine):
    before = engine.get_coupon(SITE_TILL, "455").events[0]
    for change in (EventUpdate(odds={101: D("1000")}), EventUpdate(status=EventStatus.SUSPENDED)):
        with pytest.raises(NotAllowed, match="till credential may not set odds"):
            engine.update_event(SITE_TILL, "455", before.id, change)
    assert engine.get_coupon(SITE_TILL, "455").events[0] == before


def test_a_till_cannot_publish_and_nothing_is_written(engine):
    with pytest.raises(NotAllowed):
        engine.publish_coupon(SITE_TILL, rival_coupon())
    assert "RIVAL-1" not in [c.id for c in engine.list_open_coupons(SITE_TILL)]


def test_a_feed_moves_odds_but_cannot_publish_sell_or_read_tickets(engine):
    event = engine.update_event(SITE_FEED, "455", 390811, EventUpdate(odds={101: D("2.22")}))
    assert event.odds[101] == D("2.22")
    with pytest.raises(NotAllowed):
        engine.publish_coupon(SITE_FEED, rival_coupon())
    with pytest.raises(NotAllowed):
        engine.create_ticket(SITE_FEED, sample_request())
    with pytest.raises(NotAllowed):
        engine.list_tickets(SITE_FEED, TicketQuery())
    assert tickets_of(engine) == []


def test_an_admin_publishes_but_cannot_sell_or_read_tickets(engine):
    ticket = engine.create_ticket(SITE_TILL, sample_request())
    assert engine.publish_coupon(SITE_ADMIN, rival_coupon()).id == "RIVAL-1"
    with pytest.raises(NotAllowed):
        engine.create_ticket(SITE_ADMIN, sample_request())
    with pytest.raises(NotAllowed):
        engine.get_ticket(SITE_ADMIN, ticket.code)
    assert tickets_of(engine) == [ticket]


def test_a_credential_sells_only_for_its_own_operator(engine):
    add_rival(engine.store)
    with pytest.raises(NotAllowed, match="A credential of rival cannot sell for site"):
        engine.create_ticket(RIVAL_TILL, sample_request())
    assert tickets_of(engine) == []


# ---- credentials ---------------------------------------------------------------------------------------------------


def test_credentials_give_the_role_stored_for_them_and_only_with_their_secret(engine):
    add_rival(engine.store)
    assert engine.authenticate("site", None, DEMO_SITE_SECRET) == SITE_TILL
    assert engine.authenticate("site", "site-feed", DEMO_FEED_SECRET) == SITE_FEED
    assert engine.authenticate("site", "site-admin", DEMO_ADMIN_SECRET) == SITE_ADMIN
    for operator, key_id, secret in (
        ("site", "site-admin", DEMO_FEED_SECRET),  # another credential's secret
        ("site", "site-admin", ""),
        ("site", "no-such-key", DEMO_ADMIN_SECRET),
        ("site", RIVAL_ADMIN[0], RIVAL_ADMIN[1]),  # rival's credential named for site
        ("keyless", None, ""),  # an operator without a Betstack key has no till key
    ):
        with pytest.raises(InvalidSignature):
            engine.authenticate(operator, key_id, secret)
    with pytest.raises(OperatorNotFound):
        engine.authenticate("ghost", None, "x")


def test_a_revoked_credential_stops_at_once_and_stays_revoked_when_the_demo_is_seeded_again(engine):
    with engine.store.write() as conn:
        assert revoke_credential(conn, "site-admin", engine.clock())
    with pytest.raises(InvalidSignature, match="Unknown or revoked"):
        engine.signing_key("site", "site-admin")
    seed_demo_data(engine, DEMO_SITE_SECRET)
    with pytest.raises(InvalidSignature, match="Unknown or revoked"):
        engine.authenticate("site", "site-admin", DEMO_ADMIN_SECRET)


def test_the_demo_odds_stay_still_when_the_demo_feed_is_revoked_and_the_engine_still_serves(engine):
    with engine.store.write() as conn:
        revoke_credential(conn, "site-feed", engine.clock())
    assert start_simulator(engine, Settings(simulator=True)) is None
    assert engine.get_coupon(SITE_TILL, "455").id == "455"


# ---- owners --------------------------------------------------------------------------------------------------------


def test_another_operators_coupon_cannot_be_seen_sold_changed_or_taken_over(engine):
    add_rival(engine.store)
    engine.publish_coupon(RIVAL_ADMIN_ACTOR, rival_coupon())
    assert [c.id for c in engine.list_open_coupons(RIVAL_TILL)] == ["RIVAL-1"]
    assert "RIVAL-1" not in [c.id for c in engine.list_open_coupons(SITE_TILL)]
    assert "455" not in [c.id for c in engine.list_open_coupons(RIVAL_TILL)]
    with pytest.raises(CouponMissing):
        engine.get_coupon(SITE_TILL, "RIVAL-1")
    with pytest.raises(CouponMissing):
        engine.get_coupon(RIVAL_TILL, "455")
    before = engine.get_coupon(SITE_TILL, "455")
    with pytest.raises(CouponMissing):
        engine.update_event(RIVAL_FEED_ACTOR, "455", 390811, EventUpdate(odds={101: D("1000")}))
    hijack = rival_coupon() | {"id": "455"}
    with pytest.raises(NotAllowed, match="another operator's"):
        engine.publish_coupon(RIVAL_ADMIN_ACTOR, hijack)
    assert engine.get_coupon(SITE_TILL, "455") == before
    with pytest.raises(CouponNotFound):
        engine.create_ticket(RIVAL_TILL, sample_request(operator="rival", token="rival-token"))
    assert tickets_of(engine) == []


def test_another_operators_ticket_is_not_found(engine):
    add_rival(engine.store)
    ticket = engine.create_ticket(SITE_TILL, sample_request())
    with pytest.raises(TicketNotFound):
        engine.get_ticket(RIVAL_TILL, ticket.code)
    assert engine.list_tickets(RIVAL_TILL, TicketQuery(operator="site")) == []


def test_a_balance_is_shown_to_a_till_of_the_accounts_own_operator_only(engine):
    """The slip says how much a stake is short; another operator's account is unknown, as a token that is not."""
    add_rival(engine.store)
    assert engine.balance(SITE_TILL, SAMPLE_TOKEN) == D("10000000")
    assert engine.balance(RIVAL_TILL, "rival-token") > 0
    with pytest.raises(InvalidToken):
        engine.balance(RIVAL_TILL, SAMPLE_TOKEN)
    with pytest.raises(InvalidToken):
        engine.balance(SITE_TILL, "rival-token")
    for actor in (SITE_FEED, SITE_ADMIN):
        with pytest.raises(NotAllowed):
            engine.balance(actor, SAMPLE_TOKEN)


def test_a_database_from_before_owners_gives_its_coupons_to_its_only_operator(databases):
    url = database_url(databases.make("old"))
    before_owners = MetaData()
    old_operators = Table(
        "operators",
        before_owners,
        Column("name", String(64), primary_key=True),
        Column("currency", String(3), nullable=False),
        Column("secret", String(256)),
        Column("excise_rate_bp", Integer, nullable=False),
        Column("withholding_rate_bp", Integer, nullable=False),
    )
    old_coupons = Table(
        "coupons",
        before_owners,
        *(
            Column(column.name, column.type, primary_key=column.primary_key, nullable=column.nullable)
            for column in coupons.columns
            if column.name not in ("operator", "max_void_events")
        ),
    )
    raw = create_engine(url)
    try:
        before_owners.create_all(raw)
        with raw.begin() as conn:
            conn.execute(
                old_operators.insert().values(
                    name="site", currency="KES", secret=DEMO_SITE_SECRET, excise_rate_bp=0, withholding_rate_bp=2000
                )
            )
            conn.execute(
                old_coupons.insert().values(
                    id="OLD-1",
                    name="Before owners",
                    currency="KES",
                    status="open",
                    closes_at=datetime(2031, 5, 17, 12),
                    min_stake_cents=2500,
                    max_stake_cents=100000,
                )
            )
    finally:
        raw.dispose()
    store = Store(url)
    store.create_schema()
    engine = TicketEngine(store)
    try:
        assert engine.get_coupon(SITE_TILL, "OLD-1").name == "Before owners"
    finally:
        engine.close()


# ---- replays -------------------------------------------------------------------------------------------------------


def test_a_replayed_signed_sale_answers_the_first_ticket_without_a_second_debit(engine):
    before = engine.balance(SITE_TILL, SAMPLE_TOKEN)
    first = engine.create_ticket(SITE_TILL, sample_request(), signed=signed("a1"))
    for key in (None, "another-key"):
        assert engine.create_ticket(SITE_TILL, sample_request(), key, signed=signed("a1")) == first
    assert engine.balance(SITE_TILL, SAMPLE_TOKEN) == before - D("25.00")
    assert tickets_of(engine) == [first]


def test_a_retry_answered_by_its_idempotency_key_is_answered_the_same_when_replayed(engine):
    first = engine.create_ticket(SITE_TILL, sample_request(), "draft-7", signed=signed("b1"))
    retry = engine.create_ticket(SITE_TILL, sample_request(), "draft-7", signed=signed("b2"))
    assert retry == first == engine.create_ticket(SITE_TILL, sample_request(), signed=signed("b2"))
    assert tickets_of(engine) == [first]


def test_an_idempotency_key_one_till_used_does_not_answer_another_tills_sale(engine):
    """Each till's keys are its own. Another till sending the same key and body is refused (112), not handed the
    first till's ticket: its cash is in the first till's drawer, which the second till's shift does not count, and
    only the first till may cancel it (found by a hostile review). The first till's retry still gets its ticket."""
    first = engine.create_ticket(SITE_TILL, sample_request(), "draft-9")
    other = till_of("till-2")
    engine.open_shift(other, D("0"))
    with pytest.raises(IdempotencyKeyReused, match="another till"):
        engine.create_ticket(other, sample_request(), "draft-9")
    assert engine.create_ticket(SITE_TILL, sample_request(), "draft-9") == first
    assert tickets_of(engine) == [first]
    assert engine.current_shift(other).stakes == D("0.00")


def test_a_replay_of_a_refused_sale_is_refused_even_when_it_would_sell_now(engine):
    engine.update_event(SITE_FEED, "455", 390815, EventUpdate(status=EventStatus.SUSPENDED))
    with pytest.raises(Exception, match="390815 is not available"):
        engine.create_ticket(SITE_TILL, sample_request(), signed=signed("c1"))
    engine.update_event(SITE_FEED, "455", 390815, EventUpdate(status=EventStatus.AVAILABLE))
    with pytest.raises(ReplayedRequest, match="refused"):
        engine.create_ticket(SITE_TILL, sample_request(), signed=signed("c1"))
    assert tickets_of(engine) == []
    assert engine.create_ticket(SITE_TILL, sample_request(), signed=signed("c2")).coupon_id == "455"


def test_a_refused_sale_keeps_its_claim_when_it_is_rerun_alone(engine, monkeypatch):
    """A batch that loses a race is rerun sale by sale: a sale refused then still leaves its claim behind."""
    real_read_ahead, calls = engine.sales.read_ahead, []

    def claim_after_losing_a_race(conn, **reads):
        calls.append(reads)
        if len(calls) == 1:
            raise IntegrityError("INSERT INTO request_signatures", {}, Exception("lost a race"))
        return real_read_ahead(conn, **reads)

    monkeypatch.setattr(engine.sales, "read_ahead", claim_after_losing_a_race)
    engine.update_event(SITE_FEED, "455", 390815, EventUpdate(status=EventStatus.SUSPENDED))
    with pytest.raises(Exception, match="390815 is not available"):
        engine.create_ticket(SITE_TILL, sample_request(), signed=signed("r1"))
    assert len(calls) == 2, "run again alone after the lost race"
    engine.update_event(SITE_FEED, "455", 390815, EventUpdate(status=EventStatus.AVAILABLE))
    with pytest.raises(ReplayedRequest):
        engine.create_ticket(SITE_TILL, sample_request(), signed=signed("r1"))
    assert tickets_of(engine) == []


def test_identical_signed_sales_racing_in_two_engine_processes_sell_once(engine):
    """Two engines on one database stand for two uvicorn workers: the claim is what they share."""
    other = TicketEngine(Store(engine.store.url))
    try:
        before = engine.balance(SITE_TILL, SAMPLE_TOKEN)
        start = threading.Barrier(8)

        def sell(n: int):
            start.wait()
            return (engine if n % 2 else other).create_ticket(SITE_TILL, sample_request(), signed=signed("d1"))

        with ThreadPoolExecutor(8) as pool:
            answers = list(pool.map(sell, range(8)))
    finally:
        other.close()
    assert len({ticket.id for ticket in answers}) == 1
    assert engine.balance(SITE_TILL, SAMPLE_TOKEN) == before - D("25.00")
    assert len(tickets_of(engine)) == 1


def test_identical_signed_sales_in_one_batch_sell_once(engine):
    """What the race above makes likely, made certain: the same signed sale three times in one batch (as the sale
    writer process writes what it was sent together) is one ticket, answered to all three."""
    before = engine.balance(SITE_TILL, SAMPLE_TOKEN)
    sales = [engine.new_sale(SITE_TILL, sample_request(), None, signed("d2")) for _ in range(3)]
    outcomes = engine.write_sales(sales)
    assert [failed for _ticket, failed in outcomes] == [False] * 3, outcomes
    assert len({ticket.id for ticket, _failed in outcomes}) == 1
    assert engine.balance(SITE_TILL, SAMPLE_TOKEN) == before - D("25.00")
    assert len(tickets_of(engine)) == 1


def test_a_replayed_management_request_is_refused(engine):
    engine.claim_request(SITE_FEED, signed("e1"))
    with pytest.raises(ReplayedRequest):
        engine.claim_request(SITE_FEED, signed("e1"))
    engine.claim_request(SITE_FEED, signed("e2"))


def test_signatures_are_remembered_only_for_their_window(engine):
    expired = SignedRequest("f" * 64, int(time.time()) - 120)
    with engine.store.write() as conn:
        assert claim(conn, "site", expired)
    engine.claim_request(SITE_FEED, signed("f1"))
    with engine.store.read() as conn:
        left = conn.execute(select(request_signatures.c.signature)).scalars().all()
    assert left == [signed("f1").signature]


def test_every_demo_coupon_belongs_to_the_demo_operator(engine):
    with engine.store.read() as conn:
        owners = conn.execute(select(coupons.c.operator, func.count()).group_by(coupons.c.operator)).all()
    assert owners == [("site", 3)]
