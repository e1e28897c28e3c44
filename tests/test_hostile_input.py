"""Input anyone can send answers a documented 4xx, never a 500 (issue 11, "No 500 from input").

Each test names a probe that once answered 500, was accepted when it should not be, or answered an undocumented
`{"code": 400}`; all of them go to a real `uvicorn ticketing.api:app`."""

import json
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal as D

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.support import SAMPLE_REQUEST_TEXT, SITE_TILL, Api, sample_body, sample_request
from ticketing.access.betstack_signing import sign
from ticketing.contract.models import DEFAULT_MAX_PAYOUT, MAX_PICKS
from ticketing.coupons.check import check_coupon_data
from ticketing.settings import (
    DEMO_ADMIN_KEY_ID,
    DEMO_ADMIN_SECRET,
    DEMO_FEED_KEY_ID,
    DEMO_FEED_SECRET,
    DEMO_SITE_SECRET,
)


def signed_sample(timestamp: str | None = None) -> dict:
    timestamp = timestamp or str(int(time.time()))
    return {"operator-name": "site", "timestamp": timestamp, "signature": sign(DEMO_SITE_SECRET, timestamp, BODY)}


BODY = SAMPLE_REQUEST_TEXT.encode()


def post_raw(api: Api, body: bytes, headers: dict) -> httpx.Response:
    return api.http.post("/be/tickets", content=body, headers={"content-type": "application/json"} | headers)


def tickets_sold(api: Api) -> int:
    return len(api.request("GET", "/be/tickets", params={"limit": 500}).json())


# ---- signature headers ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name, change",
    [
        ("non-ASCII signature", {"signature": "é".encode() * 32}),
        ("non-ASCII signature of the right length", {"signature": b"\xff" * 64}),
        ("signature of the wrong length", {"signature": "ab" * 40}),
        ("non-ASCII timestamp", {"timestamp": "١٧٠٠٠٠٠٠٠٠".encode()}),
        ("timestamp with a sign", None),
        ("timestamp with underscores", None),
    ],
)
def test_non_ascii_or_malformed_signature_headers_are_403(api, name, change):
    now = int(time.time())
    if name == "timestamp with a sign":
        headers = signed_sample(f"+{now}")
    elif name == "timestamp with underscores":
        headers = signed_sample(f"{now // 1000}_{now % 1000:03d}")
    else:
        headers = signed_sample() | change
    before = tickets_sold(api)
    response = post_raw(api, BODY, headers)
    assert (response.status_code, response.json()["code"]) == (403, 121), response.text
    assert tickets_sold(api) == before


# ---- request bodies ---------------------------------------------------------------------------------------------


def signed_post(api: Api, body: bytes) -> httpx.Response:
    return api.request("POST", "/be/tickets", body)


def test_duplicate_json_keys_are_422_and_sell_nothing(api):
    before = tickets_sold(api)
    body = SAMPLE_REQUEST_TEXT.replace('"stake": 25,', '"stake": 25, "stake": 5000,').encode()
    assert body.count(b'"stake"') == 2
    response = signed_post(api, body)
    assert (response.status_code, response.json()["code"]) == (422, 90), response.text
    assert "duplicate key 'stake'" in response.json()["message"]
    nested = json.dumps(sample_body(bets=None, events=[])).replace('"events": []', '"events": [{"id": 1, "id": 2}]')
    assert signed_post(api, nested.encode()).status_code == 422
    assert tickets_sold(api) == before


@pytest.mark.parametrize(
    "admin, path, body",
    [
        (True, "/be/coupons/drafts", '{"id": "DUP-1", "name": "A", "name": "B"}'),
        (True, "/be/coupons/455/sandbox/tickets", '{"stake": 25, "stake": 5000, "bets": [101]}'),
        (True, "/be/wallet/outbox/retry", '{"message_id": 1, "message_id": 2}'),
        (False, "/be/wallet/player", '{"token": "a", "token": "b"}'),
        (False, "/be/shifts", '{"float": 5000, "float": 50}'),
    ],
)
def test_duplicate_json_keys_are_422_on_every_route_that_takes_a_body(api, admin, path, body):
    """Every router reads bodies with the strict reader (`WireRoute`), not only the sale's."""
    response = (as_admin(api) if admin else api).request("POST", path, body)
    assert (response.status_code, response.json()["code"]) == (422, 90), f"{path}: {response.text}"
    assert "duplicate key" in response.json()["message"], response.text


