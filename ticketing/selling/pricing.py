"""Pricing and tax, as Betstack's published finance calculator does it. Pure functions, no I/O.

net_stake  = stake / (1 + excise_rate)            rounded half-up to the cent
excise     = stake - net_stake
payout     = net_stake * product(odds)             exact; capped at max_payout, else rounded half-up to the cent
tax        = (payout - net_stake) * withholding    rounded half-up, never below 0
net_payout = payout - tax

Every figure is computed exactly, in integers: each value as a fraction of two integers, amounts in cents, so each is
rounded once, half-up, and nothing before it (Decimal's default 28 digits would round, half-even, a product of many
odds and then refuse to round it to the cent).
"""

from collections.abc import Iterable
from decimal import ROUND_HALF_UP, Context, Decimal
from typing import NamedTuple

from pydantic import BaseModel, Field

from ticketing.contract.models import MAX_PICKS, trusted
from ticketing.contract.money import round_odds, to_cents


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
"""Room for every digit of a product of the most odds a ticket can carry (each at most 7 digits, the models' limit):
the exact product of the odds, as a Decimal, is a quotient in it."""


def payout_cap(coupon_cap: Decimal | None, operator_cap: Decimal) -> Decimal:
    """A ticket pays at most the lower of its coupon's cap and its operator's (the operator's alone when the coupon
    sets none): the engine prices a sale with it, and so must any screen that shows a payout before the sale."""
    return operator_cap if coupon_cap is None else min(coupon_cap, operator_cap)


class PriceInCents(NamedTuple):
    """A ticket's figures in cents, as `price_in_cents` works them out: `Price` without its Decimals."""

    stake: int
    net_stake: int
    excise: int
    payout: int
    tax: int
    net_payout: int
    capped: bool


def price_ticket(
    stake: Decimal, odds: Iterable[Decimal], profile: TaxProfile, max_payout: Decimal | None = None
) -> Price:
    """Every figure in integers (cents, and each value as a fraction of two integers), so nothing is rounded
    before its one rounding; no Decimal context is set up and nothing is quantized (README "Performance", the
    ninth pass: 44k instructions a sale fewer than the same figures in Decimals)."""
    odds_num = odds_den = 1
    for value in odds:
        num, den = value.as_integer_ratio()
        odds_num *= num
        odds_den *= den
    price = price_in_cents(stake, odds_num, odds_den, profile, max_payout)
    return trusted(
        Price,
        stake=cents_to_money(price.stake),
        net_stake=cents_to_money(price.net_stake),
        excise=cents_to_money(price.excise),
        total_odds=EXACT.divide(Decimal(odds_num), Decimal(odds_den)),
        payout=cents_to_money(price.payout),
        tax=cents_to_money(price.tax),
        net_payout=cents_to_money(price.net_payout),
        capped=price.capped,
    )


def price_in_cents(
    stake: Decimal, odds_num: int, odds_den: int, profile: TaxProfile, max_payout: Decimal | None
) -> PriceInCents:
    """`price_ticket`'s figures for odds whose product is `odds_num / odds_den`, in cents: what a sale prices, its
    odds multiplied as it checks them (`rules.price_picks`)."""
    stake_cents = to_cents(stake)
    net_stake = _quotient_in_cents(stake, 1 + profile.excise_rate)
    # The payout in cents before the cap: net_stake * odds_num / odds_den, exactly.
    gross_num, gross_den = net_stake * odds_num, odds_den
    capped = False
    if max_payout is not None:
        cap_num, cap_den = max_payout.as_integer_ratio()
        capped = gross_num * cap_den > cap_num * 100 * gross_den
    payout = to_cents(max_payout) if capped else _half_up(gross_num, gross_den)
    withholding_num, withholding_den = profile.withholding_rate.as_integer_ratio()
    winnings = payout - net_stake
    tax = _half_up(winnings * withholding_num, withholding_den) if winnings > 0 else 0
    # Rounding `stake - net_stake` to the cent: the net stake is a whole number of cents already.
    return PriceInCents(stake_cents, net_stake, stake_cents - net_stake, payout, tax, payout - tax, capped)


def odds_to_two_places(odds_num: int, odds_den: int) -> Decimal:
    """`round_odds` of the exact product `odds_num / odds_den`, in integers: what a ticket shows as its total odds."""
    return cents_to_money(_half_up(odds_num * 100, odds_den))


def _half_up(numerator: int, denominator: int) -> int:
    """`numerator / denominator` (both >= 0, the denominator > 0) rounded half-up to an integer."""
    return (2 * numerator + denominator) // (2 * denominator)


def cents_to_money(cents: int) -> Decimal:
    """An amount in cents as the Decimal with two places the models carry (any size: no context rounds it)."""
    return Decimal(cents).scaleb(-2, EXACT)


def divide_to_cent(amount: Decimal, divisor: Decimal) -> Decimal:
    """`amount / divisor` (both positive) rounded half-up to the cent, in integers: no intermediate rounding."""
    return cents_to_money(_quotient_in_cents(amount, divisor))


def _quotient_in_cents(amount: Decimal, divisor: Decimal) -> int:
    amount_num, amount_den = amount.as_integer_ratio()
    divisor_num, divisor_den = divisor.as_integer_ratio()
    return _half_up(amount_num * divisor_den * 100, amount_den * divisor_num)
