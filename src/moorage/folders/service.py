"""Operator grants of further folders to a team's ``local`` storages (CLI only, never the API)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from moorage.errors import NotFound, ValidationFailed
from moorage.folders.repository import folder_repository
from moorage.kit.timestamps import rfc3339
from moorage.models import Team, TeamFolder
from moorage.storage.local import NAME_MAX, PATH_MAX, team_areas

__all__ = ["FolderService", "folder_json", "folder_service"]


def folder_json(folder: TeamFolder) -> dict[str, Any]:
    return {"path": folder.path, "created_at": rfc3339(folder.created_at)}


def _resolved(path: str) -> Path:
    """``path`` made absolute with symlinks resolved, or a 422 naming ``path``."""
    if not path or "\x00" in path:
        raise ValidationFailed("must be a folder path without NUL characters", field="path")
    try:
        raw = os.fsencode(path)
    except UnicodeEncodeError:
        raise ValidationFailed("is not valid text", field="path") from None
    if len(raw) >= PATH_MAX or any(len(p) > NAME_MAX for p in raw.split(b"/")):
        raise ValidationFailed(
            f"is too long (at most {NAME_MAX} bytes a name, {PATH_MAX - 1} in all)", field="path"
        )
    try:
        return Path(os.path.realpath(path))
    except (OSError, ValueError):
        raise ValidationFailed("cannot be resolved to a folder", field="path") from None


class FolderService:
    def allowed(self, session: Session, team_id: int, *, roots: Sequence[Path]) -> list[Path]:
        """Every folder the team's local storages may use: its areas first, then its grants."""
        found = folder_repository.slug_and_paths(session, team_id)
        if found is None:
            return []
        slug, granted = found
        return [*team_areas(roots, slug), *(Path(p) for p in granted)]

    def list_for(self, session: Session, team: Team) -> list[TeamFolder]:
        return list(folder_repository.list_for(session, team))

    def grant(
        self, session: Session, team: Team, *, path: str, protected: Sequence[Path]
    ) -> tuple[TeamFolder, bool]:
        """Grant an existing folder (stored resolved); returns it and whether it is new.

        ``protected`` are the local roots and the data dir: a grant equal to one of them or
        containing one would hand the team every other team's files (or the server's keys).
        """
        real = _resolved(path)
        if not real.is_dir():
            raise ValidationFailed(f"{real} is not an existing folder", field="path")
        for guarded in (Path(os.path.realpath(p)) for p in protected):
            if guarded == real or guarded.is_relative_to(real):
                raise ValidationFailed(
                    f"{real} holds {guarded}, which is shared by every team; grant a folder "
                    "inside a team's own area or outside the roots instead",
                    field="path",
                )
        existing = folder_repository.get(session, team, str(real))
        if existing is not None:
            return existing, False
        folder = TeamFolder(team_id=team.id, path=str(real))
        session.add(folder)
        session.flush()
        return folder, True

    def revoke(self, session: Session, team: Team, *, path: str) -> None:
        """Remove a grant, given as stored or as a path that resolves to it."""
        if not path or "\x00" in path:
            raise ValidationFailed("must be a folder path without NUL characters", field="path")
        candidates = dict.fromkeys([os.path.abspath(path), str(_resolved(path))])
        for candidate in candidates:
            folder = folder_repository.get(session, team, candidate)
            if folder is not None:
                session.delete(folder)
                session.flush()
                return
        raise NotFound(f"Team {team.slug!r} has no grant for {path!r}.", field="path")


folder_service = FolderService()
