"""Helpers shared by the tests: the spec's sample request, a fixed clock, the sample coupons moved to a test's clock,
a signing raw-HTTP client."""

import json
import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import httpx
from sqlalchemy import select

from ticketing.access.betstack_signing import signed_headers
from ticketing.access.credentials import seed_credential
from ticketing.access.roles import Actor, Role
from ticketing.access.signatures import is_betstack_endpoint, request_headers
from ticketing.contract import wire
from ticketing.contract.identifiers import token_fingerprint
from ticketing.contract.models import TicketQuery, TicketRequest
from ticketing.contract.money import from_cents
from ticketing.embedded import open_engine
from ticketing.settings import DEMO_FEED_KEY_ID, DEMO_FEED_SECRET, DEMO_SITE_SECRET, Settings
from ticketing.storage import Account, Operator, Store, accounts, database_url

APP = str(Path(__file__).resolve().parent.parent / "streamlit_app.py")
"""The terminal's entry script, for AppTest."""

SAMPLES = Path(__file__).resolve().parent.parent / "samples"
ISO_DATETIME = re.compile(rb"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}")
SAMPLE_DEADLINE = re.compile(rb"closes_at\W+(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})")

SAMPLE_REQUEST_TEXT = """{
    "operator": "site",
    "stake": 25,
    "currency": "KES",
    "source": "SMS",
    "atag": "afiliate-1",
    "type": "jackpot",
    "token": "sGhx12skwrXsukbZmWh7bkCC9YPEzYQKtKSe9EfCth3Q", 
    "coupon_id": 455,
    "bets": [101, 102, 102, 101, 101, 101, 102]
}"""
"""The spec's sample request, byte for byte (including the stray space after the token)."""

SITE_TILL = Actor("site", Role.TILL)
SITE_FEED = Actor("site", Role.FEED, "site-feed")
SITE_ADMIN = Actor("site", Role.ADMIN, "site-admin")


def without_the_demo_shift(engine) -> None:
    """A new demo database opens the demo till's shift (`site`, so that a demo sells at once): a test that opens that
    till's shift itself, or counts shifts, closes it first."""
    shift = engine.current_shift(SITE_TILL)
    if shift is not None:
        engine.close_shift(SITE_TILL, shift.expected)


def till_of(key_id: str) -> Actor:
    """A till of `site`: its Betstack key for `site` (the embedded terminal's till), else the till credential `key_id`.
    Cash, payouts and cancellations are recorded against its name."""
    return SITE_TILL if key_id == "site" else Actor("site", Role.TILL, key_id)


"""The demo operator's credentials, as the engine's methods take them in-process."""

SAMPLE_RESPONSE_FIELDS = {
    "id",
    "code",
    "stake",
    "currency",
    "tax",
    "payout",
    "status",
    "result",
    "approved",
    "source",
    "type",
    "atag",
    "user_id",
    "created",
    "updated",
}


def sample_body(**changes) -> dict:
    return json.loads(SAMPLE_REQUEST_TEXT) | changes


def sample_request(**changes) -> TicketRequest:
    return TicketRequest.model_validate(sample_body(**changes))


class FixedClock:
    def __init__(self, now: datetime):
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def sample_file(name: str, now: datetime, closes_in: timedelta = timedelta(days=2)) -> bytes:
    """`samples/{name}` (JSON or CSV) with every date in it moved by the same amount, so that its deadline is
    `closes_in` after `now` and every other date keeps its place around the deadline (a kickoff in the past stays in
    the past). The files' own dates are for a person trying them; a test must not depend on the day it runs."""
    content = (SAMPLES / name).read_bytes()
    deadline = datetime.fromisoformat(SAMPLE_DEADLINE.search(content)[1].decode())
    shift = now.astimezone(UTC).replace(tzinfo=None, microsecond=0) + closes_in - deadline

    def moved(found: re.Match) -> bytes:
        return (datetime.fromisoformat(found[0].decode()) + shift).isoformat().encode()

    return ISO_DATETIME.sub(moved, content)


def sample_coupon(name: str, now: datetime) -> dict:
    """A JSON sample as `publish_coupon` takes it, dated relative to `now` (see `sample_file`)."""
    return wire.loads(sample_file(name, now))


