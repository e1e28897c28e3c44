"""Who an HTTP request acts for: one FastAPI dependency per scheme and permission, used as route guards.

Each checks, in this order, before the route runs: the operator and credential named (`operator-name`, `key-id`),
the signature in the endpoint's scheme, the role, and for a management write that its signature is new. A request
its role may not make is refused before anything is written, its signature included.
"""

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import Depends, Header, Request
from starlette.concurrency import run_in_threadpool

from ticketing.access.betstack_signing import verify_signature
from ticketing.access.credentials import KEY_ID
from ticketing.access.replays import SignedRequest
from ticketing.access.roles import Actor, Permission
from ticketing.access.signatures import verify_request
from ticketing.contract.errors import InvalidSignature, OperatorNotFound
from ticketing.engine import TicketEngine

OPERATOR_NAME = re.compile(r"[A-Za-z0-9_.-]{1,64}")
READS = {"GET", "HEAD"}


class Scheme(StrEnum):
    BETSTACK = "betstack"
    """Betstack's own endpoints: `ticketing.access.betstack_signing`, unchanged for Betstack's clients."""
    REQUEST = "request"
    """Every other endpoint: `ticketing.access.signatures`, over method, path, query and the raw body."""


async def engine_of(request: Request) -> TicketEngine:
    # async: a plain `def` dependency would cost every request a hop through the thread pool.
    return request.app.state.engine


Engine = Annotated[TicketEngine, Depends(engine_of)]
"""A route's engine, the app's."""


@dataclass(frozen=True)
class Caller:
    actor: Actor
    signed: SignedRequest


def request_target(scope) -> bytes:
    """`path?query` as the client sent it, percent-encoding and all."""
    path = scope.get("raw_path") or quote(scope["path"]).encode()
    query = scope.get("query_string", b"")
    return path + b"?" + query if query else path


def acting(permission: Permission | None, scheme: Scheme) -> Callable[..., Awaitable[Caller]]:
    """A dependency: the signed caller, whose role may do `permission` (None: any role)."""

    async def caller(
        request: Request,
        operator_name: Annotated[str | None, Header(alias="operator-name")] = None,
        key_id: Annotated[str | None, Header(alias="key-id")] = None,
        timestamp: Annotated[str | None, Header()] = None,
        signature: Annotated[str | None, Header()] = None,
    ) -> Caller:
        body = await request.body()
        return await signed_caller(
            request.app.state.engine,
            permission,
            scheme,
            Signed(operator_name, key_id, timestamp, signature, request.method, request_target(request.scope), body),
        )

    return caller


def guard(permission: Permission) -> Any:
    """A route's caller parameter: signed over method, path and body (`Scheme.REQUEST`), by a role that may
    `permission`."""
    return Annotated[Caller, Depends(acting(permission, Scheme.REQUEST))]


@dataclass(frozen=True)
class Signed:
    """What a request says about who sends it, as it came."""

    operator_name: str | None
    key_id: str | None
    timestamp: str | None
    signature: str | None
    method: str
    target: bytes
    body: bytes

    @classmethod
    def of(cls, request: Request, body: bytes) -> "Signed":
        headers = request.headers
        return cls(
            headers.get("operator-name"),
            headers.get("key-id"),
            headers.get("timestamp"),
            headers.get("signature"),
            request.method,
            request_target(request.scope),
            body,
        )


async def signed_caller(engine: TicketEngine, permission: Permission | None, scheme: Scheme, sent: Signed) -> Caller:
    """The caller a request's signature proves, whose role may do `permission`, or the refusal (403)."""
    operator_name, key_id, signature = sent.operator_name, sent.key_id, sent.signature
    if not operator_name:
        raise InvalidSignature("Missing operator-name header")
    if not OPERATOR_NAME.fullmatch(operator_name):
        raise OperatorNotFound(f"Operator {operator_name[:64]!r} was not found")
    if key_id is None:
        # The operator's Betstack key: cached, so a sale does not wait on the database here.
        actor, secret = engine.signing_key(operator_name, None)
    elif KEY_ID.fullmatch(key_id):
        # Read afresh on every request, so that a revocation holds from the next request on.
        actor, secret = await run_in_threadpool(engine.signing_key, operator_name, key_id)
    else:
        raise InvalidSignature("Unknown or revoked credential")
    if scheme is Scheme.BETSTACK:
        sent_at = verify_signature(secret, sent.timestamp, signature, sent.body)
    else:
        sent_at = verify_request(secret, sent.timestamp, signature, sent.method, sent.target, sent.body)
    if permission is not None:
        actor.require(permission)
    signed = SignedRequest.sent_at(signature.strip().lower(), sent_at)
    if scheme is Scheme.REQUEST and sent.method not in READS:
        await run_in_threadpool(engine.claim_request, actor, signed)
    return Caller(actor, signed)
