"""Opaque keyset cursors: the sort value and ``seq`` of the last row of a page."""

from __future__ import annotations

import base64
import binascii
from typing import Any

import orjson

from moorage.errors import BadRequest

__all__ = ["decode_cursor", "encode_cursor"]


def encode_cursor(value: Any, seq: int) -> str:
    raw = orjson.dumps([value, seq])
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[Any, int]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        value, seq = orjson.loads(base64.urlsafe_b64decode(padded))
        if not isinstance(seq, int):
            raise ValueError("seq")
    except (ValueError, TypeError, binascii.Error, orjson.JSONDecodeError):
        raise BadRequest(
            "page[from] is not a cursor this server issued.", field="page[from]"
        ) from None
    return value, seq
