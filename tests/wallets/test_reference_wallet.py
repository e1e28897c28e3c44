"""The reference wallet, spoken to as the engine speaks to it (`PamClient`): it checks signatures, refuses unknown
players and short balances, applies each action once, and its ledger says what happened to each ticket."""

import secrets
from dataclasses import replace

import httpx
import pytest

from tests.wallets.support import PAM_PLAYER, PAM_TOKEN, WALLET_SECRET, reference_wallet
from ticketing.contract.errors import InvalidToken, WalletRefused, WalletUnavailable
from ticketing.selling.pricing import TaxProfile
from ticketing.wallets.pam import PamClient, PamTicket

TAXES = TaxProfile()


@pytest.fixture(scope="module")
def wallet(tmp_path_factory):
    """Its own wallet: these tests have no database backend to run once per."""
    with reference_wallet(tmp_path_factory.mktemp("wallet")) as server:
        yield server


@pytest.fixture
def pam(wallet):
    client = PamClient("site", wallet.url, WALLET_SECRET, timeout=2)
    yield client
    client.close()


def a_ticket(price: int = 2500, net_payout: int = 9000) -> PamTicket:
    return PamTicket(
        ticket_id=secrets.token_hex(12),
        code="ABCDEF",
        player_id=PAM_PLAYER,
        price=price,
        stake=price,
        wht_amount=1000,
        ext_amount=0,
        gross_payout=net_payout + 1000,
        net_payout=net_payout,
        currency="KES",
        atag=None,
        ticket_type="jackpot",
    )


def send(pam: PamClient, action: str, ticket: PamTicket, sequence: int | None = None, **changes) -> str:
    """One call; with a `sequence`, the engine's message id for it (`{ticket_id}-{action}-{sequence}`)."""
    message_id = None if sequence is None else f"{ticket.ticket_id}-{action}-{sequence}"
    return pam.send(action, ticket.data("site", TAXES, **changes), message_id)["status"]


def test_identify_resolves_a_known_token_and_refuses_an_unknown_one(pam):
    player = pam.identify(PAM_TOKEN)
    assert (player.player_id, player.currency) == (PAM_PLAYER, "KES")
    with pytest.raises(InvalidToken):
        pam.identify("nobody-has-this-token")


def test_a_forged_or_unsigned_call_is_refused(wallet):
    forged = PamClient("site", wallet.url, "NOT-THE-SECRET")
    with pytest.raises(WalletRefused) as refused:
        send(forged, "ticket_create", a_ticket())
    assert refused.value.details["wallet_status"] == 403
    unsigned = httpx.post(wallet.url, content=b'{"action":"identify","data":{"operator":"site","token":"x"}}')
    assert unsigned.status_code == 403


def test_a_create_takes_the_price_once_however_often_it_is_sent(pam, wallet):
    before = wallet.balance()
    ticket = a_ticket()
    assert send(pam, "ticket_create", ticket, 0) == "applied"
    assert send(pam, "ticket_create", ticket, 0) == "duplicate"
    assert send(pam, "ticket_create", ticket) == "duplicate"
    assert wallet.balance() == before - 2500


def test_a_short_balance_and_an_unknown_player_are_refused_and_take_nothing(pam, wallet):
    before = wallet.balance()
    with pytest.raises(WalletRefused) as short:
        send(pam, "ticket_create", a_ticket(price=before + 1))
    assert short.value.details["wallet_code"] == 110
    with pytest.raises(WalletRefused) as unknown:
        send(pam, "ticket_create", replace(a_ticket(), player_id="pam-9999"))
    assert unknown.value.details["wallet_code"] == 101
    assert wallet.balance() == before


def test_a_discard_gives_the_price_back_and_a_late_create_is_then_refused(pam, wallet):
    before = wallet.balance()
    ticket = a_ticket()
    send(pam, "ticket_create", ticket)
    send(pam, "ticket_discard", ticket, reason="the engine gave up")
    assert wallet.balance() == before
    late = a_ticket()
    send(pam, "ticket_discard", late, reason="no answer")
    with pytest.raises(WalletRefused) as refused:
        send(pam, "ticket_create", late)
    assert refused.value.details["wallet_code"] == 104
    assert wallet.balance() == before


def test_win_rollback_and_a_new_outcome_each_apply_once_and_a_late_duplicate_is_ignored(pam, wallet):
    before = wallet.balance()
    ticket = a_ticket(price=2500, net_payout=9000)
    send(pam, "ticket_create", ticket, 0)
    assert send(pam, "ticket_win", ticket, 0) == "applied"
    assert send(pam, "ticket_win", ticket, 0) == "duplicate"
    assert wallet.balance() == before - 2500 + 9000
    assert send(pam, "ticket_rollback", ticket, 0, reason="results corrected") == "applied"
    assert wallet.balance() == before - 2500
    assert send(pam, "ticket_win", ticket, 0) == "duplicate", "a late copy of the first win is not a second win"
    assert send(pam, "ticket_lost", ticket, 0) == "applied"
    assert send(pam, "ticket_closed", ticket, 0) == "applied"
    with pytest.raises(WalletRefused):
        send(pam, "ticket_rollback", ticket, 1, reason="too late")
    assert wallet.balance() == before - 2500


def test_an_update_sets_the_amounts_the_win_pays_and_a_rollback_restores_the_sold_ones(pam, wallet):
    before = wallet.balance()
    ticket = a_ticket(price=1000, net_payout=50000)
    send(pam, "ticket_create", ticket)
    send(pam, "ticket_update", ticket, gross_payout=1500, wht_amount=100, net_payout=1400)
    send(pam, "ticket_win", ticket)
    assert wallet.balance() == before - 1000 + 1400
    send(pam, "ticket_rollback", ticket, reason="results corrected")
    send(pam, "ticket_win", ticket)
    assert wallet.balance() == before - 1000 + 50000


def test_the_ledger_lists_each_tickets_state_and_every_movement(pam, wallet):
    ticket = a_ticket(price=700)
    send(pam, "ticket_create", ticket)
    send(pam, "ticket_void", ticket, gross_payout=700, wht_amount=0, net_payout=700)
    ledger = wallet.ledger()
    assert {"ticket_id": ticket.ticket_id, "state": "void", "closed": 0} in ledger["tickets"]
    moves = [(e["action"], e["amount"]) for e in ledger["entries"] if e["ticket_id"] == ticket.ticket_id]
    assert moves == [("ticket_create", -700), ("ticket_void", 700)]


def test_injected_faults_fail_the_next_call_as_asked(pam, wallet):
    wallet.fault("error", "ticket_create")
    with pytest.raises(WalletUnavailable) as error:
        send(pam, "ticket_create", a_ticket())
    assert error.value.details["reason"] == "answer"
    wallet.fault("slow", "ticket_create", seconds=3)
    ticket = a_ticket()
    with pytest.raises(WalletUnavailable) as slow:
        send(pam, "ticket_create", ticket)
    assert slow.value.details["reason"] == "timeout"
    with pytest.raises(WalletUnavailable) as down:
        send(PamClient("site", "http://127.0.0.1:9/pam", WALLET_SECRET, timeout=2), "ticket_create", a_ticket())
    assert down.value.details["reason"] == "connection"
