"""An httpx client for a remote ticket engine, with the same methods and typed results/errors as an in-process
engine bound to a credential (`ticketing.access.acting.ActingEngine`).

Every request is signed with the client's credential: the operator's Betstack key (no `key_id`) or a named one,
in Betstack's scheme on Betstack's endpoints (`/be/tickets`) and over method, path and body everywhere else.
`create_ticket` with an idempotency key is retried on a timeout or a dropped connection: the engine answers a retry
with the first ticket, so a retry never sells twice.
"""

from typing import Any
from urllib.parse import quote

import httpx
from pydantic import TypeAdapter

from ticketing.access.betstack_signing import signed_headers
from ticketing.access.roles import Actor, Role
from ticketing.access.signatures import is_betstack_endpoint, request_headers
from ticketing.contract import wire
from ticketing.contract.errors import EngineUnavailable, TicketingError, error_from_body
from ticketing.contract.models import (
    MAX_PAGE_SIZE,
    Coupon,
    CouponEvent,
    EventResult,
    EventUpdate,
    OperatorProfile,
    PayoutSlip,
    SettlementSummary,
    Shift,
    Ticket,
    TicketQuery,
    TicketRequest,
)
from ticketing.coupons.models import Draft, DraftSummary, Sandbox, SandboxSale
from ticketing.wallets.outbox import OutboxMessage
from ticketing.wallets.reconcile import Reconciliation, WalletPlayer, WalletStatus

TICKETS = TypeAdapter(list[Ticket])
SHIFTS = TypeAdapter(list[Shift])
COUPONS = TypeAdapter(list[Coupon])
NEXT_CURSOR = "X-Next-Cursor"
DRAFTS = TypeAdapter(list[DraftSummary])
MESSAGES = TypeAdapter(list[OutboxMessage])


def _coupon_path(coupon_id: str) -> str:
    return f"/be/coupons/{quote(str(coupon_id), safe='')}"


