"""Betstack request signatures: hex HMAC-SHA256(secret, f"{timestamp}{body with every space removed}").

A request without a body signs `{timestamp}` alone. Only the space character is removed (the published
rule); a signer and the engine that apply the same rule agree on any JSON layout.
"""

import hashlib
import hmac
import time

from ticketing.errors import InvalidSignature

MAX_CLOCK_SKEW_SECONDS = 300


def sign(secret: str, timestamp: int | str, body: bytes = b"") -> str:
    message = str(timestamp).encode() + body.replace(b" ", b"")
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def signed_headers(operator: str, secret: str | None, body: bytes = b"", now: float | None = None) -> dict[str, str]:
    headers = {"operator-name": operator}
    if secret:
        timestamp = str(int(time.time() if now is None else now))
        headers |= {"timestamp": timestamp, "signature": sign(secret, timestamp, body)}
    return headers


def verify_signature(
    secret: str, timestamp: str | None, signature: str | None, body: bytes, now: float | None = None
) -> None:
    """Raise `InvalidSignature` unless the signature matches and the timestamp is within 5 minutes of now."""
    if not timestamp or not signature:
        raise InvalidSignature("Missing timestamp or signature header")
    try:
        sent_at = int(timestamp)
    except ValueError:
        raise InvalidSignature("Invalid timestamp header") from None
    if abs((time.time() if now is None else now) - sent_at) > MAX_CLOCK_SKEW_SECONDS:
        raise InvalidSignature("Request timestamp is more than 5 minutes off")
    if not hmac.compare_digest(sign(secret, timestamp, body), signature.strip().lower()):
        raise InvalidSignature()
