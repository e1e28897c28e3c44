"""The HTTP API of the ticket engine (FastAPI). Serve it with `python -m ticketing.serve` (uvicorn with the limits
a network needs); `uvicorn ticketing.api:app` serves it without them.

Every `/be/...` request names its operator in the `operator-name` header (and a credential other than the
operator's Betstack key in `key-id`) and is signed: Betstack's endpoints with Betstack's scheme
(`ticketing.access.betstack_signing`), every other one over method, path and raw body
(`ticketing.access.signatures`). Each route is guarded by the permission it needs (`ticketing.access.http`). Errors
always answer `{"code": ..., "message": ...}` (README error table). `POST /be/tickets` is in
`ticketing.selling.http`.
"""

import asyncio
import functools
import logging
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from typing import Annotated, Any

from fastapi import Body, Depends, FastAPI, Path, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict
from starlette.exceptions import HTTPException as StarletteHTTPException

from ticketing.access.http import Caller, Engine, Scheme, acting
from ticketing.access.roles import Permission, Role
from ticketing.contract.errors import TicketingError, ValidationFailed
from ticketing.contract.models import (
    MAX_ID,
    MAX_PAGE_SIZE,
    REFERENCE_PATTERN,
    Coupon,
    CouponEvent,
    EventUpdate,
    OperatorProfile,
    Ticket,
    TicketCursor,
    TicketQuery,
    TicketStatus,
    TicketType,
    UtcDatetime,
)
from ticketing.contract.wire import WireJSONResponse, WireRoute, error_response, field_problem, invalid_request
from ticketing.coupons.routes import coupons_router
from ticketing.embedded import open_engine, start_simulator
from ticketing.heap import heap_frozen_while_serving
from ticketing.listing_pace import ListingPace
from ticketing.request_limits import MAX_BODY_BYTES, BodySizeLimit
from ticketing.selling.http import SALE_PATH, SaleLane, SaleRoute, sell_ticket
from ticketing.selling.shared_sale_writer import sale_writer
from ticketing.settings import Settings
from ticketing.settlement.routes import after_sale_router
from ticketing.shifts.routes import shifts_router
from ticketing.wallets.routes import wallet_router

log = logging.getLogger("ticketing.api")
NEXT_CURSOR = "X-Next-Cursor"
NEXT_CURSOR_TEXT = "Sent with a full page when more tickets follow: pass it back as `cursor` for the next (older) page"


class ErrorBody(BaseModel):
    """Every error answer: Betstack's `{code, message}`, plus details named in the README's error table."""

    model_config = ConfigDict(extra="allow")

    code: int
    message: str


class CredentialInfo(BaseModel):
    """Who a signed request acts for (never the secret)."""

    operator: str
    key_id: str | None
    role: Role


class Health(BaseModel):
    status: str
    database: str
    coupons: int


LISTING_THREADS = 2


def lowest_cpu_priority() -> None:
    """For the threads that write ticket pages: a page of 500 is ~9 ms of SQLite's C code, outside the GIL, and
    clients listing without pause would take the CPU the sales need. At the lowest priority (Linux gives each
    thread its own nice value) a page waits for the sales' processes; on a virtual machine that is not enough, and
    the pages also rest while sales run (`ListingPace`)."""
    if hasattr(os, "setpriority"):
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 19)


def ticket_cursor(token: str | None) -> TicketCursor | None:
    if token is None:
        return None
    try:
        return TicketCursor.decode(token)
    except ValueError as error:
        raise ValidationFailed(
            f"Invalid request: cursor: {error}", errors=[{"field": "cursor", "message": str(error)}]
        ) from None


