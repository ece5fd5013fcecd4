"""``moorage prepare``, the command behind the CLI wrapper: options in, exit code out.

Two sources: local FILES/FOLDERS, or a storage (``--storage S --team T`` from moorage's
database, or ``--provider/--bucket/--endpoint-url`` with credentials from the environment) and
``--prefix``. Derivatives go to ``--out`` (then the command prints what to upload where) or,
for a storage source without ``--out``, back into that storage under ``--derivatives-prefix``.
The payload goes to stdout; errors, upload lines and the summary to stderr.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from moorage.prepare.layout import DEFAULT_DERIVATIVES_PREFIX, OptionError, check_prefix
from moorage.prepare.run import Report, run
from moorage.prepare.sources import Task, local_tasks, storage_tasks
from moorage.prepare.upload import Target, original_uploads, upload_lines
from moorage.prepare.work import Plan
from moorage.storage.base import StorageError
from moorage.storage.factory import PROVIDERS, StorageSpec, build_adapter
from moorage.storage.local import LocalStorage

__all__ = ["Options", "main"]


@dataclass
class Options:
    paths: list[Path] = field(default_factory=list)
    out: Path | None = None
    key_prefix: str = ""
    derivatives_prefix: str = DEFAULT_DERIVATIVES_PREFIX
    fps: float | None = None
    dataset: str | None = None
    storage: str | None = None
    team: str | None = None
    data_dir: Path | None = None
    prefix: str | None = None
    provider: str | None = None
    bucket: str | None = None
    endpoint_url: str | None = None
    region: str | None = None
    originals: Literal["copy", "link"] | None = None
    jobs: int | None = None
    quiet: bool = False
    register: bool = False
    url: str | None = None
    api_key: str | None = None
    chunk_size: int = 10_000


def _say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def _env_spec(options: Options) -> StorageSpec:
    """A bucket moorage does not know: credentials from this machine's environment."""
    provider = options.provider or ""
    if provider not in PROVIDERS:
        raise OptionError("--provider", f"{provider!r} is not one of {', '.join(PROVIDERS)}.")
    if not options.bucket:
        raise OptionError("--bucket", "a storage source needs --bucket (or --storage).")
    credentials: dict[str, str] = {}
    if provider in ("aws", "minio"):
        for name, env in (
            ("access_key_id", "AWS_ACCESS_KEY_ID"),
            ("secret_access_key", "AWS_SECRET_ACCESS_KEY"),
            ("session_token", "AWS_SESSION_TOKEN"),
        ):
            if os.environ.get(env):
                credentials[name] = os.environ[env]
    region = options.region or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
    roots = (Path(options.bucket).resolve(),) if provider == "local" else ()
    return StorageSpec(
        provider=provider,
        bucket=str(roots[0]) if roots else options.bucket,
        region=region if provider in ("aws", "minio") else options.region,
        endpoint_url=options.endpoint_url,
        credentials=credentials,
        local_roots=roots,
        allow_ambient_credentials=True,
    )


def _db_spec(options: Options) -> StorageSpec:
    """A storage moorage knows, with the credentials it holds (the server's egress policy)."""
    from moorage.cli_kit import open_context
    from moorage.errors import MoorageError
    from moorage.storages.repository import storage_repository
    from moorage.teams.service import team_service

    if not options.team:
        raise OptionError("--team", "--storage names a storage of a team: give --team too.")
    ctx = open_context(options.data_dir)
    try:
        with ctx.db.session() as session:
            try:
                team = team_service.get_by_slug(session, options.team)
            except MoorageError as exc:
                raise OptionError("--team", exc.message) from None
            row = storage_repository.get_by_slug(session, team, options.storage or "")
            if row is None:
                raise OptionError(
                    "--storage", f"team {team.slug!r} has no storage {options.storage!r}."
                )
            spec: StorageSpec = ctx.storages.spec_for(session, row)
            return spec
    finally:
        ctx.close()


def _check(options: Options) -> None:
    options.key_prefix = check_prefix(
        options.key_prefix, option="--key-prefix", bucket=options.bucket
    )
    options.derivatives_prefix = check_prefix(
        options.derivatives_prefix, option="--derivatives-prefix"
    )
    if not options.derivatives_prefix:
        raise OptionError("--derivatives-prefix", "must not be empty.")
    if options.prefix is not None:
        options.prefix = check_prefix(options.prefix, option="--prefix", bucket=options.bucket)
    if options.paths and options.prefix is not None:
        raise OptionError("--prefix", "reads a storage; give FILES or --prefix, not both.")
    if options.paths and options.out is None:
        raise OptionError("--out", "local files need --out, the folder laid out like the bucket.")
    if options.originals and not (options.paths and options.out):
        raise OptionError("--originals", "copies local FILES into --out; give both.")
    if options.jobs is not None and options.jobs < 1:
        raise OptionError("--jobs", "must be at least 1.")
    if options.register:
        options.url = options.url or os.environ.get("MOORAGE_URL")
        options.api_key = options.api_key or os.environ.get("MOORAGE_API_KEY")
        for name, value in (
            ("--url", options.url),
            ("--api-key", options.api_key),
            ("--dataset", options.dataset),
            ("--storage", options.storage),
        ):
            if not value:
                raise OptionError(name, "--register needs it (or MOORAGE_URL / MOORAGE_API_KEY).")


