"""Delivery of the outbox to the operators' wallets: at least once, in order per ticket, surviving restarts.

A thread of the engine's process picks the due messages (a message is due when its time has come and every earlier
message of its ticket is delivered), leases them (so that another engine process on the same database leaves them
alone while they are in flight), sends them several tickets at a time, and records each answer: delivered; refused
(a 4xx: `failed` at once, for the operator to look at and retry); or none (a 5xx, a timeout, a dropped connection:
sent again after 1, 2, 4... seconds, a discard after 30 minutes, until `max_attempts`, then `failed`). A message is
marked delivered only after its answer came, so a crash in between sends it again: the wallet applies it once (it
dedupes by the `message-id` header, `{ticket_id}-{action}-{n}`, and by the ticket's state). Nothing is kept in
memory: the table is the queue, so a restart carries on where the last process stopped.

It also sweeps up sales left `new` by an engine that died between `ticket_create` and its answer (or whose process
restarted alone): older than two timeouts and ten seconds, they are discarded.
"""

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

from sqlalchemy import bindparam, func, or_, select, text, update

from ticketing.contract.errors import TicketingError, WalletRefused, WalletUnavailable
from ticketing.settings import WalletSettings
from ticketing.storage import Operator, Store, tickets, wallet_outbox
from ticketing.wallets.outbox import CANCELLED, DELIVERED, FAILED, PENDING, any_unconfirmed, discard_unconfirmed
from ticketing.wallets.pam import PamClients, PamTicket

log = logging.getLogger(__name__)
SWEEP_EVERY_SECONDS = 5.0
SELECT_DUE = text("""
    SELECT o.id FROM wallet_outbox o
     WHERE o.state = 'pending' AND o.due <= :now AND (o.lease_until IS NULL OR o.lease_until < :now)
       AND NOT EXISTS (SELECT 1 FROM wallet_outbox e
                        WHERE e.ticket_id = o.ticket_id AND e.id < o.id AND e.state IN ('pending', 'failed'))
     ORDER BY o.id
     LIMIT :limit
""").bindparams(bindparam("now", type_=wallet_outbox.c.due.type))
TICKET_COLUMNS = [
    tickets.c[name].label(f"t_{name}")
    for name in (
        "code",
        "user_id",
        "stake_cents",
        "net_stake_cents",
        "tax_cents",
        "excise_cents",
        "payout_cents",
        "net_payout_cents",
        "currency",
        "atag",
        "type",
    )
]
RECOMPUTED = ("ticket_update", "ticket_void")
_earlier = wallet_outbox.alias("earlier")
SEQUENCE = (
    select(func.count())
    .where(
        _earlier.c.ticket_id == wallet_outbox.c.ticket_id,
        _earlier.c.action == wallet_outbox.c.action,
        _earlier.c.id < wallet_outbox.c.id,
        _earlier.c.state != CANCELLED,
    )
    .scalar_subquery()
    .label("sequence")
)
"""How many messages of the same action its ticket had before: 0 for the first win, 1 for the win after a
rollback. With the ticket id and the action it names the message for the wallet, the same in every retry and in
every copy of the database (a restored backup sends the same ids again), unlike a row id."""


def message_id(ticket_id: str, action: str, sequence: int) -> str:
    return f"{ticket_id}-{action}-{sequence}"


def naive_utc(value: datetime) -> datetime:
    return value.astimezone(UTC).replace(tzinfo=None)


def pam_ticket(row) -> PamTicket:
    return PamTicket(
        ticket_id=row.ticket_id,
        code=row.t_code,
        player_id=row.t_user_id,
        price=row.t_stake_cents,
        stake=row.t_net_stake_cents,
        wht_amount=row.t_tax_cents,
        ext_amount=row.t_excise_cents,
        gross_payout=row.t_payout_cents,
        net_payout=row.t_net_payout_cents,
        currency=row.t_currency,
        atag=row.t_atag,
        ticket_type=row.t_type,
    )


