"""``moorage admin``: teams, API keys, storages, local folders and grants (operator only)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Annotated, Any

import typer

from moorage.cli_kit import HELP, DataDir, open_context, print_json

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from moorage.context import AppContext

admin = typer.Typer(
    help="Teams, API keys, storages, local folders and grants.",
    no_args_is_help=True,
    **HELP,
)
TeamOption = Annotated[str, typer.Option("--team", help="Team slug.")]


@contextmanager
def _unit_of_work(data_dir: DataDir) -> Iterator[tuple[AppContext, Session]]:
    """The command's context and its one transaction; a refusal prints its field and message
    and exits 1."""
    from pydantic import ValidationError

    from moorage.errors import MoorageError

    ctx = open_context(data_dir)
    try:
        with ctx.db.session() as session:
            yield ctx, session
    except MoorageError as exc:
        typer.echo(f"error: {exc.field + ': ' if exc.field else ''}{exc.message}", err=True)
        raise typer.Exit(1) from None
    except ValidationError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    finally:
        ctx.close()


@admin.command("create-team")
def create_team(
    slug: str,
    name: Annotated[str | None, typer.Option(help="Display name.")] = None,
    data_dir: DataDir = None,
) -> None:
    """Create a team and its first API key (printed once, stored hashed)."""
    from moorage.teams.service import team_json, team_service

    with _unit_of_work(data_dir) as (_, session):
        team = team_service.create_team(session, slug=slug, name=name)
        out = {"team": team_json(team), "api_key": team_service.create_key(session, team)}
    print_json(out)


@admin.command("create-key")
def create_key(
    team: TeamOption,
    name: Annotated[str | None, typer.Option(help="A label for the key.")] = None,
    data_dir: DataDir = None,
) -> None:
    """Create another API key for a team."""
    from moorage.teams.service import team_service

    with _unit_of_work(data_dir) as (_, session):
        owner = team_service.get_by_slug(session, team)
        key = team_service.create_key(session, owner, name=name)
    print_json({"api_key": key})


@admin.command("list-keys")
def list_keys(
    team: TeamOption,
    data_dir: DataDir = None,
) -> None:
    """List a team's API keys: prefix, name, created, last used, revoked (never the key)."""
    from moorage.teams.service import key_json, team_service

    with _unit_of_work(data_dir) as (_, session):
        owner = team_service.get_by_slug(session, team)
        keys = [key_json(k) for k in team_service.list_keys(session, owner)]
    typer.echo(json.dumps(keys, indent=2, default=str))


@admin.command("revoke-key")
def revoke_key(prefix: str, data_dir: DataDir = None) -> None:
    """Revoke an API key by its prefix (the 7 characters before '.'), at once on every process.

    Unlike the API, this also revokes a team's last key (to lock a team out).
    """
    from moorage.teams.service import key_json, team_service

    with _unit_of_work(data_dir) as (_, session):
        key = team_service.revoke_key(session, None, prefix=prefix, allow_last=True)
        out = key_json(key)
    print_json(out)


