"""Every engine call of the screens after the sale (pay out, cancel, results, shifts, the demo round), in one place.

The pages never call the engine for these themselves: when the engine's methods change (who acts, over HTTP),
this class is the one to adapt. It is built from the terminal's connection and its till (`TICKETING_TILL`).
"""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from terminal_ui.connection import Connection
from ticketing.client import TicketingClient
from ticketing.engine import TicketEngine
from ticketing.models import (
    Coupon,
    CouponEvent,
    EventResult,
    EventUpdate,
    PayoutSlip,
    SettlementSummary,
    Shift,
    Ticket,
    TicketStatus,
)

RESULTS_BY = "terminal admin"
"""Who entered a result, as the engine records it."""


@dataclass(frozen=True)
class AfterSaleCalls:
    service: TicketEngine | TicketingClient
    operator: str
    till: str

    @property
    def available(self) -> bool:
        """The after-sale calls run on the in-process engine; a remote engine's client does not offer them yet."""
        return isinstance(self.service, TicketEngine)

    @property
    def engine(self) -> TicketEngine:
        return self.service

    # ---- tickets at the counter -------------------------------------------------------------------------------

    def find_ticket(self, reference: str) -> Ticket:
        return self.engine.get_ticket(reference, operator=self.operator)

    def results_known(self, coupon_id: str) -> dict[int, EventResult]:
        return self.engine.settlement(self.operator, coupon_id).results

    def pay_out(self, reference: str) -> PayoutSlip:
        return self.engine.pay_out(self.operator, self.till, reference)

    def cancel_ticket(self, reference: str) -> Ticket:
        return self.engine.cancel_ticket(self.operator, self.till, reference)

    def cancellable_until(self, ticket: Ticket, coupon: Coupon | None = None) -> datetime | None:
        """Until when the till may take the ticket back (the engine checks again), or None if it never may."""
        minutes = self.engine.get_operator(self.operator).cancel_window_minutes
        if minutes <= 0 or ticket.status not in (TicketStatus.NEW, TicketStatus.OPEN):
            return None
        closes_at = (coupon or self.engine.get_coupon(ticket.coupon_id)).closes_at
        return min(ticket.created + timedelta(minutes=minutes), closes_at)

    # ---- the till's shift ---------------------------------------------------------------------------------------

    def current_shift(self) -> Shift | None:
        return self.engine.current_shift(self.operator, self.till)

    def open_shift(self, float_amount: Decimal) -> Shift:
        return self.engine.open_shift(self.operator, self.till, float_amount)

    def close_shift(self, counted: Decimal) -> Shift:
        return self.engine.close_shift(self.operator, self.till, counted)

    def shift(self, shift_id: int) -> Shift:
        return self.engine.shift(self.operator, shift_id)

    def list_shifts(self) -> list[Shift]:
        return self.engine.list_shifts(self.operator, self.till)

    def tickets(self, ids: set[str]) -> dict[str, Ticket]:
        return {ticket_id: self.find_ticket(ticket_id) for ticket_id in ids}

    # ---- results (admin) -----------------------------------------------------------------------------------------

    def coupons_past_deadline(self) -> list[Coupon]:
        """Coupons whose deadline has passed, latest deadline first: the ones results can be entered for."""
        now = datetime.now(UTC)
        with self.engine.store.read() as conn:
            ids = self.engine.store.all_coupon_ids(conn)
        closed = [coupon for coupon in map(self.engine.get_coupon, ids) if coupon.closes_at <= now]
        return sorted(closed, key=lambda coupon: (coupon.closes_at, coupon.id), reverse=True)

    def coupon(self, coupon_id: str) -> Coupon:
        return self.engine.get_coupon(coupon_id)

    def settlement(self, coupon_id: str) -> SettlementSummary:
        return self.engine.settlement(self.operator, coupon_id)

    def preview_results(self, coupon_id: str, results: dict[int, EventResult]) -> SettlementSummary:
        return self.engine.preview_results(self.operator, coupon_id, results)

    def enter_results(self, coupon_id: str, results: dict[int, EventResult]) -> SettlementSummary:
        """Enter the results that changed, in coupon order; the last missing one settles the coupon."""
        summary = self.settlement(coupon_id)
        for event_id, result in results.items():
            if summary.results.get(event_id) != result:
                summary = self.engine.enter_result(self.operator, coupon_id, event_id, result, by=RESULTS_BY)
        return summary

    # ---- the demo round -------------------------------------------------------------------------------------------

    def publish_coupon(self, raw: dict) -> Coupon:
        return self.engine.publish_coupon(raw, self.operator)

    def set_odds(self, coupon_id: str, event_id: int, odds: dict[int, Decimal]) -> CouponEvent:
        return self.engine.update_event(coupon_id, event_id, EventUpdate(odds=odds))


def after_sale(conn: Connection) -> AfterSaleCalls:
    return AfterSaleCalls(conn.service, conn.settings.operator, conn.settings.till)
