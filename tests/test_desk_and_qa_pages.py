"""The tickets desk and coupon QA pages under AppTest."""

import re

from streamlit.testing.v1 import AppTest

from tests.support import APP, sample_request
from ticketing.models import TicketQuery


def page(path: str) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=30).run()
    return at.switch_page(path).run()


def test_find_a_ticket_by_code_typed_loosely_and_reprint_it(shop):
    ticket = shop.create_ticket(sample_request(source="retail"))
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
    first = shop.create_ticket(sample_request(source="retail"))
    second = shop.create_ticket(sample_request(source="retail", stake=30))
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
        shop.create_ticket(sample_request(stake=stake))
    at = page("pages/tickets.py")
    assert not at.exception
    metrics = {m.label: m.value for m in at.metric}
    stored = shop.list_tickets(TicketQuery(limit=100))
    assert metrics["Tickets"] == "2"
    assert metrics["Stakes (KES)"] == f"{sum(t.stake for t in stored):,.2f}" == "100.25"
    assert metrics["Withholding tax (KES)"] == f"{sum(t.tax for t in stored):,.2f}"
    assert len(at.dataframe[0].value) == 2


def test_coupon_qa_lists_problems_then_publishes_a_good_sample(shop):
    at = page("pages/coupon_qa.py")
    at.selectbox(key="sample").select("broken_coupon.json").run()
    assert not at.exception
    assert any("14 error(s), 1 warning(s)" in e.value for e in at.error)
    problems = at.dataframe[0].value
    assert len(problems) == 15 and set(problems["severity"]) == {"error", "warning"}
    assert not at.button  # nothing to publish
    at.selectbox(key="sample").select("good_coupon.csv").run()
    assert any("no problem found" in s.value for s in at.success)
    assert len(at.dataframe[0].value) == 7
    at.button(key="publish").click().run()
    assert any("JP-2031-21 is live" in s.value for s in at.success)
    assert "JP-2031-21" in [c.id for c in shop.list_open_coupons()]
    link = at.get("page_link")[0]
    assert re.search("coupon=JP-2031-21", str(link.proto))


def test_the_published_banner_belongs_to_the_file_it_was_published_from(shop):
    at = page("pages/coupon_qa.py")
    at.selectbox(key="sample").select("good_coupon.csv").run()
    at.button(key="publish").click().run()
    assert any("is live" in s.value for s in at.success)
    at.selectbox(key="sample").select("broken_coupon.json").run()
    assert any("14 error(s)" in e.value for e in at.error)
    assert not any("is live" in s.value for s in at.success)
    assert not at.get("page_link")
