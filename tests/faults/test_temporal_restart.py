"""The Temporal dev server stopped and restarted on its db file while journeys wait on timers
(issue 3, "Faults survived").

Journeys wait for the CDAPH to be informed (R2) with a reminder every 3 s. The dev server gets
SIGTERM, stays down while reminders fall due, and starts again on the same SQLite file and port;
the worker and the API, left running, reconnect on their own. The reminders resume, the tasks are
the same (ids, open, in the database and in the workflows) and completing them works.
"""
from __future__ import annotations

import time
from datetime import date

import httpx
import pytest
from sqlmodel import select

from eaflow.store.db import session_scope
from eaflow.store.models import Task
from eaflow.workflows.journey import JourneyWorkflow
from tests.faults.conftest import FAST_POLICY, MANAGER, intake, run, wait_until

pytestmark = pytest.mark.xdist_group("faults")

JOURNEYS = 3
DOWN_FOR = 7.0  # more than two reminder intervals


def open_tasks_in_db(db_url: str, journeys: list[str]) -> dict[str, tuple[str, str]]:
    with session_scope(db_url) as session:
        rows = session.exec(select(Task).where(Task.journey_id.in_(journeys))).all()
    return {t.id: (t.kind, t.status) for t in rows}


def test_timers_fire_and_tasks_survive_a_restart_of_the_temporal_server(stack_factory):
    stack = stack_factory(FAST_POLICY)
    smtp = stack.smtp
    reminders = smtp.reminders
    temporal = stack.start_temporal()
    worker = stack.start_worker()
    api = stack.start_api()

    journeys = [api.create_journey(intake(i))["id"] for i in range(JOURNEYS)]
    tasks = {j: api.wait_task(j, "notify_cdaph")["id"] for j in journeys}
    wait_until(lambda: all(reminders().get(t, 0) >= 1 for t in tasks.values()), 20,
               "a first reminder for every task")
    before = open_tasks_in_db(stack.db_url, journeys)
    # Each journey is on the waiting list at once, the CDAPH to inform beside it (R2, R6).
    assert {t: v for t, v in before.items() if v[0] == "notify_cdaph"} == {t: ("notify_cdaph", "open") for t in tasks.values()}
    assert sorted(before.values()) == sorted([("assign_counsellor", "open"), ("notify_cdaph", "open")] * JOURNEYS)

    assert temporal.stop() is not None
    assert not temporal.child.running()
    stopped_at = time.monotonic()

    # While it is down, the API says so rather than failing obscurely.
    health = httpx.get(f"{api.url}/healthz", timeout=15)
    assert health.status_code == 503, health.text
    assert health.headers["content-type"] == "application/problem+json"
    assert health.json()["checks"]["temporal"] == "unavailable"
    assert health.json()["checks"]["database"] == "ok"

    time.sleep(max(0.0, DOWN_FOR - (time.monotonic() - stopped_at)))
    # Read now, not at the stop: an activity already running when the server stopped may still
    # have sent its mail meanwhile. Anything newer comes from a timer fired after the restart.
    seen_before_restart = reminders()
    temporal.start()
    restarted_at = time.monotonic()
    assert worker.running(), worker.text()

    # The timers armed before the stop fire after the restart: the next reminder of every task.
    wait_until(lambda: all(reminders().get(t, 0) > seen_before_restart.get(t, 0) for t in tasks.values()),
               30, "the reminders after the restart")
    print(f"reminders resumed {time.monotonic() - restarted_at:.1f} s after the restart "
          f"(before: {dict(seen_before_restart)}, now: {dict(reminders())})")
    wait_until(lambda: httpx.get(f"{api.url}/healthz", timeout=15).status_code == 200, 20, "a healthy API again")

    # Same tasks, still open, in the database and in each workflow.
    assert open_tasks_in_db(stack.db_url, journeys) == before

    async def snapshots():
        client = await stack.temporal_client()
        return {j: await client.get_workflow_handle(j).query(JourneyWorkflow.snapshot) for j in journeys}

    for journey_id, snapshot in run(snapshots()).items():
        open_in_workflow = {t.id for t in snapshot.tasks.values() if t.status == "open"}
        assert tasks[journey_id] in open_in_workflow and len(open_in_workflow) == 2, snapshot

    # And the journeys still take their completions.
    today = date.today().isoformat()
    for journey_id, task_id in tasks.items():
        response = api.request("POST", f"/api/v1/tasks/{task_id}/complete", MANAGER,
                               json={"outcome": {"informed_on": today, "how": "courrier"}})
        assert response.status_code == 200, response.text
        assert response.json()["status"] == "done"
        api.wait_task(journey_id, "assign_counsellor")
    smtp.assert_each_once()