def _tasks_and_plan(options: Options) -> tuple[Iterator[Task | tuple[str, str]], Plan, Target]:
    out_dir = str(options.out.resolve()) if options.out else None
    if options.paths:
        tasks = local_tasks(
            options.paths,
            key_prefix=options.key_prefix,
            derivatives_prefix=options.derivatives_prefix,
            skip=options.out,
        )
        plan = Plan(fps=options.fps, out_dir=out_dir, originals=options.originals)
        target = Target(options.provider, options.bucket, options.endpoint_url)
        return tasks, plan, target
    if options.storage and not options.provider:
        spec = _db_spec(options)
    elif options.provider or options.bucket:
        spec = _env_spec(options)
    else:
        raise OptionError(
            "FILES",
            "give local files or folders, or a storage with --storage or --provider/--bucket.",
        )
    adapter = build_adapter(spec)
    container_in_key = spec.provider == "azure"
    tasks = storage_tasks(
        adapter,
        prefix=options.prefix or "",
        derivatives_prefix=options.derivatives_prefix,
        container_in_key=container_in_key,
    )
    plan = Plan(fps=options.fps, source=spec, out_dir=out_dir, dest=None if out_dir else spec)
    bucket = str(adapter.root) if isinstance(adapter, LocalStorage) else spec.bucket
    return tasks, plan, Target(spec.provider, bucket, spec.endpoint_url)


def main(options: Options) -> int:
    """Run the command; 0 when every file is ready, 1 when any failed or was blocked."""
    _check(options)
    try:
        tasks, plan, target = _tasks_and_plan(options)
        report = run(tasks, plan, jobs=options.jobs, quiet=options.quiet)
    except StorageError as exc:
        # the storage as a whole (its listing, its bucket, its credentials); a re-run resumes
        _say(f"error: storage: {exc.reason}: {exc.message}")
        return 1
    for err in report.errors:
        _say(f"error: {err['file']}: {err['stage']}: {err['message']}")
    if options.out is not None:
        _print_uploads(options, report, target)
    _say(report.summary())
    payload: dict[str, Any] = {"items": report.items}
    if options.dataset:
        payload["dataset_slug"] = options.dataset
    if options.storage:
        payload["storage_slug"] = options.storage
    if not options.register:
        print(json.dumps(payload, indent=2))
        return 1 if report.errors else 0
    return max(_register(options, report), 1 if report.errors else 0)


def _print_uploads(options: Options, report: Report, target: Target) -> None:
    assert options.out is not None
    roots = sorted({item["slots"][0]["storage_key"] for item in report.items})
    derivative_roots = sorted({_root(options, target, key) for key in roots}) or [
        options.derivatives_prefix
    ]
    originals = (
        []
        if options.originals or not options.paths
        else original_uploads(options.paths, options.key_prefix)
    )
    lines = upload_lines(
        target, out_dir=options.out, derivative_roots=derivative_roots, originals=originals
    )
    _say("upload with:")
    for line in lines:
        _say(f"  {line}")


def _root(options: Options, target: Target, key: str) -> str:
    if target.provider == "azure" and "/" in key:
        return f"{key.split('/', 1)[0]}/{options.derivatives_prefix}"
    return options.derivatives_prefix


def _register(options: Options, report: Report) -> int:
    from moorage.prepare.register import RegisterError, register

    assert options.url
    assert options.api_key
    assert options.dataset
    assert options.storage
    try:
        result = register(
            report.items,
            url=options.url,
            api_key=options.api_key,
            dataset=options.dataset,
            storage=options.storage,
            team=options.team,
            chunk_size=options.chunk_size,
        )
    except RegisterError as exc:
        _say(f"error: --register: {exc}")
        return 1
    print(json.dumps(result.as_json(), indent=2))
    for blocked in result.blocked:
        _say(
            f"blocked: {blocked['path']}/{blocked['name']}: "
            f"{blocked['reason']}: {blocked['message']}"
        )
    _say(f"moorage prepare: {result.registered} registered, {len(result.blocked)} blocked")
    return 1 if result.blocked else 0
