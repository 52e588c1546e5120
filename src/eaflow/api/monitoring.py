"""Request logs and metrics for the API, and the /metrics endpoint for Prometheus."""
from __future__ import annotations

import logging
import time

from fastapi import APIRouter, FastAPI, Request, Response

from eaflow.observability import (
    HTTP_LATENCY,
    HTTP_REQUESTS,
    metrics_payload,
    register_store_collector,
)
from eaflow.services.public import public

log = logging.getLogger("eaflow.http")
router = APIRouter()


@router.get("/metrics", tags=["health"], include_in_schema=False,
            dependencies=[public("Prometheus scrapes it: counts by method and status, no ids, no names")])
def metrics(request: Request) -> Response:
    register_store_collector(request.app.state.settings.db_url)
    return Response(metrics_payload(), media_type="text/plain; version=0.0.4; charset=utf-8")


def install(app: FastAPI) -> None:
    @app.middleware("http")
    async def _log_requests(request: Request, call_next):
        started = time.perf_counter()
        status = 500
        try:
            response = await call_next(request)
            status = response.status_code
            return response
        finally:
            elapsed = time.perf_counter() - started
            HTTP_REQUESTS.labels(request.method, str(status)).inc()
            HTTP_LATENCY.labels(request.method).observe(elapsed)
            # The path only: a query string may hold a searched name (R22).
            log.info("request", extra={"method": request.method, "path": request.url.path, "status": status,
                                       "duration_ms": round(elapsed * 1000, 1)})

    app.include_router(router)
