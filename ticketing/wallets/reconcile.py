"""Reconciliation: the engine's tickets against the wallet's ledger, ticket by ticket, every difference listed.

What each of an operator's PAM tickets should have done to its player's money, from the engine's side:

| engine's ticket | wallet's state | debited | credited | refunded |
|---|---|---|---|---|
| `new` (waiting for the wallet's answer) or `open` | `open` | price | 0 | 0 |
| `resulted` won / lost / void | `won` / `lost` / `void` | price | what settlement owes (`credited`) | 0 |
| `cancelled` at the till | `refunded` | price | 0 | price |
| discarded (`cancelled`, never sold) | `discarded` or unknown | 0 | 0 | 0 |

From the wallet's ledger (`GET {wallet_url}/ledger`: `tickets` with their `state`, `entries` with `ticket_id`, `action`
and signed `amount` in cents): debited = minus the sum of `ticket_create` and `ticket_discard` entries, credited =
the sum of `ticket_win`, `ticket_void`, `ticket_lost` and `ticket_rollback` entries, refunded = the sum of
`ticket_refund` entries. A ticket the wallet has and the engine does not is a difference too.

Each difference carries how many of the ticket's messages are not delivered yet: with some, it may be on its way;
with none, someone must look. After every message is delivered the report is empty.
"""

from collections import defaultdict
from collections.abc import Iterable, Mapping
from datetime import datetime
from decimal import Decimal
from typing import Annotated

from pydantic import BaseModel, WithJsonSchema
from sqlalchemy import Connection, select

from ticketing.contract.models import UtcDatetime
from ticketing.contract.money import from_cents
from ticketing.storage import ticket_settlements, tickets
from ticketing.wallets.interface import PAM

DEBITS = ("ticket_create", "ticket_discard")
CREDITS = ("ticket_win", "ticket_void", "ticket_lost", "ticket_rollback")
REFUNDS = ("ticket_refund",)


class Expected(BaseModel):
    """One ticket's money as one side sees it (cents)."""

    state: str | None
    debited: int = 0
    credited: int = 0
    refunded: int = 0


class Difference(BaseModel):
    ticket_id: str
    code: str | None
    field: str
    """`state`, `debited`, `credited`, `refunded`, or `ticket` (a ticket only the wallet has)."""
    engine: str | None
    wallet: str | None
    undelivered: int
    """The ticket's messages not delivered yet: with some, the difference may be on its way."""


SignedAmount = Annotated[Decimal, WithJsonSchema({"type": "number"})]
"""Not `Money`: a wallet's sums and balances may be negative (a rollback after the winnings were spent)."""


class Totals(BaseModel):
    tickets: int
    debited: SignedAmount
    credited: SignedAmount
    refunded: SignedAmount


class Reconciliation(BaseModel):
    operator: str
    checked_at: UtcDatetime
    engine: Totals
    wallet: Totals
    differences: list[Difference]


def engine_view(conn: Connection, operator: str) -> dict[str, tuple[str, Expected]]:
    """Each of the operator's PAM tickets: its code and what its wallet should show."""
    rows = conn.execute(
        select(
            tickets.c.id,
            tickets.c.code,
            tickets.c.status,
            tickets.c.result,
            tickets.c.stake_cents,
            ticket_settlements.c.ticket_id.label("settled"),
            ticket_settlements.c.credited_cents,
            ticket_settlements.c.refund_cents,
        )
        .outerjoin(ticket_settlements, ticket_settlements.c.ticket_id == tickets.c.id)
        .where(tickets.c.operator == operator, tickets.c.wallet == PAM)
    )
    view = {}
    for row in rows:
        price = row.stake_cents
        if row.status in ("new", "open"):
            expected = Expected(state="open", debited=price)
        elif row.status == "resulted":
            expected = Expected(state=row.result, debited=price, credited=row.credited_cents)
        elif row.settled is not None:
            expected = Expected(state="refunded", debited=price, refunded=row.refund_cents)
        else:
            expected = Expected(state="discarded")
        view[row.id] = (row.code, expected)
    return view


def wallet_view(ledger: Mapping) -> dict[str, Expected]:
    sums: dict[str, dict[str, int]] = defaultdict(lambda: {"debited": 0, "credited": 0, "refunded": 0})
    for entry in ledger.get("entries", []):
        amount, action = int(entry["amount"]), entry["action"]
        side = sums[str(entry["ticket_id"])]
        if action in DEBITS:
            side["debited"] -= amount
        elif action in CREDITS:
            side["credited"] += amount
        elif action in REFUNDS:
            side["refunded"] += amount
    states = {str(t["ticket_id"]): t.get("state") for t in ledger.get("tickets", [])}
    return {ticket_id: Expected(state=states.get(ticket_id), **sums[ticket_id]) for ticket_id in {*states, *sums}}


def differences(
    engine: Mapping[str, tuple[str, Expected]], wallet: Mapping[str, Expected], undelivered: Mapping[str, int]
) -> list[Difference]:
    found = []
    for ticket_id, (code, expected) in sorted(engine.items()):
        seen = wallet.get(ticket_id, Expected(state=None))
        waiting = undelivered.get(ticket_id, 0)
        if expected.state == "discarded" and seen.state in (None, "discarded"):
            seen = seen.model_copy(update={"state": "discarded"})
        for field in ("state", "debited", "credited", "refunded"):
            mine, theirs = getattr(expected, field), getattr(seen, field)
            if mine != theirs:
                found.append(
                    Difference(
                        ticket_id=ticket_id,
                        code=code,
                        field=field,
                        engine=_shown(field, mine),
                        wallet=_shown(field, theirs),
                        undelivered=waiting,
                    )
                )
    for ticket_id in sorted(set(wallet) - set(engine)):
        only_there = {"field": "ticket", "engine": None, "wallet": wallet[ticket_id].state, "undelivered": 0}
        found.append(Difference(ticket_id=ticket_id, code=None, **only_there))
    return found


def _shown(field: str, value) -> str | None:
    if value is None:
        return None
    return value if field == "state" else f"{from_cents(value):.2f}"


def totals(views: Iterable[Expected]) -> Totals:
    views = list(views)
    return Totals(
        tickets=len(views),
        debited=from_cents(sum(v.debited for v in views)),
        credited=from_cents(sum(v.credited for v in views)),
        refunded=from_cents(sum(v.refunded for v in views)),
    )


def reconcile(
    operator: str,
    now: datetime,
    engine: Mapping[str, tuple[str, Expected]],
    ledger: Mapping,
    undelivered: Mapping[str, int],
) -> Reconciliation:
    wallet = wallet_view(ledger)
    return Reconciliation(
        operator=operator,
        checked_at=now,
        engine=totals(expected for _code, expected in engine.values()),
        wallet=totals(wallet.values()),
        differences=differences(engine, wallet, undelivered),
    )


class WalletStatus(BaseModel):
    """An operator's wallet as operations see it: which, where (never its secret), its messages by state."""

    operator: str
    wallet: str
    url: str | None
    messages: dict[str, int]


class WalletPlayer(BaseModel):
    """Who a token is and what it holds, in the wallet its money is in (a PAM's `identify`, or the accounts here)."""

    player_id: str
    balance: SignedAmount
    currency: str
    wallet: str
