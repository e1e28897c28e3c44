"""After the sale, on the in-process engine, SQLite and PostgreSQL: results settle the coupon by themselves, once;
corrections re-settle with accounts exact; winners are paid once at the counter; cancellations; the till's shift."""

import random
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from decimal import Decimal as D

import pytest
from sqlalchemy import text

from tests.bulk_tickets import COUPON, LABELS, draw, write_tickets
from tests.servers import PROJECT_ROOT
from tests.support import SITE_ADMIN, SITE_FEED, SITE_TILL, sample_request, till_of, without_the_demo_shift
from ticketing.access.roles import Actor, Role
from ticketing.contract.errors import (
    CancelNotAllowed,
    CouponFinal,
    CouponMissing,
    NoOpenShift,
    NotAllowed,
    ResultsNotAllowed,
    ShiftAlreadyOpen,
    TicketAlreadyPaid,
    TicketNotPayable,
    ValidationFailed,
)
from ticketing.contract.models import BETS_BY_LABEL, EventResult, TicketQuery, TicketResult, TicketStatus
from ticketing.demo.data import PLAYER_TOKEN, SAMPLE_TOKEN
from ticketing.embedded import open_engine
from ticketing.settings import Settings
from ticketing.settlement.rules import settle_ticket

TILL = "till-1"
H, X, A, V = EventResult.HOME, EventResult.DRAW, EventResult.AWAY, EventResult.VOID


def sell(engine, picks: str, token=SAMPLE_TOKEN, stake="25", till=TILL):
    """A ticket on coupon 455 (7 events) from a pick string like `1X21X21`, sold by `till` in its open shift (opened
    with a float a winner can be paid from if it has none: a till's sale on the shop's account is cash, counted in
    its shift, and a payout larger than the drawer is refused)."""
    if engine.current_shift(till_of(till)) is None:
        engine.open_shift(till_of(till), D("100000.00"))
    bets = [BETS_BY_LABEL[p] for p in picks]
    return engine.create_ticket(till_of(till), sample_request(bets=bets, token=token, stake=stake))


def after_deadline(engine, hours: float = 1):
    closes_at = engine.get_coupon(SITE_TILL, "455").closes_at
    engine.clock = lambda: closes_at + timedelta(hours=hours)


def enter(engine, results: str, coupon_id="455"):
    """Results from a string like the pick string, `V` for void: the last one settles the coupon."""
    summary = None
    for event, label in zip(engine.get_coupon(SITE_TILL, coupon_id).events, results, strict=True):
        result = V if label == "V" else EventResult(label)
        summary = engine.enter_result(SITE_ADMIN, coupon_id, event.id, result)
    return summary


@pytest.fixture
def shift(engine):
    engine.open_shift(till_of(TILL), D("100000.00"))


def test_the_last_result_settles_every_ticket_once(engine):
    winner = sell(engine, "1111111")
    loser = sell(engine, "2111111")
    after_deadline(engine)
    for event in engine.get_coupon(SITE_TILL, "455").events[:-1]:
        engine.enter_result(SITE_ADMIN, "455", event.id, H)
    assert engine.get_ticket(SITE_TILL, winner.code).status == TicketStatus.NEW, "not settled before the last result"
    summary = engine.enter_result(SITE_ADMIN, "455", engine.get_coupon(SITE_TILL, "455").events[-1].id, H)
    assert (summary.status, summary.results_known, summary.winners, summary.losers) == ("resulted", 7, 1, 1)

    won, lost = engine.get_ticket(SITE_TILL, winner.code), engine.get_ticket(SITE_TILL, loser.code)
    assert (won.status, won.result, lost.status, lost.result) == ("resulted", "won", "resulted", "lost")
    assert (won.settlement.payout, won.settlement.tax, won.settlement.net_payout) == (
        winner.payout,
        winner.tax,
        winner.net_payout,
    )
    assert [e.correct for e in lost.settlement.events] == [False] + [True] * 6
    assert lost.settlement.net_payout == D("0.00")
    assert engine.after_sale.settle_pending() == [], "settling again changes nothing"
    assert engine.get_ticket(SITE_TILL, winner.code) == won


