"""End to end in headless Chromium against `streamlit run streamlit_app.py` (and a remote `uvicorn` engine)."""

import re
from datetime import UTC, datetime

import pytest
from playwright.sync_api import expect

from tests.browser import ODDS_BY_KEY, odds_on_screen, open_app, pick_buttons, sold_code, wait_for_app, widget
from tests.servers import engine_server, terminal_server
from tests.support import SITE_ADMIN, SITE_TILL, sample_coupon
from ticketing.client import TicketingClient
from ticketing.contract.models import Coupon, TicketQuery
from ticketing.embedded import open_engine
from ticketing.settings import DEMO_SITE_SECRET, Settings

pytestmark = pytest.mark.browser


def click_home_win_everywhere(page, coupon: Coupon) -> None:
    """Click "1" on every row, each time waiting until the grid shows the pick before the next click."""
    for event in coupon.events:
        button = widget(page, f"pick-{event.id}-101").locator("button")
        button.click()
        expect(button).to_have_attribute("data-testid", "stBaseButton-primary")
    wait_for_app(page)


BUSY_THEN_CLICK = """(selector) => {
    const button = document.querySelector(selector);
    const end = performance.now() + 2500;
    while (performance.now() < end) {}
    setTimeout(() => button.click(), 0);
}"""
"""Keeps the page busy past the live refresh's due time (every 2 s), then clicks in a task queued before the refresh's:
the click's own message is sent in a task queued after the refresh's, which goes first and carries the click."""


def test_a_pick_clicked_as_the_live_refresh_falls_due_stays_chosen(browser, terminal):
    """The server gets the click twice, in the refresh's message and in its own (`terminal_ui/clicks.py`; seen in
    the websocket's frames: one of 503 bytes, the refresh with the click, then the click's 501). The pick stays lit."""
    url, engine = terminal
    page = open_app(browser, url)
    event = engine.get_coupon(SITE_TILL, "455").events[0]
    button = widget(page, f"pick-{event.id}-101").locator("button")
    expect(button).to_be_visible()
    wait_for_app(page)
    page.evaluate(BUSY_THEN_CLICK, f".st-key-pick-{event.id}-101 button")
    page.wait_for_timeout(1_000)
    wait_for_app(page)
    assert button.get_attribute("data-testid") == "stBaseButton-primary"


def test_sell_a_ticket_by_clicking(browser, terminal, tmp_path):
    url, engine = terminal
    page = open_app(browser, url)
    click_home_win_everywhere(page, engine.get_coupon(SITE_TILL, "455"))
    expect(widget(page, "sell").locator("button")).to_be_enabled()
    summary = widget(page, "slip-summary")
    expect(summary).to_contain_text(re.compile(r"Potential payout\s*KES"))
    payout = re.search(r"Potential payout\s+(KES [\d,.]+)", summary.inner_text()).group(1)
    widget(page, "sell").locator("button").click()
    code = sold_code(page)
    ticket = engine.get_ticket(SITE_TILL, code)
    assert payout == f"KES {ticket.payout:,.2f}"
    expect(page.get_by_text(code).first).to_be_visible()
    page.screenshot(path=tmp_path / "receipt.png", full_page=True)
    widget(page, "new_ticket").locator("button").click()
    wait_for_app(page)
    expect(widget(page, "sell").locator("button")).to_be_disabled()


def test_sell_with_the_keyboard_alone(browser, terminal):
    url, engine = terminal
    page = open_app(browser, url)
    page.get_by_label(re.compile("pick string", re.I)).fill("1X21X20")
    page.keyboard.press("Enter")
    wait_for_app(page)
    stake = page.get_by_label("Stake (KES)")
    stake.fill("50")
    stake.press("Enter")
    wait_for_app(page)
    expect(widget(page, "sell").locator("button")).to_be_enabled()
    stake.press("Control+Enter")
    code = sold_code(page)
    ticket = engine.get_ticket(SITE_TILL, code)
    assert ticket.stake == 50 and [e.pick for e in ticket.events] == list("1X21X2X")


def test_fast_double_click_on_sell_makes_exactly_one_ticket(browser, terminal):
    url, engine = terminal
    before = len(engine.list_tickets(SITE_TILL, TicketQuery(limit=10000)))
    page = open_app(browser, url)
    click_home_win_everywhere(page, engine.get_coupon(SITE_TILL, "455"))
    sell = widget(page, "sell").locator("button")
    expect(sell).to_be_enabled()
    sell.evaluate("button => { button.click(); button.click(); }")
    sold_code(page)
    wait_for_app(page)
    page.wait_for_timeout(1500)
    assert len(engine.list_tickets(SITE_TILL, TicketQuery(limit=10000))) == before + 1


