"""Signatures of every request that is not Betstack's own contract (odds, event status, coupons, results, ...).

Betstack's scheme (`ticketing.access.betstack_signing`) signs the timestamp and the body with every space removed:
it binds neither the method nor the path, so a signed `PUT` for one event also works on another event, one `GET`
signature opens every `GET`, and `"partner 1"` signs like `"partner1"`. Where there is no Betstack client to stay
compatible with, requests sign all of it:

    signature = hex HMAC-SHA256(secret, "{timestamp}\\n{METHOD}\\n{path?query}\\n" + raw body bytes)

`path?query` is the request target exactly as sent (percent-encoding and all; `?query` only when there is one).
"""

import hashlib
import hmac

from ticketing.access.betstack_signing import check_timestamp, timestamp_now
from ticketing.contract.errors import InvalidSignature

KEY_ID_HEADER = "key-id"


def request_message(timestamp: str, method: str, target: bytes, body: bytes) -> bytes:
    return f"{timestamp}\n{method.upper()}\n".encode() + target + b"\n" + body


def sign_request(secret: str, timestamp: str, method: str, target: bytes, body: bytes = b"") -> str:
    return hmac.new(secret.encode(), request_message(timestamp, method, target, body), hashlib.sha256).hexdigest()


def request_headers(
    operator: str,
    key_id: str | None,
    secret: str,
    method: str,
    target: bytes,
    body: bytes = b"",
    now: float | None = None,
) -> dict[str, str]:
    timestamp = timestamp_now(now)
    headers = {"operator-name": operator, "timestamp": timestamp}
    if key_id:
        headers[KEY_ID_HEADER] = key_id
    return headers | {"signature": sign_request(secret, timestamp, method, target, body)}


def verify_request(
    secret: str,
    timestamp: str | None,
    signature: str | None,
    method: str,
    target: bytes,
    body: bytes,
    now: float | None = None,
) -> float:
    """The request's time; `InvalidSignature` unless the signature matches and the timestamp is within 5 minutes."""
    sent_at = check_timestamp(timestamp, signature, now)
    sent = signature.strip().lower()
    if not sent.isascii() or not hmac.compare_digest(sign_request(secret, timestamp, method, target, body), sent):
        raise InvalidSignature()
    return sent_at


def is_betstack_endpoint(method: str, path: str) -> bool:
    """Betstack's own endpoints keep Betstack's scheme: the sale (`POST /be/tickets`) and the ticket reads
    (`GET /be/tickets`, `GET /be/tickets/{id or code}`). Everything else, payouts and cancellations of a ticket
    included, is signed over method, path and body."""
    path = path.split("?", 1)[0].rstrip("/")
    if path == "/be/tickets":
        return method in ("POST", "GET")
    return method == "GET" and path.startswith("/be/tickets/") and "/" not in path[len("/be/tickets/") :]
