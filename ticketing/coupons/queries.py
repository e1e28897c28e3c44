"""The SQL of drafts and sandboxes.

A draft is a row of `coupon_drafts` (the coupon as uploaded, in the engine's JSON format). Its sandbox is a copy of
it in `coupons` under an id no coupon can have (`~` and hex digits: coupon ids are letters, digits, `_` and `-`),
with status `draft`, so that the engine's own sale rules and settlement SQL run on it while no till can name it,
list it or sell on it; its test tickets carry `tickets.test`.
"""

import secrets
from datetime import datetime

from sqlalchemy import Connection, delete, func, insert, select, update

from ticketing.contract.models import Ticket
from ticketing.storage import (
    Store,
    bonus_prizes,
    coupon_drafts,
    coupon_events,
    coupon_rounds,
    coupons,
    event_results,
    ticket_events,
    ticket_settlements,
    tickets,
)

SANDBOX_PREFIX = "~"


def new_sandbox_id() -> str:
    return f"{SANDBOX_PREFIX}{secrets.token_hex(12)}"


def draft_row(conn: Connection, coupon_id: str):
    return conn.execute(select(coupon_drafts).where(coupon_drafts.c.coupon_id == coupon_id)).first()


def drafts_of(conn: Connection, operator: str) -> list:
    query = select(coupon_drafts).where(coupon_drafts.c.operator == operator).order_by(coupon_drafts.c.updated.desc())
    return list(conn.execute(query))


def save_draft(
    conn: Connection,
    coupon_id: str,
    operator: str,
    body: str,
    version: str,
    sandbox_id: str,
    now: datetime,
    by: str,
) -> None:
    values = {"body": body, "version": version, "sandbox_id": sandbox_id, "updated": now, "updated_by": by}
    changed = conn.execute(update(coupon_drafts).where(coupon_drafts.c.coupon_id == coupon_id).values(**values))
    if changed.rowcount == 0:
        conn.execute(insert(coupon_drafts).values(coupon_id=coupon_id, operator=operator, **values))


def delete_draft(conn: Connection, coupon_id: str) -> None:
    conn.execute(delete(coupon_drafts).where(coupon_drafts.c.coupon_id == coupon_id))


def lock_events(conn: Connection, coupon_id: str) -> None:
    """Taken before a coupon is replaced or withdrawn: a sale holds its events FOR SHARE until it commits, so the
    check for tickets that follows sees every sale that could still land (PostgreSQL; SQLite has one writer)."""
    conn.execute(select(coupon_events.c.event_id).where(coupon_events.c.coupon_id == coupon_id).with_for_update())


def has_results(conn: Connection, coupon_id: str) -> bool:
    """A result entered, or a round settled or cancelled."""
    entered = select(func.count()).select_from(event_results).where(event_results.c.coupon_id == coupon_id)
    rounds = select(func.count()).select_from(coupon_rounds).where(coupon_rounds.c.coupon_id == coupon_id)
    return conn.execute(entered).scalar_one() + conn.execute(rounds).scalar_one() > 0


def delete_coupon(conn: Connection, coupon_id: str) -> None:
    """A coupon without tickets taken off sale, or a sandbox's copy: its events and prizes go with it."""
    conn.execute(delete(coupon_events).where(coupon_events.c.coupon_id == coupon_id))
    conn.execute(delete(bonus_prizes).where(bonus_prizes.c.coupon_id == coupon_id))
    conn.execute(delete(coupons).where(coupons.c.id == coupon_id))


def clear_sandbox(conn: Connection, sandbox_id: str) -> None:
    """Everything a sandbox made: its test tickets and their settlements, its test results, its coupon copy."""
    if not sandbox_id.startswith(SANDBOX_PREFIX):
        raise ValueError(f"{sandbox_id!r} is not a sandbox: only a sandbox is cleared")
    test_ids = select(tickets.c.id).where(tickets.c.coupon_id == sandbox_id, tickets.c.test)
    conn.execute(delete(ticket_settlements).where(ticket_settlements.c.ticket_id.in_(test_ids)))
    conn.execute(delete(ticket_events).where(ticket_events.c.ticket_id.in_(test_ids)))
    conn.execute(delete(tickets).where(tickets.c.coupon_id == sandbox_id, tickets.c.test))
    conn.execute(delete(event_results).where(event_results.c.coupon_id == sandbox_id))
    conn.execute(delete(coupon_rounds).where(coupon_rounds.c.coupon_id == sandbox_id))
    delete_coupon(conn, sandbox_id)


def sandbox_tickets(store: Store, conn: Connection, sandbox_id: str) -> list[Ticket]:
    query = (
        select(tickets)
        .where(tickets.c.coupon_id == sandbox_id, tickets.c.test)
        .order_by(tickets.c.created, tickets.c.id)
    )
    return store.load_tickets(conn, query)
