"""Selling through an operator's PAM wallet, on the in-process engine against the reference wallet, SQLite and
PostgreSQL: the exact call and its signature, a 200 opens the ticket, every failure answers 140/141 and is undone
by a `ticket_discard`, a sale left unanswered is discarded at the next start."""

import hashlib
import hmac
import subprocess
import sys
import threading
import time
from datetime import timedelta

import pytest
from sqlalchemy import select

from tests.servers import PROJECT_ROOT
from tests.support import SITE_TILL, sample_request, seed_shop
from tests.wallets.support import (
    SETTINGS,
    WALLET_SECRET,
    drain,
    engine_for,
    new_player,
    only_ticket,
    outbox_of,
    sell,
    stored,
    write_unanswered_sale,
)
from ticketing.contract import wire
from ticketing.contract.errors import InvalidToken, SaleDiscarded, WalletRefused, WalletUnavailable
from ticketing.contract.models import TicketQuery, TicketStatus
from ticketing.demo.data import SAMPLE_TOKEN
from ticketing.engine import TicketEngine
from ticketing.storage import Store, database_url, operators, wallet_outbox
from ticketing.wallets.outbox import list_messages


def test_a_sale_sends_ticket_create_as_betstack_signs_it_and_opens_the_ticket(pam_engine, wallet, player):
    token, player_id = player
    before = wallet.balance(token)
    ticket = sell(pam_engine, token)
    assert ticket.status == TicketStatus.OPEN and ticket.user_id == player_id
    assert stored(pam_engine, ticket.id).status == "open"
    (call,) = pam_engine.recording.bodies("ticket_create")
    cents = {name: int(getattr(ticket, name) * 100) for name in ("tax", "payout", "net_payout")}
    assert (
        call.content
        == (
            f'{{"action":"ticket_create","data":{{"operator":"site","ticket_id":"{ticket.id}",'
            f'"ticket_code":"{ticket.code}","player_id":"{player_id}","price":2500,"stake":2500,'
            f'"wht_amount":{cents["tax"]},"wht":20,"ext_amount":0,"ext":0,"ext_type":"inclusive",'
            f'"gross_payout":{cents["payout"]},"net_payout":{cents["net_payout"]},"currency":"KES",'
            f'"atag":"afiliate-1","rtag":null,"ticket_type":"jackpot"}}}}'
        ).encode()
    )
    timestamp = call.headers["timestamp"]
    expected = hmac.new(WALLET_SECRET.encode(), timestamp.encode() + call.content, hashlib.sha256).hexdigest()
    assert call.headers["signature"] == expected
    assert abs(int(timestamp) - time.time()) < 60 and "operator-name" not in call.headers
    assert wallet.balance(token) == before - 2500
    assert outbox_of(pam_engine, ticket.id) == [("ticket_create", "delivered")]


def test_a_refusal_answers_140_takes_nothing_and_is_discarded(pam_engine, wallet):
    token, _ = new_player(wallet, balance_cents=1000)
    with pytest.raises(WalletRefused) as refused:
        sell(pam_engine, token)
    assert (refused.value.code, refused.value.details["wallet_code"]) == (140, 110)
    ticket = only_ticket(pam_engine)
    assert (ticket.status, ticket.result) == ("cancelled", "void")
    assert outbox_of(pam_engine, ticket.id) == [("ticket_create", "discarded"), ("ticket_discard", "pending")]
    drain(pam_engine)
    assert outbox_of(pam_engine, ticket.id)[-1] == ("ticket_discard", "delivered")
    assert wallet.balance(token) == 1000


def test_an_unknown_player_is_an_invalid_token_and_nothing_is_stored(pam_engine):
    with pytest.raises(InvalidToken):
        sell(pam_engine, "a-token-no-wallet-knows")
    assert pam_engine.list_tickets(SITE_TILL, TicketQuery(limit=10)) == []


@pytest.mark.parametrize(
    ("fault", "reason"), [("error", "answer"), ("slow", "timeout"), ("lost", "answer")], ids=["500", "slow", "lost"]
)
def test_no_answer_is_141_and_the_discard_leaves_the_player_as_before(pam_engine, wallet, player, fault, reason):
    """500: nothing taken. Slow: the wallet takes the stake after the engine gave up. Lost: it took the stake and its
    answer was lost. Whichever comes first at the wallet, the late create or the discard, the player ends as before."""
    token, _ = player
    before = wallet.balance(token)
    wallet.fault(fault, "ticket_create", seconds=3)
    with pytest.raises(WalletUnavailable) as silent:
        sell(pam_engine, token)
    assert (silent.value.code, silent.value.details["reason"]) == (141, reason)
    ticket = only_ticket(pam_engine)
    assert ticket.status == "cancelled"
    drain(pam_engine)
    deadline = time.monotonic() + 10
    while fault != "error" and not [r for r in wallet.received(ticket.id) if r["action"] == "ticket_create"]:
        assert time.monotonic() < deadline, "the slow create never reached the wallet"
        time.sleep(0.1)
    assert wallet.balance(token) == before, (wallet.received(ticket.id), outbox_of(pam_engine, ticket.id))
    assert outbox_of(pam_engine, ticket.id)[-1] == ("ticket_discard", "delivered")


