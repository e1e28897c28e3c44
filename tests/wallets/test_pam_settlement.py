"""After the sale, for a PAM operator: every outcome, correction, cancellation and close reaches the wallet through
the outbox, once, in order per ticket, with the exact bodies Betstack sends; on SQLite and PostgreSQL."""

import hashlib
import hmac
from decimal import Decimal as D

import pytest
from sqlalchemy import update

from tests.support import SITE_ADMIN, SITE_TILL
from tests.wallets.support import WALLET_SECRET, drain, outbox_of, sell, stored, write_unanswered_sale
from ticketing.contract import wire
from ticketing.contract.errors import NotAllowed, TicketNotPayable
from ticketing.contract.models import EventResult
from ticketing.storage import wallet_outbox
from ticketing.wallets.outbox import list_messages, retry


def cents(amount: D) -> int:
    return int(amount * 100)


def after_deadline(engine, hours: float = 1) -> None:
    engine.clock.now = engine.get_coupon(SITE_TILL, "455").closes_at
    engine.clock.move(hours=hours)


def enter(engine, results: str) -> None:
    """Results of coupon 455 from a string like a pick string, `V` for void: the last one settles the coupon."""
    for event, label in zip(engine.get_coupon(SITE_TILL, "455").events, results, strict=True):
        engine.enter_result(SITE_ADMIN, "455", event.id, EventResult.VOID if label == "V" else EventResult(label))


def correct(engine, position: int, label: str) -> None:
    event = engine.get_coupon(SITE_TILL, "455").events[position]
    engine.enter_result(SITE_ADMIN, "455", event.id, EventResult(label))


def received(wallet, ticket_id: str) -> list[tuple[str, str]]:
    return [(r["action"], r["outcome"]) for r in wallet.received(ticket_id)]


def test_settlement_sends_each_outcome_once_as_betstack_writes_it_and_closes_after_the_window(
    pam_engine, wallet, player
):
    token, _ = player
    before = wallet.balance(token)
    winner, loser = sell(pam_engine, token, "1111111"), sell(pam_engine, token, "2111111")
    after_deadline(pam_engine)
    enter(pam_engine, "1111111")
    drain(pam_engine)
    assert outbox_of(pam_engine, winner.id) == [
        ("ticket_create", "delivered"),
        ("ticket_win", "delivered"),
        ("ticket_closed", "pending"),
    ]
    assert [a for a, _ in outbox_of(pam_engine, loser.id)] == ["ticket_create", "ticket_lost", "ticket_closed"]
    assert wallet.balance(token) == before - 5000 + cents(winner.net_payout)
    (win,) = pam_engine.recording.bodies("ticket_win")
    assert win.content == f'{{"action":"ticket_win","data":{{"operator":"site","ticket_id":"{winner.id}"}}}}'.encode()
    signed = hmac.new(WALLET_SECRET.encode(), win.headers["timestamp"].encode() + win.content, hashlib.sha256)
    assert win.headers["signature"] == signed.hexdigest()
    assert win.headers["message-id"] == f"{winner.id}-ticket_win-0"

    pam_engine.clock.move(hours=23)
    drain(pam_engine)
    assert pam_engine.recording.bodies("ticket_closed") == [], "not before the correction window has passed"
    pam_engine.clock.move(hours=1)
    drain(pam_engine)
    assert received(wallet, winner.id)[-1] == ("ticket_closed", "applied")
    assert received(wallet, loser.id) == [
        ("ticket_create", "applied"),
        ("ticket_lost", "applied"),
        ("ticket_closed", "applied"),
    ]


def test_a_pam_winner_is_credited_by_its_wallet_not_paid_in_cash(pam_engine, player):
    token, _ = player
    winner = sell(pam_engine, token, "1111111")
    after_deadline(pam_engine)
    enter(pam_engine, "1111111")
    settled = pam_engine.get_ticket(SITE_TILL, winner.code).settlement
    assert settled.credited == winner.net_payout
    with pytest.raises(TicketNotPayable) as refused:
        pam_engine.pay_out(SITE_TILL, winner.code)
    assert refused.value.details["reason"] == "credited"


