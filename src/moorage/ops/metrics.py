"""Prometheus metrics. Labels are codes and templates only: never a team, dataset or item name.

With ``PROMETHEUS_MULTIPROC_DIR`` set (``moorage serve --processes N`` sets it), every process
writes its counters to files there and a scrape of any process adds them all up.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector

__all__ = [
    "REGISTRY",
    "defer_to",
    "observe_job",
    "record_registration",
    "render",
    "replay",
    "storage_error",
]

REGISTRY = CollectorRegistry(auto_describe=True)

_SECONDS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)
_JOB_SECONDS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 900, 3600)

REQUESTS = Counter(
    "moorage_http_requests",
    "HTTP requests by route template, method and status.",
    ["route", "method", "status"],
    registry=REGISTRY,
)
REQUEST_SECONDS = Histogram(
    "moorage_http_request_seconds",
    "Time to answer an HTTP request, by route template.",
    ["route", "method"],
    buckets=_SECONDS,
    registry=REGISTRY,
)
REGISTERED_ITEMS = Counter(
    "moorage_registered_items", "Items registered.", ["readonly"], registry=REGISTRY
)
BLOCKED_ITEMS = Counter(
    "moorage_blocked_items",
    "Items refused by register_existing, by the reason of their first blocked slot.",
    ["reason"],
    registry=REGISTRY,
)
STORAGE_ERRORS = Counter(
    "moorage_storage_errors",
    "Failures of a team's storage (not a missing key or a bad key), by provider and reason.",
    ["provider", "reason"],
    registry=REGISTRY,
)
PROCESSING_SECONDS = Histogram(
    "moorage_processing_seconds",
    "Time a worker spent on one job, by slot kind and outcome (done, error).",
    ["kind", "outcome"],
    buckets=_JOB_SECONDS,
    registry=REGISTRY,
)
RATE_LIMITED = Counter(
    "moorage_rate_limited_requests", "Requests refused with 429.", registry=REGISTRY
)
RATE_LIMITER_ERRORS = Counter(
    "moorage_rate_limiter_errors",
    "Requests let through because the rate limiter's store failed.",
    registry=REGISTRY,
)

#: the caller's problem, not the storage's: counted as blocked items, not as storage errors
_CALLER_REASONS = frozenset({"STORAGE_KEY_NOT_FOUND", "INVALID_STORAGE_KEY"})


#: in a processing child (``worker/pool.py``): what its job observed, for the parent to replay
_deferred: list[tuple[str, tuple[Any, ...]]] | None = None


def defer_to(sink: list[tuple[str, tuple[Any, ...]]] | None) -> None:
    """Collect this process's job observations in ``sink`` (``None``: observe them here)."""
    global _deferred
    _deferred = sink


def replay(observed: Iterable[tuple[str, tuple[Any, ...]]]) -> None:
    """Observe here what a child collected."""
    for name, args in observed:
        if name == "job":
            observe_job(*args)
        else:
            storage_error(*args)


def storage_error(provider: str, reason: str) -> None:
    if _deferred is not None:
        _deferred.append(("storage_error", (provider, reason)))
        return
    if reason.startswith("STORAGE_") and reason not in _CALLER_REASONS:
        STORAGE_ERRORS.labels(provider, reason).inc()


def record_registration(
    *, provider: str, readonly: bool, registered: int, blocked: Sequence[dict[str, Any]]
) -> None:
    """Count one register_existing answer: what it registered and why it blocked the rest."""
    if registered:
        REGISTERED_ITEMS.labels(str(readonly).lower()).inc(registered)
    for item in blocked:
        slots = item.get("slots") or [{}]
        BLOCKED_ITEMS.labels(str(slots[0].get("reason") or "UNKNOWN")).inc()
        for slot in slots:
            storage_error(provider, str(slot.get("reason") or ""))


def observe_job(kind: str | None, outcome: str, seconds: float) -> None:
    if _deferred is not None:
        _deferred.append(("job", (kind, outcome, seconds)))
        return
    PROCESSING_SECONDS.labels(kind or "unknown", outcome).observe(seconds)


class _Own:
    """This process's metrics, for a scrape registry."""

    def collect(self) -> Iterable[Metric]:
        return REGISTRY.collect()


def multiprocess_dir() -> str | None:
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR") or None


def render(extra: Iterable[Any] = ()) -> bytes:
    """The text exposition of every process's metrics plus ``extra`` collectors."""
    registry = CollectorRegistry(auto_describe=False)
    if multiprocess_dir():
        MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    else:
        registry.register(_Own())
    for collector in extra:
        registry.register(collector)
    return generate_latest(registry)


def gauge(name: str, doc: str, labels: Sequence[str], values: Iterator[tuple[Any, ...]]) -> Metric:
    family = GaugeMetricFamily(name, doc, labels=list(labels))
    for *label_values, value in values:
        family.add_metric([str(v) for v in label_values], float(value))
    return family
