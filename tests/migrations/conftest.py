"""Migrations run against a new, empty database on each engine."""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Mapping
from datetime import datetime
from pathlib import Path

import psycopg
import pytest
import sqlalchemy as sa

from moorage.db import make_engine
from tests.conftest import PG_ADMIN


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[sa.Engine]:
    """A new, empty database on each engine."""
    if request.param == "sqlite":
        eng = make_engine(f"sqlite:///{tmp_path / 'old.db'}")
        yield eng
        eng.dispose()
        return
    name = f"moorage_mig_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    eng = make_engine(f"{PG_ADMIN.rsplit('/', 1)[0]}/{name}")
    yield eng
    eng.dispose()
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def seed_team_and_dataset(conn: sa.Connection, t: Mapping[str, sa.Table], now: datetime) -> None:
    """Team 1 (``acme``) and its dataset 1 (``d``), as any revision has them."""
    conn.execute(t["teams"].insert(), {"id": 1, "slug": "acme", "name": "Acme", "created_at": now})
    conn.execute(
        t["datasets"].insert(),
        {"id": 1, "team_id": 1, "name": "D", "slug": "d", "archived": False,
         "created_at": now, "updated_at": now},
    )  # fmt: skip
