"""Property tests of the pricing (Hypothesis): tax never negative, payout never above the cap, cents exact,
payout non-decreasing in every odds value, a sale's pricing the same as `price_ticket`'s."""

import math
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal, localcontext

from hypothesis import example, given, settings
from hypothesis import strategies as st

from ticketing.contract.models import Coupon, CouponEvent, StakeRules, TicketRequest
from ticketing.contract.money import round_odds, to_cents
from ticketing.selling.pricing import TaxProfile, price_ticket
from ticketing.selling.rules import validate_ticket
from ticketing.selling.tickets import priced_ticket

stakes = st.decimals(min_value="0.01", max_value="100000", places=2)
# Mostly everyday odds; sometimes up to the models' limit, so that products run far past 28 digits.
odds_values = st.decimals(min_value="1.01", max_value="50", places=2) | st.decimals(
    min_value="1.01", max_value="10000", places=2
)
odds_lists = st.lists(odds_values, min_size=1, max_size=64)
rates = st.decimals(min_value="0", max_value="0.5", places=3)
caps = st.none() | st.decimals(min_value="1", max_value="100000000", places=2)


def profiles():
    return st.builds(TaxProfile, excise_rate=rates, withholding_rate=rates)


@settings(max_examples=300, deadline=None)
@given(stakes, odds_lists, profiles(), caps)
def test_amounts_are_cents_tax_never_negative_payout_never_above_cap(stake, odds, profile, cap):
    price = price_ticket(stake, odds, profile, cap)
    for amount in (price.net_stake, price.excise, price.payout, price.tax, price.net_payout):
        assert amount.as_tuple().exponent == -2
    assert price.tax >= 0
    with localcontext(prec=2000):
        assert price.net_stake + price.excise == stake
        assert price.net_payout == price.payout - price.tax
    if cap is not None:
        assert price.payout <= cap


@settings(max_examples=300, deadline=None)
@given(stakes, odds_lists, profiles(), caps, st.data())
def test_payout_never_decreases_when_any_odds_value_rises(stake, odds, profile, cap, data):
    index = data.draw(st.integers(min_value=0, max_value=len(odds) - 1))
    rise = data.draw(st.decimals(min_value="0.01", max_value="10", places=2))
    higher = [*odds[:index], odds[index] + rise, *odds[index + 1 :]]
    before = price_ticket(stake, odds, profile, cap)
    after = price_ticket(stake, higher, profile, cap)
    assert after.payout >= before.payout
    assert after.net_payout >= before.net_payout or after.payout == before.payout


@given(stakes, odds_lists)
def test_without_taxes_or_cap_payout_is_stake_times_odds_to_the_cent(stake, odds):
    with localcontext(prec=2000):
        product = Decimal(1)
        for value in odds:
            product *= value
        exact_payout = stake * product
    price = price_ticket(stake, odds, TaxProfile(withholding_rate=Decimal(0)))
    assert abs(price.payout - exact_payout) <= Decimal("0.005")


@given(st.decimals(allow_nan=False, allow_infinity=False, min_value="-1e15", max_value="1e15"))
@example(Decimal("0.005"))
@example(Decimal("-13.225"))
@example(Decimal("0.0049999"))
def test_cents_are_the_amount_rounded_half_up_away_from_zero(amount):
    with localcontext(prec=100):
        expected = int((amount * 100).to_integral_value(rounding=ROUND_HALF_UP))
    assert to_cents(amount) == expected


operators_rates = st.builds(
    TaxProfile,
    excise_rate=st.decimals(min_value="0", max_value="0.9999", places=4),
    withholding_rate=st.decimals(min_value="0", max_value="1", places=4),
)
"""Rates as an operator's profile holds them: basis points, withholding up to all the winnings."""


@settings(max_examples=300, deadline=None)
@given(stakes, odds_lists, profiles() | operators_rates, caps)
def test_the_integer_pricing_agrees_with_the_calculator_done_in_decimals(stake, odds, profile, cap):
    """Betstack's calculator step by step in Decimals wide enough to be exact, each figure rounded once."""
    with localcontext(prec=2000, rounding=ROUND_HALF_UP):
        net_stake = (stake / (1 + profile.excise_rate)).quantize(Decimal("0.01"))
        total_odds = math.prod(odds, start=Decimal(1))
        gross = net_stake * total_odds
        capped = cap is not None and gross > cap
        payout = (cap if capped else gross).quantize(Decimal("0.01"))
        tax = max(Decimal(0), ((payout - net_stake) * profile.withholding_rate).quantize(Decimal("0.01")))
        excise, net_payout = stake - net_stake, payout - tax
    price = price_ticket(stake, odds, profile, cap)
    assert (
        price.total_odds,
        price.net_stake,
        price.excise,
        price.payout,
        price.tax,
        price.net_payout,
        price.capped,
    ) == (
        total_odds,
        net_stake,
        excise,
        payout,
        tax,
        net_payout,
        capped,
    )


@settings(max_examples=200, deadline=None)
@given(stakes, odds_lists, st.lists(odds_values, min_size=64, max_size=64), profiles() | operators_rates, caps)
def test_a_ticket_sold_on_a_coupon_is_priced_as_price_ticket_prices_its_odds(stake, odds, others, profile, cap):
    """A sale multiplies its odds as it checks them, in units common to the coupon (`rules.coupon_on_sale`), and
    prices that product in cents (`price_in_cents`): the same figures as `price_ticket` of the same odds (checked
    above against the calculator), with the total odds rounded half-up to two places. Each event also offers a bet
    at other odds, so that the units vary with the coupon (odds such as 2.50 or 1.25 are in tenths or quarters)."""
    now = datetime(2026, 11, 25, tzinfo=UTC)
    events = [
        CouponEvent(id=i + 1, home="A", away="B", competition="L", kickoff=now, odds={101: value, 102: other})
        for i, (value, other) in enumerate(zip(odds, others, strict=False))
    ]
    rules = StakeRules(min_stake=Decimal("0.01"), max_stake=Decimal(100000))
    coupon = Coupon(
        id="1", name="C", currency="KES", closes_at=now + timedelta(days=1), stake_rules=rules, events=events
    )
    sale = TicketRequest(
        operator="site",
        stake=stake,
        currency="KES",
        source="retail",
        type="jackpot",
        token="t",
        coupon_id="1",
        bets=[101] * len(odds),
    )
    ticket = priced_ticket(
        sale,
        validate_ticket(sale, coupon, "KES", now),
        profile,
        cap,
        ticket_id="a" * 24,
        operator="site",
        coupon_id="1",
        user_id="u",
        atag=None,
        now=now,
    )
    price = price_ticket(stake, odds, profile, cap)
    assert (ticket.stake, ticket.net_stake, ticket.excise, ticket.payout, ticket.tax, ticket.net_payout) == (
        price.stake,
        price.net_stake,
        price.excise,
        price.payout,
        price.tax,
        price.net_payout,
    )
    assert str(ticket.total_odds) == str(round_odds(price.total_odds))
