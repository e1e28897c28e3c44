"""JSON on the wire: amounts and odds as exact numbers (`25.00`, never `"25.00"` or `25.000000001`).

msgspec writes `Decimal` as a JSON number digit for digit (`decimal_format="number"`), in compiled code: a ticket's
answer in a third of simplejson's time, which wrote the same bytes but for text other than ASCII (escaped by
simplejson, UTF-8 here). simplejson reads numbers back as `Decimal`, which the standard `json` module cannot do;
both the API and the client go through here.
"""

import json
from decimal import Decimal, InvalidOperation
from typing import Any

import msgspec
import simplejson
from fastapi import Request
from fastapi.routing import APIRoute
from pydantic import BaseModel
from starlette.responses import JSONResponse

from ticketing.contract.errors import TicketingError, ValidationFailed
from ticketing.contract.models import Ticket, format_utc


def to_jsonable(value: Any) -> Any:
    """Pydantic models become plain data; Decimals stay Decimals so they are written exactly."""
    if type(value) is Ticket and value.settlement is None:
        return _unsettled_ticket(value)
    if isinstance(value, BaseModel):
        return value.model_dump(mode="python", exclude_none=False)
    if isinstance(value, list):
        return [to_jsonable(item) for item in value]
    return value


def _unsettled_ticket(ticket: Ticket) -> dict[str, Any]:
    """`model_dump` of a ticket not settled yet, every sale's answer, read from its fields in a fifth of the time:
    only its times have a serializer of their own (`format_utc`), and `test` is written only when true. Checked
    against `model_dump` (`tests/test_rules.py`), so a field given a serializer cannot be missed."""
    fields = ticket.__dict__.copy()
    fields["events"] = [event.__dict__ for event in ticket.events]
    fields["created"] = format_utc(ticket.created)
    fields["updated"] = format_utc(ticket.updated)
    if not ticket.test:
        del fields["test"]
    return fields


ENCODER = msgspec.json.Encoder(decimal_format="number")


def dumps(value: Any) -> bytes:
    return ENCODER.encode(to_jsonable(value))


_DECODER = simplejson.JSONDecoder(parse_float=Decimal)
"""`simplejson.loads(data, use_decimal=True)`, made once: `loads` with arguments makes a decoder on every call."""


def loads(data: bytes | str) -> Any:
    return _DECODER.decode(data)


def field_problem(error: Any) -> dict[str, str]:
    """One problem of a pydantic or FastAPI validation error, as the 422 answer names it."""
    if error["type"] == "json_invalid":
        return {"field": "body", "message": f"not valid JSON: {error['ctx']['error']}"}
    parts = [str(part) for part in error["loc"] if part not in ("body", "query", "path", "header")]
    return {"field": ".".join(parts) or "body", "message": error["msg"]}


def invalid_request(problems: list[dict[str, str]]) -> ValidationFailed:
    summary = "; ".join(f"{p['field']}: {p['message']}" for p in problems)
    return ValidationFailed(f"Invalid request: {summary}", errors=problems)


class InvalidJSON(ValueError):
    """A request body that is not exactly one JSON document as `loads_request` reads it."""

    def __init__(self, reason: str, position: int = 0):
        super().__init__(reason)
        self.reason = reason
        self.position = position


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    # With the last one winning, `"stake": 25, ..., "stake": 5000` would sell for 5000 what a reviewer reads as 25.
    found: dict[str, Any] = {}
    for key, value in pairs:
        if key in found:
            raise InvalidJSON(f"duplicate key {key!r}")
        found[key] = value
    return found


def _no_constant(name: str) -> Any:
    raise InvalidJSON(f"{name} is not a JSON number")


_REQUEST_DECODER = simplejson.JSONDecoder(
    parse_float=Decimal, object_pairs_hook=_unique_keys, parse_constant=_no_constant
)
"""Made once, as `_DECODER`: a sale's body is read by it in the HTTP process."""


def _has_a_lone_surrogate(document: Any) -> bool:
    """Whether a string of `document` (a key or a value) holds half a UTF-16 pair, which JSON's `\\ud800` escapes can
    write and UTF-8 cannot: such a string failed later wherever it was encoded (a 500). Only looked for when the body
    has a `\\u` escape: UTF-8 bytes cannot carry one."""
    pending = [document]
    while pending:
        value = pending.pop()
        if isinstance(value, str):
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:
                return True
        elif isinstance(value, dict):
            pending.extend(value.keys())
            pending.extend(value.values())
        elif isinstance(value, list):
            pending.extend(value)
    return False


def loads_request(data: bytes) -> Any:
    """A request body, strictly: UTF-8, one document, each key once per object, numbers as `Decimal` (never NaN or
    Infinity). Anything else raises `InvalidJSON` saying why: the API answers it as a 422 like any bad field."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise InvalidJSON("not UTF-8", error.start) from None
    try:
        document = _REQUEST_DECODER.decode(text)
        if "\\u" in text and _has_a_lone_surrogate(document):
            raise InvalidJSON("a \\u escape of half a UTF-16 pair (a lone surrogate): not text")
        return document
    except InvalidJSON:
        raise
    except simplejson.JSONDecodeError as error:
        raise InvalidJSON(f"{error.msg} at character {error.pos}", error.pos) from None
    except RecursionError:
        raise InvalidJSON("nested too deeply") from None
    except (ValueError, InvalidOperation):
        # An integer over Python's 4300-digit limit, or an exponent beyond Decimal's range.
        raise InvalidJSON("a number out of range") from None


class WireJSONResponse(JSONResponse):
    """Endpoints return this directly: FastAPI's own encoder would turn Decimals into strings."""

    def render(self, content) -> bytes:
        return dumps(content)


def error_response(error: TicketingError) -> WireJSONResponse:
    return WireJSONResponse(error.body(), status_code=error.http_status)


class WireRequest(Request):
    """A request whose JSON body is read by `loads_request`: exact decimals, duplicate keys refused."""

    async def json(self) -> Any:
        if not hasattr(self, "_wire_json"):
            body = await self.body()
            try:
                self._wire_json = loads_request(body)
            except InvalidJSON as error:
                # FastAPI answers this one exception with a validation error (422); any other with a bare 400.
                text = body.decode("utf-8", errors="replace")
                raise json.JSONDecodeError(error.reason, text, min(error.position, len(text))) from None
        return self._wire_json


class WireRoute(APIRoute):
    def get_route_handler(self):
        handler = super().get_route_handler()

        async def handle(request: Request):
            return await handler(WireRequest(request.scope, request.receive))

        return handle
