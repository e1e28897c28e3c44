"""Pricing and tax, as Betstack's published finance calculator does it. Pure functions, no I/O.

net_stake  = stake / (1 + excise_rate)            rounded half-up to the cent
excise     = stake - net_stake
payout     = net_stake * product(odds)             exact; capped at max_payout, else rounded half-up to the cent
tax        = (payout - net_stake) * withholding    rounded half-up, never below 0
net_payout = payout - tax

Every product is exact: it runs in a context with as many digits as its operands can need, since Decimal's default
28 digits would round (half-even) a product of many odds and then refuse to round it to the cent. The division is
exact too (as a fraction), so each figure is rounded once, half-up.
"""

from collections.abc import Iterable
from decimal import ROUND_HALF_UP, Context, Decimal, localcontext
from math import prod

from pydantic import BaseModel, Field

from ticketing.contract.models import MAX_PICKS, trusted
from ticketing.contract.money import round_money, round_odds


class TaxProfile(BaseModel):
    """An operator's taxes: excise is inside the stake the player pays, withholding is on the winnings."""

    excise_rate: Decimal = Field(default=Decimal("0"), ge=0, lt=1)
    withholding_rate: Decimal = Field(default=Decimal("0.20"), ge=0, le=1)


class Price(BaseModel):
    stake: Decimal
    net_stake: Decimal
    excise: Decimal
    total_odds: Decimal
    payout: Decimal
    tax: Decimal
    net_payout: Decimal
    capped: bool

    @property
    def display_odds(self) -> Decimal:
        return round_odds(self.total_odds)


EXACT = Context(prec=MAX_PICKS * 8 + 100, rounding=ROUND_HALF_UP)
"""Room for every digit of a product of the most odds a ticket can carry (each at most 7 digits, the models' limit)
with the largest stake and rates: sums and products in it are exact, whatever Decimal's default context says."""


def payout_cap(coupon_cap: Decimal | None, operator_cap: Decimal) -> Decimal:
    """A ticket pays at most the lower of its coupon's cap and its operator's (the operator's alone when the coupon
    sets none): the engine prices a sale with it, and so must any screen that shows a payout before the sale."""
    return operator_cap if coupon_cap is None else min(coupon_cap, operator_cap)


def price_ticket(
    stake: Decimal, odds: Iterable[Decimal], profile: TaxProfile, max_payout: Decimal | None = None
) -> Price:
    net_stake = divide_to_cent(stake, 1 + profile.excise_rate)
    with localcontext(EXACT):
        total_odds = prod(odds, start=Decimal(1))
        gross_payout = net_stake * total_odds
        capped = max_payout is not None and gross_payout > max_payout
        payout = round_money(max_payout if capped else gross_payout)
        tax = max(Decimal("0.00"), round_money((payout - net_stake) * profile.withholding_rate))
        return trusted(
            Price,
            stake=round_money(stake),
            net_stake=net_stake,
            excise=round_money(stake - net_stake),
            total_odds=total_odds,
            payout=payout,
            tax=tax,
            net_payout=round_money(payout - tax),
            capped=capped,
        )


def divide_to_cent(amount: Decimal, divisor: Decimal) -> Decimal:
    """`amount / divisor` (both positive) rounded half-up to the cent, in integers: no intermediate rounding."""
    amount_num, amount_den = amount.as_integer_ratio()
    divisor_num, divisor_den = divisor.as_integer_ratio()
    numerator, denominator = amount_num * divisor_den * 100, amount_den * divisor_num
    return Decimal((2 * numerator + denominator) // (2 * denominator)).scaleb(-2)
