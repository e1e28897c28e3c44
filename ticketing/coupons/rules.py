"""Pure parts of drafts and the sandbox: a draft's stored form and version, and what a test ticket is owed by the
coupon's own rules (to hold the engine's settlement of it against)."""

import hashlib
from collections.abc import Mapping
from datetime import UTC
from decimal import Decimal

from ticketing.contract import wire
from ticketing.contract.models import Coupon, EventResult, Ticket, TicketSettlement
from ticketing.coupons.models import PromisedSettlement
from ticketing.selling.pricing import TaxProfile
from ticketing.settlement.rules import settle_ticket


def coupon_body(coupon: Coupon) -> dict:
    """The coupon in the engine's JSON format as a draft is kept and sent: no status (publishing decides it), every
    datetime with its UTC offset, so that it reads the same whatever zone a reader assumes for a time without one."""
    body = wire.loads(wire.dumps(coupon))
    body.pop("status")
    body["closes_at"] = coupon.closes_at.astimezone(UTC).isoformat()
    for event, raw in zip(coupon.events, body["events"], strict=True):
        raw["kickoff"] = event.kickoff.astimezone(UTC).isoformat()
    return body


def version_of(body: dict) -> str:
    return hashlib.sha256(wire.dumps(body)).hexdigest()[:16]


def promised_settlement(
    ticket: Ticket,
    coupon: Coupon,
    results: Mapping[int, EventResult],
    profile: TaxProfile,
    bonus_prizes: Mapping[int, Decimal],
    cancelled: bool,
) -> PromisedSettlement | None:
    """The ticket's outcome by `ticketing.settlement.rules` (the reference the settlement SQL is held to), or None
    while a result of its events is missing and the round is not cancelled."""
    if not cancelled and any(pick.id not in results for pick in ticket.events):
        return None
    known = {pick.id: results.get(pick.id, EventResult.VOID) for pick in ticket.events}
    outcome = settle_ticket(
        ticket.stake,
        ticket.events,
        known,
        profile,
        coupon.max_payout,
        coupon.max_void_events,
        bonus_prizes,
        coupon_cancelled=cancelled,
    )
    return PromisedSettlement(
        result=outcome.result,
        prize_tier=outcome.prize_tier,
        payout=outcome.payout,
        tax=outcome.tax,
        net_payout=outcome.net_payout,
        refund=outcome.refund,
    )


def settlement_agrees(settled: TicketSettlement | None, promised: PromisedSettlement | None) -> bool | None:
    """None until both are known; else whether the engine paid exactly what the rules promise."""
    if settled is None or promised is None:
        return None
    fields = ("result", "prize_tier", "payout", "tax", "net_payout", "refund")
    return all(getattr(settled, field) == getattr(promised, field) for field in fields)
