"""Betstack request signatures: hex HMAC-SHA256(secret, f"{timestamp}{body with every space removed}").

A request without a body signs `{timestamp}` alone. Only the space character is removed (the published
rule); a signer and the engine that apply the same rule agree on any JSON layout. Betstack's own endpoints keep
this scheme; every other endpoint is signed with `ticketing.access.signatures`.
"""

import hashlib
import hmac
import re
import time

from ticketing.contract.errors import InvalidSignature

MAX_CLOCK_SKEW_SECONDS = 300
TIMESTAMP = re.compile(r"[0-9]{1,12}(\.[0-9]{1,6})?")
"""Unix seconds, optionally with up to 6 decimals: two different requests with the same body in the same second
then sign differently (a signature seen before is a replay, README "Access")."""
SIGNATURE = re.compile(r"[0-9a-f]{64}")


def sign(secret: str, timestamp: int | str, body: bytes = b"") -> str:
    message = str(timestamp).encode() + body.replace(b" ", b"")
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def timestamp_now(now: float | None = None) -> str:
    """The `timestamp` header: whole seconds as given, else the clock to the microsecond."""
    value = time.time() if now is None else now
    return str(int(value)) if value == int(value) else f"{value:.6f}"


def signed_headers(operator: str, secret: str | None, body: bytes = b"", now: float | None = None) -> dict[str, str]:
    headers = {"operator-name": operator}
    if secret:
        timestamp = timestamp_now(now)
        headers |= {"timestamp": timestamp, "signature": sign(secret, timestamp, body)}
    return headers


def check_timestamp(timestamp: str | None, signature: str | None, now: float | None = None) -> float:
    """The request's time, if both headers are there and it is within 5 minutes of now."""
    if not timestamp or not signature:
        raise InvalidSignature("Missing timestamp or signature header")
    if not TIMESTAMP.fullmatch(timestamp):
        raise InvalidSignature("Invalid timestamp header")
    sent_at = float(timestamp)
    if abs((time.time() if now is None else now) - sent_at) > MAX_CLOCK_SKEW_SECONDS:
        raise InvalidSignature("Request timestamp is more than 5 minutes off")
    return sent_at


def verify_signature(
    secret: str, timestamp: str | None, signature: str | None, body: bytes, now: float | None = None
) -> float:
    """The request's time; `InvalidSignature` unless the signature matches and the timestamp is within 5 minutes."""
    sent_at = check_timestamp(timestamp, signature, now)
    given = signature.strip().lower()
    # compare_digest refuses non-ASCII text with a TypeError: anything but 64 hex digits is simply wrong.
    if not SIGNATURE.fullmatch(given) or not hmac.compare_digest(sign(secret, timestamp, body), given):
        raise InvalidSignature()
    return sent_at
