"""What the ``moorage`` commands share: the data-dir option, the context, JSON output."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer

from moorage.config import Settings, get_settings

__all__ = ["HELP", "DataDir", "open_context", "print_json"]

#: Typer settings of every command group: plain help, where a flag shows as a flag (the rich
#: renderer prints ``--help <bool>`` for every flag) and errors are one line
HELP: dict[str, Any] = {"rich_markup_mode": None, "pretty_exceptions_enable": False}

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
    """The context of a command, its database migrated. A data folder that cannot be made or
    written is one line on stderr and exit code 2, not a traceback."""
    from sqlalchemy.exc import OperationalError

    from moorage.context import AppContext
    from moorage.db import migrate

    settings = settings_for(data_dir)
    try:
        ctx = AppContext.from_settings(settings)
    except OSError as exc:
        where = "" if exc.filename in (None, str(settings.data_dir)) else f" ({exc.filename})"
        reason = exc.strerror or type(exc).__name__
        _fail(f"cannot use the data folder {settings.data_dir}{where}: {reason}")
    try:
        migrate(ctx.db.engine)
    except OperationalError as exc:
        ctx.close()
        database = settings.resolved_database_url.split("@")[-1]  # never the password
        _fail(f"cannot open the database {database}: {str(exc.orig).strip().splitlines()[0]}")
    return ctx


def _fail(message: str) -> NoReturn:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(2)


def print_json(data: dict[str, Any]) -> None:
    typer.echo(json.dumps(data, indent=2, default=str))