class TicketingClient:
    page_size = MAX_PAGE_SIZE
    """Tickets asked for per request: `list_tickets` follows the engine's cursor for more."""

    def __init__(
        self,
        base_url: str,
        operator: str,
        secret: str,
        key_id: str | None = None,
        timeout: float = 10.0,
        retries: int = 2,
        transport: httpx.BaseTransport | None = None,
    ):
        self.base_url = base_url.rstrip("/")
        self.operator = operator
        self.key_id = key_id
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

    def create_ticket(self, request: TicketRequest, idempotency_key: str | None = None) -> Ticket:
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

    def whoami(self) -> Actor:
        """The credential's operator, key id and role, as the engine sees them (a wrong secret is 403)."""
        answer = self._send("GET", "/be/credential")
        return Actor(operator=answer["operator"], role=Role(answer["role"]), key_id=answer["key_id"])

    def get_ticket(self, id_or_code: str) -> Ticket:
        return Ticket.model_validate(self._send("GET", f"/be/tickets/{quote(id_or_code.strip(), safe='')}"))

    def list_tickets(self, query: TicketQuery) -> list[Ticket]:
        """Up to `query.limit` tickets, newest first, in as many pages as it takes."""
        params: dict[str, Any] = {}
        for field in ("user_id", "coupon_id", "status"):
            if getattr(query, field) is not None:
                params[field] = str(getattr(query, field))
        for field in ("created_from", "created_to"):
            if getattr(query, field) is not None:
                params[field] = getattr(query, field).isoformat()
        if query.skip_types:
            params["skip_types"] = [t.value for t in query.skip_types]
        tickets: list[Ticket] = []
        cursor = query.after.encode() if query.after else None
        while len(tickets) < query.limit:
            page = params | {"limit": min(self.page_size, query.limit - len(tickets))}
            payload, headers = self._exchange(
                "GET", "/be/tickets", params=page | ({"cursor": cursor} if cursor else {})
            )
            tickets += TICKETS.validate_python(payload)
            cursor = headers.get(NEXT_CURSOR)
            if cursor is None:
                break
        return tickets

    def list_open_coupons(self) -> list[Coupon]:
        return COUPONS.validate_python(self._send("GET", "/be/coupons"))

    def list_closed_coupons(self) -> list[Coupon]:
        return COUPONS.validate_python(self._send("GET", "/be/coupons", params={"closed": "true"}))

    def get_coupon(self, coupon_id: str) -> Coupon:
        return Coupon.model_validate(self._send("GET", f"/be/coupons/{coupon_id}"))

    def publish_coupon(self, raw: dict) -> Coupon:
        return Coupon.model_validate(self._send("POST", "/be/coupons", body=wire.dumps(raw)))

    def update_event(self, coupon_id: str, event_id: int, change: EventUpdate) -> CouponEvent:
        body = wire.dumps(change.model_dump(mode="python", exclude_none=True))
        return CouponEvent.model_validate(self._send("PUT", f"/be/coupons/{coupon_id}/events/{event_id}", body=body))

    def operator_profile(self) -> OperatorProfile:
        return OperatorProfile.model_validate(self._send("GET", "/be/operator"))

    # ---- drafts, publishing and the sandbox ---------------------------------------------------------------------

    def save_draft(self, raw: dict) -> Draft:
        return Draft.model_validate(self._send("POST", "/be/coupons/drafts", body=wire.dumps(raw)))

    def list_drafts(self) -> list[DraftSummary]:
        return DRAFTS.validate_python(self._send("GET", "/be/coupons/drafts"))

    def get_draft(self, coupon_id: str) -> Draft:
        return Draft.model_validate(self._send("GET", f"{_coupon_path(coupon_id)}/draft"))

    def discard_draft(self, coupon_id: str) -> None:
        self._send("DELETE", f"{_coupon_path(coupon_id)}/draft")

    def publish_draft(self, coupon_id: str, version: str) -> Coupon:
        body = wire.dumps({"version": version})
        return Coupon.model_validate(self._send("POST", f"{_coupon_path(coupon_id)}/publish", body=body))

    def withdraw_coupon(self, coupon_id: str) -> Draft:
        return Draft.model_validate(self._send("POST", f"{_coupon_path(coupon_id)}/withdraw"))

    def sandbox(self, coupon_id: str) -> Sandbox:
        return Sandbox.model_validate(self._send("GET", f"{_coupon_path(coupon_id)}/sandbox"))

    def sell_test_ticket(self, coupon_id: str, sale: SandboxSale) -> Ticket:
        body = wire.dumps(sale.model_dump(mode="python", exclude_none=True))
        return Ticket.model_validate(self._send("POST", f"{_coupon_path(coupon_id)}/sandbox/tickets", body=body))

    def update_sandbox_event(self, coupon_id: str, event_id: int, change: EventUpdate) -> CouponEvent:
        body = wire.dumps(change.model_dump(mode="python", exclude_none=True))
        path = f"{_coupon_path(coupon_id)}/sandbox/events/{int(event_id)}"
        return CouponEvent.model_validate(self._send("PUT", path, body=body))

    def enter_sandbox_result(self, coupon_id: str, event_id: int, result: EventResult) -> SettlementSummary:
        body = wire.dumps({"result": EventResult(result).value})
        path = f"{_coupon_path(coupon_id)}/sandbox/events/{int(event_id)}/result"
        return SettlementSummary.model_validate(self._send("PUT", path, body=body))

    def cancel_sandbox_round(self, coupon_id: str) -> SettlementSummary:
        return SettlementSummary.model_validate(self._send("POST", f"{_coupon_path(coupon_id)}/sandbox/cancel"))

    def reset_sandbox(self, coupon_id: str) -> Sandbox:
        return Sandbox.model_validate(self._send("POST", f"{_coupon_path(coupon_id)}/sandbox/reset"))

    # ---- after the sale ---------------------------------------------------------------------------------------

    def enter_result(self, coupon_id: str, event_id: int, result: EventResult) -> SettlementSummary:
        body = wire.dumps({"result": EventResult(result).value})
        path = f"/be/coupons/{quote(str(coupon_id), safe='')}/events/{event_id}/result"
        return SettlementSummary.model_validate(self._send("PUT", path, body=body))

    def preview_results(self, coupon_id: str, results: dict[int, EventResult]) -> SettlementSummary:
        body = wire.dumps({"results": {str(k): EventResult(v).value for k, v in results.items()}})
        path = f"/be/coupons/{quote(str(coupon_id), safe='')}/results/preview"
        return SettlementSummary.model_validate(self._send("POST", path, body=body))

    def cancel_coupon(self, coupon_id: str) -> SettlementSummary:
        path = f"/be/coupons/{quote(str(coupon_id), safe='')}/cancel"
        return SettlementSummary.model_validate(self._send("POST", path))

    def settlement(self, coupon_id: str) -> SettlementSummary:
        path = f"/be/coupons/{quote(str(coupon_id), safe='')}/settlement"
        return SettlementSummary.model_validate(self._send("GET", path))

    def pay_out(self, id_or_code: str) -> PayoutSlip:
        path = f"/be/tickets/{quote(id_or_code.strip(), safe='')}/payout"
        return PayoutSlip.model_validate(self._send("POST", path))

    def cancel_ticket(self, id_or_code: str) -> Ticket:
        path = f"/be/tickets/{quote(id_or_code.strip(), safe='')}/cancel"
        return Ticket.model_validate(self._send("POST", path))

    def open_shift(self, float_amount) -> Shift:
        return Shift.model_validate(self._send("POST", "/be/shifts", body=wire.dumps({"float": float_amount})))

    def close_shift(self, counted) -> Shift:
        body = wire.dumps({"counted": counted})
        return Shift.model_validate(self._send("POST", "/be/shifts/current/close", body=body))

    def add_cash(self, amount) -> Shift:
        return Shift.model_validate(self._send("POST", "/be/shifts/current/cash", body=wire.dumps({"amount": amount})))

    def current_shift(self, operations: bool = True) -> Shift | None:
        params = None if operations else {"operations": "false"}
        answer = self._send("GET", "/be/shifts/current", params=params)
        return None if answer is None else Shift.model_validate(answer)

    def shift(self, shift_id: int) -> Shift:
        return Shift.model_validate(self._send("GET", f"/be/shifts/{int(shift_id)}"))

    def list_shifts(self, till: str | None = None, limit: int = 50) -> list[Shift]:
        params = {"limit": limit} | ({"till": till} if till else {})
        return SHIFTS.validate_python(self._send("GET", "/be/shifts", params=params))

    # ---- the operator's wallet ----------------------------------------------------------------------------------

    def wallet_status(self) -> WalletStatus:
        return WalletStatus.model_validate(self._send("GET", "/be/wallet"))

    def wallet_messages(self, ticket: str | None = None, state: str | None = None, limit: int = 200):
        params: dict[str, Any] = {"limit": limit}
        if ticket:
            params["ticket"] = ticket.strip()
        if state:
            params["state"] = state
        return MESSAGES.validate_python(self._send("GET", "/be/wallet/outbox", params=params))

    def retry_wallet_messages(self, ticket: str | None = None, message_id: int | None = None) -> int:
        body = wire.dumps({"ticket": ticket.strip() if ticket else None, "message_id": message_id})
        return self._send("POST", "/be/wallet/outbox/retry", body=body)["retried"]

    def reconcile_wallet(self) -> Reconciliation:
        return Reconciliation.model_validate(self._send("GET", "/be/wallet/reconciliation"))

    def wallet_player(self, token: str) -> WalletPlayer:
        return WalletPlayer.model_validate(self._send("POST", "/be/wallet/player", body=wire.dumps({"token": token})))

    def health(self) -> dict[str, Any]:
        return self._send("GET", "/health")

    # ---- transport ----------------------------------------------------------------------------------------------

    def _send(self, method: str, path: str, body: bytes = b"", headers: dict | None = None, params=None) -> Any:
        return self._exchange(method, path, body, headers, params)[0]

    def _exchange(
        self, method: str, path: str, body: bytes = b"", headers: dict | None = None, params=None
    ) -> tuple[Any, httpx.Headers]:
        """The answer's JSON and headers; an error answer is raised as its typed error."""
        request = self._http.build_request(method, path, content=body or None, params=params, headers=headers)
        if is_betstack_endpoint(method, path):
            signed = signed_headers(self.operator, self._secret, body)
            if self.key_id:
                signed["key-id"] = self.key_id
        else:
            signed = request_headers(self.operator, self.key_id, self._secret, method, request.url.raw_path, body)
        request.headers.update(signed)
        if body:
            request.headers["content-type"] = "application/json"
        try:
            response = self._http.send(request)
        except httpx.TransportError as error:
            raise EngineUnavailable(
                f"Ticket engine at {self.base_url} did not answer ({type(error).__name__})"
            ) from None
        if response.status_code == 204:
            return None, response.headers
        try:
            payload = wire.loads(response.content)
        except ValueError:
            raise EngineUnavailable(f"Ticket engine answered {response.status_code} without JSON") from None
        if response.is_success:
            return payload, response.headers
        if isinstance(payload, dict) and "code" in payload:
            raise error_from_body(payload)
        raise TicketingError(f"Ticket engine answered {response.status_code}")
