"""A chaotic day, seeded: tills sell through a wallet that fails a third of its calls at random (500s, answers too
slow for the engine, answers lost after applying), the engine is SIGKILLed mid-sales and restarted, tickets are
cancelled, the coupon settled and a result corrected. When the outbox has delivered everything, the reconciliation
report is empty and every player's balance in the wallet is what the engine's tickets say it should be."""

import os
import random
import signal
import threading
import time
from collections import defaultdict
from datetime import UTC, datetime, timedelta

import httpx
from sqlalchemy import select, text, update

from tests.servers import engine_server
from tests.support import SITE_ADMIN, SITE_TILL, Api, sample_body, seed_shop
from tests.wallets.support import WALLET_SECRET, reference_wallet
from ticketing.client import TicketingClient
from ticketing.contract import wire
from ticketing.contract.models import BETS_BY_LABEL, EventResult
from ticketing.engine import TicketEngine
from ticketing.settings import DEMO_ADMIN_KEY_ID, DEMO_ADMIN_SECRET, WalletSettings
from ticketing.storage import Store, coupons, database_url, ticket_settlements, tickets

SEED = 14
PLAYERS = 4
OPENING_BALANCE = 100_000
TILLS, SALES_PER_TILL = 3, 8
LABELS = {101: EventResult.HOME, 102: EventResult.DRAW, 103: EventResult.AWAY}


def engine_env(wallet) -> dict[str, str]:
    return {
        "TICKETING_SITE_WALLET_URL": wallet.url,
        "TICKETING_SITE_WALLET_SECRET": WALLET_SECRET,
        "TICKETING_WALLET_TIMEOUT": "2",
        "TICKETING_WALLET_POLL_SECONDS": "0.1",
        "TICKETING_WALLET_FIRST_RETRY_SECONDS": "0.2",
        "TICKETING_WALLET_MAX_RETRY_SECONDS": "1",
        "TICKETING_WALLET_DISCARD_RETRY_SECONDS": "1",
        "TICKETING_WALLET_MAX_ATTEMPTS": "1000",
    }


def wait_for(condition, what: str, seconds: float):
    deadline = time.monotonic() + seconds
    while not (found := condition()):
        assert time.monotonic() < deadline, f"timed out waiting for: {what}"
        time.sleep(0.1)
    return found


