"""The Wallet page under AppTest: an admin sees each message and its state, retries the failed ones and reconciles;
an operator without a PAM is told there is nothing to see; a till looks up a player's balance."""

import time

import pytest
from streamlit.testing.v1 import AppTest

from tests.support import APP, SITE_ADMIN, SITE_TILL, sample_request
from tests.wallets.support import WALLET_SECRET, new_player, reference_wallet
from ticketing.contract.errors import WalletRefused
from ticketing.embedded import open_engine
from ticketing.settings import DEMO_ADMIN_KEY_ID, DEMO_ADMIN_SECRET, Settings


@pytest.fixture(scope="module")
def wallet(tmp_path_factory):
    """Its own wallet: these tests have no database backend to run once per."""
    with reference_wallet(tmp_path_factory.mktemp("wallet")) as server:
        yield server


@pytest.fixture
def terminal(tmp_path, monkeypatch):
    """The pages' embedded engine and the test's share one SQLite file; the pages act for the demo admin."""
    monkeypatch.setenv("TICKETING_DB", str(tmp_path / "shop.sqlite3"))
    monkeypatch.setenv("TICKETING_SIMULATOR", "off")
    monkeypatch.delenv("TICKETING_API_URL", raising=False)
    monkeypatch.setenv("TICKETING_ADMIN_KEY_ID", DEMO_ADMIN_KEY_ID)
    monkeypatch.setenv("TICKETING_ADMIN_SECRET", DEMO_ADMIN_SECRET)
    return monkeypatch


@pytest.fixture
def pam_shop(terminal, wallet):
    terminal.setenv("TICKETING_SITE_WALLET_URL", wallet.url)
    terminal.setenv("TICKETING_SITE_WALLET_SECRET", WALLET_SECRET)
    terminal.setenv("TICKETING_WALLET_TIMEOUT", "2")
    wallet.clear_faults()
    engine = open_engine(Settings.from_env())
    yield engine
    engine.close()


def wallet_page() -> AppTest:
    at = AppTest.from_file(APP, default_timeout=30).run()
    return at.switch_page("pages/wallet.py").run()


def eventually(condition, what: str, seconds: float = 20):
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for: {what}"
        time.sleep(0.1)


def test_an_admin_sees_a_failed_message_retries_it_and_reconciles_to_no_difference(pam_shop, wallet):
    token, _ = new_player(wallet)
    wallet.fault("refuse", "ticket_create")
    wallet.fault("refuse", "ticket_discard")
    with pytest.raises(WalletRefused):
        pam_shop.create_ticket(SITE_TILL, sample_request(token=token))
    eventually(lambda: pam_shop.wallet_messages(SITE_ADMIN, state="failed"), "the discard refused")
    at = wallet_page()
    assert {m.label: m.value for m in at.metric}["Failed"] == "1"
    shown = at.dataframe[0].value
    assert shown[["action", "state"]].values.tolist() == [["ticket_discard", "failed"], ["ticket_create", "discarded"]]
    assert "Injected refusal" in shown["last error"].iloc[0]
    at = at.button(key="wallet_retry").click().run()
    assert at.info[0].value == "1 message(s) sent again."
    eventually(lambda: not pam_shop.wallet_messages(SITE_ADMIN, state="failed"), "the retried discard delivered")
    at = at.button(key="wallet_reconcile").click().run()
    assert at.success[0].value.startswith("No difference")


def test_an_operator_without_a_pam_is_told_there_is_nothing_to_reconcile(terminal):
    at = wallet_page()
    assert "engine's own accounts" in at.info[0].value
    assert not at.dataframe


def test_a_till_looks_up_a_players_balance_in_the_wallet(pam_shop, wallet):
    token, player_id = new_player(wallet, balance_cents=123456)
    at = wallet_page()
    at = at.text_input(key="wallet_player_token").input(token).run()
    assert f"Player {player_id}: KES 1,234.56 (pam wallet)" in [m.value for m in at.markdown]
    assert token not in str([m.value for m in at.markdown])
