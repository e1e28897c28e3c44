"""The HTTP endpoints of a till's shift, as one router that `ticketing.api` includes: open it with the float, its
running cash position, close it with the cash counted, and the shifts' list. Signed over method, path and body
(`ticketing.access.signatures`); running a shift is the calling till's own, reading them a till's or an admin's."""

from typing import Annotated

from fastapi import APIRouter, Path, Query

from ticketing.access.http import Engine, guard
from ticketing.access.roles import Permission
from ticketing.contract.models import REFERENCE_PATTERN, CashAddition, Shift, ShiftClosing, ShiftOpening
from ticketing.contract.wire import WireJSONResponse, WireRoute

MAX_SHIFT_ID = 2**31 - 1
"""Shift ids are the database's INTEGER: a larger one cannot exist (and PostgreSQL would refuse to compare it)."""

ShiftRunner = guard(Permission.RUN_SHIFT)
ShiftReader = guard(Permission.READ_SHIFTS)


def shifts_router(errors: dict) -> APIRouter:
    router = APIRouter(prefix="/be", responses=errors, route_class=WireRoute)

    @router.post("/shifts", response_model=Shift, tags=["shifts"])
    def open_shift(opening: ShiftOpening, caller: ShiftRunner, engine: Engine):
        return WireJSONResponse(engine.open_shift(caller.actor, opening.float))

    @router.get("/shifts/current", response_model=Shift | None, tags=["shifts"])
    def current_shift(caller: ShiftRunner, engine: Engine, operations: bool = True):
        """The calling till's open shift with its running cash position, or null; `operations=false`: without the
        list of its cash operations (empty), the figures all there."""
        return WireJSONResponse(engine.current_shift(caller.actor, operations))

    @router.post("/shifts/current/close", response_model=Shift, tags=["shifts"])
    def close_shift(closing: ShiftClosing, caller: ShiftRunner, engine: Engine):
        """Close the calling till's shift with the cash counted: expected, counted and the difference."""
        return WireJSONResponse(engine.close_shift(caller.actor, closing.counted))

    @router.post("/shifts/current/cash", response_model=Shift, tags=["shifts"])
    def add_cash(addition: CashAddition, caller: ShiftRunner, engine: Engine):
        """Cash put into the calling till's drawer from the safe, counted in its open shift: a payout or cash refund
        larger than the drawer holds is refused (400/138) until it is."""
        return WireJSONResponse(engine.add_cash(caller.actor, addition.amount))

    @router.get("/shifts", response_model=list[Shift], tags=["shifts"])
    def list_shifts(
        caller: ShiftReader,
        engine: Engine,
        till: Annotated[str | None, Query(max_length=64, pattern=REFERENCE_PATTERN)] = None,
        limit: Annotated[int, Query(ge=1, le=500)] = 50,
    ):
        return WireJSONResponse(engine.list_shifts(caller.actor, till, limit))

    @router.get("/shifts/{shift_id}", response_model=Shift, tags=["shifts"])
    def shift(shift_id: Annotated[int, Path(ge=1, le=MAX_SHIFT_ID)], caller: ShiftReader, engine: Engine):
        return WireJSONResponse(engine.shift(caller.actor, shift_id))

    return router
