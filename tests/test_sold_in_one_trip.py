"""PostgreSQL: a batch on a coupon an earlier batch read is decided on what that batch read and written in one
round trip (`TicketEngine._sold_in_one_trip`, `SaleStatements.write_in_one_trip`). Each thing the reads would have
said is assumed and checked by the same transaction, so that a batch whose assumption fails leaves nothing and is
decided again as any batch is. Each test makes one assumption false and looks for the exact outcome."""

import threading
import time
from decimal import Decimal as D

import pytest
from sqlalchemy import func, select, update

from tests.support import SITE_FEED, SITE_TILL, sample_request
from ticketing import engine as engine_module
from ticketing.access.replays import SignedRequest
from ticketing.contract.errors import (
    IdempotencyKeyReused,
    InsufficientBalance,
    NoOpenShift,
    ReplayedRequest,
    StakeOutOfLimits,
)
from ticketing.contract.identifiers import token_fingerprint
from ticketing.contract.models import EventUpdate, TicketQuery
from ticketing.engine import Sale, TicketEngine
from ticketing.selling import pg_pipeline
from ticketing.storage import Store, accounts, request_signatures, tickets

TOKEN = sample_request().token


@pytest.fixture
def trips(engine, monkeypatch) -> list[bool]:
    """Each batch's attempt at one trip: whether it committed. A coupon is in hand once a first sale has read it."""
    if engine.store.is_sqlite:
        pytest.skip("SQLite has no round trips: every batch reads first")
    engine.create_ticket(SITE_TILL, sample_request())
    attempts: list[bool] = []
    real = engine.sales.write_in_one_trip

    def counted(*arguments):
        attempts.append(real(*arguments))
        return attempts[-1]

    monkeypatch.setattr(engine.sales, "write_in_one_trip", counted)
    return attempts


def while_the_trip_sleeps(engine: TicketEngine, monkeypatch, action) -> threading.Thread:
    """A thread that runs `action` 0.3 s after the trip's pipeline is sent, while the server sleeps a second in it,
    after the trip's checks and before its writes. The thread is started as the pipeline is about to be sent, so how
    long the batch took before does not matter."""
    real_writes = engine.sales._writes
    thread = threading.Thread(target=lambda: (time.sleep(0.3), action()))

    def writes_a_second_after_the_checks(statements, *rows):
        statements.execute("SELECT pg_sleep(1)")
        if thread.ident is None:
            thread.start()
        return real_writes(statements, *rows)

    monkeypatch.setattr(engine.sales, "_writes", writes_a_second_after_the_checks)
    return thread


def signed(n: int) -> SignedRequest:
    return SignedRequest(signature=f"{n:064x}", expires=2**40)


def sales(engine: TicketEngine, *stakes: str) -> list[Sale]:
    return [engine.new_sale(SITE_TILL, sample_request(stake=stake), None, signed(n)) for n, stake in enumerate(stakes)]


def test_a_sale_on_a_coupon_in_hand_is_written_with_its_commit_in_one_round_trip(engine, trips, monkeypatch):
    pipelines = []
    real_exit = pg_pipeline.PgPipeline.__exit__
    monkeypatch.setattr(pg_pipeline.PgPipeline, "__exit__", lambda *a: pipelines.append(1) or real_exit(*a))
    before = engine.balance(SITE_TILL, TOKEN)
    ticket = engine.create_ticket(SITE_TILL, sample_request(), signed=signed(1))
    assert trips == [True] and len(pipelines) == 1
    assert engine.get_ticket(SITE_TILL, ticket.id) == ticket
    assert engine.balance(SITE_TILL, TOKEN) == before - D("25.00")
    with engine.store.read() as conn:
        claimed = conn.execute(
            select(request_signatures.c.ticket_id).where(request_signatures.c.signature == signed(1).signature)
        )
        assert claimed.scalar() == ticket.id
    assert engine.current_shift(SITE_TILL).stakes_count == 2, "the stake is counted in the till's open shift"


def test_a_replay_fails_the_trip_and_is_answered_with_its_first_ticket(engine, trips):
    first = engine.create_ticket(SITE_TILL, sample_request(), signed=signed(2))
    before = engine.balance(SITE_TILL, TOKEN)
    assert engine.create_ticket(SITE_TILL, sample_request(), signed=signed(2)).id == first.id
    assert trips == [True, False]
    assert engine.balance(SITE_TILL, TOKEN) == before
    assert len(engine.list_tickets(SITE_TILL, TicketQuery())) == 2


def test_a_retry_fails_the_trip_and_is_answered_with_its_first_ticket(engine, trips):
    first = engine.create_ticket(SITE_TILL, sample_request(), idempotency_key="k")
    assert engine.create_ticket(SITE_TILL, sample_request(), idempotency_key="k").id == first.id
    assert trips == [True, False]


