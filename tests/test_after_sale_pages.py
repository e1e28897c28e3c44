"""The screens after the sale under AppTest: pay out, results, shift, cancel from the receipt and the desk.

The pages' embedded engine and the test's engine (`shop`) share one SQLite file; a coupon is taken past its
deadline by moving its deadline in the database (the engines' clocks are real), once the pages' engine has opened
(opening seeds the demo data, which moves a demo coupon whose deadline has passed a few days ahead)."""

import json
import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal as D
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import update
from streamlit.testing.v1 import AppTest

from terminal_ui import clicks
from terminal_ui.after_sale import AfterSaleCalls
from terminal_ui.clicks import REPEATED_CLICK_SECONDS
from terminal_ui.connection import connection
from terminal_ui.demo_round import DemoRound, Phase, current_round, start_round
from terminal_ui.demo_round import _rounds as demo_rounds
from tests.support import APP, SITE_ADMIN, SITE_TILL, sample_request, till_of, without_the_demo_shift
from ticketing.access.acting import ActingEngine
from ticketing.contract.models import BETS_BY_LABEL, EventResult, TicketResult
from ticketing.demo.data import PLAYER_TOKEN
from ticketing.settings import DEMO_ADMIN_KEY_ID, DEMO_ADMIN_SECRET
from ticketing.storage import coupons

TILL = "site"


@pytest.fixture
def till(shop, monkeypatch):
    """The test's engine, once the pages' own engine on the same database has opened; the pages' admin (results,
    the demo round) is the demo's admin credential, configured; the till's shift is closed, each test opens its own."""
    monkeypatch.setenv("TICKETING_ADMIN_KEY_ID", DEMO_ADMIN_KEY_ID)
    monkeypatch.setenv("TICKETING_ADMIN_SECRET", DEMO_ADMIN_SECRET)
    AppTest.from_file(APP, default_timeout=30).run()
    without_the_demo_shift(shop)
    return shop


def page(path: str) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=30).run()
    return at.switch_page(path).run()


def sell(engine, picks: str, coupon_id="455", stake="25", token=None, till=TILL):
    changes = {"coupon_id": coupon_id, "stake": stake, "bets": [BETS_BY_LABEL[p] for p in picks]}
    if token:
        changes["token"] = token
    return engine.create_ticket(till_of(till), sample_request(**changes))


def past_deadline(engine, coupon_id="455") -> None:
    with engine.store.write() as conn:
        conn.execute(
            update(coupons)
            .where(coupons.c.id == coupon_id)
            .values(closes_at=(datetime.now(UTC) - timedelta(minutes=5)).replace(tzinfo=None))
        )


def enter(engine, results: str, coupon_id="455") -> None:
    for event, label in zip(engine.get_coupon(SITE_TILL, coupon_id).events, results, strict=True):
        if label != "-":
            result = EventResult.VOID if label == "V" else EventResult(label)
            engine.enter_result(SITE_ADMIN, coupon_id, event.id, result)


def scan(at: AppTest, code: str) -> AppTest:
    return at.text_input(key="payout_ref").input(code).run()


def verdict_text(at: AppTest) -> str:
    """The verdict block's Markdown, unescaped."""
    text = " ".join(m.value for m in at.markdown if m.value.startswith(("# ", "## ", "**")))
    return re.sub(r"\\(.)", r"\1", text)


# ---- pay out ---------------------------------------------------------------------------------------------------------