def create_app(settings: Settings | None = None) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI):
        config = settings or Settings.from_env()
        # Forked first: the child must not inherit the engine's connections and threads.
        app.state.sale_process = await sale_writer(config)
        try:
            engine = open_engine(config)
        except BaseException:
            if app.state.sale_process is not None:
                await app.state.sale_process.stop()
            raise
        app.state.engine = engine
        app.state.listing = ThreadPoolExecutor(LISTING_THREADS, "ticket-listing", initializer=lowest_cpu_priority)
        app.state.listing_pace = ListingPace()
        simulator = start_simulator(engine, config)
        with heap_frozen_while_serving():
            yield
        app.state.listing.shutdown()
        if simulator is not None:
            simulator.stop()
        if app.state.sale_process is not None:
            await app.state.sale_process.stop()
        engine.close()

    app = FastAPI(
        title="Jackpot ticket engine",
        version="1.0.0",
        description="Betstack-style `POST /be/tickets` for jackpot tickets, with coupons and live odds.",
        lifespan=lifespan,
        default_response_class=WireJSONResponse,
        # A path with a trailing slash is a path that does not exist (404 in the envelope), not a 307 to a URL built
        # from the client's Host header: a client following it would send a signed body wherever that names.
        redirect_slashes=False,
    )
    app.router.route_class = WireRoute
    # Added first, so the body limit is checked before it: the sale is served before FastAPI's routing.
    app.add_middleware(SaleLane)
    app.add_middleware(BodySizeLimit, max_bytes=MAX_BODY_BYTES)

    @app.exception_handler(TicketingError)
    async def _ticketing_error(_request: Request, error: TicketingError):
        return error_response(error)

    @app.exception_handler(RequestValidationError)
    async def _invalid_request(_request: Request, error: RequestValidationError):
        return error_response(invalid_request([field_problem(e) for e in error.errors()]))

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(_request: Request, error: StarletteHTTPException):
        return WireJSONResponse(
            {"code": error.status_code, "message": str(error.detail)}, status_code=error.status_code
        )

    @app.exception_handler(Exception)
    async def _unexpected(_request: Request, error: Exception):
        log.error("unexpected error: %s", type(error).__name__, exc_info=error)
        # Starlette raises the error again once this is answered and uvicorn then drops the connection: said here,
        # a client does not send its next request on a connection that is about to end.
        response = error_response(TicketingError())
        response.headers["connection"] = "close"
        return response

    TicketReader = Annotated[Caller, Depends(acting(Permission.READ_TICKETS, Scheme.BETSTACK))]
    CouponReader = Annotated[Caller, Depends(acting(Permission.READ_COUPONS, Scheme.REQUEST))]
    OperatorReader = Annotated[Caller, Depends(acting(Permission.READ_OPERATOR, Scheme.REQUEST))]
    Publisher = Annotated[Caller, Depends(acting(Permission.PUBLISH_COUPONS, Scheme.REQUEST))]
    EventUpdater = Annotated[Caller, Depends(acting(Permission.UPDATE_EVENTS, Scheme.REQUEST))]
    AnyRole = Annotated[Caller, Depends(acting(None, Scheme.REQUEST))]
    errors = {
        status: {"model": ErrorBody, "description": text}
        for status, text in (
            (400, "Business rule: `{code, message}`, see the README's error table"),
            (403, "Access: bad token or signature, a role that may not, or a replayed request"),
            (404, "Not found"),
            (413, "Body over 64 KiB"),
            (422, "Validation: every bad field named in `errors`"),
        )
    }
    # First: its `/be/coupons/drafts` must not be read as a coupon id by `GET /be/coupons/{coupon_id}` below.
    app.include_router(coupons_router(errors))

    @app.get("/health", response_model=Health, tags=["service"])
    def health(engine: Engine):
        return WireJSONResponse(engine.health())

    app.router.add_api_route(
        SALE_PATH,
        sell_ticket,
        methods=["POST"],
        response_model=Ticket,
        responses=errors,
        tags=["tickets"],
        route_class_override=SaleRoute,
    )

    @app.get(
        "/be/tickets",
        response_model=list[Ticket],
        responses=errors
        | {200: {"headers": {NEXT_CURSOR: {"description": NEXT_CURSOR_TEXT, "schema": {"type": "string"}}}}},
        tags=["tickets"],
    )
    async def list_tickets(
        request: Request,
        caller: TicketReader,
        engine: Engine,
        limit: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = 10,
        cursor: Annotated[str | None, Query(max_length=200, description=NEXT_CURSOR_TEXT)] = None,
        user_id: Annotated[str | None, Query(max_length=64, pattern=REFERENCE_PATTERN)] = None,
        status: TicketStatus | None = None,
        coupon_id: Annotated[str | None, Query(max_length=64, pattern=REFERENCE_PATTERN)] = None,
        created_from: UtcDatetime | None = None,
        created_to: UtcDatetime | None = None,
        skip_types: Annotated[list[TicketType], Query()] = [],  # noqa: B006 - FastAPI copies defaults
    ):
        query = TicketQuery(
            user_id=user_id,
            status=status,
            coupon_id=coupon_id,
            created_from=created_from,
            created_to=created_to,
            skip_types=skip_types,
            limit=limit,
            after=ticket_cursor(cursor),
        )
        listing = request.app.state.listing
        page = functools.partial(engine.list_tickets_json, caller.actor, query)
        paced = functools.partial(request.app.state.listing_pace.page, page)
        body, after = await asyncio.get_running_loop().run_in_executor(listing, paced)
        headers = {NEXT_CURSOR: after.encode()} if after else {}
        return Response(body, media_type="application/json", headers=headers)

    @app.get("/be/tickets/{identifier}", response_model=Ticket, responses=errors, tags=["tickets"])
    def get_ticket(identifier: Annotated[str, Path(max_length=64)], caller: TicketReader, engine: Engine):
        return WireJSONResponse(engine.get_ticket(caller.actor, identifier))

    @app.get("/be/operator", response_model=OperatorProfile, responses=errors, tags=["operator"])
    def operator_profile(caller: OperatorReader, engine: Engine):
        return WireJSONResponse(engine.operator_profile(caller.actor))

    @app.get("/be/credential", response_model=CredentialInfo, responses=errors, tags=["operator"])
    async def credential(caller: AnyRole):
        """The credential this request is signed with and its role: a terminal checks an entered key with it."""
        actor = caller.actor
        return WireJSONResponse({"operator": actor.operator, "key_id": actor.key_id, "role": actor.role.value})

    @app.get("/be/coupons", response_model=list[Coupon], responses=errors, tags=["coupons"])
    def list_coupons(caller: CouponReader, engine: Engine, closed: bool = False):
        """The operator's open coupons; with `closed=true` those past their deadline, latest first."""
        if closed:
            return WireJSONResponse(engine.list_closed_coupons(caller.actor))
        return WireJSONResponse(engine.list_open_coupons(caller.actor))

    @app.get("/be/coupons/{coupon_id}", response_model=Coupon, responses=errors, tags=["coupons"])
    def get_coupon(
        coupon_id: Annotated[str, Path(max_length=64, pattern=REFERENCE_PATTERN)], caller: CouponReader, engine: Engine
    ):
        return WireJSONResponse(engine.get_coupon(caller.actor, coupon_id))

    @app.post("/be/coupons", response_model=Coupon, responses=errors, tags=["coupons"])
    def publish_coupon(
        coupon: Annotated[dict[str, Any], Body(description="A coupon in the engine's JSON format")],
        caller: Publisher,
        engine: Engine,
    ):
        """Publish a coupon after the QA check (`python -m ticketing.coupons.check`): 400/114 lists every error."""
        return WireJSONResponse(engine.publish_coupon(caller.actor, coupon))

    @app.put(
        "/be/coupons/{coupon_id}/events/{event_id}", response_model=CouponEvent, responses=errors, tags=["coupons"]
    )
    def update_event(
        coupon_id: Annotated[str, Path(max_length=64, pattern=REFERENCE_PATTERN)],
        event_id: Annotated[int, Path(ge=1, le=MAX_ID)],
        change: EventUpdate,
        caller: EventUpdater,
        engine: Engine,
    ):
        return WireJSONResponse(engine.update_event(caller.actor, coupon_id, event_id, change))

    app.include_router(after_sale_router(errors))
    app.include_router(shifts_router(errors))
    app.include_router(wallet_router(errors))

    return app


app = create_app()
