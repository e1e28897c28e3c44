"""Drafts, publishing and the sandbox as transactions (the engine checks the actor's role, then calls here).

Nothing goes on sale by accident: an upload makes or updates a draft, which no till sees; publishing names the
version that was reviewed (a draft uploaded again since is refused, 150) and runs the QA check again; a republish
replaces a coupon only while it has no ticket (115) and no result (151); a coupon without tickets can be taken off
sale, back to a draft. A draft's sandbox sells test tickets with the engine's own rules and settles them with its own
settlement SQL (`AfterSale(sandbox=True)`), on a copy of the draft that tills cannot name; publishing, a new upload,
a reset or discarding the draft clears it.
"""

from collections.abc import Callable
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import Connection
from sqlalchemy.exc import IntegrityError

from ticketing.access.roles import Actor
from ticketing.contract import wire
from ticketing.contract.errors import (
    CouponClosed,
    CouponInUse,
    CouponMissing,
    CouponNotOpen,
    CouponRejected,
    DraftChanged,
    NotAllowed,
    TicketingError,
)
from ticketing.contract.identifiers import new_ticket_id
from ticketing.contract.models import (
    Coupon,
    CouponEvent,
    CouponStatus,
    EventResult,
    EventUpdate,
    SettlementSummary,
    Ticket,
)
from ticketing.coupons import queries
from ticketing.coupons.check import check_coupon_data
from ticketing.coupons.diff import coupon_changes
from ticketing.coupons.models import Draft, DraftSummary, Sandbox, SandboxSale, SandboxTicket
from ticketing.coupons.rules import coupon_body, promised_settlement, settlement_agrees, version_of
from ticketing.selling.rules import validate_ticket
from ticketing.selling.tickets import priced_ticket, request_fingerprint
from ticketing.settlement.service import AfterSale
from ticketing.storage import Operator, Store
from ticketing.wallets.interface import Wallets

Clock = Callable[[], datetime]
SANDBOX_TOKEN = "sandbox"
"""The account column of a test ticket: no account has it (accounts are keyed by 64 hex digits), so none is debited
or credited."""
CODE_ATTEMPTS = 5


def naive(value: datetime) -> datetime:
    return value.astimezone(UTC).replace(tzinfo=None)