def test_a_winner_scanned_at_the_counter_is_paid_once_with_a_slip(till):
    till.open_shift(till_of(TILL), D("1000.00"))
    winner = sell(till, "1111111", stake="100")
    past_deadline(till)
    enter(till, "11111V1")
    owed = till.get_ticket(SITE_TILL, winner.code).settlement.net_payout
    at = scan(page("pages/payout.py"), f" {winner.code[:3].lower()} {winner.code[3:].lower()}")
    assert not at.exception
    assert at.text_input(key="payout_ref").value == "", "the field is emptied, so the next scan replaces it"
    shown = verdict_text(at)
    assert ":green[WINNER]" in shown and f"KES {owed:,.2f} to pay" in shown
    table = next(m.value for m in at.markdown if m.value.startswith("| # |"))
    assert table.count("✓ correct") == 6 and table.count("void, counts") == 1
    assert at.button(key="pay").label == f"Pay KES {owed:,.2f}"
    # The float and the stake (KES 1,100.00) cannot pay it: the page says how much to add from the safe, and Pay
    # waits for it (the engine refuses it too, 400/138).
    short = owed - D("1100.00")
    assert any(f"add at least KES {short:,.2f} from the safe" in w.value for w in at.warning)
    assert at.button(key="pay").disabled
    at.number_input(key="payout_cash_in").set_value(float(short)).run()
    at.button(key="payout_cash_in_button").click().run()
    assert till.current_shift(till_of(TILL)).cash_added == short
    assert not at.button(key="pay").disabled and not at.warning
    at.button(key="pay").click().run()
    assert ":green[PAID]" in verdict_text(at) and f"Hand over KES {owed:,.2f}" in verdict_text(at)
    paid = till.get_ticket(SITE_TILL, winner.code).settlement.paid
    assert (paid.amount, paid.till) == (owed, TILL)
    assert till.current_shift(till_of(TILL)).payouts == owed
    scan(at.button(key="next_ticket").click().run(), winner.code)
    assert ":violet[ALREADY PAID]" in verdict_text(at) and f"by {TILL}" in verdict_text(at)
    assert "pay" not in [b.key for b in at.button]
    assert till.current_shift(till_of(TILL)).payouts_count == 1


def test_each_ticket_brought_back_gets_its_own_verdict(till):
    till.open_shift(till_of(TILL), D("100000.00"))
    loser = sell(till, "2222222")
    cancelled = sell(till, "1X11111")
    till.cancel_ticket(till_of(TILL), cancelled.code)
    player = sell(till, "1111111", token=PLAYER_TOKEN)
    waiting = till.create_ticket(till_of(TILL), sample_request(coupon_id="456", stake="50", bets=[101] * 13))
    past_deadline(till)
    past_deadline(till, "456")
    enter(till, "1111111")
    enter(till, "12" + "-" * 11, coupon_id="456")
    at = page("pages/payout.py")
    expected = {
        loser.code: ":red[NOT A WINNER]",
        cancelled.code: ":gray[CANCELLED]",
        player.code: ":blue[CREDITED TO ACCOUNT]",
        waiting.code: ":orange[WAITING FOR RESULTS]",
    }
    for code, headline in expected.items():
        scan(at, code)
        assert not at.exception
        assert headline in verdict_text(at), code
        assert "pay" not in [b.key for b in at.button], f"{code} cannot be paid"
    assert "2 of 13 results known" in verdict_text(at)
    table = next(m.value for m in at.markdown if m.value.startswith("| # |"))
    assert table.count("✓ correct") == 1 and table.count("✗ wrong") == 1 and table.count("waiting") == 11


def test_a_void_round_is_refunded_at_the_counter(till):
    till.open_shift(till_of(TILL), D("100000.00"))
    ticket = sell(till, "1111111", stake="40")
    till.cancel_coupon(SITE_ADMIN, "455")
    at = scan(page("pages/payout.py"), ticket.code)
    assert ":blue[REFUND]" in verdict_text(at) and "KES 40.00 to pay" in verdict_text(at)
    at.button(key="pay").click().run()
    assert till.get_ticket(SITE_TILL, ticket.code).settlement.paid.kind == "refund"


