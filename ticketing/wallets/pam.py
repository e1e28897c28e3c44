"""Betstack's PAM Platform API, the engine's side: the operator's wallet is called, not the other way round.

One POST to the operator's endpoint per action, body `{"action": NAME, "data": {...}}`, headers `timestamp` (unix
seconds) and `signature` = hex HMAC-SHA256(secret, f"{timestamp}{body with every space removed}"), as Betstack
signs. A wallet that checks the signature rebuilds nothing: it signs the bytes it received. Those bytes are the
ones Betstack would send: `action` first, `data` with every documented field of the action in the documented order,
an absent optional field (`atag`, `rtag`, `psp`) as `null`, amounts in integer cents and rates in percent (12.5),
as the published generation sends them (`tests/wallets/test_pam_messages.py` checks the published vector).

What the docs leave open, decided here (README "Wallets"): a 2xx is done; a 4xx is the wallet's refusal (408 and
429 excepted: those say "later"); a 5xx, a timeout, a dropped connection or a non-JSON answer is no answer at all.
Each message also carries a `message-id` header, `{ticket_id}-{action}-{n}` (n: the ticket's earlier messages of that
action, so 1 for a win after a rollback), the same in every retry, outside the signed body as Betstack's headers are:
a wallet can tell a late duplicate from a new message by it.
"""

import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import httpx

from ticketing.access.betstack_signing import sign
from ticketing.contract import wire
from ticketing.contract.errors import InvalidToken, NoPamWallet, WalletRefused, WalletUnavailable
from ticketing.contract.identifiers import token_fingerprint
from ticketing.contract.models import Ticket
from ticketing.contract.money import to_cents
from ticketing.selling.pricing import TaxProfile
from ticketing.settings import WalletSettings
from ticketing.storage import Operator

CREATE_FIELDS = (
    "operator",
    "ticket_id",
    "ticket_code",
    "player_id",
    "price",
    "stake",
    "wht_amount",
    "wht",
    "ext_amount",
    "ext",
    "ext_type",
    "gross_payout",
    "net_payout",
    "currency",
    "atag",
    "rtag",
    "ticket_type",
)
AMOUNT_FIELDS = CREATE_FIELDS[4:14]
"""price ... currency: what `ticket_void` recomputes."""
PAM_FIELDS: dict[str, tuple[str, ...]] = {
    "identify": ("operator", "token"),
    "ticket_create": CREATE_FIELDS,
    "ticket_reserve": (*CREATE_FIELDS, "psp"),
    "ticket_update": (*CREATE_FIELDS, "psp"),
    "ticket_discard": ("operator", "ticket_id", "reason"),
    "ticket_win": ("operator", "ticket_id"),
    "ticket_lost": ("operator", "ticket_id"),
    "ticket_void": ("operator", "ticket_id", *AMOUNT_FIELDS),
    "ticket_refund": ("operator", "ticket_id", "reason"),
    "ticket_rollback": ("operator", "ticket_id", "reason"),
    "ticket_closed": ("operator", "ticket_id"),
}
"""Every action's `data` fields in the documented order (`shared/spec/betstack-notes.md`)."""
TRANSIENT_REFUSALS = {408, 425, 429}


def pam_body(action: str, data: Mapping[str, Any]) -> bytes:
    """The request body as Betstack writes it: compact, `action` first, every field of the action in order."""
    fields = PAM_FIELDS[action]
    unknown = set(data) - set(fields)
    if unknown:
        raise ValueError(f"{action} has no field {sorted(unknown)}")
    return wire.dumps({"action": action, "data": {name: data.get(name) for name in fields}})


def pam_signature(secret: str, timestamp: int | str, body: bytes) -> str:
    return sign(secret, timestamp, body)


def percent(rate: Decimal) -> int | Decimal:
    """A rate as the PAM sends it: 0.125 -> 12.5, 0.20 -> 20."""
    value = rate * 100
    return int(value) if value == value.to_integral_value() else value.normalize()


