"""The one JSON parser of request bodies.

orjson refuses what neither database nor the response encoder can hold: lone surrogates
(``"\\udfff"``), numbers beyond a double (a 400-digit integer), ``NaN``. When it refuses a body,
the body is read again, slowly, with the standard library only to name the field at fault.
"""

from __future__ import annotations

import json
import math
from typing import Any

import orjson

from moorage.errors import ValidationFailed
from moorage.kit.text import find_unsafe

__all__ = ["parse_json"]


class _Unrepresentable:
    """A number orjson cannot hold, found during the second, explaining parse."""

    def __init__(self, text: str) -> None:
        self.text = text


def _number(text: str) -> Any:
    value = float(text)
    if not math.isfinite(value):
        return _Unrepresentable(text)
    return value if any(c in text for c in ".eE") else int(text)


def _constant(text: str) -> _Unrepresentable:
    return _Unrepresentable(text)


def _first_bad_number(value: Any) -> str | None:
    stack: list[tuple[str, Any]] = [("", value)]
    while stack:
        where, node = stack.pop()
        if isinstance(node, _Unrepresentable):
            return where or "body"
        if isinstance(node, dict):
            stack.extend((f"{where}.{k}" if where else k, v) for k, v in node.items())
        elif isinstance(node, list):
            stack.extend((f"{where}.{i}" if where else str(i), v) for i, v in enumerate(node))
    return None


def _printable(path: str) -> str:
    return path.encode("utf-8", "replace").decode()


def _explain(body: bytes, error: orjson.JSONDecodeError) -> ValidationFailed:
    try:
        doc = json.loads(body, parse_int=_number, parse_float=_number, parse_constant=_constant)
    except (ValueError, RecursionError):
        return ValidationFailed(f"The request body is not valid JSON ({error}).", field="body")
    number_at = _first_bad_number(doc)
    number_at = _printable(number_at) if number_at is not None else None
    if number_at is not None:
        return ValidationFailed(
            f"{number_at}: the number is out of range (at most a 64-bit integer or a finite "
            "double).",
            field=number_at,
        )
    found = find_unsafe(doc)
    if found is not None:
        where, reason = found
        field = _printable(where) or "body"
        return ValidationFailed(f"{field}: {reason}.", field=field)
    return ValidationFailed(f"The request body is not valid JSON ({error}).", field="body")


def parse_json(body: bytes) -> Any:
    """The parsed body, or ``ValidationFailed`` (422) naming the field that cannot be read."""
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise _explain(body, exc) from None
