"""Hostile input generated from the running API's own /openapi.json (bounded examples): no 5xx, and every answer
conforms to the schema, for each role. Requests are signed like a real client's (each endpoint in its scheme, with
the credential's key id), so generated bodies reach the rules and the role checks too.

Schemathesis' pytest plugin does not load under pytest 9, so each operation's Hypothesis strategy is driven here."""

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.specs.openapi.checks import response_schema_conformance, status_code_conformance

from tests.support import Api
from ticketing.settings import (
    DEMO_ADMIN_KEY_ID,
    DEMO_ADMIN_SECRET,
    DEMO_FEED_KEY_ID,
    DEMO_FEED_SECRET,
    DEMO_SITE_SECRET,
)

EXAMPLES_PER_OPERATION = 30
CREDENTIALS = {
    "till": (None, DEMO_SITE_SECRET),
    "feed": (DEMO_FEED_KEY_ID, DEMO_FEED_SECRET),
    "admin": (DEMO_ADMIN_KEY_ID, DEMO_ADMIN_SECRET),
}
ACCESS_HEADERS = ("operator-name", "key-id", "timestamp", "signature")


class SignAs:
    """A requests auth hook: signs the request exactly as it will be sent (path, query and body bytes)."""

    def __init__(self, api: Api):
        self.api = api

    def __call__(self, request):
        for header in ACCESS_HEADERS:
            request.headers.pop(header, None)
        body = request.body or b""
        body = body.encode() if isinstance(body, str) else body
        request.headers.update(self.api.signed(request.method, request.path_url, body))
        return request


@pytest.mark.parametrize("role", CREDENTIALS)
def test_api_never_fails_and_conforms_to_its_schema_for_each_role(api_url, role):
    key_id, secret = CREDENTIALS[role]
    sign = SignAs(Api(api_url, "site", secret, key_id))
    schema = schemathesis.openapi.from_url(f"{api_url}/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 9
    for operation in operations:

        @settings(
            max_examples=EXAMPLES_PER_OPERATION, deadline=None, database=None, suppress_health_check=list(HealthCheck)
        )
        @given(case=operation.as_strategy())
        def call(case):
            response = case.call(base_url=api_url, auth=sign)
            assert response.status_code < 500, f"{role}: {case.method} {case.formatted_path}: {response.text}"
            case.validate_response(response, checks=[response_schema_conformance, status_code_conformance])

        call()
