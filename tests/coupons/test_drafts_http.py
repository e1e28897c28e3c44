"""Drafts, publishing and the sandbox over HTTP, against a real `uvicorn ticketing.api:app` (each backend): what a
till sees and may do, the admin's whole path through the client, and the refusals' codes."""

import json
from datetime import UTC, datetime

import pytest

from tests.coupons.support import EVENT_IDS, small_coupon
from tests.support import Api, sample_body
from ticketing.client import TicketingClient
from ticketing.contract.errors import CouponInUse, DraftChanged
from ticketing.contract.models import EventResult
from ticketing.coupons.models import SandboxSale
from ticketing.settings import DEMO_ADMIN_KEY_ID, DEMO_ADMIN_SECRET


@pytest.fixture
def admin(api_url):
    with TicketingClient(api_url, "site", DEMO_ADMIN_SECRET, DEMO_ADMIN_KEY_ID) as client:
        yield client


def coupon(coupon_id: str) -> dict:
    """The server reads the real clock: the small coupon dated from now, under an id of the test's own."""
    return small_coupon(datetime.now(UTC)) | {"id": coupon_id}


def test_a_till_never_sees_reads_sells_or_tries_a_draft(api, admin):
    admin.save_draft(coupon("HTTP-DRAFT"))
    assert "HTTP-DRAFT" not in [c["id"] for c in api.request("GET", "/be/coupons").json()]
    assert api.request("GET", "/be/coupons/HTTP-DRAFT").json()["code"] == 113
    sale = api.post_ticket(sample_body(coupon_id="HTTP-DRAFT", stake=20, bets=[101] * 4))
    assert (sale.status_code, sale.json()["code"]) == (400, 103)
    for method, path, body in (
        ("GET", "/be/coupons/drafts", b""),
        ("GET", "/be/coupons/HTTP-DRAFT/draft", b""),
        ("GET", "/be/coupons/HTTP-DRAFT/sandbox", b""),
        ("POST", "/be/coupons/HTTP-DRAFT/sandbox/tickets", json.dumps({"stake": 20, "bets": [101] * 4})),
        ("POST", "/be/coupons/drafts", json.dumps(coupon("HTTP-TILL"))),
    ):
        answer = api.request(method, path, body)
        assert (answer.status_code, answer.json()["code"]) == (403, 122), f"{method} {path}: {answer.text}"
    assert [d.id for d in admin.list_drafts()].count("HTTP-DRAFT") == 1


def test_an_admin_tries_a_draft_in_its_sandbox_then_publishes_the_version_reviewed(api, admin):
    first = admin.save_draft(coupon("HTTP-1"))
    ticket = admin.sell_test_ticket("HTTP-1", SandboxSale(stake=20, bets=[101] * 4))
    assert ticket.test and ticket.coupon_id == "HTTP-1"
    for event_id in EVENT_IDS:
        summary = admin.enter_sandbox_result("HTTP-1", event_id, EventResult.HOME)
    assert summary.winners == 1 and summary.coupon_id == "HTTP-1"
    tried = admin.sandbox("HTTP-1").tickets[0]
    assert tried.agrees and tried.ticket.settlement.net_payout == tried.promised.net_payout
    assert api.ticket(ticket.code).status_code == 404

    second = admin.save_draft(coupon("HTTP-1") | {"name": "Second version"})
    with pytest.raises(DraftChanged):
        admin.publish_draft("HTTP-1", first.version)
    published = admin.publish_draft("HTTP-1", second.version)
    assert published.name == "Second version"
    assert "HTTP-1" in [c["id"] for c in api.request("GET", "/be/coupons").json()]

    sold = api.post_ticket(sample_body(coupon_id="HTTP-1", stake=20, bets=[101] * 4))
    assert sold.status_code == 200 and "test" not in sold.json(), "a real ticket's answer is unchanged"
    with pytest.raises(CouponInUse):
        admin.withdraw_coupon("HTTP-1")


def test_a_coupon_without_tickets_is_withdrawn_over_http_and_its_draft_discarded(api, admin):
    admin.publish_draft("HTTP-2", admin.save_draft(coupon("HTTP-2")).version)
    assert "HTTP-2" in [c["id"] for c in api.request("GET", "/be/coupons").json()]
    draft = admin.withdraw_coupon("HTTP-2")
    assert draft.coupon.status == "draft"
    assert "HTTP-2" not in [c["id"] for c in api.request("GET", "/be/coupons").json()]
    admin.discard_draft("HTTP-2")
    assert "HTTP-2" not in [d.id for d in admin.list_drafts()]


def test_a_stale_or_malformed_publish_is_refused_with_its_code(api_url, admin):
    admin.save_draft(coupon("HTTP-3"))
    raw = Api(api_url, "site", DEMO_ADMIN_SECRET, DEMO_ADMIN_KEY_ID)
    try:
        stale = raw.request("POST", "/be/coupons/HTTP-3/publish", json.dumps({"version": "0123abcd"}))
        assert (stale.status_code, stale.json()["code"]) == (400, 150)
        missing = raw.request("POST", "/be/coupons/HTTP-3/publish", "{}")
        assert (missing.status_code, missing.json()["code"]) == (422, 90)
        unknown = raw.request("POST", "/be/coupons/NO-SUCH/publish", json.dumps({"version": "0123abcd"}))
        assert (unknown.status_code, unknown.json()["code"]) == (404, 113)
    finally:
        raw.close()


def test_the_till_key_cannot_publish_a_draft_even_with_its_version(api, admin):
    draft = admin.save_draft(coupon("HTTP-4"))
    answer = api.request("POST", "/be/coupons/HTTP-4/publish", json.dumps({"version": draft.version}))
    assert (answer.status_code, answer.json()["code"]) == (403, 122)
    assert "HTTP-4" not in [c["id"] for c in api.request("GET", "/be/coupons").json()]
