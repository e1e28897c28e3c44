"""A reference PAM wallet: what an operator's wallet does with Betstack's calls, small enough to read in one sitting.

    python -m ticketing.wallets.reference_wallet --port 8100 --operator site --secret WALLET-SECRET \\
        --player pam-player-token-1=pam-1001:5000.00

(without `--player`, one demo player: token `pam-demo-player`, starting with KES 5,000.00).

It keeps players' balances and a ledger in an SQLite file, verifies every signature (Betstack's rule: hex
HMAC-SHA256 of `{timestamp}{body without spaces}`), refuses unknown players and short balances, and applies each
action once: a message id it has applied before (`message-id` header) is a duplicate, and so is an action that
would repeat the ticket's current state (a second `ticket_win` of a won ticket). A `ticket_rollback` reopens a
settled ticket as it was sold (its create amounts again), so the next outcome applies afresh: (ticket_id, action)
is idempotent within a settlement, not across a correction. `GET /pam/ledger` is what the engine's reconciliation
compares its tickets with.

With `--faults` it also takes `POST /faults` (fail the next calls on purpose), and with `--chaos-seed` it fails a
share of all calls at random, reproducibly: the tests drive the engine through a misbehaving wallet with it.
Not for production: it syncs to disk lazily (WAL, synchronous=NORMAL) and serves one operator.
"""

import argparse
import asyncio
import random
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import uvicorn
from fastapi import FastAPI, Header, Request
from pydantic import BaseModel

from ticketing.access.betstack_signing import verify_signature
from ticketing.contract import wire
from ticketing.contract.errors import InvalidSignature
from ticketing.contract.money import to_cents
from ticketing.contract.wire import WireJSONResponse
from ticketing.wallets.pam import PAM_FIELDS

DEMO_PLAYER = ("pam-demo-player", "pam-demo-1", 500_000)
"""With no `--player`: one player to sell to in a demo (token, player id, KES 5,000.00 in cents)."""
SETTLED = ("won", "lost", "void", "refunded")
OUTCOMES = {"ticket_win": "won", "ticket_lost": "lost", "ticket_void": "void", "ticket_refund": "refunded"}
SCHEMA = """
CREATE TABLE IF NOT EXISTS players (
    token TEXT PRIMARY KEY, player_id TEXT NOT NULL UNIQUE, currency TEXT NOT NULL, balance INTEGER NOT NULL,
    lang TEXT NOT NULL DEFAULT 'en');
CREATE TABLE IF NOT EXISTS tickets (
    ticket_id TEXT PRIMARY KEY, player_id TEXT, currency TEXT, price INTEGER NOT NULL DEFAULT 0,
    sold_wht INTEGER NOT NULL DEFAULT 0, sold_gross INTEGER NOT NULL DEFAULT 0, sold_net INTEGER NOT NULL DEFAULT 0,
    wht_amount INTEGER NOT NULL DEFAULT 0, gross_payout INTEGER NOT NULL DEFAULT 0,
    net_payout INTEGER NOT NULL DEFAULT 0, state TEXT NOT NULL, outcome_credit INTEGER NOT NULL DEFAULT 0,
    closed INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS entries (
    id INTEGER PRIMARY KEY AUTOINCREMENT, ticket_id TEXT NOT NULL, player_id TEXT, action TEXT NOT NULL,
    amount INTEGER NOT NULL, at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS received (
    id INTEGER PRIMARY KEY AUTOINCREMENT, message_id TEXT, ticket_id TEXT, action TEXT NOT NULL,
    outcome TEXT NOT NULL, at REAL NOT NULL);
CREATE INDEX IF NOT EXISTS ix_received_message ON received (message_id);
"""


class Refusal(Exception):
    """The wallet says no: answered 400 (or 403) with Betstack's `{code, message}`."""

    def __init__(self, code: int, message: str, status: int = 400):
        super().__init__(message)
        self.code, self.message, self.status = code, message, status