@pytest.mark.parametrize(
    "name, body",
    [
        ("not UTF-8", b'{"operator": "\xff\xfe"}'),
        ("nested past the parser's depth", b"[" * 5000 + b"]" * 5000),
        ("an integer of 5000 digits", b'{"stake": ' + b"9" * 5000 + b"}"),
        ("NaN", b'{"stake": NaN}'),
        ("Infinity", b'{"stake": -Infinity}'),
        ("cut short", SAMPLE_REQUEST_TEXT.encode()[:-10]),
        ("two documents", BODY + BODY),
        ("a list", b"[]"),
    ],
)
@pytest.mark.parametrize(
    "method, path", [("POST", "/be/tickets"), ("POST", "/be/coupons"), ("POST", "/be/coupons/455/results/preview")]
)
def test_every_malformed_body_is_422_90(api, name, body, method, path):
    signer = api if path == "/be/tickets" else as_admin(api)
    response = signer.request(method, path, body)
    assert response.status_code == 422, f"{name} on {path}: {response.text}"
    payload = response.json()
    assert payload["code"] == 90 and payload["message"].startswith("Invalid request"), payload
    assert payload["errors"] and all(e["field"] and e["message"] for e in payload["errors"])


@pytest.mark.parametrize(
    "method, path",
    [("POST", "/be/tickets/"), ("GET", "/be/operator/"), ("POST", "/be/shifts/"), ("GET", "/health/")],
)
def test_a_trailing_slash_is_a_path_not_found_not_a_redirect_to_the_clients_host(api, method, path):
    """A redirect would be built from the Host header the client sent, and a client following it sends its signed
    body to whatever that names (found by a hostile review)."""
    response = api.http.request(method, path, content=BODY, headers=signed_sample() | {"host": "evil.example"})
    assert response.status_code == 404 and "location" not in response.headers
    assert response.json() == {"code": 404, "message": "Not Found"}


def test_amounts_in_request_bodies_are_read_exactly(api):
    response = signed_post(api, SAMPLE_REQUEST_TEXT.replace('"stake": 25,', '"stake": 25.000000000000001,').encode())
    assert response.status_code == 422 and "stake" in response.json()["message"]


# ---- text fields ------------------------------------------------------------------------------------------------

CONTROL_CHARACTERS = ["\r\n", "\t", "\x00", "\x1b[2J", "\x7f", "\x85", "\x9b", "\u2028"]


@pytest.mark.parametrize("character", CONTROL_CHARACTERS)
@pytest.mark.parametrize("field", ["atag", "token"])
def test_control_characters_in_a_ticket_text_field_are_422(api, field, character):
    response = api.post_ticket(sample_body(**{field: f"shop{character}7"}))
    assert (response.status_code, response.json()["code"]) == (422, 90), response.text
    assert field in [e["field"] for e in response.json()["errors"]]


def test_control_characters_in_the_idempotency_key_are_422(api):
    response = api.post_ticket(SAMPLE_REQUEST_TEXT, headers={"Idempotency-Key": "till-1\tdraft-2"})
    assert (response.status_code, response.json()["code"]) == (422, 90), response.text


# ---- coupons ----------------------------------------------------------------------------------------------------