def test_results_only_after_the_deadline(engine):
    with pytest.raises(ResultsNotAllowed):
        engine.enter_result(SITE_ADMIN, "455", engine.get_coupon(SITE_TILL, "455").events[0].id, H)


def test_a_void_leg_is_paid_at_odds_one(engine):
    ticket = sell(engine, "1111111", stake="100")
    after_deadline(engine)
    enter(engine, "V111111")
    settled = engine.get_ticket(SITE_TILL, ticket.code).settlement
    odds = [e.odds for e in ticket.events[1:]]
    expected = D("100")
    for value in odds:
        expected *= value
    assert settled.result == TicketResult.WON and settled.voids == 1
    assert settled.payout == expected.quantize(D("0.01"))


def test_more_voids_than_the_threshold_void_the_round_and_refund(engine):
    player = sell(engine, "1111111", token=PLAYER_TOKEN, stake="40")
    balance = engine.balance(SITE_TILL, PLAYER_TOKEN)
    after_deadline(engine)
    summary = enter(engine, "VVVV111")
    assert summary.voided == 1 and summary.total_refund == D("40.00")
    settled = engine.get_ticket(SITE_TILL, player.code).settlement
    assert (settled.result, settled.refund, settled.credited) == (TicketResult.VOID, D("40.00"), D("40.00"))
    assert engine.balance(SITE_TILL, PLAYER_TOKEN) == balance + D("40.00")


def test_a_players_winnings_are_credited_and_a_correction_takes_them_back_exactly(engine):
    start = engine.balance(SITE_TILL, PLAYER_TOKEN)
    ticket = sell(engine, "1111111", token=PLAYER_TOKEN, stake="30")
    after_deadline(engine)
    enter(engine, "1111111")
    assert engine.balance(SITE_TILL, PLAYER_TOKEN) == start - D("30.00") + ticket.net_payout

    first = engine.get_coupon(SITE_TILL, "455").events[0].id
    engine.enter_result(SITE_ADMIN, "455", first, A)  # won -> lost
    assert engine.get_ticket(SITE_TILL, ticket.code).result == TicketResult.LOST
    assert engine.balance(SITE_TILL, PLAYER_TOKEN) == start - D("30.00")

    engine.enter_result(SITE_ADMIN, "455", first, H)  # lost -> won again
    assert engine.get_ticket(SITE_TILL, ticket.code).result == TicketResult.WON
    assert engine.balance(SITE_TILL, PLAYER_TOKEN) == start - D("30.00") + ticket.net_payout


def test_bonus_tiers_pay_the_highest_tier_only(engine):
    coupon = engine.get_coupon(SITE_TILL, "456").model_dump(mode="json")
    coupon |= {"id": "456B", "bonus_prizes": {"12": "5000.03", "11": 1000}, "closes_at": coupon["closes_at"]}
    engine.publish_coupon(SITE_ADMIN, coupon)
    picks = [101] * 13
    one_wrong = engine.create_ticket(SITE_TILL, sample_request(coupon_id="456B", stake="50", bets=[103] + picks[1:]))
    two_wrong = engine.create_ticket(
        SITE_TILL, sample_request(coupon_id="456B", stake="50", bets=[103, 103] + picks[2:])
    )
    three_wrong = engine.create_ticket(
        SITE_TILL, sample_request(coupon_id="456B", stake="50", bets=[103] * 3 + picks[3:])
    )
    engine.clock = lambda: engine.get_coupon(SITE_TILL, "456B").closes_at + timedelta(hours=1)
    summary = enter(engine, "1" * 13, coupon_id="456B")
    assert summary.bonus_winners == {12: 1, 11: 1} and summary.losers == 1
    tier12 = engine.get_ticket(SITE_TILL, one_wrong.code).settlement
    assert (tier12.result, tier12.prize_tier, tier12.payout, tier12.tax, tier12.net_payout) == (
        TicketResult.WON,
        12,
        D("5000.03"),
        D("990.01"),  # (5000.03 - 50) x 20% = 990.006, half-up
        D("4010.02"),
    )
    assert engine.get_ticket(SITE_TILL, two_wrong.code).settlement.prize_tier == 11
    assert engine.get_ticket(SITE_TILL, three_wrong.code).result == TicketResult.LOST


