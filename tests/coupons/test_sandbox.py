"""A draft's sandbox, on each backend: test tickets sold by the engine's own rules and settled by its own settlement,
checked against what the coupon's rules promise, and isolated: no money, no shift, no real list or total sees them.

The small coupon (tests/coupons/support.py), KES (no excise, 20% withholding): odds 1.50 2.00 2.50 1.80 for the
home sides (product 13.50), a 500.00 cap, one void event allowed, 200.00 for 3 correct."""

from datetime import UTC, datetime
from decimal import Decimal as D

import pytest

from tests.coupons.support import EVENT_IDS, SMALL, all_tickets, cash_operation_count, coupon_rows, small_coupon
from tests.support import SITE_ADMIN, SITE_TILL, FixedClock, sample_request, without_the_demo_shift
from ticketing.contract.errors import (
    CouponClosed,
    CouponMissing,
    EventNotAvailable,
    OddsChanged,
    StakeOutOfLimits,
    TicketNotFound,
    WrongPicks,
)
from ticketing.contract.models import EventResult, EventStatus, EventUpdate, PickedEvent, TicketQuery, TicketResult
from ticketing.coupons.models import SandboxSale
from ticketing.demo.data import PLAYER_TOKEN, SAMPLE_TOKEN

NOW = datetime.now(UTC).replace(microsecond=0)
H, X, A, V = EventResult.HOME, EventResult.DRAW, EventResult.AWAY, EventResult.VOID
HOMES = [101, 101, 101, 101]


@pytest.fixture
def desk(engine):
    engine.clock = FixedClock(NOW)
    engine.save_draft(SITE_ADMIN, small_coupon(NOW))
    return engine


def sell_test(engine, bets=HOMES, stake: str = "20", **picks):
    return engine.sell_test_ticket(SITE_ADMIN, SMALL, SandboxSale(stake=D(stake), bets=bets, **picks))


def play(engine, *results: EventResult):
    summary = None
    for event_id, result in zip(EVENT_IDS, results, strict=True):
        summary = engine.enter_sandbox_result(SITE_ADMIN, SMALL, event_id, result)
    return summary


def test_a_test_ticket_is_priced_like_a_sale_and_marked_as_a_test(desk):
    ticket = sell_test(desk)
    assert ticket.test and ticket.coupon_id == SMALL and ticket.total_odds == D("13.50")
    assert (ticket.payout, ticket.tax, ticket.net_payout) == (D("270.00"), D("50.00"), D("220.00"))
    capped = sell_test(desk, bets=[103, 103, 102, 103], stake="100")
    assert capped.payout == D("500.00") and capped.net_payout == D("420.00"), "the coupon's cap holds"


def test_a_test_sale_is_refused_by_the_same_rules_as_a_real_one(desk):
    with pytest.raises(StakeOutOfLimits):
        sell_test(desk, stake="5")
    with pytest.raises(WrongPicks):
        sell_test(desk, bets=[101, 101, 101])
    home_odds = ("1.50", "2.00", "2.50", "1.80")
    seen = [PickedEvent(id=e, bet=101, odds=o) for e, o in zip(EVENT_IDS, home_odds, strict=True)]
    desk.update_sandbox_event(SITE_ADMIN, SMALL, EVENT_IDS[0], EventUpdate(odds={101: D("1.60")}))
    with pytest.raises(OddsChanged) as moved:
        sell_test(desk, bets=None, events=seen)
    assert moved.value.details["events"][0]["current_odds"] == D("1.60")
    assert sell_test(desk, bets=None, events=seen, odds_diff=D("0.10")).events[0].odds == D("1.60")
    desk.update_sandbox_event(SITE_ADMIN, SMALL, EVENT_IDS[2], EventUpdate(status=EventStatus.SUSPENDED))
    with pytest.raises(EventNotAvailable):
        sell_test(desk)
    assert len(desk.sandbox(SITE_ADMIN, SMALL).tickets) == 1


def test_test_results_settle_winners_bonus_tiers_and_losers_as_the_coupon_promises(desk):
    full, bonus, lost = sell_test(desk), sell_test(desk, bets=[101, 101, 101, 103]), sell_test(desk, bets=[103] * 4)
    summary = play(desk, H, H, H, H)
    assert (summary.winners, summary.bonus_winners, summary.losers) == (1, {3: 1}, 1)
    assert summary.coupon_id == SMALL and summary.total_payout == D("470.00")
    tried = {t.ticket.id: t for t in desk.sandbox(SITE_ADMIN, SMALL).tickets}
    assert tried[full.id].ticket.settlement.net_payout == tried[full.id].promised.net_payout == D("220.00")
    assert tried[bonus.id].promised.prize_tier == 3 and tried[bonus.id].promised.net_payout == D("164.00")
    assert tried[lost.id].ticket.settlement.result == TicketResult.LOST
    assert all(t.agrees for t in tried.values())


