"""The pure parts of the screens after the sale: results typed as a string, the counter's verdict, the shift's cash
operations, and the demo round (its coupon, its results drawn from the odds, the round played on an engine)."""

import io
from collections import Counter
from datetime import UTC, datetime, timedelta
from decimal import Decimal as D
from zoneinfo import ZoneInfo

import pandas as pd
import pytest
from sqlalchemy import text

from terminal_ui.after_sale import AfterSaleCalls
from terminal_ui.demo_round import DemoRound, Phase, _settled_words
from tests.support import SITE_ADMIN, SITE_TILL, sample_request, till_of
from ticketing.access.acting import ActingEngine
from ticketing.contract.errors import DrawerShort
from ticketing.contract.models import BETS_BY_LABEL, Coupon, EventResult, TicketQuery
from ticketing.coupons.check import check_coupon_data
from ticketing.demo.data import DEMO_TILL_FLOAT, PLAYER_TOKEN, seed_demo_data
from ticketing.demo.round import demo_round_coupon, draw_results, result_chances
from ticketing.settings import DEMO_SITE_SECRET
from ticketing.settlement.counter import VerdictKind, verdict
from ticketing.settlement.result_string import ResultStringError, parse_result_string, result_string
from ticketing.shifts.report import (
    from_spreadsheet_text,
    operations_frame,
    operations_to_csv,
    shift_figures,
    tickets_frame,
    to_csv,
)

H, X, A, V = EventResult.HOME, EventResult.DRAW, EventResult.AWAY, EventResult.VOID
ZONE = ZoneInfo("Africa/Nairobi")
TILL = "till-1"
NOW = datetime(2030, 5, 1, 12, 0, tzinfo=UTC)


# ---- results typed as a string -------------------------------------------------------------------------------------


def test_a_results_string_reads_like_a_pick_string_with_void_and_not_in_yet():
    assert parse_result_string(" 1x2 0v- ", 6) == [H, X, A, X, V, None]
    assert result_string([H, X, A, X, V, None]) == "1X2XV-"


@pytest.mark.parametrize("typed, problem", [("1X2", "6 results needed, got 3"), ("1X2A--", "'A' at position 4")])
def test_a_wrong_results_string_says_what_is_wrong(typed, problem):
    with pytest.raises(ResultStringError, match=problem):
        parse_result_string(typed, 6)


# ---- the demo round -------------------------------------------------------------------------------------------------


def test_the_demo_coupon_passes_the_coupon_check_and_closes_when_asked():
    raw = demo_round_coupon(NOW, seed=7, events=6, closes_in=timedelta(minutes=3))
    report = check_coupon_data(raw, [], ["KES"], NOW)
    assert report.publishable, report.problems
    coupon = report.coupon
    assert coupon.closes_at == NOW + timedelta(minutes=3) and len(coupon.events) == 6
    assert coupon.bonus_prizes == {5: D("500.00")}
    assert demo_round_coupon(NOW, seed=7) == raw, "the same seed builds the same coupon"
    assert demo_round_coupon(NOW, seed=8)["events"] != raw["events"]


def test_the_demo_coupon_is_named_by_its_deadline_in_the_operators_zone():
    """Named "Demo round 09:37" (UTC) on screens that said it closes at 12:37 (Nairobi)."""
    raw = demo_round_coupon(NOW, seed=7, closes_in=timedelta(minutes=3), zone=ZONE)
    assert (raw["id"], raw["name"]) == ("DEMO-0501-150300", "Demo round 15:03")
    assert raw["closes_at"] == "2030-05-01T12:03:00+00:00"


def test_results_are_drawn_with_the_odds_chances_and_the_same_seed_draws_the_same():
    raw = demo_round_coupon(NOW, seed=1, events=1)
    raw["events"][0]["odds"] = {"101": "1.25", "102": "5.00", "103": "10.00"}
    coupon = Coupon.model_validate(raw)
    chances = result_chances(coupon.events[0].odds)
    assert chances[H] == pytest.approx(0.8 / 1.1) and sum(chances.values()) == pytest.approx(1)
    drawn = Counter(draw_results(coupon, seed)[coupon.events[0].id] for seed in range(2000))
    for result, chance in chances.items():
        assert drawn[result] / 2000 == pytest.approx(chance, abs=0.04), drawn
    assert draw_results(coupon, 42) == draw_results(coupon, 42)


def demo_round(engine, automatic: bool) -> tuple[DemoRound, Coupon]:
    calls = AfterSaleCalls(ActingEngine(engine, till_of(TILL)), TILL, ActingEngine(engine, SITE_ADMIN))
    now = engine.clock()
    coupon = calls.publish_coupon(demo_round_coupon(now, seed=3, closes_in=timedelta(minutes=3)))
    return DemoRound(calls, coupon, seed=3, play_automatically=automatic, clock=lambda: engine.clock()), coupon


