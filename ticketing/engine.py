"""The ticket engine: runs the rules against the coupon's current odds and stores the ticket, in one transaction.

`TicketEngine` is used in-process by the terminal (embedded mode) and behind `ticketing.api`. Each of its methods
acts for an `Actor` (an operator's credential) and checks that actor's role and operator itself, so the roles hold
in-process as well as over HTTP; `ticketing.access.acting.ActingEngine` binds an actor, and the HTTP client in
`ticketing.client` offers the same methods against a remote engine, signing for its credential.
"""

import asyncio
import hmac
import sqlite3
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from decimal import Decimal
from functools import partial

import psycopg
from sqlalchemy import Connection, select
from sqlalchemy.exc import DBAPIError, IntegrityError

from ticketing.access import replays
from ticketing.access.credentials import load_credential
from ticketing.access.replays import SignedRequest
from ticketing.access.roles import Actor, Permission, Role
from ticketing.contract.errors import (
    CouponMissing,
    CouponNotFound,
    CouponRejected,
    IdempotencyKeyReused,
    InvalidSignature,
    InvalidToken,
    NoOpenShift,
    NotAllowed,
    OperatorNotFound,
    OutboxMessageNotFound,
    ReplayedRequest,
    SaleDiscarded,
    TicketingError,
    TicketNotFound,
    WalletRefused,
    WalletUnavailable,
)
from ticketing.contract.identifiers import new_ticket_code, new_ticket_id, normalize_ticket_reference, token_fingerprint
from ticketing.contract.models import (
    Coupon,
    CouponEvent,
    CouponStatus,
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
    TicketSource,
    TicketStatus,
)
from ticketing.contract.money import from_cents, to_cents
from ticketing.coupons.check import check_coupon_data
from ticketing.coupons.models import Draft, DraftSummary, Sandbox, SandboxSale
from ticketing.coupons.service import CouponDesk
from ticketing.selling.group_commit import AGAIN, GroupCommitter
from ticketing.selling.pricing import payout_cap
from ticketing.selling.queries import BatchReads, SaleStatements
from ticketing.selling.rules import validate_ticket
from ticketing.selling.tickets import priced_ticket, request_fingerprint
from ticketing.settings import WalletSettings
from ticketing.settlement.service import AfterSale
from ticketing.shifts.service import TillShifts
from ticketing.storage import AccountHolder, Operator, Store, tickets
from ticketing.wallets import outbox, reconcile
from ticketing.wallets.interface import INTERNAL, PAM, Stakes, Wallets
from ticketing.wallets.internal import InternalWallet
from ticketing.wallets.outbox import OutboxMessage, PamWallet, confirm_sale, discard_sale, discard_unconfirmed
from ticketing.wallets.pam import PamClients, PamTicket
from ticketing.wallets.reconcile import Reconciliation, WalletPlayer, WalletStatus
from ticketing.wallets.sender import OutboxSender, naive_utc

Clock = Callable[[], datetime]
WRITE_ATTEMPTS = 5
"""A write that loses a race is run again from the start: a uniqueness race (ticket code, idempotency key), or on
PostgreSQL a deadlock or serialization failure."""
RETRYABLE_SQLSTATES = {"40001", "40P01", "23505", "26000", "0A000"}
"""Serialization failure, deadlock, a unique value taken meanwhile (a ticket code, an idempotency key), and a
prepared statement of the sale dropped by someone else's DEALLOCATE ALL or whose plan a change of its tables' columns
made unfit (prepared afresh on the next try: `PreparedStatements.forget`, `PreparedStatements.drop`)."""
RACE_ERRORS = (DBAPIError, sqlite3.Error, psycopg.Error)
"""What a lost race raises: through SQLAlchemy, its wrapper; through the sale's raw statements, the driver's own."""
OPERATOR_CACHE_SECONDS = 10.0
"""Every request reads its operator (signature secret, currency, taxes): operators change only when an engine
starts and seeds, so a read serves for this long instead of costing a query per request. Unknown names are
never cached."""
MAX_ACCOUNT_HOLDERS_CACHED = 100_000
MAX_COUPONS_IN_HAND = 1_000
"""Coupons kept with their rows' versions for sales in one trip (`_sold_in_one_trip`): an operator sells a few."""
LARGEST_BALANCE = 2**63 - 1
"""A balance in cents can be no larger (its column is a bigint)."""


def lost_a_race(error: Exception) -> bool:
    driver_error = getattr(error, "orig", error)
    return (
        isinstance(error, IntegrityError)
        or isinstance(driver_error, sqlite3.IntegrityError)
        or getattr(driver_error, "sqlstate", None) in RETRYABLE_SQLSTATES
    )


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Sale:
    request: TicketRequest
    idempotency_key: str | None
    fingerprint: str
    signed: SignedRequest | None = None
    till: str | None = None
    """Who sells: a shop ticket's stake is cash in this till's open shift."""
    holder: AccountHolder | None = None
    """Whose money, when the operator's wallet said so (`identify`); else the token's account here."""
    wallet: str = INTERNAL
    ticket_id: str | None = None
    """Chosen before a wallet's sale is written, so that its caller can tell its own ticket from an earlier one."""

    @property
    def key(self) -> tuple[str, str | None]:
        return self.request.operator, self.idempotency_key

    @property
    def claim(self) -> tuple[str, str | None]:
        return self.request.operator, None if self.signed is None else self.signed.signature

    @property
    def marks(self) -> tuple:
        """What makes another sale its retry (the same idempotency key) or its replay (the same signature)."""
        return (("key", *self.key),) * bool(self.idempotency_key) + (("signed", *self.claim),) * bool(self.signed)


def _sold_over_the_counter(sale: Sale) -> bool:
    """A sale whose stake, on a shop's account, is cash in a till's drawer, which only the till's open shift counts:
    every sale of a till credential, whatever `source` it names (a till choosing `sms` must not take cash that no
    shift counts), and a retail sale of the operator's Betstack key (the embedded terminal's till). The Betstack
    key's other sales are the channels' (the spec's sample: source `sms`, on the demo's shop account)."""
    if sale.till is None:
        return False
    return sale.till != sale.request.operator or sale.request.source == TicketSource.RETAIL


