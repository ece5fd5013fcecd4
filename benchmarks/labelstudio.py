"""Label Studio's local-files sync against moorage's sync, the same 10,000 JPEGs, the same run.

    uv run python benchmarks/labelstudio.py [--files 10000] [--delete 100]
        [--only labelstudio|moorage] [--backend sqlite|postgresql] [--keep]

Label Studio is the peer a user would pick instead. It runs from its own venv
(``benchmarks/setup_labelstudio.sh``, Label Studio 1.23.2 from PyPI, made on first use), started
as its docs say, ``label-studio start`` on loopback with ``LOCAL_FILES_SERVING_ENABLED=true`` and
``LOCAL_FILES_DOCUMENT_ROOT``, its SQLite database and its own user; 1.23 refuses legacy API
tokens unless the organisation enables them, so the user is made with ``--username --password
--user-token`` and the organisation with ``--enable-legacy-api-token``. A project gets a
local-files import storage over a folder of small real JPEGs and its sync is timed to
``completed`` (Label Studio's open-source edition syncs inside the request). moorage (``moorage
serve`` on a free port with a temp data dir, a team and API key from ``moorage admin``, the folder
granted with ``moorage admin grant-folder``) syncs the same files, timed from the POST to
``complete``. Its image processing (thumbnails) goes on behind the sync and is not counted; it
is drained before the second part, so Label Studio's re-sync does not run against it.

Then ``--delete`` files are deleted and both re-sync: Label Studio keeps the deleted files as
tasks whose URLs answer 404; moorage counts them ``missing`` (its items keep their annotations
and carry ``source_status: missing``). Prints items/s for both, the ratio (target: moorage at
least 20x) and what each did with the deleted files. Run it under ``nice -n 10`` on a shared
machine.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from localkit import Started, free_port, wait_until
from synckit import Moorage, cpu_seconds, exit_on_sigterm, small_jpegs

ROOT = Path(__file__).resolve().parent.parent
LS_VERSION = "1.23.2"
LS_TOKEN = "moorage-bench-legacy-token"
LS_CONFIG = (
    '<View><Image name="image" value="$image"/>'
    '<Choices name="label" toName="image"><Choice value="ok"/></Choices></View>'
)
TARGET = 20.0


class LabelStudio(Started):
    """``label-studio start`` from its own venv on a free loopback port; stopped on exit."""

    def __init__(self, venv: Path, document_root: Path, work: Path, data: Path) -> None:
        self.venv, self.document_root, self.work, self.data = venv, document_root, work, data
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None
        self.last_cpu = 0.0  # CPU seconds of the last sync
        self.api = httpx.Client(
            base_url=self.url, headers={"Authorization": f"Token {LS_TOKEN}"}, timeout=7200
        )

    def start(self) -> None:
        env = {
            **os.environ,
            "LOCAL_FILES_SERVING_ENABLED": "true",
            "LOCAL_FILES_DOCUMENT_ROOT": str(self.document_root),
            "LATEST_VERSION_CHECK": "false",  # no call to PyPI on start
            # no telemetry: this machine has no route to it, and retries would cost time
            "SENTRY_DSN": "",
            "FRONTEND_SENTRY_DSN": "",
            "COLLECT_ANALYTICS": "false",
        }
        args = [str(self.venv / "bin" / "label-studio"), "start", "--no-browser"]
        args += ["--internal-host", "127.0.0.1", "--port", str(self.port)]
        args += ["--data-dir", str(self.data)]
        args += ["--username", "bench@localhost", "--password", "bench-password-1"]
        args += ["--user-token", LS_TOKEN, "--enable-legacy-api-token"]
        with open(self.work / "label-studio.log", "ab") as log:
            self.proc = subprocess.Popen(args, env=env, stdout=log, stderr=log)
        # a fresh SQLite database is migrated first: minutes on a loaded machine
        wait_until(self._healthy, timeout=900, what="label-studio start")
        r = self.api.get("/api/current-user/whoami")
        if r.status_code != 200:
            raise RuntimeError(f"Label Studio refused its legacy token: {r.status_code} {r.text}")

    def _healthy(self) -> bool:
        if self.proc is not None and self.proc.poll() is not None:
            tail = (self.work / "label-studio.log").read_text(errors="replace")[-3000:]
            raise RuntimeError(f"label-studio exited {self.proc.returncode}: {tail}")
        try:
            return httpx.get(f"{self.url}/health", timeout=2).status_code == 200
        except httpx.TransportError:
            return False

    def stop(self) -> None:
        self.api.close()
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def _ok(self, r: httpx.Response) -> Any:
        if r.status_code >= 300:
            raise RuntimeError(f"{r.request.method} {r.request.url.path}: {r.status_code} {r.text}")
        return r.json()

    def project(self) -> int:
        body = {"title": "moorage-bench", "label_config": LS_CONFIG}
        return int(self._ok(self.api.post("/api/projects", json=body))["id"])

    def storage(self, project: int, folder: Path) -> int:
        body = {
            "project": project,
            "title": "files",
            "path": str(folder),
            "regex_filter": r".*\.jpg",
            "use_blob_urls": True,  # one task per file
        }
        return int(self._ok(self.api.post("/api/storages/localfiles", json=body))["id"])

    def sync(self, storage: int) -> tuple[float, Any]:
        """Seconds from the sync request to ``completed``, and the storage afterwards."""
        assert self.proc is not None
        start, cpu = time.perf_counter(), cpu_seconds(self.proc.pid)
        body = self._ok(self.api.post(f"/api/storages/localfiles/{storage}/sync"))
        while body["status"] in ("initialized", "queued", "in_progress"):  # an RQ-backed edition
            time.sleep(0.05)
            body = self._ok(self.api.get(f"/api/storages/localfiles/{storage}"))
        elapsed = time.perf_counter() - start
        self.last_cpu = cpu_seconds(self.proc.pid) - cpu
        if body["status"] != "completed":
            raise RuntimeError(f"Label Studio sync {body['status']}: {body.get('traceback')}")
        return elapsed, body

    def task_count(self, project: int) -> int:
        return int(self._ok(self.api.get(f"/api/projects/{project}"))["task_number"])

    def file_status(self, relative: str) -> int:
        return self.api.get("/data/local-files/", params={"d": relative}).status_code


def fresh_data_dir(venv: Path, work: Path) -> Path:
    """Label Studio's data dir, migrated, with the user and organisation and nothing else.

    Migrating takes minutes (10 at load average 11), so a template is made once beside the venv
    (``label-studio start`` on it, stopped when it answers) and copied for every run."""
    template = venv.parent / f"labelstudio-{LS_VERSION}-data"
    if not (template / ".ready").exists():
        shutil.rmtree(template, ignore_errors=True)
        start = time.perf_counter()
        with LabelStudio(venv, work, work, template):
            pass
        (template / ".ready").write_text(LS_VERSION)
        print(f"Label Studio's database migrated once, {time.perf_counter() - start:.0f} s")
    data = work / "ls-data"
    shutil.copytree(template, data)
    return data


def ensure_venv(venv: Path) -> None:
    script = ROOT / "benchmarks" / "setup_labelstudio.sh"
    subprocess.run(
        ["bash", str(script), str(venv)],
        check=True,
        cwd=ROOT,
        env={**os.environ, "LABEL_STUDIO_VERSION": LS_VERSION},
    )


def parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--files", type=int, default=10_000, help="JPEGs synced (10,000)")
    parser.add_argument("--delete", type=int, default=100, help="files deleted before re-sync")
    parser.add_argument("--only", choices=["labelstudio", "moorage"], help="one side only")
    parser.add_argument(
        "--backend",
        choices=["sqlite", "postgresql"],
        default="sqlite",
        help="moorage's database: the embedded SQLite default (in-process "
        "workers), or PostgreSQL with a Redis broker and 2 moorage workers",
    )
    parser.add_argument("--venv", type=Path, default=ROOT / ".bench" / "labelstudio-venv")
    parser.add_argument("--keep", action="store_true", help="keep the work folder (printed)")
    return parser.parse_args()


def main() -> None:
    args = parse()
    exit_on_sigterm()
    run_ls, run_moorage = args.only != "moorage", args.only != "labelstudio"
    if run_ls:
        ensure_venv(args.venv)
    work = Path(tempfile.mkdtemp(prefix="ls-bench-"))
    files_root = work / "files"  # LOCAL_FILES_DOCUMENT_ROOT and the moorage grant
    folder = files_root / "imgs"
    t0 = time.perf_counter()
    paths = small_jpegs(folder, args.files)
    size = sum(p.stat().st_size for p in paths) / len(paths)
    print(
        f"{len(paths):,} JPEGs of 96x64 ({size / 1024:.1f} KB each) made in "
        f"{time.perf_counter() - t0:.1f} s; load average {os.getloadavg()[0]:.2f}"
    )
    with contextlib.ExitStack() as stack:
        ls = moorage = None
        if run_ls:
            data = fresh_data_dir(args.venv, work)
            t0 = time.perf_counter()
            ls = stack.enter_context(LabelStudio(args.venv, files_root, work, data))
            print(
                f"Label Studio {LS_VERSION} up in {time.perf_counter() - t0:.0f} s "
                f"(legacy token accepted)"
            )
        if run_moorage:
            moorage = stack.enter_context(Moorage(backend=args.backend, workers=2))
            print(f"moorage serve up ({args.backend})")
        run(args, ls, moorage, paths)
    if args.keep:
        print(f"work folder kept: {work}")
    else:
        shutil.rmtree(work, ignore_errors=True)


def run(
    args: argparse.Namespace, ls: LabelStudio | None, moorage: Moorage | None, paths: list[Path]
) -> None:
    n = len(paths)
    folder = paths[0].parent
    ls_rate = moorage_rate = 0.0
    if ls is not None:
        project = ls.project()
        storage = ls.storage(project, folder)
        secs, body = ls.sync(storage)
        tasks = ls.task_count(project)
        ls_rate = tasks / secs
        print(
            f"Label Studio sync: {tasks:,} tasks in {secs:.2f} s = {ls_rate:,.0f} items/s "
            f"(its own duration {body['meta'].get('duration', 0):.2f} s; {ls.last_cpu:.1f} CPU s, "
            f"{tasks / max(ls.last_cpu, 0.01):,.0f} items per CPU s; load average "
            f"{os.getloadavg()[0]:.2f})"
        )
    if moorage is not None:
        dataset = moorage.dataset("ls-bench")
        storage_slug = moorage.local_storage(folder.parent)
        cpu = moorage.cpu()
        secs, sync = moorage.sync(dataset, storage_slug, f"{folder.name}/")
        cpu = moorage.cpu() - cpu
        moorage_rate = sync["counts"]["registered"] / secs
        print(
            f"moorage sync: {sync['state']}, counts {sync['counts']} in {secs:.2f} s = "
            f"{moorage_rate:,.0f} items/s ({cpu:.1f} CPU s in all moorage processes, processing "
            f"included; load average {os.getloadavg()[0]:.2f})"
        )
        drained = moorage.wait_processed(timeout=1800)
        print(f"moorage processing (thumbnails, not counted) drained {drained:.1f} s later")
    if ls_rate and moorage_rate:
        verdict = "holds" if moorage_rate >= TARGET * ls_rate else "does NOT hold"
        print(
            f"ratio: moorage {moorage_rate / ls_rate:.1f}x Label Studio "
            f"(target {TARGET:.0f}x: {verdict})"
        )
    elif ls_rate:
        print(
            f"reference: the issue measured Label Studio 1.23.2 at 151-171 items/s; target "
            f"for moorage: {TARGET * ls_rate:,.0f} items/s ({TARGET:.0f}x this run)"
        )
    deleted = paths[:: max(1, n // args.delete)][: args.delete]
    for p in deleted:
        p.unlink()
    print(f"deleted {len(deleted)} files; re-sync:")
    if ls is not None:
        secs, body = ls.sync(storage)
        rel = [f"{folder.name}/{p.name}" for p in deleted]
        gone = sum(ls.file_status(r) == 404 for r in rel)
        kept = ls.task_count(project)
        print(
            f"  Label Studio: re-sync {secs:.2f} s, {ls.last_cpu:.1f} CPU s (re-lists all {n - len(deleted):,} files); "
            f"{kept:,} tasks kept ({kept - (n - len(deleted))} of them deleted files), "
            f"{gone} of {len(deleted)} deleted files' task URLs answer 404; nothing marks them"
        )
    if moorage is not None:
        secs, sync = moorage.sync(dataset, storage_slug, f"{folder.name}/")
        missing = moorage.count_items(dataset, "&source_statuses=missing")
        print(
            f"  moorage: re-sync {sync['state']} in {secs:.2f} s, counts {sync['counts']}; "
            f"{missing} items listed with source_statuses=missing (expected {len(deleted)})"
        )


if __name__ == "__main__":
    main()
