"""The wallet over HTTP, on a real engine server selling through the reference wallet: a wallet's refusal or silence
is a clear error of its own (never a 500); an admin sees each ticket's messages, retries the failed ones and
reconciles; a till sees a player's balance and nothing of the outbox."""

import time

import pytest

from tests.servers import engine_server
from tests.support import Api, sample_body, seed_shop
from tests.wallets.support import WALLET_SECRET, new_player
from ticketing.client import TicketingClient
from ticketing.contract import wire
from ticketing.contract.errors import NotAllowed
from ticketing.settings import DEMO_ADMIN_KEY_ID, DEMO_ADMIN_SECRET, DEMO_SITE_SECRET


@pytest.fixture(scope="module")
def server(module_databases, wallet, tmp_path_factory):
    db = module_databases.make("wallet-http")
    seed_shop(db)
    env = {
        "TICKETING_SITE_WALLET_URL": wallet.url,
        "TICKETING_SITE_WALLET_SECRET": WALLET_SECRET,
        "TICKETING_WALLET_TIMEOUT": "2",
        "TICKETING_WALLET_POLL_SECONDS": "0.1",
    }
    with engine_server(db, tmp_path_factory.mktemp("engine") / "uvicorn.log", extra_env=env) as (url, _process):
        yield url


@pytest.fixture
def till(server, wallet):
    wallet.clear_faults()
    with Api(server) as api:
        yield api


@pytest.fixture
def admin(server):
    with TicketingClient(server, "site", DEMO_ADMIN_SECRET, key_id=DEMO_ADMIN_KEY_ID) as client:
        yield client


def eventually(condition, what: str, seconds: float = 20):
    deadline = time.monotonic() + seconds
    while not (found := condition()):
        assert time.monotonic() < deadline, f"timed out waiting for: {what}"
        time.sleep(0.05)
    return found


def test_a_refusal_is_400_140_and_no_answer_is_503_141_never_a_500(till, wallet):
    token, _ = new_player(wallet, balance_cents=1000)
    refused = till.post_ticket(sample_body(token=token))
    assert (refused.status_code, refused.json()["code"], refused.json()["wallet_code"]) == (400, 140, 110)
    token, _ = new_player(wallet)
    wallet.fault("error", "ticket_create")
    silent = till.post_ticket(sample_body(token=token))
    assert (silent.status_code, silent.json()["code"], silent.json()["reason"]) == (503, 141, "answer")
    sold = till.post_ticket(sample_body(token=token))
    assert (sold.status_code, sold.json()["status"]) == (200, "open")


def test_an_admin_sees_a_tickets_messages_retries_a_failed_one_and_reconciles(till, admin, wallet):
    token, _ = new_player(wallet)
    wallet.fault("refuse", "ticket_create")
    wallet.fault("refuse", "ticket_discard")
    assert till.post_ticket(sample_body(token=token)).status_code == 400
    failed = eventually(lambda: admin.wallet_messages(state="failed"), "the discard failed")
    (discard,) = failed
    code = discard.code
    assert discard.action == "ticket_discard" and "Injected refusal" in discard.last_error
    assert [(m.action, m.state) for m in admin.wallet_messages(ticket=code)] == [
        ("ticket_create", "discarded"),
        ("ticket_discard", "failed"),
    ]
    assert admin.wallet_status().messages.get("failed") == 1
    assert admin.retry_wallet_messages(ticket=code) == 1
    eventually(lambda: admin.wallet_messages(ticket=code)[-1].state == "delivered", "the retried discard delivered")
    sold = till.post_ticket(sample_body(token=token))
    assert sold.status_code == 200
    report = admin.reconcile_wallet()
    assert report.differences == [] and report.engine.debited == report.wallet.debited > 0


def test_a_till_sees_a_players_balance_and_nothing_of_the_outbox(till, admin, wallet):
    token, player_id = new_player(wallet, balance_cents=123456)
    response = till.request("POST", "/be/wallet/player", wire.dumps({"token": token}))
    assert response.status_code == 200, response.text
    assert wire.loads(response.content) == {
        "player_id": player_id,
        "balance": wire.loads(b"1234.56"),
        "currency": "KES",
        "wallet": "pam",
    }
    assert token not in response.text
    unknown = till.request("POST", "/be/wallet/player", wire.dumps({"token": "nobody"}))
    assert (unknown.status_code, unknown.json()["code"]) == (403, 120)
    for path in ("/be/wallet", "/be/wallet/outbox", "/be/wallet/reconciliation"):
        refused = till.request("GET", path)
        assert (refused.status_code, refused.json()["code"]) == (403, 122), path
    with pytest.raises(NotAllowed):
        admin.wallet_player(token)


def test_the_wallet_status_names_the_url_never_the_secret(admin, wallet):
    status = admin.wallet_status()
    assert (status.wallet, status.url) == ("pam", wallet.url)
    assert WALLET_SECRET not in status.model_dump_json() and DEMO_SITE_SECRET not in status.model_dump_json()


def test_a_message_id_beyond_the_outboxs_ids_is_422_not_a_500(server):
    with Api(server, secret=DEMO_ADMIN_SECRET, key_id=DEMO_ADMIN_KEY_ID) as admin_api:
        beyond = admin_api.request("POST", "/be/wallet/outbox/retry", wire.dumps({"message_id": 2**31}))
        assert (beyond.status_code, beyond.json()["code"]) == (422, 90), beyond.text
        largest = admin_api.request("POST", "/be/wallet/outbox/retry", wire.dumps({"message_id": 2**31 - 1}))
        assert (largest.status_code, largest.json()["code"]) == (404, 143), largest.text