def test_a_void_event_pays_at_odds_one_and_too_many_voids_refund(desk):
    ticket = sell_test(desk)
    play(desk, V, H, H, H)
    settled = desk.sandbox(SITE_ADMIN, SMALL).tickets[0]
    assert settled.ticket.settlement.payout == settled.promised.payout == D("180.00") and settled.agrees
    desk.reset_sandbox(SITE_ADMIN, SMALL)
    ticket = sell_test(desk)
    summary = play(desk, V, V, H, H)
    refunded = desk.sandbox(SITE_ADMIN, SMALL).tickets[0]
    assert summary.voided == 1 and summary.total_refund == ticket.stake
    assert refunded.ticket.settlement.result == TicketResult.VOID and refunded.promised.refund == D("20.00")
    assert refunded.agrees


def test_a_cancelled_sandbox_round_refunds_every_test_ticket(desk):
    sell_test(desk)
    desk.enter_sandbox_result(SITE_ADMIN, SMALL, EVENT_IDS[0], H)
    summary = desk.cancel_sandbox_round(SITE_ADMIN, SMALL)
    assert summary.voided == 1 and summary.total_refund == D("20.00")
    tried = desk.sandbox(SITE_ADMIN, SMALL).tickets[0]
    assert tried.promised.refund == D("20.00") and tried.agrees


def test_a_sandbox_with_results_sells_no_more_until_it_is_reset(desk):
    sell_test(desk)
    desk.update_sandbox_event(SITE_ADMIN, SMALL, EVENT_IDS[1], EventUpdate(odds={101: D("9.00")}))
    desk.enter_sandbox_result(SITE_ADMIN, SMALL, EVENT_IDS[0], H)
    with pytest.raises(CouponClosed, match="reset it to sell again"):
        sell_test(desk)
    fresh = desk.reset_sandbox(SITE_ADMIN, SMALL)
    assert fresh.tickets == [] and fresh.summary.results == {} and fresh.coupon.events[1].odds[101] == D("2.00")
    assert sell_test(desk).test


def test_results_are_taken_before_the_deadline_in_the_sandbox_only(desk):
    assert desk.clock() < desk.get_draft(SITE_ADMIN, SMALL).coupon.closes_at
    sell_test(desk)
    assert play(desk, H, H, H, H).winners == 1
    with pytest.raises(CouponMissing):
        desk.enter_result(SITE_ADMIN, SMALL, EVENT_IDS[0], H)


def test_odds_and_statuses_moved_in_the_sandbox_never_go_live(desk):
    desk.update_sandbox_event(SITE_ADMIN, SMALL, EVENT_IDS[0], EventUpdate(odds={101: D("7.77")}))
    desk.update_sandbox_event(SITE_ADMIN, SMALL, EVENT_IDS[1], EventUpdate(status=EventStatus.CANCELLED))
    desk.publish_draft(SITE_ADMIN, SMALL, desk.get_draft(SITE_ADMIN, SMALL).version)
    live = desk.get_coupon(SITE_TILL, SMALL)
    assert live.events[0].odds[101] == D("1.50") and live.events[1].status == EventStatus.AVAILABLE


def test_a_new_upload_starts_a_fresh_sandbox_and_the_same_upload_keeps_it(desk):
    sell_test(desk)
    desk.save_draft(SITE_ADMIN, small_coupon(NOW))
    assert len(desk.sandbox(SITE_ADMIN, SMALL).tickets) == 1
    desk.save_draft(SITE_ADMIN, small_coupon(NOW, name="Renamed"))
    assert desk.sandbox(SITE_ADMIN, SMALL).tickets == []
    sell_test(desk)
    desk.discard_draft(SITE_ADMIN, SMALL)
    assert all_tickets(desk.store) == [] and SMALL not in coupon_rows(desk.store)
    assert set(coupon_rows(desk.store)) == {"455", "456", "457"}, "the sandbox copy went with the draft"


def test_a_test_ticket_never_reaches_lists_shifts_balances_or_real_settlements(desk):
    till = SITE_TILL
    without_the_demo_shift(desk)
    desk.open_shift(till, D("100.00"))
    shop, player = desk.balance(SITE_TILL, SAMPLE_TOKEN), desk.balance(SITE_TILL, PLAYER_TOKEN)
    real = desk.create_ticket(till, sample_request(stake="30"))
    test = sell_test(desk)
    play(desk, H, H, H, H)
    assert desk.sandbox(SITE_ADMIN, SMALL).tickets[0].ticket.settlement.net_payout == D("220.00")

    assert [t.id for t in desk.list_tickets(till, TicketQuery(limit=100))] == [real.id]
    assert desk.list_tickets(till, TicketQuery(coupon_id=test.coupon_id, limit=100)) == []
    for lookup in (desk.get_ticket, desk.pay_out, desk.cancel_ticket):
        for reference in (test.code, test.id):
            with pytest.raises(TicketNotFound):
                lookup(till, reference)
    shift = desk.current_shift(till)
    assert (shift.stakes, shift.stakes_count, shift.payouts_count) == (D("30.00"), 1, 0)
    assert [op.ticket_id for op in shift.operations] == [real.id] and cash_operation_count(desk.store) == 1
    assert (
        desk.balance(SITE_TILL, SAMPLE_TOKEN) == shop - D("30.00") and desk.balance(SITE_TILL, PLAYER_TOKEN) == player
    )
    assert desk.settlement(SITE_ADMIN, "455").tickets == 1
    assert desk.health()["coupons"] == 3
    assert sorted(t.test for t in all_tickets(desk.store)) == [False, True]
