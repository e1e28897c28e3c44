"""Paying out in headless Chromium against `streamlit run streamlit_app.py` (embedded engine, odds frozen)."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from playwright.sync_api import expect
from sqlalchemy import update

from tests.browser import open_app, wait_for_app, widget
from tests.servers import terminal_server
from tests.support import SITE_ADMIN, SITE_TILL, sample_request, till_of, without_the_demo_shift
from ticketing.contract.models import EventResult
from ticketing.embedded import open_engine
from ticketing.settings import Settings
from ticketing.storage import coupons

pytestmark = pytest.mark.browser
TILL = "site"


def winner_to_pay(engine) -> str:
    """A shop ticket on coupon 455 that won, in a till with an open shift; the coupon's deadline moved to the past
    once the terminal's engine has opened (opening rolls a past demo coupon forward)."""
    without_the_demo_shift(engine)
    engine.open_shift(till_of(TILL), Decimal("100000.00"))
    ticket = engine.create_ticket(till_of(TILL), sample_request(bets=[101] * 7))
    with engine.store.write() as conn:
        past = (datetime.now(UTC) - timedelta(minutes=5)).replace(tzinfo=None)
        conn.execute(update(coupons).where(coupons.c.id == "455").values(closes_at=past))
    for event in engine.get_coupon(SITE_TILL, "455").events:
        engine.enter_result(SITE_ADMIN, "455", event.id, EventResult.HOME)
    return ticket.code


def test_a_double_click_on_pay_pays_once(browser, tmp_path):
    db = tmp_path / "terminal.sqlite3"
    with terminal_server(db, tmp_path / "streamlit.log") as (url, _process):
        page = open_app(browser, f"{url}/payout", ready=".st-key-payout_ref")
        engine = open_engine(Settings(database=str(db), simulator=False))
        try:
            code = winner_to_pay(engine)
            field = page.get_by_label("Ticket code: scan the receipt's QR code or type the code, then Enter")
            field.fill(code.lower())
            field.press("Enter")
            pay = widget(page, "pay").locator("button")
            expect(pay).to_be_enabled()
            expect(widget(page, "verdict")).to_contain_text("WINNER")
            pay.evaluate("button => { button.click(); button.click(); }")
            expect(widget(page, "verdict")).to_contain_text("PAID", timeout=20_000)
            wait_for_app(page)
            page.wait_for_timeout(1500)  # room for a second payout to arrive, were one sent
            shift = engine.current_shift(till_of(TILL))
            assert (shift.payouts_count, [op.kind for op in shift.operations]) == (1, ["stake", "payout"])
            assert shift.payouts == engine.get_ticket(SITE_TILL, code).settlement.net_payout
            expect(page.get_by_test_id("stAlertContentError")).to_have_count(0)
            slip = page.frame_locator("iframe").first
            expect(slip.locator(f"[data-payout-code='{code}']")).to_be_visible()
        finally:
            engine.close()
