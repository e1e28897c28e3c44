"""After-sale money paths when two things happen at once (found by a review, each reproduced before its fix): a
correction and a payout, two corrections, the last two results, a payout and the shift's closing; and a void leg
that must never pay a winner more than its receipt."""

import concurrent.futures
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from decimal import Decimal as D

import pytest

from tests.support import SITE_ADMIN, SITE_TILL, sample_request, till_of
from tests.test_settlement import TILL, A, H, X, after_deadline, enter, sell
from ticketing.contract.errors import CancelNotAllowed, CouponClosed, NoOpenShift, TicketNotPayable
from ticketing.contract.models import TicketResult
from ticketing.demo.data import PLAYER_TOKEN, seed_demo_data
from ticketing.settings import DEMO_SITE_SECRET
from ticketing.settlement import queries
from ticketing.settlement.service import AfterSale
from ticketing.shifts import queries as shift_queries


@pytest.fixture
def shift(engine):
    return engine.open_shift(till_of(TILL), D("1000.00"))


def postgresql_only(backend: str) -> None:
    if backend == "sqlite":
        pytest.skip("SQLite's writer lock runs the two one after the other")


def test_a_void_leg_never_pays_a_capped_winner_more_than_its_receipt(engine, shift):
    """Sold capped at the operator's 1,000.00 on a coupon whose own cap is far higher: with one leg void (odds 1.00)
    it was settled at 14,787.55 and paid 11,850.04 in cash."""
    seed_demo_data(engine, DEMO_SITE_SECRET, max_payout=D("1000.00"))
    ticket = sell(engine, "1111111", stake="100")
    assert ticket.payout == D("1000.00")
    after_deadline(engine)
    enter(engine, "V111111")
    settled = engine.get_ticket(SITE_TILL, ticket.code).settlement
    assert settled.result == TicketResult.WON and settled.payout == ticket.payout
    assert engine.pay_out(till_of(TILL), ticket.code).amount == ticket.net_payout


def test_a_correction_committed_after_the_ticket_was_read_is_paid_as_corrected(engine, shift):
    """The payout read the ticket (won), then another process corrected the result (now lost) before the payout's
    transaction: the loser was paid in cash and nobody was told."""
    ticket = sell(engine, "1111111")
    after_deadline(engine)
    enter(engine, "1111111")
    first_event = engine.get_coupon(SITE_TILL, "455").events[0].id
    real_get_ticket = engine.get_ticket

    def read_then_an_admin_corrects(actor, reference):
        found = real_get_ticket(actor, reference)
        engine.get_ticket = real_get_ticket
        engine.enter_result(SITE_ADMIN, "455", first_event, A)
        return found

    engine.get_ticket = read_then_an_admin_corrects
    with pytest.raises(TicketNotPayable):
        engine.pay_out(till_of(TILL), ticket.code)
    assert engine.get_ticket(SITE_TILL, ticket.code).result == TicketResult.LOST
    assert engine.current_shift(till_of(TILL)).payouts_count == 0


def test_two_corrections_at_once_take_a_players_winnings_back_once(engine, backend, monkeypatch):
    """Admin 2's correction waited for admin 1's on the player's account, then took back the credit it had read
    before admin 1 committed: taken back twice, the balance 678.93 below zero."""
    postgresql_only(backend)
    start = engine.balance(SITE_TILL, PLAYER_TOKEN)
    ticket = sell(engine, "1111111", token=PLAYER_TOKEN, stake="30")
    after_deadline(engine)
    enter(engine, "1111111")
    assert engine.balance(SITE_TILL, PLAYER_TOKEN) == start - D("30.00") + ticket.net_payout
    events = [e.id for e in engine.get_coupon(SITE_TILL, "455").events]
    release, admin_1 = threading.Event(), threading.local()
    real_flag = queries.flag_paid_before_correction

    def hold_admin_1_before_its_commit(conn, coupon_id):
        real_flag(conn, coupon_id)
        if getattr(admin_1, "holding", False):
            release.wait(10)

    monkeypatch.setattr(queries, "flag_paid_before_correction", hold_admin_1_before_its_commit)

    def correct_as_admin_1():
        admin_1.holding = True
        return engine.enter_result(SITE_ADMIN, "455", events[0], A)

    with ThreadPoolExecutor(2) as pool:
        one = pool.submit(correct_as_admin_1)
        time.sleep(0.5)
        two = pool.submit(engine.enter_result, SITE_ADMIN, "455", events[1], X)
        time.sleep(1.0)
        release.set()
        one.result(), two.result()
    assert engine.get_ticket(SITE_TILL, ticket.code).result == TicketResult.LOST
    assert engine.balance(SITE_TILL, PLAYER_TOKEN) == start - D("30.00")


