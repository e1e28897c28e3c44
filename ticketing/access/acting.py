"""The in-process engine bound to one credential: what a terminal page or the odds simulator holds.

It has the methods of `ticketing.client.TicketingClient`, which acts for the credential it signs with, so a page
works the same against either; every call goes through the engine's own role and operator checks.
"""

from decimal import Decimal

from ticketing.access.roles import Actor
from ticketing.contract.models import (
    Coupon,
    CouponEvent,
    EventResult,
    EventUpdate,
    OperatorProfile,
    PayoutSlip,
    SettlementSummary,
    Shift,
    Ticket,
    TicketQuery,
    TicketRequest,
)
from ticketing.coupons.models import Draft, DraftSummary, Sandbox, SandboxSale
from ticketing.engine import TicketEngine
from ticketing.wallets.reconcile import Reconciliation, WalletPlayer, WalletStatus


class ActingEngine:
    def __init__(self, engine: TicketEngine, actor: Actor):
        self.engine = engine
        self.actor = actor

    def whoami(self) -> Actor:
        return self.actor

    def create_ticket(self, request: TicketRequest, idempotency_key: str | None = None) -> Ticket:
        return self.engine.create_ticket(self.actor, request, idempotency_key)

    def get_ticket(self, id_or_code: str) -> Ticket:
        return self.engine.get_ticket(self.actor, id_or_code)

    def balance(self, token: str) -> Decimal:
        return self.engine.balance(self.actor, token)

    def list_tickets(self, query: TicketQuery) -> list[Ticket]:
        return self.engine.list_tickets(self.actor, query)

    def list_open_coupons(self) -> list[Coupon]:
        return self.engine.list_open_coupons(self.actor)

    def list_closed_coupons(self) -> list[Coupon]:
        return self.engine.list_closed_coupons(self.actor)

    def get_coupon(self, coupon_id: str) -> Coupon:
        return self.engine.get_coupon(self.actor, coupon_id)

    def publish_coupon(self, raw: dict) -> Coupon:
        return self.engine.publish_coupon(self.actor, raw)

    def update_event(self, coupon_id: str, event_id: int, change: EventUpdate) -> CouponEvent:
        return self.engine.update_event(self.actor, coupon_id, event_id, change)

    def save_draft(self, raw: dict) -> Draft:
        return self.engine.save_draft(self.actor, raw)

    def list_drafts(self) -> list[DraftSummary]:
        return self.engine.list_drafts(self.actor)

    def get_draft(self, coupon_id: str) -> Draft:
        return self.engine.get_draft(self.actor, coupon_id)

    def discard_draft(self, coupon_id: str) -> None:
        self.engine.discard_draft(self.actor, coupon_id)

    def publish_draft(self, coupon_id: str, version: str) -> Coupon:
        return self.engine.publish_draft(self.actor, coupon_id, version)

    def withdraw_coupon(self, coupon_id: str) -> Draft:
        return self.engine.withdraw_coupon(self.actor, coupon_id)

    def sandbox(self, coupon_id: str) -> Sandbox:
        return self.engine.sandbox(self.actor, coupon_id)

    def sell_test_ticket(self, coupon_id: str, sale: SandboxSale) -> Ticket:
        return self.engine.sell_test_ticket(self.actor, coupon_id, sale)

    def update_sandbox_event(self, coupon_id: str, event_id: int, change: EventUpdate) -> CouponEvent:
        return self.engine.update_sandbox_event(self.actor, coupon_id, event_id, change)

    def enter_sandbox_result(self, coupon_id: str, event_id: int, result: EventResult) -> SettlementSummary:
        return self.engine.enter_sandbox_result(self.actor, coupon_id, event_id, result)

    def cancel_sandbox_round(self, coupon_id: str) -> SettlementSummary:
        return self.engine.cancel_sandbox_round(self.actor, coupon_id)

    def reset_sandbox(self, coupon_id: str) -> Sandbox:
        return self.engine.reset_sandbox(self.actor, coupon_id)

    def operator_profile(self) -> OperatorProfile:
        return self.engine.operator_profile(self.actor)

    def enter_result(self, coupon_id: str, event_id: int, result: EventResult) -> SettlementSummary:
        return self.engine.enter_result(self.actor, coupon_id, event_id, result)

    def preview_results(self, coupon_id: str, results: dict[int, EventResult]) -> SettlementSummary:
        return self.engine.preview_results(self.actor, coupon_id, results)

    def cancel_coupon(self, coupon_id: str) -> SettlementSummary:
        return self.engine.cancel_coupon(self.actor, coupon_id)

    def settlement(self, coupon_id: str) -> SettlementSummary:
        return self.engine.settlement(self.actor, coupon_id)

    def pay_out(self, id_or_code: str) -> PayoutSlip:
        return self.engine.pay_out(self.actor, id_or_code)

    def cancel_ticket(self, id_or_code: str) -> Ticket:
        return self.engine.cancel_ticket(self.actor, id_or_code)

    def open_shift(self, float_amount: Decimal) -> Shift:
        return self.engine.open_shift(self.actor, float_amount)

    def close_shift(self, counted: Decimal) -> Shift:
        return self.engine.close_shift(self.actor, counted)

    def add_cash(self, amount: Decimal) -> Shift:
        return self.engine.add_cash(self.actor, amount)

    def current_shift(self, operations: bool = True) -> Shift | None:
        return self.engine.current_shift(self.actor, operations)

    def shift(self, shift_id: int) -> Shift:
        return self.engine.shift(self.actor, shift_id)

    def list_shifts(self, till: str | None = None, limit: int = 50) -> list[Shift]:
        return self.engine.list_shifts(self.actor, till, limit)

    def wallet_status(self) -> WalletStatus:
        return self.engine.wallet_status(self.actor)

    def wallet_messages(self, ticket: str | None = None, state: str | None = None, limit: int = 200):
        return self.engine.wallet_messages(self.actor, ticket, state, limit)

    def retry_wallet_messages(self, ticket: str | None = None, message_id: int | None = None) -> int:
        return self.engine.retry_wallet_messages(self.actor, ticket, message_id)

    def reconcile_wallet(self) -> Reconciliation:
        return self.engine.reconcile_wallet(self.actor)

    def wallet_player(self, token: str) -> WalletPlayer:
        return self.engine.wallet_player(self.actor, token)

    def health(self) -> dict:
        return self.engine.health()
