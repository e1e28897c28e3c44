"""The sell page under Streamlit's AppTest (a full rerun per interaction; live odds are proven in the browser)."""

import re
import threading
from datetime import UTC, datetime
from decimal import Decimal as D

import pytest
import streamlit as st
from sqlalchemy import update
from streamlit import config
from streamlit.runtime.secrets import Secrets
from streamlit.testing.v1 import AppTest

from terminal_ui import clicks, sell
from terminal_ui.clicks import REPEATED_CLICK_SECONDS
from terminal_ui.connection import Connection, SecretsTable, connection
from terminal_ui.drafts import Draft
from tests.support import APP, SITE_ADMIN, SITE_FEED, SITE_TILL, sample_coupon
from ticketing.contract.errors import EngineUnavailable
from ticketing.contract.identifiers import mask_token, token_fingerprint
from ticketing.contract.models import EventStatus, EventUpdate, TicketQuery
from ticketing.demo.data import PLAYER_TOKEN
from ticketing.engine import TicketEngine
from ticketing.storage import Account, coupons


def start(coupon: str | None = None) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=30)
    if coupon:
        at.query_params["coupon"] = coupon
    return at.run()


def slip(at: AppTest):
    return at.session_state.draft


def pick_all(at: AppTest, engine, bet: int = 101) -> AppTest:
    for event in engine.get_coupon(SITE_TILL, slip(at).coupon_id).events:
        at.button(key=f"pick-{event.id}-{bet}").click().run()
    return at


def summary_figure(at: AppTest, label: str) -> str:
    """A figure of the slip's table as the cashier reads it (without its markup)."""
    for block in at.html:
        match = re.search(rf"<t[dh]>{label}</t[dh]><t[dh]>(.*?)</t[dh]>", block.value)
        if match:
            return re.sub(r"<[^>]+>", "", match.group(1)).strip()
    raise AssertionError(f"{label} not on the page")


def page_text(at: AppTest) -> str:
    """Everything the page says, with the Markdown escapes of untrusted text taken out."""
    text = " ".join(str(e.value) for e in [*at.markdown, *at.caption, *at.error, *at.warning, *at.info, *at.html])
    return re.sub(r"\\(.)", r"\1", text)


def close_coupon(engine, coupon_id: str) -> None:
    with engine.store.write() as conn:
        conn.execute(update(coupons).where(coupons.c.id == coupon_id).values(status="closed"))


def sold(engine) -> list:
    return engine.list_tickets(SITE_TILL, TicketQuery(limit=100))


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
    assert {m.label: m.value for m in at.metric}["Collect from the customer"] == "KES 25.00"
    at.button(key="new_ticket").click().run()
    assert at.button(key="sell").disabled and slip(at).picks == {}


def test_a_click_on_a_chosen_pick_clears_it_and_a_click_sent_twice_acts_once(shop, monkeypatch):
    """Streamlit's page can send one click twice (`terminal_ui/clicks.py`): the copy must not undo the pick, even
    after a slow run, so its time counts from the grid that showed the click."""
    now = [1000.0]
    monkeypatch.setattr(clicks, "clock", lambda: now[0])
    draw_grid = sell.event_grid

    def slow_grid(*args):
        draw_grid(*args)
        now[0] += 0.3

    monkeypatch.setattr(sell, "event_grid", slow_grid)
    at = start()
    event = shop.get_coupon(SITE_TILL, "455").events[0]
    pick = f"pick-{event.id}-102"
    at.button(key=pick).click().run()
    now[0] += 0.3
    at.button(key=pick).click().run()  # its copy: 0.6 s after the click, 0.3 s after the grid showed it
    assert slip(at).picks == {event.id: 102} and at.button(key=pick).proto.type == "primary"
    now[0] += REPEATED_CLICK_SECONDS
    at.button(key=pick).click().run()  # the cashier's own click
    assert slip(at).picks == {} and at.button(key=pick).proto.type == "secondary"
    at.button(key=f"pick-{event.id}-101").click().run()
    assert slip(at).picks == {event.id: 101}
    monkeypatch.setattr(clicks, "clock", lambda: 2000.0)  # from here no time passes
    at.button(key="clear").click().run()
    at.button(key=f"pick-{event.id}-101").click().run()
    at.button(key="clear").click().run()
    at.button(key=f"pick-{event.id}-101").click().run()  # the same pick at once, but after Clear: a new click
    assert slip(at).picks == {event.id: 101}


