"""The ticket's life after the sale, as transactions: results, settlement, corrections, cancellation and payouts at
the counter (recorded in the till's shift, `ticketing/shifts`). Each public method is one durable transaction (or
none, when it refuses).

Settlement runs by itself in the transaction that enters a coupon's last missing result (or cancels the coupon),
so a coupon is never left half settled: a crash rolls the whole pass back, and `settle_pending` (run at every
start) settles any coupon whose results are complete and whose tickets are not.
"""

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from sqlalchemy import Connection, func, select, update
from sqlalchemy.exc import IntegrityError

from ticketing.contract.errors import (
    CancelNotAllowed,
    CouponFinal,
    CouponMissing,
    ResultsNotAllowed,
    TicketAlreadyPaid,
    TicketNotPayable,
)
from ticketing.contract.models import (
    Coupon,
    CouponStatus,
    EventResult,
    PayoutRecord,
    PayoutSlip,
    SettlementSummary,
    Ticket,
    TicketResult,
    TicketStatus,
)
from ticketing.contract.money import from_cents, to_cents
from ticketing.settlement import queries
from ticketing.settlement.rules import settle_ticket
from ticketing.shifts.queries import pay_from_the_drawer, required_open_shift, stake_taken_in_cash
from ticketing.storage import (
    Operator,
    Store,
    accounts,
    coupon_rounds,
    coupons,
    payouts,
    ticket_settlements,
    tickets,
)
from ticketing.wallets.interface import INTERNAL, Wallets

Clock = Callable[[], datetime]


class PreviewOnly(Exception):
    """Raised to roll back a settlement that was only run to be shown."""

    def __init__(self, summary: SettlementSummary):
        self.summary = summary


def naive(value: datetime) -> datetime:
    return value.astimezone(UTC).replace(tzinfo=None)