# ---- at the counter --------------------------------------------------------------------------------------------------


def test_a_winner_is_paid_once_and_every_second_attempt_says_when_and_by_whom(engine, shift):
    ticket = sell(engine, "1111111")
    after_deadline(engine)
    enter(engine, "1111111")
    slip = engine.pay_out(till_of(TILL), ticket.code)
    assert slip.amount == ticket.net_payout and slip.record.till == TILL
    for till in (TILL, "till-2"):
        with pytest.raises(TicketAlreadyPaid, match=f"already paid at .* by {TILL}"):
            engine.pay_out(till_of(till), ticket.code)
    assert engine.get_ticket(SITE_TILL, ticket.code).settlement.paid.amount == ticket.net_payout


def test_two_tills_paying_the_same_ticket_at_once_pay_it_once(engine):
    engine.open_shift(till_of("till-a"), D("100000.00"))
    engine.open_shift(till_of("till-b"), D("100000.00"))
    ticket = sell(engine, "1111111")
    after_deadline(engine)
    enter(engine, "1111111")

    def pay(till):
        try:
            return engine.pay_out(till_of(till), ticket.code)
        except TicketAlreadyPaid as refused:
            return refused

    with ThreadPoolExecutor(8) as pool:
        outcomes = list(pool.map(pay, ["till-a", "till-b"] * 4))
    assert sum(1 for o in outcomes if not isinstance(o, TicketAlreadyPaid)) == 1
    paid_out = sum(
        s.payouts for s in (engine.current_shift(till_of("till-a")), engine.current_shift(till_of("till-b")))
    )
    assert paid_out == ticket.net_payout


def test_what_the_counter_cannot_pay_says_why(engine, shift):
    loser = sell(engine, "2222222")
    waiting = sell(engine, "1111111")
    with pytest.raises(TicketNotPayable, match="waiting for results: 0 of 7 known"):
        engine.pay_out(till_of(TILL), waiting.code)
    player = sell(engine, "1111111", token=PLAYER_TOKEN)
    after_deadline(engine)
    enter(engine, "1111111")
    with pytest.raises(TicketNotPayable, match="not a winner"):
        engine.pay_out(till_of(TILL), loser.code)
    with pytest.raises(TicketNotPayable, match="credited to the player's account"):
        engine.pay_out(till_of(TILL), player.code)


def test_a_payout_needs_an_open_shift(engine):
    ticket = sell(engine, "1111111")
    engine.close_shift(till_of(TILL), engine.current_shift(till_of(TILL)).expected)
    after_deadline(engine)
    enter(engine, "1111111")
    with pytest.raises(NoOpenShift):
        engine.pay_out(till_of(TILL), ticket.code)


def test_a_ticket_paid_before_a_correction_is_listed_for_follow_up(engine, shift):
    ticket = sell(engine, "1111111")
    after_deadline(engine)
    enter(engine, "1111111")
    engine.pay_out(till_of(TILL), ticket.code)
    summary = engine.enter_result(SITE_ADMIN, "455", engine.get_coupon(SITE_TILL, "455").events[0].id, A)
    assert summary.paid_before_correction == [ticket.code]
    corrected = engine.get_ticket(SITE_TILL, ticket.code)
    assert corrected.result == TicketResult.LOST
    assert corrected.settlement.paid.follow_up == "paid before correction"


def test_after_the_correction_window_the_coupon_is_final(engine):
    sell(engine, "1111111")
    after_deadline(engine)
    enter(engine, "1111111")
    after_deadline(engine, hours=26)
    assert engine.settlement(SITE_ADMIN, "455").status == "final"
    with pytest.raises(CouponFinal):
        engine.enter_result(SITE_ADMIN, "455", engine.get_coupon(SITE_TILL, "455").events[0].id, A)


