"""R22, data kept no longer than needed after exit: the daily purge, started by the Temporal Schedule
`personal-data-purge` (eaflow/schedules.py).

Once a day: anonymise every closed file whose retention (`[personal_data] retention_after_exit`,
counted from the exit) ran out on the schedule's action day, Paris time. What goes and what stays is
the service's business (eaflow/services/personal_data.py); each journey is anonymised in its own
transaction, keyed by its audit row, so a second firing or a retried activity changes nothing.
"""
from __future__ import annotations

from datetime import datetime, timedelta

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from pydantic import BaseModel

    from eaflow.workflows import steps
    from eaflow.workflows.digest import SCHEDULED_START_TIME

# One day's purge: a few journeys usually, thousands the first day on an old database; it heartbeats.
PURGE_TIMEOUT = timedelta(minutes=30)


class PurgeReport(BaseModel):
    day: str  # the day the retention was counted to (ISO date, Paris time)
    anonymised: list[str] = []  # journey ids


@workflow.defn(name="PersonalDataPurge")
class PersonalDataPurge:
    @workflow.run
    async def run(self) -> PurgeReport:
        at: datetime = workflow.info().typed_search_attributes.get(SCHEDULED_START_TIME) or workflow.now()
        return await workflow.execute_activity(
            "purge_personal_data", at, start_to_close_timeout=PURGE_TIMEOUT,
            heartbeat_timeout=steps.MAIL_HEARTBEAT_TIMEOUT, retry_policy=steps.RETRY, result_type=PurgeReport)