def test_the_last_two_results_entered_at_once_settle_the_coupon_once(engine, backend, monkeypatch):
    """Both results committed, then both settlement transactions began: the second one's settlement rows collided
    with the first's (a 500)."""
    postgresql_only(backend)
    ticket = sell(engine, "1111111")
    after_deadline(engine)
    deadline_passed = engine.clock()
    engine.clock = lambda: deadline_passed + timedelta(seconds=time.monotonic())  # each transaction its own time
    events = [e.id for e in engine.get_coupon(SITE_TILL, "455").events]
    for event in events[:5]:
        engine.enter_result(SITE_ADMIN, "455", event, H)
    both_results_saved = threading.Barrier(2, timeout=10)
    transactions = threading.local()
    real_lock = AfterSale._one_writer_per_coupon

    def second_transactions_begin_together(conn, coupon_id):
        transactions.count = getattr(transactions, "count", 0) + 1
        if transactions.count == 2:  # each admin's settlement transaction, once both results are committed
            both_results_saved.wait()
        real_lock(conn, coupon_id)

    monkeypatch.setattr(AfterSale, "_one_writer_per_coupon", staticmethod(second_transactions_begin_together))
    with ThreadPoolExecutor(2) as pool:
        summaries = [
            f.result() for f in [pool.submit(engine.enter_result, SITE_ADMIN, "455", e, H) for e in events[5:]]
        ]
    assert [s.status.value for s in summaries] == ["resulted", "resulted"]
    settled = engine.get_ticket(SITE_TILL, ticket.code).settlement
    assert settled.result == TicketResult.WON
    with engine.store.read() as conn:
        round_ = queries.round_of(conn, "455")
    # The second transaction found the coupon settled and left it: the round is the one its tickets were settled in
    # (its time starts the correction window).
    assert (round_.settled_at, round_.corrections) == (settled.settled_at.replace(tzinfo=None), 0)


def close_while(engine, monkeypatch, counted: str, meanwhile, till: str = TILL):
    """The shift of `till` closed with `counted`, pausing 1 s after its cash is summed, while `meanwhile()` runs in
    another thread (another terminal of the till): the closed shift as stored, and `meanwhile`'s future."""
    summed, closing = threading.Event(), threading.local()
    real_totals = shift_queries.cash_totals

    def sum_then_pause(conn, shift_id):
        totals = real_totals(conn, shift_id)
        if getattr(closing, "on", False):
            summed.set()
            time.sleep(1.0)
        return totals

    monkeypatch.setattr(shift_queries, "cash_totals", sum_then_pause)

    def close():
        closing.on = True
        return engine.close_shift(till_of(till), D(counted))

    with ThreadPoolExecutor(2) as pool:
        closed = pool.submit(close)
        assert summed.wait(10)
        other = pool.submit(meanwhile)
        closed = closed.result()
        concurrent.futures.wait([other])
    closed = engine.shift(till_of(till), closed.id)
    assert closed.expected == closed.float + sum(op.amount for op in closed.operations)
    return closed, other


def test_a_payout_while_the_shift_closes_never_lands_outside_its_counted_cash(engine, backend, shift, monkeypatch):
    """The closing summed the shift's cash, then a payout at another terminal went into the same shift before the
    closing committed: in its operations, not in what the till was expected to hold."""
    postgresql_only(backend)
    ticket = sell(engine, "1111111")
    after_deadline(engine)
    enter(engine, "1111111")
    # Counted: the float and the ticket's stake.
    closed, payout = close_while(engine, monkeypatch, "1025.00", lambda: engine.pay_out(till_of(TILL), ticket.code))
    with pytest.raises(NoOpenShift):
        payout.result()
    assert closed.difference == D("0.00") and closed.payouts_count == 0


def test_a_sale_while_the_shift_closes_never_lands_outside_its_counted_cash(engine, backend, shift, monkeypatch):
    """The same with a sale of the till: its stake went into the shift between the closing's count and its commit.
    A till's cash sale needs its open shift: it waits for the closing and is refused."""
    postgresql_only(backend)
    closed, sale = close_while(engine, monkeypatch, "1000.00", lambda: sell(engine, "1111111"))
    with pytest.raises(NoOpenShift):
        sale.result()
    assert closed.stakes_count == 0 and closed.difference == D("0.00")


def test_a_channel_sale_while_its_tills_shift_closes_is_sold_and_never_lands_after_the_count(
    engine, backend, monkeypatch
):
    """The Betstack key's channel sales (the spec's sample, source sms) need no shift but count in its till's open
    one: such a sale's stake went into the shift between the closing's count and its commit. The stake's write
    holds the shift (FOR SHARE), so it waits for the closing and finds it closed."""
    postgresql_only(backend)
    demo_shift = engine.current_shift(SITE_TILL)
    closed, sale = close_while(
        engine, monkeypatch, str(demo_shift.expected), lambda: engine.create_ticket(SITE_TILL, sample_request()), "site"
    )
    assert sale.result().source.value == "sms"
    assert closed.stakes_count == 0 and closed.difference == D("0.00")


