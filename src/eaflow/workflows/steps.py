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


# The short database steps run as local activities: in the worker's own workflow task, recorded as
# one marker event instead of three events and a round trip through the server each. They are
# idempotent by key, so a local activity re-run after a worker died does nothing twice. Journeys
# that ran them as ordinary activities keep doing so until they continue as new (replay).
LOCAL_STEPS_PATCH = "local-database-steps"


# An update travels in a speculative workflow task that the server forgets if the worker or the server
# dies before completing it, while a local activity of its handler may already have written the
# database (ARCHITECTURE.md, "Known pitfalls"): the database would then show a completion the journey
# never received. So every update handler first schedules one ordinary activity that does nothing
# (`update_accepted`): scheduling it completes the workflow task, which writes the update's
# WorkflowExecutionUpdateAccepted event, and only then do the handler's steps run. From that moment
# the update is in the history: a crash replays the handler and re-runs its idempotent steps.
# Updates handled before this shipped replay without it.
ACCEPTED_BEFORE_WRITING_PATCH = "updates-accepted-before-writing"


async def accepted() -> None:
    """Return once the update being handled is durably in the journey's history (see above)."""
    if workflow.patched(ACCEPTED_BEFORE_WRITING_PATCH):
        await _call("update_accepted", None)


async def _call(name: str, arg: Any, timeout: timedelta = DB_TIMEOUT, result_type: type | None = None,
                heartbeat_timeout: timedelta | None = None) -> Any:
    return await workflow.execute_activity(
        name, arg, start_to_close_timeout=timeout, retry_policy=RETRY, result_type=result_type,
        heartbeat_timeout=heartbeat_timeout,
    )


async def _db(name: str, arg: Any, result_type: type | None = None) -> Any:
    """A short database step."""
    if workflow.patched(LOCAL_STEPS_PATCH):
        return await workflow.execute_local_activity(
            name, arg, start_to_close_timeout=DB_TIMEOUT, retry_policy=RETRY, result_type=result_type)
    return await _call(name, arg, result_type=result_type)


async def record(step: StepRecord) -> None:
    await _db("record_step", step)


async def notify(notification: Notification) -> None:
    await _call("send_notification", notification, timeout=MAIL_TIMEOUT, heartbeat_timeout=MAIL_HEARTBEAT_TIMEOUT)


async def open_task(spec: TaskSpec) -> None:
    await _db("open_task", spec)


async def close_task(closure: TaskClosure) -> None:
    await _db("close_task", closure)


async def assign_counsellor(request: AssignmentRequest) -> None:
    # Not retried on a rule refusal: the activity raises a non-retryable ApplicationError (R7).
    await _db("assign_counsellor", request)


async def record_evaluation(record_: EvaluationRecord) -> None:
    await _db("record_shared_evaluation", record_)


async def reassign_open_tasks(journey_id: str, old: str | None, new: str, *, task_ids: list[str] | None = None,
                              role: str | None = None) -> None:
    change = {"journey_id": journey_id, "old": old, "new": new}
    if task_ids is not None:  # these tasks, held by a team (the payload of earlier calls is unchanged)
        change |= {"task_ids": task_ids, "role": role}
    await _db("reassign_open_tasks", change)


async def current_policy() -> dict:
    # An ordinary activity: it reads the policy file, not the database, right before a continue-as-new
    # (where a local activity trips the time-skipping test server: its time stays locked afterwards).
    return await _call("current_policy", None, result_type=dict)


# ---- the convention individuelle (R10) ----

async def create_convention_version(draft: ConventionDraft) -> ConventionVersionRef:
    return await _call("create_convention_version", draft, timeout=DOCUMENT_TIMEOUT, result_type=ConventionVersionRef)


async def send_signing_link(request: SigningLinkRequest) -> None:
    await _call("send_signing_link", request, timeout=MAIL_TIMEOUT, heartbeat_timeout=MAIL_HEARTBEAT_TIMEOUT)


async def accept_signature(acceptance: SignatureAcceptance) -> None:
    await _db("accept_signature", acceptance)


async def record_platform_signature(signature: PlatformSignature) -> None:
    await _db("record_platform_signature", signature)


async def finalize_convention(final: ConventionFinal) -> str:
    return await _call("finalize_convention", final, timeout=DOCUMENT_TIMEOUT, result_type=str)


# ---- the accompaniment's rhythm (R12, R13) ----

async def contact_facts(journey_id: str) -> ContactFacts:
    return await _db("contact_facts", journey_id, result_type=ContactFacts)


async def record_contact_from_task(contact: ContactFromTask) -> ContactFacts | None:
    """What the contacts say once it is recorded (None in histories from before it said so)."""
    return await _db("record_contact_from_task", contact, result_type=ContactFacts)


# ---- exits (R15, R18) ----

async def record_exit(decision: ExitDecision) -> None:
    await _db("record_exit", decision)


async def transfer_journey(request: TransferRequest) -> None:
    await _db("transfer_journey", request)