@dataclass(frozen=True)
class PamTicket:
    """What the PAM messages say of a ticket, amounts in cents: `price` is what the player pays (our `stake`),
    `stake` the net stake after excise (Betstack's names)."""

    ticket_id: str
    code: str
    player_id: str
    price: int
    stake: int
    wht_amount: int
    ext_amount: int
    gross_payout: int
    net_payout: int
    currency: str
    atag: str | None
    ticket_type: str

    @classmethod
    def of(cls, ticket: Ticket) -> "PamTicket":
        """A sold ticket, its player being the wallet's (`user_id`, from `identify`)."""
        return cls(
            ticket_id=ticket.id,
            code=ticket.code,
            player_id=ticket.user_id,
            price=to_cents(ticket.stake),
            stake=to_cents(ticket.net_stake),
            wht_amount=to_cents(ticket.tax),
            ext_amount=to_cents(ticket.excise),
            gross_payout=to_cents(ticket.payout),
            net_payout=to_cents(ticket.net_payout),
            currency=ticket.currency,
            atag=ticket.atag,
            ticket_type=ticket.type.value,
        )

    def data(self, operator: str, taxes: TaxProfile, **changes: Any) -> dict[str, Any]:
        """Every field any action can take, for `pam_body` to pick from; `changes` overrides (recomputed amounts,
        a reason)."""
        return {
            "operator": operator,
            "ticket_id": self.ticket_id,
            "ticket_code": self.code,
            "player_id": self.player_id,
            "price": self.price,
            "stake": self.stake,
            "wht_amount": self.wht_amount,
            "wht": percent(taxes.withholding_rate),
            "ext_amount": self.ext_amount,
            "ext": percent(taxes.excise_rate),
            "ext_type": "inclusive",
            "gross_payout": self.gross_payout,
            "net_payout": self.net_payout,
            "currency": self.currency,
            "atag": self.atag,
            "rtag": None,
            "ticket_type": self.ticket_type,
            "psp": None,
        } | changes


def message_data(action: str, data: Mapping[str, Any]) -> dict[str, Any]:
    """`data` narrowed to the action's own fields (what `pam_body` sends)."""
    return {name: data.get(name) for name in PAM_FIELDS[action]}


@dataclass(frozen=True)
class WalletPlayer:
    """A token resolved by `identify`."""

    player_id: str
    balance_cents: int
    currency: str
    lang: str | None = None


