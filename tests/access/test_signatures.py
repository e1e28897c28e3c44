"""The signature of every request outside Betstack's contract: over timestamp, method, path with query, raw body."""

import pytest

from ticketing.access.betstack_signing import sign, signed_headers, verify_signature
from ticketing.access.signatures import request_headers, sign_request, verify_request
from ticketing.contract.errors import InvalidSignature
from ticketing.settings import DEMO_FEED_SECRET

TIMESTAMP = "1706090303"
TARGET = b"/be/coupons/455/events/390811"
BODY = b'{"odds":{"101":2.10}}'


def test_readme_worked_vector():
    """README "Access": the demo feed sets odds 2.10 on event 390811 of coupon 455."""
    assert DEMO_FEED_SECRET == "site-feed-demo-secret"
    expected = "ab130e3bacde10ce4bde991991c868110731a3c26317ccaa056cae542cf14140"
    assert sign_request(DEMO_FEED_SECRET, TIMESTAMP, "PUT", TARGET, BODY) == expected
    assert sign_request(DEMO_FEED_SECRET, TIMESTAMP, "put", TARGET, BODY) == expected


@pytest.mark.parametrize(
    "method, target, body",
    [
        ("POST", TARGET, BODY),  # another method
        ("PUT", b"/be/coupons/456/events/391001", BODY),  # another event of another coupon
        ("PUT", TARGET + b"?x=1", BODY),  # another query
        ("PUT", TARGET, b'{"odds": {"101": 2.10}}'),  # spaces are signed, not removed
        ("PUT", TARGET, b'{"odds":{"101":21.0}}'),
    ],
)
def test_the_signature_binds_method_path_query_and_every_body_byte(method, target, body):
    signature = sign_request(DEMO_FEED_SECRET, TIMESTAMP, "PUT", TARGET, BODY)
    verify_request(DEMO_FEED_SECRET, TIMESTAMP, signature, "PUT", TARGET, BODY, now=int(TIMESTAMP))
    with pytest.raises(InvalidSignature):
        verify_request(DEMO_FEED_SECRET, TIMESTAMP, signature, method, target, body, now=int(TIMESTAMP))


def test_one_get_signature_does_not_open_another_get():
    signature = sign_request(DEMO_FEED_SECRET, TIMESTAMP, "GET", b"/be/coupons/455")
    with pytest.raises(InvalidSignature):
        verify_request(DEMO_FEED_SECRET, TIMESTAMP, signature, "GET", b"/be/operator", b"", now=int(TIMESTAMP))


@pytest.mark.parametrize("signature", ["é" * 64, "\u00ff" * 64, "zz", ""])
def test_a_malformed_signature_is_403_not_a_crash(signature):
    with pytest.raises(InvalidSignature):
        verify_request(DEMO_FEED_SECRET, TIMESTAMP, signature, "PUT", TARGET, BODY, now=int(TIMESTAMP))


def test_headers_name_the_credential_and_carry_a_fresh_timestamp_to_the_microsecond():
    first = request_headers("site", "site-feed", DEMO_FEED_SECRET, "PUT", TARGET, BODY)
    second = request_headers("site", "site-feed", DEMO_FEED_SECRET, "PUT", TARGET, BODY)
    assert first["key-id"] == "site-feed" and "." in first["timestamp"]
    assert first["signature"] != second["signature"], "two identical requests must not look like a replay"
    sent_at = verify_request(DEMO_FEED_SECRET, first["timestamp"], first["signature"].upper(), "PUT", TARGET, BODY)
    assert sent_at == float(first["timestamp"])
    assert "key-id" not in request_headers("site", None, "till-secret", "GET", b"/be/operator")


@pytest.mark.parametrize("timestamp", ["1706090303.5", "1706090303.123456"])
def test_betstack_signatures_also_take_a_timestamp_with_decimals(timestamp):
    signature = sign("12345ABCDE", timestamp, b"{}")
    assert verify_signature("12345ABCDE", timestamp, signature, b"{}", now=1706090303) == float(timestamp)


@pytest.mark.parametrize("timestamp", ["1706090303.1234567", "1e9", "-1706090303", " 1706090303", "0x10", "١٢٣"])
def test_a_timestamp_in_any_other_form_is_refused(timestamp):
    signature = sign("12345ABCDE", timestamp, b"{}")
    with pytest.raises(InvalidSignature, match="Invalid timestamp"):
        verify_signature("12345ABCDE", timestamp, signature, b"{}", now=1706090303)


def test_betstack_headers_sign_distinct_requests_of_one_second_differently():
    assert signed_headers("site", "k", b"{}")["signature"] != signed_headers("site", "k", b"{}")["signature"]