def test_incomplete_picks_keep_sell_disabled_and_say_which_events_are_left(shop):
    at = start()
    assert at.button(key="sell").disabled
    events = shop.get_coupon(SITE_TILL, "455").events
    at.button(key=f"pick-{events[0].id}-102").click().run()
    assert at.button(key="sell").disabled
    assert "Pick every event: 6 left (2, 3, 4, 5, 6, 7)" in page_text(at)


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
    assert len(slip(at).picks) == 6
    assert len(reads) <= 1


def test_a_coupon_published_a_moment_ago_opens_by_its_link(shop):
    start()  # the open coupons are read, and kept for a few seconds
    raw = sample_coupon("good_coupon.json", datetime.now(UTC)) | {"id": "JUST-PUBLISHED"}
    shop.publish_coupon(SITE_ADMIN, raw)
    at = start("JUST-PUBLISHED")
    assert slip(at).coupon_id == "JUST-PUBLISHED"


def test_pick_string_fills_the_grid(shop):
    at = start()
    at.text_input(key="pick_string").input(" jp1x2 0X21 ").run()
    events = shop.get_coupon(SITE_TILL, "455").events
    assert slip(at).picks == dict(zip([e.id for e in events], [101, 102, 103, 102, 102, 103, 101], strict=True))
    assert at.button(key=f"pick-{events[1].id}-102").proto.type == "primary"
    assert at.button(key=f"pick-{events[1].id}-101").proto.type == "secondary"
    assert at.button(key="sell").disabled is False


@pytest.mark.parametrize("typed, problem", [("1X2", "7 picks needed, got 3"), ("1X21X2A", "'A' at position 7")])
def test_bad_pick_string_is_flagged(shop, typed, problem):
    at = start()
    at.text_input(key="pick_string").input(typed).run()
    assert any(problem in e.value for e in at.error)
    assert slip(at).picks == {}


def test_a_rejected_pick_string_empties_the_slip_and_sell_is_off(shop):
    at = start("456")
    at.text_input(key="pick_string").input("1" * 13).run()
    assert at.button(key="sell").disabled is False
    at.text_input(key="pick_string").input("1" * 12).run()
    assert slip(at).picks == {}
    assert at.button(key="sell").disabled
    assert any("13 picks needed, got 12" in e.value and "slip is cleared" in e.value for e in at.error)
    assert summary_figure(at, "Picks") == "0 of 13"


def test_a_rejected_pick_string_sent_with_the_sale_sells_nothing(shop):
    """Ctrl+Enter in the pick field sends the typed string and the sale in one run: the string wins."""
    at = start("456")
    at.text_input(key="pick_string").input("1" * 13).run()
    at.text_input(key="pick_string").input("2" * 12)
    at.button(key="sell").click().run()
    assert not at.exception
    assert sold(shop) == []
    assert slip(at).picks == {}
    assert "Not sold" in page_text(at)


def test_pick_string_label_says_pick(shop):
    at = start()
    assert "pick" in at.text_input(key="pick_string").label.lower()


def test_the_stake_shown_is_the_stake_charged(shop):
    at = pick_all(start(), shop)
    at.text_input(key="stake").input("50.125").run()
    assert at.text_input(key="stake").value == "50.125"
    assert summary_figure(at, "Stake") == "–" and summary_figure(at, "Potential payout") == "–"
    assert at.button(key="sell").disabled
    assert "Stake: 50.125 has more than 2 decimals" in page_text(at)
    at.text_input(key="stake").input("50.5").run()
    assert summary_figure(at, "Stake") == "KES 50.50"
    at.button(key="sell").click().run()
    [ticket] = sold(shop)
    assert ticket.stake == D("50.50")


@pytest.mark.parametrize(
    "typed, problem",
    [
        ("10", "Stake: 10.00 is below this coupon's minimum 25.00"),
        ("-5", "Stake: -5 is not an amount above 0"),
        ("5O", "Stake: '5O' is not an amount"),
        ("", "Stake: enter an amount"),
    ],
)
def test_a_stake_the_engine_would_refuse_is_not_priced_and_says_why(shop, typed, problem):
    at = pick_all(start(), shop)
    at.text_input(key="stake").input(typed).run()
    assert summary_figure(at, "Potential payout") == "–"
    assert at.button(key="sell").disabled
    assert problem in page_text(at)