class OutboxSender:
    def __init__(
        self,
        store: Store,
        clients: PamClients,
        operator: Callable[[str], Operator],
        clock: Callable[[], datetime],
        settings: WalletSettings,
    ):
        self.store = store
        self.clients = clients
        self.operator = operator
        self.clock = clock
        self.settings = settings
        self._pool = ThreadPoolExecutor(8, thread_name_prefix="wallet-outbox")
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._next_sweep = 0.0

    def start(self) -> "OutboxSender":
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="wallet-outbox-sender", daemon=True)
            self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=self.settings.timeout + 5)
            self._thread = None
        self._pool.shutdown(wait=True)

    def wake(self) -> None:
        """Something was queued: look now rather than at the next poll."""
        self._wake.set()

    def _run(self) -> None:
        while not self._stop.is_set():
            sent = 0
            try:
                sent = self.deliver_due()
                if time.monotonic() >= self._next_sweep:
                    self._next_sweep = time.monotonic() + SWEEP_EVERY_SECONDS
                    self.discard_stale_sales()
            except Exception:
                log.exception("wallet outbox: delivery pass failed; trying again")
            if not sent:
                self._wake.wait(self.settings.poll_seconds)
                self._wake.clear()

    def discard_stale_sales(self) -> int:
        """Sales still waiting for their wallet's answer long after any answer could have come."""
        now = naive_utc(self.clock())
        created_before = now - timedelta(seconds=2 * self.settings.timeout + 10)
        with self.store.read() as conn:
            if not any_unconfirmed(conn, created_before):
                return 0  # see `_claim`: no write lock taken for nothing
        with self.store.write() as conn:
            return discard_unconfirmed(
                conn, now, "the wallet's answer to ticket_create was never recorded", created_before=created_before
            )

    def deliver_due(self, limit: int = 200) -> int:
        """One pass: the due messages sent, their answers recorded; how many were sent."""
        claimed = self._claim(naive_utc(self.clock()), limit)
        if not claimed:
            return 0
        answers = list(self._pool.map(self._deliver, claimed))
        self._record(answers, naive_utc(self.clock()))
        return len(claimed)

    def _claim(self, now: datetime, limit: int) -> list:
        lease_until = now + timedelta(seconds=2 * self.settings.timeout + 5)
        free = or_(wallet_outbox.c.lease_until.is_(None), wallet_outbox.c.lease_until < now)
        # Looked for with a read first: every engine process polls twice a second, wallet operators or none, and on
        # SQLite a write transaction takes the file's one writer lock, for which the sale writer's batches wait.
        with self.store.read() as conn:
            if conn.execute(SELECT_DUE, {"now": now, "limit": 1}).first() is None:
                return []
        with self.store.write() as conn:
            due = conn.execute(SELECT_DUE, {"now": now, "limit": limit}).scalars().all()
            if not due:
                return []
            leased = (
                conn.execute(
                    update(wallet_outbox)
                    .where(wallet_outbox.c.id.in_(due), wallet_outbox.c.state == PENDING, free)
                    .values(lease_until=lease_until)
                    .returning(wallet_outbox.c.id)
                )
                .scalars()
                .all()
            )
            if not leased:
                return []
            return conn.execute(
                select(wallet_outbox, SEQUENCE, *TICKET_COLUMNS)
                .join(tickets, tickets.c.id == wallet_outbox.c.ticket_id)
                .where(wallet_outbox.c.id.in_(leased))
                .order_by(wallet_outbox.c.id)
            ).all()

    def _deliver(self, row) -> tuple:
        """(row, `delivered` / `failed` / `pending`, error)."""
        try:
            operator = self.operator(row.operator)
            changes: dict = {"reason": row.reason}
            if row.action in RECOMPUTED:
                changes |= {
                    "gross_payout": row.gross_payout_cents,
                    "wht_amount": row.wht_amount_cents,
                    "net_payout": row.net_payout_cents,
                }
            data = pam_ticket(row).data(operator.name, operator.tax_profile, **changes)
            self.clients.client(operator).send(row.action, data, message_id(row.ticket_id, row.action, row.sequence))
            return row, DELIVERED, None
        except WalletUnavailable as silent:
            return row, PENDING, silent.message
        except (WalletRefused, TicketingError) as refused:
            return row, FAILED, refused.message
        except Exception as error:
            log.exception("wallet outbox: message %s could not be sent", row.id)
            return row, PENDING, type(error).__name__

    def _record(self, answers: list[tuple], now: datetime) -> None:
        with self.store.write() as conn:
            for row, outcome, error in answers:
                attempts = row.attempts + 1
                values: dict = {"attempts": attempts, "lease_until": None, "last_error": error and error[:300]}
                if outcome == DELIVERED:
                    values |= {"state": DELIVERED, "delivered_at": now}
                elif outcome == FAILED or attempts >= self.settings.max_attempts:
                    values["state"] = FAILED
                else:
                    values["due"] = now + timedelta(seconds=self.retry_delay(row.action, attempts))
                conn.execute(
                    update(wallet_outbox)
                    .where(wallet_outbox.c.id == row.id, wallet_outbox.c.state == PENDING)
                    .values(**values)
                )

    def retry_delay(self, action: str, attempts: int) -> float:
        if action == "ticket_discard":
            return self.settings.discard_retry_seconds
        return min(self.settings.first_retry_seconds * 2 ** (attempts - 1), self.settings.max_retry_seconds)