def coupon_body(coupon_id: str = "HOSTILE-1", events: int = 3, **changes) -> dict:
    """A publishable coupon (engine JSON format) with `events` events, two days ahead."""
    closes_at = datetime.now(UTC).replace(microsecond=0, tzinfo=None) + timedelta(days=2)
    return {
        "id": coupon_id,
        "name": "Hostile Jackpot",
        "currency": "KES",
        "closes_at": closes_at.isoformat(),
        "stake_rules": {"min_stake": 25, "max_stake": 1000},
        "max_payout": 1000000,
        "events": [
            {
                "id": 880000 + n,
                "home": f"Home {n}",
                "away": f"Away {n}",
                "competition": "Test League",
                "kickoff": (closes_at + timedelta(hours=2)).isoformat(),
                "odds": {"101": 1.5, "102": 4.0, "103": 6.0},
            }
            for n in range(events)
        ],
    } | changes


def as_admin(api: Api) -> Api:
    return api.as_credential(DEMO_ADMIN_KEY_ID, DEMO_ADMIN_SECRET)


def publish(api: Api, coupon: dict) -> httpx.Response:
    return as_admin(api).request("POST", "/be/coupons", json.dumps(coupon))


def problems_of(response: httpx.Response) -> list[dict]:
    assert (response.status_code, response.json()["code"]) == (400, 114), response.text
    return response.json()["problems"]


def has_problem(response: httpx.Response, field: str, text: str) -> bool:
    return any(p["field"] == field and text in p["message"] for p in problems_of(response))


def lone_surrogate_bodies() -> list[tuple[bool, str, bytes]]:
    """Otherwise valid bodies with half a UTF-16 pair escaped (`\\ud800`) in one string: each was a 500."""
    sale = json.dumps(sample_body())
    coupon = json.dumps(coupon_body("SURROGATE-1"))
    return [
        (False, "/be/tickets", sale.replace('"sGhx12', '"sGhx12\\ud800', 1).encode()),
        (False, "/be/tickets", sale.replace('"afiliate-1"', '"\\udc00"').encode()),
        (False, "/be/wallet/player", b'{"token": "a\\ud800"}'),
        (True, "/be/coupons", coupon.replace('"name": "', '"name": "Sat\\ud800', 1).encode()),
        (True, "/be/coupons/drafts", coupon.replace('"name": "', '"name": "Sat\\ud800', 1).encode()),
    ]


@pytest.mark.parametrize("admin, path, body", lone_surrogate_bodies())
def test_a_lone_surrogate_in_any_string_is_422_not_a_500(api, admin, path, body):
    before = tickets_sold(api)
    assert b"\\ud" in body  # the replacement took place
    response = (as_admin(api) if admin else api).request("POST", path, body)
    assert (response.status_code, response.json()["code"]) == (422, 90), f"{path}: {response.text}"
    assert "lone surrogate" in response.json()["message"]
    assert tickets_sold(api) == before


@pytest.mark.parametrize("twin", [" 101", "+101", "0101", "101 "])
def test_two_keys_naming_one_bet_are_refused_not_the_last_one_kept(api, twin):
    """`{"101": 2.50, " 101": 9.99}` set the odds to 9.99: keys are read as numbers only when written plainly."""
    feed = api.as_credential(DEMO_FEED_KEY_ID, DEMO_FEED_SECRET)
    event = api.request("GET", "/be/coupons/455").json()["events"][0]
    body = '{"odds": {"101": 2.50, "' + twin + '": 9.99}}'
    response = feed.request("PUT", f"/be/coupons/455/events/{event['id']}", body)
    assert (response.status_code, response.json()["code"]) == (422, 90), response.text
    assert api.request("GET", "/be/coupons/455").json()["events"][0]["odds"] == event["odds"]
    preview = json.dumps({"results": {str(event["id"]): "1", f" {event['id']}": "2"}})
    response = as_admin(api).request("POST", "/be/coupons/455/results/preview", preview)
    assert (response.status_code, response.json()["code"]) == (422, 90), response.text


def test_two_bonus_tiers_naming_one_number_of_correct_picks_are_the_coupon_checks_error(api):
    response = publish(api, coupon_body("TIERS-1", bonus_prizes={"2": 500, "02": 90000}))
    assert (response.status_code, response.json()["code"]) == (400, 114), response.text
    assert has_problem(response, "bonus_prizes.02", "written plainly")


