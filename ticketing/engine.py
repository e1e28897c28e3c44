"""The ticket engine: runs the rules against the coupon's current odds and stores the ticket, in one transaction.

`TicketEngine` is used in-process by the terminal (embedded mode) and behind `ticketing.api`; the HTTP client in
`ticketing.client` offers the same methods against a remote engine.
"""

import hashlib
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

from sqlalchemy import Connection
from sqlalchemy.exc import DBAPIError, IntegrityError

from ticketing.coupon_check import check_coupon_data
from ticketing.errors import (
    CouponInUse,
    CouponMissing,
    CouponNotFound,
    CouponRejected,
    IdempotencyKeyReused,
    InsufficientBalance,
    InvalidToken,
    OperatorNotFound,
    TicketNotFound,
)
from ticketing.group_commit import GroupCommitter
from ticketing.identifiers import new_ticket_code, new_ticket_id, normalize_ticket_reference, token_fingerprint
from ticketing.models import (
    Coupon,
    CouponEvent,
    EventResult,
    EventUpdate,
    OperatorProfile,
    PayoutSlip,
    SettlementSummary,
    Shift,
    Ticket,
    TicketCursor,
    TicketQuery,
    TicketRequest,
    TicketResult,
    TicketStatus,
)
from ticketing.money import round_odds
from ticketing.pricing import price_ticket
from ticketing.rules import validate_ticket
from ticketing.settlement.service import AfterSale
from ticketing.storage import AccountHolder, Operator, Store

Clock = Callable[[], datetime]
WRITE_ATTEMPTS = 5
"""A write that loses a race is run again from the start: a uniqueness race (ticket code, idempotency key), or on
PostgreSQL a deadlock or serialization failure."""
RETRYABLE_SQLSTATES = {"40001", "40P01"}
OPERATOR_CACHE_SECONDS = 10.0
"""Every request reads its operator (signature secret, currency, taxes): operators change only when an engine
starts and seeds, so a read serves for this long instead of costing a query per request. Unknown names are
never cached."""
MAX_ACCOUNT_HOLDERS_CACHED = 100_000


def lost_a_race(error: DBAPIError) -> bool:
    return isinstance(error, IntegrityError) or getattr(error.orig, "sqlstate", None) in RETRYABLE_SQLSTATES


def utc_now() -> datetime:
    return datetime.now(UTC)


def request_fingerprint(request: TicketRequest) -> str:
    """Same key + same fingerprint = a retry. JSON layout and field order do not change it."""
    return hashlib.sha256(request.model_dump_json().encode()).hexdigest()


@dataclass(frozen=True)
class Sale:
    request: TicketRequest
    idempotency_key: str | None
    fingerprint: str
    till: str | None = None
    """Who sells: a shop ticket's stake is cash in this till's open shift."""


