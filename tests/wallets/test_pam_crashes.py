"""A real engine server selling through the reference wallet is SIGKILLed at the two moments that matter: between
`ticket_create` and its answer, and while the outbox is being delivered. After a restart the player's money is
exactly where the engine's tickets say, and no message was applied twice."""

import os
import signal
import threading
import time
from datetime import UTC, datetime, timedelta

import httpx
from sqlalchemy import select, text, update

from tests.servers import engine_server
from tests.support import SITE_ADMIN, SITE_TILL, Api, sample_body, seed_shop
from tests.wallets.support import WALLET_SECRET, new_player
from ticketing.contract import wire
from ticketing.contract.models import BETS_BY_LABEL, EventResult
from ticketing.engine import TicketEngine
from ticketing.settings import WalletSettings
from ticketing.storage import Store, coupons, database_url, tickets, wallet_outbox


def server_env(wallet) -> dict[str, str]:
    return {
        "TICKETING_SITE_WALLET_URL": wallet.url,
        "TICKETING_SITE_WALLET_SECRET": WALLET_SECRET,
        "TICKETING_WALLET_TIMEOUT": "2",
        "TICKETING_WALLET_POLL_SECONDS": "0.1",
    }


def wait_for(condition, what: str, seconds: float = 30):
    deadline = time.monotonic() + seconds
    while True:
        found = condition()
        if found:
            return found
        assert time.monotonic() < deadline, f"timed out waiting for: {what}"
        time.sleep(0.05)


def rows(db, statement):
    store = Store(database_url(str(db)))
    try:
        with store.read() as conn:
            return conn.execute(statement).all()
    finally:
        store.dispose()


def kill(process) -> None:
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()


def test_sigkill_between_ticket_create_and_its_answer_then_a_restart_gives_the_stake_back(databases, wallet, tmp_path):
    db = databases.make("crash-sale")
    seed_shop(db)
    token, _ = new_player(wallet)
    before = wallet.balance(token)
    wallet.fault("late", "ticket_create", seconds=30)
    outcome: dict = {}
    with engine_server(db, tmp_path / "engine-1.log", extra_env=server_env(wallet)) as (url, process):

        def selling() -> None:
            with Api(url) as api:
                try:
                    outcome["response"] = api.post_ticket(sample_body(token=token), timeout=60)
                except httpx.TransportError as lost:
                    outcome["lost"] = lost

        thread = threading.Thread(target=selling)
        thread.start()
        wait_for(lambda: [r for r in wallet.received() if r["action"] == "ticket_create"], "the create applied")
        assert wallet.balance(token) == before - 2500, "the wallet took the stake"
        (ticket_id, status), *_ = rows(db, select(tickets.c.id, tickets.c.status))
        assert status == "new", "the engine had not heard the answer"
        kill(process)
        thread.join()
    assert "lost" in outcome, "the sale was never answered"
    wallet.clear_faults()
    with engine_server(db, tmp_path / "engine-2.log", extra_env=server_env(wallet)):
        wait_for(lambda: wallet.balance(token) == before, "the stake given back")
        messages = select(wallet_outbox.c.action, wallet_outbox.c.state).where(wallet_outbox.c.ticket_id == ticket_id)
        wait_for(lambda: ("ticket_discard", "delivered") in rows(db, messages), "the discard delivered")
    assert rows(db, select(tickets.c.status).where(tickets.c.id == ticket_id)) == [("cancelled",)]
    assert [(r["action"], r["outcome"]) for r in wallet.received(ticket_id)] == [
        ("ticket_create", "applied"),
        ("ticket_discard", "applied"),
    ]


def test_sigkill_during_outbox_delivery_then_a_restart_delivers_each_message_once(databases, wallet, tmp_path):
    db = databases.make("crash-outbox")
    seed_shop(db)
    token, _ = new_player(wallet)
    before = wallet.balance(token)
    picks = ["1111111", "1111111", "2111111", "1111111", "X111111", "1111111"]
    with engine_server(db, tmp_path / "engine-1.log", extra_env=server_env(wallet)) as (url, process), Api(url) as api:
        sold = []
        for pick in picks:
            response = api.post_ticket(sample_body(token=token, bets=[BETS_BY_LABEL[p] for p in pick]))
            assert response.status_code == 200, response.text
            sold.append(wire.loads(response.content))
        winners = [t for t, pick in zip(sold, picks, strict=True) if pick == "1111111"]
        wallet.fault("late", "ticket_win", seconds=30, times=len(picks))
        settle(db, "1111111")
        # Killed once every win is applied and none of their answers has come: the new process must send each
        # again (a duplicate for the wallet), whatever order and pace the first one sent them in.
        wait_for(
            lambda: (
                {r["ticket_id"] for r in wallet.received() if r["action"] == "ticket_win"} >= {t["id"] for t in winners}
            ),
            "every win applied",
        )
        kill(process)
    wallet.clear_faults()
    with engine_server(db, tmp_path / "engine-2.log", extra_env=server_env(wallet)):
        wait_for(
            lambda: (
                rows(db, text("SELECT count(*) FROM wallet_outbox WHERE state = 'delivered'"))[0][0] == 2 * len(picks)
            ),
            "every create and outcome delivered",
        )
    won = sum(int(t["net_payout"] * 100) for t in winners)
    assert wallet.balance(token) == before - 2500 * len(picks) + won, "each win credited exactly once"
    for ticket in sold:
        applied = [r["action"] for r in wallet.received(ticket["id"]) if r["outcome"] == "applied"]
        assert applied in (["ticket_create", "ticket_win"], ["ticket_create", "ticket_lost"]), applied
    for ticket in winners:
        wins = [r["outcome"] for r in wallet.received(ticket["id"]) if r["action"] == "ticket_win"]
        assert wins[0] == "applied" and set(wins[1:]) == {"duplicate"}, "its answer never came: sent again"


def settle(db, results: str) -> None:
    """The coupon's deadline moved to a minute ago, as if the round had been played, and its results entered on the
    same database by an engine of the test's own (which sends nothing itself): the server's outbox sender delivers
    what the settlement queued."""
    store = Store(database_url(str(db)))
    with store.write() as conn:
        past = datetime.now(UTC).replace(tzinfo=None) - timedelta(minutes=1)
        conn.execute(update(coupons).where(coupons.c.id == "455").values(closes_at=past))
    engine = TicketEngine(store, wallet_settings=WalletSettings())
    try:
        coupon = engine.get_coupon(SITE_TILL, "455")
        for event, label in zip(coupon.events, results, strict=True):
            engine.enter_result(SITE_ADMIN, "455", event.id, EventResult(label))
    finally:
        engine.close()
