"""The outbox of PAM messages: each is written in the transaction of the change it reports, so it exists if and only
if the change committed; `ticketing.wallets.sender` delivers it afterwards, again and again until the wallet answers.

Who writes what (`wallet_outbox`, one row a message, its id the order):
- a sale: its `ticket_create` as it went (sent at once, outside the outbox: `delivered`, or `discarded` with the
  `ticket_discard` that undoes it, queued in the same transaction as the ticket's cancellation);
- a settlement: `ticket_update` for a winner whose amounts are not the ones it was sold with (a bonus tier, void legs
  paid at odds 1.00), then `ticket_win` / `ticket_lost` / `ticket_void` (with the refund as its recomputed amounts),
  then `ticket_closed`, due when the operator's correction window ends (no rollback can follow it, since the engine
  refuses corrections after that window; 24 h by default, as Betstack closes tickets);
- a correction: `ticket_rollback` of every settled ticket of the coupon (and their pending `ticket_closed`
  cancelled), before the new outcome;
- a cancellation at the till: `ticket_refund`, then `ticket_closed`;
- a restart, a settlement or the sender's sweep: `ticket_discard` of a sale left `new` (its wallet's answer never
  came to be recorded).

Settlement and corrections write theirs with one INSERT ... SELECT per kind for the whole coupon, as set-based as the
settlement itself. Messages of one ticket go out in id order, each only once every earlier one is delivered.
"""

from datetime import datetime, timedelta

from pydantic import BaseModel
from sqlalchemy import Connection, DateTime, and_, bindparam, func, insert, or_, select, text, update

from ticketing.contract.models import TicketResult, TicketStatus, UtcDatetime
from ticketing.storage import Operator, tickets, wallet_outbox
from ticketing.wallets.interface import PAM

PENDING, DELIVERED, FAILED, CANCELLED, DISCARDED = "pending", "delivered", "failed", "cancelled", "discarded"
BLOCKING = (PENDING, FAILED)
"""A message waits while an earlier one of its ticket is in one of these states."""

_COLUMNS = (
    "operator, ticket_id, action, reason, gross_payout_cents, wht_amount_cents, net_payout_cents, state, created, due,"
    " attempts"
)
_SETTLED_NOW = """
      FROM ticket_settlements s JOIN tickets t ON t.id = s.ticket_id
     WHERE s.coupon_id = :coupon_id AND s.settled_at = :now AND t.status = 'resulted' AND t.wallet = 'pam'
"""


def _statement(sql: str, *times: str):
    return text(sql).bindparams(*(bindparam(name, type_=DateTime) for name in times))


QUEUE_UPDATES = _statement(
    f"""
    INSERT INTO wallet_outbox ({_COLUMNS})
    SELECT t.operator, t.id, 'ticket_update', NULL, s.payout_cents, s.tax_cents, s.net_payout_cents, 'pending', :now,
           :now, 0
    {_SETTLED_NOW}
       AND s.result = 'won' AND (s.payout_cents <> t.payout_cents OR s.tax_cents <> t.tax_cents)
""",
    "now",
)
QUEUE_OUTCOMES = _statement(
    f"""
    INSERT INTO wallet_outbox ({_COLUMNS})
    SELECT t.operator, t.id,
           CASE s.result WHEN 'won' THEN 'ticket_win' WHEN 'lost' THEN 'ticket_lost' ELSE 'ticket_void' END, NULL,
           CASE WHEN s.result = 'void' THEN s.refund_cents END, CASE WHEN s.result = 'void' THEN 0 END,
           CASE WHEN s.result = 'void' THEN s.refund_cents END, 'pending', :now, :now, 0
    {_SETTLED_NOW}
""",
    "now",
)
QUEUE_CLOSED = _statement(
    f"""
    INSERT INTO wallet_outbox ({_COLUMNS})
    SELECT t.operator, t.id, 'ticket_closed', NULL, NULL, NULL, NULL, 'pending', :now, :close_at, 0
    {_SETTLED_NOW}
""",
    "now",
    "close_at",
)
_SETTLED_OF_COUPON = "SELECT id FROM tickets WHERE coupon_id = :coupon_id AND status = 'resulted' AND wallet = 'pam'"
CANCEL_CLOSED = text(f"""
    UPDATE wallet_outbox SET state = 'cancelled'
     WHERE action = 'ticket_closed' AND state IN ('pending', 'failed') AND ticket_id IN ({_SETTLED_OF_COUPON})
""")
QUEUE_ROLLBACKS = _statement(
    f"""
    INSERT INTO wallet_outbox ({_COLUMNS})
    SELECT operator, id, 'ticket_rollback', 'results corrected', NULL, NULL, NULL, 'pending', :now, :now, 0
      FROM tickets WHERE coupon_id = :coupon_id AND status = 'resulted' AND wallet = 'pam'
""",
    "now",
)