class AfterSale:
    def __init__(
        self, store: Store, clock: Clock, operator: Callable[[str], Operator], wallets: Wallets, sandbox: bool = False
    ):
        """With `sandbox`, the same results and settlement on drafts' sandbox coupons only (`ticketing/coupons`): their
        test tickets are settled by the same SQL, results are taken before the deadline (a sandbox tries the round
        now) and the coupon stays a draft; without it, drafts are not found."""
        self.store = store
        self.clock = clock
        self.operator = operator
        self.wallets = wallets
        self.sandbox = sandbox

    # ---- results and settlement --------------------------------------------------------------------------------

    def enter_result(
        self, operator: str, coupon_id: str, event_id: int, result: EventResult, by: str
    ) -> SettlementSummary:
        """Enter or correct one event's result. The last missing one settles the coupon, in a transaction of its
        own after the result is durable (a crash in between is finished by `settle_pending` at the next start); a
        changed result of a settled coupon re-settles it in the same transaction (rollback, then a new outcome)."""
        with self.store.write() as conn:
            self._one_writer_per_coupon(conn, coupon_id)
            coupon = self._resultable_coupon(conn, coupon_id, operator)
            if coupon.event(event_id) is None:
                raise CouponMissing(f"Event {event_id} not found in coupon {coupon_id}", coupon_id=coupon_id)
            if queries.results_of(conn, coupon_id).get(event_id) == result:
                return self._summary(conn, coupon_id, operator)
            now = naive(self.clock())
            correction = queries.round_of(conn, coupon_id) is not None
            if correction:
                self._roll_back(conn, coupon_id, operator, now)
            queries.save_result(conn, coupon_id, event_id, result, now, by)
            if correction:
                self._settle_if_complete(conn, coupon, operator, now, correction=True)
                return self._summary(conn, coupon_id, operator)
        with self.store.write() as conn:
            self._one_writer_per_coupon(conn, coupon_id)
            self._settle_if_complete(conn, coupon, operator, naive(self.clock()), correction=False)
            return self._summary(conn, coupon_id, operator)

    def preview_results(self, operator: str, coupon_id: str, results: dict[int, EventResult]) -> SettlementSummary:
        """What the settlement would be with these results (on top of those entered): run, shown, rolled back."""
        try:
            with self.store.write() as conn:
                self._one_writer_per_coupon(conn, coupon_id)
                coupon = self._resultable_coupon(conn, coupon_id, operator)
                now = naive(self.clock())
                settled = queries.round_of(conn, coupon_id) is not None
                if settled:
                    self._roll_back(conn, coupon_id, operator, now)
                for event_id, result in results.items():
                    if coupon.event(event_id) is None:  # as when it is entered: a mistyped id is said, not dropped
                        raise CouponMissing(f"Event {event_id} not found in coupon {coupon_id}", coupon_id=coupon_id)
                    queries.save_result(conn, coupon_id, event_id, result, now, "preview")
                self._settle_if_complete(conn, coupon, operator, now, correction=settled)
                raise PreviewOnly(self._summary(conn, coupon_id, operator))
        except PreviewOnly as preview:
            return preview.summary

    def cancel_coupon(self, operator: str, coupon_id: str) -> SettlementSummary:
        """An admin calls the round off: every unsettled ticket void, stakes refunded (credited or owed in cash)."""
        with self.store.write() as conn:
            self._one_writer_per_coupon(conn, coupon_id)
            coupon = self._coupon(conn, coupon_id, operator)
            if queries.round_of(conn, coupon_id) is not None:
                raise ResultsNotAllowed(f"Coupon {coupon_id} is already {self._status(conn, coupon, operator).value}")
            now = naive(self.clock())
            self.wallets.settling(conn, coupon_id, now, self.operator(operator))
            queries.settle_coupon(conn, coupon_id, {}, coupon.max_void_events, now, cancelled=True)
            self.wallets.settled(conn, coupon_id, now, self.operator(operator))
            queries.save_round(conn, coupon_id, CouponStatus.CANCELLED.value, now, correction=False)
            self._set_status(conn, coupon_id, CouponStatus.CANCELLED)
            return self._summary(conn, coupon_id, operator)

    def settlement(self, operator: str, coupon_id: str) -> SettlementSummary:
        with self.store.read() as conn:
            self._coupon(conn, coupon_id, operator)
            return self._summary(conn, coupon_id, operator)

    def settle_pending(self) -> list[str]:
        """At start: settle every coupon whose results are complete but whose settlement never committed."""
        with self.store.read() as conn:
            rows = conn.execute(
                select(coupons.c.id, coupons.c.operator)
                .outerjoin(coupon_rounds, coupon_rounds.c.coupon_id == coupons.c.id)
                .where(
                    coupon_rounds.c.coupon_id.is_(None),
                    coupons.c.operator.is_not(None),
                    (coupons.c.status == CouponStatus.DRAFT.value) == self.sandbox,
                )
            ).all()
        settled = []
        for coupon_id, operator in rows:
            with self.store.write() as conn:
                self._one_writer_per_coupon(conn, coupon_id)
                coupon = self._coupon(conn, coupon_id, operator)
                if self._settle_if_complete(conn, coupon, operator, naive(self.clock()), correction=False):
                    settled.append(coupon_id)
        return settled

    def _settle_if_complete(
        self, conn: Connection, coupon: Coupon, operator: str, now: datetime, correction: bool
    ) -> bool:
        results = queries.results_of(conn, coupon.id)
        if any(event.id not in results for event in coupon.events):
            return False
        if not correction and queries.round_of(conn, coupon.id) is not None:
            return False  # the last two results entered at once: the other's transaction settled it
        self.wallets.settling(conn, coupon.id, now, self.operator(operator))
        queries.settle_coupon(conn, coupon.id, results, coupon.max_void_events, now, cancelled=False)
        self._reprice_void_winners(conn, coupon, results, now)
        self.wallets.settled(conn, coupon.id, now, self.operator(operator))
        queries.save_round(conn, coupon.id, CouponStatus.RESULTED.value, now, correction)
        self._set_status(conn, coupon.id, CouponStatus.RESULTED)
        if correction:
            queries.flag_paid_before_correction(conn, coupon.id)
        return True

    @staticmethod
    def _one_writer_per_coupon(conn: Connection, coupon_id: str) -> None:
        """Results, corrections, settlement and cancellation of one coupon, one transaction at a time. SQLite's writer
        lock already does it; on PostgreSQL two corrections at once each took back the winnings they had read before
        the other committed (twice in all), and the last two results entered at once both settled (a 500)."""
        conn.execute(select(coupons.c.id).where(coupons.c.id == coupon_id).with_for_update())

    def _set_status(self, conn: Connection, coupon_id: str, status: CouponStatus) -> None:
        """A sandbox's round is told by its `coupon_rounds` row: its coupon stays a draft, out of every real list."""
        if not self.sandbox:
            conn.execute(update(coupons).where(coupons.c.id == coupon_id).values(status=status.value))

    def _roll_back(self, conn: Connection, coupon_id: str, operator: str, now: datetime) -> None:
        """Betstack's rollback: each wallet takes back what the settlement paid, then the tickets reopen."""
        self.wallets.rolled_back(conn, coupon_id, now, self.operator(operator))
        queries.roll_back_settlement(conn, coupon_id, now)

    def _reprice_void_winners(self, conn: Connection, coupon: Coupon, results: dict, now: datetime) -> None:
        """A full winner with void legs is paid at odds 1.00 for them: priced again by the engine's own rules, capped
        at the payout it was sold with. A leg at 1.00 can only lower the total odds, and the sale's cap (the coupon's
        and the operator's, whichever was lower then) is in that payout: a cap lowered since, or the coupon's alone,
        must not pay a winner more than its receipt."""
        winners = queries.void_winners(conn, coupon.id, now)
        if not winners:
            return
        bonus = self.store.load_bonus_prizes(conn, coupon.id)
        for ticket_id, (stake, sold_payout, picks, kind) in winners.items():
            operator = self.operator(conn.execute(select(tickets.c.operator).where(tickets.c.id == ticket_id)).scalar())
            outcome = settle_ticket(
                stake, picks, results, operator.tax_profile, sold_payout, coupon.max_void_events, bonus
            )
            credited = outcome.owed if kind == "player" else Decimal(0)
            queries.reprice(conn, ticket_id, outcome.payout, outcome.tax, outcome.net_payout, credited)

    def _resultable_coupon(self, conn: Connection, coupon_id: str, operator: str) -> Coupon:
        coupon = self._coupon(conn, coupon_id, operator)
        now = self.clock()
        if now < coupon.closes_at and not self.sandbox:
            raise ResultsNotAllowed(
                f"Coupon {coupon_id} closes at {coupon.closes_at:%Y-%m-%d %H:%M} UTC: results only after its deadline"
            )
        status = self._status(conn, coupon, operator)
        if status == CouponStatus.CANCELLED:
            raise ResultsNotAllowed(f"Coupon {coupon_id} was cancelled")
        if status == CouponStatus.FINAL:
            raise CouponFinal(f"Coupon {coupon_id} is final: its results can no longer be corrected")
        return coupon

    def _coupon(self, conn: Connection, coupon_id: str, operator: str) -> Coupon:
        """The operator's coupon: another operator's is not found, nor a draft's sandbox (outside the sandbox)."""
        coupon = self.store.load_coupon(conn, coupon_id, operator)
        if coupon is None or (coupon.status == CouponStatus.DRAFT) != self.sandbox:
            raise CouponMissing(f"Coupon {coupon_id} not found", coupon_id=coupon_id)
        return coupon

    def _status(self, conn: Connection, coupon: Coupon, operator: str) -> CouponStatus:
        """Resulted turns final once the correction window has passed (no write needed: it is a matter of time)."""
        settled = queries.round_of(conn, coupon.id)
        if settled is None:
            return coupon.status
        if settled.state == CouponStatus.RESULTED.value:
            window = timedelta(hours=self.operator(operator).correction_window_hours)
            if naive(self.clock()) >= settled.settled_at + window:
                return CouponStatus.FINAL
        return CouponStatus(settled.state)

    def _summary(self, conn: Connection, coupon_id: str, operator: str) -> SettlementSummary:
        coupon = self._coupon(conn, coupon_id, operator)
        results = queries.results_of(conn, coupon_id)
        s = ticket_settlements
        rows = conn.execute(
            select(
                s.c.result,
                s.c.prize_tier,
                func.count(),
                func.coalesce(func.sum(s.c.payout_cents), 0),
                func.coalesce(func.sum(s.c.tax_cents), 0),
                func.coalesce(func.sum(s.c.net_payout_cents), 0),
                func.coalesce(func.sum(s.c.refund_cents), 0),
            )
            .join(tickets, tickets.c.id == s.c.ticket_id)
            .where(
                s.c.coupon_id == coupon_id,
                tickets.c.status != TicketStatus.CANCELLED.value,
                tickets.c.test == self.sandbox,
            )
            .group_by(s.c.result, s.c.prize_tier)
        ).all()
        counts = {"won": 0, "lost": 0, "void": 0}
        bonus: dict[int, int] = {}
        totals = [0, 0, 0, 0]
        for result, tier, count, payout, tax, net, refund in rows:
            if tier is not None:
                bonus[tier] = count
            else:
                counts[result] += count
            for i, value in enumerate((payout, tax, net, refund)):
                totals[i] += int(value)
        sold = conn.execute(
            select(func.count())
            .select_from(tickets)
            .where(
                tickets.c.coupon_id == coupon_id,
                tickets.c.status != TicketStatus.CANCELLED.value,
                tickets.c.test == self.sandbox,
            )
        ).scalar_one()
        follow_up = conn.execute(
            select(tickets.c.code)
            .join(payouts, payouts.c.ticket_id == tickets.c.id)
            .where(tickets.c.coupon_id == coupon_id, payouts.c.follow_up.is_not(None))
            .order_by(tickets.c.code)
        ).scalars()
        return SettlementSummary(
            coupon_id=coupon_id,
            status=self._status(conn, coupon, operator),
            results_known=sum(1 for e in coupon.events if e.id in results),
            events=len(coupon.events),
            results={e.id: results[e.id] for e in coupon.events if e.id in results},
            tickets=sold,
            winners=counts["won"],
            bonus_winners=bonus,
            losers=counts["lost"],
            voided=counts["void"],
            total_payout=from_cents(totals[0]),
            total_tax=from_cents(totals[1]),
            total_net_payout=from_cents(totals[2]),
            total_refund=from_cents(totals[3]),
            paid_before_correction=list(follow_up),
        )

    # ---- at the counter ------------------------------------------------------------------------------------------

    def pay_out(self, ticket: Ticket, till: str) -> PayoutSlip:
        """Pay a won or void shop ticket in cash, once: the payouts table's primary key refuses any second payout,
        from any till or process, even when two arrive at the same moment."""
        now = naive(self.clock())
        try:
            with self.store.write() as conn:
                # Read again, locked, in the transaction that pays: a correction committed since the caller read the
                # ticket is paid as corrected (or refused); one that comes after waits and flags this payout.
                conn.execute(select(tickets.c.id).where(tickets.c.id == ticket.id).with_for_update())
                ticket = self.store.find_ticket(conn, ticket.id)
                self._payable(ticket)
                settlement = ticket.settlement
                kind = "refund" if settlement.result == TicketResult.VOID else "payout"
                amount = settlement.refund if kind == "refund" else settlement.net_payout
                if queries.payout_of(conn, ticket.id) is not None:
                    raise self._already_paid(conn, ticket)
                shift = required_open_shift(conn, ticket.operator, till)
                pay_from_the_drawer(conn, shift, kind, ticket.id, to_cents(amount), now, ticket.currency)
                conn.execute(
                    payouts.insert().values(
                        ticket_id=ticket.id,
                        operator=ticket.operator,
                        kind=kind,
                        amount_cents=to_cents(amount),
                        paid_at=now,
                        till=till,
                        shift_id=shift.id,
                    )
                )
        except IntegrityError:
            with self.store.read() as conn:
                raise self._already_paid(conn, ticket) from None
        with self.store.read() as conn:
            row = queries.payout_of(conn, ticket.id)
        record = PayoutRecord(
            kind=row.kind,
            amount=from_cents(row.amount_cents),
            paid_at=row.paid_at,
            till=row.till,
            shift_id=row.shift_id,
            follow_up=row.follow_up,
        )
        return PayoutSlip(
            ticket_id=ticket.id,
            code=ticket.code,
            result=settlement.result,
            prize_tier=settlement.prize_tier,
            amount=amount,
            currency=ticket.currency,
            record=record,
        )

    def _payable(self, ticket: Ticket) -> None:
        if ticket.status == TicketStatus.CANCELLED:
            raise TicketNotPayable(
                f"Ticket {ticket.code} was cancelled: its stake was refunded then", reason="cancelled"
            )
        if ticket.settlement is None:
            with self.store.read() as conn:
                known = len(queries.results_of(conn, ticket.coupon_id))
            raise TicketNotPayable(
                f"Ticket {ticket.code} is waiting for results: {known} of {len(ticket.events)} known",
                reason="waiting",
                results_known=known,
                events=len(ticket.events),
            )
        if ticket.settlement.result == TicketResult.LOST:
            raise TicketNotPayable(f"Ticket {ticket.code} is not a winner", reason="lost")
        if ticket.settlement.credited > 0:
            raise TicketNotPayable(
                f"Ticket {ticket.code} was credited to the player's account: "
                f"{ticket.settlement.credited:.2f} {ticket.currency}",
                reason="credited",
            )
        if ticket.settlement.paid is not None:
            paid = ticket.settlement.paid
            raise TicketAlreadyPaid(
                f"Ticket {ticket.code} already paid at {paid.paid_at:%Y-%m-%d %H:%M:%S} UTC by {paid.till}",
                paid_at=paid.paid_at.strftime("%Y-%m-%dT%H:%M:%S"),
                till=paid.till,
            )

    def _already_paid(self, conn: Connection, ticket: Ticket) -> TicketAlreadyPaid:
        row = queries.payout_of(conn, ticket.id)
        return TicketAlreadyPaid(
            f"Ticket {ticket.code} already paid at {row.paid_at:%Y-%m-%d %H:%M:%S} UTC by {row.till}",
            paid_at=row.paid_at.strftime("%Y-%m-%dT%H:%M:%S"),
            till=row.till,
        )

    def cancel_ticket(self, ticket: Ticket, till: str) -> Ticket:
        """The till that sold a ticket takes it back within the operator's cancel window and before the deadline:
        the stake is given back the way it was taken: cash out of this till's open shift when it came into the
        till's drawer, else to the account it was taken from, through the ticket's wallet."""
        operator = self.operator(ticket.operator)
        now = self.clock()
        self._cancellable(ticket, till, operator, now)
        with self.store.write() as conn:
            # Locked: a second cancel at once (a double click, two tabs) waits, then finds the ticket cancelled.
            current = conn.execute(
                select(tickets.c.status, tickets.c.sold_by, tickets.c.token_sha256, tickets.c.wallet)
                .where(tickets.c.id == ticket.id)
                .with_for_update()
            ).first()
            if current.status not in queries.UNSETTLED:
                raise CancelNotAllowed(f"Ticket {ticket.code} is already {current.status}")
            if current.wallet != INTERNAL and current.status == TicketStatus.NEW.value:
                raise CancelNotAllowed(f"Ticket {ticket.code} is waiting for the wallet's answer: it is not sold yet")
            if current.sold_by != till:
                raise CancelNotAllowed(f"Ticket {ticket.code} was sold by another till: only that till may cancel it")
            closes_at = self._coupon(conn, ticket.coupon_id, ticket.operator).closes_at
            if now >= closes_at:
                raise CancelNotAllowed(f"Ticket {ticket.code} cannot be cancelled: coupon {ticket.coupon_id} is closed")
            kind = conn.execute(select(accounts.c.kind).where(accounts.c.token_sha256 == current.token_sha256)).scalar()
            stamp = naive(now)
            stake = to_cents(ticket.stake)
            in_cash = (
                current.wallet == INTERNAL
                and kind == "shop"
                and stake_taken_in_cash(conn, ticket.id, ticket.operator, till, naive(ticket.created))
            )
            if not in_cash:
                reason = f"cancelled by till {till}"
                self.wallets[current.wallet].refunded(conn, ticket, current.token_sha256, reason, stamp, operator)
            else:
                shift = required_open_shift(conn, ticket.operator, till)
                pay_from_the_drawer(conn, shift, "refund", ticket.id, stake, stamp, ticket.currency)
            conn.execute(
                ticket_settlements.insert().values(
                    ticket_id=ticket.id,
                    coupon_id=ticket.coupon_id,
                    result=TicketResult.VOID.value,
                    correct=0,
                    voids=0,
                    payout_cents=0,
                    tax_cents=0,
                    net_payout_cents=0,
                    refund_cents=stake,
                    credited_cents=0 if in_cash else stake,
                    settled_at=stamp,
                )
            )
            conn.execute(
                update(tickets)
                .where(tickets.c.id == ticket.id)
                .values(status=TicketStatus.CANCELLED.value, result=TicketResult.VOID.value, updated=stamp)
            )
        return ticket

    @staticmethod
    def _cancellable(ticket: Ticket, till: str, operator: Operator, now: datetime) -> None:
        if operator.cancel_window_minutes <= 0:
            raise CancelNotAllowed(f"Operator {operator.name} does not allow cancelling tickets")
        if ticket.status not in queries.UNSETTLED:
            raise CancelNotAllowed(f"Ticket {ticket.code} is already {ticket.status.value}")
        until = ticket.created + timedelta(minutes=operator.cancel_window_minutes)
        if now > until:
            raise CancelNotAllowed(
                f"Ticket {ticket.code} could be cancelled until {until:%H:%M} UTC ({operator.cancel_window_minutes}"
                " minutes after the sale)"
            )
