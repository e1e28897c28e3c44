"""The sell page under Streamlit's AppTest (a full rerun per interaction; live odds are proven in the browser)."""

import re
from datetime import UTC, datetime
from decimal import Decimal as D

import pytest
from streamlit.testing.v1 import AppTest

from tests.support import APP, SITE_ADMIN, SITE_FEED, SITE_TILL, sample_coupon
from ticketing.engine import TicketEngine
from ticketing.errors import EngineUnavailable
from ticketing.models import EventStatus, EventUpdate, TicketQuery


def start(coupon: str | None = None) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=30)
    if coupon:
        at.query_params["coupon"] = coupon
    return at.run()


def pick_all(at: AppTest, engine, bet: int = 101) -> AppTest:
    for event in engine.get_coupon(SITE_TILL, at.session_state.current_coupon).events:
        at.button(key=f"pick-{event.id}-{bet}").click().run()
    return at


def summary_figure(at: AppTest, label: str) -> str:
    for block in at.markdown:
        match = re.search(rf"\| {label} \| ([^|]+) \|", block.value)
        if match:
            return match.group(1).strip()
    raise AssertionError(f"{label} not on the page")


def test_pick_every_event_and_sell_shows_a_receipt_the_engine_knows(shop):
    at = pick_all(start(), shop)
    assert not at.exception
    assert at.button(key="sell").disabled is False
    shown_payout = summary_figure(at, "Potential payout")
    at.button(key="sell").click().run()
    assert not at.exception
    code = re.search(r"Ticket sold: \*\*(\w{6})\*\*", at.success[0].value).group(1)
    ticket = shop.get_ticket(SITE_TILL, code)
    assert ticket.source == "retail" and ticket.coupon_id == "455"
    assert shown_payout == f"KES {ticket.payout:,.2f}"
    assert [e.bet for e in ticket.events] == [101] * 7
    at.button(key="new_ticket").click().run()
    assert at.button(key="sell").disabled and at.session_state.picks == {}


def test_incomplete_picks_keep_sell_disabled(shop):
    at = start()
    assert at.button(key="sell").disabled
    events = shop.get_coupon(SITE_TILL, "455").events
    at.button(key=f"pick-{events[0].id}-102").click().run()
    assert at.button(key="sell").disabled
    assert any("Pick every event (6 left)" in c.value for c in at.caption)


def test_picks_clicked_between_refreshes_reuse_the_odds_read(shop, monkeypatch):
    """The live fragment reads the coupon at most once a second; picks clicked in between do not ask the engine."""
    at = start()
    events = shop.get_coupon(SITE_TILL, "455").events[:6]
    reads = []
    read_coupon = TicketEngine.get_coupon
    monkeypatch.setattr(
        TicketEngine, "get_coupon", lambda engine, actor, cid: reads.append(cid) or read_coupon(engine, actor, cid)
    )
    for event in events:
        at.button(key=f"pick-{event.id}-101").click().run()
    assert len(at.session_state.picks) == 6
    assert len(reads) <= 1


def test_a_coupon_published_a_moment_ago_opens_by_its_link(shop):
    start()  # the open coupons are read, and kept for a few seconds
    raw = sample_coupon("good_coupon.json", datetime.now(UTC)) | {"id": "JUST-PUBLISHED"}
    shop.publish_coupon(SITE_ADMIN, raw)
    at = start("JUST-PUBLISHED")
    assert at.session_state.current_coupon == "JUST-PUBLISHED"


def test_pick_string_fills_the_grid(shop):
    at = start()
    at.text_input(key="pick_string").input(" jp1x2 0X21 ").run()
    events = shop.get_coupon(SITE_TILL, "455").events
    assert at.session_state.picks == dict(zip([e.id for e in events], [101, 102, 103, 102, 102, 103, 101], strict=True))
    assert at.button(key=f"pick-{events[1].id}-102").proto.type == "primary"
    assert at.button(key=f"pick-{events[1].id}-101").proto.type == "secondary"
    assert at.button(key="sell").disabled is False