class Api:
    """Raw HTTP to the engine, signing each request for a credential: Betstack's endpoints the way a Betstack client
    does, the others over method, path and body. By default the operator's Betstack key, a till."""

    def __init__(
        self, base_url: str, operator: str = "site", secret: str = DEMO_SITE_SECRET, key_id: str | None = None
    ):
        self.base_url = base_url
        self.operator = operator
        self.secret = secret
        self.key_id = key_id
        self.http = httpx.Client(base_url=base_url, timeout=30)

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> "Api":
        return self

    def __exit__(self, *_exc) -> None:
        self.close()

    def as_credential(self, key_id: str, secret: str) -> "Api":
        """The same operator and HTTP connection, signing with another of its credentials."""
        other = Api(self.base_url, self.operator, secret, key_id)
        other.http.close()
        other.http = self.http
        return other

    def signed(self, method: str, target: str, body: bytes = b"") -> dict[str, str]:
        if is_betstack_endpoint(method, target):
            headers = signed_headers(self.operator, self.secret, body)
            return headers | ({"key-id": self.key_id} if self.key_id else {})
        return request_headers(self.operator, self.key_id, self.secret, method, target.encode(), body)

    def request(self, method: str, path: str, body: bytes | str = b"", headers: dict | None = None, **kwargs):
        body = body.encode() if isinstance(body, str) else body
        built = self.http.build_request(method, path, content=body or None, **kwargs)
        signed = self.signed(method, built.url.raw_path.decode(), body) | {"content-type": "application/json"}
        built.headers.update(signed | (headers or {}))
        return self.http.send(built)

    def post_ticket(self, body: dict | str, **kwargs) -> httpx.Response:
        return self.request("POST", "/be/tickets", body if isinstance(body, str) else json.dumps(body), **kwargs)

    def coupon(self, coupon_id: str = "455") -> dict:
        response = self.request("GET", f"/be/coupons/{coupon_id}")
        assert response.status_code == 200, response.text
        return response.json()

    def set_event(self, coupon_id: str, event_id: int, **change) -> dict:
        """As the demo operator's feed: a till may not move odds."""
        feed = self.as_credential(DEMO_FEED_KEY_ID, DEMO_FEED_SECRET)
        response = feed.request("PUT", f"/be/coupons/{coupon_id}/events/{event_id}", json.dumps(change))
        assert response.status_code == 200, response.text
        return response.json()

    def ticket(self, reference: str) -> httpx.Response:
        return self.request("GET", f"/be/tickets/{reference}")


RIVAL_FEED = ("rival-feed", "RIVAL-FEED-SECRET")
RIVAL_ADMIN = ("rival-admin", "RIVAL-ADMIN-SECRET")
RIVAL_TILL = Actor("rival", Role.TILL)
RIVAL_FEED_ACTOR = Actor("rival", Role.FEED, RIVAL_FEED[0])
RIVAL_ADMIN_ACTOR = Actor("rival", Role.ADMIN, RIVAL_ADMIN[0])


def add_rival(store: Store, balance: str = "100000.00") -> None:
    """A second operator `rival` (Betstack key `RIVAL-SECRET`, feed and admin credentials `RIVAL_FEED`, `RIVAL_ADMIN`)
    with the token `rival-token`, and an operator `keyless` that has no Betstack key at all."""
    now = datetime.now(UTC)
    with store.write() as conn:
        store.save_operator(conn, Operator(name="rival", currency="KES", secret="RIVAL-SECRET"))
        store.save_operator(conn, Operator(name="keyless", currency="KES"))
        token = token_fingerprint("rival-token")
        store.add_account(
            conn, Account(token_sha256=token, operator="rival", user_id="990001", balance=Decimal(balance))
        )
        for (key_id, secret), role in ((RIVAL_FEED, Role.FEED), (RIVAL_ADMIN, Role.ADMIN)):
            seed_credential(conn, key_id, "rival", role, secret, now)


def seed_shop(db_path, players: int = 0, balance: str = "100000.00", rival: bool = False) -> list[str]:
    """Before a server starts on `db_path`: the demo data, `players` funded accounts of `site` (their tokens are
    returned) and, with `rival`, the operators of `add_rival`."""
    engine = open_engine(Settings(database=str(db_path), simulator=False))
    store = engine.store
    tokens = [f"terminal-{n}-token-{'x' * 20}" for n in range(players)]
    with store.write() as conn:
        for n, token in enumerate(tokens):
            store.add_account(
                conn,
                Account(
                    token_sha256=token_fingerprint(token),
                    operator="site",
                    user_id=f"77000000{n:04d}",
                    balance=Decimal(balance),
                ),
            )
    if rival:
        add_rival(store, balance)
    engine.close()
    return tokens


def stored_tickets(db_path) -> tuple[list, dict[str, Decimal]]:
    """Every stored ticket (all operators) and every account's balance, read straight from the database."""

    store = Store(database_url(str(db_path)))
    try:
        with store.read() as conn:
            tickets = store.query_tickets(conn, TicketQuery(limit=10000))
            balances = {row.user_id: from_cents(row.balance_cents) for row in conn.execute(select(accounts))}
        return tickets, balances
    finally:
        store.dispose()
