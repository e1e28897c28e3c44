"""Signed requests already seen, remembered in the database for the signature window, so that every worker of
every engine process knows them.

A signature is claimed once: a management request (or a sale) whose signature is already claimed is a replay. A
sale's claim names the ticket it was about to create: if the first sending sold, the replay answers that ticket
(no second debit); if it was refused, the replay is refused too, even if it would sell now (odds back, balance
topped up). Claims expire with the window: after it, the timestamp check refuses the request anyway.
"""

import time
from dataclasses import dataclass

from sqlalchemy import Connection, bindparam, delete, select
from sqlalchemy.dialects import postgresql, sqlite

from ticketing.access.betstack_signing import MAX_CLOCK_SKEW_SECONDS
from ticketing.storage import request_signatures

PRUNE_EVERY_SECONDS = 60.0
PRUNE_MARGIN_SECONDS = 60
"""Claims are kept this much past their expiry, for engines on machines whose clocks differ a little."""


@dataclass(frozen=True)
class SignedRequest:
    """A verified request signature (lower-case hex) and when its claim may be forgotten (unix seconds)."""

    signature: str
    expires: int

    @classmethod
    def sent_at(cls, signature: str, timestamp: float) -> "SignedRequest":
        return cls(signature, int(timestamp) + MAX_CLOCK_SKEW_SECONDS + 1)


# A conflict is the expected outcome of a replay, not an error: it must not abort the sale's whole batch. RETURNING
# says whether the row went in (psycopg's rowcount does not, for ON CONFLICT DO NOTHING).
CLAIMS = {
    "sqlite": sqlite.insert(request_signatures).on_conflict_do_nothing().returning(request_signatures.c.expires),
    "postgresql": postgresql.insert(request_signatures)
    .on_conflict_do_nothing()
    .returning(request_signatures.c.expires),
}
SELECT_CLAIM = select(request_signatures.c.ticket_id).where(
    (request_signatures.c.operator == bindparam("operator")) & (request_signatures.c.signature == bindparam("sig"))
)
FORGET_EXPIRED = delete(request_signatures).where(request_signatures.c.expires < bindparam("before"))


def claim(conn: Connection, operator: str, signed: SignedRequest, ticket_id: str | None = None) -> bool:
    """True if this is the signature's first use; False for a replay (nothing written)."""
    values = {"operator": operator, "signature": signed.signature, "expires": signed.expires, "ticket_id": ticket_id}
    return conn.execute(CLAIMS[conn.dialect.name], values).first() is not None


def claimed_ticket(conn: Connection, operator: str, signed: SignedRequest) -> str | None:
    """The ticket id the first sending of a replayed sale was to create (it exists only if that sale sold)."""
    return conn.execute(SELECT_CLAIM, {"operator": operator, "sig": signed.signature}).scalar()


class Pruner:
    """Forgets expired claims at most once a minute per engine process, inside a write the engine makes anyway."""

    def __init__(self):
        self._next = 0.0

    def prune_if_due(self, conn: Connection) -> None:
        now = time.monotonic()
        if now < self._next:
            return
        self._next = now + PRUNE_EVERY_SECONDS
        conn.execute(FORGET_EXPIRED, {"before": int(time.time()) - PRUNE_MARGIN_SECONDS})
