"""Structured logs: dotted event names with fields, as JSON lines or for a console.

Everything goes through the standard library's root logger, so uvicorn's and dramatiq's lines
come out in the same format, with the request id bound in ``structlog.contextvars``.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import MutableMapping
from typing import Any

import structlog
from structlog.typing import Processor

__all__ = ["configure_logging", "redact_secrets"]

_SECRET_FIELDS = re.compile(r"authorization|api_?key|password|secret|credential|token", re.I)
#: a moorage/Darwin API key: 7 characters, '.', 32 characters
_API_KEY = re.compile(r"\b([A-Za-z0-9]{7})\.[A-Za-z0-9]{32}\b")
_URL_PASSWORD = re.compile(r"(\w+://[^/\s:@]*:)[^@\s/]+@")


def _scrub(text: str) -> str:
    return _URL_PASSWORD.sub(r"\1***@", _API_KEY.sub(r"\1.***", text))


def _drop_color_message(
    _logger: Any, _method: str, event: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """uvicorn's lines carry the same message again with terminal colours."""
    event.pop("color_message", None)
    return event


def redact_secrets(
    _logger: Any, _method: str, event: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """Last line of defence: secret-named fields, key-shaped strings and URL passwords."""
    for name, value in event.items():
        if _SECRET_FIELDS.search(name):
            event[name] = "***"
        elif isinstance(value, str):
            event[name] = _scrub(value)
    return event


def configure_logging(level: str = "INFO", fmt: str = "console") -> None:
    """``fmt``: ``json`` (one object a line) or ``console``."""
    shared: list[Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.format_exc_info,
        redact_secrets,
    ]
    renderer: Processor = (
        structlog.processors.JSONRenderer()
        if fmt.lower() == "json"
        else structlog.dev.ConsoleRenderer(colors=False)
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=[structlog.stdlib.ExtraAdder(), _drop_color_message, *shared],
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # uvicorn.access is left as uvicorn set it: moorage logs each request itself, with its id
    for name in ("uvicorn", "uvicorn.error", "dramatiq"):
        logging.getLogger(name).handlers.clear()
        logging.getLogger(name).propagate = True
    structlog.configure(
        processors=[
            structlog.stdlib.filter_by_level,
            *shared,
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        # loggers made before a reconfiguration (tests, the CLI) follow it
        cache_logger_on_first_use=False,
    )
