"""What to upload where, after derivatives were written to ``--out``: shell lines to run.

``--out`` is laid out like the bucket (file ``out/k`` is key ``k``), so one sync of the
derivatives folder puts every derivative at the key the payload names. Originals given as local
files go to ``{key_prefix}/...``: a folder is synced as a whole, a single file is copied.
Without a provider and bucket the lines name ``<bucket>`` for the user to fill in.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from pathlib import Path

from moorage.prepare.layout import join

__all__ = ["Target", "upload_lines"]


@dataclass(frozen=True)
class Target:
    provider: str | None = None
    bucket: str | None = None
    endpoint_url: str | None = None


def _url(target: Target, key: str) -> str:
    bucket = target.bucket or "<bucket>"
    if target.provider == "gcp":
        return f"gs://{bucket}/{key}"
    if target.provider == "azure":
        # Azure keys start with the container; the bucket is the account
        return f"https://{bucket}.blob.core.windows.net/{key}"
    if target.provider == "local":
        return str(Path(bucket) / key) if target.bucket else f"<storage folder>/{key}"
    return f"s3://{bucket}/{key}"


def _sync(target: Target, local: str, key: str, *, folder: bool) -> str:
    src, dst = (
        shlex.quote(local.rstrip("/") + ("/" if folder else "")),
        shlex.quote(_url(target, key) + ("/" if folder and key else "")),
    )
    if target.provider == "gcp":
        return f"gcloud storage {'rsync -r' if folder else 'cp'} {src} {dst}"
    if target.provider == "azure":
        return f"azcopy {'sync' if folder else 'copy'} {src} {dst}"
    if target.provider == "local":
        return f"mkdir -p {shlex.quote(str(Path(_url(target, key)).parent))} && cp -a {src} {dst}"
    endpoint = f" --endpoint-url {shlex.quote(target.endpoint_url)}" if target.endpoint_url else ""
    return f"aws s3 {'sync' if folder else 'cp'} {src} {dst}{endpoint}"


def upload_lines(
    target: Target,
    *,
    out_dir: Path,
    derivative_roots: list[str],
    originals: list[tuple[Path, str, bool]],
) -> list[str]:
    """Shell lines: each derivatives root below ``out_dir``, then each original
    ``(local path, key, is_folder)`` not already in ``out_dir``."""
    lines = [
        _sync(target, str(out_dir / root), root, folder=True)
        for root in dict.fromkeys(derivative_roots)
    ]
    lines += [_sync(target, str(path), key, folder=is_dir) for path, key, is_dir in originals]
    return lines


def original_uploads(paths: list[Path], key_prefix: str) -> list[tuple[Path, str, bool]]:
    """``(path, key, is_folder)`` per path given on the command line."""
    out: list[tuple[Path, str, bool]] = []
    for path in paths:
        if path.is_dir():
            out.append((path, key_prefix, True))
        elif path.is_file():
            out.append((path, join(key_prefix, path.name), False))
    return out
