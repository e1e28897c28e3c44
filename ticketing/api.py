"""The HTTP API of the ticket engine (FastAPI). Start it with `uvicorn ticketing.api:app`.

Every `/be/...` request names its operator in the `operator-name` header (and a credential other than the
operator's Betstack key in `key-id`) and is signed: Betstack's endpoints with Betstack's scheme
(`ticketing.signing`), every other one over method, path and raw body (`ticketing.access.signatures`). Each route
is guarded by the permission it needs (`ticketing.access.http`). Errors always answer `{"code": ..., "message":
...}` (README error table).
"""

import asyncio
import logging
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Annotated, Any

from fastapi import Body, Depends, FastAPI, Header, Path, Query, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ConfigDict
from starlette.exceptions import HTTPException as StarletteHTTPException

from ticketing.access.http import Caller, Scheme, acting
from ticketing.access.roles import Permission, Role
from ticketing.embedded import open_engine, start_simulator
from ticketing.engine import TicketEngine
from ticketing.errors import InvalidSignature, TicketingError, ValidationFailed
from ticketing.models import (
    MAX_ID,
    Coupon,
    CouponEvent,
    EventUpdate,
    OperatorProfile,
    Ticket,
    TicketQuery,
    TicketRequest,
    TicketStatus,
    TicketType,
)
from ticketing.request_limits import MAX_BODY_BYTES, BodySizeLimit
from ticketing.settings import Settings
from ticketing.settlement.routes import after_sale_router
from ticketing.wallets.routes import wallet_router
from ticketing.wire import WireJSONResponse

log = logging.getLogger("ticketing.api")
REFERENCE = r"^[A-Za-z0-9_.-]+$"


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


def error_response(error: TicketingError) -> WireJSONResponse:
    return WireJSONResponse(error.body(), status_code=error.http_status)


def validation_error(errors) -> ValidationFailed:
    problems = [
        {
            "field": ".".join(str(part) for part in e["loc"] if part not in ("body", "query", "path", "header"))
            or "body",
            "message": e["msg"],
        }
        for e in errors
    ]
    summary = "; ".join(f"{p['field']}: {p['message']}" for p in problems)
    return ValidationFailed(f"Invalid request: {summary}", errors=problems)


def create_app(settings: Settings | None = None) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI):
        config = settings or Settings.from_env()
        engine = open_engine(config)
        app.state.engine = engine
        simulator = start_simulator(engine, config)
        yield
        if simulator is not None:
            simulator.stop()
        engine.close()

    app = FastAPI(
        title="Jackpot ticket engine",
        version="1.0.0",
        description="Betstack-style `POST /be/tickets` for jackpot tickets, with coupons and live odds.",
        lifespan=lifespan,
        default_response_class=WireJSONResponse,
    )
    app.add_middleware(BodySizeLimit, max_bytes=MAX_BODY_BYTES)

    @app.exception_handler(TicketingError)
    async def _ticketing_error(_request: Request, error: TicketingError):
        return error_response(error)

    @app.exception_handler(RequestValidationError)
    async def _invalid_request(_request: Request, error: RequestValidationError):
        return error_response(validation_error(error.errors()))

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(_request: Request, error: StarletteHTTPException):
        return WireJSONResponse(
            {"code": error.status_code, "message": str(error.detail)}, status_code=error.status_code
        )

    @app.exception_handler(Exception)
    async def _unexpected(_request: Request, error: Exception):
        log.error("unexpected error: %s", type(error).__name__, exc_info=error)
        return error_response(TicketingError())

    async def engine_of(request: Request) -> TicketEngine:
        # async: a plain `def` dependency would cost every request a hop through the thread pool.
        return request.app.state.engine

    Engine = Annotated[TicketEngine, Depends(engine_of)]
    Seller = Annotated[Caller, Depends(acting(Permission.SELL, Scheme.BETSTACK))]
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

    @app.get("/health", response_model=Health, tags=["service"])
    def health(engine: Engine):
        return WireJSONResponse(engine.health())

    @app.post("/be/tickets", response_model=Ticket, responses=errors, tags=["tickets"])
    async def create_ticket(
        body: TicketRequest,
        caller: Seller,
        engine: Engine,
        idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key", max_length=200)] = None,
    ):
        if body.operator != caller.actor.operator:
            raise InvalidSignature("The request's operator does not match the operator-name header")
        # The sale waits for its group commit on the engine's writer thread, not on a thread of the pool.
        sale = engine.submit_ticket(caller.actor, body, idempotency_key=idempotency_key, signed=caller.signed)
        return WireJSONResponse(await asyncio.wrap_future(sale))

    @app.get("/be/tickets", response_model=list[Ticket], responses=errors, tags=["tickets"])
    def list_tickets(
        caller: TicketReader,
        engine: Engine,
        limit: Annotated[int, Query(ge=1, le=10000)] = 10,
        user_id: Annotated[str | None, Query(max_length=64, pattern=REFERENCE)] = None,
        status: TicketStatus | None = None,
        coupon_id: Annotated[str | None, Query(max_length=64, pattern=REFERENCE)] = None,
        created_from: datetime | None = None,
        created_to: datetime | None = None,
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
        )
        return WireJSONResponse(engine.list_tickets(caller.actor, query))

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
        coupon_id: Annotated[str, Path(max_length=64, pattern=REFERENCE)], caller: CouponReader, engine: Engine
    ):
        return WireJSONResponse(engine.get_coupon(caller.actor, coupon_id))

    @app.post("/be/coupons", response_model=Coupon, responses=errors, tags=["coupons"])
    def publish_coupon(
        coupon: Annotated[dict[str, Any], Body(description="A coupon in the engine's JSON format")],
        caller: Publisher,
        engine: Engine,
    ):
        """Publish a coupon after the QA check (`python -m ticketing.coupon_check`): 400/114 lists every error."""
        return WireJSONResponse(engine.publish_coupon(caller.actor, coupon))

    @app.put(
        "/be/coupons/{coupon_id}/events/{event_id}", response_model=CouponEvent, responses=errors, tags=["coupons"]
    )
    def update_event(
        coupon_id: Annotated[str, Path(max_length=64, pattern=REFERENCE)],
        event_id: Annotated[int, Path(ge=1, le=MAX_ID)],
        change: EventUpdate,
        caller: EventUpdater,
        engine: Engine,
    ):
        return WireJSONResponse(engine.update_event(caller.actor, coupon_id, event_id, change))

    app.include_router(after_sale_router(errors))
    app.include_router(wallet_router(errors))

    return app


app = create_app()
