"""The tickets desk and coupon QA pages under AppTest."""

import re
from datetime import UTC, datetime

from streamlit.testing.v1 import AppTest

from tests.support import APP, SITE_TILL, sample_file, sample_request
from ticketing.contract.models import TicketQuery
from ticketing.settings import DEMO_ADMIN_KEY_ID, DEMO_ADMIN_SECRET


def sign_in(at: AppTest, key_id: str, secret: str) -> AppTest:
    at.text_input(key="admin_key_id").input(key_id)
    at.text_input(key="admin_secret").input(secret)
    next(b for b in at.button if b.label == "Sign in as admin").click()
    return at.run()


def page(path: str) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=30).run()
    return at.switch_page(path).run()


def test_find_a_ticket_by_code_typed_loosely_and_reprint_it(shop):
    ticket = shop.create_ticket(SITE_TILL, sample_request(source="retail"))
    at = page("pages/tickets.py")
    at.text_input(key="lookup_ref").input(f"  {ticket.code[:3].lower()} {ticket.code[3:].lower()} ").run()
    assert not at.exception
    assert any(ticket.code in m.value for m in at.markdown)
    assert [m.value for m in at.metric][:3] == ["new", "pending", "approved"]
    text = " ".join(m.value for m in at.markdown)
    assert f"KES {ticket.payout:,.2f}" in text and f"KES {ticket.tax:,.2f}" in text
    at.button(key="reprint").click().run()
    assert any("COPY - REPRINT" in i.value for i in at.info)


def test_a_second_scan_replaces_the_first_code_in_the_field(shop):
    first = shop.create_ticket(SITE_TILL, sample_request(source="retail"))
    second = shop.create_ticket(SITE_TILL, sample_request(source="retail", stake=30))
    at = page("pages/tickets.py")
    at.text_input(key="lookup_ref").input(first.code).run()
    assert at.text_input(key="lookup_ref").value == ""
    at.text_input(key="lookup_ref").input(second.code).run()
    assert not at.error
    assert any(second.code in m.value for m in at.markdown)


def test_unknown_ticket_is_said_plainly(shop):
    at = page("pages/tickets.py")
    at.text_input(key="lookup_ref").input("<b>ZZZZZZ</b>").run()
    assert not at.exception
    assert any("not found" in e.value for e in at.error)


def test_shift_totals_on_screen_match_the_store(shop):
    for stake in ("25", "75.25"):
        shop.create_ticket(SITE_TILL, sample_request(stake=stake))
    at = page("pages/tickets.py")
    assert not at.exception
    metrics = {m.label: m.value for m in at.metric}
    stored = shop.list_tickets(SITE_TILL, TicketQuery(limit=100))
    assert metrics["Tickets"] == "2"
    assert metrics["Stakes (KES)"] == f"{sum(t.stake for t in stored):,.2f}" == "100.25"
    assert metrics["Withholding tax (KES)"] == f"{sum(t.tax for t in stored):,.2f}"
    assert len(at.dataframe[0].value) == 2


def upload(at: AppTest, sample: str) -> AppTest:
    """The page and the engine read the real clock, so the file uploaded is the sample dated from now."""
    return at.file_uploader(key="coupon_file").upload(sample, sample_file(sample, datetime.now(UTC))).run()


def publish_from_the_page(at: AppTest) -> AppTest:
    """Save the checked file as a draft, ask to publish it, confirm."""
    for key in ("save_draft", "qa_publish", "qa_publish_confirm"):
        at.button(key=key).click().run()
    return at


def test_coupon_qa_lists_problems_then_publishes_a_good_sample(shop):
    at = upload(page("pages/coupon_qa.py"), "broken_coupon.json")
    assert not at.exception
    assert any("14 error(s), 1 warning(s)" in e.value for e in at.error)
    problems = at.table[0].value
    assert len(problems) == 15 and set(problems["severity"]) == {"error", "warning"}
    # In a table, which wraps a long problem instead of cutting it at a grid column's edge.
    assert any(p.endswith("the deadline must be at or before the earliest kickoff") for p in problems["problem"])
    assert not at.button  # nothing to publish
    at = upload(at, "good_coupon.csv")
    assert any("no problem found" in s.value for s in at.success)
    assert len(at.dataframe[0].value) == 7
    sign_in(at, DEMO_ADMIN_KEY_ID, DEMO_ADMIN_SECRET)
    publish_from_the_page(at)
    assert any("JP\\-2099\\-21 is on sale" in s.value for s in at.success)
    assert "JP-2099-21" in [c.id for c in shop.list_open_coupons(SITE_TILL)]
    link = at.get("page_link")[0]
    assert re.search("coupon=JP-2099-21", str(link.proto))


def test_coupon_qa_checks_a_sample_picked_from_the_list(shop):
    at = page("pages/coupon_qa.py")
    at.selectbox(key="sample").select("broken_coupon.json").run()
    assert not at.exception
    assert any("**broken\\_coupon\\.json**" in e.value and "error(s)" in e.value for e in at.error)
    assert "duplicate event id 700001" in set(at.table[0].value["problem"])
