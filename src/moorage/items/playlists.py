"""HLS playlists served with each segment line rewritten at request time.

A slot's ``hls`` metadata names, per rendition (``high``, ``low``), either the key of a playlist
the worker wrote (``playlist``: its segment lines are names relative to its folder) or, for a
video darwin-py processed itself, the playlist text (``index``: its segment lines are storage
keys). Serving reads the playlist and replaces every segment line: by a URL signed now for
``signed_url_seconds`` (cloud storage), or by moorage's own segment URL, which streams the file
(local storage, or storage that cannot sign). A playlist therefore never holds an expired URL,
and two requests sign afresh.
"""

from __future__ import annotations

import posixpath
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from sqlalchemy.orm import Session

from moorage.context import AppContext
from moorage.errors import NotFound
from moorage.items.files import FileTarget, storage_adapter
from moorage.items.repository import item_repository
from moorage.items.serialize import slot_base
from moorage.items.service import find_item
from moorage.models import Team
from moorage.storage.base import InvalidKey, StorageAdapter, StorageError, validate_key

__all__ = ["MEDIA_TYPE", "SlotPlaylist", "load_playlist", "playlist_text", "rewrite"]

MEDIA_TYPE = "application/vnd.apple.mpegurl"


def _is_uri_line(line: str) -> bool:
    return bool(line) and not line.startswith("#")


def rewrite(text: str, url_of: Callable[[int, str], str]) -> str:
    """The playlist with its ``n``-th segment line (from 0) replaced by ``url_of(n, line)``."""
    out: list[str] = []
    n = 0
    for raw in text.splitlines():
        line = raw.strip()
        if _is_uri_line(line):
            out.append(url_of(n, line))
            n += 1
        else:
            out.append(line)
    return "\n".join(out) + "\n"


def segment_lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if _is_uri_line(line.strip())]


class BadPlaylist(NotFound):
    """A playlist line that names no object moorage will serve (outside the slot, a URL)."""


@dataclass(frozen=True)
class SlotPlaylist:
    adapter: StorageAdapter
    text: str
    #: the folder relative segment lines start from; None: the lines are storage keys
    folder: str | None
    #: the folder every segment must be under (the slot's derivatives), or None (keys as given)
    root: str | None
    base: str

    def key(self, line: str) -> str:
        """The storage key a segment line names, refused when it leaves the slot's folder."""
        if "://" in line or line.startswith("/"):
            raise BadPlaylist("The playlist names a segment moorage does not serve.", field="hls")
        key = line if self.folder is None else posixpath.normpath(posixpath.join(self.folder, line))
        if self.root is not None and not key.startswith(self.root + "/"):
            raise BadPlaylist("The playlist names a segment outside its slot.", field="hls")
        try:
            validate_key(key)
        except InvalidKey as exc:
            raise BadPlaylist(f"The playlist names a bad key: {exc.message}", field="hls") from exc
        return key

    def segment(self, n: int) -> FileTarget:
        lines = segment_lines(self.text)
        if not 0 <= n < len(lines):
            raise NotFound(f"The playlist has no segment {n}.", field="segment")
        key = self.key(lines[n])
        return FileTarget(self.adapter, key, key.rsplit("/", 1)[-1])


def load_playlist(
    session: Session,
    team: Team,
    ctx: AppContext,
    *,
    item_id: str,
    slot_name: str,
    quality: str,
    base_url: str,
) -> SlotPlaylist:
    """The rendition's playlist text and where its segments are; 404 for another team's."""
    uid, item = find_item(session, team, item_id)
    slot = item_repository.slot_by_name(session, uid, slot_name)
    if slot is None:
        raise NotFound(f"Item has no slot {slot_name!r}.", field="slot_name")
    hls = (slot.meta or {}).get("hls")
    entry = hls.get(quality) if isinstance(hls, Mapping) else None
    if not isinstance(entry, Mapping):
        raise NotFound(f"Slot {slot_name!r} has no HLS stream (yet).", field="slot_name")
    held_by = slot.derivatives_storage_id or item["storage_id"]
    adapter = storage_adapter(session, team, ctx, held_by, "storage holding this item's segments")
    base = slot_base(base_url, team.slug, uid, slot_name)
    if isinstance(entry.get("index"), str):  # darwin-py's: the text, its lines storage keys
        return SlotPlaylist(adapter, entry["index"], None, None, base)
    key = str(entry.get("playlist") or "")
    folder = posixpath.dirname(key)
    with adapter.open_read(key) as stream:
        text = stream.read(_MAX_PLAYLIST_BYTES).decode("utf-8", "replace")
    # the slot's folder: .../files/{slot_id}, two levels above segments/{quality}/
    return SlotPlaylist(adapter, text, folder, posixpath.dirname(posixpath.dirname(folder)), base)


#: a ten-hour video in 2 s segments is ~0.5 MB of playlist
_MAX_PLAYLIST_BYTES = 16 * 1024 * 1024


def playlist_text(playlist: SlotPlaylist, *, quality: str, expires_in: int) -> str:
    """The playlist with every segment line a URL valid from now for ``expires_in`` seconds."""
    streamed: list[bool] = []  # decided once, on the first segment: one storage, one way

    def url_of(n: int, line: str) -> str:
        key = playlist.key(line)
        if not streamed:
            streamed.append(_streams_itself(playlist.adapter, key))
        own = f"{playlist.base}/hls/{quality}/segments/{n}"
        if streamed[0]:
            return own
        return playlist.adapter.sign_url(key, expires_in=expires_in) or own

    return rewrite(playlist.text, url_of)


def _streams_itself(adapter: StorageAdapter, key: str) -> bool:
    """Local files (and storage that cannot sign) are served by moorage's own segment URL."""
    try:
        if adapter.local_path(key) is not None:
            return True
    except StorageError:
        return True  # missing: moorage's own URL answers 404 for it when asked
    return adapter.sign_url(key, expires_in=60) is None