def read_coupons_afresh(monkeypatch) -> None:
    """The page reads the coupons as they are now, instead of as they were up to a few seconds ago."""
    monkeypatch.setattr(sell, "ODDS_MAX_AGE", 0)
    monkeypatch.setattr(Connection, "open_coupons", lambda conn, including=None: conn.service.list_open_coupons())


def test_a_closed_coupon_says_so_keeps_the_slip_and_offers_the_next(shop, monkeypatch):
    read_coupons_afresh(monkeypatch)
    at = pick_all(start(), shop)
    close_coupon(shop, "455")
    at.run()
    assert not at.exception
    assert "Coupon 455 (Midweek Jackpot) closed at" in page_text(at)
    assert "Closed at" in page_text(at) and "Closes in" not in page_text(at)
    assert at.button(key="sell").disabled
    assert len(slip(at).picks) == 7 and slip(at).coupon_id == "455"
    assert all(at.button(key=f"pick-{e.id}-101").disabled for e in shop.get_coupon(SITE_TILL, "455").events)
    assert "456" in at.button(key="next_coupon").label
    at.button(key="next_coupon").click().run()
    assert slip(at).coupon_id == "456" and slip(at).picks == {}


def test_a_sale_refused_as_closed_keeps_the_slip_and_says_why(shop, monkeypatch):
    """The page still showed the coupon open (its odds read a moment before the deadline): the engine refuses."""
    monkeypatch.setattr(sell, "ODDS_MAX_AGE", 600)
    at = pick_all(start(), shop)
    close_coupon(shop, "455")
    at.button(key="sell").click().run()
    assert not at.exception
    assert sold(shop) == []
    assert "Not sold: coupon 455 (Midweek Jackpot) closed at" in page_text(at)
    assert len(slip(at).picks) == 7 and slip(at).coupon_id == "455"


def test_odds_moved_beyond_tolerance_prompts_then_sells_at_the_new_odds(shop):
    at = pick_all(start(), shop, bet=103)
    moved = shop.get_coupon(SITE_TILL, "455").events[4]
    new_odds = moved.odds[103] + D("0.40")
    shop.update_event(SITE_FEED, "455", moved.id, EventUpdate(odds={103: new_odds}))
    at.button(key="sell").click().run()
    assert sold(shop) == []
    assert any("Odds changed" in w.value for w in at.warning)
    assert f"| {moved.odds[103]:.2f} | **{new_odds:.2f}** |" in page_text(at)
    payouts = re.search(r"\| Potential payout \| (KES [\d,.]+) \| \*\*(KES [\d,.]+)\*\* \|", page_text(at))
    old_payout, new_payout = payouts.groups()
    at.button(key="accept_odds").click().run()
    code = re.search(r"\*\*(\w{6})\*\*", at.success[0].value).group(1)
    ticket = shop.get_ticket(SITE_TILL, code)
    assert ticket.events[4].odds == new_odds
    assert new_payout == f"KES {ticket.payout:,.2f}" != old_payout


def test_back_from_the_odds_changed_prompt_sells_nothing_and_keeps_the_slip(shop):
    at = pick_all(start(), shop, bet=103)
    moved = shop.get_coupon(SITE_TILL, "455").events[2]
    shop.update_event(SITE_FEED, "455", moved.id, EventUpdate(odds={103: moved.odds[103] + D("0.30")}))
    at.button(key="sell").click().run()
    at.button(key="back_to_slip").click().run()
    assert not at.exception
    assert sold(shop) == []
    assert len(slip(at).picks) == 7 and not slip(at).moved
    assert not any("Odds changed" in w.value for w in at.warning)


def test_suspended_event_is_greyed_out_and_blocks_sale(shop):
    event = shop.get_coupon(SITE_TILL, "455").events[2]
    shop.update_event(SITE_FEED, "455", event.id, EventUpdate(status=EventStatus.SUSPENDED))
    at = start()
    assert all(at.button(key=f"pick-{event.id}-{bet}").disabled for bet in (101, 102, 103))
    assert "<span class='jp-badge'>suspended</span>" in at.html[0].value
    assert at.button(key="sell").disabled
    assert f"Event 3, {event.fixture}, is suspended" in page_text(at)