def test_a_correction_rolls_back_then_sends_the_new_outcome_and_each_round_is_applied(pam_engine, wallet, player):
    token, _ = player
    before = wallet.balance(token)
    ticket = sell(pam_engine, token, "1111111")
    after_deadline(pam_engine)
    enter(pam_engine, "1111111")
    drain(pam_engine)
    correct(pam_engine, 0, "2")
    assert stored(pam_engine, ticket.id).result == "lost"
    assert outbox_of(pam_engine, ticket.id)[1:] == [
        ("ticket_win", "delivered"),
        ("ticket_closed", "cancelled"),
        ("ticket_rollback", "pending"),
        ("ticket_lost", "pending"),
        ("ticket_closed", "pending"),
    ]
    drain(pam_engine)
    assert wallet.balance(token) == before - 2500
    correct(pam_engine, 0, "1")
    drain(pam_engine)
    assert wallet.balance(token) == before - 2500 + cents(ticket.net_payout)
    ids = [r["message_id"] for r in wallet.received(ticket.id)]
    assert ids == [
        f"{ticket.id}-{m}"
        for m in (
            "ticket_create-0",
            "ticket_win-0",
            "ticket_rollback-0",
            "ticket_lost-0",
            "ticket_rollback-1",
            "ticket_win-1",
        )
    ]
    rollback = wire.loads(pam_engine.recording.bodies("ticket_rollback")[0].content)
    assert rollback == {
        "action": "ticket_rollback",
        "data": {"operator": "site", "ticket_id": ticket.id, "reason": "results corrected"},
    }


def test_a_winner_whose_amounts_changed_gets_a_ticket_update_before_its_win(pam_engine, wallet, player):
    """A void leg is paid at odds 1.00: the settled payout is not the sold one, so the wallet is told first."""
    token, _ = player
    before = wallet.balance(token)
    ticket = sell(pam_engine, token, "1111111", stake="100")
    after_deadline(pam_engine)
    enter(pam_engine, "V111111")
    drain(pam_engine)
    settled = pam_engine.get_ticket(SITE_TILL, ticket.code).settlement
    assert settled.payout < ticket.payout
    assert [a for a, _ in outbox_of(pam_engine, ticket.id)] == [
        "ticket_create",
        "ticket_update",
        "ticket_win",
        "ticket_closed",
    ]
    update_ = wire.loads(pam_engine.recording.bodies("ticket_update")[0].content)["data"]
    assert list(update_)[-1] == "psp" and update_["psp"] is None
    assert (update_["gross_payout"], update_["wht_amount"], update_["net_payout"]) == (
        cents(settled.payout),
        cents(settled.tax),
        cents(settled.net_payout),
    )
    assert (update_["price"], update_["ticket_code"]) == (10000, ticket.code)
    assert wallet.balance(token) == before - 10000 + cents(settled.net_payout)


def test_a_cancelled_coupon_sends_ticket_void_with_the_refund_as_its_amounts(pam_engine, wallet, player):
    token, _ = player
    before = wallet.balance(token)
    ticket = sell(pam_engine, token, stake="40")
    pam_engine.cancel_coupon(SITE_ADMIN, "455")
    drain(pam_engine)
    void = wire.loads(pam_engine.recording.bodies("ticket_void")[0].content)["data"]
    assert list(void) == [
        "operator",
        "ticket_id",
        "price",
        "stake",
        "wht_amount",
        "wht",
        "ext_amount",
        "ext",
        "ext_type",
        "gross_payout",
        "net_payout",
        "currency",
    ]
    assert (void["ticket_id"], void["gross_payout"], void["wht_amount"], void["net_payout"]) == (
        ticket.id,
        4000,
        0,
        4000,
    )
    assert wallet.balance(token) == before


def test_a_cancellation_at_the_till_sends_ticket_refund_and_gives_the_stake_back(pam_engine, wallet, player):
    token, _ = player
    before = wallet.balance(token)
    ticket = sell(pam_engine, token)
    cancelled = pam_engine.cancel_ticket(SITE_TILL, ticket.code)
    assert cancelled.settlement.credited == D("25.00")
    drain(pam_engine)
    refund = wire.loads(pam_engine.recording.bodies("ticket_refund")[0].content)["data"]
    assert refund == {"operator": "site", "ticket_id": ticket.id, "reason": "cancelled by till site"}
    assert wallet.balance(token) == before
    assert [a for a, _ in outbox_of(pam_engine, ticket.id)] == ["ticket_create", "ticket_refund", "ticket_closed"]


def test_a_message_delivered_twice_is_applied_once(pam_engine, wallet, player):
    """The engine died after the wallet applied a win and before it recorded the answer: it sends the win again."""
    token, _ = player
    ticket = sell(pam_engine, token, "1111111")
    after_deadline(pam_engine)
    enter(pam_engine, "1111111")
    drain(pam_engine)
    credited = wallet.balance(token)
    with pam_engine.store.write() as conn:
        conn.execute(
            update(wallet_outbox)
            .where(wallet_outbox.c.ticket_id == ticket.id, wallet_outbox.c.action == "ticket_win")
            .values(state="pending", delivered_at=None)
        )
    drain(pam_engine)
    assert received(wallet, ticket.id)[1:] == [("ticket_win", "applied"), ("ticket_win", "duplicate")]
    assert wallet.balance(token) == credited