def test_a_ticket_paid_in_another_tab_meanwhile_is_refused_and_shown_as_already_paid(till):
    till.open_shift(till_of(TILL), D("100000.00"))
    till.open_shift(till_of("till-2"), D("100000.00"))
    ticket = sell(till, "1111111")
    past_deadline(till)
    enter(till, "1111111")
    first, second = page("pages/payout.py"), page("pages/payout.py")
    scan(first, ticket.code)
    scan(second, ticket.code)
    till.pay_out(till_of("till-2"), ticket.code)  # another till got there first
    first.button(key="pay").click().run()
    assert not first.exception
    paid_at = till.get_ticket(SITE_TILL, ticket.code).settlement.paid.paid_at.astimezone(ZoneInfo("Africa/Nairobi"))
    assert [re.sub(r"\\(.)", r"\1", e.value) for e in first.error if "already paid" in e.value] == [
        f"Ticket {ticket.code} was already paid at {paid_at:%H:%M:%S} (EAT) by till-2: not paid again."
    ], "in the terminal's time zone, as the verdict says it"
    assert ":violet[ALREADY PAID]" in verdict_text(first)
    assert till.current_shift(till_of(TILL)).payouts_count == 0
    assert till.current_shift(till_of("till-2")).payouts_count == 1


def test_pay_waits_for_an_open_shift(till):
    ticket = sell(till, "1111111")
    past_deadline(till)
    enter(till, "1111111")
    at = scan(page("pages/payout.py"), ticket.code)
    assert at.button(key="pay").disabled
    assert any("no open shift" in w.value for w in at.warning)


# ---- results -------------------------------------------------------------------------------------------------------


def result_button(at: AppTest, event_id: int, label: str):
    return at.button(key=f"result-{event_id}-{label}")


def test_results_typed_like_a_pick_string_are_previewed_then_confirmed(till):
    winner = sell(till, "1X21X21")
    bonus = till.create_ticket(till_of(TILL), sample_request(bets=[BETS_BY_LABEL[p] for p in "2X21X21"]))
    sell(till, "2222222")
    past_deadline(till)
    at = page("pages/results.py")
    assert at.selectbox(key="results_coupon").value == "455"
    at.text_input(key="results_text").input("1x2 1021").run()
    assert not at.exception
    preview = at.markdown[[i for i, m in enumerate(at.markdown) if "After confirming" in m.value][0]].value
    assert "| Winners, all correct | 1 |" in preview
    assert "| Not winners | 2 |" in preview
    assert till.get_ticket(SITE_TILL, winner.code).settlement is None, "a preview settles nothing"
    at.button(key="confirm_results").click().run()
    assert any("settled: 1 winner(s)" in s.value for s in at.success)
    assert till.get_ticket(SITE_TILL, winner.code).result == TicketResult.WON
    assert till.get_ticket(SITE_TILL, bonus.code).result == TicketResult.LOST
    assert at.button(key="confirm_results").disabled, "nothing left to confirm"


def test_results_clicked_one_by_one_and_a_correction_re_settles(till):
    till.open_shift(till_of(TILL), D("100000.00"))
    ticket = sell(till, "1111111")
    past_deadline(till)
    events = till.get_coupon(SITE_TILL, "455").events
    at = page("pages/results.py")
    for event in events:
        result_button(at, event.id, "1").click().run()
    assert at.text_input(key="results_text").value == "1111111"
    at.button(key="confirm_results").click().run()
    till.pay_out(till_of(TILL), ticket.code)
    result_button(at, events[0].id, "2").click().run()
    assert any("was 1" in m.value for m in at.markdown)
    assert at.button(key="confirm_results").label == "Confirm correction"
    preview = next(m.value for m in at.markdown if "After confirming" in m.value)
    assert "| Winners, all correct | 1 | 0 |" in preview
    assert any(ticket.code in w.value for w in at.warning), "paid before the correction, shown before confirming"
    at.button(key="confirm_results").click().run()
    assert till.get_ticket(SITE_TILL, ticket.code).result == TicketResult.LOST
    assert any("Follow up" in w.value and ticket.code in w.value for w in at.warning)


