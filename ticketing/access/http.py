"""Who an HTTP request acts for: one FastAPI dependency per scheme and permission, used as route guards.

Each checks, in this order, before the route runs: the operator and credential named (`operator-name`, `key-id`),
the signature in the endpoint's scheme, the role, and for a management write that its signature is new. A request
its role may not make is refused before anything is written, its signature included.
"""

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated
from urllib.parse import quote

from fastapi import Header, Request
from starlette.concurrency import run_in_threadpool

from ticketing.access.betstack_signing import verify_signature
from ticketing.access.credentials import KEY_ID
from ticketing.access.replays import SignedRequest
from ticketing.access.roles import Actor, Permission
from ticketing.access.signatures import verify_request
from ticketing.contract.errors import InvalidSignature, OperatorNotFound

OPERATOR_NAME = re.compile(r"[A-Za-z0-9_.-]{1,64}")
READS = {"GET", "HEAD"}


class Scheme(StrEnum):
    BETSTACK = "betstack"
    """Betstack's own endpoints: `ticketing.access.betstack_signing`, unchanged for Betstack's clients."""
    REQUEST = "request"
    """Every other endpoint: `ticketing.access.signatures`, over method, path, query and the raw body."""


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
        if not operator_name:
            raise InvalidSignature("Missing operator-name header")
        if not OPERATOR_NAME.fullmatch(operator_name):
            raise OperatorNotFound(f"Operator {operator_name[:64]!r} was not found")
        engine = request.app.state.engine
        if key_id is None:
            # The operator's Betstack key: cached, so a sale does not wait on the database here.
            actor, secret = engine.signing_key(operator_name, None)
        elif KEY_ID.fullmatch(key_id):
            # Read afresh on every request, so that a revocation holds from the next request on.
            actor, secret = await run_in_threadpool(engine.signing_key, operator_name, key_id)
        else:
            raise InvalidSignature("Unknown or revoked credential")
        body = await request.body()
        if scheme is Scheme.BETSTACK:
            sent_at = verify_signature(secret, timestamp, signature, body)
        else:
            sent_at = verify_request(secret, timestamp, signature, request.method, request_target(request.scope), body)
        if permission is not None:
            actor.require(permission)
        signed = SignedRequest.sent_at(signature.strip().lower(), sent_at)
        if scheme is Scheme.REQUEST and request.method not in READS:
            await run_in_threadpool(engine.claim_request, actor, signed)
        return Caller(actor, signed)

    return caller
