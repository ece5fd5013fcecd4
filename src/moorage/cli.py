"""The ``moorage`` command: serve, admin, migrate."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated, Any

import typer

from moorage.config import Settings, get_settings

app = typer.Typer(
    help="moorage: register files in your own storage as dataset items.", no_args_is_help=True
)
admin = typer.Typer(help="Teams, API keys and local folders.", no_args_is_help=True)
app.add_typer(admin, name="admin")

DataDir = Annotated[
    Path | None,
    typer.Option(
        "--data-dir",
        help="Data folder (database, secret key, local storage). Env: MOORAGE_DATA_DIR.",
    ),
]


def _settings(data_dir: Path | None) -> Settings:
    if data_dir is not None:
        os.environ["MOORAGE_DATA_DIR"] = str(data_dir.resolve())
    get_settings.cache_clear()
    return get_settings()


def _context(data_dir: Path | None) -> Any:
    from moorage.context import AppContext
    from moorage.db import migrate

    ctx = AppContext.from_settings(_settings(data_dir))
    migrate(ctx.db.engine)
    return ctx


def _print(data: dict[str, Any]) -> None:
    typer.echo(json.dumps(data, indent=2, default=str))


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    data_dir: DataDir = None,
    processes: Annotated[int, typer.Option(help="API processes (needs PostgreSQL when > 1).")] = 1,
) -> None:
    """Run the API (and, without a broker, the workers) on embedded defaults."""
    import uvicorn

    from moorage.logs import configure_logging

    ctx = _context(data_dir)
    settings = ctx.settings
    ctx.close()
    configure_logging(settings.log_level, settings.log_format)
    if processes > 1 and not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        # every API process writes its metrics there; a scrape of any one adds them up
        import tempfile

        os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="moorage-metrics-")
    database = settings.resolved_database_url.split("@")[-1]
    typer.echo(f"moorage: data in {settings.data_dir}, database {database}", err=True)
    uvicorn.run(
        "moorage.ops.serve:app_factory",
        factory=True,
        host=host,
        port=port,
        workers=processes,
        log_level=settings.log_level.lower(),
        # our logging, in every process; moorage logs each request itself (with its id)
        log_config=None,
        access_log=False,
    )


@app.command()
def worker(
    data_dir: DataDir = None,
    threads: Annotated[int, typer.Option(help="Worker threads in this process.")] = 2,
    grace: Annotated[
        float | None,
        typer.Option(
            help="On SIGTERM, seconds running jobs may finish before they are handed back "
            "(default MOORAGE_WORKER_GRACE_SECONDS, 20)."
        ),
    ] = None,
    metrics_port: Annotated[
        int | None, typer.Option(help="Serve this worker's Prometheus metrics on this port.")
    ] = None,
    metrics_host: Annotated[str, typer.Option(help="Interface for --metrics-port.")] = "127.0.0.1",
) -> None:
    """Process jobs from MOORAGE_BROKER_URL (RabbitMQ or Redis), on as many machines as needed.

    Also runs the reconciler: jobs of a dead worker, or sent while the broker was away, run
    again. On SIGTERM or SIGINT it takes no new job, lets running ones finish for the grace
    period, hands the rest back (queued, sent again) and exits."""
    import signal
    import threading

    from moorage.logs import configure_logging
    from moorage.worker.runtime import Runtime

    ctx = _context(data_dir)
    configure_logging(ctx.settings.log_level, ctx.settings.log_format)
    if not ctx.settings.broker_url:
        typer.echo(
            "error: set MOORAGE_BROKER_URL (amqp://... or redis://...); "
            "without a broker, moorage serve runs the workers itself",
            err=True,
        )
        raise typer.Exit(2)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):  # before the first job can be taken
        signal.signal(sig, lambda *_: stop.set())
    if metrics_port is not None:
        from prometheus_client import start_http_server

        from moorage.ops.metrics import REGISTRY

        start_http_server(metrics_port, addr=metrics_host, registry=REGISTRY)
    runtime = Runtime(ctx, broker_url=ctx.settings.broker_url, threads=threads)
    runtime.install()
    runtime.start_workers()
    typer.echo(
        f"moorage worker: {threads} threads on {ctx.settings.broker_url.split('@')[-1]}", err=True
    )
    stop.wait()
    typer.echo("moorage worker: stopping", err=True)
    handed = runtime.stop(grace=grace)
    typer.echo(f"moorage worker: stopped, {handed} job(s) handed back", err=True)
    ctx.close()


@app.command("migrate")
def migrate_cmd(data_dir: DataDir = None) -> None:
    """Create or upgrade the database schema."""
    _context(data_dir).close()
    typer.echo("database is up to date", err=True)


@admin.command("create-team")
def create_team(
    slug: str,
    name: Annotated[str | None, typer.Option(help="Display name.")] = None,
    data_dir: DataDir = None,
) -> None:
    """Create a team and its first API key (printed once, stored hashed)."""
    from moorage.errors import MoorageError
    from moorage.teams.service import team_json, team_service

    ctx = _context(data_dir)
    try:
        with ctx.db.session() as session:
            team = team_service.create_team(session, slug=slug, name=name)
            key = team_service.create_key(session, team)
            out = {"team": team_json(team), "api_key": key}
    except MoorageError as exc:
        typer.echo(f"error: {exc.message}", err=True)
        raise typer.Exit(1) from None
    finally:
        ctx.close()
    _print(out)


@admin.command("create-key")
def create_key(
    team: Annotated[str, typer.Option("--team", help="Team slug.")],
    name: Annotated[str | None, typer.Option(help="A label for the key.")] = None,
    data_dir: DataDir = None,
) -> None:
    """Create another API key for a team."""
    from moorage.errors import MoorageError
    from moorage.teams.service import team_service

    ctx = _context(data_dir)
    try:
        with ctx.db.session() as session:
            key = team_service.create_key(
                session, team_service.get_by_slug(session, team), name=name
            )
    except MoorageError as exc:
        typer.echo(f"error: {exc.message}", err=True)
        raise typer.Exit(1) from None
    finally:
        ctx.close()
    _print({"api_key": key})


@admin.command("list-keys")
def list_keys(
    team: Annotated[str, typer.Option("--team", help="Team slug.")],
    data_dir: DataDir = None,
) -> None:
    """List a team's API keys: prefix, name, created, last used, revoked (never the key)."""
    from moorage.errors import MoorageError
    from moorage.teams.service import key_json, team_service

    ctx = _context(data_dir)
    try:
        with ctx.db.session() as session:
            owner = team_service.get_by_slug(session, team)
            keys = [key_json(k) for k in team_service.list_keys(session, owner)]
    except MoorageError as exc:
        typer.echo(f"error: {exc.message}", err=True)
        raise typer.Exit(1) from None
    finally:
        ctx.close()
    typer.echo(json.dumps(keys, indent=2, default=str))