HAS_PAM_TICKETS = text("SELECT 1 FROM tickets WHERE coupon_id = :coupon_id AND wallet = 'pam' LIMIT 1")
UNCONFIRMED = text("tickets.wallet = 'pam' AND tickets.status = 'new'")
"""Written as the partial indexes' own predicates, so that SQLite uses them (it does not for a bound parameter)."""


def has_pam_tickets(conn: Connection, coupon_id: str) -> bool:
    return conn.execute(HAS_PAM_TICKETS, {"coupon_id": coupon_id}).first() is not None


def close_at(now: datetime, operator: Operator) -> datetime:
    """When a settled ticket is closed: once the operator's correction window has passed, no rollback can come."""
    return now + timedelta(hours=operator.correction_window_hours)


def message(operator: str, ticket_id: str, action: str, now: datetime, **values) -> dict:
    return {
        "operator": operator,
        "ticket_id": ticket_id,
        "action": action,
        "reason": None,
        "state": PENDING,
        "created": now,
        "due": now,
        "attempts": 0,
    } | values


class PamWallet:
    """The PAM's side of the wallet interface: nothing moves money here, everything is a message in the outbox."""

    kind = PAM

    def take_stake(self, stakes, holder, ticket) -> None:
        """Nothing in the sale's transaction: the ticket is stored `new` and its `ticket_create` is sent once that is
        committed, so the wallet's answer never holds the writer (`TicketEngine._sell_through_wallet`)."""

    def settling(self, conn: Connection, coupon_id: str, now: datetime, operator: Operator) -> None:
        if has_pam_tickets(conn, coupon_id):
            discard_unconfirmed(conn, now, "its coupon was settled before the wallet confirmed it", coupon_id=coupon_id)

    def settled(self, conn: Connection, coupon_id: str, now: datetime, operator: Operator) -> None:
        if not has_pam_tickets(conn, coupon_id):
            return
        params = {"coupon_id": coupon_id, "now": now}
        conn.execute(QUEUE_UPDATES, params)
        conn.execute(QUEUE_OUTCOMES, params)
        conn.execute(QUEUE_CLOSED, params | {"close_at": close_at(now, operator)})

    def rolled_back(self, conn: Connection, coupon_id: str, now: datetime, operator: Operator) -> None:
        if not has_pam_tickets(conn, coupon_id):
            return
        conn.execute(CANCEL_CLOSED, {"coupon_id": coupon_id})
        conn.execute(QUEUE_ROLLBACKS, {"coupon_id": coupon_id, "now": now})

    def refunded(self, conn, ticket, token_sha256: str, reason: str, now: datetime, operator: Operator) -> None:
        conn.execute(
            insert(wallet_outbox),
            [
                message(ticket.operator, ticket.id, "ticket_refund", now, reason=reason),
                message(ticket.operator, ticket.id, "ticket_closed", now, due=close_at(now, operator)),
            ],
        )


# ---- the sale's answer ---------------------------------------------------------------------------------------------


# A sale's answer is written once per sale: its statements are built once (as the sale's own are, `storage.py`).
OPEN_TICKET = (
    update(tickets)
    .where(tickets.c.id == bindparam("ticket_id"), tickets.c.status == TicketStatus.NEW.value)
    .values(status=TicketStatus.OPEN.value, updated=bindparam("now"))
)
RECORD_MESSAGE = insert(wallet_outbox)


def confirm_sale(conn: Connection, ticket_id: str, operator: str, now: datetime) -> bool:
    """The wallet took the stake: the ticket opens, if it is still `new` (False when it was discarded meanwhile)."""
    if conn.execute(OPEN_TICKET, {"ticket_id": ticket_id, "now": now}).rowcount != 1:
        return False
    sent = message(operator, ticket_id, "ticket_create", now, state=DELIVERED, attempts=1, delivered_at=now)
    conn.execute(RECORD_MESSAGE, sent)
    return True


def discard_sale(conn: Connection, ticket_id: str, reason: str, now: datetime) -> bool:
    """The wallet refused the sale or gave no answer: see `discard_unconfirmed`."""
    return discard_unconfirmed(conn, now, reason, ticket_id=ticket_id) == 1


def any_unconfirmed(conn: Connection, created_before: datetime) -> bool:
    """Whether `discard_unconfirmed(..., created_before=...)` would find a sale to discard."""
    return (
        conn.execute(select(tickets.c.id).where(UNCONFIRMED, tickets.c.created < created_before).limit(1)).first()
        is not None
    )