def test_odds_moved_since_the_coupon_was_read_fail_the_trip_and_the_sale_meets_them(engine, trips):
    """The coupon in hand is the one a sale is priced on only while its rows are the versions read: here the feed,
    another engine, moves a pick's odds."""
    picked = engine.create_ticket(SITE_TILL, sample_request()).events[0]
    feed = TicketEngine(Store(engine.store.url))
    try:
        feed.update_event(SITE_FEED, "455", picked.id, EventUpdate(odds={101: picked.odds + D("1.00")}))
    finally:
        feed.close()
    assert engine.create_ticket(SITE_TILL, sample_request()).events[0].odds == picked.odds + D("1.00")
    assert trips == [True, False]
    assert engine.create_ticket(SITE_TILL, sample_request()).events[0].odds == picked.odds + D("1.00")
    assert trips == [True, False, True], "the coupon read again is in hand again"


def test_a_feed_update_cannot_commit_between_the_trips_check_of_the_coupon_and_its_commit(engine, trips, monkeypatch):
    """The check holds the coupon's rows (FOR SHARE) until the commit: a feed moving the odds while the trip's later
    statements run (here the server is made to sleep a second among them) waits for the sale's commit."""
    feed_done = {}

    def feed() -> None:
        engine.update_event(SITE_FEED, "455", 390811, EventUpdate(odds={101: D("9.99")}))
        feed_done["at"] = time.monotonic()

    moving = while_the_trip_sleeps(engine, monkeypatch, feed)
    ticket = engine.create_ticket(SITE_TILL, sample_request())
    sold_at = time.monotonic()
    moving.join(5)
    assert trips == [True] and ticket.events[0].odds != D("9.99")
    assert feed_done["at"] > sold_at - 0.3, "the feed committed while the sale, checked on the old odds, was writing"


def test_a_shift_closed_since_fails_the_trip_and_the_tills_cash_sale_is_refused(engine, trips):
    engine.create_ticket(SITE_TILL, sample_request(source="retail"))
    engine.close_shift(SITE_TILL, engine.current_shift(SITE_TILL).expected)
    with pytest.raises(NoOpenShift):
        engine.create_ticket(SITE_TILL, sample_request(source="retail"))
    assert trips == [True, False]


def test_stakes_the_balance_cannot_cover_fail_the_trip_and_only_the_sale_it_cannot_cover_is_refused(engine, trips):
    with engine.store.write() as conn:
        conn.execute(
            update(accounts).where(accounts.c.token_sha256 == token_fingerprint(TOKEN)).values(balance_cents=6_000)
        )
    outcomes = engine.write_sales(sales(engine, "25.00", "40.00", "30.00"))
    assert [failed for _outcome, failed in outcomes] == [False, True, False]
    assert isinstance(outcomes[1][0], InsufficientBalance)
    assert trips == [False]
    assert engine.balance(SITE_TILL, TOKEN) == D("5.00")


def test_a_ticket_code_taken_fails_the_trip_and_is_drawn_again(engine, trips, monkeypatch):
    taken = engine.list_tickets(SITE_TILL, TicketQuery())[0].code
    drawn = iter([taken])
    real_new_code = engine_module.new_ticket_code
    monkeypatch.setattr(engine_module, "new_ticket_code", lambda: next(drawn, None) or real_new_code())
    ticket = engine.create_ticket(SITE_TILL, sample_request())
    assert trips == [False] and ticket.code != taken


def test_a_failed_trip_leaves_what_its_transaction_wrote_before_it(engine, trips):
    """A batch's other jobs (a wallet's answer to an earlier sale) run first in its transaction: the trip goes back to
    its savepoint, not to the transaction's start."""
    first = engine.create_ticket(SITE_TILL, sample_request(), signed=signed(3))
    before = engine.balance(SITE_TILL, TOKEN)

    def earlier_job(conn):
        conn.execute(update(accounts).values(balance_cents=accounts.c.balance_cents + 100))
        return "written"

    (replay,) = sales(engine, "25.00")
    replay = Sale(replay.request, None, replay.fingerprint, signed(3), replay.till)
    with engine.store.batch_write() as conn:
        outcomes = engine._write(conn, [earlier_job, replay])
    assert outcomes[0] == "written" and outcomes[1].id == first.id
    assert trips == [True, False]
    assert engine.balance(SITE_TILL, TOKEN) == before + D("1.00")
    with engine.store.read() as conn:
        assert conn.execute(select(func.count()).select_from(tickets)).scalar() == 2


