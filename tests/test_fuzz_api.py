"""Schemathesis drives every operation of the OpenAPI schema with generated input: whatever
comes in, the answer is never a 5xx (darwin-py would stall for minutes retrying one)."""

from __future__ import annotations

import os

import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, Phase, given, settings

from moorage.app import create_app
from moorage.context import AppContext
from tests.conftest import TeamFixture


def test_no_generated_input_gets_a_server_error(ctx: AppContext, team: TeamFixture, bucket) -> None:
    app = create_app(ctx.settings, ctx)
    with TestClient(app, headers=team.headers) as c:
        c.post("/api/datasets", json={"name": "Darwin Py"})
        c.post(
            "/api/teams/acme/storage",
            json={"name": "media", "provider": "local", "bucket": "media"},
        )
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 15
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=int(os.environ.get("MOORAGE_FUZZ_EXAMPLES", "15")),
            deadline=None,
            database=None,
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        def run(case: schemathesis.Case) -> None:
            if case.path_parameters and "team" in case.path_parameters:
                case.path_parameters["team"] = "acme"
            response = case.call(headers=team.headers)
            assert response.status_code < 500, (
                case.method,
                case.formatted_path,
                case.body,
                response.text[:300],
            )

        run()
