"""The HTTP endpoints of drafts, publishing and the sandbox, as one router that `ticketing.api` includes before its
own coupon routes (so that `GET /be/coupons/drafts` is the drafts, not a coupon called "drafts").

All are an admin's (publishing coupons) and signed over method, path and body (`ticketing.access.signatures`).
`POST /be/coupons` stays the one-step check-and-publish of pipelines.
"""

from typing import Annotated, Any

from fastapi import APIRouter, Body, Path, Response

from ticketing.access.http import Engine, guard
from ticketing.access.roles import Permission
from ticketing.contract.models import (
    MAX_ID,
    REFERENCE_PATTERN,
    Coupon,
    CouponEvent,
    EventUpdate,
    ResultEntry,
    SettlementSummary,
    Ticket,
)
from ticketing.contract.wire import WireJSONResponse, WireRoute
from ticketing.coupons.models import Draft, DraftSummary, Publication, Sandbox, SandboxSale

CouponId = Annotated[str, Path(max_length=64, pattern=REFERENCE_PATTERN)]
EventId = Annotated[int, Path(ge=1, le=MAX_ID)]


Publisher = guard(Permission.PUBLISH_COUPONS)


def coupons_router(errors: dict) -> APIRouter:
    router = APIRouter(prefix="/be/coupons", responses=errors, route_class=WireRoute)

    @router.post("/drafts", response_model=Draft, tags=["drafts"])
    def save_draft(
        coupon: Annotated[dict[str, Any], Body(description="A coupon in the engine's JSON format")],
        caller: Publisher,
        engine: Engine,
    ):
        """Make or update the coupon's draft, after the QA check (400/114 lists every error). Nothing goes on sale;
        a changed draft starts a fresh sandbox."""
        return WireJSONResponse(engine.save_draft(caller.actor, coupon))

    @router.get("/drafts", response_model=list[DraftSummary], tags=["drafts"])
    def list_drafts(caller: Publisher, engine: Engine):
        return WireJSONResponse(engine.list_drafts(caller.actor))

    @router.get("/{coupon_id}/draft", response_model=Draft, tags=["drafts"])
    def get_draft(coupon_id: CouponId, caller: Publisher, engine: Engine):
        """The draft checked again now, and what publishing it changes on the coupon on sale, event by event."""
        return WireJSONResponse(engine.get_draft(caller.actor, coupon_id))

    @router.delete("/{coupon_id}/draft", status_code=204, tags=["drafts"])
    def discard_draft(coupon_id: CouponId, caller: Publisher, engine: Engine):
        engine.discard_draft(caller.actor, coupon_id)
        return Response(status_code=204)

    @router.post("/{coupon_id}/publish", response_model=Coupon, tags=["drafts"])
    def publish_draft(coupon_id: CouponId, publication: Publication, caller: Publisher, engine: Engine):
        """Put the reviewed `version` of the draft on sale: 400/150 if it changed since, 400/115 if the coupon it
        replaces has tickets, 400/151 if it has results."""
        return WireJSONResponse(engine.publish_draft(caller.actor, coupon_id, publication.version))

    @router.post("/{coupon_id}/withdraw", response_model=Draft, tags=["drafts"])
    def withdraw_coupon(coupon_id: CouponId, caller: Publisher, engine: Engine):
        """Take a coupon off sale, back to a draft, while it has no ticket (400/115) and no result (400/151)."""
        return WireJSONResponse(engine.withdraw_coupon(caller.actor, coupon_id))

    @router.get("/{coupon_id}/sandbox", response_model=Sandbox, tags=["sandbox"])
    def sandbox(coupon_id: CouponId, caller: Publisher, engine: Engine):
        """The draft's sandbox: its odds, test tickets with what the coupon's rules promise them, the test round."""
        return WireJSONResponse(engine.sandbox(caller.actor, coupon_id))

    @router.post("/{coupon_id}/sandbox/tickets", response_model=Ticket, tags=["sandbox"])
    def sell_test_ticket(coupon_id: CouponId, sale: SandboxSale, caller: Publisher, engine: Engine):
        """A test ticket by the engine's sale rules; it moves no money and is in no real list."""
        return WireJSONResponse(engine.sell_test_ticket(caller.actor, coupon_id, sale))

    @router.put("/{coupon_id}/sandbox/events/{event_id}", response_model=CouponEvent, tags=["sandbox"])
    def update_sandbox_event(
        coupon_id: CouponId, event_id: EventId, change: EventUpdate, caller: Publisher, engine: Engine
    ):
        return WireJSONResponse(engine.update_sandbox_event(caller.actor, coupon_id, event_id, change))

    @router.put("/{coupon_id}/sandbox/events/{event_id}/result", response_model=SettlementSummary, tags=["sandbox"])
    def enter_sandbox_result(
        coupon_id: CouponId, event_id: EventId, entry: ResultEntry, caller: Publisher, engine: Engine
    ):
        """A test result, before the deadline too; the last one settles the test tickets."""
        return WireJSONResponse(engine.enter_sandbox_result(caller.actor, coupon_id, event_id, entry.result))

    @router.post("/{coupon_id}/sandbox/cancel", response_model=SettlementSummary, tags=["sandbox"])
    def cancel_sandbox_round(coupon_id: CouponId, caller: Publisher, engine: Engine):
        return WireJSONResponse(engine.cancel_sandbox_round(caller.actor, coupon_id))

    @router.post("/{coupon_id}/sandbox/reset", response_model=Sandbox, tags=["sandbox"])
    def reset_sandbox(coupon_id: CouponId, caller: Publisher, engine: Engine):
        """Test tickets, results and moved odds gone: the draft as uploaded."""
        return WireJSONResponse(engine.reset_sandbox(caller.actor, coupon_id))

    return router
