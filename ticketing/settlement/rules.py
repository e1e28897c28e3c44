"""How a ticket is settled from its coupon's results: pure functions, no I/O.

The set-based settlement in `queries.py` applies the same rules in SQL to every ticket of a coupon at once; this
module is the reference the tests hold it to, prices the rare winners that carry a void event (their payout is
recomputed at odds 1.00 for the void legs), and previews a settlement before an admin confirms it.

- `void` (stake refunded): the coupon was cancelled, every event is void, or more events are void than the
  coupon's `max_void_events`.
- `won`: every pick correct, a void event counting as correct at odds 1.00; the payout is `price_ticket` of the odds
  the ticket was sold at (cap and withholding tax included).
- `won` with a `prize_tier`: exactly N-k correct where the coupon pays a fixed bonus prize for N-k; only the
  highest tier a ticket reaches, taxed like any winnings.
- `lost` otherwise: every amount 0.
"""

from collections.abc import Mapping, Sequence
from decimal import Decimal

from pydantic import BaseModel

from ticketing.contract.models import PICK_LABELS, EventResult, TicketEvent, TicketResult
from ticketing.contract.money import round_money
from ticketing.selling.pricing import TaxProfile, divide_to_cent, price_ticket

VOID_ODDS = Decimal("1.00")
ZERO = Decimal("0.00")


class Settlement(BaseModel):
    """What a ticket is worth once its coupon is resulted."""

    result: TicketResult
    correct: int
    voids: int
    prize_tier: int | None = None
    payout: Decimal = ZERO
    tax: Decimal = ZERO
    net_payout: Decimal = ZERO
    refund: Decimal = ZERO

    @property
    def owed(self) -> Decimal:
        """What the player is owed: the net payout of a winner, the stake of a void ticket, else nothing."""
        return self.net_payout if self.result == TicketResult.WON else self.refund


def pick_is_correct(pick: TicketEvent, result: EventResult) -> bool:
    return result == EventResult.VOID or PICK_LABELS.get(pick.bet) == result.value


def round_is_void(voids: int, events: int, max_void_events: int) -> bool:
    return voids == events or voids > max_void_events


def prize_tax(prize: Decimal, net_stake: Decimal, profile: TaxProfile) -> Decimal:
    """Withholding on a bonus prize, as on any winnings: on what exceeds the net stake, half-up, never below 0."""
    return max(ZERO, round_money((prize - net_stake) * profile.withholding_rate))


def settle_ticket(
    stake: Decimal,
    picks: Sequence[TicketEvent],
    results: Mapping[int, EventResult],
    profile: TaxProfile,
    max_payout: Decimal | None,
    max_void_events: int,
    bonus_prizes: Mapping[int, Decimal],
    coupon_cancelled: bool = False,
) -> Settlement:
    """`results` must hold every picked event's result; `bonus_prizes` maps a number of correct picks to a prize."""
    voids = sum(1 for p in picks if results[p.id] == EventResult.VOID)
    correct = sum(1 for p in picks if pick_is_correct(p, results[p.id]))
    if coupon_cancelled or round_is_void(voids, len(picks), max_void_events):
        return Settlement(result=TicketResult.VOID, correct=correct, voids=voids, refund=round_money(stake))
    if correct == len(picks):
        odds = [VOID_ODDS if results[p.id] == EventResult.VOID else p.odds for p in picks]
        price = price_ticket(stake, odds, profile, max_payout)
        return Settlement(
            result=TicketResult.WON,
            correct=correct,
            voids=voids,
            payout=price.payout,
            tax=price.tax,
            net_payout=price.net_payout,
        )
    prize = bonus_prizes.get(correct)
    if prize is not None:
        tax = prize_tax(prize, divide_to_cent(stake, 1 + profile.excise_rate), profile)
        return Settlement(
            result=TicketResult.WON,
            correct=correct,
            voids=voids,
            prize_tier=correct,
            payout=round_money(prize),
            tax=tax,
            net_payout=round_money(prize - tax),
        )
    return Settlement(result=TicketResult.LOST, correct=correct, voids=voids)
