"""The HTTP endpoints of a ticket's life after the sale, as one router that `ticketing.api` includes.

None of them is Betstack's, so every one is signed over method, path and body (`ticketing.access.signatures`), and
each is guarded by the permission it needs: results and a coupon's cancellation are an admin's, payouts,
cancellations and shifts a till's (a shift is the calling till's own).
"""

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query
from pydantic import BaseModel, ConfigDict

from ticketing.access.http import Caller, Engine, Scheme, acting
from ticketing.access.roles import Permission
from ticketing.contract.models import (
    MAX_ID,
    EventResult,
    PayoutSlip,
    ResultEntry,
    SettlementSummary,
    Shift,
    ShiftClosing,
    ShiftOpening,
    Ticket,
)
from ticketing.contract.wire import WireJSONResponse, WireRoute

REFERENCE = r"^[A-Za-z0-9_.-]+$"
MAX_SHIFT_ID = 2**31 - 1
"""Shift ids are the database's INTEGER: a larger one cannot exist (and PostgreSQL would refuse to compare it)."""
CouponId = Annotated[str, Path(max_length=64, pattern=REFERENCE)]
TicketRef = Annotated[str, Path(max_length=64)]


class ResultsPreview(BaseModel):
    """Body of `POST /be/coupons/{id}/results/preview`: results not entered yet, by event id."""

    model_config = ConfigDict(extra="forbid")

    results: dict[Annotated[int, Path(ge=1, le=MAX_ID)], EventResult]


def guard(permission: Permission):
    return Annotated[Caller, Depends(acting(permission, Scheme.REQUEST))]


ResultEnterer = guard(Permission.ENTER_RESULTS)
CouponCloser = guard(Permission.PUBLISH_COUPONS)
CouponReader = guard(Permission.READ_COUPONS)
Cashier = guard(Permission.PAY_OUT)
Canceller = guard(Permission.CANCEL_TICKETS)
ShiftRunner = guard(Permission.RUN_SHIFT)
ShiftReader = guard(Permission.READ_SHIFTS)


def after_sale_router(errors: dict) -> APIRouter:
    router = APIRouter(prefix="/be", responses=errors, route_class=WireRoute)

    @router.put(
        "/coupons/{coupon_id}/events/{event_id}/result", response_model=SettlementSummary, tags=["after the sale"]
    )
    def enter_result(
        coupon_id: CouponId,
        event_id: Annotated[int, Path(ge=1, le=MAX_ID)],
        entry: ResultEntry,
        caller: ResultEnterer,
        engine: Engine,
    ):
        """Enter or correct an event's result (after the coupon's deadline); the last one settles the coupon."""
        return WireJSONResponse(engine.enter_result(caller.actor, coupon_id, event_id, entry.result))

    @router.post("/coupons/{coupon_id}/results/preview", response_model=SettlementSummary, tags=["after the sale"])
    def preview_results(coupon_id: CouponId, preview: ResultsPreview, caller: ResultEnterer, engine: Engine):
        """The settlement these results would make (winners, bonus tiers, refunds, totals); nothing is entered."""
        return WireJSONResponse(engine.preview_results(caller.actor, coupon_id, preview.results))

    @router.post("/coupons/{coupon_id}/cancel", response_model=SettlementSummary, tags=["after the sale"])
    def cancel_coupon(coupon_id: CouponId, caller: CouponCloser, engine: Engine):
        """Call the round off: every ticket void, stakes refunded (credited, or paid back at the counter)."""
        return WireJSONResponse(engine.cancel_coupon(caller.actor, coupon_id))

    @router.get("/coupons/{coupon_id}/settlement", response_model=SettlementSummary, tags=["after the sale"])
    def settlement(coupon_id: CouponId, caller: CouponReader, engine: Engine):
        return WireJSONResponse(engine.settlement(caller.actor, coupon_id))

    @router.post("/tickets/{identifier}/payout", response_model=PayoutSlip, tags=["after the sale"])
    def pay_out(identifier: TicketRef, caller: Cashier, engine: Engine):
        """Pay a won or void shop ticket in cash, once, in the calling till's open shift."""
        return WireJSONResponse(engine.pay_out(caller.actor, identifier))

    @router.post("/tickets/{identifier}/cancel", response_model=Ticket, tags=["after the sale"])
    def cancel_ticket(identifier: TicketRef, caller: Canceller, engine: Engine):
        """The till that sold a ticket takes it back within the operator's cancel window."""
        return WireJSONResponse(engine.cancel_ticket(caller.actor, identifier))

    @router.post("/shifts", response_model=Shift, tags=["shifts"])
    def open_shift(opening: ShiftOpening, caller: ShiftRunner, engine: Engine):
        return WireJSONResponse(engine.open_shift(caller.actor, opening.float))

    @router.get("/shifts/current", response_model=Shift | None, tags=["shifts"])
    def current_shift(caller: ShiftRunner, engine: Engine):
        """The calling till's open shift with its running cash position, or null."""
        return WireJSONResponse(engine.current_shift(caller.actor))

    @router.post("/shifts/current/close", response_model=Shift, tags=["shifts"])
    def close_shift(closing: ShiftClosing, caller: ShiftRunner, engine: Engine):
        """Close the calling till's shift with the cash counted: expected, counted and the difference."""
        return WireJSONResponse(engine.close_shift(caller.actor, closing.counted))

    @router.get("/shifts", response_model=list[Shift], tags=["shifts"])
    def list_shifts(
        caller: ShiftReader,
        engine: Engine,
        till: Annotated[str | None, Query(max_length=64, pattern=REFERENCE)] = None,
        limit: Annotated[int, Query(ge=1, le=500)] = 50,
    ):
        return WireJSONResponse(engine.list_shifts(caller.actor, till, limit))

    @router.get("/shifts/{shift_id}", response_model=Shift, tags=["shifts"])
    def shift(shift_id: Annotated[int, Path(ge=1, le=MAX_SHIFT_ID)], caller: ShiftReader, engine: Engine):
        return WireJSONResponse(engine.shift(caller.actor, shift_id))

    return router
