"""Building a release's zip: claim, write page by page, record. Runs in the worker.

Items are read in keyset pages of ``PAGE`` (``seq`` order, each page its own short session),
each written to the zip as one Darwin JSON file, so a million-item dataset is never in memory.
The zip is written beside its final name and renamed into place at the end, so a reader never
sees half of one; a re-run (a dead worker's, taken back by the reconciler) writes it afresh.
Every page beats the lease: a run taken for dead stops at its next page and records nothing.
"""

from __future__ import annotations

import os
import uuid
import zipfile
from datetime import timedelta
from pathlib import Path

import orjson
import structlog
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from moorage.context import AppContext
from moorage.models import Dataset, Release, Team
from moorage.models.base import utcnow
from moorage.releases.darwin_json import ReleaseLinks, entry_name, is_image, item_document
from moorage.releases.repository import release_repository
from moorage.releases.tokens import release_token

__all__ = ["PAGE", "build_release", "zip_path"]

log = structlog.get_logger(__name__)

PAGE = 500


class _Lost(Exception):
    """The release is no longer this run's (taken back, or deleted)."""


def zip_path(ctx: AppContext, release: Release) -> Path:
    """Under the data dir, by team: ``<data dir>/releases/<team id>/<release id>.zip``."""
    return ctx.settings.data_dir / "releases" / str(release.team_id) / f"{release.id}.zip"


def build_release(ctx: AppContext, release_id: uuid.UUID, *, attempt: int | None = None) -> str:
    """``complete``, ``failed``, ``skipped`` (not pending, or a stale message) or ``lost``."""
    stale = utcnow() - timedelta(seconds=ctx.settings.job_heartbeat_timeout_seconds)
    with ctx.db.session() as session:
        release = release_repository.by_id(session, release_id)
        if release is None:
            return "skipped"
        token = release_repository.claim(
            session,
            release_id,
            attempt=release.attempts if attempt is None else attempt,
            stale_before=stale,
        )
        if token is None:
            return "skipped"
        session.commit()
        links = _links(ctx, session, release)
        target = zip_path(ctx, release)
    partial = target.with_name(f"{target.stem}.{token}.partial")
    try:
        counts = _write(ctx, release_id, token, links, partial)
    except _Lost:
        partial.unlink(missing_ok=True)
        log.info("release.lost", release=str(release_id), attempt=token)
        return "lost"
    except OperationalError:  # the database is away: the reconciler sends the build again
        partial.unlink(missing_ok=True)
        raise
    except Exception as exc:  # an unexpected failure ends the release as failed, with why
        partial.unlink(missing_ok=True)
        log.exception("release.failed", release=str(release_id))
        return _record(ctx, release_id, token, status="failed", error={"message": str(exc)})
    os.replace(partial, target)
    return _record(ctx, release_id, token, status="complete", **counts)


def _links(ctx: AppContext, session: Session, release: Release) -> ReleaseLinks:
    team = session.get(Team, release.team_id)
    dataset = session.get(Dataset, release.dataset_id)
    if team is None or dataset is None:
        raise _Lost()
    return ReleaseLinks(
        base_url=release.base_url,
        team_slug=team.slug,
        team_name=team.name,
        dataset_name=dataset.name,
        dataset_slug=dataset.slug,
        release_id=release.id,
        token=release_token(ctx.secrets, release.id, release.token_salt)
        if release.include_export_token
        else None,
    )


def _write(
    ctx: AppContext, release_id: uuid.UUID, token: int, links: ReleaseLinks, partial: Path
) -> dict[str, int]:
    partial.parent.mkdir(parents=True, exist_ok=True)
    items = images = 0
    after = 0
    with zipfile.ZipFile(partial, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        while True:
            with ctx.db.session() as session:
                release = release_repository.by_id(session, release_id)
                if release is None or release.attempts != token:
                    raise _Lost()
                rows = release_repository.items_page(session, release, after=after, size=PAGE)
                ids = [r["id"] for r in rows]
                slots = release_repository.slots_of(session, ids)
                tags = release_repository.tags_of(session, ids)
            for row in rows:
                item_slots = slots.get(row["id"], [])
                document = item_document(row, item_slots, links, tags.get(row["id"], ()))
                zf.writestr(entry_name(row), orjson.dumps(document, option=orjson.OPT_INDENT_2))
                images += is_image(item_slots)
            items += len(rows)
            if len(rows) < PAGE:
                break
            after = rows[-1]["seq"]
            with ctx.db.session() as session:
                if not release_repository.heartbeat(session, release_id, token):
                    raise _Lost()
                session.commit()
    return {"item_count": items, "image_count": images, "zip_bytes": partial.stat().st_size}


def _record(ctx: AppContext, release_id: uuid.UUID, token: int, **values: object) -> str:
    status = str(values["status"])
    with ctx.db.session() as session:
        if not release_repository.finish(session, release_id, token, **values):
            return "lost"
        session.commit()
    log.info("release.built", release=str(release_id), status=status)
    return status