class Ledger:
    """Players, tickets and every money movement, in one SQLite file; one call at a time."""

    def __init__(self, path: str, operator: str):
        self.operator = operator
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.row_factory = sqlite3.Row
        for pragma in ("journal_mode=WAL", "synchronous=NORMAL", "busy_timeout=10000"):
            self._db.execute(f"PRAGMA {pragma}")
        self._db.executescript(SCHEMA)

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def set_player(self, token: str, player_id: str, balance: int, currency: str) -> None:
        with self._transaction() as db:
            db.execute(
                "INSERT INTO players (token, player_id, currency, balance) VALUES (?, ?, ?, ?)"
                " ON CONFLICT (token) DO UPDATE SET player_id = excluded.player_id, currency = excluded.currency,"
                " balance = excluded.balance",
                (token, player_id, currency, balance),
            )

    def add_missing_player(self, token: str, player_id: str, balance: int, currency: str) -> None:
        with self._transaction() as db:
            db.execute(
                "INSERT INTO players (token, player_id, currency, balance) VALUES (?, ?, ?, ?)"
                " ON CONFLICT (token) DO NOTHING",
                (token, player_id, currency, balance),
            )

    def identify(self, token: str) -> dict[str, Any]:
        with self._transaction() as db:
            row = db.execute("SELECT * FROM players WHERE token = ?", (token,)).fetchone()
        if row is None:
            raise Refusal(101, "User not found")
        return {
            "player_id": row["player_id"],
            "lang": row["lang"],
            "balance": row["balance"],
            "currency": row["currency"],
            "feature_flags": {},
        }

    def apply(self, action: str, data: dict[str, Any], message_id: str | None) -> str:
        """Apply one ticket action; `applied` or `duplicate`, or `Refusal`. Every call is recorded in `received`."""
        ticket_id = str(data.get("ticket_id"))
        try:
            with self._transaction() as db:
                if (
                    message_id
                    and db.execute(
                        "SELECT 1 FROM received WHERE message_id = ? AND outcome = 'applied'", (message_id,)
                    ).fetchone()
                ):
                    outcome = "duplicate"
                else:
                    outcome = "applied" if self._apply(db, action, ticket_id, data) else "duplicate"
                self._receive(db, message_id, ticket_id, action, outcome)
            return outcome
        except Refusal as refusal:
            with self._transaction() as db:
                self._receive(db, message_id, ticket_id, action, f"refused {refusal.code}")
            raise

    @staticmethod
    def _receive(db, message_id, ticket_id, action, outcome) -> None:
        db.execute(
            "INSERT INTO received (message_id, ticket_id, action, outcome, at) VALUES (?, ?, ?, ?, ?)",
            (message_id, ticket_id, action, outcome, time.time()),
        )

    def _apply(self, db, action: str, ticket_id: str, data: dict[str, Any]) -> bool:
        ticket = db.execute("SELECT * FROM tickets WHERE ticket_id = ?", (ticket_id,)).fetchone()
        if action == "ticket_create":
            return self._create(db, ticket, data)
        if action == "ticket_discard":
            if ticket is None:
                # The create never came (or has not yet): remembered, so that a late one is refused.
                db.execute("INSERT INTO tickets (ticket_id, state) VALUES (?, 'discarded')", (ticket_id,))
                return True
            if ticket["state"] == "discarded":
                return False
            if ticket["state"] != "open":
                raise Refusal(106, f"Ticket {ticket_id} is {ticket['state']}: it cannot be discarded")
            self._move(db, ticket, "ticket_discard", ticket["price"])
            db.execute("UPDATE tickets SET state = 'discarded' WHERE ticket_id = ?", (ticket_id,))
            return True
        if ticket is None or ticket["state"] == "discarded":
            raise Refusal(105, f"Ticket {ticket_id} not found")
        if ticket["closed"]:
            if action == "ticket_closed" or OUTCOMES.get(action) == ticket["state"]:
                return False
            raise Refusal(107, f"Ticket {ticket_id} is closed")
        if action == "ticket_update":
            return self._update(db, ticket, data)
        if action in OUTCOMES:
            state = OUTCOMES[action]
            if ticket["state"] == state:
                return False
            if ticket["state"] != "open":
                raise Refusal(106, f"Ticket {ticket_id} is {ticket['state']}: {action} needs it open")
            credit = {
                "ticket_win": ticket["net_payout"],
                "ticket_lost": 0,
                "ticket_void": int(data.get("net_payout") or 0),
                "ticket_refund": ticket["price"],
            }[action]
            self._move(db, ticket, action, credit)
            db.execute(
                "UPDATE tickets SET state = ?, outcome_credit = ? WHERE ticket_id = ?", (state, credit, ticket_id)
            )
            return True
        if action == "ticket_rollback":
            if ticket["state"] == "open":
                return False
            if ticket["state"] not in ("won", "lost", "void"):
                raise Refusal(106, f"Ticket {ticket_id} is {ticket['state']}: it cannot be rolled back")
            self._move(db, ticket, action, -ticket["outcome_credit"])
            db.execute(
                "UPDATE tickets SET state = 'open', outcome_credit = 0, wht_amount = sold_wht,"
                " gross_payout = sold_gross, net_payout = sold_net WHERE ticket_id = ?",
                (ticket_id,),
            )
            return True
        if action == "ticket_closed":
            if ticket["state"] not in SETTLED:
                raise Refusal(106, f"Ticket {ticket_id} is {ticket['state']}: only a settled ticket closes")
            db.execute("UPDATE tickets SET closed = 1 WHERE ticket_id = ?", (ticket_id,))
            return True
        raise Refusal(100, f"{action} feature not implemented yet")

    def _create(self, db, ticket, data: dict[str, Any]) -> bool:
        ticket_id = str(data["ticket_id"])
        if ticket is not None:
            if ticket["state"] == "discarded":
                raise Refusal(104, f"Ticket {ticket_id} was discarded")
            return False
        player = db.execute("SELECT * FROM players WHERE player_id = ?", (str(data["player_id"]),)).fetchone()
        if player is None:
            raise Refusal(101, "User not found")
        if player["currency"] != data["currency"]:
            raise Refusal(109, f"Currency {data['currency']} is not the player's ({player['currency']})")
        price = int(data["price"])
        if player["balance"] < price:
            raise Refusal(110, "Insufficient balance")
        amounts = (int(data["wht_amount"]), int(data["gross_payout"]), int(data["net_payout"]))
        db.execute(
            "INSERT INTO tickets (ticket_id, player_id, currency, price, sold_wht, sold_gross, sold_net, wht_amount,"
            " gross_payout, net_payout, state) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'open')",
            (ticket_id, player["player_id"], data["currency"], price, *amounts, *amounts),
        )
        self._move(db, {"ticket_id": ticket_id, "player_id": player["player_id"]}, "ticket_create", -price)
        return True

    def _update(self, db, ticket, data: dict[str, Any]) -> bool:
        amounts = (int(data["wht_amount"]), int(data["gross_payout"]), int(data["net_payout"]))
        if (ticket["wht_amount"], ticket["gross_payout"], ticket["net_payout"]) == amounts:
            return False
        if ticket["state"] != "open":
            raise Refusal(106, f"Ticket {ticket['ticket_id']} is {ticket['state']}: only an open ticket is updated")
        db.execute(
            "UPDATE tickets SET wht_amount = ?, gross_payout = ?, net_payout = ? WHERE ticket_id = ?",
            (*amounts, ticket["ticket_id"]),
        )
        return True

    @staticmethod
    def _move(db, ticket, action: str, amount: int) -> None:
        """Money to (positive) or from (negative) the ticket's player, and its ledger entry."""
        db.execute("UPDATE players SET balance = balance + ? WHERE player_id = ?", (amount, ticket["player_id"]))
        db.execute(
            "INSERT INTO entries (ticket_id, player_id, action, amount, at) VALUES (?, ?, ?, ?, ?)",
            (ticket["ticket_id"], ticket["player_id"], action, amount, time.time()),
        )

    def ledger(self) -> dict[str, Any]:
        with self._transaction() as db:
            tickets = [dict(row) for row in db.execute("SELECT ticket_id, state, closed FROM tickets")]
            entries = [dict(row) for row in db.execute("SELECT * FROM entries ORDER BY id")]
        return {"operator": self.operator, "tickets": tickets, "entries": entries}

    def received(self, ticket_id: str | None = None) -> list[dict[str, Any]]:
        with self._transaction() as db:
            if ticket_id is None:
                rows = db.execute("SELECT * FROM received ORDER BY id")
            else:
                rows = db.execute("SELECT * FROM received WHERE ticket_id = ? ORDER BY id", (ticket_id,))
            return [dict(row) for row in rows]


