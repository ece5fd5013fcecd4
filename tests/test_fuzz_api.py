"""Schemathesis drives every operation of the OpenAPI schema with generated input and judges
each answer by every check it has (server errors, status codes and content types the schema
documents, response bodies against their schema, negative data rejected, positive data
accepted), with valid and with invalid input, on SQLite and on PostgreSQL. benchmarks/fuzz_api.py runs the same, longer."""

from __future__ import annotations

import itertools
import os

import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis.config import SchemathesisConfig
from schemathesis.generation import GenerationMode

from moorage.app import create_app
from moorage.context import AppContext
from tests.conftest import TeamFixture

#: rules the schema cannot state (a taken or blank name, an empty filter) are 400/422 naming
#: the field: schema-valid input may meet them
#: A query string carries no types: schemathesis' "array became boolean/number" mutation of
#: ``item_names``/``item_paths`` sends ``item_names=false``, which is a valid name, rightly
#: accepted. The listing-style GETs therefore skip only that one check (every other check runs
#: on them, and the listing's own tests refuse what is truly invalid, naming the field).
LISTINGS = r"^/api/v2/teams/\{team\}/items(/list_ids|/folders)?$"
CONFIG = SchemathesisConfig.from_dict(
    {
        "checks": {
            "positive_data_acceptance": {
                "expected-statuses": ["2xx", "3xx", "400", "401", "403", "404", "409", "413", "422"]
            }
        },
        "operations": [
            {
                "include-path-regex": LISTINGS,
                "include-method": "GET",
                "checks": {"negative_data_rejection": {"enabled": False}},
            }
        ],
    }
)


def test_no_generated_input_fails_a_check(ctx: AppContext, team: TeamFixture, bucket) -> None:
    # the rate limit is not what is fuzzed (its own tests are in test_rate_limit.py)
    unlimited = ctx.settings.model_copy(update={"rate_limit": "0"})
    app = create_app(unlimited, AppContext(settings=unlimited, db=ctx.db, secrets=ctx.secrets))
    with TestClient(app, headers=team.headers) as c:
        c.post("/api/datasets", json={"name": "Darwin Py"})
        c.post(
            "/api/teams/acme/storage",
            json={"name": "media", "provider": "local", "bucket": "media"},
        )
    schema = schemathesis.openapi.from_asgi("/openapi.json", app, config=CONFIG)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 15
    for operation, mode in itertools.product(operations, GenerationMode):

        @given(case=operation.as_strategy(mode))
        @settings(
            max_examples=int(os.environ.get("MOORAGE_FUZZ_EXAMPLES", "25")),
            deadline=None,
            database=None,
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        def run(case: schemathesis.Case) -> None:
            if case.path_parameters and "team" in case.path_parameters:
                case.path_parameters["team"] = "acme"
            case.call_and_validate(headers=team.headers)  # every check; raises on a failure

        try:
            run()
        except Unsatisfiable:
            # nothing in this operation can be made invalid (no body, free-form strings)
            assert mode is GenerationMode.NEGATIVE
