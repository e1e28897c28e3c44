"""Hostile input generated from the running API's own /openapi.json (bounded examples): no 5xx, and every answer
conforms to the schema. Requests are signed like a real client's, so generated bodies reach the rules too.

Schemathesis' pytest plugin does not load under pytest 9, so each operation's Hypothesis strategy is driven here."""

import json

import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.specs.openapi.checks import response_schema_conformance, status_code_conformance

from ticketing.settings import DEMO_SITE_SECRET
from ticketing.signing import signed_headers

EXAMPLES_PER_OPERATION = 40


def signed_for(case) -> dict[str, str]:
    has_body = case.body is not None and not isinstance(case.body, schemathesis.core.NotSet)
    return signed_headers("site", DEMO_SITE_SECRET, json.dumps(case.body).encode() if has_body else b"")


def test_api_never_fails_and_conforms_to_its_schema(api_url):
    schema = schemathesis.openapi.from_url(f"{api_url}/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 8
    for operation in operations:

        @settings(
            max_examples=EXAMPLES_PER_OPERATION, deadline=None, database=None, suppress_health_check=list(HealthCheck)
        )
        @given(case=operation.as_strategy())
        def call(case):
            response = case.call(base_url=api_url, headers=signed_for(case))
            assert response.status_code < 500, f"{case.method} {case.formatted_path}: {response.text}"
            case.validate_response(response, checks=[response_schema_conformance, status_code_conformance])

        call()
