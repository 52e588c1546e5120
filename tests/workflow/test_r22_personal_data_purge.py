"""R22: the daily purge as Temporal runs it: the workflow and its activity on the time-skipping
server (the closed files past their retention are anonymised, once), and the schedule
`personal-data-purge` on the dev server (every day at night, Paris time, created once)."""
from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import date, timedelta

from temporalio.client import Client, ScheduleActionStartWorkflow, ScheduleOverlapPolicy, ScheduleRange
from temporalio.worker import Worker

from eaflow.activities.personal_data import PersonalDataActivities
from eaflow.schedules import PURGE_HOUR, ensure_personal_data_purge_schedule
from eaflow.settings import Settings
from eaflow.store.db import session_scope
from eaflow.store.models import Journey, Person
from eaflow.workflows.personal_data import PersonalDataPurge, PurgeReport
from tests.unit.test_indicators import seed
from tests.unit.test_personal_data import add_person_file


async def test_r22_the_daily_purge_anonymises_the_files_past_retention_once(time_skipping_env, settings, platform,
                                                                           tmp_path):
    # A month's retention: the fixture's files closed in 2025-2026 are all past it today; a file closed
    # yesterday is not, nor is an open one.
    policy = tmp_path / "policy.toml"
    policy.write_text('[personal_data]\nretention_after_exit = "P1M"\n', encoding="utf-8")
    settings = replace(settings, policy_file=policy)
    seed(settings.db_url, platform)
    with session_scope(settings.db_url) as session:
        add_person_file(session, "j-c")
        add_person_file(session, "j-a")
        session.get(Journey, "j-j").exited_on = date.today() - timedelta(days=1)
    client = time_skipping_env.client
    # The clock stays the wall clock: skipping time while the activity runs would age the recent file.
    with time_skipping_env.auto_time_skipping_disabled():
        async with Worker(client, task_queue=settings.task_queue, workflows=[PersonalDataPurge],
                          activities=PersonalDataActivities(settings).all()):
            report = await client.execute_workflow(PersonalDataPurge.run, id=f"purge-{uuid.uuid4().hex[:8]}",
                                                   task_queue=settings.task_queue, result_type=PurgeReport)
            assert sorted(report.anonymised) == ["j-c", "j-g", "j-i"]
            again = await client.execute_workflow(PersonalDataPurge.run, id=f"purge-{uuid.uuid4().hex[:8]}",
                                                  task_queue=settings.task_queue, result_type=PurgeReport)
            assert again.anonymised == [] and again.day == report.day
    with session_scope(settings.db_url) as session:
        assert session.get(Person, "j-c").last_name == ""
        assert session.get(Person, "j-a").last_name == "Dubois"
        assert session.get(Journey, "j-j").anonymised_at is None


async def test_r22_the_purge_schedule_runs_every_night_and_is_ensured_once(local_env):
    client: Client = local_env.client
    settings = Settings(task_queue=f"purge-spec-{uuid.uuid4().hex[:8]}")
    schedule_id = f"personal-data-purge-{uuid.uuid4().hex[:8]}"
    handle = client.get_schedule_handle(schedule_id)
    try:
        assert await ensure_personal_data_purge_schedule(client, settings, schedule_id) == "created"
        described = await handle.describe()
        [calendar] = described.schedule.spec.calendars
        assert list(calendar.hour) == [ScheduleRange(PURGE_HOUR)]
        assert described.schedule.spec.time_zone_name == "Europe/Paris"
        assert described.schedule.policy.overlap is ScheduleOverlapPolicy.SKIP
        action = described.schedule.action
        assert isinstance(action, ScheduleActionStartWorkflow)
        assert (action.workflow, action.task_queue) == ("PersonalDataPurge", settings.task_queue)
        assert await ensure_personal_data_purge_schedule(client, settings, schedule_id) == "unchanged"
        other = Settings(task_queue=f"purge-other-{uuid.uuid4().hex[:8]}")
        assert await ensure_personal_data_purge_schedule(client, other, schedule_id) == "updated"
    finally:
        await handle.delete()