def test_the_grid_follows_each_new_read_of_the_coupon(shop, monkeypatch):
    """Pick labels and fixture lines are made once per read of the coupon: the next read (odds moved, an event
    suspended) is drawn, not the first one kept."""
    monkeypatch.setattr(sell, "ODDS_MAX_AGE", 0)
    at = start()
    event = shop.get_coupon(SITE_TILL, "455").events[1]
    assert at.button(key=f"pick-{event.id}-101").label == f"1 · {event.odds[101]:.2f}"
    new_odds = event.odds[101] + D("0.25")
    shop.update_event(SITE_FEED, "455", event.id, EventUpdate(odds={101: new_odds}, status=EventStatus.SUSPENDED))
    at.run()
    assert at.button(key=f"pick-{event.id}-101").label == f"1 · {new_odds:.2f} :green[▲]"
    assert "<span class='jp-badge'>suspended</span>" in at.html[0].value


def test_quick_pick_with_a_seed_is_reproducible(shop):
    at = AppTest.from_file(APP, default_timeout=30)
    at.query_params["coupon"] = "457"
    at.query_params["seed"] = "42"
    at.run()
    at.button(key="quick_pick").click().run()
    first = dict(slip(at).picks)
    at.button(key="clear").click().run()
    assert slip(at).picks == {}
    at.button(key="quick_pick").click().run()
    assert len(first) == 17 and slip(at).picks == first


def test_an_unknown_player_token_is_named_as_the_field_and_the_slip_kept(shop):
    at = pick_all(start(), shop)
    at.button(key="show_token").click().run()
    at.text_input(key="player_token").input("a-token-nobody-has").run()
    at.button(key="sell").click().run()
    assert "Player token: no account of this shop has this token (a-to…-has)" in page_text(at)
    assert len(slip(at).picks) == 7


def test_a_sale_on_a_players_account_asks_no_cash_of_the_customer(shop):
    """The stake is taken from the account: a receipt screen saying "Collect from the customer" would have the
    cashier take it a second time, in cash."""
    at = pick_all(start(), shop)
    at.button(key="show_token").click().run()
    at.text_input(key="player_token").input(PLAYER_TOKEN).run()
    at.button(key="sell").click().run()
    metrics = {m.label: m.value for m in at.metric}
    assert "Collect from the customer" not in metrics
    assert metrics[f"Taken from the player's account {mask_token(PLAYER_TOKEN)}"] == "KES 25.00"
    assert "Nothing to collect" in page_text(at)
    at.button(key="new_ticket").click().run()
    pick_all(at, shop).button(key="sell").click().run()
    assert {m.label: m.value for m in at.metric}["Collect from the customer"] == "KES 25.00"


def test_a_short_balance_says_whose_account_and_how_much_is_missing(shop):
    token = "a-player-with-little-money-0001"
    with shop.store.write() as conn:
        shop.store.add_account(
            conn, Account(token_sha256=token_fingerprint(token), operator="site", user_id="7001", balance=D("10.00"))
        )
    at = pick_all(start(), shop)
    at.button(key="show_token").click().run()
    at.text_input(key="player_token").input(token).run()
    at.button(key="sell").click().run()
    assert sold(shop) == []
    text = page_text(at)
    assert "the player's account a-pl…0001 cannot pay the stake KES 25.00" in text
    assert "its balance is KES 10.00, KES 15.00 short" in text


def test_a_shop_sale_with_the_tills_shift_closed_says_to_open_it_and_keeps_the_slip(shop):
    """The demo's till starts with its shift open; closed, a cash sale is refused by the engine (no cash may go
    uncounted) and the cashier is told what to do; the slip stays for the sale once the shift is open."""
    shop.close_shift(SITE_TILL, shop.current_shift(SITE_TILL).expected)
    at = pick_all(start(), shop)
    at.button(key="sell").click().run()
    assert sold(shop) == []
    assert "this till has no open shift" in page_text(at) and "Open the shift on the Shift page" in page_text(at)
    shop.open_shift(SITE_TILL, D("500.00"))
    at.button(key="sell").click().run()
    assert [ticket.code for ticket in sold(shop)] == [at.session_state.draft.receipt.code]
    assert shop.current_shift(SITE_TILL).stakes_count == 1


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
    assert [t.code for t in sold(shop)] == [lost[0].code]


