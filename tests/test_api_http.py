"""The engine over real HTTP: a `uvicorn ticketing.api:app` on 127.0.0.1 started by the test."""

import json
from decimal import Decimal as D

import httpx
import pytest

from tests.support import SAMPLE_REQUEST_TEXT, SAMPLE_RESPONSE_FIELDS, Api, sample_body
from ticketing.contract.identifiers import CODE_ALPHABET
from ticketing.settings import DEMO_FEED_KEY_ID, DEMO_FEED_SECRET


def all_bets(api: Api, coupon_id: str = "455", bet: int = 101) -> list[dict]:
    return [{"id": e["id"], "bet": bet, "odds": e["odds"][str(bet)]} for e in api.coupon(coupon_id)["events"]]


def test_spec_sample_request_verbatim_returns_every_sample_response_field(api):
    response = api.post_ticket(SAMPLE_REQUEST_TEXT)
    assert response.status_code == 200, response.text
    ticket = response.json()
    assert SAMPLE_RESPONSE_FIELDS <= ticket.keys()
    assert ticket["status"] == "new" and ticket["result"] == "pending" and ticket["approved"] is True
    assert (ticket["stake"], ticket["currency"], ticket["type"], ticket["source"]) == (25, "KES", "jackpot", "sms")
    assert ticket["atag"] == "afiliate-1" and ticket["user_id"] == "1660986605374148608"
    assert len(ticket["id"]) == 24 and int(ticket["id"], 16) >= 0
    assert len(ticket["code"]) == 6 and set(ticket["code"]) <= set(CODE_ALPHABET)
    assert "token" not in ticket
    # Amounts are JSON numbers written with two decimals.
    assert '"stake":25.00' in response.text and f'"payout":{D(str(ticket["payout"])):.2f}' in response.text
    stored = api.ticket(ticket["code"]).json()
    assert stored == ticket


def test_sample_against_a_suspended_event_is_101(api):
    api.set_event("455", 390815, status="suspended")
    try:
        response = api.post_ticket(SAMPLE_REQUEST_TEXT)
        assert response.status_code == 400
        assert response.json() == {
            "code": 101,
            "message": "Could not create ticket. Event 390815 is not available",
            "event_id": 390815,
        }
    finally:
        api.set_event("455", 390815, status="available")


def test_moved_odds_with_zero_tolerance_is_102_naming_the_event(api):
    seen = all_bets(api)
    moved = api.set_event("455", seen[3]["id"], odds={"101": round(seen[3]["odds"] + 0.07, 2)})
    response = api.post_ticket(sample_body(bets=None, events=seen))
    assert response.status_code == 400
    body = response.json()
    assert (body["code"], body["message"]) == (102, "Odds changed")
    assert body["events"] == [
        {"id": seen[3]["id"], "bet": 101, "odds": seen[3]["odds"], "current_odds": moved["odds"]["101"]}
    ]


@pytest.mark.parametrize("move, tolerance", [("0.03", "0.05"), ("0.05", "0.05"), ("-0.05", "0.05")])
def test_moved_odds_within_or_exactly_at_tolerance_sells_at_current_odds(api, move, tolerance):
    seen = all_bets(api, bet=102)
    current = D(str(seen[1]["odds"])) + D(move)
    api.set_event("455", seen[1]["id"], odds={"102": float(current)})
    response = api.post_ticket(sample_body(bets=None, events=seen, odds_diff=float(tolerance)))
    assert response.status_code == 200, response.text
    ticket = response.json()
    assert D(str(ticket["events"][1]["odds"])) == current
    assert D(str(ticket["odds_diff"])) == D(tolerance)


def test_unknown_token_is_403(api):
    response = api.post_ticket(sample_body(token="not-a-player"))
    assert response.status_code == 403
    assert response.json() == {"code": 120, "message": "Invalid token"}