class CouponDesk:
    def __init__(self, store: Store, clock: Clock, operator: Callable[[str], Operator]):
        self.store = store
        self.clock = clock
        self.operator = operator
        # A test ticket never goes through a wallet: its round is settled on paper, with none.
        self.sandbox_rounds = AfterSale(store, clock, operator, Wallets(), sandbox=True)

    # ---- drafts ------------------------------------------------------------------------------------------------------

    def save_draft(self, operator: str, raw: dict, by: str) -> Draft:
        """Make or update the draft of `raw`'s coupon id; a changed draft starts a fresh sandbox."""
        coupon = self._checked(operator, raw)
        body = coupon_body(coupon)
        version = version_of(body)
        with self.store.write() as conn:
            self._claim(conn, coupon.id, operator)
            self._replaceable(conn, coupon.id, "replaced by a draft")
            existing = queries.draft_row(conn, coupon.id)
            if existing is None or existing.version != version:
                sandbox_id = queries.new_sandbox_id() if existing is None else existing.sandbox_id
                now = naive(self.clock())
                queries.save_draft(conn, coupon.id, operator, wire.dumps(body).decode(), version, sandbox_id, now, by)
                self._fresh_sandbox(conn, sandbox_id, coupon, operator)
        return self.draft(operator, coupon.id)

    def draft(self, operator: str, coupon_id: str) -> Draft:
        """The draft, checked again now, with the coupon it would replace and what would change."""
        with self.store.read() as conn:
            row = self._draft_row(conn, coupon_id, operator)
            live = self.store.load_coupon(conn, coupon_id, operator)
            refusal = None
            if live is not None:
                live = live.model_copy(update={"bonus_prizes": self.store.load_bonus_prizes(conn, coupon_id)})
                refused = self.replace_refusal(conn, coupon_id, "replaced by this draft")
                refusal = None if refused is None else refused.message
        found = self.operator(operator)
        raw = wire.loads(row.body)
        report = check_coupon_data(raw, [], [found.currency], self.clock(), operator_max_payout=found.max_payout)
        if report.errors:
            refusal = f"It fails the QA check now: {report.errors[0].message}"
        coupon = Coupon.model_validate(raw).model_copy(update={"status": CouponStatus.DRAFT})
        return Draft(
            coupon=coupon,
            version=row.version,
            updated=row.updated,
            updated_by=row.updated_by,
            problems=report.problems,
            live=live,
            changes=[] if live is None else coupon_changes(live, coupon, ZoneInfo(found.timezone)),
            publishable=refusal is None,
            refusal=refusal,
        )

    def drafts(self, operator: str) -> list[DraftSummary]:
        with self.store.read() as conn:
            rows = queries.drafts_of(conn, operator)
            live = {row.coupon_id for row in rows if self.store.load_coupon(conn, row.coupon_id, operator)}
        summaries = []
        for row in rows:
            coupon = Coupon.model_validate(wire.loads(row.body))
            summaries.append(
                DraftSummary(
                    id=coupon.id,
                    name=coupon.name,
                    events=len(coupon.events),
                    closes_at=coupon.closes_at,
                    version=row.version,
                    updated=row.updated,
                    updated_by=row.updated_by,
                    replaces_live=row.coupon_id in live,
                )
            )
        return summaries

    def discard_draft(self, operator: str, coupon_id: str) -> None:
        with self.store.write() as conn:
            row = self._draft_row(conn, coupon_id, operator)
            queries.clear_sandbox(conn, row.sandbox_id)
            queries.delete_draft(conn, coupon_id)

    # ---- on sale and off -----------------------------------------------------------------------------------------

    def publish(self, operator: str, coupon_id: str, version: str) -> Coupon:
        """Put the reviewed version of the draft on sale (checked again now), replacing a coupon without tickets;
        the draft and its sandbox are gone after."""
        with self.store.write() as conn:
            row = self._draft_row(conn, coupon_id, operator)
            if row.version != version:
                raise DraftChanged(
                    f"Draft {coupon_id} changed since version {version} was reviewed: it is now {row.version}, "
                    "review it again",
                    version=row.version,
                )
            coupon = self._checked(operator, wire.loads(row.body))
            self._replaceable(conn, coupon_id, "replaced by this draft")
            self.store.save_coupon(conn, coupon, operator)
            queries.clear_sandbox(conn, row.sandbox_id)
            queries.delete_draft(conn, coupon_id)
        return coupon

    def withdraw(self, operator: str, coupon_id: str, by: str) -> Draft:
        """Take a coupon without tickets off sale, back to a draft (a newer draft of it, if there is one, stays)."""
        with self.store.write() as conn:
            live = self.store.load_coupon(conn, coupon_id, operator)
            if live is None or live.status == CouponStatus.DRAFT:
                raise CouponMissing(f"Coupon {coupon_id} not found", coupon_id=coupon_id)
            self._replaceable(conn, coupon_id, "withdrawn")
            if queries.draft_row(conn, coupon_id) is None:
                live = live.model_copy(update={"bonus_prizes": self.store.load_bonus_prizes(conn, coupon_id)})
                body = coupon_body(live)
                sandbox_id = queries.new_sandbox_id()
                now = naive(self.clock())
                queries.save_draft(
                    conn, coupon_id, operator, wire.dumps(body).decode(), version_of(body), sandbox_id, now, by
                )
                self._fresh_sandbox(conn, sandbox_id, live, operator)
            queries.delete_coupon(conn, coupon_id)
        return self.draft(operator, coupon_id)

    # ---- the sandbox -------------------------------------------------------------------------------------------------

    def sandbox(self, operator: str, coupon_id: str) -> Sandbox:
        with self.store.read() as conn:
            row = self._draft_row(conn, coupon_id, operator)
            coupon = self.store.load_coupon(conn, row.sandbox_id, operator)
            prizes = self.store.load_bonus_prizes(conn, row.sandbox_id)
            sold = queries.sandbox_tickets(self.store, conn, row.sandbox_id)
        summary = self.sandbox_rounds.settlement(operator, row.sandbox_id)
        cancelled = summary.status == CouponStatus.CANCELLED
        profile = self.operator(operator).tax_profile
        tickets = []
        for ticket in sold:
            promised = promised_settlement(ticket, coupon, summary.results, profile, prizes, cancelled)
            tickets.append(
                SandboxTicket(
                    ticket=ticket.model_copy(update={"coupon_id": coupon_id}),
                    promised=promised,
                    agrees=settlement_agrees(ticket.settlement, promised),
                )
            )
        return Sandbox(
            coupon=coupon.model_copy(update={"id": coupon_id, "bonus_prizes": prizes}),
            summary=summary.model_copy(update={"coupon_id": coupon_id}),
            tickets=tickets,
        )

    def sell_test_ticket(self, actor: Actor, coupon_id: str, sale: SandboxSale) -> Ticket:
        """A test ticket on the draft's sandbox, by the engine's sale rules (stake rules, picks, event statuses,
        `odds_diff` against the sandbox's odds, the cap, taxes); no account is debited, no till's cash moves."""
        operator = self.operator(actor.operator)
        for attempt in range(CODE_ATTEMPTS):
            try:
                with self.store.write() as conn:
                    return self._sell_test_ticket(conn, actor, operator, coupon_id, sale)
            except IntegrityError:
                if attempt == CODE_ATTEMPTS - 1:
                    raise
        raise AssertionError("unreachable")

    def _sell_test_ticket(
        self, conn: Connection, actor: Actor, operator: Operator, coupon_id: str, sale: SandboxSale
    ) -> Ticket:
        row = self._draft_row(conn, coupon_id, operator.name)
        coupon = self.store.load_coupon(conn, row.sandbox_id, operator.name, lock=True)
        if queries.has_results(conn, row.sandbox_id):
            raise CouponClosed(f"The sandbox of {coupon_id} has results: reset it to sell again", coupon_id=coupon_id)
        now = self.clock()
        request = sale.ticket_request(operator.name, coupon.currency, coupon_id)
        on_sale = coupon.model_copy(update={"id": coupon_id, "status": CouponStatus.OPEN})
        picks = validate_ticket(request, on_sale, operator.currency, now)
        ticket = priced_ticket(
            request,
            picks,
            operator.tax_profile,
            coupon.max_payout,
            ticket_id=new_ticket_id(now),
            operator=operator.name,
            coupon_id=row.sandbox_id,
            user_id=SANDBOX_TOKEN,
            atag=None,
            now=now,
            test=True,
        )
        fingerprint = request_fingerprint(request)
        self.store.insert_ticket(conn, ticket, SANDBOX_TOKEN, None, fingerprint, actor.credential[:64], test=True)
        return ticket.model_copy(update={"coupon_id": coupon_id})

    def update_sandbox_event(self, operator: str, coupon_id: str, event_id: int, change: EventUpdate) -> CouponEvent:
        with self.store.write() as conn:
            row = self._draft_row(conn, coupon_id, operator)
            if not self.store.update_event(conn, row.sandbox_id, event_id, change.status, change.odds):
                raise CouponMissing(f"Event {event_id} not found in draft {coupon_id}", coupon_id=coupon_id)
            return self.store.load_coupon(conn, row.sandbox_id, operator).event(event_id)

    def enter_sandbox_result(
        self, operator: str, coupon_id: str, event_id: int, result: EventResult, by: str
    ) -> SettlementSummary:
        """A test result, at any time (the sandbox plays the round now); the last one settles the test tickets."""
        sandbox_id = self._sandbox_id(operator, coupon_id)
        summary = self.sandbox_rounds.enter_result(operator, sandbox_id, event_id, result, by)
        return summary.model_copy(update={"coupon_id": coupon_id})

    def cancel_sandbox_round(self, operator: str, coupon_id: str) -> SettlementSummary:
        """The round called off: every test ticket void, its stake refunded (on paper)."""
        summary = self.sandbox_rounds.cancel_coupon(operator, self._sandbox_id(operator, coupon_id))
        return summary.model_copy(update={"coupon_id": coupon_id})

    def reset_sandbox(self, operator: str, coupon_id: str) -> Sandbox:
        """Test tickets, results and moved odds gone: the draft as uploaded, to try again."""
        with self.store.write() as conn:
            row = self._draft_row(conn, coupon_id, operator)
            self._fresh_sandbox(conn, row.sandbox_id, Coupon.model_validate(wire.loads(row.body)), operator)
        return self.sandbox(operator, coupon_id)

    # ---- shared ---------------------------------------------------------------------------------------------------

    def _checked(self, operator: str, raw: dict) -> Coupon:
        """The checks `POST /be/coupons` makes, for every way onto sale (a draft published, a sandbox)."""
        found = self.operator(operator)
        report = check_coupon_data(raw, [], [found.currency], self.clock(), operator_max_payout=found.max_payout)
        if not report.publishable:
            problems = [p.model_dump(mode="json") for p in report.errors]
            raise CouponRejected(f"Coupon has {len(problems)} error(s): {problems[0]['message']}", problems=problems)
        return report.coupon.model_copy(update={"status": CouponStatus.OPEN})

    def _claim(self, conn: Connection, coupon_id: str, operator: str) -> None:
        if self.store.coupon_owner(conn, coupon_id) not in (None, operator):
            raise NotAllowed(f"Coupon id {coupon_id} is another operator's: publish under another id")

    def _draft_row(self, conn: Connection, coupon_id: str, operator: str):
        row = queries.draft_row(conn, coupon_id)
        if row is None or row.operator != operator:
            raise CouponMissing(f"Coupon {coupon_id} has no draft", coupon_id=coupon_id)
        return row

    def _sandbox_id(self, operator: str, coupon_id: str) -> str:
        with self.store.read() as conn:
            return self._draft_row(conn, coupon_id, operator).sandbox_id

    def _fresh_sandbox(self, conn: Connection, sandbox_id: str, coupon: Coupon, operator: str) -> None:
        queries.clear_sandbox(conn, sandbox_id)
        copy = coupon.model_copy(update={"id": sandbox_id, "status": CouponStatus.DRAFT})
        self.store.save_coupon(conn, copy, operator)

    def replace_refusal(self, conn: Connection, coupon_id: str, action: str) -> TicketingError | None:
        """Why the coupon on sale under this id cannot be `action` now, or None (also when there is none)."""
        if self.store.has_tickets(conn, coupon_id):
            return CouponInUse(f"Coupon {coupon_id} already has tickets: it cannot be {action}; use a new id")
        if queries.has_results(conn, coupon_id):
            return CouponNotOpen(f"Coupon {coupon_id} has results: it cannot be {action}; use a new id")
        return None

    def _replaceable(self, conn: Connection, coupon_id: str, action: str) -> None:
        queries.lock_events(conn, coupon_id)
        refusal = self.replace_refusal(conn, coupon_id, action)
        if refusal is not None:
            raise refusal
