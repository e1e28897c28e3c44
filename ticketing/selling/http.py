"""`POST /be/tickets`: the sale over HTTP, served before FastAPI's routing and read without its dependency solving.

FastAPI documents the route from `sell_ticket`'s signature like any other. At run time `serve_sale` reads those same
arguments itself, in the order and with the answers FastAPI gave them (403 for who is asking first, then one 422
naming every bad header and field), and calls `sell_ticket` with them; `SaleLane`, a middleware inside the body size
limit, hands it every sale before FastAPI's exception middleware, exit stack, router and route wrapper see it. The
sale is the one request a till makes by the thousand: profiled under load, FastAPI's generic solving of a signed
caller, its headers and body took a quarter of the event loop's time, and the layers between the middleware and the
route another fifth (README "Performance"). Any other exception still reaches the app's 500 handler, outside.

Once read and checked, the sale is written by the app's sale writer process when it has one (`sale_process.py`),
and by the engine's writer thread otherwise: a wallet operator's sale, or every sale once that process has died.
"""

import re
from typing import Annotated, Any

from fastapi import Depends, Header, Request
from fastapi.routing import APIRoute
from pydantic import ValidationError
from starlette.datastructures import Headers
from starlette.requests import ClientDisconnect
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from ticketing.access.http import Caller, Engine, Scheme, Signed, acting, signed_caller
from ticketing.access.roles import Permission
from ticketing.contract.errors import InvalidSignature, TicketingError
from ticketing.contract.models import TicketRequest
from ticketing.contract.wire import (
    InvalidJSON,
    WireJSONResponse,
    error_response,
    field_problem,
    invalid_request,
    loads_request,
)
from ticketing.selling.sale_process import DELEGATED, SaleProcess

SALE_PATH = "/be/tickets"
IDEMPOTENCY_KEY = r"^[\x20-\x7e]+$"
"""Printable ASCII: a key is the client's own label for a draft, and it is stored and logged."""
IDEMPOTENCY_KEY_LENGTH = 200
_IDEMPOTENCY_KEY = re.compile(IDEMPOTENCY_KEY)


Seller = Annotated[Caller, Depends(acting(Permission.SELL, Scheme.BETSTACK))]
IdempotencyKey = Annotated[
    str | None, Header(alias="Idempotency-Key", max_length=IDEMPOTENCY_KEY_LENGTH, pattern=IDEMPOTENCY_KEY)
]


async def sell_ticket(body: TicketRequest, caller: Seller, engine: Engine, idempotency_key: IdempotencyKey = None):
    check_operator(body, caller)
    # The sale waits for its group commit on the engine's writer thread, not on a thread of the pool.
    ticket = await engine.sell(caller.actor, body, idempotency_key=idempotency_key, signed=caller.signed)
    return WireJSONResponse(ticket)


def check_operator(sale: TicketRequest, caller: Caller) -> None:
    if sale.operator != caller.actor.operator:
        raise InvalidSignature("The request's operator does not match the operator-name header")


async def serve_sale(request: Request) -> Response:
    body = await request.body()
    engine = request.app.state.engine
    caller = await signed_caller(engine, Permission.SELL, Scheme.BETSTACK, Signed.of(request, body))
    sale, idempotency_key = read_sale(request.headers, body)
    request.app.state.listing_pace.sale_came_in()  # a seller's sale: no other post slows the lists
    writer: SaleProcess | None = request.app.state.sale_process
    if writer is not None and writer.alive:
        check_operator(sale, caller)
        answer = await writer.sell(caller, idempotency_key, sale)
        if answer.status != DELEGATED:
            return answer.response()
    return await sell_ticket(sale, caller, engine, idempotency_key)


class SaleRoute(APIRoute):
    """The documented route of `sell_ticket`, served by `serve_sale` (reached only without `SaleLane`)."""

    def get_route_handler(self):
        return serve_sale


class SaleLane:
    """Middleware: `POST /be/tickets` is served here; every other request goes on to FastAPI's routing."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != SALE_PATH or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        try:
            response = await serve_sale(Request(scope, receive))
        except TicketingError as error:
            response = error_response(error)
        except ClientDisconnect:
            return  # gone before its body was read whole, or answered already (a body over the limit: 413)
        await response(scope, receive, send)


def read_sale(headers: Headers, body: bytes) -> tuple[TicketRequest, str | None]:
    """The sale and its idempotency key, or one `ValidationFailed` naming every problem of both, as FastAPI reads a
    JSON body: read as JSON when its content type says JSON or says nothing, else taken as it is (and refused)."""
    problems: list[dict[str, str]] = []
    idempotency_key = headers.get("idempotency-key")
    if idempotency_key is not None:
        if len(idempotency_key) > IDEMPOTENCY_KEY_LENGTH:
            problems.append(
                {
                    "field": "Idempotency-Key",
                    "message": f"String should have at most {IDEMPOTENCY_KEY_LENGTH} characters",
                }
            )
        if not _IDEMPOTENCY_KEY.fullmatch(idempotency_key):
            problems.append({"field": "Idempotency-Key", "message": f"String should match pattern '{IDEMPOTENCY_KEY}'"})
    sale = None
    try:
        data = _body_data(headers.get("content-type"), body)
    except InvalidJSON as error:
        problems.append({"field": "body", "message": f"not valid JSON: {error.reason}"})
    else:
        if data is None:
            problems.append({"field": "body", "message": "Field required"})
        else:
            try:
                sale = TicketRequest.model_validate(data)
            except ValidationError as error:
                problems.extend(field_problem(e) for e in error.errors())
    if problems or sale is None:
        raise invalid_request(problems)
    return sale, idempotency_key


def _body_data(content_type: str | None, body: bytes) -> Any:
    if not body:
        return None
    if content_type is None:
        return loads_request(body)
    media = content_type.partition(";")[0].strip().lower()
    kind, _, subtype = media.partition("/")
    if kind == "application" and (subtype == "json" or subtype.endswith("+json")):
        return loads_request(body)
    return body