def test_bad_signature_is_403_and_sells_nothing(api):
    before = len(api.request("GET", "/be/tickets", params={"limit": 500}).json())
    body = SAMPLE_REQUEST_TEXT.encode()
    headers = {"operator-name": "site", "timestamp": "1706090303", "signature": "0" * 64}
    for sent in (headers, {"operator-name": "site"}, {}):
        response = httpx.post(f"{api.base_url}/be/tickets", content=body, headers=sent)
        assert response.status_code == 403, response.text
        assert response.json()["code"] == 121
    assert len(api.request("GET", "/be/tickets", params={"limit": 500}).json()) == before


def test_stale_timestamp_is_403(api):
    from ticketing.access.betstack_signing import sign

    body = SAMPLE_REQUEST_TEXT.encode()
    old = "1706090303"
    headers = {"operator-name": "site", "timestamp": old, "signature": sign("12345ABCDE", old, body)}
    response = httpx.post(f"{api.base_url}/be/tickets", content=body, headers=headers)
    assert response.status_code == 403 and "5 minutes" in response.json()["message"]


@pytest.mark.parametrize(
    "changes, status, code, field",
    [
        ({"stake": 25.555}, 422, 90, "stake"),
        ({"currency": "KE"}, 422, 90, "currency"),
        ({"token": None}, 422, 90, "token"),
        ({"source": "fax"}, 422, 90, "source"),
        ({"bets": [101, 102]}, 400, 105, None),
        ({"bets": [101] * 8}, 400, 105, None),
        ({"currency": "UGX"}, 400, 109, None),
        ({"stake": 10}, 400, 108, None),
        ({"coupon_id": "999"}, 400, 103, None),
        ({"type": "quicktip"}, 400, 100, None),
    ],
)
def test_bad_input_gets_the_decided_status_and_code(api, changes, status, code, field):
    body = {k: v for k, v in (sample_body() | changes).items() if v is not None}
    response = api.post_ticket(body)
    assert response.status_code == status, response.text
    payload = response.json()
    assert payload["code"] == code and payload["message"]
    if field:
        assert field in [e["field"] for e in payload["errors"]]
        assert field in payload["message"]


def test_every_bad_field_is_named(api):
    response = api.post_ticket(sample_body(stake="abc", currency="ke", odds_diff=-1) | {"token": ""})
    assert response.status_code == 422
    assert {e["field"] for e in response.json()["errors"]} >= {"stake", "currency", "odds_diff", "token"}


def test_quicktip_message(api):
    response = api.post_ticket(sample_body(type="QuickTip"))
    assert response.json() == {"code": 100, "message": "quicktip feature not implemented yet"}


def test_idempotent_repeat_over_http_one_ticket_one_debit(api):
    key = {"Idempotency-Key": "till-3-draft-42"}
    before = api.request("GET", "/be/tickets", params={"limit": 500}).json()
    first = api.post_ticket(SAMPLE_REQUEST_TEXT, headers=key)
    second = api.post_ticket(json.dumps(json.loads(SAMPLE_REQUEST_TEXT)), headers=key)
    assert first.status_code == second.status_code == 200
    assert first.json() == second.json()
    after = api.request("GET", "/be/tickets", params={"limit": 500}).json()
    assert len(after) == len(before) + 1
    other = api.post_ticket(sample_body(stake=50), headers=key)
    assert other.status_code == 400 and other.json()["code"] == 112


def test_coupon_json_and_event_update(api):
    coupons = api.request("GET", "/be/coupons").json()
    assert [(c["id"], len(c["events"])) for c in coupons] == [("455", 7), ("456", 13), ("457", 17)]
    event = coupons[0]["events"][0]
    assert set(event) >= {"id", "status", "odds", "home", "away", "competition", "kickoff"}
    assert set(event["odds"]) == {"101", "102", "103"}
    updated = api.set_event("455", event["id"], odds={"103": 9.99})
    assert updated["odds"]["103"] == 9.99 and updated["status"] == "available"
    feed = api.as_credential(DEMO_FEED_KEY_ID, DEMO_FEED_SECRET)
    bad = feed.request("PUT", f"/be/coupons/455/events/{event['id']}", json.dumps({"odds": {"104": 2}}))
    assert bad.status_code == 422
    missing = feed.request("PUT", "/be/coupons/455/events/1", json.dumps({"status": "started"}))
    assert missing.status_code == 404 and missing.json()["code"] == 113