class TicketEngine:
    def __init__(self, store: Store, clock: Clock = utc_now):
        self.store = store
        self.clock = clock
        self._operators: dict[str, tuple[Operator, float]] = {}
        self._account_holders: dict[str, AccountHolder] = {}
        self._sales: GroupCommitter[Sale] = GroupCommitter(
            store.write, self._sell_in_savepoint, self._sell_alone, "ticket-sales"
        )
        # Through `self.clock` at each call, so that a test (or a demo) that moves the engine's clock moves both.
        self.after_sale = AfterSale(store, lambda: self.clock(), self.get_operator)

    # ---- selling --------------------------------------------------------------------------------------------

    def create_ticket(
        self, request: TicketRequest, idempotency_key: str | None = None, till: str | None = None
    ) -> Ticket:
        return self.submit_ticket(request, idempotency_key, till).result()

    def submit_ticket(
        self, request: TicketRequest, idempotency_key: str | None = None, till: str | None = None
    ) -> Future:
        """The sale queued for the writer thread: a future of its `Ticket`, resolved once it is durable."""
        return self._sales.submit(Sale(request, idempotency_key, request_fingerprint(request), till))

    def close(self) -> None:
        self._sales.close()
        self.store.dispose()

    def _sell_alone(self, sale: Sale) -> Ticket:
        for attempt in range(WRITE_ATTEMPTS):
            try:
                with self.store.write() as conn:
                    return self._sell(conn, sale)
            except DBAPIError as error:
                if attempt == WRITE_ATTEMPTS - 1 or not lost_a_race(error):
                    raise
        raise AssertionError("unreachable")

    def _sell_in_savepoint(self, conn: Connection, sale: Sale) -> Ticket:
        """A sale among others in one transaction: if it fails, its savepoint undoes its own writes and no others."""
        with self.store.savepoint(conn):
            return self._sell(conn, sale)

    def _sell(self, conn: Connection, sale: Sale) -> Ticket:
        """Every refusal is raised before the first write (the debit): group commit relies on it."""
        request, idempotency_key = sale.request, sale.idempotency_key
        if idempotency_key:
            earlier = self.store.find_by_idempotency_key(conn, request.operator, idempotency_key)
            if earlier is not None:
                ticket, earlier_fingerprint = earlier
                if earlier_fingerprint != sale.fingerprint:
                    raise IdempotencyKeyReused()
                return ticket
        operator = self._operator(conn, request.operator)
        account = self._account_holder(conn, token_fingerprint(request.token))
        if account is None or account.operator != operator.name:
            raise InvalidToken()
        coupon = self.store.load_coupon(conn, request.coupon_id, lock=True)
        if coupon is None:
            raise CouponNotFound(f"Coupon {request.coupon_id} not found", coupon_id=request.coupon_id)
        now = self.clock()
        events = validate_ticket(request, coupon, operator.currency, now)
        cap = operator.max_payout if coupon.max_payout is None else min(coupon.max_payout, operator.max_payout)
        price = price_ticket(request.stake, [e.odds for e in events], operator.tax_profile, cap)
        # A code already taken (1 in 148 million) fails the insert's unique constraint: the sale is run again.
        ticket = Ticket(
            id=new_ticket_id(now),
            code=new_ticket_code(),
            operator=operator.name,
            coupon_id=coupon.id,
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
            atag=request.atag,
            user_id=account.user_id,
            events=events,
            created=now,
            updated=now,
        )
        if not self.store.debit(conn, account.token_sha256, price.stake):
            raise InsufficientBalance()
        self.store.insert_ticket(conn, ticket, account.token_sha256, idempotency_key, sale.fingerprint, sale.till)
        if account.kind == "shop" and sale.till is not None:
            self.store.record_stake_in_open_shift(conn, ticket, sale.till)
        return ticket

    # ---- after the sale (ticketing/settlement) --------------------------------------------------------------------

    def enter_result(
        self, operator: str, coupon_id: str, event_id: int, result: EventResult, by: str
    ) -> SettlementSummary:
        return self.after_sale.enter_result(operator, str(coupon_id), event_id, result, by)

    def preview_results(self, operator: str, coupon_id: str, results: dict[int, EventResult]) -> SettlementSummary:
        return self.after_sale.preview_results(str(coupon_id), results)

    def cancel_coupon(self, operator: str, coupon_id: str) -> SettlementSummary:
        return self.after_sale.cancel_coupon(operator, str(coupon_id))

    def settlement(self, operator: str, coupon_id: str) -> SettlementSummary:
        return self.after_sale.settlement(str(coupon_id))

    def pay_out(self, operator: str, till: str, id_or_code: str) -> PayoutSlip:
        return self.after_sale.pay_out(self.get_ticket(id_or_code, operator=operator), till)

    def cancel_ticket(self, operator: str, till: str, id_or_code: str) -> Ticket:
        self.after_sale.cancel_ticket(self.get_ticket(id_or_code, operator=operator), till)
        return self.get_ticket(id_or_code, operator=operator)

    def open_shift(self, operator: str, till: str, float_amount: Decimal) -> Shift:
        return self.after_sale.open_shift(operator, till, float_amount)

    def close_shift(self, operator: str, till: str, counted: Decimal) -> Shift:
        return self.after_sale.close_shift(operator, till, counted)

    def current_shift(self, operator: str, till: str) -> Shift | None:
        return self.after_sale.current_shift(operator, till)

    def shift(self, operator: str, shift_id: int) -> Shift:
        return self.after_sale.shift(operator, shift_id)

    def list_shifts(self, operator: str, till: str | None = None, limit: int = 50) -> list[Shift]:
        return self.after_sale.list_shifts(operator, till, limit)

    # ---- lookups ---------------------------------------------------------------------------------------------

    def get_ticket(self, id_or_code: str, operator: str | None = None) -> Ticket:
        reference = normalize_ticket_reference(id_or_code)
        ticket = None
        if reference.isascii() and reference.isalnum():
            with self.store.read() as conn:
                ticket = self.store.find_ticket(conn, reference)
        if ticket is None or (operator is not None and ticket.operator != operator):
            raise TicketNotFound(f"Ticket {id_or_code.strip()[:40]} not found")
        return ticket

    def list_tickets(self, query: TicketQuery) -> list[Ticket]:
        with self.store.read() as conn:
            return self.store.query_tickets(conn, query)

    def list_tickets_json(self, query: TicketQuery) -> tuple[bytes, TicketCursor | None]:
        """What `list_tickets` returns, already written as JSON (by the database: see `Store.query_tickets_json`),
        and the cursor of the next page when there is one."""
        with self.store.read() as conn:
            return self.store.query_tickets_json(conn, query)

    def health(self) -> dict:
        with self.store.read() as conn:
            coupons = len(self.store.all_coupon_ids(conn))
        return {"status": "ok", "database": self.store.engine.dialect.name, "coupons": coupons}

    def list_open_coupons(self) -> list[Coupon]:
        now = self.clock()
        with self.store.read() as conn:
            return [self.store.load_coupon(conn, cid) for cid in self.store.open_coupon_ids(conn, now)]

    def get_coupon(self, coupon_id: str) -> Coupon:
        with self.store.read() as conn:
            coupon = self.store.load_coupon(conn, str(coupon_id))
            if coupon is None:
                raise CouponMissing(f"Coupon {coupon_id} not found", coupon_id=str(coupon_id))
            prizes = self.store.load_bonus_prizes(conn, coupon.id)
        return coupon.model_copy(update={"bonus_prizes": prizes}) if prizes else coupon

    def get_operator(self, name: str) -> Operator:
        cached = self._cached_operator(name)
        if cached is not None:
            return cached
        with self.store.read() as conn:
            return self._operator(conn, name)

    def operator_profile(self, name: str) -> OperatorProfile:
        operator = self.get_operator(name)
        return OperatorProfile(
            name=operator.name,
            currency=operator.currency,
            excise_rate=operator.tax_profile.excise_rate,
            withholding_rate=operator.tax_profile.withholding_rate,
            max_payout=operator.max_payout,
        )

    def balance(self, token: str) -> Decimal:
        with self.store.read() as conn:
            account = self.store.load_account(conn, token_fingerprint(token))
        if account is None:
            raise InvalidToken()
        return account.balance

    # ---- coupon administration (feed, QA) --------------------------------------------------------------------

    def update_event(self, coupon_id: str, event_id: int, change: EventUpdate) -> CouponEvent:
        with self.store.write() as conn:
            if not self.store.update_event(conn, str(coupon_id), event_id, change.status, change.odds):
                raise CouponMissing(f"Event {event_id} not found in coupon {coupon_id}", coupon_id=str(coupon_id))
            event = self.store.load_coupon(conn, str(coupon_id)).event(event_id)
        return event

    def publish_coupon(self, raw: dict, operator: str) -> Coupon:
        """Run the QA check on a coupon (engine JSON format) and store it if it has no error.

        Republishing replaces a coupon only while no ticket has been sold on it."""
        publisher = self.get_operator(operator)
        report = check_coupon_data(
            raw, [], [publisher.currency], self.clock(), operator_max_payout=publisher.max_payout
        )
        if not report.publishable:
            problems = [p.model_dump(mode="json") for p in report.errors]
            raise CouponRejected(f"Coupon has {len(problems)} error(s): {problems[0]['message']}", problems=problems)
        coupon = report.coupon
        with self.store.write() as conn:
            if self.store.has_tickets(conn, coupon.id):
                raise CouponInUse(f"Coupon {coupon.id} already has tickets: publish it under a new id")
            self.store.save_coupon(conn, coupon)
        return coupon

    def _operator(self, conn: Connection, name: str) -> Operator:
        cached = self._cached_operator(name)
        if cached is not None:
            return cached
        operator = self.store.load_operator(conn, name)
        if operator is None:
            raise OperatorNotFound(f"Operator {name} was not found")
        # Dated from this read only, so a change made elsewhere shows within the period however busy the engine is.
        self._operators[name] = (operator, time.monotonic() + OPERATOR_CACHE_SECONDS)
        return operator

    def _account_holder(self, conn: Connection, token_sha256: str) -> AccountHolder | None:
        """Whose account a token opens. It never changes, so it is read once; the balance is checked by the debit."""
        holder = self._account_holders.get(token_sha256)
        if holder is None:
            account = self.store.load_account(conn, token_sha256)
            if account is None:
                return None
            if len(self._account_holders) >= MAX_ACCOUNT_HOLDERS_CACHED:
                self._account_holders.clear()
            holder = self._account_holders[token_sha256] = AccountHolder(
                token_sha256=token_sha256, operator=account.operator, user_id=account.user_id, kind=account.kind
            )
        return holder

    def _cached_operator(self, name: str) -> Operator | None:
        operator, expires = self._operators.get(name, (None, 0.0))
        return operator if time.monotonic() < expires else None
