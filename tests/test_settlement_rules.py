"""The settlement rules, pure and table-driven: all correct, one wrong, void legs, too many voids, bonus tiers, the
cap, a cancelled round."""

from decimal import Decimal as D

import pytest

from ticketing.contract.models import EventResult, TicketEvent, TicketResult
from ticketing.selling.pricing import TaxProfile
from ticketing.settlement.rules import settle_ticket

H, X, A, V = EventResult.HOME, EventResult.DRAW, EventResult.AWAY, EventResult.VOID
PICKS = [TicketEvent(id=n, bet=101, odds=D("2.00")) for n in range(1, 6)]  # five home picks at 2.00
BONUS = {4: D("500.00"), 3: D("100.00")}
KES = TaxProfile()


def settle(results, picks=PICKS, max_payout=None, max_void=3, bonus=BONUS, cancelled=False, stake="10"):
    by_event = dict(zip([p.id for p in picks], results, strict=True))
    return settle_ticket(D(stake), picks, by_event, KES, max_payout, max_void, bonus, coupon_cancelled=cancelled)


@pytest.mark.parametrize(
    "results, expected",
    [
        # all correct: 10 x 2^5 = 320.00, tax (320 - 10) x 20% = 62.00
        ([H, H, H, H, H], (TicketResult.WON, 5, 0, None, "320.00", "62.00", "258.00", "0.00")),
        # one void leg counts as correct at 1.00: 10 x 2^4 = 160.00, tax 30.00
        ([H, V, H, H, H], (TicketResult.WON, 5, 1, None, "160.00", "30.00", "130.00", "0.00")),
        # three voids: still a round (threshold 3): 10 x 2^2 = 40.00, tax 6.00
        ([V, V, V, H, H], (TicketResult.WON, 5, 3, None, "40.00", "6.00", "34.00", "0.00")),
        # four voids: more than the threshold, the round is void, the stake refunded
        ([V, V, V, V, H], (TicketResult.VOID, 5, 4, None, "0.00", "0.00", "0.00", "10.00")),
        # every event void
        ([V, V, V, V, V], (TicketResult.VOID, 5, 5, None, "0.00", "0.00", "0.00", "10.00")),
        # one wrong: the N-1 bonus, taxed like winnings: (500 - 10) x 20% = 98.00
        ([H, X, H, H, H], (TicketResult.WON, 4, 0, 4, "500.00", "98.00", "402.00", "0.00")),
        # two wrong, one void: 3 correct (the void counts) -> the N-2 bonus only
        ([A, X, V, H, H], (TicketResult.WON, 3, 1, 3, "100.00", "18.00", "82.00", "0.00")),
        # three wrong: no tier
        ([A, X, A, H, H], (TicketResult.LOST, 2, 0, None, "0.00", "0.00", "0.00", "0.00")),
    ],
)
def test_settlement_table(results, expected):
    s = settle(results)
    amounts = (f"{s.payout}", f"{s.tax}", f"{s.net_payout}", f"{s.refund}")
    assert (s.result, s.correct, s.voids, s.prize_tier, *amounts) == expected


def test_a_full_winner_is_capped_and_taxed_on_the_cap():
    s = settle([H] * 5, max_payout=D("100.00"))
    assert (s.payout, s.tax, s.net_payout) == (D("100.00"), D("18.00"), D("82.00"))


def test_a_bonus_prize_below_the_stake_is_not_taxed():
    s = settle([H, X, H, H, H], bonus={4: D("5.00")})
    assert (s.payout, s.tax, s.net_payout) == (D("5.00"), D("0.00"), D("5.00"))


def test_a_cancelled_round_refunds_whatever_the_results():
    s = settle([H] * 5, cancelled=True)
    assert (s.result, s.refund, s.owed) == (TicketResult.VOID, D("10.00"), D("10.00"))


def test_the_void_threshold_is_the_coupons():
    assert settle([V, H, H, H, H], max_void=0).result == TicketResult.VOID
    assert settle([V, V, V, V, H], max_void=4).result == TicketResult.WON


def test_what_is_owed_is_the_net_payout_of_a_winner_and_nothing_for_a_loser():
    assert settle([H] * 5).owed == D("258.00")
    assert settle([A, X, A, H, H]).owed == D("0.00")