def test_a_retry_that_would_now_be_refused_is_still_answered_with_its_first_ticket(engine, trips):
    """A terminal's retry after a lost answer (same key, same body), the odds having moved since and the coupon read
    again by another sale: the trip's check of the keys sends it to the first ticket, not to a refusal. Signed afresh,
    as a retry is, its claim names that ticket: a replay of the retry answers it too."""
    coupon = engine.get_coupon(SITE_TILL, "455")
    picks = [{"id": event.id, "bet": 101, "odds": str(event.odds[101])} for event in coupon.events]
    request = sample_request(bets=None, events=picks, odds_diff=0)
    first = engine.create_ticket(SITE_TILL, request, idempotency_key="k", signed=signed(4))
    moved = coupon.events[0]
    engine.update_event(SITE_FEED, "455", moved.id, EventUpdate(odds={101: moved.odds[101] + D("1.00")}))
    engine.create_ticket(SITE_TILL, sample_request())
    assert engine.create_ticket(SITE_TILL, request, idempotency_key="k", signed=signed(5)).id == first.id
    assert trips == [True, False, False]
    assert engine.create_ticket(SITE_TILL, request, idempotency_key="k", signed=signed(5)).id == first.id
    without_the_key = engine.create_ticket(SITE_TILL, request, signed=signed(5))
    assert without_the_key.id == first.id, "the replay of the signed retry answers the first ticket"


def test_a_key_used_again_for_another_request_is_refused_as_such_even_when_that_request_would_be(engine, trips):
    engine.create_ticket(SITE_TILL, sample_request(), idempotency_key="k")
    with pytest.raises(IdempotencyKeyReused):
        engine.create_ticket(SITE_TILL, sample_request(stake="0.01"), idempotency_key="k")
    assert trips == [True, False]


def test_the_coupons_in_hand_are_dropped_with_the_connection_that_read_them(engine, trips):
    """A row's version is a transaction id, which another server (a standby promoted) may give again: the coupons in
    hand go with the writer's connection, and its next connection reads them afresh before a trip."""
    held = engine.store._batch_connection
    backend = held.connection.driver_connection.info.backend_pid
    with engine.store.engine.connect() as admin:
        admin.exec_driver_sql(f"SELECT pg_terminate_backend({backend})")
    sold = [engine.create_ticket(SITE_TILL, sample_request()) for _ in range(3)]
    assert len({ticket.id for ticket in sold}) == 3
    # The first sale's trip met the lost connection (it raised: not counted) and was made alone; the second, on the
    # new connection, read first; the third went in one trip.
    assert trips == [True], "the first sale on the new connection read first"


def test_a_shift_closing_while_the_trips_statements_run_waits_and_counts_the_sale(engine, trips, monkeypatch):
    """The till's shift is held (FOR SHARE) from the trip's check to its commit: a closing that comes while the trip's
    later statements run (the server made to sleep among them) waits, and counts the sale's stake."""
    engine.create_ticket(SITE_TILL, sample_request(source="retail"))
    before, closing = engine.current_shift(SITE_TILL), {}

    def close() -> None:
        closing["shift"] = engine.close_shift(SITE_TILL, before.expected + D("25.00"))

    closer = while_the_trip_sleeps(engine, monkeypatch, close)
    engine.create_ticket(SITE_TILL, sample_request(source="retail"))
    closer.join(5)
    assert trips == [True, True]
    closed = closing["shift"]
    assert closed.stakes_count == before.stakes_count + 1 and closed.difference == D("0.00")


def test_a_batch_on_two_coupons_fails_its_trip_when_either_has_changed(engine, trips):
    other = engine.get_coupon(SITE_TILL, "456")
    on_the_other = sample_request(coupon_id=456, bets=[101] * len(other.events), stake="50.00")
    engine.create_ticket(SITE_TILL, on_the_other)
    moved = other.events[-1]
    engine.update_event(SITE_FEED, "456", moved.id, EventUpdate(odds={101: moved.odds[101] + D("1.00")}))
    both = [engine.new_sale(SITE_TILL, request, None, None) for request in (sample_request(), on_the_other)]
    (_first, _), (second, _) = engine.write_sales(both)
    assert second.events[-1].odds == moved.odds[101] + D("1.00")
    assert trips == [False], "the first coupon was unchanged, the second had moved"
    engine.write_sales([engine.new_sale(SITE_TILL, sale.request, None, None) for sale in both])
    assert trips == [False, True], "both read again: both in hand"


def test_a_trip_of_sales_sold_and_refused_answers_each_and_keeps_each_claim(engine, trips):
    """A trip commits its refusals with the claims of their signatures, as a batch that reads first does: a replay of
    a refused sale stays refused, a replay of a sold one answers its ticket."""
    before = engine.balance(SITE_TILL, TOKEN)
    outcomes = engine.write_sales(sales(engine, "25.00", "0.01", "30.00"))
    assert trips == [True]
    (first, _), (refused, failed), (third, _) = outcomes
    assert failed and isinstance(refused, StakeOutOfLimits)
    assert (first.stake, third.stake) == (D("25.00"), D("30.00"))
    assert engine.balance(SITE_TILL, TOKEN) == before - D("55.00")
    replays = engine.write_sales(sales(engine, "25.00", "0.01", "30.00"))
    assert [outcome.id for outcome, _ in (replays[0], replays[2])] == [first.id, third.id]
    assert isinstance(replays[1][0], ReplayedRequest)
    assert engine.balance(SITE_TILL, TOKEN) == before - D("55.00")