def test_true_or_a_string_as_a_bet_id_is_422_not_bet_1(api):
    """`true` was read as bet 1: 400 "Bet 1 is not offered" for a body that is malformed."""
    for first in (True, "101"):
        body = sample_body()
        body["bets"][0] = first
        response = signed_post(api, json.dumps(body).encode())
        assert (response.status_code, response.json()["code"]) == (422, 90), response.text


@pytest.mark.parametrize("status", ["draft", "closed", "resulted", "final", "cancelled", "OPEN"])
def test_a_coupon_is_only_published_open(api, status):
    """Stored with its file's status, "draft" made a coupon nobody could see or withdraw, "final" one listed as
    closed before its deadline."""
    response = publish(api, coupon_body("STATUS-1", status=status))
    assert (response.status_code, response.json()["code"]) == (400, 114), response.text
    assert has_problem(response, "status", "published")
    assert api.request("GET", "/be/coupons/STATUS-1").status_code == 404


@pytest.mark.parametrize("character", CONTROL_CHARACTERS)
def test_control_characters_in_coupon_names_are_the_coupon_checks_error(api, character):
    coupon = coupon_body(name=f"Jackpot{character}")
    coupon["events"][1]["home"] = f"Home{character}FC"
    response = publish(api, coupon)
    assert has_problem(response, "name", "control character")
    assert has_problem(response, "home", "control character")


EDGE_DATES = ["9999-12-31T23:59:59-14:00", "0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59"]


@pytest.mark.parametrize("date", EDGE_DATES[:2])
@pytest.mark.parametrize("field", ["created_from", "created_to"])
def test_out_of_range_dates_in_ticket_queries_are_422(api, field, date):
    response = api.request("GET", "/be/tickets", params={field: date})
    assert (response.status_code, response.json()["code"]) == (422, 90), response.text
    assert field in [e["field"] for e in response.json()["errors"]]


@pytest.mark.parametrize("date", EDGE_DATES)
def test_out_of_range_dates_in_coupons_are_the_coupon_checks_error(api, date):
    coupon = coupon_body(closes_at=date)
    coupon["events"][0]["kickoff"] = date
    response = publish(api, coupon)
    assert has_problem(response, "closes_at", "calendar")
    assert has_problem(response, "kickoff", "calendar")


@pytest.mark.parametrize("number", ["1e26", "1E+999999999", "123456789012345678901234567890.5"])
def test_absurd_numbers_in_coupons_are_the_coupon_checks_error(api, number):
    coupon = coupon_body()
    text = json.dumps(coupon)
    for field in ('"max_payout": 1000000', '"max_stake": 1000', '"101": 1.5'):
        text = text.replace(field, field.split(":")[0] + f": {number}", 1)
    response = as_admin(api).request("POST", "/be/coupons", text)
    assert has_problem(response, "max_payout", "too large")
    assert has_problem(response, "max_stake", "too large")
    assert has_problem(response, "odds 1", "above")


NUMBERS = st.builds(
    lambda digits, exponent: D(digits).scaleb(exponent), st.integers(-(10**40), 10**40), st.integers(-400, 400)
)
DATES = st.sampled_from(EDGE_DATES) | st.builds(
    lambda moment, minutes: moment.replace(tzinfo=timezone(timedelta(minutes=minutes))).isoformat(),
    st.datetimes(),
    st.integers(-14 * 60 + 1, 14 * 60 - 1),
)
SCALARS = st.none() | st.booleans() | st.integers() | NUMBERS | DATES | st.text(max_size=20)
JSON_VALUES = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=8,
)
COUPON_PATHS = [
    ("id",),
    ("name",),
    ("currency",),
    ("closes_at",),
    ("max_payout",),
    ("stake_rules",),
    ("stake_rules", "min_stake"),
    ("stake_rules", "max_stake"),
    ("stake_rules", "fixed_stake"),
    ("events",),
    ("events", 0),
    ("events", 0, "id"),
    ("events", 0, "home"),
    ("events", 0, "kickoff"),
    ("events", 0, "odds"),
    ("events", 0, "odds", "101"),
]