def test_a_result_clicked_once_stays_chosen_though_its_click_arrives_twice(till, monkeypatch):
    """The demo round's live status refreshes this page, so a click can arrive twice (`terminal_ui/clicks.py`)."""
    now = [1000.0]
    monkeypatch.setattr(clicks, "clock", lambda: now[0])
    past_deadline(till)
    event = till.get_coupon(SITE_TILL, "455").events[0]
    at = page("pages/results.py")
    result_button(at, event.id, "X").click().run()
    result_button(at, event.id, "X").click().run()  # its copy
    assert at.text_input(key="results_text").value == "X------"
    now[0] += REPEATED_CLICK_SECONDS
    result_button(at, event.id, "X").click().run()
    assert at.text_input(key="results_text").value == "-------"
    at.text_input(key="results_text").input("X------").run()
    result_button(at, event.id, "X").click().run()  # typed, then clicked at once: a new click
    assert at.text_input(key="results_text").value == "-------"


def test_a_result_cannot_be_taken_back_only_corrected(till):
    sell(till, "1111111")
    past_deadline(till)
    enter(till, "1------")
    at = page("pages/results.py")
    assert at.text_input(key="results_text").value == "1------"
    at.text_input(key="results_text").input("-------").run()
    assert any("cannot be taken back" in e.value for e in at.error)
    assert at.button(key="confirm_results").disabled


def test_a_bad_results_string_is_flagged_and_changes_nothing(till):
    past_deadline(till)
    at = page("pages/results.py")
    at.text_input(key="results_text").input("1X2A").run()
    assert any("'A' at position 4" in e.value for e in at.error)
    assert at.text_input(key="results_text").value == "-------"


# ---- shift -----------------------------------------------------------------------------------------------------------


def test_a_shift_opened_sold_paid_and_closed_balances_on_the_report(till):
    at = page("pages/shift.py")
    at.number_input(key="shift_float").set_value(50000.0).run()
    at.button(key="open_shift").click().run()
    assert not at.exception
    winner = sell(till, "1111111", stake="100")
    sell(till, "2222222", stake="30")
    cancelled = sell(till, "1X11111", stake="45.50")
    till.cancel_ticket(till_of(TILL), cancelled.code)
    past_deadline(till)
    enter(till, "1111111")
    till.pay_out(till_of(TILL), winner.code)
    at = page("pages/shift.py")
    metrics = {m.label: m.value for m in at.metric}
    expected = D("50000.00") + D("175.50") - winner.net_payout - D("45.50")
    assert metrics["Sales (3)"] == "KES 175.50" and metrics["Refunds (1)"] == "KES 45.50"
    assert metrics["Expected cash"] == f"KES {expected:,.2f}"
    assert len(at.dataframe[0].value) == 5
    at.number_input(key="shift_counted").set_value(float(expected - 1)).run()
    at.button(key="close_shift").click().run()
    assert not at.exception
    closed = till.list_shifts(SITE_ADMIN, TILL)[0]
    assert closed.difference == D("-1.00") and till.current_shift(till_of(TILL)) is None
    report = at.get("iframe")[0].proto.srcdoc
    assert "END OF SHIFT REPORT" in report and "SHORT KES 1.00" in report
    assert re.search(r"incl. cancellations \(1\)</td>\s*<td class='num'>KES 45.50", report)
    assert at.button(key="open_shift"), "a new shift can be opened"


# ---- cancel --------------------------------------------------------------------------------------------------------


def receipt_shown(at: AppTest) -> str:
    """The receipt's markup as the page hands it to its in-page component."""
    [receipt] = [e.proto for e in at.get("bidi_component") if e.proto.component_name.endswith("jackpot_receipt")]
    return json.loads(receipt.json)["html"]


