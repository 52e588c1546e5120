"""R20, the report as a durable thing: at each quarter's end (plus `[reports] snapshot_delay_days`),
the Temporal Schedule `quarterly-report` (eaflow/schedules.py) starts this workflow.

It asks for the last complete calendar quarter before the schedule's action time (Paris time) and
for every platform, then archives each platform's report: version 1 of the snapshot, unless one
exists already, and a mail to each of the platform's managers with the link to it. The snapshot is
keyed by platform and period, each mail `quarterly-report/<platform>/<from>/<to>/<manager>` in the
outbox: a schedule that fires twice, a retried activity or a re-run workflow stores one snapshot and
sends one mail per manager. What is computed and stored is services/report_snapshots.py's.
"""
from __future__ import annotations

from datetime import date, datetime, timedelta

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from pydantic import BaseModel

    from eaflow.workflows import steps
    from eaflow.workflows.digest import SCHEDULED_START_TIME

# One platform's whole report is computed, then mailed: minutes on a large platform; it heartbeats.
ARCHIVE_TIMEOUT = timedelta(minutes=10)


class QuarterPlan(BaseModel):
    start: date
    end: date
    platform_ids: list[str]


class ArchiveRequest(BaseModel):
    platform_id: str
    start: date
    end: date


class ArchiveOutcome(BaseModel):
    snapshot_id: int
    version: int
    stored: bool  # False: the period's snapshot existed already (a second firing, a retry)
    mailed: list[str] = []  # the managers' user ids


class QuarterlyReportResult(BaseModel):
    start: date
    end: date
    outcomes: dict[str, ArchiveOutcome] = {}  # platform id → outcome


def mail_key(platform_id: str, start: date, end: date, manager_id: str) -> str:
    return f"quarterly-report/{platform_id}/{start.isoformat()}/{end.isoformat()}/{manager_id}"


@workflow.defn(name="QuarterlyReport")
class QuarterlyReport:
    @workflow.run
    async def run(self) -> QuarterlyReportResult:
        at: datetime = workflow.info().typed_search_attributes.get(SCHEDULED_START_TIME) or workflow.now()
        plan: QuarterPlan = await workflow.execute_activity(
            "plan_quarterly_report", at, start_to_close_timeout=steps.DB_TIMEOUT, retry_policy=steps.RETRY,
            result_type=QuarterPlan)
        result = QuarterlyReportResult(start=plan.start, end=plan.end)
        for platform_id in plan.platform_ids:  # one at a time: each computes a whole report
            result.outcomes[platform_id] = await workflow.execute_activity(
                "archive_quarterly_report", ArchiveRequest(platform_id=platform_id, start=plan.start, end=plan.end),
                start_to_close_timeout=ARCHIVE_TIMEOUT, heartbeat_timeout=steps.MAIL_HEARTBEAT_TIMEOUT,
                retry_policy=steps.RETRY, result_type=ArchiveOutcome)
        return result
