"""A journey lives for years: its history stays bounded across continue-as-new (ARCHITECTURE §3)."""
from __future__ import annotations

import uuid
from datetime import timedelta

import pytest

from eaflow.policy import load_policy
from eaflow.workflows.journey import JourneyWorkflow
from eaflow.workflows.types import CounsellorChange
from tests.conftest import with_policy
from tests.workflow.helpers import (
    complete, intake, open_tasks, running_worker, snapshot_of, start, today, update_across_continue_as_new,
)
from tests.workflow.test_journey_entry import wait_for_task

pytestmark = pytest.mark.xdist_group("time-skipping")

LIMIT = 150


async def history_length(handle) -> int:
    return len((await handle.fetch_history()).events)


async def test_ten_years_of_waiting_and_messages_keep_the_history_bounded(
    time_skipping_env, settings, platform, tmp_path
):
    env = time_skipping_env
    policy_file = tmp_path / "policy.toml"
    policy_file.write_text(f'[waiting_list]\nassignment_reminder_every = "P1M"\n'
                           f'[workflow]\nhistory_event_limit = {LIMIT}\n')
    settings = with_policy(settings, policy_file)  # refreshed from the file at each continue-as-new
    policy = load_policy(policy_file)
    async with running_worker(env.client, settings):
        journey_id, _ = await start(env.client, settings, platform, intake(), policy)
        handle = env.client.get_workflow_handle(journey_id)
        assign = await wait_for_task(settings, journey_id, "assign_counsellor", env)

        # Five years on the waiting list: a reminder to the managers every month.
        lengths = []
        for _ in range(10):
            await env.sleep(timedelta(days=183))
            lengths.append(await history_length(handle))
        snapshot = await snapshot_of(handle)
        assert snapshot.continued_runs >= 2, (snapshot.continued_runs, lengths, snapshot.tasks)
        assert snapshot.tasks[assign.id].reminders_sent == 60
        assert [t.id for t in open_tasks(settings, journey_id, "assign_counsellor")] == [assign.id]

        # Then five years accompanied, with a change of counsellor every quarter.
        await complete(env.client, assign, {"counsellor_id": platform.counsellor}, platform.manager,
                       caseload=0, fte=1.0)
        evaluation = await wait_for_task(settings, journey_id, "shared_evaluation", env)
        await complete(env.client, evaluation, {"evaluated_on": today(), "wishes": "w", "needs": "n",
                                                "resources": "r"}, platform.counsellor)
        counsellors = [platform.counsellor2, platform.counsellor]
        for quarter in range(20):
            await env.sleep(timedelta(days=91))
            await update_across_continue_as_new(
                handle, JourneyWorkflow.change_counsellor,
                CounsellorChange(counsellor_id=counsellors[quarter % 2], reason="rotation", actor_id=platform.manager,
                                 caseload=0, fte=1.0),
                id=f"change-{uuid.uuid4().hex}",
            )
            lengths.append(await history_length(handle))
        snapshot = await snapshot_of(handle)
    # Evaluated, the journey waits for the convention to be drafted (R10); the draft follows the counsellor.
    assert snapshot.state == "convention" and snapshot.evaluation_done
    assert snapshot.counsellor_changes == 20 and snapshot.counsellor_id == platform.counsellor
    [draft] = open_tasks(settings, journey_id, "draft_convention")
    assert draft.assignee_id == platform.counsellor
    assert max(lengths) <= LIMIT + 40, lengths  # one run never grows much past the limit
