"""What the ``moorage`` commands share: the data-dir option, the context, JSON output."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated, Any

import typer

from moorage.config import Settings, get_settings

__all__ = ["DataDir", "open_context", "print_json"]

DataDir = Annotated[
    Path | None,
    typer.Option(
        "--data-dir",
        help="Data folder (database, secret key, local storage). Env: MOORAGE_DATA_DIR.",
    ),
]


def settings_for(data_dir: Path | None) -> Settings:
    if data_dir is not None:
        os.environ["MOORAGE_DATA_DIR"] = str(data_dir.resolve())
    get_settings.cache_clear()
    return get_settings()


def open_context(data_dir: Path | None) -> Any:
    from moorage.context import AppContext
    from moorage.db import migrate

    ctx = AppContext.from_settings(settings_for(data_dir))
    migrate(ctx.db.engine)
    return ctx


def print_json(data: dict[str, Any]) -> None:
    typer.echo(json.dumps(data, indent=2, default=str))