def test_a_cancelled_coupon_refunds_every_ticket(engine, shift):
    shop = sell(engine, "1111111")
    summary = engine.cancel_coupon(SITE_ADMIN, "455")
    assert summary.status == "cancelled" and summary.voided == 1
    assert engine.get_ticket(SITE_TILL, shop.code).settlement.refund == D("25.00")
    slip = engine.pay_out(till_of(TILL), shop.code)
    assert (slip.record.kind, slip.amount) == ("refund", D("25.00"))
    with pytest.raises(ResultsNotAllowed):
        after_deadline(engine)
        engine.enter_result(SITE_ADMIN, "455", engine.get_coupon(SITE_TILL, "455").events[0].id, H)


# ---- cancellation ----------------------------------------------------------------------------------------------------


def test_the_till_that_sold_a_ticket_may_cancel_it_within_the_window(engine, shift):
    ticket = sell(engine, "1111111")
    sold_at = ticket.created
    engine.clock = lambda: sold_at + timedelta(minutes=10)
    with pytest.raises(CancelNotAllowed, match="till"):
        engine.cancel_ticket(till_of("till-2"), ticket.code)
    cancelled = engine.cancel_ticket(till_of(TILL), ticket.code)
    assert (cancelled.status, cancelled.result, cancelled.settlement.refund) == ("cancelled", "void", D("25.00"))
    with pytest.raises(CancelNotAllowed, match="already cancelled"):
        engine.cancel_ticket(till_of(TILL), ticket.code)
    with pytest.raises(TicketNotPayable, match="cancelled"):
        engine.pay_out(till_of(TILL), ticket.code)


def test_the_cancel_window_closes_a_second_after_its_minutes(engine, shift):
    ticket = sell(engine, "1111111")
    engine.clock = lambda: ticket.created + timedelta(minutes=10, seconds=1)
    with pytest.raises(CancelNotAllowed, match="until"):
        engine.cancel_ticket(till_of(TILL), ticket.code)


def test_a_cancelled_players_ticket_is_credited_back(engine):
    before = engine.balance(SITE_TILL, PLAYER_TOKEN)
    ticket = sell(engine, "1111111", token=PLAYER_TOKEN, stake="60")
    engine.cancel_ticket(till_of(TILL), ticket.code)
    assert engine.balance(SITE_TILL, PLAYER_TOKEN) == before


def test_a_channel_sale_made_with_no_shift_open_is_given_back_to_its_account_not_out_of_the_drawer(engine):
    """The Betstack key's `sms` sale on the shop's account (the spec's sample) sells with no shift open, its stake
    taken from the account alone. Cancelled from a shift opened after it, the stake goes back to that account: paid
    out of the drawer, it was cash the till could take and still balance (found by a hostile review)."""
    without_the_demo_shift(engine)
    before = engine.balance(SITE_TILL, SAMPLE_TOKEN)
    ticket = engine.create_ticket(SITE_TILL, sample_request(stake="1000"))
    engine.open_shift(SITE_TILL, D("5000.00"))
    cancelled = engine.cancel_ticket(SITE_TILL, ticket.code)
    assert (cancelled.status, cancelled.settlement.refund) == ("cancelled", D("1000.00"))
    shift = engine.current_shift(SITE_TILL)
    assert (shift.refunds, shift.refunds_count, shift.expected) == (D("0.00"), 0, D("5000.00"))
    assert engine.balance(SITE_TILL, SAMPLE_TOKEN) == before


def test_a_channel_sale_counted_in_a_shift_is_given_back_in_cash_from_the_next_one(engine):
    """The same sale with the till's shift open came into the drawer: its cancel pays it back in cash, from the
    till's shift open now, even when the one that counted it has closed meanwhile."""
    without_the_demo_shift(engine)
    engine.open_shift(SITE_TILL, D("100.00"))
    before = engine.balance(SITE_TILL, SAMPLE_TOKEN)
    ticket = engine.create_ticket(SITE_TILL, sample_request(stake="40"))
    without_the_demo_shift(engine)
    engine.open_shift(SITE_TILL, D("200.00"))
    engine.cancel_ticket(SITE_TILL, ticket.code)
    shift = engine.current_shift(SITE_TILL)
    assert (shift.refunds, shift.refunds_count, shift.expected) == (D("40.00"), 1, D("160.00"))
    assert engine.balance(SITE_TILL, SAMPLE_TOKEN) == before - D("40")


