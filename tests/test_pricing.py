"""Pricing against Betstack's published finance-calculator vectors and hand-checked figures."""

from decimal import Context, Decimal
from decimal import Decimal as D
from fractions import Fraction

import pytest

from ticketing.contract.money import format_money, round_money
from ticketing.selling.pricing import TaxProfile, price_ticket

BETSTACK_PROFILE = TaxProfile(excise_rate=D("0.125"), withholding_rate=D("0.20"))


@pytest.mark.parametrize(
    "price, total_odds, stake, excise, gross_payout, wht, net_payout",
    [
        # Betstack's published examples (amounts in cents there, major units here).
        ("10.00", "3.42", "8.89", "1.11", "30.40", "4.30", "26.10"),
        ("20.00", "18.24", "17.78", "2.22", "324.31", "61.31", "263.00"),
    ],
)
def test_published_finance_calculator_vectors(price, total_odds, stake, excise, gross_payout, wht, net_payout):
    result = price_ticket(D(price), [D(total_odds)], BETSTACK_PROFILE)
    assert (result.net_stake, result.excise, result.payout, result.tax, result.net_payout) == (
        D(stake),
        D(excise),
        D(gross_payout),
        D(wht),
        D(net_payout),
    )


def test_kes_default_profile_by_hand():
    # 25 * 1.59 * 3.25 * 2.00 = 258.375 -> 258.38; tax (258.38 - 25) * 0.2 = 46.676 -> 46.68
    result = price_ticket(D("25"), [D("1.59"), D("3.25"), D("2.00")], TaxProfile())
    assert result.net_stake == D("25.00") and result.excise == D("0.00")
    assert result.total_odds == D("10.335")
    assert result.display_odds == D("10.34")
    assert result.payout == D("258.38")
    assert result.tax == D("46.68")
    assert result.net_payout == D("211.70")
    assert not result.capped


def test_product_of_odds_is_not_rounded_before_the_payout():
    # 1.15^3 = 1.520875; rounding the product first (1.52) would pay 152.00 instead of 152.09.
    result = price_ticket(D("100"), [D("1.15")] * 3, TaxProfile(withholding_rate=D("0")))
    assert result.payout == D("152.09")


def test_payout_capped_at_max_payout_and_taxed_on_the_cap():
    result = price_ticket(D("100"), [D("10.00")] * 5, TaxProfile(), max_payout=D("1000000"))
    assert result.capped
    assert result.payout == D("1000000.00")
    assert result.tax == D("199980.00")  # (1,000,000 - 100) * 20%
    assert result.net_payout == D("800020.00")


def test_excise_and_cap_together():
    # net stake 50 / 1.125 = 44.444 -> 44.44; 44.44 * 30^3 = 1,199,880 capped at 500,000
    result = price_ticket(D("50"), [D("30")] * 3, BETSTACK_PROFILE, max_payout=D("500000"))
    assert (result.net_stake, result.excise) == (D("44.44"), D("5.56"))
    assert result.payout == D("500000.00")
    assert result.tax == D("99991.11")  # (500000 - 44.44) * 0.2 = 99991.112
    assert result.net_payout == D("400008.89")


def test_tax_never_negative_when_the_cap_is_below_the_stake():
    result = price_ticket(D("100"), [D("2.00")], TaxProfile(), max_payout=D("50"))
    assert result.payout == D("50.00")
    assert result.tax == D("0.00")


def test_half_up_rounding_and_money_format():
    assert round_money(D("0.125")) == D("0.13")
    assert round_money(D("0.135")) == D("0.14")
    assert round_money(D("2.675")) == D("2.68")
    assert format_money(D("1234567.5"), "KES") == "KES 1,234,567.50"


# ---- exact half-up ties: each would round the other way under half-even ----------------------------------------


def test_a_payout_on_an_exact_half_cent_rounds_up():
    # 10 * 1.15 * 1.15 = 13.225 exactly: half-up 13.23, half-even 13.22.
    assert price_ticket(D("10"), [D("1.15"), D("1.15")], TaxProfile(withholding_rate=D("0"))).payout == D("13.23")


def test_a_tax_on_an_exact_half_cent_rounds_up():
    # (10.50 - 10.00) * 5% = 0.025 exactly: half-up 0.03, half-even 0.02.
    price = price_ticket(D("10"), [D("1.05")], TaxProfile(withholding_rate=D("0.05")))
    assert (price.payout, price.tax, price.net_payout) == (D("10.50"), D("0.03"), D("10.47"))


def test_a_net_stake_on_an_exact_half_cent_rounds_up():
    # 0.20 / 1.6 = 0.125 exactly: half-up 0.13, half-even 0.12.
    price = price_ticket(D("0.20"), [D("2")], TaxProfile(excise_rate=D("0.6"), withholding_rate=D("0")))
    assert (price.net_stake, price.excise) == (D("0.13"), D("0.07"))


def test_a_net_stake_just_below_a_half_cent_rounds_down():
    # 0.20 / 1.6008 = 0.124937...: 0.12; rounding it to 0.125 first and then to the cent would give 0.13.
    price = price_ticket(D("0.20"), [D("2")], TaxProfile(excise_rate=D("0.6008"), withholding_rate=D("0")))
    assert (price.net_stake, price.excise) == (D("0.12"), D("0.08"))


def test_a_net_stake_that_does_not_divide_evenly_is_rounded_once_from_the_exact_quotient():
    # 100 / 1.16 = 86.2068965...: 86.21, not a rounding of an already rounded quotient.
    assert price_ticket(D("100"), [D("2")], TaxProfile(excise_rate=D("0.16"))).net_stake == D("86.21")


# ---- large odds: more digits than Decimal's default 28 --------------------------------------------------------


def test_thirteen_events_at_odds_near_900_are_capped_not_an_error():
    # 25 * 900.37^13 has 41 digits before the point: the default context cannot even hold it to the cent.
    price = price_ticket(D("25"), [D("900.37")] * 13, TaxProfile(), max_payout=D("5000000"))
    assert price.capped and price.payout == D("5000000.00")
    assert (price.tax, price.net_payout) == (D("999995.00"), D("4000005.00"))
    assert price.total_odds == exact_product([D("900.37")] * 13)


def test_the_largest_ticket_without_a_cap_is_priced_to_the_exact_cent():
    odds = [D("9999.99")] * 64
    price = price_ticket(D("25"), odds, TaxProfile(withholding_rate=D("0")))
    exact = Fraction(25) * Fraction(exact_product(odds))
    assert price.payout == Decimal(int(exact * 100 + Fraction(1, 2))).scaleb(-2, context=Context(prec=1000))
    assert not price.capped


def exact_product(values: list[Decimal]) -> Decimal:
    """Computed with integers, independently of the code under test: odds have two decimals, so the product is
    an integer over a power of ten."""
    numerator = 1
    for value in values:
        numerator *= int(value * 100)
    return Decimal(numerator).scaleb(-2 * len(values), context=Context(prec=1000))