class TicketEngine:
    def __init__(self, store: Store, clock: Clock = utc_now, wallet_settings: WalletSettings | None = None):
        self.store = store
        self.sales = SaleStatements(store.is_sqlite)
        self.clock = clock
        self._operators: dict[str, tuple[Operator, float]] = {}
        self._account_holders: dict[str, AccountHolder] = {}
        # Sales, and the wallets' answers to them, share the writer thread and its group commits.
        self._sales: GroupCommitter = GroupCommitter(store.batch_write, self._write, self._write_alone, "ticket-sales")
        self.wallet_settings = wallet_settings or WalletSettings()
        self.pam = PamClients(self.wallet_settings)
        self.wallets = Wallets(InternalWallet(), PamWallet())
        self.outbox = OutboxSender(store, self.pam, self.get_operator, lambda: self.clock(), self.wallet_settings)
        # A wallet's sale waits for its wallet's answer on one of these threads, not on the writer.
        self._wallet_sales = ThreadPoolExecutor(64, thread_name_prefix="wallet-sales")
        # Through `self.clock` at each call, so that a test (or a demo) that moves the engine's clock moves both.
        self.after_sale = AfterSale(store, lambda: self.clock(), self.get_operator, self.wallets)
        self.shifts = TillShifts(store, lambda: self.clock())
        self.coupons = CouponDesk(store, lambda: self.clock(), self.get_operator)
        self._pruner = replays.Pruner()
        self._coupons_in_hand: dict[tuple[str, str], tuple[Coupon, list[str]]] = {}
        self._coupons_in_hand_on = None

    # ---- credentials -----------------------------------------------------------------------------------------

    def signing_key(self, operator: str, key_id: str | None) -> tuple[Actor, str]:
        """Who a request names (`operator-name`, `key-id`) and the secret its signature must be made with.

        Without a key id it is the operator's Betstack key, a till; an operator without one has no such key."""
        found = self.get_operator(operator)
        if key_id is None:
            if not found.secret:
                raise InvalidSignature(f"Operator {operator} has no Betstack key: name a credential in key-id")
            return Actor(operator=found.name, role=Role.TILL), found.secret
        with self.store.read() as conn:
            credential = load_credential(conn, key_id)
        if credential is None or credential.revoked is not None or credential.operator != found.name:
            raise InvalidSignature("Unknown or revoked credential")
        return credential.actor, credential.secret

    def authenticate(self, operator: str, key_id: str | None, secret: str) -> Actor:
        """The actor of a credential given with its secret (the terminal's sign-in, in-process)."""
        actor, expected = self.signing_key(operator, key_id)
        if not hmac.compare_digest(expected.encode(), secret.encode()):
            raise InvalidSignature(f"Wrong secret for {actor.credential}")
        return actor

    def claim_request(self, actor: Actor, signed: SignedRequest) -> None:
        """Remember a management request's signature for its window; `ReplayedRequest` if it was seen before."""
        with self.store.write() as conn:
            self._pruner.prune_if_due(conn)
            first = replays.claim(conn, actor.operator, signed)
        if not first:
            raise ReplayedRequest()

    # ---- selling --------------------------------------------------------------------------------------------

    def create_ticket(
        self,
        actor: Actor,
        request: TicketRequest,
        idempotency_key: str | None = None,
        signed: SignedRequest | None = None,
    ) -> Ticket:
        return self.submit_ticket(actor, request, idempotency_key, signed).result()

    def submit_ticket(
        self,
        actor: Actor,
        request: TicketRequest,
        idempotency_key: str | None = None,
        signed: SignedRequest | None = None,
    ) -> Future:
        """The sale queued for the writer thread: a future of its `Ticket`, resolved once it is durable.

        `signed` is the request's verified signature when it came over HTTP: a replay of it is the same sale."""
        sale = self.new_sale(actor, request, idempotency_key, signed)
        if self.sells_through_wallet(request.operator):
            return self._wallet_sales.submit(self._sell_through_wallet, sale)
        return self._sales.submit(sale)

    async def sell(
        self,
        actor: Actor,
        request: TicketRequest,
        idempotency_key: str | None = None,
        signed: SignedRequest | None = None,
    ) -> Ticket:
        """`submit_ticket` for a coroutine: the sale waits for its group commit without a thread of its own, and
        the sales of a batch are answered by one wake-up of the event loop."""
        sale = self.new_sale(actor, request, idempotency_key, signed)
        if self.sells_through_wallet(request.operator):
            return await asyncio.wrap_future(self._wallet_sales.submit(self._sell_through_wallet, sale))
        return await self._sales.submit_async(sale)

    def new_sale(
        self, actor: Actor, request: TicketRequest, idempotency_key: str | None, signed: SignedRequest | None
    ) -> Sale:
        """A sale `actor` may make, for `write_sales` or the writer thread; refused (403) otherwise."""
        actor.require(Permission.SELL)
        if request.operator != actor.operator:
            raise NotAllowed(f"A credential of {actor.operator} cannot sell for {request.operator}")
        return Sale(request, idempotency_key, request_fingerprint(request), signed, actor.till)

    def sells_through_wallet(self, operator: str) -> bool:
        """Whether the operator's sales wait for its PAM wallet's answer (`sell` does that on a thread of its own)."""
        return self.get_operator(operator).wallet == PAM

    def write_sales(self, sales: list[Sale]) -> list[tuple[Ticket | Exception, bool]]:
        """Writes the sales now, in this thread, as one group commit (`GroupCommitter.write_now`): each one's ticket
        or error, and whether it is an error. Only for sales of operators whose money is held here: a PAM wallet's
        sale must go through `sell`."""
        return self._sales.write_now(sales)

    def start_outbox(self) -> None:
        """At start: the sales a crash left waiting for their wallet's answer are discarded (the wallet may have
        taken their stake: the discard gives it back), then the outbox is delivered from where it stood."""
        with self.store.write() as conn:
            discard_unconfirmed(conn, naive_utc(self.clock()), "the engine restarted before the wallet's answer")
        self.outbox.start()

    def close(self) -> None:
        self._wallet_sales.shutdown(wait=True)
        self._sales.close()
        self.outbox.stop()
        self.pam.close()
        self.store.dispose()

    def _write(self, conn: Connection, jobs: list) -> list:
        """A batch of sales (`_sell_batch`) and of wallets' answers to earlier ones (functions of the connection that
        refuse before they write), in one transaction: each job's outcome."""
        outcomes: list = [None] * len(jobs)
        sales = [i for i, job in enumerate(jobs) if isinstance(job, Sale)]
        for i, job in enumerate(jobs):
            if not isinstance(job, Sale):
                try:
                    outcomes[i] = job(conn)
                except TicketingError as refused:
                    outcomes[i] = refused
        if sales:
            for i, outcome in zip(sales, self._sell_batch(conn, [jobs[i] for i in sales]), strict=True):
                outcomes[i] = outcome
        return outcomes

    def _write_alone(self, job):
        if isinstance(job, Sale):
            return self._sell_alone(job)
        with self.store.write() as conn:
            return job(conn)

    def _sell_through_wallet(self, sale: Sale) -> Ticket:
        """A sale for an operator whose players' money is in its own wallet (README "Wallets"):
        1. whose money: a shop's account here sells as any internal sale; any other token is resolved by `identify`;
        2. the ticket is written `new` through the group commit, as any sale (every refusal before it is written);
        3. `ticket_create` is sent after that commit, outside any transaction: the wallet's answer holds no writer;
        4. a 200 opens the ticket and answers the sale; a refusal or no answer discards it (ticket cancelled and
           `ticket_discard` queued, in one transaction) and the caller gets 140 or 141.
        A crash between 3 and 4 leaves the ticket `new`; the next start, or the outbox's sweep, discards it."""
        operator = self.get_operator(sale.request.operator)
        token_sha256 = token_fingerprint(sale.request.token)
        # A token the wallet identified lately is its player's, not a shop's account: no need to look here first.
        player = self.pam.remembered(operator, sale.request.token)
        if player is None:
            with self.store.read() as conn:
                holder = self._account_holder(conn, token_sha256)
            if holder is not None and holder.kind == "shop" and holder.operator == operator.name:
                return self._sales.submit(sale).result()
            player = self.pam.identify(operator, sale.request.token)
        holder = AccountHolder(token_sha256=token_sha256, operator=operator.name, user_id=player.player_id)
        own = replace(sale, holder=holder, wallet=PAM, ticket_id=new_ticket_id(self.clock()))
        ticket = self._sales.submit(own).result()
        if ticket.id != own.ticket_id:
            return self._first_answer(ticket)
        try:
            data = PamTicket.of(ticket).data(operator.name, operator.tax_profile)
            self.pam.client(operator).send("ticket_create", data, f"{ticket.id}-ticket_create-0")
        except (WalletRefused, WalletUnavailable) as failed:
            discard = partial(discard_sale, ticket_id=ticket.id, reason=failed.message, now=naive_utc(self.clock()))
            self._sales.submit(discard).result()
            self.outbox.wake()
            raise
        now = self.clock()
        confirm = partial(confirm_sale, ticket_id=ticket.id, operator=operator.name, now=naive_utc(now))
        if not self._sales.submit(confirm).result():
            raise WalletUnavailable(
                f"Ticket {ticket.code} was discarded before the wallet's answer came: it was not sold", reason="timeout"
            )
        return ticket.model_copy(update={"status": TicketStatus.OPEN, "updated": now})

    def _first_answer(self, ticket: Ticket) -> Ticket:
        """A retry or a replay of a wallet's sale answers as its first sending was answered, once that is known."""
        deadline = time.monotonic() + 2 * self.wallet_settings.timeout + 10
        while True:
            with self.store.read() as conn:
                wallet = conn.execute(select(tickets.c.wallet).where(tickets.c.id == ticket.id)).scalar()
                ticket = self.store.find_ticket(conn, ticket.id)
            if wallet != PAM or ticket.status != TicketStatus.NEW or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        if wallet == PAM and ticket.status == TicketStatus.NEW:
            raise WalletUnavailable(f"Ticket {ticket.code} is still waiting for the wallet's answer", reason="timeout")
        if wallet == PAM and ticket.status == TicketStatus.CANCELLED and ticket.settlement is None:
            raise SaleDiscarded(f"Ticket {ticket.code} was not sold: its wallet did not take the stake")
        return ticket

    def _sell_alone(self, sale: Sale) -> Ticket:
        for attempt in range(WRITE_ATTEMPTS):
            try:
                with self.store.write() as conn:
                    (outcome,) = self._sell_batch(conn, [sale], alone=True)
                # Committed, as in a batch: a refused signed sale keeps the claim of its signature.
                if isinstance(outcome, TicketingError):
                    raise outcome
                return outcome
            except RACE_ERRORS as error:
                if attempt == WRITE_ATTEMPTS - 1 or not lost_a_race(error):
                    raise
        raise AssertionError("unreachable")

    def _sell_batch(self, conn: Connection, sales: list[Sale], alone: bool = False) -> list:
        """Each sale's outcome (its `Ticket`, its refusal, or `AGAIN`), every sale written in the same handful of
        statements: everything the batch needs read at once (`SaleStatements.read_ahead`: earlier answers under the
        same idempotency keys, the claims of the signatures, the coupons, the balances, whether the codes drawn are
        free), then each sale checked and priced in Python against the coupon read for the batch, then each stake
        checked against its account's balance in order, then one write of the whole batch.

        Every refusal is decided before the batch's writes, so a refused sale writes nothing but the claim of its
        signature, which is meant to stay so that a replay cannot sell what its first sending could not. A sale that
        fails otherwise has its claim taken back and is run again alone after the commit (`alone`: it raises)."""
        now = self.clock()
        self._pruner.prune_if_due(conn)
        outcomes: list = [None] * len(sales)
        ticket_ids = [sale.ticket_id or new_ticket_id(now) for sale in sales]
        seen: set = set()
        for i, sale in enumerate(sales):
            # A retry or a replay of a sale of this very batch is answered once that sale is committed.
            if seen.intersection(sale.marks):
                outcomes[i] = AGAIN
            seen.update(sale.marks)
        deciding = [i for i, outcome in enumerate(outcomes) if outcome is None]
        if not deciding:
            return outcomes
        if not alone and len(deciding) == len(sales):
            sold = self._sold_in_one_trip(conn, sales, ticket_ids, now)
            if sold is not None:
                return sold
        codes = {i: new_ticket_code() for i in deciding}
        reads = self._read_ahead(conn, sales, deciding, ticket_ids, codes, alone)
        self._answers_given_before(conn, sales, reads, outcomes)
        wanted = {(sales[i].request.coupon_id, sales[i].request.operator) for i in deciding if outcomes[i] is None}
        coupons = {key: self.store.load_coupon_to_sell(conn, *key, reads.coupon_rows.get(key, ())) for key in wanted}
        if not alone and not self.store.is_sqlite:
            self._keep_coupons_in_hand(conn, coupons, reads)
        built: list[tuple[int, Ticket, AccountHolder]] = []
        failed: list[int] = []
        for i in deciding:
            if outcomes[i] is not None:
                continue
            try:
                built.append((i, *self._build_ticket(conn, sales[i], ticket_ids[i], codes[i], now, coupons)))
            except TicketingError as refused:
                outcomes[i] = refused
            except Exception:
                if alone:
                    raise
                failed.append(i)
        if failed:
            signed = [(sales[i].request.operator, sales[i].signed.signature) for i in failed if sales[i].signed]
            if signed:
                self.sales.forget_claims(conn, signed)
            for i in failed:
                outcomes[i] = AGAIN
        if built:
            self._debit_and_write(conn, sales, built, outcomes, reads)
        return outcomes

    def _read_ahead(
        self,
        conn: Connection,
        sales: list[Sale],
        deciding: list[int],
        ticket_ids: list[str],
        codes: dict[int, str],
        alone: bool,
    ) -> BatchReads:
        """What the sales being decided read, in one go: their idempotency keys, a claim of each signature for the
        ticket it is about to create, their coupons, the balances of the accounts they would be paid from, and the
        codes drawn for them. Read for every sale before any is decided, so some of it may go unused (the balance
        of a sale that turns out to be a replay). A batch reads the balances unlocked, a sale alone locks them
        (`SaleStatements.read_ahead`)."""
        return self.sales.read_ahead(
            conn,
            keys=[sales[i].key for i in deciding if sales[i].idempotency_key],
            claims=[(*sales[i].claim, sales[i].signed.expires, ticket_ids[i]) for i in deciding if sales[i].signed],
            coupons=[(sales[i].request.coupon_id, sales[i].request.operator) for i in deciding],
            tokens=[
                sales[i].holder.token_sha256 if sales[i].holder else token_fingerprint(sales[i].request.token)
                for i in deciding
                if sales[i].wallet == INTERNAL
            ],
            codes=list(codes.values()),
            lock_balances=alone,
            tills=[(sales[i].request.operator, sales[i].till) for i in deciding if _sold_over_the_counter(sales[i])],
        )

    def _answers_given_before(self, conn: Connection, sales: list[Sale], reads: BatchReads, outcomes: list) -> None:
        """Sets the outcome of each sale that was answered before: a retry (its idempotency key used by the same
        request: that ticket; by another: refused) and a replay (its signature claimed before: the first sending's
        ticket, or refused if it did not sell). A retry's new claim is pointed at the ticket it answers."""
        earlier: dict[int, Ticket] = {}
        for i, sale in enumerate(sales):
            found = reads.used_keys.get(sale.key) if outcomes[i] is None and sale.idempotency_key else None
            if found is not None:
                earlier_id, earlier_fingerprint, earlier_till = found
                if earlier_fingerprint != sale.fingerprint:
                    outcomes[i] = IdempotencyKeyReused()
                elif earlier_till is not None and earlier_till != sale.till:
                    # Another till's sale: answering its ticket here would hand this till a ticket whose cash is in
                    # another drawer, which this till's shift does not count and it may not cancel.
                    outcomes[i] = IdempotencyKeyReused(
                        "Idempotency key already used by another till: each till's keys are its own"
                    )
                else:
                    earlier[i] = self.store.find_ticket(conn, earlier_id)
        repointed = []
        for i, sale in enumerate(sales):
            if outcomes[i] is not None or sale.signed is None:
                continue
            if sale.claim in reads.new_claims:
                if i in earlier:
                    repointed.append((earlier[i].id, *sale.claim))
                continue
            claimed = replays.claimed_ticket(conn, sale.request.operator, sale.signed)
            first = None if claimed is None else self.store.find_ticket(conn, claimed)
            outcomes[i] = first or ReplayedRequest("This signed sale was sent before and refused: sign it afresh")
        if repointed:
            self.sales.point_claims(conn, repointed)
        for i, ticket in earlier.items():
            if outcomes[i] is None:
                outcomes[i] = ticket

    def _build_ticket(
        self, conn: Connection, sale: Sale, ticket_id: str, code: str, now: datetime, coupons: dict
    ) -> tuple[Ticket, AccountHolder]:
        """The sale checked and priced against the coupon as this transaction reads it; a refusal raises."""
        request = sale.request
        operator = self._operator(conn, request.operator)
        account = sale.holder or self._account_holder(conn, token_fingerprint(request.token))
        if account is None or account.operator != operator.name:
            raise InvalidToken()
        coupon = coupons[(request.coupon_id, request.operator)]
        if coupon is None or coupon.status == CouponStatus.DRAFT:
            raise CouponNotFound(f"Coupon {request.coupon_id} not found", coupon_id=request.coupon_id)
        picks = validate_ticket(request, coupon, operator.currency, now)
        cap = payout_cap(coupon.max_payout, operator.max_payout)
        ticket = priced_ticket(
            request,
            picks,
            operator.tax_profile,
            cap,
            ticket_id=ticket_id,
            code=code,
            operator=operator.name,
            coupon_id=coupon.id,
            user_id=account.user_id,
            atag=request.atag,
            now=now,
        )
        return ticket, account

    def _debit_and_write(
        self,
        conn: Connection,
        sales: list[Sale],
        built: list[tuple[int, Ticket, AccountHolder]],
        outcomes: list,
        reads: BatchReads,
    ) -> None:
        """Each stake taken in order (`_take_stakes`), then the batch's writes. A ticket code already taken is drawn
        again (1 in 148 million a ticket stored)."""
        stakes = Stakes(reads.balances)
        sold = self._take_stakes(sales, built, outcomes, stakes, reads.open_tills)
        if not sold:
            return
        self._draw_free_codes(conn, [ticket for _i, ticket, _a in sold], reads.taken_codes)
        self.sales.write(conn, stakes.debits, *self._rows(sales, sold))
        for i, ticket, _account in sold:
            outcomes[i] = ticket

    def _take_stakes(
        self,
        sales: list[Sale],
        built: list[tuple[int, Ticket, AccountHolder]],
        outcomes: list,
        stakes: Stakes,
        open_tills: set[tuple[str, str]],
    ) -> list[tuple[int, Ticket, AccountHolder]]:
        """The sales whose stakes were taken, in order, by their sale's wallet (`Stakes`: the internal wallet checks
        each against its account's balance; a PAM wallet's is taken by `ticket_create` after the commit); the
        others' refusals set in `outcomes`. A cash sale needs its till's shift open (`open_tills`)."""
        sold: list[tuple[int, Ticket, AccountHolder]] = []
        for i, ticket, account in built:
            counted = (ticket.operator, sales[i].till) in open_tills
            if account.kind == "shop" and _sold_over_the_counter(sales[i]) and not counted:
                outcomes[i] = NoOpenShift(
                    f"Till {sales[i].till} has no open shift: a cash sale is counted in the till's open shift,"
                    " open one with the cash float first"
                )
                continue
            try:
                self.wallets[sales[i].wallet].take_stake(stakes, account, ticket)
            except TicketingError as refused:
                outcomes[i] = refused
                continue
            sold.append((i, ticket, account))
        return sold

    def _rows(self, sales: list[Sale], sold: list[tuple[int, Ticket, AccountHolder]]) -> tuple[list, list, list]:
        """The rows of the tickets sold, of their picks, and of the cash stakes their tills' shifts count."""
        statements = self.sales
        tickets, events, cash = [], [], []
        for i, ticket, account in sold:
            sale = sales[i]
            tickets.append(
                statements.ticket_row(
                    ticket, account.token_sha256, sale.idempotency_key, sale.fingerprint, sale.till, sale.wallet
                )
            )
            events.extend(statements.ticket_event_rows(ticket))
            if account.kind == "shop" and sale.till is not None:
                # A shop ticket's stake is cash taken at the till: recorded in its open shift, if it has one (a sale
                # over the counter has one: it was refused above otherwise, and the shift is held until this commits).
                moment = statements.moment(ticket.created)
                cash.append((ticket.id, to_cents(ticket.stake), moment, ticket.operator, sale.till))
        return tickets, events, cash

    def _sold_in_one_trip(
        self, conn: Connection, sales: list[Sale], ticket_ids: list[str], now: datetime
    ) -> list | None:
        """PostgreSQL: the batch decided on what earlier batches read, and written with its commit in one round trip
        to the server where reading first makes two (`SaleStatements.write_in_one_trip`: what the reads would have
        said is assumed, and each assumption checked by a statement of the same transaction that fails if it does
        not hold). Each sale's outcome, or None when the batch cannot go this way (a coupon not in hand, a wallet's
        sale) or went and failed (a replay, a short balance, a coupon changed since): nothing of it is left, and it
        is decided again as any batch is. Either way a sale is decided on what the server holds at the commit."""
        if self.store.is_sqlite or any(sale.wallet != INTERNAL for sale in sales):
            return None
        if conn.connection.driver_connection is not self._coupons_in_hand_on:
            return None
        in_hand = {}
        for sale in sales:
            key = (sale.request.coupon_id, sale.request.operator)
            if key not in self._coupons_in_hand:
                return None
            in_hand[key] = self._coupons_in_hand[key]
        coupons = {key: coupon for key, (coupon, _versions) in in_hand.items()}
        outcomes: list = [None] * len(sales)
        built: list[tuple[int, Ticket, AccountHolder]] = []
        for i, sale in enumerate(sales):
            try:
                built.append((i, *self._build_ticket(conn, sale, ticket_ids[i], new_ticket_code(), now, coupons)))
            except TicketingError as refused:
                outcomes[i] = refused
            except Exception:
                return None
        # No balance read: each is taken as the largest a balance can be, and the debits' guard says whether the
        # accounts covered the batch (every stake is positive, so covering the total covers each sale in order).
        stakes = Stakes(dict.fromkeys((account.token_sha256 for _i, _t, account in built), LARGEST_BALANCE))
        tills = {
            (sales[i].request.operator, sales[i].till)
            for i, _ticket, account in built
            if account.kind == "shop" and _sold_over_the_counter(sales[i])
        }
        sold = self._take_stakes(sales, built, outcomes, stakes, tills)
        keys = [sale.key for sale in sales if sale.idempotency_key]
        claims = [(*sale.claim, sale.signed.expires, ticket_ids[i]) for i, sale in enumerate(sales) if sale.signed]
        versions = {key: versions for key, (_coupon, versions) in in_hand.items()}
        if not self.sales.write_in_one_trip(
            conn, keys, claims, versions, sorted(tills), stakes.debits, *self._rows(sales, sold)
        ):
            return None
        for i, ticket, _account in sold:
            outcomes[i] = ticket
        return outcomes

    def _keep_coupons_in_hand(
        self, conn: Connection, coupons: dict[tuple[str, str], Coupon | None], reads: BatchReads
    ) -> None:
        """The coupons a batch read with their rows' versions, for the next batches to be sold in one trip. Kept with
        the connection that read them: a transaction id may be given again by another server (a standby promoted, a
        restore), which only a new connection can reach."""
        raw = conn.connection.driver_connection
        if raw is not self._coupons_in_hand_on or len(self._coupons_in_hand) > MAX_COUPONS_IN_HAND:
            self._coupons_in_hand.clear()
            self._coupons_in_hand_on = raw
        for key, coupon in coupons.items():
            versions = reads.coupon_versions.get(key)
            if coupon is not None and versions:
                self._coupons_in_hand[key] = (coupon, versions)
            else:
                self._coupons_in_hand.pop(key, None)

    def _draw_free_codes(self, conn: Connection, tickets: list[Ticket], taken: set[str]) -> None:
        """Draws again each code in `taken` (read with the batch) or drawn twice, until none is taken."""
        while True:
            drawn: set[str] = set()
            clashes = False
            for ticket in tickets:
                if ticket.code in taken or ticket.code in drawn:
                    ticket.code = new_ticket_code()
                    clashes = True
                drawn.add(ticket.code)
            if not clashes:
                return
            taken = self.sales.taken_codes(conn, [ticket.code for ticket in tickets])

    # ---- after the sale (ticketing/settlement) --------------------------------------------------------------------

    def enter_result(self, actor: Actor, coupon_id: str, event_id: int, result: EventResult) -> SettlementSummary:
        """An admin enters (or corrects) a result of its operator's coupon; the last one settles the coupon."""
        actor.require(Permission.ENTER_RESULTS)
        return self.after_sale.enter_result(actor.operator, str(coupon_id), event_id, result, actor.credential)

    def preview_results(self, actor: Actor, coupon_id: str, results: dict[int, EventResult]) -> SettlementSummary:
        """The settlement these results would make, without entering them."""
        actor.require(Permission.ENTER_RESULTS)
        return self.after_sale.preview_results(actor.operator, str(coupon_id), results)

    def cancel_coupon(self, actor: Actor, coupon_id: str) -> SettlementSummary:
        actor.require(Permission.PUBLISH_COUPONS)
        return self.after_sale.cancel_coupon(actor.operator, str(coupon_id))

    def settlement(self, actor: Actor, coupon_id: str) -> SettlementSummary:
        actor.require(Permission.READ_COUPONS)
        return self.after_sale.settlement(actor.operator, str(coupon_id))

    def pay_out(self, actor: Actor, id_or_code: str) -> PayoutSlip:
        """A till pays a winner (or a refund) of its operator in cash, once, in its open shift."""
        actor.require(Permission.PAY_OUT)
        return self.after_sale.pay_out(self.get_ticket(actor, id_or_code), actor.till)

    def cancel_ticket(self, actor: Actor, id_or_code: str) -> Ticket:
        """The till that sold a ticket takes it back while the operator's cancel window is open."""
        actor.require(Permission.CANCEL_TICKETS)
        self.after_sale.cancel_ticket(self.get_ticket(actor, id_or_code), actor.till)
        return self.get_ticket(actor, id_or_code)

    def open_shift(self, actor: Actor, float_amount: Decimal) -> Shift:
        actor.require(Permission.RUN_SHIFT)
        return self.shifts.open_shift(actor.operator, actor.till, float_amount)

    def close_shift(self, actor: Actor, counted: Decimal) -> Shift:
        actor.require(Permission.RUN_SHIFT)
        return self.shifts.close_shift(actor.operator, actor.till, counted)

    def add_cash(self, actor: Actor, amount: Decimal) -> Shift:
        """Cash from the safe into the till's drawer, counted in its open shift (to pay what the drawer cannot)."""
        actor.require(Permission.RUN_SHIFT)
        return self.shifts.add_cash(actor.operator, actor.till, amount)

    def current_shift(self, actor: Actor, operations: bool = True) -> Shift | None:
        actor.require(Permission.RUN_SHIFT)
        return self.shifts.current_shift(actor.operator, actor.till, operations)

    def shift(self, actor: Actor, shift_id: int) -> Shift:
        actor.require(Permission.READ_SHIFTS)
        return self.shifts.shift(actor.operator, shift_id)

    def list_shifts(self, actor: Actor, till: str | None = None, limit: int = 50) -> list[Shift]:
        actor.require(Permission.READ_SHIFTS)
        return self.shifts.list_shifts(actor.operator, till, limit)

    # ---- the operator's wallet (ticketing/wallets) ---------------------------------------------------------------

    def wallet_status(self, actor: Actor) -> WalletStatus:
        actor.require(Permission.OPERATE_WALLET)
        operator = self.get_operator(actor.operator)
        with self.store.read() as conn:
            counts = outbox.count_by_state(conn, operator.name)
        url = operator.wallet_url if operator.wallet == PAM else None
        return WalletStatus(operator=operator.name, wallet=operator.wallet, url=url, messages=counts)

    def wallet_messages(
        self, actor: Actor, ticket: str | None = None, state: str | None = None, limit: int = 200
    ) -> list[OutboxMessage]:
        """The operator's messages to its wallet, newest first; one ticket's (id or code) in the order sent."""
        actor.require(Permission.OPERATE_WALLET)
        reference = None if ticket is None else normalize_ticket_reference(ticket)
        with self.store.read() as conn:
            return outbox.list_messages(conn, actor.operator, reference, state, limit)

    def retry_wallet_messages(self, actor: Actor, ticket: str | None = None, message_id: int | None = None) -> int:
        """Failed (and unanswered) messages sent again now: all of the operator's, one ticket's, or one message."""
        actor.require(Permission.OPERATE_WALLET)
        ticket_id = None
        if ticket is not None:
            with self.store.read() as conn:
                found = self.store.find_ticket(conn, normalize_ticket_reference(ticket))
            if found is None or found.operator != actor.operator:
                raise TicketNotFound(f"Ticket {ticket.strip()[:40]} not found")
            ticket_id = found.id
        with self.store.write() as conn:
            if message_id is not None and not outbox.list_messages(conn, actor.operator, message_id=message_id):
                raise OutboxMessageNotFound(f"Message {message_id} not found")
            retried = outbox.retry(conn, actor.operator, naive_utc(self.clock()), ticket_id, message_id)
        self.outbox.wake()
        return retried

    def reconcile_wallet(self, actor: Actor) -> Reconciliation:
        """The operator's PAM tickets against its wallet's ledger: every difference (README "Wallets")."""
        actor.require(Permission.OPERATE_WALLET)
        operator = self.get_operator(actor.operator)
        ledger = self.pam.client(operator).ledger()
        with self.store.read() as conn:
            mine = reconcile.engine_view(conn, operator.name)
            waiting = outbox.undelivered(conn, operator.name)
        return reconcile.reconcile(operator.name, self.clock(), mine, ledger, waiting)

    def wallet_player(self, actor: Actor, token: str) -> WalletPlayer:
        """Who a token is and its balance now, wherever its money is: what a till shows before it sells."""
        actor.require(Permission.SELL)
        operator = self.get_operator(actor.operator)
        with self.store.read() as conn:
            account = self.store.load_account(conn, token_fingerprint(token))
        here = account is not None and account.operator == operator.name
        if here and (operator.wallet != PAM or account.kind == "shop"):
            return WalletPlayer(
                player_id=account.user_id, balance=account.balance, currency=operator.currency, wallet=INTERNAL
            )
        if operator.wallet != PAM:
            raise InvalidToken()
        player = self.pam.identify(operator, token, fresh=True)
        balance = from_cents(player.balance_cents)
        return WalletPlayer(player_id=player.player_id, balance=balance, currency=player.currency, wallet=PAM)

    # ---- lookups ---------------------------------------------------------------------------------------------

    def get_ticket(self, actor: Actor, id_or_code: str) -> Ticket:
        """The actor's operator's ticket by id or code; another operator's is not found."""
        actor.require(Permission.READ_TICKETS)
        reference = normalize_ticket_reference(id_or_code)
        ticket = None
        if reference.isascii() and reference.isalnum():
            with self.store.read() as conn:
                ticket = self.store.find_ticket(conn, reference)
        if ticket is None or ticket.operator != actor.operator:
            raise TicketNotFound(f"Ticket {id_or_code.strip()[:40]} not found")
        return ticket

    def list_tickets(self, actor: Actor, query: TicketQuery) -> list[Ticket]:
        """The actor's operator's tickets, whatever operator the query names."""
        actor.require(Permission.READ_TICKETS)
        with self.store.read() as conn:
            return self.store.query_tickets(conn, query.model_copy(update={"operator": actor.operator}))

    def list_tickets_json(self, actor: Actor, query: TicketQuery) -> tuple[bytes, TicketCursor | None]:
        """What `list_tickets` returns, already written as JSON (by the database: see `Store.query_tickets_json`),
        and the cursor of the next page when there is one."""
        actor.require(Permission.READ_TICKETS)
        with self.store.read() as conn:
            return self.store.query_tickets_json(conn, query.model_copy(update={"operator": actor.operator}))

    def health(self) -> dict:
        with self.store.read() as conn:
            coupons = len(self.store.all_coupon_ids(conn))
        return {"status": "ok", "database": self.store.engine.dialect.name, "coupons": coupons}

    def list_open_coupons(self, actor: Actor) -> list[Coupon]:
        actor.require(Permission.READ_COUPONS)
        now, operator = self.clock(), actor.operator
        with self.store.read() as conn:
            return [
                self.store.load_coupon(conn, cid, operator) for cid in self.store.open_coupon_ids(conn, now, operator)
            ]

    def list_closed_coupons(self, actor: Actor, limit: int = 50) -> list[Coupon]:
        """The operator's coupons past their deadline, latest first: the ones results are entered for."""
        actor.require(Permission.READ_COUPONS)
        now, operator = self.clock(), actor.operator
        with self.store.read() as conn:
            ids = self.store.closed_coupon_ids(conn, now, operator, limit)
            return [self.store.load_coupon(conn, cid, operator) for cid in ids]

    def get_coupon(self, actor: Actor, coupon_id: str) -> Coupon:
        """The actor's operator's coupon; another operator's is not found (404)."""
        actor.require(Permission.READ_COUPONS)
        with self.store.read() as conn:
            coupon = self.store.load_coupon(conn, str(coupon_id), actor.operator)
            if coupon is None or coupon.status == CouponStatus.DRAFT:
                raise CouponMissing(f"Coupon {coupon_id} not found", coupon_id=str(coupon_id))
            prizes = self.store.load_bonus_prizes(conn, coupon.id)
        return coupon.model_copy(update={"bonus_prizes": prizes}) if prizes else coupon

    def get_operator(self, name: str) -> Operator:
        cached = self._cached_operator(name)
        if cached is not None:
            return cached
        with self.store.read() as conn:
            return self._operator(conn, name)

    def operator_profile(self, actor: Actor) -> OperatorProfile:
        actor.require(Permission.READ_OPERATOR)
        operator = self.get_operator(actor.operator)
        return OperatorProfile(
            name=operator.name,
            currency=operator.currency,
            excise_rate=operator.tax_profile.excise_rate,
            withholding_rate=operator.tax_profile.withholding_rate,
            max_payout=operator.max_payout,
            cancel_window_minutes=operator.cancel_window_minutes,
            timezone=operator.timezone,
        )

    def balance(self, actor: Actor, token: str) -> Decimal:
        """The balance of an account of the actor's operator, for a till about to sell on it (the slip says how much
        a stake is short); another operator's account is unknown to it, as a token that does not exist."""
        actor.require(Permission.SELL)
        with self.store.read() as conn:
            account = self.store.load_account(conn, token_fingerprint(token))
        if account is None or account.operator != actor.operator:
            raise InvalidToken()
        return account.balance

    # ---- coupon administration (feed, admin) -----------------------------------------------------------------

    def update_event(self, actor: Actor, coupon_id: str, event_id: int, change: EventUpdate) -> CouponEvent:
        """Odds and status of an event of the actor's operator's coupon; another operator's is not found (404)."""
        actor.require(Permission.UPDATE_EVENTS)
        coupon_id = str(coupon_id)
        missing = CouponMissing(f"Event {event_id} not found in coupon {coupon_id}", coupon_id=coupon_id)
        with self.store.write() as conn:
            if self.store.coupon_owner(conn, coupon_id) != actor.operator or self.store.is_draft(conn, coupon_id):
                raise missing
            if not self.store.update_event(conn, coupon_id, event_id, change.status, change.odds):
                raise missing
            event = self.store.load_coupon(conn, coupon_id, actor.operator).event(event_id)
        return event

    def publish_coupon(self, actor: Actor, raw: dict) -> Coupon:
        """Run the QA check on a coupon (engine JSON format) and store it, owned by the actor's operator, if it has
        no error. Republishing replaces a coupon only while it has no ticket (115) and no result or round (151),
        and only its owner may."""
        actor.require(Permission.PUBLISH_COUPONS)
        publisher = self.get_operator(actor.operator)
        report = check_coupon_data(
            raw, [], [publisher.currency], self.clock(), operator_max_payout=publisher.max_payout
        )
        if not report.publishable:
            problems = [p.model_dump(mode="json") for p in report.errors]
            raise CouponRejected(f"Coupon has {len(problems)} error(s): {problems[0]['message']}", problems=problems)
        coupon = report.coupon
        with self.store.write() as conn:
            if self.store.coupon_owner(conn, coupon.id) not in (None, actor.operator):
                raise NotAllowed(f"Coupon id {coupon.id} is another operator's: publish under another id")
            # The draft's rules: a coupon sold on, resulted or cancelled keeps its round (a coupon reopened over its
            # results sold bets on known outcomes, over its cancellation stakes nobody could settle or refund).
            refused = self.coupons.replace_refusal(conn, coupon.id, "published again")
            if refused is not None:
                raise refused
            self.store.save_coupon(conn, coupon, actor.operator)
        return coupon

    # ---- drafts, publishing and the sandbox (ticketing/coupons): an admin's ------------------------------------------

    def save_draft(self, actor: Actor, raw: dict) -> Draft:
        """Make or update a coupon's draft (engine JSON format, QA-checked: 400/114); nothing goes on sale."""
        actor.require(Permission.PUBLISH_COUPONS)
        return self.coupons.save_draft(actor.operator, raw, actor.credential[:64])

    def list_drafts(self, actor: Actor) -> list[DraftSummary]:
        actor.require(Permission.PUBLISH_COUPONS)
        return self.coupons.drafts(actor.operator)

    def get_draft(self, actor: Actor, coupon_id: str) -> Draft:
        actor.require(Permission.PUBLISH_COUPONS)
        return self.coupons.draft(actor.operator, str(coupon_id))

    def discard_draft(self, actor: Actor, coupon_id: str) -> None:
        actor.require(Permission.PUBLISH_COUPONS)
        self.coupons.discard_draft(actor.operator, str(coupon_id))

    def publish_draft(self, actor: Actor, coupon_id: str, version: str) -> Coupon:
        """Put the reviewed `version` of a draft on sale."""
        actor.require(Permission.PUBLISH_COUPONS)
        return self.coupons.publish(actor.operator, str(coupon_id), version)

    def withdraw_coupon(self, actor: Actor, coupon_id: str) -> Draft:
        """Take a coupon without tickets off sale, back to a draft."""
        actor.require(Permission.PUBLISH_COUPONS)
        return self.coupons.withdraw(actor.operator, str(coupon_id), actor.credential[:64])

    def sandbox(self, actor: Actor, coupon_id: str) -> Sandbox:
        actor.require(Permission.PUBLISH_COUPONS)
        return self.coupons.sandbox(actor.operator, str(coupon_id))

    def sell_test_ticket(self, actor: Actor, coupon_id: str, sale: SandboxSale) -> Ticket:
        actor.require(Permission.PUBLISH_COUPONS)
        return self.coupons.sell_test_ticket(actor, str(coupon_id), sale)

    def update_sandbox_event(self, actor: Actor, coupon_id: str, event_id: int, change: EventUpdate) -> CouponEvent:
        actor.require(Permission.PUBLISH_COUPONS)
        return self.coupons.update_sandbox_event(actor.operator, str(coupon_id), event_id, change)

    def enter_sandbox_result(
        self, actor: Actor, coupon_id: str, event_id: int, result: EventResult
    ) -> SettlementSummary:
        actor.require(Permission.PUBLISH_COUPONS)
        return self.coupons.enter_sandbox_result(actor.operator, str(coupon_id), event_id, result, actor.credential)

    def cancel_sandbox_round(self, actor: Actor, coupon_id: str) -> SettlementSummary:
        actor.require(Permission.PUBLISH_COUPONS)
        return self.coupons.cancel_sandbox_round(actor.operator, str(coupon_id))

    def reset_sandbox(self, actor: Actor, coupon_id: str) -> Sandbox:
        actor.require(Permission.PUBLISH_COUPONS)
        return self.coupons.reset_sandbox(actor.operator, str(coupon_id))

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