def test_a_correction_undone_clears_the_follow_up_of_a_ticket_paid_before_it(engine, shift):
    """Paid, corrected to lost (follow up), corrected back: the cash paid is right again, nothing to follow up."""
    ticket = sell(engine, "1111111")
    after_deadline(engine)
    enter(engine, "1111111")
    engine.add_cash(till_of(TILL), D("10000.00"))  # the float alone cannot pay the winner
    engine.pay_out(till_of(TILL), ticket.code)
    first_event = engine.get_coupon(SITE_TILL, "455").events[0].id
    engine.enter_result(SITE_ADMIN, "455", first_event, A)
    assert engine.get_ticket(SITE_TILL, ticket.code).settlement.paid.follow_up == "paid before correction"
    summary = engine.enter_result(SITE_ADMIN, "455", first_event, H)
    assert engine.get_ticket(SITE_TILL, ticket.code).settlement.paid.follow_up is None
    assert summary.paid_before_correction == []


def test_a_sale_in_flight_when_the_coupon_is_cancelled_is_voided_with_the_rest(engine, backend, monkeypatch):
    """A sale had read the coupon (open) in its transaction when an admin cancelled the round: the cancellation
    voided the tickets it could see and committed, then the sale committed its ticket `new` on a cancelled coupon,
    its stake taken for good (never settled, never refunded: the round cannot be cancelled again)."""
    postgresql_only(backend)
    coupon_read, cancelled = threading.Event(), threading.Event()
    real_build = engine._build_ticket

    def build_then_wait_for_the_cancellation(*args, **kwargs):
        coupon_read.set()
        cancelled.wait(2)  # with the fix the cancellation waits for this sale instead: 2 s, then it goes on
        return real_build(*args, **kwargs)

    monkeypatch.setattr(engine, "_build_ticket", build_then_wait_for_the_cancellation)
    with ThreadPoolExecutor(1) as pool:
        sale = pool.submit(sell, engine, "1111111")
        assert coupon_read.wait(10)
        monkeypatch.setattr(engine, "_build_ticket", real_build)
        summary = engine.cancel_coupon(SITE_ADMIN, "455")
        cancelled.set()
        ticket = sale.result()
    assert summary.status.value == "cancelled"
    assert engine.get_ticket(SITE_TILL, ticket.code).result == TicketResult.VOID


def test_a_sale_that_waited_for_the_coupons_cancellation_is_refused(engine, backend, monkeypatch):
    """The other order: the cancellation holds the coupon when a sale reads it. The sale waits, then reads the coupon
    as the cancellation left it (cancelled), not as it was when its statement began (open)."""
    postgresql_only(backend)
    locked = threading.Event()
    real_lock = AfterSale._one_writer_per_coupon

    def lock_then_pause(conn, coupon_id):
        real_lock(conn, coupon_id)
        locked.set()
        time.sleep(1.0)

    monkeypatch.setattr(AfterSale, "_one_writer_per_coupon", staticmethod(lock_then_pause))
    with ThreadPoolExecutor(1) as pool:
        cancelled = pool.submit(engine.cancel_coupon, SITE_ADMIN, "455")
        assert locked.wait(10)
        with pytest.raises(CouponClosed):
            sell(engine, "1111111")
        assert cancelled.result().status.value == "cancelled"


def test_two_cancels_of_one_ticket_at_once_refund_it_once_and_refuse_the_other(engine, backend, shift, monkeypatch):
    """A double click, or two tabs of the till: both read the ticket unsettled, the second one's settlement row
    collided with the first's (IntegrityError, a 500)."""
    postgresql_only(backend)
    ticket = sell(engine, "1111111")
    real_coupon = AfterSale._coupon

    def read_slowly(self, *args):
        time.sleep(0.5)  # both cancels past their read of the ticket before either writes
        return real_coupon(self, *args)

    monkeypatch.setattr(AfterSale, "_coupon", read_slowly)
    with ThreadPoolExecutor(2) as pool:
        attempts = [pool.submit(engine.cancel_ticket, till_of(TILL), ticket.code) for _ in range(2)]
        concurrent.futures.wait(attempts)
    refused = [a.exception() for a in attempts if a.exception() is not None]
    assert len(refused) == 1 and isinstance(refused[0], CancelNotAllowed), refused
    assert engine.current_shift(till_of(TILL)).refunds_count == 1