def test_odds_change_on_screen_by_themselves(browser, tmp_path):
    db = tmp_path / "live.sqlite3"
    env = {
        "TICKETING_SIMULATOR": "on",
        "TICKETING_SIMULATOR_INTERVAL": "1",
        "TICKETING_SIMULATOR_SEED": "3",
        "TICKETING_SIMULATOR_MOVES": "20",
    }
    with terminal_server(db, tmp_path / "streamlit.log", env) as (url, _process):
        page = open_app(browser, url)
        expect(pick_buttons(page).first).to_be_visible()
        first = odds_on_screen(page)
        try:
            page.wait_for_function(
                f"""(before) => {{
                    const now = ({ODDS_BY_KEY})();
                    return Object.keys(before).some(key => key in now && now[key] !== before[key]);
                }}""",
                arg=first,
                timeout=10_000,
            )
        except Exception:
            page.screenshot(path=tmp_path / "odds-did-not-move.png", full_page=True)
            raise
        assert odds_on_screen(page) != first


def test_same_sale_in_remote_mode(browser, tmp_path):
    with engine_server(tmp_path / "engine.sqlite3", tmp_path / "uvicorn.log") as (api_url, _engine):
        env = {"TICKETING_API_URL": api_url}
        with terminal_server(tmp_path / "unused.sqlite3", tmp_path / "streamlit.log", env) as (url, _terminal):
            page = open_app(browser, url)
            expect(page.get_by_text(f"remote engine at {api_url}")).to_be_visible()
            with TicketingClient(api_url, "site", DEMO_SITE_SECRET) as remote:
                click_home_win_everywhere(page, remote.get_coupon("455"))
            widget(page, "sell").locator("button").click()
            code = sold_code(page)
        engine = open_engine(Settings(database=str(tmp_path / "engine.sqlite3"), simulator=False))
        assert engine.get_ticket(SITE_TILL, code).source == "retail"
        assert not (tmp_path / "unused.sqlite3").exists()
        engine.close()


def test_sell_then_find_it_on_the_tickets_desk_and_reprint(browser, terminal, tmp_path):
    url, engine = terminal
    page = open_app(browser, url)
    click_home_win_everywhere(page, engine.get_coupon(SITE_TILL, "455"))
    widget(page, "sell").locator("button").click()
    code = sold_code(page)
    page.get_by_role("link", name="Tickets desk").click()
    lookup = page.get_by_label(re.compile("Ticket code or id"))
    expect(lookup).to_be_visible()
    lookup.fill(f" {code.lower()} ")
    lookup.press("Enter")
    wait_for_app(page)
    expect(page.get_by_role("heading", name=code)).to_be_visible()
    widget(page, "reprint").locator("button").click()
    receipt = page.locator(f".jp-receipt[data-ticket-code='{code}']")
    expect(receipt).to_be_visible()
    expect(receipt.get_by_text("COPY - REPRINT")).to_be_visible()
    page.screenshot(path=tmp_path / "tickets-desk.png", full_page=True)
    # Alt+P prints the receipt the cashier sees, and nothing while the Shift tab hides it (a blank page, before).
    page.evaluate("() => { window.__printed = 0; window.print = () => { window.__printed += 1; }; }")
    page.get_by_role("tab", name="Shift").click()
    expect(receipt).to_be_hidden()
    page.keyboard.press("Alt+P")
    page.get_by_role("tab", name="Find a ticket").click()
    expect(receipt).to_be_visible()
    page.keyboard.press("Alt+P")
    assert page.evaluate("window.__printed") == 1


def test_team_names_with_html_show_as_text(browser, terminal):
    url, engine = terminal
    raw = sample_coupon("good_coupon.json", datetime.now(UTC)) | {"id": "HTML-1"}
    raw["events"][0]["home"] = "<b>Bold</b> FC"
    raw["events"][0]["away"] = "<img src=x onerror=alert(1)>"
    raw["events"][1]["competition"] = "*Stars* League_"
    engine.publish_coupon(SITE_ADMIN, raw)
    page = open_app(browser, f"{url}/?coupon=HTML-1")
    expect(page.get_by_text("<b>Bold</b> FC v <img src=x onerror=alert(1)>")).to_be_visible()
    expect(page.get_by_text("*Stars* League_", exact=False)).to_be_visible()
    assert page.locator("[data-testid=stMain] img[src=x]").count() == 0
    assert page.locator("[data-testid=stMain] b", has_text="Bold").count() == 0


def test_first_visit_of_a_fresh_server_straight_to_a_page_runs_under_the_entry_script(browser, tmp_path):
    with terminal_server(tmp_path / "fresh.sqlite3", tmp_path / "streamlit.log") as (url, _process):
        page = open_app(browser, f"{url}/tickets", ready=".st-key-lookup_ref")
        expect(page.get_by_test_id("stSidebar").get_by_text("Jackpot terminal")).to_have_count(1)
        pages = page.get_by_role("navigation", name="App pages")
        expect(pages.get_by_role("link", name="Tickets desk")).to_be_visible()
        expect(pages.get_by_text("streamlit app")).to_have_count(0)