def test_a_demo_round_moves_its_odds_until_the_deadline_then_plays_every_match_and_settles(engine):
    round_, coupon = demo_round(engine, automatic=True)
    engine.open_shift(till_of(TILL), D("100000.00"))
    ticket = engine.create_ticket(till_of(TILL), sample_request(coupon_id=coupon.id, stake="10", bets=[101] * 6))
    odds_before = {e.id: e.odds for e in engine.get_coupon(SITE_TILL, coupon.id).events}
    assert round_.step() is not None and round_.phase == Phase.SELLING
    assert {e.id: e.odds for e in engine.get_coupon(SITE_TILL, coupon.id).events} != odds_before, "odds moved"

    closes_at = coupon.closes_at
    engine.clock = lambda: closes_at + timedelta(seconds=1)
    closed = engine.get_coupon(SITE_TILL, coupon.id)
    steps = 0
    while round_.step() is not None:
        steps += 1
        assert round_.phase == Phase.PLAYING
        assert engine.settlement(SITE_ADMIN, coupon.id).results_known == steps, "one match ends at a time"
    assert round_.phase == Phase.SETTLED and round_.entered == 6
    summary = engine.settlement(SITE_ADMIN, coupon.id)
    assert summary.status == "resulted" and summary.results == draw_results(closed, 3)
    assert engine.get_ticket(SITE_TILL, ticket.code).settlement is not None


def test_the_demo_panel_tells_the_round_as_corrected_not_as_first_settled(engine):
    """After a correction on the Results page made a winner, the panel still said "0 winner(s)" with the first
    results, and "Pay them" when there was nobody to pay."""
    round_, coupon = demo_round(engine, automatic=True)
    engine.open_shift(till_of(TILL), D("100000.00"))
    engine.create_ticket(till_of(TILL), sample_request(coupon_id=coupon.id, stake="10", bets=[102] * 6))
    closes_at = coupon.closes_at
    engine.clock = lambda: closes_at + timedelta(seconds=1)
    while round_.step() is not None:
        pass
    calls = AfterSaleCalls(ActingEngine(engine, till_of(TILL)), TILL, ActingEngine(engine, SITE_ADMIN))
    assert engine.settlement(SITE_ADMIN, coupon.id).winners == 0  # seed 3 draws no six draws
    assert _settled_words(calls, coupon, round_.summary).endswith("0 winner(s), 0 bonus winner(s). Nobody to pay.")
    for event in coupon.events:
        engine.enter_result(SITE_ADMIN, coupon.id, event.id, X)
    shown = _settled_words(calls, coupon, round_.summary)
    assert f"settled (`{'X' * 6}`): 1 winner(s)" in shown and shown.endswith("Pay them on the Pay out page.")


def test_a_demo_round_played_by_hand_draws_the_results_and_enters_none(engine):
    round_, coupon = demo_round(engine, automatic=False)
    closes_at = coupon.closes_at
    engine.clock = lambda: closes_at + timedelta(seconds=1)
    assert round_.step() is None and round_.phase == Phase.DRAWN
    assert round_.drawn == draw_results(engine.get_coupon(SITE_TILL, coupon.id), 3)
    assert engine.settlement(SITE_ADMIN, coupon.id).results_known == 0


# ---- the counter's verdict and the shift's figures ---------------------------------------------------------------


def sell(engine, picks: str, stake="25"):
    return engine.create_ticket(till_of(TILL), sample_request(stake=stake, bets=[BETS_BY_LABEL[p] for p in picks]))


def settle_455(engine, results: str) -> None:
    closes_at = engine.get_coupon(SITE_TILL, "455").closes_at
    engine.clock = lambda: closes_at + timedelta(hours=1)
    for event, label in zip(engine.get_coupon(SITE_TILL, "455").events, results, strict=True):
        engine.enter_result(SITE_ADMIN, "455", event.id, EventResult(label))


def test_a_ticket_paid_before_a_correction_stays_already_paid_with_the_follow_up(engine):
    engine.open_shift(till_of(TILL), D("100000.00"))
    ticket = sell(engine, "1111111")
    assert verdict(engine.get_ticket(SITE_TILL, ticket.code), 0).kind == VerdictKind.WAITING
    settle_455(engine, "1111111")
    won = verdict(engine.get_ticket(SITE_TILL, ticket.code), 7)
    assert (won.kind, won.amount, won.payable) == (VerdictKind.WINNER, ticket.net_payout, True)
    engine.pay_out(till_of(TILL), ticket.code)
    engine.enter_result(SITE_ADMIN, "455", engine.get_coupon(SITE_TILL, "455").events[0].id, A)
    said = verdict(engine.get_ticket(SITE_TILL, ticket.code), 7)
    assert said.kind == VerdictKind.ALREADY_PAID and not said.payable
    assert "by till-1 · paid before correction" in said.detail