# ---- the till's shift ------------------------------------------------------------------------------------------------


def test_cash_added_never_takes_the_shift_past_the_largest_amount_it_can_show(engine):
    """Twice the largest amount once made every read of the shift, its closing and the list of shifts a 500 (found by
    a review): the second addition is refused, and the shift reads as before."""
    engine.open_shift(till_of(TILL), D("0"))
    engine.add_cash(till_of(TILL), D("999999999999.99"))
    with pytest.raises(ValidationFailed, match="would pass 999,999,999,999.99"):
        engine.add_cash(till_of(TILL), D("0.01"))
    shift = engine.current_shift(till_of(TILL))
    assert (shift.cash_added, shift.cash_added_count, shift.expected) == (D("999999999999.99"), 1, D("999999999999.99"))
    assert engine.list_shifts(till_of(TILL))[0].id == shift.id


def test_the_shift_balances_float_stakes_payouts_and_refunds(engine):
    engine.open_shift(till_of(TILL), D("50000.00"))
    with pytest.raises(ShiftAlreadyOpen):
        engine.open_shift(till_of(TILL), D("1.00"))
    winner = sell(engine, "1111111", stake="100")
    sell(engine, "2222222", stake="30")
    refunded = sell(engine, "1X11111", stake="45.50")
    engine.cancel_ticket(till_of(TILL), refunded.code)
    sell(engine, "1111111", stake="70", till="till-2")  # another till's cash
    after_deadline(engine)
    enter(engine, "1111111")
    engine.pay_out(till_of(TILL), winner.code)

    shift = engine.current_shift(till_of(TILL))
    assert (shift.stakes, shift.stakes_count) == (D("175.50"), 3)
    assert (shift.payouts, shift.refunds) == (winner.net_payout, D("45.50"))
    expected = D("50000.00") + D("175.50") - winner.net_payout - D("45.50")
    assert shift.expected == expected
    closed = engine.close_shift(till_of(TILL), expected - D("2.00"))
    assert (closed.counted, closed.difference) == (expected - D("2.00"), D("-2.00"))
    assert closed.closed_at is not None and engine.current_shift(till_of(TILL)) is None
    assert [op.kind for op in closed.operations] == ["stake", "stake", "stake", "refund", "payout"]


def test_a_sale_for_cash_needs_the_tills_open_shift(engine):
    """A till's sale on the shop's account is cash in its drawer: sold with no open shift, its stake was in no
    shift's count and the till could not balance. Refused now, nothing written, whatever `source` the till names;
    sold once the shift is open. A sale on a player's account takes no cash, and the operator's Betstack key sells
    the spec's sample (source sms) as the spec says; its retail sales (the embedded terminal's) need its shift."""
    cash = [sample_request(source="retail"), sample_request(source="sms"), sample_request(source="telegram")]
    balance = engine.balance(SITE_TILL, SAMPLE_TOKEN)
    for request in cash:
        with pytest.raises(NoOpenShift, match=f"Till {TILL} has no open shift"):
            engine.create_ticket(till_of(TILL), request)
    assert engine.list_tickets(till_of(TILL), TicketQuery(limit=10)) == []
    assert engine.balance(SITE_TILL, SAMPLE_TOKEN) == balance

    engine.open_shift(till_of(TILL), D("100.00"))
    sold = [engine.create_ticket(till_of(TILL), request) for request in cash]
    shift = engine.current_shift(till_of(TILL))
    assert (shift.stakes, shift.stakes_count) == (sum(t.stake for t in sold), 3)
    engine.close_shift(till_of(TILL), shift.expected)
    assert engine.create_ticket(till_of(TILL), sample_request(source="retail", token=PLAYER_TOKEN)).stake == D("25.00")

    without_the_demo_shift(engine)
    assert engine.create_ticket(SITE_TILL, sample_request()).source.value == "sms"
    with pytest.raises(NoOpenShift):
        engine.create_ticket(SITE_TILL, sample_request(source="retail"))