def test_token_never_shown_in_full(shop):
    at = start()
    page = " ".join(str(e.value) for e in [*at.markdown, *at.caption, *at.sidebar.markdown])
    assert "sGhx12skwrXsukbZmWh7bkCC9YPEzYQKtKSe9EfCth3Q" not in page
    assert "sGhx…th3Q" in page


def simulators_running() -> int:
    return sum(thread.name == "odds-simulator" for thread in threading.enumerate())


def test_a_changed_setting_gives_the_connection_of_the_new_settings(shop, monkeypatch):
    """Every run asks for the connection and gets the one kept for its settings' sources: a variable changed
    since is not missed, and changed back finds the first connection again."""
    first = connection()
    monkeypatch.setenv("TICKETING_SHOP_NAME", "Corner shop")
    changed = connection()
    assert changed is not first and changed.settings.shop_name == "Corner shop"
    assert connection() is changed
    monkeypatch.delenv("TICKETING_SHOP_NAME")
    assert connection() is first


def test_a_secrets_file_written_while_the_terminal_runs_is_read_within_a_second(tmp_path, monkeypatch):
    """No secrets file is remembered for a second (Streamlit would look for it on every run), not for good."""
    path = tmp_path / "secrets.toml"
    real_get_option = config.get_option
    monkeypatch.setattr(
        config, "get_option", lambda name: [str(path)] if name == "secrets.files" else real_get_option(name)
    )
    monkeypatch.setattr(st, "secrets", Secrets())
    table = SecretsTable()
    assert table.read(now=100.0) == {}
    path.write_text('[ticketing]\nshop_name = "Corner shop"\n')
    assert table.read(now=100.5) == {}
    assert table.read(now=101.0) == {"shop_name": "Corner shop"}
    assert table.read(now=101.1) == {"shop_name": "Corner shop"}


def test_clear_caches_keeps_one_engine_one_simulator_and_the_slip(shop, monkeypatch):
    """What Streamlit's "Clear caches" does (both caches and the session state emptied), then the tab's next run."""
    monkeypatch.setenv("TICKETING_SIMULATOR", "on")
    monkeypatch.setenv("TICKETING_SIMULATOR_INTERVAL", "3600")
    at = pick_all(start(), shop)
    page_connection = connection()
    running = simulators_running()
    st.cache_data.clear()
    st.cache_resource.clear()
    again = AppTest.from_file(APP, default_timeout=30)
    again.query_params["draft"] = slip(at).id
    again.run()
    assert not again.exception
    assert connection() is page_connection and simulators_running() == running
    assert slip(again).picks == slip(at).picks and len(slip(again).picks) == 7


def test_a_reload_finds_the_slip_by_the_draft_in_the_url(shop):
    at = start("456")
    at.text_input(key="pick_string").input("1X2" * 4 + "1").run()
    at.text_input(key="stake").input("80").run()
    reloaded = AppTest.from_file(APP, default_timeout=30)
    reloaded.query_params["draft"] = slip(at).id
    reloaded.query_params["coupon"] = "456"
    reloaded.run()
    assert slip(reloaded) is slip(at)
    assert reloaded.text_input(key="stake").value == "80"
    assert summary_figure(reloaded, "Slip") == "1X21X21X21X21"
    assert reloaded.button(key="sell").disabled is False


def test_an_unexpected_error_shows_a_reference_and_no_traceback(shop, monkeypatch, caplog):
    at = start()

    def broken(*_args, **_kwargs):
        raise RuntimeError("boom inside the slip")

    monkeypatch.setattr(sell, "summarize_slip", broken)
    at.run()
    assert not at.exception
    [error] = [e.value for e in at.error if "Something went wrong" in e.value]
    reference = re.search(r"reference ([0-9A-F]{6})", error).group(1)
    assert "boom" not in page_text(at) and "Traceback" not in page_text(at)
    assert any(reference in r.getMessage() and r.exc_info for r in caplog.records)


