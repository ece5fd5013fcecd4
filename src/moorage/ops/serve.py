"""The app as ``moorage serve`` runs it: each API process sets up its own logging."""

from __future__ import annotations

from fastapi import FastAPI

from moorage.app import create_app
from moorage.config import get_settings
from moorage.logs import configure_logging


def app_factory() -> FastAPI:
    settings = get_settings()
    configure_logging(settings.log_level, settings.log_format)
    return create_app(settings)
