"""Betstack request signatures: hex HMAC-SHA256(secret, f"{timestamp}{body with every space removed}").

A request without a body signs `{timestamp}` alone. Only the space character is removed (the published
rule); a signer and the engine that apply the same rule agree on any JSON layout.
"""

import hashlib
import hmac
import re
import time

from ticketing.errors import InvalidSignature

MAX_CLOCK_SKEW_SECONDS = 300
TIMESTAMP = re.compile(r"[0-9]{1,12}")
"""Unix seconds in ASCII digits only: `int()` would also take `+`, `_`, spaces and other scripts' digits."""
SIGNATURE = re.compile(r"[0-9a-f]{64}")


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
    if not TIMESTAMP.fullmatch(timestamp):
        raise InvalidSignature("Invalid timestamp header: unix seconds expected")
    sent_at = int(timestamp)
    if abs((time.time() if now is None else now) - sent_at) > MAX_CLOCK_SKEW_SECONDS:
        raise InvalidSignature("Request timestamp is more than 5 minutes off")
    given = signature.strip().lower()
    # compare_digest refuses non-ASCII text with a TypeError: anything but 64 hex digits is simply wrong.
    if not SIGNATURE.fullmatch(given) or not hmac.compare_digest(sign(secret, timestamp, body), given):
        raise InvalidSignature()
