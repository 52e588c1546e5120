"""The daily comparison of the records with the journeys (issue 19), started by the Temporal Schedule
`journeys-check` (eaflow/schedules.py): every journey is compared, and what can be mended is
(eaflow/reconcile.py). The worker also runs it at start-up on the journeys a crash can have touched."""
from __future__ import annotations

from datetime import timedelta

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from pydantic import BaseModel

    from eaflow.workflows import steps

# Every journey of the platform: a few minutes at ten thousand; it heartbeats.
CHECK_TIMEOUT = timedelta(hours=2)


class CheckReport(BaseModel):
    checked: int = 0
    differences: list[str] = []  # one line each (eaflow/reconcile.py Difference.line)
    repaired: int = 0


@workflow.defn(name="JourneysCheck")
class JourneysCheck:
    @workflow.run
    async def run(self) -> CheckReport:
        return await workflow.execute_activity(
            "check_journeys", start_to_close_timeout=CHECK_TIMEOUT, heartbeat_timeout=steps.MAIL_HEARTBEAT_TIMEOUT,
            retry_policy=steps.RETRY, result_type=CheckReport)