class Fault(BaseModel):
    """`error`: answer 500 and apply nothing; `refuse`: answer 400; `slow`: wait `seconds`, then apply and answer
    (an engine that gave up meanwhile never hears it: a lost answer); `late`: apply, then wait `seconds` before the
    answer (an engine killed meanwhile never learns it was applied); `lost`: apply, then answer 500."""

    kind: str
    action: str = "*"
    times: int = 1
    seconds: float = 0.0


@dataclass
class Faults:
    rules: list[Fault]
    chaos: random.Random | None = None
    chaos_rate: float = 0.0
    chaos_seconds: float = 2.0

    def next_for(self, action: str) -> Fault | None:
        for rule in self.rules:
            if rule.times > 0 and rule.action in ("*", action):
                rule.times -= 1
                return rule
        if self.chaos is not None and action != "identify" and self.chaos.random() < self.chaos_rate:
            kind = self.chaos.choice(["error", "slow", "lost"])
            return Fault(kind=kind, seconds=self.chaos_seconds * (0.5 + self.chaos.random()))
        return None


def answer(status: int, body: dict[str, Any]) -> WireJSONResponse:
    return WireJSONResponse(body, status_code=status)


def create_app(ledger: Ledger, secret: str, faults: Faults | None = None) -> FastAPI:
    app = FastAPI(title="Reference PAM wallet", version="1.0.0")

    def verified(timestamp: str | None, signature: str | None, body: bytes) -> None:
        verify_signature(secret, timestamp, signature, body)

    @app.get("/health")
    def health():
        return {"status": "ok", "operator": ledger.operator}

    @app.post("/pam")
    async def pam(
        request: Request,
        timestamp: str | None = Header(None),
        signature: str | None = Header(None),
        message_id: str | None = Header(None, alias="message-id"),
    ):
        body = await request.body()
        try:
            verified(timestamp, signature, body)
            payload = wire.loads(body)
            action, data = payload["action"], payload["data"]
            if action not in PAM_FIELDS or not isinstance(data, dict) or list(data) != list(PAM_FIELDS[action]):
                raise Refusal(100, f"{action} with fields {list(data)} is not a PAM call")
            if data.get("operator") != ledger.operator:
                raise Refusal(106, f"Operator {data.get('operator')} was not found")
        except InvalidSignature as refused:
            return answer(403, {"code": 121, "message": refused.message})
        except Refusal as refused:
            return answer(refused.status, {"code": refused.code, "message": refused.message})
        except (ValueError, KeyError, TypeError):
            return answer(400, {"code": 90, "message": "Not a PAM call"})
        fault = faults.next_for(action) if faults is not None else None
        if fault is not None and fault.kind == "error":
            return answer(500, {"code": 99, "message": "Injected error"})
        if fault is not None and fault.kind == "refuse":
            return answer(400, {"code": 199, "message": "Injected refusal"})
        if fault is not None and fault.kind == "slow":
            await asyncio.sleep(fault.seconds)
        try:
            if action == "identify":
                return answer(200, ledger.identify(str(data["token"])))
            outcome = ledger.apply(action, data, message_id)
        except Refusal as refused:
            return answer(refused.status, {"code": refused.code, "message": refused.message})
        if fault is not None and fault.kind == "lost":
            return answer(500, {"code": 99, "message": "Injected error after applying"})
        if fault is not None and fault.kind == "late":
            await asyncio.sleep(fault.seconds)
        return answer(200, {"status": outcome})

    @app.get("/pam/ledger")
    def get_ledger(timestamp: str | None = Header(None), signature: str | None = Header(None)):
        try:
            verified(timestamp, signature, b"")
        except InvalidSignature as refused:
            return answer(403, {"code": 121, "message": refused.message})
        return answer(200, ledger.ledger())

    @app.get("/pam/received")
    def get_received(
        ticket_id: str | None = None, timestamp: str | None = Header(None), signature: str | None = Header(None)
    ):
        """Every call received, in order, with what became of it (applied, duplicate, refused): for the tests."""
        try:
            verified(timestamp, signature, b"")
        except InvalidSignature as refused:
            return answer(403, {"code": 121, "message": refused.message})
        return answer(200, {"received": ledger.received(ticket_id)})

    @app.post("/pam/players")
    async def set_player(request: Request, timestamp: str | None = Header(None), signature: str | None = Header(None)):
        """`{"token", "player_id", "balance" (cents), "currency"}`: a player added, or its balance set."""
        body = await request.body()
        try:
            verified(timestamp, signature, body)
            player = wire.loads(body)
            token, player_id = str(player["token"]), str(player["player_id"])
            ledger.set_player(token, player_id, int(player["balance"]), str(player["currency"]))
        except InvalidSignature as refused:
            return answer(403, {"code": 121, "message": refused.message})
        except (ValueError, KeyError, TypeError):
            return answer(400, {"code": 90, "message": "Expected token, player_id, balance and currency"})
        return answer(200, ledger.identify(token))

    if faults is not None:

        @app.post("/faults")
        def add_fault(fault: Fault):
            """The next calls (of `action`, or any) fail as `kind` says, `times` times."""
            faults.rules.append(fault)
            return {"faults": [rule.model_dump() for rule in faults.rules if rule.times > 0]}

        @app.delete("/faults")
        def clear_faults():
            faults.rules.clear()
            faults.chaos = None
            return {"faults": []}

    return app


