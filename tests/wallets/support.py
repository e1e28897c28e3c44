"""The reference wallet as the tests run it: a real process on 127.0.0.1, started with the README's one command."""

import secrets
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from sqlalchemy import select

from tests.servers import free_port, running
from tests.support import SITE_TILL, sample_request
from ticketing.access.betstack_signing import sign
from ticketing.contract import wire
from ticketing.contract.identifiers import new_ticket_id, token_fingerprint
from ticketing.contract.models import BETS_BY_LABEL, TicketQuery
from ticketing.demo.data import seed_demo_data
from ticketing.engine import Sale, TicketEngine
from ticketing.selling.tickets import request_fingerprint
from ticketing.settings import DEMO_SITE_SECRET, WalletSettings
from ticketing.storage import AccountHolder, Store, database_url, tickets
from ticketing.wallets.outbox import list_messages
from ticketing.wallets.pam import PamClients

WALLET_SECRET = "REFERENCE-WALLET-TEST-SECRET"
PAM_TOKEN = "pam-player-token-0001"
PAM_PLAYER = "pam-1001"
PAM_BALANCE = "5000.00"


class WalletServer:
    """A running reference wallet: its PAM URL, and signed reads of its ledger and of what it received."""

    def __init__(self, url: str, operator: str, secret: str, process):
        self.base_url = url
        self.operator = operator
        self.url = f"{url}/pam"
        self.secret = secret
        self.process = process
        self.http = httpx.Client(base_url=url, timeout=30)

    def _signed(self, body: bytes = b"") -> dict[str, str]:
        timestamp = str(int(time.time()))
        return {"timestamp": timestamp, "signature": sign(self.secret, timestamp, body)}

    def _get(self, path: str, **params) -> dict:
        headers = self._signed()
        response = self.http.get(path, params=params, headers=headers)
        assert response.status_code == 200, response.text
        return wire.loads(response.content)

    def ledger(self) -> dict:
        return self._get("/pam/ledger")

    def received(self, ticket_id: str | None = None) -> list[dict]:
        return self._get("/pam/received", **({"ticket_id": ticket_id} if ticket_id else {}))["received"]

    def balance(self, token: str = PAM_TOKEN) -> int:
        """The player's balance in cents, as `identify` answers it."""
        body = wire.dumps({"action": "identify", "data": {"operator": self.operator, "token": token}})
        response = self.http.post("/pam", content=body, headers=self._signed(body))
        assert response.status_code == 200, response.text
        return wire.loads(response.content)["balance"]

    def add_player(self, token: str, player_id: str, balance_cents: int, currency: str = "KES") -> None:
        body = wire.dumps({"token": token, "player_id": player_id, "balance": balance_cents, "currency": currency})
        response = self.http.post("/pam/players", content=body, headers=self._signed(body))
        assert response.status_code == 200, response.text

    def fault(self, kind: str, action: str = "*", times: int = 1, seconds: float = 0.0) -> None:
        response = self.http.post("/faults", json={"kind": kind, "action": action, "times": times, "seconds": seconds})
        assert response.status_code == 200, response.text

    def clear_faults(self) -> None:
        assert self.http.delete("/faults").status_code == 200


@contextmanager
def reference_wallet(
    folder: Path,
    operator: str = "site",
    secret: str = WALLET_SECRET,
    players: tuple[str, ...] = (f"{PAM_TOKEN}={PAM_PLAYER}:{PAM_BALANCE}",),
    extra: tuple[str, ...] = ("--faults",),
    port: int | None = None,
) -> Iterator[WalletServer]:
    """`python -m ticketing.wallets.reference_wallet --port N ...`, as the README starts it; `port` to start one again
    where a stopped one was."""
    port = port or free_port()
    command = [
        sys.executable,
        "-m",
        "ticketing.wallets.reference_wallet",
        "--port",
        str(port),
        "--operator",
        operator,
        "--secret",
        secret,
        "--db",
        str(folder / "wallet.sqlite3"),
        *[arg for player in players for arg in ("--player", player)],
        *extra,
    ]
    url = f"http://127.0.0.1:{port}"
    with running(command, f"{url}/health", {}, folder / f"wallet-{port}.log") as process:
        server = WalletServer(url, operator, secret, process)
        try:
            yield server
        finally:
            server.http.close()