@pytest.mark.parametrize("reference", ["NOPE00", "..%2F..%2Fetc", "%00", "a" * 64, "%F0%9F%92%A3", "1 OR 1=1"])
def test_strange_ticket_lookups_are_404(api, reference):
    response = api.ticket(reference)
    assert response.status_code in (404, 422)
    assert response.json()["code"] in (111, 90, 404)


def test_docs_and_openapi_are_served(api):
    assert api.http.get("/docs").status_code == 200
    schema = api.http.get("/openapi.json").json()
    assert "/be/tickets" in schema["paths"] and "post" in schema["paths"]["/be/tickets"]


def test_the_sale_is_documented_with_its_body_headers_and_answer(api):
    """`POST /be/tickets` reads its arguments itself (`SaleRoute`), but is documented like every other route."""
    operation = api.http.get("/openapi.json").json()["paths"]["/be/tickets"]["post"]
    assert operation["requestBody"]["content"]["application/json"]["schema"]["$ref"].endswith("/TicketRequest")
    assert {p["name"] for p in operation["parameters"]} == {
        "operator-name",
        "key-id",
        "timestamp",
        "signature",
        "Idempotency-Key",
    }
    assert operation["responses"]["200"]["content"]["application/json"]["schema"]["$ref"].endswith("/Ticket")
    assert {"400", "403", "422"} <= set(operation["responses"])


def test_a_bad_idempotency_key_and_a_bad_field_are_named_in_one_422(api):
    response = api.post_ticket(sample_body(stake="abc"), headers={"Idempotency-Key": "k" * 201})
    assert (response.status_code, response.json()["code"]) == (422, 90), response.text
    assert [e["field"] for e in response.json()["errors"]] == ["Idempotency-Key", "stake"]


@pytest.mark.parametrize("content_type", ["application/json; charset=utf-8", "application/vnd.betstack+json", None])
def test_a_sale_is_read_as_json_when_its_content_type_says_json_or_nothing(api, content_type):
    body = json.dumps(sample_body(atag=f"type-{content_type}")).encode()
    headers = api.signed("POST", "/be/tickets", body) | ({"content-type": content_type} if content_type else {})
    response = api.http.post("/be/tickets", content=body, headers=headers)
    assert response.status_code == 200, response.text


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", "application/jsonish"])
def test_a_sale_sent_as_anything_but_json_is_422_naming_the_body(api, content_type):
    response = api.post_ticket(sample_body(), headers={"content-type": content_type})
    assert (response.status_code, response.json()["code"]) == (422, 90), response.text
    assert [e["field"] for e in response.json()["errors"]] == ["body"]


@pytest.mark.parametrize("body", ["", "null"])
def test_a_sale_without_a_body_is_422_body_required(api, body):
    response = api.post_ticket(body)
    assert (response.status_code, response.json()["errors"]) == (422, [{"field": "body", "message": "Field required"}])


def test_who_sends_a_sale_is_checked_before_what_it_says(api):
    response = api.post_ticket("{not json", headers={"signature": "0" * 64})
    assert response.status_code == 403, response.text


def test_body_over_64_kib_is_413(api):
    response = api.post_ticket(sample_body(atag="x" * 70000))
    assert response.status_code == 413 and response.json()["code"] == 91


def test_event_and_bet_ids_beyond_what_the_database_holds_are_422(api):
    """Ids are BIGINT in the database (and exact in a JavaScript client up to 2**53): larger ones are refused as
    input, before any query, never a 500."""
    huge = 2**64
    for body in (
        sample_body(bets=[huge] * 7),
        sample_body(bets=None, events=[{"id": huge, "bet": 101, "odds": 2}]),
    ):
        response = api.post_ticket(body)
        assert (response.status_code, response.json()["code"]) == (422, 90), response.text
    feed = api.as_credential(DEMO_FEED_KEY_ID, DEMO_FEED_SECRET)
    moved = feed.request("PUT", f"/be/coupons/455/events/{huge}", '{"status": "suspended"}')
    assert moved.status_code == 422, moved.text
