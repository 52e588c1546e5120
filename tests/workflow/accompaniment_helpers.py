"""Bring a journey to the accompaniment on the time-skipping server, and look at it there."""
from __future__ import annotations

import asyncio
from datetime import date

from eaflow.policy import Policy
from eaflow.store.db import session_scope
from eaflow.store.models import Journey
from eaflow.workflows.journey import JourneyWorkflow
from tests.workflow.helpers import complete, open_tasks, snapshot_of
from tests.workflow.test_convention import answer, pending_signature, to_signature, until


def journey_state(settings, journey_id: str) -> str:
    with session_scope(settings.db_url) as session:
        return session.get(Journey, journey_id).state


async def sign_every_party(env, settings, platform, journey_id: str, version: int, roles: list[str]) -> None:
    for role in roles:
        signature_id, party_id = pending_signature(settings, journey_id, role)
        await answer(env, journey_id, signature_id, party_id, version=version)
    await until(lambda: bool(open_tasks(settings, journey_id, "sign_convention")), "the platform's signing task",
                attempts=200)
    [task] = open_tasks(settings, journey_id, "sign_convention")
    await complete(env.client, task, {"decision": "sign"}, platform.manager)


async def to_accompaniment(env, settings, platform, policy: Policy, **intake_overrides) -> str:
    journey_id = await to_signature(env, settings, platform, policy, **intake_overrides)
    await sign_every_party(env, settings, platform, journey_id, 1, ["person", "employer"])
    await until(lambda: journey_state(settings, journey_id) == "accompaniment", "accompaniment", attempts=200)
    return journey_id


async def rhythm_of(env, journey_id: str):
    return (await snapshot_of(env.client.get_workflow_handle(journey_id))).rhythm


async def first_deadline(env, journey_id: str):
    """The rhythm once the accompaniment's first interview deadline is set."""
    for _ in range(100):
        rhythm = await rhythm_of(env, journey_id)
        if rhythm.due is not None:
            return rhythm
        await asyncio.sleep(0.1)
    raise AssertionError("no interview deadline")


async def env_today(env) -> date:
    return (await env.get_current_time()).date()


async def contacts_changed(env, journey_id: str) -> dict:
    return await env.client.get_workflow_handle(journey_id).execute_update(JourneyWorkflow.contacts_changed)
