"""What the counter says of a ticket brought back to it: one verdict, and each pick marked. Pure, no I/O.

The engine decides what may be paid (`pay_out` refuses the rest with its reason); this is what the cashier reads
before pressing Pay, from the same ticket and settlement the engine would pay from.
"""

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from ticketing.contract.models import EventResult, Ticket, TicketResult, TicketStatus


class VerdictKind(StrEnum):
    WINNER = "WINNER"
    REFUND = "REFUND"
    NOT_A_WINNER = "NOT A WINNER"
    WAITING = "WAITING FOR RESULTS"
    ALREADY_PAID = "ALREADY PAID"
    CANCELLED = "CANCELLED"
    CREDITED = "CREDITED TO ACCOUNT"


@dataclass(frozen=True)
class Verdict:
    kind: VerdictKind
    amount: Decimal | None
    """Cash to hand over (payable verdicts), or what was paid, refunded or credited."""
    detail: str
    payable: bool = False


class Mark(StrEnum):
    CORRECT = "correct"
    WRONG = "wrong"
    VOID = "void"
    WAITING = "waiting"


@dataclass(frozen=True)
class PickMark:
    number: int
    event_id: int
    pick: str
    odds: Decimal
    result: EventResult | None
    mark: Mark


def verdict(ticket: Ticket, results_known: int, paid_at_local: datetime | None = None) -> Verdict:
    """`results_known`: how many of the coupon's events have a result (for a ticket still waiting).
    `paid_at_local`: the payout time in the terminal's zone, to say when it was paid."""
    settlement = ticket.settlement
    if ticket.status == TicketStatus.CANCELLED:
        refund = settlement.refund if settlement else ticket.stake
        return Verdict(VerdictKind.CANCELLED, refund, f"Cancelled at the till: stake {refund:,.2f} refunded then")
    if settlement is None:
        return Verdict(
            VerdictKind.WAITING, None, f"{results_known} of {len(ticket.events)} results known: come back later"
        )
    if settlement.paid is not None:
        paid = settlement.paid
        when = (paid_at_local or paid.paid_at).strftime("%Y-%m-%d %H:%M:%S")
        note = f" · {paid.follow_up}" if paid.follow_up else ""
        return Verdict(VerdictKind.ALREADY_PAID, paid.amount, f"Paid {paid.amount:,.2f} at {when} by {paid.till}{note}")
    if settlement.result == TicketResult.LOST:
        return Verdict(VerdictKind.NOT_A_WINNER, None, f"{settlement.correct} of {len(ticket.events)} correct")
    if settlement.credited > 0:
        return Verdict(
            VerdictKind.CREDITED, settlement.credited, "Sold on a player's account: credited there at settlement"
        )
    if settlement.result == TicketResult.VOID:
        return Verdict(VerdictKind.REFUND, settlement.refund, "The round was void: the stake is refunded", True)
    prize = f"bonus prize for {settlement.prize_tier} correct" if settlement.prize_tier else "every pick correct"
    detail = f"{prize} · payout {settlement.payout:,.2f} − tax {settlement.tax:,.2f}"
    return Verdict(VerdictKind.WINNER, settlement.net_payout, detail, True)


def pick_marks(ticket: Ticket, known: dict[int, EventResult]) -> list[PickMark]:
    """Each pick against its event's result: the settlement's when settled, else the results known so far."""
    settled = {e.id: e for e in ticket.settlement.events} if ticket.settlement else {}
    marks = []
    for number, pick in enumerate(ticket.events, start=1):
        outcome = settled.get(pick.id)
        result = outcome.result if outcome else known.get(pick.id)
        if result is None:
            mark = Mark.WAITING
        elif result == EventResult.VOID:
            mark = Mark.VOID
        elif outcome is not None:
            mark = Mark.CORRECT if outcome.correct else Mark.WRONG
        else:
            mark = Mark.CORRECT if pick.pick == result.value else Mark.WRONG
        marks.append(PickMark(number, pick.id, pick.pick, pick.odds, result, mark))
    return marks