def test_a_ticket_just_sold_is_cancelled_from_its_receipt_after_a_confirmation(till):
    till.open_shift(till_of(TILL), D("100000.00"))
    at = AppTest.from_file(APP, default_timeout=30).run()
    for event in till.get_coupon(SITE_TILL, "455").events:
        at.button(key=f"pick-{event.id}-101").click().run()
    at.button(key="sell").click().run()
    code = re.search(r"\*\*(\w{6})\*\*", at.success[0].value).group(1)
    receipt = receipt_shown(at)
    until = re.search(r"cancellable until (\d\d:\d\d)", receipt).group(1)
    assert at.button(key="receipt_cancel_ask").label == f"Cancel ticket (until {until})"
    assert [(m.label, m.value) for m in at.metric] == [("Collect from the customer", "KES 25.00")]
    at.button(key="receipt_cancel_ask").click().run()
    assert till.get_ticket(SITE_TILL, code).status == "new", "nothing is cancelled before the confirmation"
    at.button(key="receipt_cancel_confirm").click().run()
    assert not at.exception
    assert till.get_ticket(SITE_TILL, code).status == "cancelled"
    assert any("cancelled: refund KES 25.00 (cash)" in w.value for w in at.warning)
    # The screen no longer asks for the stake it has just given back, nor says the ticket is sold or could win.
    assert [(m.label, m.value) for m in at.metric] == [("Give back to the customer", "KES 25.00")]
    assert not at.success and not any("if it wins" in c.value for c in at.caption)
    assert "cancellable until" not in receipt_shown(at)
    assert "CANCELLED – NOT VALID" in receipt_shown(at), "a refunded ticket's receipt must not pass for a live one"
    assert till.current_shift(till_of(TILL)).refunds == D("25.00")


def test_the_desk_cancels_within_the_window_and_not_after_the_deadline(till):
    till.open_shift(till_of(TILL), D("100000.00"))
    ticket = sell(till, "1111111")
    at = page("pages/tickets.py")
    at.text_input(key="lookup_ref").input(ticket.code).run()
    at.button(key="desk_cancel_ask").click().run()
    at.button(key="desk_cancel_confirm").click().run()
    assert till.get_ticket(SITE_TILL, ticket.code).status == "cancelled"
    # The ticket on screen is the one just cancelled, not the one looked up before.
    assert [(m.label, m.value) for m in at.metric][:2] == [("Status", "cancelled"), ("Result", "void")]
    assert any("Refund (settled)" in m.value for m in at.markdown)
    at.button(key="reprint").click().run()
    assert "CANCELLED – NOT VALID" in receipt_shown(at)
    late = sell(till, "1111111")
    past_deadline(till)
    at.text_input(key="lookup_ref").input(late.code).run()
    assert "desk_cancel_ask" not in [b.key for b in at.button], "no cancel once the coupon has closed"


# ---- demo round ----------------------------------------------------------------------------------------------------


def test_one_click_starts_a_demo_round_on_sale_for_a_few_minutes(till):
    at = page("pages/results.py")
    at.number_input(key="demo_minutes").set_value(2.0).run()
    at.button(key="demo_start").click().run()
    try:
        assert not at.exception
        demo = [c for c in till.list_open_coupons(SITE_TILL) if c.id.startswith("DEMO-")]
        assert len(demo) == 1 and len(demo[0].events) == 6
        left = demo[0].closes_at - datetime.now(UTC)
        assert timedelta(minutes=1) < left <= timedelta(minutes=2)
        status = [re.sub(r"\\(.)", r"\1", m.value) for m in at.markdown if "on sale, closes in" in m.value]
        assert status and demo[0].id in status[0]
        assert at.button(key="demo_start").disabled, "one round at a time"
        # A copy of the click reaching the server before the disabled button is drawn (README, "Event grid").
        conn = connection()
        calls = AfterSaleCalls(ActingEngine(till, till_of(TILL)), TILL, ActingEngine(till, SITE_ADMIN))
        running = current_round(conn)
        assert running is not None and start_round(conn, calls, 455, 2.0, automatic=True) is running
        assert current_round(conn) is running and running.phase == Phase.SELLING
        assert [c.id for c in till.list_open_coupons(SITE_TILL) if c.id.startswith("DEMO-")] == [demo[0].id]
    finally:
        for round_ in demo_rounds.values():
            round_.stop()


