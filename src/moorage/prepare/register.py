"""``--register``: send the prepared payload to a running moorage, in chunks.

``POST /api/v2/teams/{team}/items/register_existing_readonly`` (the read-only checks apply;
nothing is processed again). A chunk holds at most ``chunk_size`` items (default 10,000, the
server's default ``MOORAGE_MAX_ITEMS_PER_REQUEST``) and at most ~8 MB of JSON (the server reads
32 MB by default); a chunk the server still finds too large (413) is split in two and sent
again, so a server with a lower limit needs no flag. 429, 5xx and connection errors are retried
with backoff (``Retry-After`` honoured), five times.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx

__all__ = ["RegisterError", "RegisterResult", "register"]

MAX_CHUNK_BYTES = 8 * 1024 * 1024
ATTEMPTS = 5


class RegisterError(Exception):
    """The server refused the request as a whole (auth, unknown dataset or storage...)."""


@dataclass
class RegisterResult:
    registered: int = 0
    #: ``{name, path, reason, message}`` per blocked item
    blocked: list[dict[str, Any]] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {"registered": self.registered, "blocked": self.blocked}


def _chunks(items: list[dict[str, Any]], size: int) -> Iterator[list[dict[str, Any]]]:
    chunk: list[dict[str, Any]] = []
    weight = 0
    for item in items:
        item_bytes = len(json.dumps(item))
        if chunk and (len(chunk) >= size or weight + item_bytes > MAX_CHUNK_BYTES):
            yield chunk
            chunk, weight = [], 0
        chunk.append(item)
        weight += item_bytes
    if chunk:
        yield chunk


def _message(response: httpx.Response) -> str:
    try:
        body = response.json()
        return str(body.get("error", {}).get("message") or body)
    except ValueError:
        return response.text[:500]


class _Client:
    def __init__(self, url: str, api_key: str, *, timeout: float = 120) -> None:
        self.http = httpx.Client(
            base_url=url.rstrip("/"),
            headers={"Authorization": f"ApiKey {api_key}"},
            timeout=timeout,
        )

    def send(self, method: str, path: str, body: Any = None) -> httpx.Response:
        delay = 0.5
        for attempt in range(ATTEMPTS):
            try:
                response = self.http.request(method, path, json=body)
            except httpx.TransportError as exc:
                if attempt == ATTEMPTS - 1:
                    raise RegisterError(f"cannot reach {self.http.base_url}: {exc}") from None
                time.sleep(delay)  # backoff before the next attempt
                delay *= 2
                continue
            if response.status_code == 429 or response.status_code >= 500:
                if attempt == ATTEMPTS - 1:
                    break
                retry_after = response.headers.get("Retry-After", "")
                time.sleep(float(retry_after) if retry_after.isdigit() else delay)
                delay *= 2
                continue
            return response
        raise RegisterError(f"{method} {path}: HTTP {response.status_code}: {_message(response)}")

    def team(self) -> str:
        response = self.send("GET", "/api/users/token_info")
        if response.status_code != 200:
            raise RegisterError(f"the API key was refused: {_message(response)}")
        return str(response.json()["selected_team"]["slug"])


def register(
    items: list[dict[str, Any]],
    *,
    url: str,
    api_key: str,
    dataset: str,
    storage: str,
    team: str | None = None,
    chunk_size: int = 10_000,
) -> RegisterResult:
    client = _Client(url, api_key)
    team = team or client.team()
    path = f"/api/v2/teams/{team}/items/register_existing_readonly"
    result = RegisterResult()
    queue = list(_chunks(items, chunk_size))
    while queue:
        chunk = queue.pop(0)
        body = {"items": chunk, "dataset_slug": dataset, "storage_slug": storage}
        response = client.send("POST", path, body)
        if response.status_code == 413 and len(chunk) > 1:
            half = len(chunk) // 2
            queue[:0] = [chunk[:half], chunk[half:]]
            continue
        if response.status_code != 200:
            raise RegisterError(f"HTTP {response.status_code}: {_message(response)}")
        answer = response.json()
        result.registered += len(answer.get("items", []))
        result.blocked += [_blocked(b) for b in answer.get("blocked_items", [])]
    return result


def _blocked(raw: dict[str, Any]) -> dict[str, Any]:
    slots = raw.get("slots") or [{}]
    return {
        "name": raw.get("name"),
        "path": raw.get("path"),
        "reason": slots[0].get("reason", "UNKNOWN"),
        "message": slots[0].get("message", ""),
    }
