"""A sync page's transaction commits without waiting for its WAL on PostgreSQL (decision 0042)."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from moorage.context import AppContext
from moorage.syncs.repository import sync_repository


def _setting(session) -> str:  # type: ignore[no-untyped-def]
    return str(session.execute(text("SHOW synchronous_commit")).scalar_one())


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_only_the_page_transaction_skips_the_wait(ctx: AppContext) -> None:
    with ctx.db.session() as session:
        assert _setting(session) == "on"
        sync_repository.commit_without_waiting(session)
        assert _setting(session) == "off"
    with ctx.db.session() as session:  # the pooled connection's next transaction waits again
        assert _setting(session) == "on"


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_sqlite_is_left_alone(ctx: AppContext) -> None:
    with ctx.db.session() as session:
        sync_repository.commit_without_waiting(session)
        assert session.execute(text("SELECT 1")).scalar_one() == 1