class MovableClock:
    """The engine's clock in a test: where the test puts it (settlement after the deadline, a retry's backoff over,
    the correction window past)."""

    def __init__(self, now: datetime):
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def move(self, **delta) -> None:
        self.now += timedelta(**delta)


class Recording(httpx.BaseTransport):
    """Every request the engine sends its wallets, headers and body as sent, passed on to the real wallet."""

    def __init__(self):
        self.inner = httpx.HTTPTransport()
        self.sent: list[httpx.Request] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        request.read()
        self.sent.append(request)
        return self.inner.handle_request(request)

    def close(self) -> None:
        self.inner.close()

    def bodies(self, action: str) -> list[httpx.Request]:
        return [r for r in self.sent if wire.loads(r.content)["action"] == action]


def new_player(wallet: WalletServer, balance_cents: int = 500_000) -> tuple[str, str]:
    """A player of its own for a test (the wallet is shared by a module's tests): its token and player id."""
    token, player_id = f"pam-token-{secrets.token_hex(8)}", f"pam-{secrets.token_hex(4)}"
    wallet.add_player(token, player_id, balance_cents)
    return token, player_id


SETTINGS = WalletSettings(timeout=1.5, first_retry_seconds=1, max_retry_seconds=60, max_attempts=4, poll_seconds=0.05)
"""Short enough for tests: a sale gives up on its wallet after 1.5 s."""


def engine_for(database: str, wallet: WalletServer, wallet_url: str | None = None) -> TicketEngine:
    """An engine whose demo operator's wallet is the reference wallet (or `wallet_url`), on a clock the test moves
    (`engine.clock.move`), its calls to wallets recorded (`engine.recording`). Its outbox is sent by the test
    (`drain`), not by the engine's thread."""
    store = Store(database_url(database))
    store.create_schema()
    engine = TicketEngine(store, clock=MovableClock(datetime.now(UTC)), wallet_settings=SETTINGS)
    seed_demo_data(engine, DEMO_SITE_SECRET, wallet_url=wallet_url or wallet.url, wallet_secret=WALLET_SECRET)
    engine.recording = Recording()
    engine.pam = engine.outbox.clients = PamClients(SETTINGS, transport=engine.recording)
    return engine


def sell(engine, token: str, picks: str = "1111111", stake: str = "25", key: str | None = None):
    """A ticket on coupon 455 (7 events) from a pick string like `1X21X21`."""
    bets = [BETS_BY_LABEL[p] for p in picks]
    return engine.create_ticket(SITE_TILL, sample_request(bets=bets, token=token, stake=stake), idempotency_key=key)


def drain(engine) -> None:
    """Deliver until nothing is due at the engine's present time."""
    for _ in range(100):
        if engine.outbox.deliver_due() == 0:
            return
    raise AssertionError("the outbox never emptied")


def outbox_of(engine, ticket_id: str) -> list[tuple[str, str]]:
    """A ticket's messages in the order they are sent: (action, state)."""
    with engine.store.read() as conn:
        return [(m.action, m.state) for m in list_messages(conn, "site", ticket_id)]


def stored(engine, ticket_id: str):
    """The ticket's row as the database has it (status `new` included, which only a wallet's sale has for long)."""
    with engine.store.read() as conn:
        return conn.execute(select(tickets).where(tickets.c.id == ticket_id)).first()


def only_ticket(engine):
    found = engine.list_tickets(SITE_TILL, TicketQuery(limit=10))
    assert len(found) == 1, found
    return found[0]


def write_unanswered_sale(engine, token: str):
    """What a crash between `ticket_create` and its answer leaves: the ticket written `new`, nothing more."""
    request = sample_request(bets=[101] * 7, token=token)
    player = engine.pam.identify(engine.get_operator("site"), token)
    holder = AccountHolder(token_sha256=token_fingerprint(token), operator="site", user_id=player.player_id)
    sale = Sale(request, None, request_fingerprint(request), till="site")
    return engine._sales.submit(
        replace(sale, holder=holder, wallet="pam", ticket_id=new_ticket_id(engine.clock()))
    ).result()
