"""/healthz, /readyz and /metrics: for probes and Prometheus, outside the API and its limits."""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Header
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST

from moorage.deps import CtxDep
from moorage.errors import Unauthorized
from moorage.kit.routing import api_router
from moorage.ops.metrics import render
from moorage.ops.readiness import JobsCollector, readiness

router = api_router(include_in_schema=False)


@router.get("/healthz")
def healthz() -> dict[str, str]:
    """The process is up and answering."""
    return {"status": "ok"}


@router.get("/readyz")
def readyz(ctx: CtxDep) -> JSONResponse:
    """Ready for traffic: database reachable, migrations at head, broker reachable if set."""
    checks = readiness(ctx)
    failed = [name for name, outcome in checks.items() if outcome not in ("ok", "skipped")]
    body = {"status": "unavailable" if failed else "ok", "checks": checks, "failed": failed}
    return JSONResponse(body, status_code=503 if failed else 200)


@router.get("/metrics")
def metrics(ctx: CtxDep, authorization: Annotated[str | None, Header()] = None) -> Response:
    token = ctx.settings.metrics_token
    if token and not hmac.compare_digest(
        (authorization or "").encode(), f"Bearer {token}".encode()
    ):
        raise Unauthorized("Send 'Authorization: Bearer <MOORAGE_METRICS_TOKEN>'.")
    return Response(render([JobsCollector(ctx)]), media_type=CONTENT_TYPE_LATEST)
