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
    ContactFacts,
    ContactFromTask,
    ExitDecision,
    TransferRequest,
    ConventionDraft,
    ConventionFinal,
    ConventionVersionRef,
    EvaluationRecord,
    Notification,
    PlatformSignature,
    SignatureAcceptance,
    SigningLinkRequest,
    StepRecord,
    TaskClosure,
    TaskSpec,
)
# Rendering a convention to HTML and PDF takes a moment (fonts, layout).
DOCUMENT_TIMEOUT = timedelta(minutes=2)

DB_TIMEOUT = timedelta(seconds=30)
MAIL_TIMEOUT = timedelta(seconds=60)
# A mail activity heartbeats while it works (activities/registry.py), so that a worker dying in the
# middle of one (SIGKILL, lost machine) is noticed after this, not after MAIL_TIMEOUT, and the mail
# retried on another worker; the outbox keeps the retry from sending it twice.
MAIL_HEARTBEAT_TIMEOUT = timedelta(seconds=10)
# Retry forever with a capped backoff: a deadline or a decision must never be dropped because a
# database or an SMTP server was down for a while.
RETRY = RetryPolicy(initial_interval=timedelta(seconds=1), maximum_interval=timedelta(minutes=5))


async def _call(name: str, arg: Any, timeout: timedelta = DB_TIMEOUT, result_type: type | None = None,
                heartbeat_timeout: timedelta | None = None) -> Any:
    return await workflow.execute_activity(
        name, arg, start_to_close_timeout=timeout, retry_policy=RETRY, result_type=result_type,
        heartbeat_timeout=heartbeat_timeout,
    )


async def record(step: StepRecord) -> None:
    await _call("record_step", step)


async def notify(notification: Notification) -> None:
    await _call("send_notification", notification, timeout=MAIL_TIMEOUT, heartbeat_timeout=MAIL_HEARTBEAT_TIMEOUT)


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


# ---- the convention individuelle (R10) ----

async def create_convention_version(draft: ConventionDraft) -> ConventionVersionRef:
    return await _call("create_convention_version", draft, timeout=DOCUMENT_TIMEOUT, result_type=ConventionVersionRef)


async def send_signing_link(request: SigningLinkRequest) -> None:
    await _call("send_signing_link", request, timeout=MAIL_TIMEOUT, heartbeat_timeout=MAIL_HEARTBEAT_TIMEOUT)


async def accept_signature(acceptance: SignatureAcceptance) -> None:
    await _call("accept_signature", acceptance)


async def record_platform_signature(signature: PlatformSignature) -> None:
    await _call("record_platform_signature", signature)


async def finalize_convention(final: ConventionFinal) -> str:
    return await _call("finalize_convention", final, timeout=DOCUMENT_TIMEOUT, result_type=str)


# ---- the accompaniment's rhythm (R12, R13) ----

async def contact_facts(journey_id: str) -> ContactFacts:
    return await _call("contact_facts", journey_id, result_type=ContactFacts)


async def record_contact_from_task(contact: ContactFromTask) -> None:
    await _call("record_contact_from_task", contact)


# ---- exits (R15, R18) ----

async def record_exit(decision: ExitDecision) -> None:
    await _call("record_exit", decision)


async def transfer_journey(request: TransferRequest) -> None:
    await _call("transfer_journey", request)