def discard_unconfirmed(
    conn: Connection,
    now: datetime,
    reason: str,
    ticket_id: str | None = None,
    coupon_id: str | None = None,
    created_before: datetime | None = None,
) -> int:
    """PAM sales still `new` (all, or one ticket, a coupon's, or those older than `created_before`) become
    `cancelled` / `void`, never sold: their idempotency key is freed, so that the till's retry sells afresh; their
    `ticket_create` is recorded `discarded` and a `ticket_discard` queued. The UPDATE decides which (a sale confirmed
    at the same moment either opens first, and is not discarded, or finds its ticket gone and answers 141)."""
    conditions = [UNCONFIRMED]
    if ticket_id is not None:
        conditions.append(tickets.c.id == ticket_id)
    if coupon_id is not None:
        conditions.append(tickets.c.coupon_id == coupon_id)
    if created_before is not None:
        conditions.append(tickets.c.created < created_before)
    discarded = conn.execute(
        update(tickets)
        .where(*conditions)
        .values(status=TicketStatus.CANCELLED.value, result=TicketResult.VOID.value, idempotency_key=None, updated=now)
        .returning(tickets.c.id, tickets.c.operator)
    ).all()
    if discarded:
        why = reason[:200]
        # Two statements, so that each ticket's create is recorded before (with a lower id than) its discard.
        created = [message(op, tid, "ticket_create", now, state=DISCARDED, last_error=why) for tid, op in discarded]
        conn.execute(insert(wallet_outbox), created)
        undo = [message(op, tid, "ticket_discard", now, reason=why) for tid, op in discarded]
        conn.execute(insert(wallet_outbox), undo)
    return len(discarded)


# ---- operations ----------------------------------------------------------------------------------------------------


class OutboxMessage(BaseModel):
    """A message to the operator's wallet and what became of it."""

    id: int
    ticket_id: str
    code: str | None
    action: str
    state: str
    reason: str | None
    attempts: int
    last_error: str | None
    created: UtcDatetime
    due: UtcDatetime
    delivered_at: UtcDatetime | None


def list_messages(
    conn: Connection,
    operator: str,
    ticket_id: str | None = None,
    state: str | None = None,
    limit: int = 200,
    message_id: int | None = None,
) -> list[OutboxMessage]:
    """The operator's messages, newest first; one ticket's (by id or code) in the order they are sent."""
    query = (
        select(wallet_outbox, tickets.c.code)
        .join(tickets, tickets.c.id == wallet_outbox.c.ticket_id)
        .where(wallet_outbox.c.operator == operator)
    )
    if ticket_id is not None:
        query = query.where(or_(tickets.c.id == ticket_id.lower(), tickets.c.code == ticket_id.upper()))
    if state is not None:
        query = query.where(wallet_outbox.c.state == state)
    if message_id is not None:
        query = query.where(wallet_outbox.c.id == message_id)
    order = wallet_outbox.c.id if ticket_id is not None else wallet_outbox.c.id.desc()
    return [
        OutboxMessage.model_validate(dict(row._mapping)) for row in conn.execute(query.order_by(order).limit(limit))
    ]


def count_by_state(conn: Connection, operator: str) -> dict[str, int]:
    query = (
        select(wallet_outbox.c.state, func.count())
        .where(wallet_outbox.c.operator == operator)
        .group_by(wallet_outbox.c.state)
    )
    return dict(conn.execute(query).all())


def retry(conn: Connection, operator: str, now: datetime, ticket_id: str | None = None, message_id: int | None = None):
    """Failed messages (and unanswered ones waiting for their next attempt) sent again now, with a fresh count of
    attempts; the number retried. A `ticket_closed` waiting for its time is not brought forward."""
    waiting = or_(wallet_outbox.c.state == FAILED, and_(wallet_outbox.c.state == PENDING, wallet_outbox.c.attempts > 0))
    conditions = [wallet_outbox.c.operator == operator, waiting]
    if ticket_id is not None:
        conditions.append(wallet_outbox.c.ticket_id == ticket_id)
    if message_id is not None:
        conditions.append(wallet_outbox.c.id == message_id)
    retried = conn.execute(
        update(wallet_outbox).where(*conditions).values(state=PENDING, due=now, attempts=0, lease_until=None)
    )
    return retried.rowcount


def undelivered(conn: Connection, operator: str) -> dict[str, int]:
    """Per ticket, its messages not delivered yet (pending or failed), due or not."""
    query = (
        select(wallet_outbox.c.ticket_id, func.count())
        .where(wallet_outbox.c.operator == operator, wallet_outbox.c.state.in_(BLOCKING))
        .group_by(wallet_outbox.c.ticket_id)
    )
    return dict(conn.execute(query).all())
