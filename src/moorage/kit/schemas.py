"""Annotated types for request schemas: strings both databases store alike.

``SafeStr`` refuses NUL (PostgreSQL cannot store it, SQLite does) and lone surrogates;
``NameStr`` also refuses control characters, for single-line names, slugs and paths;
``SafeJson`` refuses them anywhere inside an object stored as JSON (JSONB rejects ``\\u0000``).
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import AfterValidator
from pydantic_core import PydanticCustomError

from moorage.kit.text import find_unsafe, unsafe_text

__all__ = ["NameStr", "SafeJson", "SafeStr"]


def _invalid(reason: str) -> PydanticCustomError:
    return PydanticCustomError("invalid_characters", reason)


def _safe(value: str) -> str:
    reason = unsafe_text(value)
    if reason is not None:
        raise _invalid(reason)
    return value


def _name(value: str) -> str:
    reason = unsafe_text(value, single_line=True)
    if reason is not None:
        raise _invalid(reason)
    return value


def _safe_json(value: dict[str, Any]) -> dict[str, Any]:
    found = find_unsafe(value)
    if found is not None:
        where, reason = found
        raise _invalid(f"{where} {reason}" if where else reason)
    return value


SafeStr = Annotated[str, AfterValidator(_safe)]
NameStr = Annotated[str, AfterValidator(_name)]
SafeJson = Annotated[dict[str, Any], AfterValidator(_safe_json)]