def test_the_wallet_down_is_141_and_the_discard_is_sent_again_after_30_minutes(databases, wallet, player):
    token, _ = player
    engine = engine_for(databases.make(), wallet, wallet_url="http://127.0.0.1:9/pam")
    try:
        engine.pam.identify(engine.get_operator("site").model_copy(update={"wallet_url": wallet.url}), token)
        with pytest.raises(WalletUnavailable) as down:
            sell(engine, token)
        assert down.value.details["reason"] == "connection"
        ticket = only_ticket(engine)
        drain(engine)
        with engine.store.read() as conn:
            (discard,) = [m for m in list_messages(conn, "site", ticket.id) if m.action == "ticket_discard"]
        assert (discard.state, discard.attempts) == ("pending", 1)
        assert discard.due - discard.created >= timedelta(minutes=30) - timedelta(seconds=1)
        engine.clock.move(minutes=29)
        assert engine.outbox.deliver_due() == 0, "not before its 30 minutes"
    finally:
        engine.close()


def test_an_idempotent_retry_during_the_wallet_call_gets_the_same_ticket_and_one_debit(pam_engine, wallet, player):
    token, _ = player
    before = wallet.balance(token)
    wallet.fault("slow", "ticket_create", seconds=1)
    first: dict = {}
    selling = threading.Thread(target=lambda: first.setdefault("ticket", sell(pam_engine, token, key="draft-7")))
    selling.start()
    time.sleep(0.4)
    again = sell(pam_engine, token, key="draft-7")
    selling.join()
    assert again == first["ticket"].model_copy(update={"updated": again.updated})
    assert again.status == "open" and wallet.balance(token) == before - 2500
    assert len(pam_engine.recording.bodies("ticket_create")) == 1


def test_a_retry_after_a_discard_sells_afresh_with_the_same_idempotency_key(pam_engine, wallet, player):
    token, _ = player
    wallet.fault("error", "ticket_create")
    with pytest.raises(WalletUnavailable):
        sell(pam_engine, token, key="draft-9")
    sold = sell(pam_engine, token, key="draft-9")
    assert sold.status == "open"
    statuses = sorted(t.status for t in pam_engine.list_tickets(SITE_TILL, TicketQuery(limit=10)))
    assert statuses == ["cancelled", "open"]


def test_a_replayed_signed_sale_that_was_discarded_stays_refused(pam_engine, wallet, player):
    from ticketing.access.replays import SignedRequest

    token, _ = player
    signed = SignedRequest.sent_at("ab" * 32, time.time())
    request = sample_request(bets=[101] * 7, token=token)
    wallet.fault("refuse", "ticket_create")
    with pytest.raises(WalletRefused):
        pam_engine.submit_ticket(SITE_TILL, request, signed=signed).result()
    with pytest.raises(SaleDiscarded):
        pam_engine.submit_ticket(SITE_TILL, request, signed=signed).result()


def test_a_shops_own_account_sells_on_it_without_calling_the_wallet(pam_engine):
    before = pam_engine.balance(SITE_TILL, SAMPLE_TOKEN)
    ticket = sell(pam_engine, SAMPLE_TOKEN)
    assert ticket.status == "new" and pam_engine.balance(SITE_TILL, SAMPLE_TOKEN) == before - ticket.stake
    assert pam_engine.recording.sent == []


def test_a_player_is_identified_once_for_several_sales(pam_engine, player):
    token, _ = player
    sell(pam_engine, token)
    sell(pam_engine, token, picks="2222222")
    assert len(pam_engine.recording.bodies("identify")) == 1


def test_a_start_discards_every_sale_left_waiting_for_its_wallet(pam_engine, wallet, player):
    token, _ = player
    left = write_unanswered_sale(pam_engine, token)
    assert stored(pam_engine, left.id).status == "new"
    pam_engine.start_outbox()
    assert stored(pam_engine, left.id).status == "cancelled"
    deadline = time.monotonic() + 10
    while outbox_of(pam_engine, left.id)[-1] != ("ticket_discard", "delivered"):
        assert time.monotonic() < deadline, outbox_of(pam_engine, left.id)
        time.sleep(0.05)
    assert [r["action"] for r in wallet.received(left.id)] == ["ticket_discard"]


