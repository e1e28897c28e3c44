"""Input anyone can send answers a documented 4xx, never a 500 (issue 11, "No 500 from input").

Each test names a probe that once answered 500, was accepted when it should not be, or answered an undocumented
`{"code": 400}`; all of them go to a real `uvicorn ticketing.api:app`."""

import json
import time

import httpx
import pytest

from tests.support import SAMPLE_REQUEST_TEXT, Api, sample_body
from ticketing.settings import DEMO_SITE_SECRET
from ticketing.signing import sign


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
@pytest.mark.parametrize("path", ["/be/tickets", "/be/coupons"])
def test_every_malformed_body_is_422_90(api, name, body, path):
    response = api.request("POST", path, body)
    assert response.status_code == 422, f"{name} on {path}: {response.text}"
    payload = response.json()
    assert payload["code"] == 90 and payload["message"].startswith("Invalid request"), payload
    assert payload["errors"] and all(e["field"] and e["message"] for e in payload["errors"])


def test_amounts_in_request_bodies_are_read_exactly(api):
    response = signed_post(api, SAMPLE_REQUEST_TEXT.replace('"stake": 25,', '"stake": 25.000000000000001,').encode())
    assert response.status_code == 422 and "stake" in response.json()["message"]
