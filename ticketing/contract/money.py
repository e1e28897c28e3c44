"""Money and odds arithmetic.

Every amount is a `Decimal` in major units (KES 25.00), every odds value a `Decimal` with two decimals.
Rounding is always ROUND_HALF_UP to the cent, the way Betstack's finance calculator rounds each step.
Storage keeps integers (cents, hundredths of odds) so that no database ever sees a float.
"""

from decimal import ROUND_HALF_UP, Context, Decimal

CENT = Decimal("0.01")
HUNDRED = Decimal(100)
HALF_UP = Context(prec=28, rounding=ROUND_HALF_UP)


def _quantize_to_cent(value: Decimal) -> Decimal:
    # quantize refuses a result longer than its context's precision (28 digits by default), so a large payout or a
    # product of many odds would raise: a value too long for the usual context gets a context sized to it.
    if value.adjusted() < HALF_UP.prec - 3:
        return value.quantize(CENT, context=HALF_UP)
    return value.quantize(CENT, context=Context(prec=value.adjusted() + 3, rounding=ROUND_HALF_UP))


def round_money(value: Decimal) -> Decimal:
    """Round half-up to the cent: 8.885 -> 8.89, 4.302 -> 4.30."""
    return _quantize_to_cent(value)


def round_odds(value: Decimal) -> Decimal:
    """Odds carry two decimals too, rounded half-up."""
    return _quantize_to_cent(value)


def to_cents(amount: Decimal) -> int:
    """`round_money(amount)` in cents, in integers (half-up: a half cent away from zero)."""
    numerator, denominator = amount.as_integer_ratio()
    cents, rest = divmod(abs(numerator) * 100, denominator)
    if 2 * rest >= denominator:
        cents += 1
    return -cents if numerator < 0 else cents


def from_cents(cents: int) -> Decimal:
    return (Decimal(cents) / HUNDRED).quantize(CENT)


def format_money(amount: Decimal, currency: str) -> str:
    """`KES 1,234.50`: thousands separated, always two decimals."""
    return f"{currency} {round_money(amount):,.2f}"
