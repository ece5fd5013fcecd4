"""The ``moorage`` command: serve, admin, migrate."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from moorage.cli_admin import admin
from moorage.cli_kit import HELP, DataDir, open_context
from moorage.cli_sync import sync as sync_command

if TYPE_CHECKING:
    from moorage.config import Settings

app = typer.Typer(
    help="moorage: register files in your own storage as dataset items.",
    no_args_is_help=True,
    **HELP,
)


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    data_dir: DataDir = None,
    processes: Annotated[
        int,
        typer.Option(
            min=1,
            help="API processes; without a broker each runs its own workers (SQLite included).",
        ),
    ] = 1,
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
    if processes > 1 and _counts_per_process(settings):
        typer.echo(
            f"moorage: each of the {processes} processes counts requests against "
            "MOORAGE_RATE_LIMIT itself (a key may make up to that many times the limit); "
            "set MOORAGE_RATE_LIMIT_URL=redis://... to count them in one place",
            err=True,
        )
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


def _counts_per_process(settings: Settings) -> bool:
    """Whether the rate limit is counted in each process's memory (SQLite, no shared store)."""
    from moorage.ops.ratelimit import parse_rate

    url = settings.rate_limit_url
    in_memory = (
        url.startswith("memory:") if url else settings.resolved_database_url.startswith("sqlite")
    )
    return in_memory and parse_rate(settings.rate_limit) is not None


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
    # Not a bare wait(): a signal the kernel hands to another thread (as on waking from
    # SIGSTOP) runs its Python handler only when the main thread next runs bytecode
    while not stop.wait(timeout=0.5):
        pass
    typer.echo("moorage worker: stopping", err=True)
    handed = runtime.stop(grace=grace)
    typer.echo(f"moorage worker: stopped, {handed} job(s) handed back", err=True)
    ctx.close()


@app.command("migrate")
def migrate_cmd(data_dir: DataDir = None) -> None:
    """Create or upgrade the database schema."""
    open_context(data_dir).close()
    typer.echo("database is up to date", err=True)


Opt = typer.Option
_STORAGE = "Storage source"
_REG = "Registering"


@app.command()
def prepare(
    paths: Annotated[
        list[Path] | None,
        typer.Argument(
            metavar="FILES", help="Local images, videos, DICOM, NIfTI, PDFs, or folders of them."
        ),
    ] = None,
    out: Annotated[
        Path | None, Opt(help="Write derivatives here, laid out like the bucket.")
    ] = None,
    key_prefix: Annotated[str, Opt(help="Where in the bucket local FILES will live.")] = "",
    derivatives_prefix: Annotated[
        str, Opt(help="Where derivatives go, under the bucket.")
    ] = "moorage-derivatives",
    fps: Annotated[float | None, Opt(help="Video sampling rate; default native.")] = None,
    dataset: Annotated[str | None, Opt(help="dataset_slug for the payload.")] = None,
    storage: Annotated[
        str | None, Opt(help="storage_slug for the payload; without FILES, the storage to read.")
    ] = None,
    team: Annotated[str | None, Opt(help="The team of --storage.")] = None,
    prefix: Annotated[
        str | None, Opt(help="Read the keys under this prefix.", rich_help_panel=_STORAGE)
    ] = None,
    provider: Annotated[
        str | None,
        Opt(
            help="A bucket moorage does not know: aws, minio, azure, gcp, local.",
            rich_help_panel=_STORAGE,
        ),
    ] = None,
    bucket: Annotated[
        str | None,
        Opt(
            help="Its bucket (Azure: account); with FILES, named in the upload lines.",
            rich_help_panel=_STORAGE,
        ),
    ] = None,
    endpoint_url: Annotated[
        str | None, Opt(help="Its S3-compatible endpoint.", rich_help_panel=_STORAGE)
    ] = None,
    region: Annotated[str | None, Opt(help="Its region.", rich_help_panel=_STORAGE)] = None,
    originals: Annotated[
        str | None, Opt(help="copy or link local FILES into --out too (a local storage's folder).")
    ] = None,
    jobs: Annotated[int | None, Opt(help="Worker processes; default every core.")] = None,
    quiet: Annotated[bool, Opt("--quiet", help="No progress bar.")] = False,
    register: Annotated[
        bool, Opt("--register", help="Send the payload to moorage.", rich_help_panel=_REG)
    ] = False,
    url: Annotated[
        str | None, Opt(help="moorage's URL; env MOORAGE_URL.", rich_help_panel=_REG)
    ] = None,
    api_key: Annotated[
        str | None, Opt(help="API key; env MOORAGE_API_KEY.", rich_help_panel=_REG)
    ] = None,
    chunk_size: Annotated[int, Opt(help="Items per request.", rich_help_panel=_REG)] = 10_000,
    data_dir: DataDir = None,
) -> None:
    """Make thumbnails, frames, slices and pages for READ-ONLY storage (docs/prepare.md).

    Reads local FILES and folders, or the keys under --prefix of a storage; writes the
    derivatives to --out (and says what to upload where) or back into the storage; prints a
    register_existing payload, or registers it with --register. Exits 1 if a file failed or an
    item was blocked, 2 for a bad option.
    """
    from moorage.prepare.command import Options, main
    from moorage.prepare.layout import OptionError

    if originals not in (None, "copy", "link"):
        typer.echo("error: --originals: must be copy or link", err=True)
        raise typer.Exit(2)
    options = Options(
        paths=list(paths or []), out=out, key_prefix=key_prefix,
        derivatives_prefix=derivatives_prefix, fps=fps, dataset=dataset, storage=storage,
        team=team, data_dir=data_dir, prefix=prefix, provider=provider, bucket=bucket,
        endpoint_url=endpoint_url, region=region, originals=originals,  # type: ignore[arg-type]
        jobs=jobs, quiet=quiet, register=register, url=url, api_key=api_key,
        chunk_size=chunk_size,
    )  # fmt: skip
    try:
        code = main(options)
    except OptionError as exc:
        typer.echo(f"error: {exc.option}: {exc.message}", err=True)
        raise typer.Exit(2) from None
    raise typer.Exit(code)


app.add_typer(admin, name="admin")
app.command("sync")(sync_command)


if __name__ == "__main__":
    app()
