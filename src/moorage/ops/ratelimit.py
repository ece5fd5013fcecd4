"""Requests per API key in fixed windows, counted where every API process sees the same count.

Backends: PostgreSQL (one upsert in its own short transaction), Redis (INCR + EXPIRE), or this
process's memory (SQLite: one process). A limiter that cannot count lets requests through.
"""

from __future__ import annotations

import math
import re
import threading
import time
from dataclasses import dataclass
from typing import Protocol

import structlog
from sqlalchemy import Engine, delete
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from moorage.errors import RateLimited
from moorage.models import RateWindow
from moorage.ops import metrics

__all__ = ["Rate", "RateLimiter", "build_limiter", "parse_rate"]

log = structlog.get_logger(__name__)

_UNITS = {"second": 1, "minute": 60, "hour": 3600, "day": 86400}
_RATE = re.compile(r"\s*(\d{1,9})\s*/\s*(\d{0,6})\s*([a-z]+?)s?\s*")


@dataclass(frozen=True)
class Rate:
    limit: int
    period: int  # seconds


def parse_rate(text: str | None) -> Rate | None:
    """``"1200/minute"``, ``"10/second"``, ``"5000/hour"``, ``"100/10seconds"``; empty or ``0``
    means no limit."""
    if text is None or text.strip() in ("", "0"):
        return None
    match = _RATE.fullmatch(text.lower())
    unit = _UNITS.get(match.group(3)) if match else None
    if match is None or unit is None:
        raise ValueError(
            f"MOORAGE_RATE_LIMIT {text!r} must look like 1200/minute (second, minute, hour, day)"
        )
    limit = int(match.group(1))
    if limit == 0:
        return None
    return Rate(limit=limit, period=int(match.group(2) or 1) * unit)


class Counter(Protocol):
    name: str

    def hit(self, key: str, window: int, period: int) -> int:
        """Count one request of ``key`` in the window starting at ``window``; the new total."""


class MemoryCounter:
    name = "memory"

    def __init__(self) -> None:
        self._hits: dict[tuple[str, int], int] = {}
        self._window = 0
        self._lock = threading.Lock()

    def hit(self, key: str, window: int, period: int) -> int:
        with self._lock:
            if window != self._window:
                self._hits = {k: v for k, v in self._hits.items() if k[1] >= window}
                self._window = window
            total = self._hits.get((key, window), 0) + 1
            self._hits[(key, window)] = total
            return total


class DatabaseCounter:
    """``rate_windows`` rows, one per key and window, pruned once a window per process."""

    name = "database"

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._insert = pg_insert if engine.dialect.name == "postgresql" else sqlite_insert
        self._pruned = 0

    def hit(self, key: str, window: int, period: int) -> int:
        stmt = (
            self._insert(RateWindow)
            .values(key=key, window=window, hits=1)
            .on_conflict_do_update(
                index_elements=["key", "window"], set_={"hits": RateWindow.hits + 1}
            )
            .returning(RateWindow.hits)
        )
        with self._engine.begin() as conn:
            hits = int(conn.execute(stmt).scalar_one())
            if window != self._pruned:
                self._pruned = window
                conn.execute(delete(RateWindow).where(RateWindow.window < window - period))
        return hits


class RedisCounter:
    name = "redis"

    def __init__(self, url: str) -> None:
        import redis

        self._client = redis.Redis.from_url(
            url, socket_timeout=0.5, socket_connect_timeout=0.5, retry_on_timeout=False
        )

    def hit(self, key: str, window: int, period: int) -> int:
        name = f"moorage:rate:{key}:{window}"
        pipe = self._client.pipeline(transaction=True)
        pipe.incr(name)
        pipe.expire(name, period + 5)
        hits, _ = pipe.execute()
        return int(hits)


class RateLimiter:
    def __init__(self, rate: Rate, counter: Counter) -> None:
        self.rate = rate
        self.counter = counter
        self._failing = False

    def check(self, key: str) -> None:
        """Count one request of ``key``; raise ``RateLimited`` past the limit."""
        now = time.time()
        period = self.rate.period
        window = int(now // period) * period
        try:
            hits = self.counter.hit(f"{key}:{period}", window, period)
        except Exception as exc:  # the limiter's own outage must never fail a request
            metrics.RATE_LIMITER_ERRORS.inc()
            if not self._failing:
                self._failing = True
                log.warning(
                    "rate_limit.unavailable", backend=self.counter.name, error=type(exc).__name__
                )
            return
        if self._failing:
            self._failing = False
            log.info("rate_limit.recovered", backend=self.counter.name)
        if hits > self.rate.limit:
            metrics.RATE_LIMITED.inc()
            raise RateLimited(max(1, math.ceil(window + period - now)), limit=self.rate.limit)


def build_limiter(rate_limit: str | None, url: str | None, engine: Engine) -> RateLimiter | None:
    """``url`` unset: the database when it is PostgreSQL, this process's memory otherwise."""
    rate = parse_rate(rate_limit)
    if rate is None:
        return None
    counter: Counter
    if url and url.startswith(("redis://", "rediss://", "unix://")):
        counter = RedisCounter(url)
    elif url and url.startswith("memory:"):
        counter = MemoryCounter()
    elif url and url != "database":
        raise ValueError("MOORAGE_RATE_LIMIT_URL must be redis://..., memory:// or database")
    elif engine.dialect.name == "postgresql":
        counter = DatabaseCounter(engine)
    elif url:
        # a request holds SQLite's only write lock: a second connection would wait on it
        raise ValueError("MOORAGE_RATE_LIMIT_URL=database needs PostgreSQL")
    else:
        counter = MemoryCounter()
    return RateLimiter(rate, counter)
