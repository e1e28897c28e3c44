"""The HTTP endpoints of a ticket's life after the sale, as one router that `ticketing.api` includes.

None of them is Betstack's, so every one is signed over method, path and body (`ticketing.access.signatures`), and
each is guarded by the permission it needs: results and a coupon's cancellation are an admin's, payouts,
and cancellations a till's.
"""

from typing import Annotated

from fastapi import APIRouter, Path
from pydantic import BaseModel, ConfigDict

from ticketing.access.http import Engine, guard
from ticketing.access.roles import Permission
from ticketing.contract.models import (
    MAX_ID,
    REFERENCE_PATTERN,
    EventResult,
    KeysWrittenPlainly,
    PayoutSlip,
    ResultEntry,
    SettlementSummary,
    Ticket,
)
from ticketing.contract.wire import WireJSONResponse, WireRoute

CouponId = Annotated[str, Path(max_length=64, pattern=REFERENCE_PATTERN)]
TicketRef = Annotated[str, Path(max_length=64)]


class ResultsPreview(BaseModel):
    """Body of `POST /be/coupons/{id}/results/preview`: results not entered yet, by event id."""

    model_config = ConfigDict(extra="forbid")

    results: Annotated[dict[Annotated[int, Path(ge=1, le=MAX_ID)], EventResult], KeysWrittenPlainly]


ResultEnterer = guard(Permission.ENTER_RESULTS)
CouponCloser = guard(Permission.PUBLISH_COUPONS)
CouponReader = guard(Permission.READ_COUPONS)
Cashier = guard(Permission.PAY_OUT)
Canceller = guard(Permission.CANCEL_TICKETS)


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

    return router