@pytest.mark.parametrize("amount", ["-5000", "-0.01", "0.005", "NaN", "Infinity", "1E+309", "1E+20"])
def test_a_shift_takes_only_cash_amounts_the_api_would_take(engine, amount):
    """Checked in the engine, not only by the HTTP request's model: a float of -5,000 from a caller in the process
    opened a shift that could then not be shown (a 500 on every list of the operator's shifts), a counted -0.01
    closed one, and NaN or 1e309 raised Python's own errors."""
    with pytest.raises(ValidationFailed):
        engine.open_shift(till_of(TILL), D(amount))
    assert engine.current_shift(till_of(TILL)) is None
    engine.open_shift(till_of(TILL), D("100"))
    with pytest.raises(ValidationFailed):
        engine.close_shift(till_of(TILL), D(amount))
    assert engine.current_shift(till_of(TILL)).float == D("100.00")
    assert engine.close_shift(till_of(TILL), D("100")).difference == D("0.00")


def test_settlement_is_set_based_for_many_tickets(engine):
    tickets = [sell(engine, "1111111" if n % 50 == 0 else "2111111", stake=str(25 + n % 5)) for n in range(200)]
    after_deadline(engine)
    summary = enter(engine, "1111111")
    assert (summary.tickets, summary.winners, summary.losers) == (200, 4, 196)
    settled = engine.list_tickets(SITE_TILL, TicketQuery(limit=1000, coupon_id="455"))
    assert {t.status for t in settled} == {"resulted"} and len(settled) == len(tickets)


def test_sigkill_mid_settlement_then_a_restart_settles_every_ticket_once(databases, tmp_path):
    """A large coupon's settlement is killed after writing everything but its commit; the next start finishes it:
    every ticket settled once, every player credited once (balances = the sum credited)."""
    db = databases.make("settle-crash")
    engine = open_engine(Settings(database=db, simulator=False))
    rng = random.Random(7)
    write_tickets(engine, 6000, rng)
    coupon = engine.get_coupon(SITE_TILL, COUPON)
    when = coupon.closes_at + timedelta(hours=2)
    engine.clock = lambda: when
    results = [LABELS[draw(rng, e.odds)] for e in coupon.events]
    for event, result in zip(coupon.events[:-1], results[:-1], strict=True):
        engine.enter_result(SITE_ADMIN, COUPON, event.id, result)
    engine.close()

    marker = tmp_path / "settling"
    command = [sys.executable, "-m", "tests.settle_then_hang", db, COUPON, str(coupon.events[-1].id)]
    process = subprocess.Popen([*command, results[-1].value, when.isoformat(), str(marker)], cwd=PROJECT_ROOT)
    try:
        deadline = time.monotonic() + 120
        while not marker.exists():
            assert process.poll() is None, "the settling process died by itself"
            assert time.monotonic() < deadline, "the settlement never reached its commit"
            time.sleep(0.05)
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait()

    restarted = open_engine(Settings(database=db, simulator=False))
    try:
        assert restarted.settlement(SITE_ADMIN, COUPON).results_known == 17
        with restarted.store.read() as conn:
            settled = conn.execute(text("SELECT count(*), count(DISTINCT ticket_id) FROM ticket_settlements")).one()
            unsettled = conn.execute(text("SELECT count(*) FROM tickets WHERE status != 'resulted'")).scalar()
            credited = dict(
                conn.execute(
                    text(
                        "SELECT t.token_sha256, SUM(s.credited_cents) FROM ticket_settlements s"
                        " JOIN tickets t ON t.id = s.ticket_id GROUP BY t.token_sha256"
                    )
                ).all()
            )
            balances = dict(conn.execute(text("SELECT token_sha256, balance_cents FROM accounts")).all())
        assert tuple(settled) == (6000, 6000) and unsettled == 0
        assert any(credited.values()), "some player won something"
        for token, cents in credited.items():
            assert balances[token] == cents, "each credit made exactly once"
    finally:
        restarted.close()