def parse_player(text: str) -> tuple[str, str, int]:
    """`TOKEN=PLAYER_ID:BALANCE` (balance in major units, e.g. 5000.00)."""
    token, _, rest = text.partition("=")
    player_id, _, balance = rest.partition(":")
    if not token or not player_id or not balance:
        raise argparse.ArgumentTypeError(f"{text!r}: expected TOKEN=PLAYER_ID:BALANCE")
    return token, player_id, to_cents(Decimal(balance))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m ticketing.wallets.reference_wallet", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8100)
    parser.add_argument("--operator", default="site")
    parser.add_argument("--secret", default="reference-wallet-demo-secret")
    parser.add_argument("--currency", default="KES")
    parser.add_argument("--db", default=str(Path(".data") / "reference-wallet.sqlite3"))
    parser.add_argument("--player", type=parse_player, action="append", default=[], help="TOKEN=PLAYER_ID:BALANCE")
    parser.add_argument("--faults", action="store_true", help="accept POST /faults (tests only)")
    parser.add_argument("--chaos-seed", type=int, help="fail a share of calls at random, reproducibly")
    parser.add_argument("--chaos-rate", type=float, default=0.2)
    parser.add_argument("--chaos-seconds", type=float, default=2.0, help="how long a slow answer takes, about")
    args = parser.parse_args(argv)
    Path(args.db).parent.mkdir(parents=True, exist_ok=True)
    ledger = Ledger(args.db, args.operator)
    for token, player_id, balance in args.player:
        ledger.set_player(token, player_id, balance, args.currency)
    if not args.player:
        ledger.add_missing_player(*DEMO_PLAYER, args.currency)
    faults = None
    if args.faults or args.chaos_seed is not None:
        chaos = random.Random(args.chaos_seed) if args.chaos_seed is not None else None
        faults = Faults(rules=[], chaos=chaos, chaos_rate=args.chaos_rate, chaos_seconds=args.chaos_seconds)
    uvicorn.run(create_app(ledger, args.secret, faults), host=args.host, port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