@pytest.mark.parametrize(
    "link, says",
    [
        ("999", "The link asked for coupon “999”: no such coupon on the ticket engine. Showing coupon 456."),
        ("abc", "The link asked for coupon “abc”: no such coupon on the ticket engine. Showing coupon 456."),
        ("455", "The link asked for coupon 455 (Midweek Jackpot): it closed at"),
    ],
)
def test_a_coupon_link_that_cannot_open_says_so_and_the_url_follows_the_picker(shop, monkeypatch, link, says):
    read_coupons_afresh(monkeypatch)
    close_coupon(shop, "455")
    at = start(link)
    assert says in page_text(at)
    assert slip(at).coupon_id == "456" and at.query_params["coupon"] == "456"
    at.selectbox(key="coupon_id").select("457").run()
    assert at.query_params["coupon"] == "457"


def test_the_slip_summary_shows_text_as_text():
    """The slip is drawn as HTML: a figure or a note that carries markup (a coupon's own text in a problem) is shown,
    never interpreted."""
    shown = sell.slip_summary_html(
        [("Picks", "1 of 2"), ("Slip", "1-"), ("Stake", "KES <b>5</b>")],
        "–",
        [("jp-problem", "⚠ Coupon <img src=x onerror=alert(1)> & co is closed")],
    )
    assert "<b>" not in shown and "<img" not in shown
    assert "KES &lt;b&gt;5&lt;/b&gt;" in shown
    assert "<div class='jp-problem'>⚠ Coupon &lt;img src=x onerror=alert(1)&gt; &amp; co is closed</div>" in shown
    assert "<td>Slip</td><td><code>1-</code></td>" in shown


def test_the_slip_is_capped_as_the_engine_caps_the_ticket(shop, monkeypatch):
    """The operator's cap (TICKETING_MAX_PAYOUT, 1,000,000) below the coupon's (10,000,000): the slip promised
    10,000,000 and the ticket sold paid 1,000,000."""
    monkeypatch.setenv("TICKETING_MAX_PAYOUT", "1000000")
    at = start("456")
    at.text_input(key="pick_string").input("2" * 13).run()
    at.text_input(key="stake").input("100").run()
    assert summary_figure(at, "Potential payout") == "KES 1,000,000.00"
    assert "Capped at the maximum payout KES 1,000,000.00" in page_text(at)
    at.button(key="sell").click().run()
    code = re.search(r"Ticket sold: \*\*(\w{6})\*\*", at.success[0].value).group(1)
    assert shop.get_ticket(SITE_TILL, code).payout == D("1000000.00")


def test_a_ctrl_enter_sent_again_is_taken_once_even_on_the_next_slip():
    """The keyboard sends a press again until the page shows it taken: a copy must never act twice, nor sell the
    slip started after the sale it made."""
    slip = Draft(id="till-session")
    press = {"at": 1_700_000_000_123, "stake": "60", "pick": "1X2"}
    assert sell.take_sell_key(slip, press)
    assert slip.sell_by_key and slip.keyed_fields == {"stake": "60", "pick": "1X2"}
    slip.sell_by_key = False  # the run decided it
    assert not sell.take_sell_key(slip, dict(press))
    assert not slip.sell_by_key
    slip.new_slip("456", stake="50")
    assert not sell.take_sell_key(slip, dict(press))
    assert not slip.sell_by_key
    assert sell.take_sell_key(slip, {**press, "at": press["at"] + 1})
    assert slip.sell_by_key


def test_a_copy_of_a_ctrl_enter_never_taken_acts_only_on_the_slip_it_was_pressed_on():
    """A press lost on its way is sent again as a copy: after the slip was sold another way or started anew, the copy
    must not sell the next one. A press itself is taken whatever slip it names (the page may not have shown the new
    slip's key yet)."""
    slip = Draft(id="till-session")
    lost = {"at": 1_700_000_000_500, "slip": slip.sale_key, "stake": "60", "pick": "1X2"}
    slip.new_slip("456", stake="60")  # sold by a click on Sell, then Alt+N
    assert not sell.take_sell_key(slip, {**lost, "copy": True})
    assert not slip.sell_by_key
    assert sell.take_sell_key(slip, {**lost, "slip": slip.sale_key, "copy": True})
    assert sell.take_sell_key(slip, {**lost, "at": lost["at"] + 1})
