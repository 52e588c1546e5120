"""A worker interceptor: one JSON log line and one metric per activity attempt that fails or ends."""
from __future__ import annotations

import logging
import time
from typing import Any

from temporalio import activity
from temporalio.worker import ActivityInboundInterceptor, ExecuteActivityInput, Interceptor

from eaflow.observability import ACTIVITY_COMPLETIONS, ACTIVITY_FAILURES

log = logging.getLogger("eaflow.activity")


class _Inbound(ActivityInboundInterceptor):
    async def execute_activity(self, input: ExecuteActivityInput) -> Any:
        info = activity.info()
        context = {"journey_id": info.workflow_id, "activity": info.activity_type, "attempt": info.attempt}
        started = time.perf_counter()
        try:
            result = await super().execute_activity(input)
        except BaseException as error:
            ACTIVITY_FAILURES.labels(info.activity_type).inc()
            log.warning("activity failed", extra={**context, "error": type(error).__name__,
                                                  "duration_ms": round((time.perf_counter() - started) * 1000, 1)})
            raise
        ACTIVITY_COMPLETIONS.labels(info.activity_type).inc()
        log.info("activity done", extra={**context, "duration_ms": round((time.perf_counter() - started) * 1000, 1)})
        return result


class ActivityLogging(Interceptor):
    def intercept_activity(self, next: ActivityInboundInterceptor) -> ActivityInboundInterceptor:
        return _Inbound(next)