@admin.command("revoke-key")
def revoke_key(prefix: str, data_dir: DataDir = None) -> None:
    """Revoke an API key by its prefix (the 7 characters before '.'), at once on every process.

    Unlike the API, this also revokes a team's last key (to lock a team out).
    """
    from moorage.errors import MoorageError
    from moorage.teams.service import key_json, team_service

    ctx = _context(data_dir)
    try:
        with ctx.db.session() as session:
            key = key_json(team_service.revoke_key(session, None, prefix=prefix, allow_last=True))
    except MoorageError as exc:
        typer.echo(f"error: {exc.message}", err=True)
        raise typer.Exit(1) from None
    finally:
        ctx.close()
    _print(key)


@app.command()
def prepare(
    files: Annotated[list[Path], typer.Argument(help="Local images, videos, DICOM, NIfTI, PDFs.")],
    out: Annotated[Path, typer.Option("--out", help="Folder laid out like the bucket.")],
    key_prefix: Annotated[str, typer.Option(help="Where in the bucket the files will live.")] = "",
    fps: Annotated[float | None, typer.Option(help="Video sampling rate; default native.")] = None,
    dataset: Annotated[str | None, typer.Option(help="dataset_slug to put in the payload.")] = None,
    storage: Annotated[str | None, typer.Option(help="storage_slug to put in the payload.")] = None,
) -> None:
    """Make thumbnails, frames, slices and pages locally for READ-ONLY storage.

    Writes them under --out (upload that folder to the bucket) and prints a register_existing
    payload with every read-only field filled in. Exits 1 if a file could not be processed.
    """
    from moorage.prepare import prepare as run_prepare

    missing = [str(f) for f in files if not f.is_file()]
    if missing:
        typer.echo(f"error: not a file: {', '.join(missing)}", err=True)
        raise typer.Exit(2)
    payload = run_prepare(files, out, key_prefix=key_prefix.strip("/"), fps=fps)
    errors = payload.pop("errors", [])
    for err in errors:
        typer.echo(f"error: {err['file']}: {err['stage']}: {err['message']}", err=True)
    if dataset:
        payload["dataset_slug"] = dataset
    if storage:
        payload["storage_slug"] = storage
    _print(payload)
    if errors:
        raise typer.Exit(1)


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
    team: Annotated[str, typer.Option("--team", help="Team slug.")],
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
    from pydantic import ValidationError

    from moorage.errors import MoorageError
    from moorage.storages.schemas import StorageCreate
    from moorage.storages.service import storage_json, storage_service
    from moorage.teams.service import team_service

    ctx = _context(data_dir)
    try:
        payload = StorageCreate(
            name=name,
            provider=provider,
            bucket=bucket,
            prefix=prefix,
            readonly=readonly,
            default=default,
            region=region,
            endpoint_url=endpoint_url,
            options=_pairs(option, "--option"),
            credentials=_pairs(credential, "--credential") or None,
        )
        with ctx.db.session() as session:
            owner = team_service.get_by_slug(session, team)
            storage = storage_service.create(
                session, owner, payload=payload, secrets=ctx.secrets, registry=ctx.storages
            )
            out = storage_json(storage)
    except (MoorageError, ValidationError) as exc:
        typer.echo(f"error: {getattr(exc, 'message', exc)}", err=True)
        raise typer.Exit(1) from None
    finally:
        ctx.close()
    _print(out)


