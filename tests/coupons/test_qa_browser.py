"""Coupon QA in headless Chromium against `streamlit run streamlit_app.py` (embedded engine, a configured admin): a
file uploaded, saved as a draft, a test ticket sold and settled in the sandbox, then published once confirmed.

Screenshots at 1366x768 go to `tmp_path`, or to the folder `TICKETING_SCREENSHOTS` names (`docs` for the README's)."""

import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import pytest
from playwright.sync_api import Locator, Page, expect

from tests.browser import choose_option, wait_for_app, widget
from tests.coupons.support import all_tickets
from tests.servers import terminal_server
from tests.support import SITE_ADMIN, SITE_TILL, sample_file
from ticketing.contract.models import TicketQuery
from ticketing.coupons.rules import coupon_body
from ticketing.embedded import open_engine
from ticketing.settings import DEMO_ADMIN_KEY_ID, DEMO_ADMIN_SECRET, Settings

pytestmark = pytest.mark.browser
VIEWPORT = {"width": 1366, "height": 768}


def screenshot(page: Page, folder: Path, name: str, show: Locator | None = None) -> None:
    if show is not None:
        show.evaluate("element => element.scrollIntoView({block: 'center'})")
    wait_for_app(page)
    page.wait_for_timeout(500)  # tables draw on a canvas after the app is idle: only the picture waits for them
    page.screenshot(path=folder / name)


def type_and_enter(page: Page, key: str, text: str) -> None:
    field = widget(page, key).locator("input")
    field.fill(text)
    field.press("Enter")
    wait_for_app(page)


@contextmanager
def qa_page(browser, db: Path) -> Iterator[Page]:
    """The Coupon QA page of a terminal on `db` with the demo's admin configured, at 1366x768."""
    admin = {"TICKETING_ADMIN_KEY_ID": DEMO_ADMIN_KEY_ID, "TICKETING_ADMIN_SECRET": DEMO_ADMIN_SECRET}
    with terminal_server(db, db.parent / "streamlit.log", extra_env=admin) as (url, _process):
        page = browser.new_page(viewport=VIEWPORT)
        page.goto(f"{url}/coupon_qa")
        page.wait_for_selector(".st-key-coupon_file", timeout=30_000)
        yield page


def test_upload_then_a_sandbox_sale_its_test_settlement_and_a_confirmed_publish(browser, tmp_path):
    folder = Path(os.environ.get("TICKETING_SCREENSHOTS") or tmp_path)
    now = datetime.now(UTC)
    for name in ("broken_coupon.json", "good_coupon.csv"):
        (tmp_path / name).write_bytes(sample_file(name, now))
    db = tmp_path / "terminal.sqlite3"
    with qa_page(browser, db) as page:
        wait_for_app(page)
        upload = widget(page, "coupon_file").locator("input[type=file]")

        upload.set_input_files(tmp_path / "broken_coupon.json")
        expect(page.get_by_text("14 error(s), 1 warning(s)")).to_be_visible(timeout=20_000)
        problems = page.get_by_test_id("stTable").first
        expect(problems.get_by_text("the deadline must be at or before the earliest kickoff")).to_be_visible()
        screenshot(page, folder, "coupon-qa.png", show=problems)

        upload.set_input_files(tmp_path / "good_coupon.csv")
        expect(page.get_by_text("no problem found")).to_be_visible(timeout=20_000)
        screenshot(page, folder, "coupon-qa-report.png", show=widget(page, "liability"))

        widget(page, "save_draft").locator("button").click()
        expect(widget(page, "qa_sell")).to_be_visible(timeout=20_000)
        type_and_enter(page, "qa_picks", "1x21111")
        widget(page, "qa_sell").locator("button").click()
        sold = page.get_by_text(re.compile(r"Test ticket [A-Z0-9]{6} sold"))
        expect(sold).to_be_visible(timeout=20_000)
        code = re.search(r"Test ticket ([A-Z0-9]{6})", sold.inner_text()).group(1)
        receipt = page.locator(f".jp-receipt[data-ticket-code='{code}']")
        expect(receipt).to_be_visible()
        expect(receipt.get_by_text("TEST – NOT VALID").first).to_be_visible()

        type_and_enter(page, "qa_results", "1X21111")
        widget(page, "qa_enter_results").locator("button").click()
        expect(page.get_by_text("Test results entered.")).to_be_visible(timeout=20_000)
        summary = widget(page, "sandbox_summary")
        expect(summary).to_contain_text("7 of 7")
        winners = summary.get_by_test_id("stMetric").filter(has=page.get_by_text("Winners", exact=True))
        expect(winners.get_by_test_id("stMetricValue")).to_have_text("1")
        screenshot(page, folder, "coupon-qa-sandbox.png", show=summary)

        engine = open_engine(Settings(database=str(db), simulator=False))
        try:
            assert "JP-2099-21" not in [c.id for c in engine.list_open_coupons(SITE_TILL)]
            assert [row.test for row in all_tickets(engine.store)] == [True]

            widget(page, "qa_publish").locator("button").click()
            confirm = widget(page, "publish_confirm_box")
            expect(confirm).to_contain_text("on sale on every till now?", timeout=20_000)
            screenshot(page, folder, "coupon-qa-publish.png", show=confirm)
            assert "JP-2099-21" not in [c.id for c in engine.list_open_coupons(SITE_TILL)], "asking is not publishing"

            widget(page, "qa_publish_confirm").locator("button").click()
            expect(page.get_by_text("is on sale on every till")).to_be_visible(timeout=20_000)
            assert "JP-2099-21" in [c.id for c in engine.list_open_coupons(SITE_TILL)]
            assert all_tickets(engine.store) == [], "publishing cleared the sandbox"
            assert engine.list_tickets(SITE_TILL, TicketQuery(limit=10)) == []
            expect(page.get_by_test_id("stException")).to_have_count(0)
        finally:
            engine.close()


def test_a_draft_taken_off_sale_stays_open_in_the_workspace(browser, tmp_path):
    """A draft that replaces the coupon on sale, picked, then the coupon taken off sale: the draft's option loses
    "(replaces the coupon on sale)", the browser sends the old text back at the next run, and everything under the
    picker vanished (a review found it)."""
    db = tmp_path / "terminal.sqlite3"
    with qa_page(browser, db) as page:
        engine = open_engine(Settings(database=str(db), simulator=False))
        try:
            engine.save_draft(SITE_ADMIN, coupon_body(engine.get_coupon(SITE_ADMIN, "455")) | {"name": "Midweek v2"})
        finally:
            engine.close()
        page.reload()
        page.wait_for_selector(".st-key-qa_draft", timeout=30_000)
        choose_option(page, "qa_draft", re.compile("replaces the coupon on sale"))
        wait_for_app(page)
        widget(page, "qa_withdraw").locator("button").click()
        wait_for_app(page)
        type_and_enter(page, "qa_picks", "1X21X21")
        page.wait_for_timeout(1500)  # the Enter's run drawn to its end: a vanished workspace is gone by then
        wait_for_app(page)
        expect(page.get_by_text("Draft 455", exact=False).first).to_be_visible(timeout=10_000)
        expect(widget(page, "qa_picks")).to_be_visible()
