"""Every engine call of the screens after the sale (pay out, cancel, results, shifts, the demo round), in one place.

The pages never call the engine for these themselves: when the engine's methods change (who acts, over HTTP),
this class is the one to adapt. It acts for the terminal's till credential (pay out, cancel, shifts) and, for results
and the demo round, for the admin signed in on the page; the engine checks each role again.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from terminal_ui.connection import Connection, Service
from terminal_ui.roles import admin
from ticketing.access.roles import Actor, Role
from ticketing.contract.errors import NotAllowed
from ticketing.contract.models import (
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


@dataclass(frozen=True)
class AfterSaleCalls:
    till_service: Service
    till: str
    """The till's name: its credential's key id, or the operator's for the operator's Betstack key."""
    admin_service: Service | None = None

    @property
    def admin(self) -> Service:
        if self.admin_service is None:
            raise NotAllowed("An admin credential is needed: sign in as admin on this page")
        return self.admin_service

    # ---- tickets at the counter -------------------------------------------------------------------------------

    def find_ticket(self, reference: str) -> Ticket:
        return self.till_service.get_ticket(reference)

    def results_known(self, coupon_id: str) -> dict[int, EventResult]:
        return self.till_service.settlement(coupon_id).results

    def pay_out(self, reference: str) -> PayoutSlip:
        return self.till_service.pay_out(reference)

    def cancel_ticket(self, reference: str) -> Ticket:
        return self.till_service.cancel_ticket(reference)

    def cancellable_until(self, ticket: Ticket, coupon: Coupon | None = None) -> datetime | None:
        """Until when the till may take the ticket back (the engine checks again), or None if it never may."""
        minutes = self.till_service.operator_profile().cancel_window_minutes
        if minutes <= 0 or ticket.status not in (TicketStatus.NEW, TicketStatus.OPEN):
            return None
        closes_at = (coupon or self.till_service.get_coupon(ticket.coupon_id)).closes_at
        return min(ticket.created + timedelta(minutes=minutes), closes_at)

    # ---- the till's shift ---------------------------------------------------------------------------------------

    def current_shift(self, operations: bool = True) -> Shift | None:
        return self.till_service.current_shift(operations)

    def open_shift(self, float_amount: Decimal) -> Shift:
        return self.till_service.open_shift(float_amount)

    def close_shift(self, counted: Decimal) -> Shift:
        return self.till_service.close_shift(counted)

    def add_cash(self, amount: Decimal) -> Shift:
        return self.till_service.add_cash(amount)

    def shift(self, shift_id: int) -> Shift:
        return self.till_service.shift(shift_id)

    def list_shifts(self) -> list[Shift]:
        return self.till_service.list_shifts(self.till)

    def tickets(self, ids: set[str]) -> dict[str, Ticket]:
        return {ticket_id: self.find_ticket(ticket_id) for ticket_id in ids}

    # ---- results (admin) -----------------------------------------------------------------------------------------

    def coupons_past_deadline(self) -> list[Coupon]:
        """Coupons whose deadline has passed, latest deadline first: the ones results can be entered for."""
        return self.admin.list_closed_coupons()

    def coupon(self, coupon_id: str) -> Coupon:
        return self.till_service.get_coupon(coupon_id)

    def settlement(self, coupon_id: str) -> SettlementSummary:
        return self.admin.settlement(coupon_id)

    def preview_results(self, coupon_id: str, results: dict[int, EventResult]) -> SettlementSummary:
        return self.admin.preview_results(coupon_id, results)

    def enter_results(self, coupon_id: str, results: dict[int, EventResult]) -> SettlementSummary:
        """Enter the results that changed, in coupon order; the last missing one settles the coupon."""
        summary = self.settlement(coupon_id)
        for event_id, result in results.items():
            if summary.results.get(event_id) != result:
                summary = self.admin.enter_result(coupon_id, event_id, result)
        return summary

    # ---- the demo round (admin) -------------------------------------------------------------------------------------

    def publish_coupon(self, raw: dict) -> Coupon:
        return self.admin.publish_coupon(raw)

    def set_odds(self, coupon_id: str, event_id: int, odds: dict[int, Decimal]) -> CouponEvent:
        return self.admin.update_event(coupon_id, event_id, EventUpdate(odds=odds))


def after_sale(conn: Connection) -> AfterSaleCalls:
    """The calls of this browser session: the terminal's till, and its signed-in admin if there is one."""
    signed_in = admin(conn)
    till = Actor(operator=conn.settings.operator, role=Role.TILL, key_id=conn.settings.key_id).till
    return AfterSaleCalls(conn.service, till, None if signed_in is None else signed_in[1])
