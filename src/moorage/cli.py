"""The ``moorage`` command: serve, admin, migrate."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from moorage.cli_admin import admin
from moorage.cli_kit import DataDir, open_context, print_json
from moorage.cli_sync import sync as sync_command

app = typer.Typer(
    help="moorage: register files in your own storage as dataset items.", no_args_is_help=True
)


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

    ctx = open_context(data_dir)
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

    ctx = open_context(data_dir)
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
    open_context(data_dir).close()
    typer.echo("database is up to date", err=True)


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
    print_json(payload)
    if errors:
        raise typer.Exit(1)


app.add_typer(admin, name="admin")
app.command("sync")(sync_command)


if __name__ == "__main__":
    app()