def _pairs(values: list[str] | None, what: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for value in values or []:
        key, eq, val = value.partition("=")
        if not eq or not key:
            typer.echo(f"error: {what} must look like key=value", err=True)
            raise typer.Exit(2)
        out[key] = val
    return out


@admin.command("create-storage")
def create_storage(
    team: TeamOption,
    name: Annotated[str, typer.Option(help="Storage name (its slug is derived from it).")],
    provider: Annotated[str, typer.Option(help="local, aws, minio, azure or gcp.")],
    bucket: Annotated[str, typer.Option(help="Bucket, Azure account, or local folder.")],
    prefix: Annotated[str, typer.Option(help="Where derivatives are written.")] = "",
    readonly: Annotated[bool, typer.Option(help="Never write to this storage.")] = False,
    default: Annotated[bool, typer.Option(help="Make it the team's default.")] = False,
    region: Annotated[str | None, typer.Option(help="Cloud region.")] = None,
    endpoint_url: Annotated[str | None, typer.Option(help="S3-compatible or emulator URL.")] = None,
    option: Annotated[list[str] | None, typer.Option(help="Provider option key=value.")] = None,
    credential: Annotated[
        list[str] | None,
        typer.Option(help="Secret key=value, stored encrypted. Omit to use the environment."),
    ] = None,
    data_dir: DataDir = None,
) -> None:
    """Connect a team to a bucket (the same as POST /api/teams/{team}/storage)."""
    from moorage.storages.schemas import StorageCreate
    from moorage.storages.service import storage_json, storage_service
    from moorage.teams.service import team_service

    options, credentials = _pairs(option, "--option"), _pairs(credential, "--credential")
    with _unit_of_work(data_dir) as (ctx, session):
        payload = StorageCreate(
            name=name,
            provider=provider,
            bucket=bucket,
            prefix=prefix,
            readonly=readonly,
            default=default,
            region=region,
            endpoint_url=endpoint_url,
            options=options,
            credentials=credentials or None,
        )
        owner = team_service.get_by_slug(session, team)
        storage = storage_service.create(
            session, owner, payload=payload, secrets=ctx.secrets, registry=ctx.storages
        )
        out = storage_json(storage)
    print_json(out)


@admin.command("allow-ambient-credentials")
def allow_ambient_credentials(
    team: TeamOption,
    storage: Annotated[str, typer.Option("--storage", help="Storage slug.")],
    revoke: Annotated[bool, typer.Option("--revoke", help="Take the grant back.")] = False,
    data_dir: DataDir = None,
) -> None:
    """Let one storage use the server's own cloud credentials (environment, instance metadata,
    workload identity) when it has none of its own. Without this grant it is anonymous."""
    from moorage.storages.service import storage_json, storage_service
    from moorage.teams.service import team_service

    with _unit_of_work(data_dir) as (_, session):
        owner = team_service.get_by_slug(session, team)
        row = storage_service.set_ambient_credentials(session, owner, storage, allowed=not revoke)
        out = storage_json(row)
    print_json(out)


@admin.command("upload-storage")
def upload_storage(
    team: TeamOption,
    storage: Annotated[
        str | None, typer.Option("--storage", help="Storage slug (read-write).")
    ] = None,
    clear: Annotated[bool, typer.Option("--clear", help="Back to the default storage.")] = False,
    data_dir: DataDir = None,
) -> None:
    """Name the storage that receives the team's uploads (register_upload, darwin dataset push);
    without one, it is the team's default storage."""
    from moorage.teams.service import team_service
    from moorage.uploads.service import upload_service

    if (storage is None) == (not clear):
        typer.echo("error: give --storage <slug> or --clear", err=True)
        raise typer.Exit(1)
    with _unit_of_work(data_dir) as (_, session):
        owner = team_service.get_by_slug(session, team)
        out = upload_service.name_storage(session, owner, None if clear else storage)
    print_json(out)


FolderArg = Annotated[str, typer.Argument(help="A folder on this machine.")]


def _folders(data_dir: DataDir, team: str, action: str, path: str = "") -> dict[str, Any]:
    from moorage.folders import folder_json, folder_service
    from moorage.storage.local import team_areas
    from moorage.teams.service import team_service

    out: dict[str, Any] = {"team": team}
    with _unit_of_work(data_dir) as (ctx, session):
        owner = team_service.get_by_slug(session, team)
        roots = ctx.settings.resolved_local_roots
        if action == "grant":
            protected = [*roots, ctx.settings.data_dir]
            folder, created = folder_service.grant(session, owner, path=path, protected=protected)
            out.update(granted=folder.path, created=created)
        elif action == "revoke":
            folder_service.revoke(session, owner, path=path)
            out["revoked"] = path
        out["own_folders"] = [str(p) for p in team_areas(roots, owner.slug)]
        out["granted_folders"] = [folder_json(f) for f in folder_service.list_for(session, owner)]
    return out


@admin.command("grant-folder")
def grant_folder(team: TeamOption, path: FolderArg, data_dir: DataDir = None) -> None:
    """Let a team's local storages use a folder outside its own <root>/<team>/ (resolved now)."""
    print_json(_folders(data_dir, team, "grant", path))


@admin.command("revoke-folder")
def revoke_folder(team: TeamOption, path: FolderArg, data_dir: DataDir = None) -> None:
    """Take a granted folder back; registration and serving from it stop at once."""
    print_json(_folders(data_dir, team, "revoke", path))


@admin.command("list-folders")
def list_folders(team: TeamOption, data_dir: DataDir = None) -> None:
    """The folders a team's local storages may use: its own area in each root, and its grants."""
    print_json(_folders(data_dir, team, "list"))
