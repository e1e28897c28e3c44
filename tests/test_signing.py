import hashlib
import hmac

import pytest

from tests.support import SAMPLE_REQUEST_TEXT
from ticketing.access.betstack_signing import sign, signed_headers, verify_signature
from ticketing.contract.errors import InvalidSignature

SECRET, TIMESTAMP = "12345ABCDE", 1706090303
PRICE_BODY = (
    '{"operator":"site","token":"UnIqUe-ToKeN","price":5000,"currency":"KES","atag":"affiliate-1",'
    '"source":"mobile","type":"superbet","event":100001,"bets":[101,102,103,104,105,106]}'
)


@pytest.mark.parametrize(
    "body, expected",
    [
        (PRICE_BODY, "f99aee9f77eef1ee8b64c78e7f8612e3234f03cce5fecdebd7ea27f2b9081423"),
        (PRICE_BODY.replace('"price"', '"stake"'), "b52d0924c11e0afcd6edb136a4168359432963c039bf3f8d665ddfa3eba2a0ff"),
    ],
)
def test_published_signature_vectors(body, expected):
    assert sign(SECRET, TIMESTAMP, body.encode()) == expected


def test_spaces_do_not_change_the_signature():
    spaced = PRICE_BODY.replace(",", ", ").replace(":", ": ")
    assert sign(SECRET, TIMESTAMP, spaced.encode()) == sign(SECRET, TIMESTAMP, PRICE_BODY.encode())


def test_request_without_body_signs_the_timestamp_alone():
    headers = signed_headers("site", SECRET, b"", now=TIMESTAMP)
    assert headers["timestamp"] == str(TIMESTAMP)
    verify_signature(SECRET, headers["timestamp"], headers["signature"], b"", now=TIMESTAMP + 10)


@pytest.mark.parametrize("age", [301, -301, 3600])
def test_timestamp_more_than_five_minutes_off_is_refused(age):
    signature = sign(SECRET, TIMESTAMP, b"{}")
    with pytest.raises(InvalidSignature, match="5 minutes"):
        verify_signature(SECRET, str(TIMESTAMP), signature, b"{}", now=TIMESTAMP + age)


def test_signature_for_another_body_or_secret_is_refused():
    signature = sign(SECRET, TIMESTAMP, b'{"stake":25}')
    with pytest.raises(InvalidSignature):
        verify_signature(SECRET, str(TIMESTAMP), signature, b'{"stake":2500}', now=TIMESTAMP)
    with pytest.raises(InvalidSignature):
        verify_signature("other", str(TIMESTAMP), signature, b'{"stake":25}', now=TIMESTAMP)
    with pytest.raises(InvalidSignature):
        verify_signature(SECRET, None, signature, b"", now=TIMESTAMP)


def test_the_sample_request_verbatim_is_signed_with_only_its_spaces_removed():
    """Betstack's rule removes the space character, nothing else: a client that signs the sample request as the page
    prints it (newlines and all) is accepted, and a signature over the body with its newlines also removed is not.
    The expected signature is computed here with hmac itself, not with the engine's `sign`."""
    body = SAMPLE_REQUEST_TEXT.encode()
    message = str(TIMESTAMP).encode() + body.replace(b" ", b"")
    client_signature = hmac.new(SECRET.encode(), message, hashlib.sha256).hexdigest()
    verify_signature(SECRET, str(TIMESTAMP), client_signature, body, now=TIMESTAMP)
    no_whitespace = str(TIMESTAMP).encode() + b"".join(body.split())
    with pytest.raises(InvalidSignature):
        stripped = hmac.new(SECRET.encode(), no_whitespace, hashlib.sha256).hexdigest()
        verify_signature(SECRET, str(TIMESTAMP), stripped, body, now=TIMESTAMP)