def test_a_tickets_messages_wait_for_its_earlier_ones_however_long_they_take(pam_engine, wallet, player):
    token, _ = player
    ticket = sell(pam_engine, token, "1111111")
    wallet.fault("error", "ticket_win", times=2)
    after_deadline(pam_engine)
    enter(pam_engine, "1111111")
    correct(pam_engine, 0, "2")
    drain(pam_engine)
    assert pam_engine.recording.bodies("ticket_rollback") == [], "the rollback waits for the win it undoes"
    for _ in range(3):
        pam_engine.clock.move(minutes=1)
        drain(pam_engine)
    assert received(wallet, ticket.id) == [
        ("ticket_create", "applied"),
        ("ticket_win", "applied"),
        ("ticket_rollback", "applied"),
        ("ticket_lost", "applied"),
    ]
    with pam_engine.store.read() as conn:
        (win,) = [m for m in list_messages(conn, "site", ticket.id) if m.action == "ticket_win"]
    assert (win.state, win.attempts) == ("delivered", 3)


def test_a_refused_message_is_failed_shown_and_blocks_its_ticket_until_retried(pam_engine, wallet, player):
    token, _ = player
    ticket = sell(pam_engine, token, "2111111")
    wallet.fault("refuse", "ticket_lost")
    after_deadline(pam_engine)
    enter(pam_engine, "1111111")
    drain(pam_engine)
    with pam_engine.store.read() as conn:
        (lost,) = [m for m in list_messages(conn, "site", ticket.id) if m.action == "ticket_lost"]
    assert lost.state == "failed" and "Injected refusal" in lost.last_error
    pam_engine.clock.move(hours=25)
    drain(pam_engine)
    assert outbox_of(pam_engine, ticket.id)[-1] == ("ticket_closed", "pending"), "blocked behind the failed one"
    with pam_engine.store.write() as conn:
        assert retry(conn, "site", pam_engine.clock().replace(tzinfo=None), ticket_id=ticket.id) == 1
    drain(pam_engine)
    assert [state for _, state in outbox_of(pam_engine, ticket.id)] == ["delivered"] * 3


def test_a_message_never_answered_is_failed_after_its_attempts(pam_engine, wallet, player):
    token, _ = player
    ticket = sell(pam_engine, token, "2111111")
    wallet.fault("error", "ticket_lost", times=10)
    after_deadline(pam_engine)
    enter(pam_engine, "1111111")
    for _ in range(6):
        drain(pam_engine)
        pam_engine.clock.move(minutes=5)
    with pam_engine.store.read() as conn:
        (lost,) = [m for m in list_messages(conn, "site", ticket.id) if m.action == "ticket_lost"]
    assert (lost.state, lost.attempts) == ("failed", 4)
    assert "500" in lost.last_error


def test_a_sale_still_waiting_for_its_wallet_is_discarded_not_settled(pam_engine, player):
    token, _ = player
    sold = sell(pam_engine, token, "1111111")
    left = write_unanswered_sale(pam_engine, token)
    after_deadline(pam_engine)
    enter(pam_engine, "1111111")
    assert stored(pam_engine, left.id).status == "cancelled"
    assert stored(pam_engine, sold.id).status == "resulted"
    assert [a for a, _ in outbox_of(pam_engine, left.id)] == ["ticket_create", "ticket_discard"]
    assert pam_engine.settlement(SITE_ADMIN, "455").tickets == 1


def test_only_an_admin_sees_retries_and_reconciles_the_outbox_and_only_a_till_looks_up_a_player(pam_engine, player):
    token, player_id = player
    for look in (pam_engine.wallet_status, pam_engine.wallet_messages, pam_engine.retry_wallet_messages):
        with pytest.raises(NotAllowed):
            look(SITE_TILL)
    with pytest.raises(NotAllowed):
        pam_engine.reconcile_wallet(SITE_TILL)
    with pytest.raises(NotAllowed):
        pam_engine.wallet_player(SITE_ADMIN, token)
    assert pam_engine.wallet_player(SITE_TILL, token).player_id == player_id
    assert pam_engine.reconcile_wallet(SITE_ADMIN).operator == "site"
