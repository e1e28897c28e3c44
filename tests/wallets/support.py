"""The reference wallet as the tests run it: a real process on 127.0.0.1, started with the README's one command."""

import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from tests.servers import free_port, running
from ticketing import wire
from ticketing.signing import sign

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
