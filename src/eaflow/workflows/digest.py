"""The weekly digest to each counsellor (issue 5), started by the Temporal Schedule `weekly-digest`
(eaflow/schedules.py).

Once a week: ask for the week of the schedule's action time and for the active counsellors of
every platform, then send each counsellor their digest — tasks due this week, overdue tasks,
quarterly interviews coming due (R12), persons without a contact for long (R13). Every mail is
keyed `digest/<ISO week>/<counsellor id>` in the outbox, so a schedule that fires twice in a week,
or a retried activity, sends one digest per counsellor per week. What a digest holds, and when a
counsellor gets none (nothing to report), is the activities' business (activities/digest.py).
"""
from __future__ import annotations

import asyncio
from datetime import datetime

from temporalio import workflow
from temporalio.common import SearchAttributeKey

with workflow.unsafe.imports_passed_through():
    from pydantic import BaseModel

    from eaflow.workflows import steps

# Set by the server on every workflow a schedule starts: the nominal time of the action (a late,
# caught-up run still knows the Monday morning it stands for; a trigger's is the trigger time).
SCHEDULED_START_TIME = SearchAttributeKey.for_datetime("TemporalScheduledStartTime")
# Digests sent at once: enough to go fast, few enough not to flood the SMTP server.
BATCH_SIZE = 10


class DigestPlan(BaseModel):
    week: str  # ISO week of the action time, Paris time: "2026-W48"
    counsellor_ids: list[str]


class DigestRequest(BaseModel):
    counsellor_id: str
    at: datetime  # the action time: "this week", "overdue" and "coming due" are counted from it
    key: str  # the outbox's idempotency key: digest/<ISO week>/<counsellor id>


class DigestOutcome:
    SENT = "sent"
    ALREADY_SENT = "already_sent"  # this week's digest went out before (a second firing, a retry)
    NOTHING_TO_REPORT = "nothing_to_report"  # no mail: an empty digest is noise
    NOT_A_COUNSELLOR = "not_a_counsellor"  # deactivated since the plan was made


class DigestReport(BaseModel):
    week: str
    outcomes: dict[str, str] = {}  # counsellor id → DigestOutcome


def digest_key(week: str, counsellor_id: str) -> str:
    return f"digest/{week}/{counsellor_id}"


@workflow.defn(name="WeeklyDigest")
class WeeklyDigest:
    @workflow.run
    async def run(self) -> DigestReport:
        at = workflow.info().typed_search_attributes.get(SCHEDULED_START_TIME) or workflow.now()
        plan: DigestPlan = await workflow.execute_activity(
            "plan_weekly_digest", at, start_to_close_timeout=steps.DB_TIMEOUT, retry_policy=steps.RETRY,
            result_type=DigestPlan)
        report = DigestReport(week=plan.week)
        for start in range(0, len(plan.counsellor_ids), BATCH_SIZE):
            batch = plan.counsellor_ids[start:start + BATCH_SIZE]
            outcomes = await asyncio.gather(*(self._send(plan.week, at, counsellor_id) for counsellor_id in batch))
            report.outcomes.update(zip(batch, outcomes))
        return report

    @staticmethod
    async def _send(week: str, at: datetime, counsellor_id: str) -> str:
        request = DigestRequest(counsellor_id=counsellor_id, at=at, key=digest_key(week, counsellor_id))
        return await workflow.execute_activity(
            "send_weekly_digest", request, start_to_close_timeout=steps.MAIL_TIMEOUT,
            heartbeat_timeout=steps.MAIL_HEARTBEAT_TIMEOUT, retry_policy=steps.RETRY, result_type=str)
