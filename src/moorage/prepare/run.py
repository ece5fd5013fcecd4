"""Run the tasks on every core, with a progress bar, and gather the payload.

Files go to a pool of worker processes (``jobs``, default every core); at most ``4 x jobs``
tasks are in flight, so a listing of a million keys is never held as a million futures. With
``jobs == 1`` everything runs in this process. Items come back in the order of the tasks.
"""

from __future__ import annotations

import multiprocessing
import os
import sys
import time
from collections.abc import Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from moorage.prepare.sources import Task
from moorage.prepare.work import Outcome, Plan, init_worker, run_task

__all__ = ["Report", "run"]


@dataclass
class Report:
    items: list[dict[str, Any]] = field(default_factory=list)
    #: ``{file, stage, message}`` of files that failed (and paths that could not be used)
    errors: list[dict[str, str]] = field(default_factory=list)
    #: ``{file, stage, message}`` of files found in a folder or listing that are not media
    unsupported: list[dict[str, str]] = field(default_factory=list)
    made: int = 0
    present: int = 0
    seconds: float = 0.0

    def summary(self) -> str:
        return (
            f"moorage prepare: {self.made + self.present} file(s) ready ({self.made} made, "
            f"{self.present} already present), {len(self.unsupported)} not media, "
            f"{len(self.errors)} failed, in {self.seconds:.1f} s"
        )


class _Bar:
    """A rich progress bar on stderr, or nothing (``quiet`` or stderr is not a terminal)."""

    def __init__(self, enabled: bool) -> None:
        self._progress: Any = None
        self._task: Any = None
        if enabled:
            from rich.console import Console
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TextColumn,
                TimeElapsedColumn,
                TimeRemainingColumn,
            )

            self._progress = Progress(
                TextColumn("prepare"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("{task.fields[rate]}"),
                TimeElapsedColumn(),
                TimeRemainingColumn(),
                console=Console(stderr=True),
                transient=True,
            )
            self._task = self._progress.add_task("prepare", total=None, rate="")

    @contextmanager
    def shown(self) -> Iterator[_Bar]:
        if self._progress is None:
            yield self
            return
        with self._progress:
            yield self

    def update(self, *, done: int, total: int | None, started: float) -> None:
        if self._progress is None:
            return
        elapsed = max(time.monotonic() - started, 1e-6)
        self._progress.update(
            self._task, completed=done, total=total, rate=f"{done / elapsed:.1f} files/s"
        )


def run(
    tasks: Iterable[Task | tuple[str, str]],
    plan: Plan,
    *,
    jobs: int | None = None,
    quiet: bool = False,
) -> Report:
    """Prepare every task; ``(path, message)`` entries become errors without running."""
    jobs = max(1, jobs or os.cpu_count() or 1)
    report = Report()
    outcomes: dict[int, Outcome] = {}
    started = time.monotonic()
    bar = _Bar(enabled=not quiet and sys.stderr.isatty())
    listed = 0
    with bar.shown():

        def record(outcome: Outcome) -> None:
            outcomes[outcome.index] = outcome
            # the total grows while a listing goes on
            bar.update(done=len(outcomes), total=listed, started=started)

        for_pool = _valid(tasks, report)
        if jobs == 1:
            init_worker(plan)
            for task in for_pool:
                listed += 1
                record(run_task(task))
        else:
            context = _pool_context()
            with ProcessPoolExecutor(
                jobs, mp_context=context, initializer=init_worker, initargs=(plan,)
            ) as pool:
                pending: set[Future[Outcome]] = set()
                for task in for_pool:
                    listed += 1
                    pending.add(pool.submit(run_task, task))
                    if len(pending) >= 4 * jobs:
                        finished, pending = wait(pending, return_when=FIRST_COMPLETED)
                        for future in finished:
                            record(future.result())
                for future in _as_done(pending):
                    record(future.result())
    _gather(report, outcomes)
    report.seconds = time.monotonic() - started
    return report


def _pool_context() -> multiprocessing.context.BaseContext:
    """Fresh worker processes, started from a server that imported the media code once.

    Not ``fork``: this process may run threads (the progress bar, a storage client's runtime)
    that a forked child would inherit half-way. The server preloads only the light task code:
    a worker imports the media code (numba, PyAV, pydicom: 1-4 s) when it first has a file to
    process, so a re-run where everything is present starts at once.
    """
    if "forkserver" in multiprocessing.get_all_start_methods():
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(["moorage.prepare.work"])
        return context
    return multiprocessing.get_context("spawn")


def _valid(tasks: Iterable[Task | tuple[str, str]], report: Report) -> Iterator[Task]:
    for task in tasks:
        if isinstance(task, Task):
            yield task
        else:
            report.errors.append({"file": task[0], "stage": "probe", "message": task[1]})


def _as_done(pending: set[Future[Outcome]]) -> Iterator[Future[Outcome]]:
    while pending:
        finished, pending = wait(pending, return_when=FIRST_COMPLETED)
        yield from finished


def _gather(report: Report, outcomes: dict[int, Outcome]) -> None:
    for index in sorted(outcomes):
        outcome = outcomes[index]
        if outcome.item is not None:
            report.items.append(outcome.item)
        if outcome.status == "made":
            report.made += 1
        elif outcome.status == "present":
            report.present += 1
        elif outcome.status == "unsupported" and outcome.error:
            report.unsupported.append(outcome.error)
        elif outcome.error:
            report.errors.append(outcome.error)