class PamClient:
    """One operator's PAM endpoint. Thread-safe: the sale's callers and the outbox sender share it."""

    def __init__(
        self,
        operator: str,
        url: str,
        secret: str,
        timeout: float = 5.0,
        transport: httpx.BaseTransport | None = None,
        now: Callable[[], float] = time.time,
    ):
        self.operator = operator
        self.url = url
        self.timeout = timeout
        self._secret = secret
        self._now = now
        self._http = httpx.Client(
            timeout=timeout,
            transport=transport,
            limits=httpx.Limits(max_connections=64, max_keepalive_connections=32),
        )

    def close(self) -> None:
        self._http.close()

    def send(self, action: str, data: Mapping[str, Any], message_id: str | None = None) -> dict[str, Any]:
        """POST one action; its answer's JSON (empty when it had none). `WalletRefused` for a refusal,
        `WalletUnavailable` for no usable answer."""
        body = pam_body(action, message_data(action, data))
        timestamp = str(int(self._now()))
        headers = {
            "timestamp": timestamp,
            "signature": pam_signature(self._secret, timestamp, body),
            "content-type": "application/json",
        }
        if message_id is not None:
            headers["message-id"] = message_id
        return self._answer(lambda: self._http.post(self.url, content=body, headers=headers), action)

    def identify(self, token: str) -> WalletPlayer:
        """The player a token opens; `InvalidToken` when the wallet does not know it (its 400/101)."""
        try:
            answer = self.send("identify", {"operator": self.operator, "token": token})
        except WalletRefused as refused:
            raise InvalidToken() from refused
        found = answer.get("data", answer)
        try:
            return WalletPlayer(
                player_id=str(found["player_id"]),
                balance_cents=int(found["balance"]),
                currency=str(found["currency"]),
                lang=found.get("lang"),
            )
        except (KeyError, TypeError, ValueError):
            raise WalletUnavailable(
                "The operator's wallet answered identify without a player", reason="answer"
            ) from None

    def ledger(self) -> dict[str, Any]:
        """The wallet's ledger, for reconciliation: `GET {url}/ledger`, signed like a request without a body."""
        timestamp = str(int(self._now()))
        headers = {"timestamp": timestamp, "signature": pam_signature(self._secret, timestamp, b"")}
        return self._answer(lambda: self._http.get(self.url.rstrip("/") + "/ledger", headers=headers), "ledger")

    def _answer(self, call: Callable[[], httpx.Response], action: str) -> dict[str, Any]:
        try:
            response = call()
        except httpx.TimeoutException:
            raise WalletUnavailable(
                f"The operator's wallet did not answer {action} within {self.timeout:g} s", reason="timeout"
            ) from None
        except httpx.TransportError as error:
            raise WalletUnavailable(
                f"The operator's wallet could not be reached for {action} ({type(error).__name__})",
                reason="connection",
            ) from None
        try:
            payload = wire.loads(response.content) if response.content.strip() else {}
        except ValueError:
            payload = None
        if response.is_success:
            if isinstance(payload, dict):
                return payload
            raise WalletUnavailable(f"The operator's wallet answered {action} without a JSON object", reason="answer")
        if 400 <= response.status_code < 500 and response.status_code not in TRANSIENT_REFUSALS:
            known = payload if isinstance(payload, dict) else {}
            message = str(known.get("message") or f"answered {response.status_code}")[:200]
            raise WalletRefused(
                f"The operator's wallet refused {action}: {message}",
                wallet_status=response.status_code,
                wallet_code=known.get("code"),
                wallet_message=message,
            )
        raise WalletUnavailable(f"The operator's wallet answered {action} with {response.status_code}", reason="answer")


class PamClients:
    """The client of each operator's wallet, as configured now (a changed URL or secret gets a new client), and the
    players `identify` resolved lately."""

    def __init__(self, settings: WalletSettings, transport: httpx.BaseTransport | None = None):
        self.settings = settings
        self._transport = transport
        self._clients: dict[tuple[str, str, str], PamClient] = {}
        self._players: dict[tuple[str, str], tuple[WalletPlayer, float]] = {}
        self._lock = threading.Lock()

    def client(self, operator: Operator) -> PamClient:
        if operator.wallet != "pam" or not operator.wallet_url or not operator.wallet_secret:
            raise NoPamWallet(f"Operator {operator.name} has no PAM wallet configured")
        key = (operator.name, operator.wallet_url, operator.wallet_secret)
        with self._lock:
            client = self._clients.get(key)
            if client is None:
                client = self._clients[key] = PamClient(
                    operator.name, operator.wallet_url, operator.wallet_secret, self.settings.timeout, self._transport
                )
            return client

    def remembered(self, operator: Operator, token: str) -> WalletPlayer | None:
        """The player `identify` said a token is, if it said so lately."""
        remembered, until = self._players.get((operator.name, token_fingerprint(token)), (None, 0.0))
        return remembered if time.monotonic() < until else None

    def identify(self, operator: Operator, token: str, fresh: bool = False) -> WalletPlayer:
        """Who a token is, from the wallet; a recent answer serves again unless `fresh` (a balance to show)."""
        remembered = None if fresh else self.remembered(operator, token)
        if remembered is not None:
            return remembered
        key = (operator.name, token_fingerprint(token))
        player = self.client(operator).identify(token)
        if len(self._players) >= 100_000:
            self._players.clear()
        self._players[key] = (player, time.monotonic() + self.settings.identify_cache_seconds)
        return player

    def close(self) -> None:
        with self._lock:
            for client in self._clients.values():
                client.close()
            self._clients.clear()
