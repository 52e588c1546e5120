"""Drive journeys on a real Temporal server with a real worker, database and SMTP server."""
from __future__ import annotations

import asyncio
import hashlib
import json
from contextlib import asynccontextmanager
from datetime import date

from sqlmodel import select
from temporalio.client import Client, WorkflowUpdateRPCTimeoutOrCancelledError
from temporalio.service import RPCError, RPCStatusCode

from eaflow.intake import IntakeRequest, journey_input, new_journey_id, record_prescription, start_journey
from eaflow.policy import Policy
from eaflow.settings import Settings
from eaflow.store.db import session_scope
from eaflow.store.models import Task
from eaflow.worker import build_worker
from eaflow.workflows.journey import JourneyWorkflow
from eaflow.workflows.task_kinds import TASK_KINDS
from eaflow.workflows.types import TaskCompletion


def intake(**overrides) -> IntakeRequest:
    body = {
        "person": {"first_name": "Léa", "last_name": "Martin", "birth_date": "1995-04-12",
                   "email": "lea.martin@example.fr"},
        "channel": "cdaph", "urgent": False, "prescribed_on": "2026-11-02", "situation": "seeking",
        "rights": {"rqth_until": "2030-05-31"},
        "subsidiarity_reason": "Besoin d'un appui durable dans l'emploi que le droit commun n'offre pas.",
        "consent": {"given_on": "2026-11-02", "by": "person"},
    }
    body.update(overrides)
    return IntakeRequest.model_validate(body)


@asynccontextmanager
async def running_worker(client: Client, settings: Settings):
    async with build_worker(client, settings):
        yield


async def start(client: Client, settings: Settings, platform, request: IntakeRequest, policy: Policy):
    journey_id = new_journey_id(platform.prescriber, None)
    with session_scope(settings.db_url) as session:
        record_prescription(session, journey_id, request, platform.platform_id, platform.prescriber)
    answer = await start_journey(client, settings.task_queue,
                                 journey_input(journey_id, platform.platform_id, request, policy))
    return journey_id, answer


def open_tasks(settings: Settings, journey_id: str, kind: str | None = None) -> list[Task]:
    with session_scope(settings.db_url) as session:
        query = select(Task).where(Task.journey_id == journey_id, Task.status == "open")
        if kind:
            query = query.where(Task.kind == kind)
        return list(session.exec(query.order_by(Task.created_at)).all())


async def complete(client: Client, task: Task, outcome: dict, actor: str, **facts):
    canonical = TASK_KINDS[task.kind].validate(outcome).model_dump(mode="json")
    digest = hashlib.sha256(json.dumps(canonical, sort_keys=True).encode()).hexdigest()
    handle = client.get_workflow_handle(task.journey_id)
    return await update_across_continue_as_new(
        handle, JourneyWorkflow.complete_task,
        TaskCompletion(task_id=task.id, outcome=canonical, outcome_hash=digest, actor_id=actor, facts=facts),
        id=f"{task.id}:{digest[:16]}",
    )


async def update_across_continue_as_new(handle, update, arg, *, id: str):
    """An update that races a continue-as-new is refused as 'already completed': send it again."""
    for attempt in range(5):
        try:
            # An update admitted just as the run continues as new can be lost on the time-skipping
            # server (sdk-python issue 826): give up waiting and send it again, same id.
            return await asyncio.wait_for(handle.execute_update(update, arg, id=id), timeout=20)
        except (RPCError, asyncio.TimeoutError, WorkflowUpdateRPCTimeoutOrCancelledError) as error:
            if isinstance(error, RPCError) and error.status != RPCStatusCode.NOT_FOUND or attempt == 4:
                raise
            await asyncio.sleep(0.2)


def today() -> str:
    return date.today().isoformat()


async def snapshot_of(handle):
    """The journey's live state; a query that lands during a continue-as-new is asked again."""
    for attempt in range(5):
        try:
            return await asyncio.wait_for(handle.query(JourneyWorkflow.snapshot), timeout=20)
        except (RPCError, asyncio.TimeoutError):
            if attempt == 4:
                raise
            await asyncio.sleep(0.5)