@pytest.mark.parametrize("typed, problem", [("1X2", "7 picks needed, got 3"), ("1X21X2A", "'A' at position 7")])
def test_bad_pick_string_is_flagged(shop, typed, problem):
    at = start()
    at.text_input(key="pick_string").input(typed).run()
    assert any(problem in e.value for e in at.error)
    assert at.session_state.picks == {}


def test_pick_string_label_says_pick(shop):
    at = start()
    assert "pick" in at.text_input(key="pick_string").label.lower()


def test_odds_moved_beyond_tolerance_prompts_then_sells_at_the_new_odds(shop):
    at = pick_all(start(), shop, bet=103)
    moved = shop.get_coupon(SITE_TILL, "455").events[4]
    new_odds = moved.odds[103] + D("0.40")
    shop.update_event(SITE_FEED, "455", moved.id, EventUpdate(odds={103: new_odds}))
    at.button(key="sell").click().run()
    assert shop.list_tickets(SITE_TILL, TicketQuery(limit=10)) == []
    prompt = [w.value for w in at.warning if "Odds changed" in w.value]
    assert prompt and f"{moved.odds[103]:.2f} → **{new_odds:.2f}**" in prompt[0]
    assert "New potential payout" in prompt[0]
    at.button(key="accept_odds").click().run()
    code = re.search(r"\*\*(\w{6})\*\*", at.success[0].value).group(1)
    ticket = shop.get_ticket(SITE_TILL, code)
    assert ticket.events[4].odds == new_odds


def test_suspended_event_is_greyed_out_and_blocks_sale(shop):
    event = shop.get_coupon(SITE_TILL, "455").events[2]
    shop.update_event(SITE_FEED, "455", event.id, EventUpdate(status=EventStatus.SUSPENDED))
    at = start()
    assert all(at.button(key=f"pick-{event.id}-{bet}").disabled for bet in (101, 102, 103))
    assert any("SUSPENDED" in m.value for m in at.markdown)
    assert at.button(key="sell").disabled


def test_quick_pick_with_a_seed_is_reproducible(shop):
    at = AppTest.from_file(APP, default_timeout=30)
    at.query_params["coupon"] = "457"
    at.query_params["seed"] = "42"
    at.run()
    at.button(key="quick_pick").click().run()
    first = dict(at.session_state.picks)
    at.button(key="clear").click().run()
    assert at.session_state.picks == {}
    at.button(key="quick_pick").click().run()
    assert len(first) == 17 and at.session_state.picks == first


def test_engine_error_is_shown_in_plain_words_and_slip_kept(shop):
    at = pick_all(start(), shop)
    at.text_input(key="player_token").input("a-token-nobody-has").run()
    at.button(key="sell").click().run()
    assert any("Invalid token" in e.value for e in at.error)
    assert len(at.session_state.picks) == 7


def test_sell_clicked_again_after_a_lost_answer_shows_the_first_ticket_and_sells_no_other(shop, monkeypatch):
    """The engine stores the sale but its answer never arrives: the cashier sees an error and clicks Sell again.
    The second click carries the draft's idempotency key, so the engine answers it with the ticket already sold."""
    sell = TicketEngine.create_ticket
    lost: list = []

    def sell_then_lose_the_first_answer(engine, actor, request, idempotency_key=None, signed=None):
        ticket = sell(engine, actor, request, idempotency_key, signed)
        if not lost:
            lost.append(ticket)
            raise EngineUnavailable("Ticket engine did not answer (ReadTimeout)")
        return ticket

    monkeypatch.setattr(TicketEngine, "create_ticket", sell_then_lose_the_first_answer)
    at = pick_all(start(), shop)
    at.button(key="sell").click().run()
    assert any("did not answer" in e.value for e in at.error) and not at.success
    at.button(key="sell").click().run()
    assert f"Ticket sold: **{lost[0].code}**" in at.success[0].value
    assert [t.code for t in shop.list_tickets(SITE_TILL, TicketQuery(limit=10))] == [lost[0].code]


def test_token_never_shown_in_full(shop):
    at = start()
    page_text = " ".join(str(e.value) for e in [*at.markdown, *at.caption, *at.sidebar.markdown])
    assert "sGhx12skwrXsukbZmWh7bkCC9YPEzYQKtKSe9EfCth3Q" not in page_text
    assert "sGhx…th3Q" in page_text
