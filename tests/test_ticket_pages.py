"""`GET /be/tickets` in pages: a bounded page size, an opaque cursor in `X-Next-Cursor`, the answer still a JSON list
(Betstack's shape); the page is written by the database, exactly as the tickets themselves would be (issue 11)."""

import base64
import json
from datetime import timedelta
from decimal import Decimal as D

import pytest

from tests.support import SITE_ADMIN, SITE_TILL, sample_body, sample_request
from ticketing.access.roles import Actor, Role
from ticketing.client import TicketingClient
from ticketing.contract import wire
from ticketing.contract.models import EventResult, TicketQuery, TicketStatus
from ticketing.settings import DEMO_SITE_SECRET


@pytest.fixture(scope="module")
def sold(api) -> list[dict]:
    """25 tickets sold over HTTP (the module's server sells nothing else), newest first as one page lists them."""
    ids = set()
    for n in range(25):
        response = api.post_ticket(sample_body(stake=25 + n))
        assert response.status_code == 200, response.text
        ids.add(response.json()["id"])
    everything = api.request("GET", "/be/tickets", params={"limit": 500}).json()
    assert {t["id"] for t in everything} == ids
    return everything


def exactly(value):
    """JSON read with every number kept as its text, so `25.50` and `25.5` differ."""
    if isinstance(value, dict):
        return {k: exactly(v) for k, v in value.items()}
    if isinstance(value, list):
        return [exactly(v) for v in value]
    return str(value) if isinstance(value, D) else value


def test_pages_follow_the_cursor_to_every_ticket_once_newest_first(api, sold):
    seen, cursor, pages = [], None, 0
    while True:
        response = api.request("GET", "/be/tickets", params={"limit": 10} | ({"cursor": cursor} if cursor else {}))
        assert response.status_code == 200, response.text
        page = response.json()
        assert isinstance(page, list) and len(page) <= 10
        seen += page
        pages += 1
        cursor = response.headers.get("X-Next-Cursor")
        if cursor is None:
            break
        assert len(page) == 10, "a cursor comes only with a full page that has more after it"
    assert pages == 3
    assert seen == sold
    assert [t["created"] for t in seen] == sorted((t["created"] for t in seen), reverse=True)


def test_a_page_without_more_after_it_has_no_cursor(api, sold):
    response = api.request("GET", "/be/tickets", params={"limit": 25})
    assert len(response.json()) == 25 and "X-Next-Cursor" not in response.headers


def test_the_page_size_is_at_most_500(api, sold):
    assert len(api.request("GET", "/be/tickets").json()) == 10, "10 by default"
    assert api.request("GET", "/be/tickets", params={"limit": 500}).status_code == 200
    response = api.request("GET", "/be/tickets", params={"limit": 501})
    assert (response.status_code, response.json()["code"]) == (422, 90)
    assert response.json()["errors"][0]["field"] == "limit"


@pytest.mark.parametrize(
    "cursor",
    [
        "abc",
        base64.urlsafe_b64encode(b"not a cursor").decode().rstrip("="),
        base64.urlsafe_b64encode(b"9999-99-99T00:00:00|" + b"a" * 24).decode().rstrip("="),
        base64.urlsafe_b64encode(b"2026-01-01T00:00:00|'; DROP TABLE tickets; --").decode().rstrip("="),
        "=" * 10,
    ],
)
def test_a_cursor_the_server_did_not_give_is_422(api, sold, cursor):
    response = api.request("GET", "/be/tickets", params={"cursor": cursor})
    assert (response.status_code, response.json()["code"]) == (422, 90), response.text
    assert response.json()["errors"][0]["field"] == "cursor"


def test_the_client_lists_past_a_page_by_following_the_cursor(api_url, sold):
    with TicketingClient(api_url, "site", DEMO_SITE_SECRET) as client:
        client.page_size = 7
        tickets = client.list_tickets(TicketQuery(limit=20))
        assert [t.id for t in tickets] == [t["id"] for t in sold[:20]]
        assert [t.id for t in client.list_tickets(TicketQuery(limit=1000))] == [t["id"] for t in sold]


def test_the_database_writes_a_page_exactly_as_the_tickets_are_written(engine):
    """Sold, won and paid at the counter, lost, with a void leg, cancelled by the till: each as its model writes it."""
    for n, atag in enumerate(['quote " and \\ backslash', "ünïcödé ✓", None, "</script>", ""]):
        engine.create_ticket(SITE_TILL, sample_request(stake=D("25.55") + n, atag=atag))
    engine.create_ticket(SITE_TILL, sample_request(coupon_id="456", stake=50, bets=[103] * 13))
    till = Actor("site", Role.TILL, "till-1")
    engine.open_shift(till, D("100000.00"))
    winner = engine.create_ticket(till, sample_request(bets=[101] * 7))
    engine.create_ticket(till, sample_request(bets=[102] + [101] * 6, stake=30))
    cancelled = engine.create_ticket(till, sample_request(coupon_id="456", stake=50, bets=[101] * 13))
    engine.cancel_ticket(till, cancelled.code)
    coupon = engine.get_coupon(SITE_TILL, "455")
    engine.clock = lambda: coupon.closes_at + timedelta(hours=1)
    for n, event in enumerate(coupon.events):
        engine.enter_result(SITE_ADMIN, "455", event.id, EventResult.VOID if n == 3 else EventResult.HOME)
    engine.pay_out(till, winner.code)
    everything = engine.list_tickets(SITE_TILL, TicketQuery(limit=100))
    assert {t.status for t in everything} == {"new", "resulted", "cancelled"}
    assert any(t.settlement and t.settlement.paid for t in everything)
    first = everything[-1].created
    queries = [
        TicketQuery(operator="site", limit=100),
        TicketQuery(operator="site", limit=3),
        TicketQuery(operator="site", coupon_id="456"),
        TicketQuery(operator="site", status=TicketStatus.NEW, user_id=everything[0].user_id, limit=4),
        TicketQuery(operator="site", created_from=first, created_to=first + timedelta(days=1), skip_types=["quicktip"]),
    ]
    for query in queries:
        body, _cursor = engine.list_tickets_json(SITE_TILL, query)
        expected = wire.dumps(engine.list_tickets(SITE_TILL, query))
        assert exactly(wire.loads(body)) == exactly(wire.loads(expected)), query
    rival = Actor("rival", Role.TILL)
    assert engine.list_tickets_json(rival, TicketQuery(operator="site"))[0] == b"[]", "only the actor's operator's"


def test_each_cursor_starts_the_next_page_right_after_the_last_ticket_of_this_one(engine):
    for _ in range(7):
        engine.create_ticket(SITE_TILL, sample_request())
    seen, cursor = [], None
    while True:
        body, cursor = engine.list_tickets_json(SITE_TILL, TicketQuery(limit=3, after=cursor))
        seen += [t["id"] for t in json.loads(body)]
        if cursor is None:
            break
    assert seen == [t.id for t in engine.list_tickets(SITE_TILL, TicketQuery(limit=100))]
    assert len(seen) == 7