def test_the_set_based_settlement_agrees_with_the_rules_ticket_by_ticket(engine):
    """The SQL settles 3,000 tickets as `settle_ticket` would, one by one: results copied from the picks of the
    ticket with the lowest odds (so there is a full winner below the cap, and many near misses), two events void
    (winners repriced at 1.00), bonus tiers with amounts whose tax needs rounding."""
    write_tickets(engine, 3000, random.Random(11))
    coupon = engine.get_coupon(SITE_TILL, COUPON)
    sold = engine.list_tickets(SITE_TILL, TicketQuery(limit=10000, coupon_id=COUPON))
    model = min(sold, key=lambda t: t.total_odds)
    results = {p.id: LABELS[p.bet] for p in model.events}
    results[coupon.events[3].id] = results[coupon.events[9].id] = V
    engine.clock = lambda: coupon.closes_at + timedelta(hours=1)
    for event in coupon.events:
        engine.enter_result(SITE_ADMIN, COUPON, event.id, results[event.id])
    prizes = engine.get_coupon(SITE_TILL, COUPON).bonus_prizes
    profile = engine.get_operator("site").tax_profile
    for ticket in engine.list_tickets(SITE_TILL, TicketQuery(limit=10000, coupon_id=COUPON)):
        expected = settle_ticket(
            ticket.stake, ticket.events, results, profile, coupon.max_payout, coupon.max_void_events, prizes
        )
        got = ticket.settlement
        assert (got.result, got.correct, got.voids, got.prize_tier) == (
            expected.result,
            expected.correct,
            expected.voids,
            expected.prize_tier,
        ), ticket.code
        assert (got.payout, got.tax, got.net_payout, got.refund) == (
            expected.payout,
            expected.tax,
            expected.net_payout,
            expected.refund,
        ), ticket.code
    assert engine.settlement(SITE_ADMIN, COUPON).winners >= 1


def test_each_after_sale_action_is_refused_to_the_roles_it_is_not_for(engine):
    """Results and a coupon's cancellation are an admin's; payouts, cancellations and shifts a till's. A refusal
    writes nothing."""
    ticket = sell(engine, "1111111")
    event = engine.get_coupon(SITE_TILL, "455").events[0].id
    after_deadline(engine)
    shifts = engine.list_shifts(SITE_ADMIN)
    refusals = [
        (SITE_TILL, lambda who: engine.enter_result(who, "455", event, H)),
        (SITE_FEED, lambda who: engine.enter_result(who, "455", event, H)),
        (SITE_TILL, lambda who: engine.preview_results(who, "455", {event: H})),
        (SITE_TILL, lambda who: engine.cancel_coupon(who, "455")),
        (SITE_FEED, lambda who: engine.cancel_coupon(who, "455")),
        (SITE_ADMIN, lambda who: engine.pay_out(who, ticket.code)),
        (SITE_FEED, lambda who: engine.pay_out(who, ticket.code)),
        (SITE_ADMIN, lambda who: engine.cancel_ticket(who, ticket.code)),
        (SITE_ADMIN, lambda who: engine.open_shift(who, D("10"))),
        (SITE_FEED, lambda who: engine.list_shifts(who)),
    ]
    for who, action in refusals:
        with pytest.raises(NotAllowed):
            action(who)
    assert engine.settlement(SITE_ADMIN, "455").results_known == 0
    assert engine.get_ticket(SITE_TILL, ticket.code).status == "new"
    assert engine.list_shifts(SITE_ADMIN) == shifts
    with pytest.raises(CouponMissing):
        engine.enter_result(Actor("rival", Role.ADMIN, "rival-admin"), "455", event, H)


def test_a_previewed_result_of_an_event_not_on_the_coupon_is_refused_as_when_entered(engine):
    """It was dropped, and the preview shown as if the admin had typed nothing wrong."""
    after_deadline(engine)
    with pytest.raises(CouponMissing):
        engine.preview_results(SITE_ADMIN, "455", {999: H})
    with pytest.raises(CouponMissing):
        engine.enter_result(SITE_ADMIN, "455", 999, H)