@admin.command("allow-ambient-credentials")
def allow_ambient_credentials(
    team: Annotated[str, typer.Option("--team", help="Team slug.")],
    storage: Annotated[str, typer.Option("--storage", help="Storage slug.")],
    revoke: Annotated[bool, typer.Option("--revoke", help="Take the grant back.")] = False,
    data_dir: DataDir = None,
) -> None:
    """Let one storage use the server's own cloud credentials (environment, instance metadata,
    workload identity) when it has none of its own. Without this grant it is anonymous."""
    from moorage.errors import MoorageError
    from moorage.storages.service import storage_json, storage_service
    from moorage.teams.service import team_service

    ctx = _context(data_dir)
    try:
        with ctx.db.session() as session:
            owner = team_service.get_by_slug(session, team)
            row = storage_service.set_ambient_credentials(
                session, owner, storage, allowed=not revoke
            )
            out = storage_json(row)
    except MoorageError as exc:
        typer.echo(f"error: {exc.message}", err=True)
        raise typer.Exit(1) from None
    finally:
        ctx.close()
    _print(out)


TeamOption = Annotated[str, typer.Option("--team", help="Team slug.")]
FolderArg = Annotated[str, typer.Argument(help="A folder on this machine.")]


def _folders(data_dir: Path | None, team: str, action: str, path: str = "") -> dict[str, Any]:
    from moorage.errors import MoorageError
    from moorage.folders import folder_json, folder_service
    from moorage.storage.local import team_areas
    from moorage.teams.service import team_service

    ctx = _context(data_dir)
    out: dict[str, Any] = {"team": team}
    try:
        with ctx.db.session() as session:
            owner = team_service.get_by_slug(session, team)
            if action == "grant":
                protected = [*ctx.settings.resolved_local_roots, ctx.settings.data_dir]
                folder, created = folder_service.grant(
                    session, owner, path=path, protected=protected
                )
                out.update(granted=folder.path, created=created)
            elif action == "revoke":
                folder_service.revoke(session, owner, path=path)
                out["revoked"] = path
            roots = ctx.settings.resolved_local_roots
            out["own_folders"] = [str(p) for p in team_areas(roots, owner.slug)]
            out["granted_folders"] = [
                folder_json(f) for f in folder_service.list_for(session, owner)
            ]
    except MoorageError as exc:
        typer.echo(f"error: {exc.field + ': ' if exc.field else ''}{exc.message}", err=True)
        raise typer.Exit(1) from None
    finally:
        ctx.close()
    return out


@admin.command("grant-folder")
def grant_folder(team: TeamOption, path: FolderArg, data_dir: DataDir = None) -> None:
    """Let a team's local storages use a folder outside its own <root>/<team>/ (resolved now)."""
    _print(_folders(data_dir, team, "grant", path))


@admin.command("revoke-folder")
def revoke_folder(team: TeamOption, path: FolderArg, data_dir: DataDir = None) -> None:
    """Take a granted folder back; registration and serving from it stop at once."""
    _print(_folders(data_dir, team, "revoke", path))


@admin.command("list-folders")
def list_folders(team: TeamOption, data_dir: DataDir = None) -> None:
    """The folders a team's local storages may use: its own area in each root, and its grants."""
    _print(_folders(data_dir, team, "list"))


if __name__ == "__main__":
    app()
