"""An httpx client for a remote ticket engine, with the same methods and typed results/errors as `TicketEngine`.

Every request is signed for the client's operator. `create_ticket` with an idempotency key is retried on a
timeout or a dropped connection: the engine answers a retry with the first ticket, so a retry never sells twice.
"""

from typing import Any
from urllib.parse import quote

import httpx
from pydantic import TypeAdapter

from ticketing import wire
from ticketing.errors import EngineUnavailable, TicketingError, error_from_body
from ticketing.models import Coupon, CouponEvent, EventUpdate, OperatorProfile, Ticket, TicketQuery, TicketRequest
from ticketing.signing import signed_headers

TICKETS = TypeAdapter(list[Ticket])
COUPONS = TypeAdapter(list[Coupon])


class TicketingClient:
    def __init__(
        self,
        base_url: str,
        operator: str,
        secret: str | None,
        timeout: float = 10.0,
        retries: int = 2,
        transport: httpx.BaseTransport | None = None,
    ):
        self.base_url = base_url.rstrip("/")
        self.operator = operator
        self._secret = secret
        self.retries = retries
        self._http = httpx.Client(base_url=self.base_url, timeout=timeout, transport=transport)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> "TicketingClient":
        return self

    def __exit__(self, *_exc) -> None:
        self.close()

    # ---- the engine's methods -------------------------------------------------------------------------------

    def create_ticket(
        self, request: TicketRequest, idempotency_key: str | None = None, till: str | None = None
    ) -> Ticket:
        """`till` is accepted for parity with the engine: over HTTP the sale's cash is not yet put in a shift."""
        body = wire.dumps(request.model_dump(mode="python", exclude_none=True))
        extra = {"Idempotency-Key": idempotency_key} if idempotency_key else {}
        attempts = 1 + (self.retries if idempotency_key else 0)
        for attempt in range(attempts):
            try:
                return Ticket.model_validate(self._send("POST", "/be/tickets", body=body, headers=extra))
            except EngineUnavailable:
                if attempt == attempts - 1:
                    raise
        raise AssertionError("unreachable")

    def get_ticket(self, id_or_code: str, operator: str | None = None) -> Ticket:
        """`operator` is accepted for parity with the engine: a remote engine only shows this client's operator."""
        return Ticket.model_validate(self._send("GET", f"/be/tickets/{quote(id_or_code.strip(), safe='')}"))

    def list_tickets(self, query: TicketQuery) -> list[Ticket]:
        params: dict[str, Any] = {"limit": query.limit}
        for field in ("user_id", "coupon_id", "status"):
            if getattr(query, field) is not None:
                params[field] = str(getattr(query, field))
        for field in ("created_from", "created_to"):
            if getattr(query, field) is not None:
                params[field] = getattr(query, field).isoformat()
        if query.skip_types:
            params["skip_types"] = [t.value for t in query.skip_types]
        return TICKETS.validate_python(self._send("GET", "/be/tickets", params=params))

    def list_open_coupons(self) -> list[Coupon]:
        return COUPONS.validate_python(self._send("GET", "/be/coupons"))

    def get_coupon(self, coupon_id: str) -> Coupon:
        return Coupon.model_validate(self._send("GET", f"/be/coupons/{coupon_id}"))

    def publish_coupon(self, raw: dict, operator: str | None = None) -> Coupon:
        """`operator` is accepted for parity with the engine: a remote engine publishes for this client's operator."""
        return Coupon.model_validate(self._send("POST", "/be/coupons", body=wire.dumps(raw)))

    def update_event(self, coupon_id: str, event_id: int, change: EventUpdate) -> CouponEvent:
        body = wire.dumps(change.model_dump(mode="python", exclude_none=True))
        return CouponEvent.model_validate(self._send("PUT", f"/be/coupons/{coupon_id}/events/{event_id}", body=body))

    def operator_profile(self, name: str) -> OperatorProfile:
        """`name` is accepted for parity with the engine: a remote engine answers for this client's operator."""
        return OperatorProfile.model_validate(self._send("GET", "/be/operator"))

    def health(self) -> dict[str, Any]:
        return self._send("GET", "/health")

    # ---- transport ----------------------------------------------------------------------------------------------

    def _send(self, method: str, path: str, body: bytes = b"", headers: dict | None = None, params=None) -> Any:
        signed = signed_headers(self.operator, self._secret, body) | (headers or {})
        if body:
            signed["content-type"] = "application/json"
        try:
            response = self._http.request(method, path, content=body or None, headers=signed, params=params)
        except httpx.TransportError as error:
            raise EngineUnavailable(
                f"Ticket engine at {self.base_url} did not answer ({type(error).__name__})"
            ) from None
        try:
            payload = wire.loads(response.content)
        except ValueError:
            raise EngineUnavailable(f"Ticket engine answered {response.status_code} without JSON") from None
        if response.is_success:
            return payload
        if isinstance(payload, dict) and "code" in payload:
            raise error_from_body(payload)
        raise TicketingError(f"Ticket engine answered {response.status_code}")