def test_the_shift_lists_its_cash_operations_and_tells_cancellations_from_refunds(engine):
    engine.open_shift(till_of(TILL), D("100.00"))
    winner = sell(engine, "1111111", stake="50")
    cancelled = sell(engine, "1X11111", stake="30")
    engine.cancel_ticket(till_of(TILL), cancelled.code)
    settle_455(engine, "1111111")
    with pytest.raises(DrawerShort, match="drawer holds KES 150.00"):
        engine.pay_out(till_of(TILL), winner.code)
    engine.add_cash(till_of(TILL), D("10000.00"))
    engine.pay_out(till_of(TILL), winner.code)
    shift = engine.current_shift(till_of(TILL))
    tickets = {t.id: t for t in engine.list_tickets(SITE_TILL, TicketQuery(limit=100))}
    figures = shift_figures(shift, tickets)
    assert (figures.sales, figures.sales_amount, figures.cancellations, figures.cancellations_amount) == (
        2,
        D("80.00"),
        1,
        D("30.00"),
    )
    assert (figures.cash_added, figures.cash_added_amount) == (1, D("10000.00"))
    assert figures.expected == D("100.00") + D("80.00") + D("10000.00") - D("30.00") - winner.net_payout
    frame = operations_frame(shift, tickets, ZONE)
    assert list(frame["kind"]) == ["stake", "stake", "refund", "cash_in", "payout"]
    assert list(frame["ticket_code"]) == [winner.code, cancelled.code, cancelled.code, "", winner.code]
    assert list(frame["payout_state"]) == ["paid", "cancelled, refunded", "cancelled, refunded", "", "paid"]
    back = pd.read_csv(io.BytesIO(operations_to_csv(frame)), dtype=str, keep_default_na=False)
    amounts = [D("50.00"), D("30.00"), D("-30.00"), D("10000.00"), -winner.net_payout]
    assert [D(v) for v in back["amount"]] == amounts


def test_the_desk_list_shows_each_tickets_payout_state_and_exports_it(engine):
    engine.open_shift(till_of(TILL), D("100000.00"))
    paid, unpaid, loser = sell(engine, "1111111"), sell(engine, "1111111"), sell(engine, "2111111")
    waiting = engine.create_ticket(till_of(TILL), sample_request(coupon_id="456", stake="50", bets=[101] * 13))
    player = engine.create_ticket(till_of(TILL), sample_request(token=PLAYER_TOKEN, bets=[101] * 7))
    settle_455(engine, "1111111")
    engine.pay_out(till_of(TILL), paid.code)
    frame = tickets_frame(engine.list_tickets(SITE_TILL, TicketQuery(limit=100)), ZONE).set_index("code")
    assert frame.loc[paid.code, "payout_state"] == "paid" and frame.loc[paid.code, "paid_by"] == TILL
    assert frame.loc[unpaid.code, "payout_state"] == "to pay" and frame.loc[unpaid.code, "owed"] == unpaid.net_payout
    assert frame.loc[loser.code, "payout_state"] == "not a winner" and frame.loc[loser.code, "owed"] == D("0.00")
    assert frame.loc[player.code, "payout_state"] == "credited"
    assert frame.loc[waiting.code, "payout_state"] == "waiting" and frame.loc[waiting.code, "owed"] is None
    back = pd.read_csv(io.BytesIO(to_csv(frame.reset_index())), dtype=str, keep_default_na=False)
    back = back.set_index(back["code"].map(from_spreadsheet_text))
    assert back.loc[paid.code, "paid_at"].startswith(str(engine.clock().astimezone(ZONE).year))
    assert back.loc[waiting.code, "owed"] == "" and back.loc[unpaid.code, "owed"] == f"{unpaid.net_payout:.2f}"


def test_a_new_demo_database_sells_at_once_in_its_tills_open_shift_and_a_restart_opens_no_other(engine):
    """The demo's till (the operator's Betstack key, the embedded terminal's) starts with its shift open, so that a
    demo sells at once; starting again keeps it, and after the cashier closes it no start opens another. A database
    whose shop account was removed starts too (its till's shift already open)."""
    opened = engine.current_shift(SITE_TILL)
    assert opened.float == DEMO_TILL_FLOAT
    sold = engine.create_ticket(SITE_TILL, sample_request(source="retail"))
    seed_demo_data(engine, DEMO_SITE_SECRET)
    assert engine.current_shift(SITE_TILL).id == opened.id and engine.current_shift(SITE_TILL).stakes == sold.stake
    with engine.store.write() as conn:
        conn.execute(text("DELETE FROM accounts WHERE kind = 'shop'"))
    seed_demo_data(engine, DEMO_SITE_SECRET)
    assert engine.current_shift(SITE_TILL).id == opened.id
    engine.close_shift(SITE_TILL, engine.current_shift(SITE_TILL).expected)
    seed_demo_data(engine, DEMO_SITE_SECRET)
    assert engine.current_shift(SITE_TILL) is None
