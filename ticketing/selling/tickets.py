"""A sold ticket made from its checked picks: priced once, built from validated values without validating them again.
Pure: the sale (`TicketEngine`) and a coupon sandbox's test sale (`coupons.service`) both build theirs here."""

import hashlib
from datetime import datetime
from decimal import Decimal

from ticketing.contract.identifiers import new_ticket_code
from ticketing.contract.models import Ticket, TicketRequest, TicketResult, TicketStatus, trusted
from ticketing.contract.money import round_odds
from ticketing.selling.pricing import TaxProfile, cents_to_money, odds_to_two_places, price_in_cents
from ticketing.selling.rules import CheckedPicks


def request_fingerprint(request: TicketRequest) -> str:
    """Same key + same fingerprint = a retry. JSON layout and field order do not change it."""
    return hashlib.sha256(request.model_dump_json().encode()).hexdigest()


def priced_ticket(
    request: TicketRequest,
    picks: CheckedPicks,
    tax_profile: TaxProfile,
    cap: Decimal | None,
    *,
    ticket_id: str,
    code: str | None = None,
    operator: str,
    coupon_id: str,
    user_id: str,
    atag: str | None,
    now: datetime,
    test: bool = False,
) -> Ticket:
    """A new ticket of `picks` (as `validate_ticket` checked them) at `request`'s stake, priced by `price_in_cents`
    under `cap`; its `code` drawn here unless the caller drew it (a batch checks its codes with its other reads)."""
    price = price_in_cents(request.stake, picks.odds_num, picks.odds_den, tax_profile, cap)
    return trusted(
        Ticket,
        id=ticket_id,
        code=code or new_ticket_code(),
        operator=operator,
        coupon_id=coupon_id,
        stake=cents_to_money(price.stake),
        currency=request.currency,
        net_stake=cents_to_money(price.net_stake),
        excise=cents_to_money(price.excise),
        total_odds=odds_to_two_places(picks.odds_num, picks.odds_den),
        payout=cents_to_money(price.payout),
        tax=cents_to_money(price.tax),
        net_payout=cents_to_money(price.net_payout),
        odds_diff=round_odds(request.odds_diff),
        status=TicketStatus.NEW,
        result=TicketResult.PENDING,
        approved=True,
        source=request.source,
        type=request.type,
        atag=atag,
        user_id=user_id,
        events=picks.events,
        created=now,
        updated=now,
        settlement=None,
        test=test,
    )
