"""``moorage sync``: an HTTP client of a running moorage that starts a server-side sync and
follows it with a live progress bar. Exit code 0: synced; 1: something was blocked; 2: the sync
failed, was cancelled, or could not be started."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Annotated, Any

import httpx
import typer

__all__ = ["SyncClient", "sync"]

#: waits between attempts after a 429, a 5xx or a connection error
BACKOFF = (0.5, 1.0, 2.0, 4.0, 8.0, 16.0)
POLL_SECONDS = 0.5


class SyncClient:
    """Calls with retries: 429 (honouring Retry-After), 5xx and connection errors."""

    def __init__(
        self, url: str, api_key: str, *, sleep: Callable[[float], None] = time.sleep
    ) -> None:
        self.http = httpx.Client(
            base_url=url.rstrip("/"),
            headers={"Authorization": f"ApiKey {api_key}"},
            timeout=30,
        )
        self.sleep = sleep

    def call(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        for wait in (*BACKOFF, None):
            try:
                response = self.http.request(method, path, **kwargs)
            except httpx.TransportError as exc:
                if wait is None:
                    raise typer.BadParameter(f"cannot reach moorage: {exc}") from None
                self.sleep(wait)
                continue
            if response.status_code != 429 and response.status_code < 500:
                return response
            if wait is None:
                return response
            retry_after = response.headers.get("retry-after", "")
            self.sleep(float(retry_after) if retry_after.isdigit() else wait)
        raise AssertionError("unreachable")

    def json(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self.call(method, path, **kwargs)
        if response.status_code >= 400:
            try:
                message = response.json()["error"]["message"]
            except (ValueError, KeyError, TypeError):
                message = response.text[:300]
            typer.echo(f"error: {response.status_code}: {message}", err=True)
            raise typer.Exit(2)
        return response.json()


def _expected(client: SyncClient, team: str, started: dict[str, Any]) -> int | None:
    """The keys the last complete sync of the same prefix listed: the ETA's total."""
    page = client.json("GET", f"/api/v2/teams/{team}/syncs", params={"page[size]": "50"})
    for s in page["syncs"]:
        if (
            s["id"] != started["id"]
            and s["state"] in ("complete", "watching")
            and (s["dataset_slug"], s["storage_slug"], s["prefix"])
            == (started["dataset_slug"], started["storage_slug"], started["prefix"])
        ):
            return int(s["counts"]["listed"]) or None
    return None


def _follow(client: SyncClient, team: str, started: dict[str, Any], *, show: bool) -> Any:
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

    path = f"/api/v2/teams/{team}/syncs/{started['id']}"
    console = Console(stderr=True)
    columns = (
        TextColumn("[bold]sync[/]"),
        BarColumn(),
        TextColumn(
            "listed {task.fields[listed]}  registered {task.fields[registered]}  "
            "blocked {task.fields[blocked]}  {task.fields[rate]:.0f} keys/s"
        ),
        TimeRemainingColumn(),
    )
    total = _expected(client, team, started)
    began = time.monotonic()
    with Progress(*columns, console=console, disable=not show, transient=False) as progress:
        task = progress.add_task("sync", total=total, listed=0, registered=0, blocked=0, rate=0.0)
        while True:
            body = client.json("GET", path)
            counts = body["counts"]
            rate = counts["listed"] / max(1e-6, time.monotonic() - began)
            progress.update(
                task,
                completed=counts["listed"],
                rate=rate,
                **{k: counts[k] for k in ("listed", "registered", "blocked")},
            )
            if body["state"] not in ("queued", "running"):
                progress.update(task, total=counts["listed"] or 1)
                return body
            time.sleep(POLL_SECONDS)


def _summary(body: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"sync {body['id']}: {body['state']}")
    table.add_column("count")
    table.add_column("keys", justify="right")
    for name, value in body["counts"].items():
        table.add_row(name, str(value))
    Console(stderr=True).print(table)


def sync(
    dataset: Annotated[str, typer.Option(help="Dataset slug.")],
    storage: Annotated[str, typer.Option(help="Storage slug.")],
    prefix: Annotated[str, typer.Option(help="List keys under this prefix.")] = "",
    include: Annotated[list[str] | None, typer.Option(help="Glob of keys to take.")] = None,
    exclude: Annotated[list[str] | None, typer.Option(help="Glob of keys to skip.")] = None,
    group: Annotated[str, typer.Option(help="none, folder or dicom-series.")] = "none",
    on_missing: Annotated[str, typer.Option(help="mark, archive or ignore.")] = "mark",
    watch: Annotated[bool, typer.Option(help="Keep the sync watching the bucket.")] = False,
    dry_run: Annotated[bool, typer.Option(help="List and count; write nothing.")] = False,
    json_out: Annotated[bool, typer.Option("--json", help="Print the final sync object.")] = False,
    url: Annotated[str, typer.Option(envvar="MOORAGE_URL", help="moorage's URL.")] = (
        "http://127.0.0.1:8000"
    ),
    api_key: Annotated[str, typer.Option(envvar="MOORAGE_API_KEY", help="An API key.")] = "",
) -> None:
    """Register everything under a storage prefix into a dataset, on the server, and follow it.

    A later run is incremental: new keys are registered, changed ones re-processed, gone ones
    marked. Exit code 1 when anything was blocked (the first reasons are printed)."""
    if not api_key:
        typer.echo("error: give --api-key or set MOORAGE_API_KEY", err=True)
        raise typer.Exit(2)
    client = SyncClient(url, api_key)
    team = client.json("GET", "/api/users/token_info")["selected_team"]["slug"]
    body = {
        "storage_slug": storage,
        "prefix": prefix,
        "include": include or [],
        "exclude": exclude or [],
        "group": group,
        "on_missing": on_missing,
        "watch": watch,
        "dry_run": dry_run,
    }
    started = client.json("POST", f"/api/v2/teams/{team}/datasets/{dataset}/syncs", json=body)
    final = _follow(client, team, started, show=not json_out)
    if json_out:
        typer.echo(json.dumps(final, indent=2))
    else:
        _summary(final)
        if final["state"] == "watching":
            typer.echo(
                f"watching: the server keeps sync {final['id']} in step; stop it with "
                f"POST /api/v2/teams/{team}/syncs/{final['id']}/cancel",
                err=True,
            )
    if final["state"] in ("failed", "cancelled"):
        error = final.get("error") or {}
        typer.echo(f"error: sync {final['state']}: {error.get('message', '')}", err=True)
        raise typer.Exit(2)
    if final["counts"]["blocked"]:
        for entry in final["blocked"][:10]:
            typer.echo(
                f"blocked: {entry['storage_key']}: {entry['reason']}: {entry['message']}", err=True
            )
        raise typer.Exit(1)
