"""Text rules shared by every endpoint: slugs, and which characters a stored string may hold."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

__all__ = ["find_unsafe", "slugify", "unsafe_text", "walk_strings"]

_NON_SLUG = re.compile(r"[^a-z0-9]+")
# C0 and C1 control characters and DEL: line breaks, tabs, escapes, NUL
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
# lone surrogates cannot be encoded as UTF-8, so neither database nor JSON output can hold them
_SURROGATE = re.compile("[\ud800-\udfff]")

NUL_MESSAGE = "must not contain NUL (\\u0000) characters"
SURROGATE_MESSAGE = "must not contain unpaired surrogates (not valid Unicode)"
CONTROL_MESSAGE = "must not contain control characters (line breaks, tabs, NUL, ...)"


def slugify(name: str) -> str:
    """Lower case; runs of other characters become ``-`` ("Darwin Py" -> "darwin-py")."""
    return _NON_SLUG.sub("-", name.lower()).strip("-")


def unsafe_text(value: str, *, single_line: bool = False) -> str | None:
    """Why ``value`` cannot be stored, or None. NUL is refused everywhere because PostgreSQL
    cannot store it while SQLite can: refusing it keeps both engines answering alike.
    ``single_line`` also refuses every control character (names, paths, slugs)."""
    if "\x00" in value:
        return NUL_MESSAGE
    if _SURROGATE.search(value):
        return SURROGATE_MESSAGE
    if single_line and _CONTROL.search(value):
        return CONTROL_MESSAGE
    return None


def walk_strings(value: Any, path: str = "") -> Iterator[tuple[str, str]]:
    """Every string of a JSON value, keys included, with its dotted path (``a.0.b``)."""
    stack: list[tuple[str, Any]] = [(path, value)]
    while stack:
        where, node = stack.pop()
        if isinstance(node, str):
            yield where, node
        elif isinstance(node, dict):
            for key, child in node.items():
                if isinstance(key, str):
                    yield where, key  # a bad key is named by the object holding it
                stack.append((f"{where}.{key}" if where else str(key), child))
        elif isinstance(node, list | tuple):
            stack.extend((f"{where}.{i}" if where else str(i), c) for i, c in enumerate(node))


def find_unsafe(value: Any, path: str = "") -> tuple[str, str] | None:
    """(path, reason) of the first string anywhere in a JSON value that cannot be stored."""
    for where, text in walk_strings(value, path):
        reason = unsafe_text(text)
        if reason is not None:
            return where, reason
    return None