def test_results_drawn_for_a_demo_round_played_by_hand_are_previewed_before_they_are_confirmed(till, monkeypatch):
    ticket = sell(till, "1111111")
    past_deadline(till)
    coupon = till.get_coupon(SITE_TILL, "455")
    drawn = DemoRound(
        AfterSaleCalls(ActingEngine(till, till_of(TILL)), TILL, ActingEngine(till, SITE_ADMIN)),
        coupon,
        seed=1,
        play_automatically=False,
    )
    drawn.phase, drawn.drawn = Phase.DRAWN, {event.id: EventResult.HOME for event in coupon.events}
    monkeypatch.setattr("terminal_ui.demo_round.current_round", lambda conn: drawn)
    at = page("pages/results.py")
    at.button(key="demo_use_drawn").click().run()
    assert at.text_input(key="results_text").value == "1111111"
    assert any("| Winners, all correct | 1 |" in m.value for m in at.markdown)
    assert till.get_ticket(SITE_TILL, ticket.code).settlement is None, "nothing entered before Confirm"
    at.button(key="confirm_results").click().run()
    assert till.get_ticket(SITE_TILL, ticket.code).result == TicketResult.WON


def test_the_results_page_follows_a_demo_round_once_its_coupon_closes(till, monkeypatch):
    """The presenter looked at another coupon: when the round's matches start, the page shows the round's coupon
    (a second round once showed the first one's results); after that the presenter's own choice stands."""
    past_deadline(till, "455")
    past_deadline(till, "456")
    monkeypatch.setattr("terminal_ui.demo_round.current_round", lambda conn: None)
    at = page("pages/results.py")
    at.selectbox(key="results_coupon").select("456").run()
    round_ = DemoRound(
        AfterSaleCalls(ActingEngine(till, till_of(TILL)), TILL, ActingEngine(till, SITE_ADMIN)),
        till.get_coupon(SITE_TILL, "455"),
        seed=1,
        play_automatically=False,
    )
    round_.phase = Phase.PLAYING
    monkeypatch.setattr("terminal_ui.demo_round.current_round", lambda conn: round_)
    at.run()
    assert at.selectbox(key="results_coupon").value == "455"
    at.selectbox(key="results_coupon").select("456").run()
    round_.entered = 1
    at.run()
    round_.phase = Phase.SETTLED
    at.run()
    assert at.selectbox(key="results_coupon").value == "456", "the round's progress does not take the choice back"


def test_the_desk_shows_what_a_settled_ticket_is_worth_and_when_it_was_paid(till):
    """The desk showed only the figures a ticket was sold with: a winner with a void leg, paid 8,103.10, read "Net
    payout 19,419.42" with nothing to say it was paid."""
    till.open_shift(till_of(TILL), D("100000.00"))
    ticket = sell(till, "1111111")
    past_deadline(till)
    enter(till, "V111111")
    slip = till.pay_out(till_of(TILL), ticket.code)
    settled = till.get_ticket(SITE_TILL, ticket.code).settlement
    assert settled.net_payout < ticket.net_payout  # the void leg at odds 1.00
    at = page("pages/tickets.py")
    at.text_input(key="lookup_ref").input(ticket.code).run()
    shown = " ".join(m.value for m in at.markdown)
    assert f"| Net payout (as sold) | KES {ticket.net_payout:,.2f} |" in shown
    assert f"| Net payout (settled) | KES {settled.net_payout:,.2f} |" in shown
    assert f"| Paid in cash | KES {slip.amount:,.2f} at " in shown and f"by {TILL}" in shown
