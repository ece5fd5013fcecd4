"""Schemathesis over the whole OpenAPI schema with every check, on SQLite and on PostgreSQL.

    uv run python benchmarks/fuzz_api.py [--examples 200] [--engine sqlite|postgresql|both]

Every operation gets ``--examples`` generated positive cases and as many negative ones
(explicit examples first), each sent through the ASGI app with a real API key and judged by every schemathesis
check (not_a_server_error, status and content-type conformance, response schema conformance,
negative data rejection, positive data acceptance, ...). Prints, per engine, the number of
cases, the failures by check, and the server errors, which must be 0 (exit status 1 otherwise).
"""

from __future__ import annotations

import argparse
import collections
import itertools
import secrets
import shutil
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from PIL import Image
from schemathesis.config import SchemathesisConfig
from schemathesis.core.failures import FailureGroup
from schemathesis.generation import GenerationMode

from moorage.app import create_app
from moorage.config import Settings
from moorage.context import AppContext
from moorage.db import migrate
from moorage.teams.service import team_service

PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
TEAM = "acme"


#: Every check runs. Schema-valid input may still break a rule the schema cannot state (a name
#: already taken, a blank name, an empty filter, an unknown provider): moorage answers those
#: 400/422 naming the field, so positive_data_acceptance accepts them besides its defaults.
CONFIG = SchemathesisConfig.from_dict(
    {
        "checks": {
            "positive_data_acceptance": {
                "expected-statuses": ["2xx", "3xx", "400", "401", "403", "404", "409", "413", "422"]
            }
        }
    }
)


@dataclass
class Tally:
    cases: int = 0
    server_errors: int = 0
    unnegatable: int = 0
    failures: collections.Counter[str] = field(default_factory=collections.Counter)
    examples: dict[str, str] = field(default_factory=dict)


@contextmanager
def database(engine: str, tmp: Path) -> Iterator[str]:
    if engine == "sqlite":
        yield f"sqlite:///{tmp / 'moorage.db'}"
        return
    name = f"moorage_fuzz_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"{PG_ADMIN.rsplit('/', 1)[0]}/{name}"
    finally:
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def seeded_app(url: str, data_dir: Path) -> tuple[Any, dict[str, str], AppContext]:
    """The app with team ``acme``, a dataset, a local storage and one registered image."""
    # the rate limit is not what is fuzzed: thousands of cases a minute would all be 429s
    settings = Settings(
        data_dir=data_dir, database_url=url, secret_key=secrets.token_hex(16), rate_limit="0"
    )
    ctx = AppContext.from_settings(settings)
    migrate(ctx.db.engine)
    with ctx.db.session() as session:
        team = team_service.create_team(session, slug=TEAM)
        key = team_service.create_key(session, team)
    headers = {"Authorization": f"ApiKey {key}"}
    bucket = settings.resolved_local_roots[0] / TEAM / "media"  # the team's own folder
    bucket.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (32, 24), (200, 30, 30)).save(bucket / "a.jpg")
    app = create_app(settings, ctx, start_runtime=False)
    with TestClient(app, headers=headers) as c:
        c.post("/api/datasets", json={"name": "Darwin Py"}).raise_for_status()
        c.post(
            f"/api/teams/{TEAM}/storage",
            json={"name": "media", "provider": "local", "bucket": "media"},
        ).raise_for_status()
        c.post(
            f"/api/v2/teams/{TEAM}/items/register_existing_readonly",
            json={
                "dataset_slug": "darwin-py",
                "storage_slug": "media",
                "items": [
                    {
                        "name": "a.jpg",
                        "storage_key": "a.jpg",
                        "storage_thumbnail_key": "a.jpg",
                        "width": 32,
                        "height": 24,
                    }
                ],
            },
        ).raise_for_status()
    return app, headers, ctx


def fuzz(app: Any, headers: dict[str, str], *, examples: int, tally: Tally) -> None:
    schema = schemathesis.openapi.from_asgi("/openapi.json", app, config=CONFIG)
    operations = [result.ok() for result in schema.get_all_operations()]
    for operation, mode in itertools.product(operations, GenerationMode):

        @given(case=operation.as_strategy(mode))
        @settings(
            max_examples=examples,
            deadline=None,
            database=None,
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        def run(case: schemathesis.Case) -> None:
            if case.path_parameters and "team" in case.path_parameters:
                case.path_parameters["team"] = TEAM
            tally.cases += 1
            response = case.call(headers=headers)
            try:
                case.validate_response(response, headers=headers)
            except FailureGroup as group:
                for failure in group.exceptions:
                    name = type(failure).__name__
                    tally.failures[name] += 1
                    if name == "ServerError":
                        tally.server_errors += 1
                    key = f"{name} {case.method} {case.path}"
                    tally.examples.setdefault(
                        key,
                        f"{failure.title}: {response.status_code} {response.text[:160]} "
                        f"<- {str(case.body)[:120]!r} {case.query or ''}",
                    )

        try:
            run()
        except Unsatisfiable:  # nothing in this operation can be made invalid
            tally.unnegatable += 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=200, help="cases per operation")
    parser.add_argument("--engine", choices=["sqlite", "postgresql", "both"], default="both")
    args = parser.parse_args()
    engines = ["sqlite", "postgresql"] if args.engine == "both" else [args.engine]
    worst = 0
    for engine in engines:
        tmp = Path(tempfile.mkdtemp(prefix="moorage-fuzz-"))
        tally = Tally()
        started = time.perf_counter()
        with database(engine, tmp) as url:
            app, headers, ctx = seeded_app(url, tmp / "data")
            try:
                fuzz(app, headers, examples=args.examples, tally=tally)
            finally:
                ctx.close()
        shutil.rmtree(tmp, ignore_errors=True)
        seconds = time.perf_counter() - started
        print(
            f"{engine:>10}: {tally.cases} cases in {seconds:.0f} s, "
            f"{sum(tally.failures.values())} failures, {tally.server_errors} server errors "
            f"({tally.unnegatable} operation(s) had nothing to make invalid)"
        )
        for name, count in tally.failures.most_common():
            print(f"{'':>12}{name}: {count}")
        for key, example in sorted(tally.examples.items()):
            print(f"{'':>14}{key}: {example}")
        worst = max(worst, tally.server_errors + sum(tally.failures.values()))
    raise SystemExit(1 if worst else 0)


if __name__ == "__main__":
    main()
