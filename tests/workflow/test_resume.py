"""The `resume` signal (`eaflow journeys resume` after an upgrade): a running journey continues as new
at its next safe point, into the deployed code, and loses nothing: its open task, its deadline."""
from __future__ import annotations

import pytest

from eaflow.policy import Policy
from tests.workflow.accompaniment_helpers import first_deadline, to_accompaniment
from tests.workflow.helpers import open_tasks, running_worker, snapshot_of
from tests.workflow.test_convention import until

pytestmark = pytest.mark.xdist_group("time-skipping")


async def test_resume_continues_a_journey_as_new_with_its_state(time_skipping_env, settings, platform):
    env = time_skipping_env
    async with running_worker(env.client, settings):
        journey_id = await to_accompaniment(env, settings, platform, Policy())
        before = await first_deadline(env, journey_id)
        handle = env.client.get_workflow_handle(journey_id)
        runs = (await snapshot_of(handle)).continued_runs
        first_run = (await handle.describe()).run_id
        await handle.signal("resume")

        async def continued() -> bool:
            return (await env.client.get_workflow_handle(journey_id).describe()).run_id != first_run

        for _ in range(100):
            if await continued():
                break
            await __import__("asyncio").sleep(0.1)
        assert await continued()
        after = await snapshot_of(env.client.get_workflow_handle(journey_id))
        assert after.continued_runs == runs + 1
        assert after.rhythm.due == before.due and after.state == "accompaniment"
        await until(lambda: not open_tasks(settings, journey_id, "sign_convention"), "nothing reopened")
