"""Steps every procedure shares: trace a step, send a notification, open and close a task.

Each is one activity call with the same timeouts and retries, so that a procedure's `run`
reads like the text it implements.
"""
from __future__ import annotations

from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy

from eaflow.workflows.types import (
    AssignmentRequest,
    EvaluationRecord,
    Notification,
    StepRecord,
    TaskClosure,
    TaskSpec,
)

DB_TIMEOUT = timedelta(seconds=30)
MAIL_TIMEOUT = timedelta(seconds=60)
# Retry forever with a capped backoff: a deadline or a decision must never be dropped because a
# database or an SMTP server was down for a while.
RETRY = RetryPolicy(initial_interval=timedelta(seconds=1), maximum_interval=timedelta(minutes=5))


async def _call(name: str, arg: Any, timeout: timedelta = DB_TIMEOUT, result_type: type | None = None) -> Any:
    return await workflow.execute_activity(
        name, arg, start_to_close_timeout=timeout, retry_policy=RETRY, result_type=result_type
    )


async def record(step: StepRecord) -> None:
    await _call("record_step", step)


async def notify(notification: Notification) -> None:
    await _call("send_notification", notification, timeout=MAIL_TIMEOUT)


async def open_task(spec: TaskSpec) -> None:
    await _call("open_task", spec)


async def close_task(closure: TaskClosure) -> None:
    await _call("close_task", closure)


async def assign_counsellor(request: AssignmentRequest) -> None:
    # Not retried on a rule refusal: the activity raises a non-retryable ApplicationError (R7).
    await _call("assign_counsellor", request)


async def record_evaluation(record_: EvaluationRecord) -> None:
    await _call("record_shared_evaluation", record_)


async def reassign_open_tasks(journey_id: str, old: str | None, new: str) -> None:
    await _call("reassign_open_tasks", {"journey_id": journey_id, "old": old, "new": new})


async def current_policy() -> dict:
    return await _call("current_policy", None, result_type=dict)
