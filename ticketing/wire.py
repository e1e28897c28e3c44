"""JSON on the wire: amounts and odds as exact numbers (`25.00`, never `"25.00"` or `25.000000001`).

simplejson writes `Decimal` as a JSON number digit for digit, and reads numbers back as `Decimal`, which the
standard `json` module cannot do; both the API and the client go through here.
"""

from typing import Any

import simplejson
from pydantic import BaseModel
from starlette.responses import JSONResponse


def to_jsonable(value: Any) -> Any:
    """Pydantic models become plain data; Decimals stay Decimals so they are written exactly."""
    if isinstance(value, BaseModel):
        return value.model_dump(mode="python", exclude_none=False)
    if isinstance(value, list):
        return [to_jsonable(item) for item in value]
    return value


def dumps(value: Any) -> bytes:
    return simplejson.dumps(to_jsonable(value), use_decimal=True, separators=(",", ":")).encode()


def loads(data: bytes | str) -> Any:
    return simplejson.loads(data, use_decimal=True)


class WireJSONResponse(JSONResponse):
    """Endpoints return this directly: FastAPI's own encoder would turn Decimals into strings."""

    def render(self, content) -> bytes:
        return dumps(content)
