"""Fuzzing the JSON API from its own OpenAPI description (schemathesis): whatever arrives,
the answer is never a 5xx and always matches the description. Bounded in examples so the
suite stays fast; derandomized so a failure reproduces."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from schemathesis import Case
from schemathesis.openapi import from_asgi
from schemathesis.specs.openapi.checks import positive_data_acceptance
from server_harness import App

from runio.server import create_app
from runio.server._keys import create_key

OPERATIONS = [
    "POST /api/v1/events",
    "GET /api/v1/jobs",
    "GET /api/v1/runs",
    "GET /api/v1/runs/{run_id}",
    "POST /api/v1/runs/{run_id}/cancel",
    "POST /api/v1/runs/{run_id}/retry",
    "POST /api/v1/runs/{run_id}/replay",
    "POST /api/v1/webhooks/{integration_id}",
]


@pytest.mark.parametrize("label", OPERATIONS)
def test_the_api_answers_anything_without_a_server_error(app: App, label: str) -> None:
    app.work.send_event("user.created", {"user_id": "u_1"}, id="evt-1")
    app.work.send_event("charge.requested", {"amount": 1}, id="evt-2")
    app.run_worker()
    _, key = app.web._run_sync(create_key(app.web.store, "fuzz", now=app.clock.now()))
    auth = {"Authorization": f"Bearer {key}"}
    statuses: set[int] = set()
    asgi = create_app(app.web, allowed_hosts={"localhost", "127.0.0.1", "testserver"})
    schema = from_asgi("/api/v1/openapi.json", asgi)
    operations = {op.label: op for op in (r.ok() for r in schema.get_all_operations())}
    assert set(operations) == set(OPERATIONS), "the description and this test disagree"

    @given(case=operations[label].as_strategy())
    @settings(
        max_examples=40,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def check(case: Case) -> None:
        # Every check but "schema-valid data is accepted": an event name no job listens to, or
        # a cursor this API never issued, is valid by the description and still a 422.
        response = case.call_and_validate(headers=auth, excluded_checks=[positive_data_acceptance])
        statuses.add(response.status_code)

    check()
    assert statuses - {401}, "every request was refused: the fuzzing never reached the API"
