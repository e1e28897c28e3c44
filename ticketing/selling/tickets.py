"""A sold ticket made from its checked picks: priced once, built from validated values without validating them again.
Pure: the sale (`TicketEngine`) and a coupon sandbox's test sale (`coupons.service`) both build theirs here."""

import hashlib
from datetime import datetime
from decimal import Decimal

from ticketing.contract.identifiers import new_ticket_code
from ticketing.contract.models import Ticket, TicketEvent, TicketRequest, TicketResult, TicketStatus, trusted
from ticketing.contract.money import round_odds
from ticketing.selling.pricing import TaxProfile, price_ticket


def request_fingerprint(request: TicketRequest) -> str:
    """Same key + same fingerprint = a retry. JSON layout and field order do not change it."""
    return hashlib.sha256(request.model_dump_json().encode()).hexdigest()


def priced_ticket(
    request: TicketRequest,
    events: list[TicketEvent],
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
    """A new ticket of `events` (as `validate_ticket` checked them) at `request`'s stake, priced by `price_ticket`
    under `cap`; its `code` drawn here unless the caller drew it (a batch checks its codes with its other reads)."""
    price = price_ticket(request.stake, [e.odds for e in events], tax_profile, cap)
    return trusted(
        Ticket,
        id=ticket_id,
        code=code or new_ticket_code(),
        operator=operator,
        coupon_id=coupon_id,
        stake=price.stake,
        currency=request.currency,
        net_stake=price.net_stake,
        excise=price.excise,
        total_odds=round_odds(price.total_odds),
        payout=price.payout,
        tax=price.tax,
        net_payout=price.net_payout,
        odds_diff=round_odds(request.odds_diff),
        status=TicketStatus.NEW,
        result=TicketResult.PENDING,
        approved=True,
        source=request.source,
        type=request.type,
        atag=atag,
        user_id=user_id,
        events=events,
        created=now,
        updated=now,
        settlement=None,
        test=test,
    )