def test_a_seeded_chaotic_day_reconciles_to_an_empty_report(databases, tmp_path):
    rng = random.Random(SEED)
    db = databases.make("chaos")
    seed_shop(db)
    chaos = ("--chaos-seed", str(SEED), "--chaos-rate", "0.33", "--chaos-seconds", "2.5")
    with reference_wallet(tmp_path, players=(), extra=chaos) as wallet:
        players = [(f"chaos-player-{n}-token", f"chaos-{n}") for n in range(PLAYERS)]
        for token, player_id in players:
            wallet.add_player(token, player_id, OPENING_BALANCE)
        plans = [
            [
                (
                    rng.choice(players)[0],
                    "".join(rng.choice("1X2") for _ in range(7)),
                    f"{rng.randint(25, 400)}.{rng.randint(0, 99):02d}",
                )
                for _ in range(SALES_PER_TILL)
            ]
            for _ in range(TILLS)
        ]
        answers: list[tuple[int, dict]] = []
        lock = threading.Lock()
        current = {}

        def till(number: int, plan) -> None:
            """Each sale with its idempotency key, sent again while the engine does not answer (as the terminal's
            client does): across the crash it is sold once or not at all."""
            for n, (token, picks, stake) in enumerate(plan):
                body = sample_body(token=token, stake=stake, bets=[BETS_BY_LABEL[p] for p in picks])
                while True:
                    try:
                        with Api(current["url"]) as api:
                            response = api.post_ticket(body, headers={"Idempotency-Key": f"till-{number}-{n}"})
                        break
                    except httpx.TransportError:
                        time.sleep(0.3)
                with lock:
                    answers.append((response.status_code, wire.loads(response.content)))

        log = tmp_path / "engine-1.log"
        with engine_server(db, log, extra_env=engine_env(wallet)) as (url, first):
            current["url"] = url
            threads = [threading.Thread(target=till, args=(n, plan)) for n, plan in enumerate(plans)]
            for thread in threads:
                thread.start()
            wait_for(lambda: len(answers) >= TILLS * SALES_PER_TILL // 2, "half the sales answered", 120)
            os.killpg(first.pid, signal.SIGKILL)
            first.wait()
        with engine_server(db, tmp_path / "engine-2.log", extra_env=engine_env(wallet)) as (url, _second):
            current["url"] = url
            for thread in threads:
                thread.join()
            assert all(status in (200, 400, 503) for status, _ in answers), answers
            assert all(body["code"] in (140, 141) for status, body in answers if status != 200), answers
            sold = [body for status, body in answers if status == 200]
            assert len(sold) >= 5, f"only {len(sold)} sales went through the chaos"
            cancelled = rng.sample(sold, 2)
            with Api(url) as api:
                for ticket in cancelled:
                    assert api.request("POST", f"/be/tickets/{ticket['code']}/cancel").status_code == 200
            settle_and_correct(db, rng, rng.choice([t for t in sold if t not in cancelled]))
            wait_for(lambda: undelivered(db) == 0, "every message delivered", 180)
            with TicketingClient(url, "site", DEMO_ADMIN_SECRET, key_id=DEMO_ADMIN_KEY_ID) as admin:
                report = admin.reconcile_wallet()
        assert report.differences == [], report.differences
        assert (report.engine.debited, report.engine.credited, report.engine.refunded) == (
            report.wallet.debited,
            report.wallet.credited,
            report.wallet.refunded,
        )
        owed = money_per_player(db)
        for token, player_id in players:
            assert wallet.balance(token) == OPENING_BALANCE + owed[player_id], player_id
        for ticket in sold:
            assert stored_status(db, ticket["id"]) in ("resulted", "cancelled"), "every 200 was a sale"


def settle_and_correct(db, rng: random.Random, lucky: dict) -> None:
    """The deadline moved to a minute ago (the round played), the results entered, one corrected and corrected back,
    on the same database by an engine of the test's own that sends nothing: the server's outbox delivers it all. The
    results are the `lucky` ticket's picks with one event void, so that there are winners paid at odds 1.00 on it
    (a `ticket_update` before their win), whose win the correction rolls back and the second one restores."""
    store = Store(database_url(str(db)))
    with store.write() as conn:
        past = datetime.now(UTC).replace(tzinfo=None) - timedelta(minutes=1)
        conn.execute(update(coupons).where(coupons.c.id == "455").values(closes_at=past))
    engine = TicketEngine(store, wallet_settings=WalletSettings())
    try:
        events = engine.get_coupon(SITE_TILL, "455").events
        results = [LABELS[pick["bet"]] for pick in lucky["events"]]
        results[rng.randrange(len(events))] = EventResult.VOID
        for event, result in zip(events, results, strict=True):
            engine.enter_result(SITE_ADMIN, "455", event.id, result)
        changed = rng.choice([n for n, result in enumerate(results) if result != EventResult.VOID])
        others = [r for r in LABELS.values() if r != results[changed]]
        engine.enter_result(SITE_ADMIN, "455", events[changed].id, rng.choice(others))
        engine.enter_result(SITE_ADMIN, "455", events[changed].id, results[changed])
    finally:
        engine.close()


def undelivered(db) -> int:
    """Messages still to go, but for the `ticket_closed` waiting for the end of the correction window. A refused one
    ends the wait at once: with unlimited attempts, only a refusal fails a message."""
    refused = query(db, text("SELECT action, last_error FROM wallet_outbox WHERE state = 'failed'"))
    assert refused == [], f"the wallet refused: {refused}"
    sql = "SELECT count(*) FROM wallet_outbox WHERE state = 'pending' AND action <> 'ticket_closed'"
    return query(db, text(sql))[0][0]


def money_per_player(db) -> dict[str, int]:
    """What each player's balance should have moved by, from the engine's tickets alone (cents)."""
    owed: dict[str, int] = defaultdict(int)
    rows = query(
        db,
        select(tickets.c.user_id, tickets.c.status, tickets.c.stake_cents, ticket_settlements.c.credited_cents)
        .outerjoin(ticket_settlements, ticket_settlements.c.ticket_id == tickets.c.id)
        .where(tickets.c.wallet == "pam"),
    )
    for player_id, status, price, credited in rows:
        if status == "resulted":
            owed[player_id] += credited - price
        elif status == "open":
            owed[player_id] -= price
    return owed


def stored_status(db, ticket_id: str) -> str:
    return query(db, select(tickets.c.status).where(tickets.c.id == ticket_id))[0][0]


def query(db, statement):
    store = Store(database_url(str(db)))
    try:
        with store.read() as conn:
            return conn.execute(statement).all()
    finally:
        store.dispose()