@settings(max_examples=400, deadline=None, database=None)
@given(path=st.sampled_from(COUPON_PATHS), value=JSON_VALUES)
def test_the_coupon_check_reports_whatever_a_field_holds_and_never_raises(path, value):
    raw = coupon_body()
    *parents, last = path
    container = raw
    for key in parents:
        container = container[key]
    container[last] = value
    report = check_coupon_data(raw, [], ["KES"], datetime.now(UTC), operator_max_payout=DEFAULT_MAX_PAYOUT)
    assert report.publishable != bool(report.errors)


def test_coupon_check_command_line_explains_absurd_files_without_a_traceback(tmp_path):
    absurd = tmp_path / "absurd.json"
    absurd.write_text(json.dumps(coupon_body()).replace('"max_payout": 1000000', '"max_payout": 1e26'))
    deep = tmp_path / "deep.json"
    deep.write_text("[" * 5000 + "]" * 5000)
    twice = tmp_path / "twice.json"
    twice.write_text(json.dumps(coupon_body()).replace('"name":', '"name": "A", "name":'))
    latin = tmp_path / "latin.csv"
    latin.write_bytes(b"\xff\xfe# id: 1\n")
    for path, code, text in [
        (absurd, 1, "ERROR   coupon [max_payout]: too large"),
        (deep, 1, "not valid JSON: nested too deeply"),
        (twice, 1, "not valid JSON: duplicate key 'name'"),
        (latin, 1, "error(s)"),
    ]:
        run = subprocess.run(
            [sys.executable, "-m", "ticketing.coupons.check", str(path)], capture_output=True, text=True, timeout=60
        )
        assert run.returncode == code and text in run.stdout, (path.name, run.stdout, run.stderr)
        assert "Traceback" not in run.stderr


def test_one_event_limit_at_publish_and_at_sale(api):
    too_many = publish(api, coupon_body("HOSTILE-65", events=MAX_PICKS + 1))
    assert has_problem(too_many, "events", f"at most {MAX_PICKS}")
    assert publish(api, coupon_body("HOSTILE-64", events=MAX_PICKS)).status_code == 200
    response = api.post_ticket(sample_body(coupon_id="HOSTILE-64", bets=[101] * MAX_PICKS))
    assert response.status_code == 200, response.text
    assert response.json()["payout"] == 1000000, response.text


def test_every_coupon_needs_a_cap_within_the_operators(api):
    coupon = coupon_body()
    del coupon["max_payout"]
    assert has_problem(publish(api, coupon), "max_payout", "missing")
    cap = api.request("GET", "/be/operator").json()["max_payout"]
    assert has_problem(publish(api, coupon_body(max_payout=cap + 1)), "max_payout", "above the operator's cap")
    assert publish(api, coupon_body(max_payout=cap)).status_code == 200


def test_a_coupon_stored_without_a_cap_sells_capped_at_the_operators(engine):
    coupon = engine.get_coupon(SITE_TILL, "455")
    huge = [e.model_copy(update={"odds": {101: D("500.00"), 102: D("3.00"), 103: D("3.00")}}) for e in coupon.events]
    with engine.store.write() as conn:
        engine.store.save_coupon(conn, coupon.model_copy(update={"max_payout": None, "events": huge}), "site")
    ticket = engine.create_ticket(SITE_TILL, sample_request(bets=[101] * len(huge), stake="1000"))
    assert ticket.payout == engine.operator_profile(SITE_TILL).max_payout == DEFAULT_MAX_PAYOUT


def test_a_reference_with_control_characters_is_quoted_escaped_in_the_message(api):
    """`POST /be/tickets/%00%E2%80%AE.../payout` answered `Ticket \\u0000\\u202e... not found` with the characters
    themselves in the message: a NUL for a log, a right-to-left override for a screen."""
    response = api.request("POST", "/be/tickets/%00%E2%80%AEabc/payout")
    body = response.json()
    assert response.status_code in (404, 422), body
    assert "\x00" not in body["message"] and "\u202e" not in body["message"]