def test_the_sweep_discards_a_sale_unanswered_for_longer_than_any_answer_takes(pam_engine, player):
    token, _ = player
    left = write_unanswered_sale(pam_engine, token)
    pam_engine.clock.move(seconds=2 * SETTINGS.timeout + 9)
    assert pam_engine.outbox.discard_stale_sales() == 0, "still within the time an answer can take"
    pam_engine.clock.move(seconds=2)
    assert pam_engine.outbox.discard_stale_sales() == 1
    assert stored(pam_engine, left.id).status == "cancelled"
    with pam_engine.store.read() as conn:
        reasons = conn.execute(select(wallet_outbox.c.reason).where(wallet_outbox.c.ticket_id == left.id)).scalars()
        assert "the wallet's answer to ticket_create was never recorded" in list(reasons)


def test_the_outbox_sender_takes_no_write_lock_while_nothing_is_due(pam_engine, player, monkeypatch):
    """The sender polls twice a second in every engine process: with nothing due it only reads (on SQLite a write
    transaction takes the one writer lock the sale writer's batches wait for); with something due it writes."""
    writes = []
    real_write = pam_engine.store.write
    monkeypatch.setattr(pam_engine.store, "write", lambda: writes.append("write") or real_write())
    assert pam_engine.outbox.deliver_due() == 0
    assert pam_engine.outbox.discard_stale_sales() == 0
    assert writes == [], "a write transaction taken with nothing to write"
    token, _ = player
    write_unanswered_sale(pam_engine, token)
    pam_engine.clock.move(seconds=2 * SETTINGS.timeout + 11)
    writes.clear()
    assert pam_engine.outbox.discard_stale_sales() == 1
    assert pam_engine.outbox.deliver_due() == 1, "the discard's ticket_discard"
    assert len(writes) == 3, "the discard, the lease and the wallet's answer recorded"


def test_a_discard_body_names_its_reason(pam_engine, wallet, player):
    token, _ = player
    wallet.fault("refuse", "ticket_create")
    with pytest.raises(WalletRefused):
        sell(pam_engine, token)
    drain(pam_engine)
    (call,) = pam_engine.recording.bodies("ticket_discard")
    sent = wire.loads(call.content)
    assert list(sent["data"]) == ["operator", "ticket_id", "reason"]
    assert sent["data"]["reason"].startswith("The operator's wallet refused ticket_create: Injected refusal")


def test_a_wallet_answer_that_comes_after_the_sweep_discarded_the_sale_does_not_sell_it(pam_engine, wallet, player):
    token, _ = player
    wallet.fault("slow", "ticket_create", seconds=1)
    answered: dict = {}

    def selling() -> None:
        try:
            sell(pam_engine, token)
        except WalletUnavailable as late:
            answered["error"] = late

    thread = threading.Thread(target=selling)
    thread.start()
    time.sleep(0.3)
    pam_engine.clock.move(seconds=2 * SETTINGS.timeout + 11)
    assert pam_engine.outbox.discard_stale_sales() == 1
    thread.join()
    assert "discarded before the wallet's answer came" in answered["error"].message
    ticket = only_ticket(pam_engine)
    assert ticket.status == "cancelled"
    assert [a for a, _ in outbox_of(pam_engine, ticket.id)] == ["ticket_create", "ticket_discard"]


def test_the_admin_command_points_an_operator_at_its_wallet_and_back(databases, wallet, player):
    token, _ = player
    db = databases.make("admin-wallet")
    seed_shop(db)
    assert admin_command(db, "wallet", "--operator", "site", "--pam", wallet.url).returncode == 2, (
        "a PAM needs a secret"
    )
    made = admin_command(db, "wallet", "--operator", "site", "--pam", wallet.url, "--secret", WALLET_SECRET)
    assert made.returncode == 0, made.stderr
    assert WALLET_SECRET not in made.stdout + made.stderr
    engine = TicketEngine(Store(database_url(db)))
    try:
        assert sell(engine, token).status == "open"
    finally:
        engine.close()
    assert admin_command(db, "wallet", "--operator", "site", "--internal").returncode == 0
    with Store(database_url(db)).read() as conn:
        assert conn.execute(select(operators.c.wallet, operators.c.wallet_url)).all() == [("internal", None)]
    assert admin_command(db, "wallet", "--operator", "nobody", "--internal").returncode == 1


def admin_command(db, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "ticketing.admin", *args],
        cwd=PROJECT_ROOT,
        env={"TICKETING_DB": str(db), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
    )
