"""Pricing and tax, as Betstack's published finance calculator does it. Pure functions, no I/O.

net_stake  = stake / (1 + excise_rate)            rounded half-up to the cent
excise     = stake - net_stake
payout     = net_stake * product(odds)             product unrounded, payout rounded, then capped at max_payout
tax        = (payout - net_stake) * withholding    rounded, never below 0
net_payout = payout - tax
"""

from collections.abc import Iterable
from decimal import Decimal
from math import prod

from pydantic import BaseModel, Field

from ticketing.money import round_money, round_odds


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


def price_ticket(
    stake: Decimal, odds: Iterable[Decimal], profile: TaxProfile, max_payout: Decimal | None = None
) -> Price:
    total_odds = prod(odds, start=Decimal(1))
    net_stake = round_money(stake / (1 + profile.excise_rate))
    gross_payout = round_money(net_stake * total_odds)
    capped = max_payout is not None and gross_payout > max_payout
    payout = max_payout if capped else gross_payout
    tax = max(Decimal("0.00"), round_money((payout - net_stake) * profile.withholding_rate))
    return Price(
        stake=round_money(stake),
        net_stake=net_stake,
        excise=round_money(stake - net_stake),
        total_odds=total_odds,
        payout=round_money(payout),
        tax=tax,
        net_payout=round_money(payout - tax),
        capped=capped,
    )
