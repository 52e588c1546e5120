"""Issue 19: the records compared with the journeys and mended (eaflow/reconcile.py), on a real worker,
Temporal dev server and database. Each difference is made as a crash leaves it: rows written without
their workflow, a workflow without its rows, a completion in the records that the journey never got."""
from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import datetime, timezone

import pytest
from sqlmodel import select

from eaflow import reconcile
from eaflow.activities import projections
from eaflow.intake import IntakeRequest, journey_input, new_journey_id, record_prescription, start_journey
from eaflow.policy import Policy
from eaflow.services.inbox import outcome_hash
from eaflow.store.db import session_scope
from eaflow.store.models import AuditEvent, Journey, Task, TaskCompletion
from eaflow.workflows.journey import JourneyWorkflow
from eaflow.workflows.types import TaskClosure, TaskSpec
from tests.api.test_journeys_and_inbox import MANAGER, PRESCRIBER, intake

pytestmark = pytest.mark.xdist_group("dev-server")


@pytest.fixture
def db_backend() -> str:
    return "sqlite"


async def check(local_env, settings, **kwargs) -> reconcile.Report:
    return await reconcile.check(local_env.client, settings, settle=0.5, **kwargs)


async def found(local_env, settings, **kwargs) -> reconcile.Report:
    """A comparison that must find the difference made on purpose: a journey with a step in flight is
    left out of a comparison (not queried), so on a loaded machine it is looked for again a few times."""
    for _ in range(20):
        report = await check(local_env, settings, **kwargs)
        if report.differences:
            return report
        await asyncio.sleep(0.3)
    return report


def journey(settings, journey_id: str) -> Journey:
    with session_scope(settings.db_url) as session:
        return session.get(Journey, journey_id)


def reconciled(settings, journey_id: str) -> list[dict]:
    with session_scope(settings.db_url) as session:
        return [e.detail for e in session.exec(select(AuditEvent).where(
            AuditEvent.journey_id == journey_id, AuditEvent.action == "record_reconciled")).all()]


async def waiting(api, local_env, settings, platform) -> str:
    """A CDAPH orientation on the waiting list, its assignment open."""
    created = await api.request("POST", "/api/v1/journeys", MANAGER, json=intake(channel="cdaph"))
    assert created.status_code == 201, created.text
    journey_id = created.json()["id"]
    await api.wait_task(journey_id, "assign_counsellor", MANAGER)
    return journey_id


async def test_an_intake_recorded_without_its_workflow_starts_from_its_records(api, local_env, settings, platform):
    body = IntakeRequest.model_validate(intake(channel="cdaph"))
    with session_scope(settings.db_url) as session:  # the API died between its record and the start
        record_prescription(session, "j-cut-at-intake", body, platform.platform_id, platform.prescriber)

    looked = await found(local_env, settings)
    assert [(d.journey_id, d.kind, d.repaired) for d in looked.differences] == [
        ("j-cut-at-intake", "intake_without_workflow", False)]
    assert journey(settings, "j-cut-at-intake").state == "prescribed"  # without --repair nothing changes

    mended = await found(local_env, settings, repair=True)
    assert [(d.kind, d.repaired) for d in mended.differences] == [("intake_without_workflow", True)]
    await api.wait_task("j-cut-at-intake", "assign_counsellor", MANAGER)  # the journey runs: the waiting list
    assert journey(settings, "j-cut-at-intake").state == "waiting_list"
    assert (await check(local_env, settings)).differences == []


async def test_the_same_intake_again_starts_a_journey_cut_at_intake(api, local_env, settings, platform):
    """A prescriber whose intake got no answer (the API died between its record and the start) sends it
    again with the same Idempotency-Key: the journey recorded the first time starts now."""
    cut_id = new_journey_id(platform.prescriber, "tentative-1")
    with session_scope(settings.db_url) as session:
        record_prescription(session, cut_id, IntakeRequest.model_validate(intake()), platform.platform_id,
                            platform.prescriber)
    again = await api.request("POST", "/api/v1/journeys", PRESCRIBER, json=intake(),
                              headers={"Idempotency-Key": "tentative-1"})
    assert again.status_code == 200 and again.json()["id"] == cut_id, again.text
    await api.wait_task(cut_id, "assign_counsellor", MANAGER)
    assert (await local_env.client.get_workflow_handle(cut_id).describe()).status.name == "RUNNING"


async def test_a_workflow_without_records_is_terminated(api, local_env, settings, platform):
    body = IntakeRequest.model_validate(intake(channel="cdaph"))
    inp = journey_input("j-no-records", platform.platform_id, body, Policy())
    handle = await local_env.client.start_workflow(JourneyWorkflow.run, inp, id="j-no-records",
                                                   task_queue=settings.task_queue)
    mended = await found(local_env, settings, repair=True)
    assert [(d.journey_id, d.kind, d.repaired) for d in mended.differences] == [
        ("j-no-records", "workflow_without_records", True)]
    assert (await handle.describe()).status.name == "TERMINATED"


async def test_a_completion_the_journey_never_received_is_handed_to_it(api, local_env, settings, platform):
    """Before updates were made durable first, a crash could leave the assignment done in the records and
    still open in the journey: the check hands the recorded completion to the journey, which admits."""
    journey_id = await waiting(api, local_env, settings, platform)
    outcome = {"counsellor_id": platform.counsellor}
    with session_scope(settings.db_url) as session:
        task = session.exec(select(Task).where(Task.journey_id == journey_id,
                                               Task.kind == "assign_counsellor")).one()
        task_id = task.id
        projections.close_task(session, TaskClosure(
            task_id=task_id, journey_id=journey_id, status="done", outcome=outcome,
            outcome_hash=outcome_hash("assign_counsellor", outcome), completed_by=platform.manager,
            completed_at=datetime.now(timezone.utc)))

    mended = await found(local_env, settings, journey_ids=[journey_id], repair=True)
    assert [(d.kind, d.task_id, d.repaired) for d in mended.differences] == [
        ("task_closed_in_records_only", task_id, True)]
    snapshot = await local_env.client.get_workflow_handle(journey_id).query(JourneyWorkflow.snapshot)
    assert snapshot.tasks[task_id].status == "done" and snapshot.counsellor_id == platform.counsellor
    await api.wait_task(journey_id, "shared_evaluation", "c1@test.fr")  # R9: admitted, as the manager wanted
    assert (await check(local_env, settings, journey_ids=[journey_id])).differences == []


async def test_a_completion_the_journey_refuses_now_reopens_the_task(api, local_env, settings, platform):
    """The recorded assignment named a counsellor who has since become full (R7): the journey refuses it,
    so the task is open again in the records, and the manager assigns again."""
    journey_id = await waiting(api, local_env, settings, platform)
    with session_scope(settings.db_url) as session:
        task_id = session.exec(select(Task.id).where(Task.journey_id == journey_id,
                                                     Task.kind == "assign_counsellor")).one()
    other = await waiting(api, local_env, settings, platform)
    outcome = {"counsellor_id": platform.counsellor2}  # 0.05 FTE: one person at most (R7)
    other_task = await api.wait_task(other, "assign_counsellor", MANAGER)
    done = await api.request("POST", f"/api/v1/tasks/{other_task['id']}/complete", MANAGER, json={"outcome": outcome})
    assert done.status_code == 200, done.text
    with session_scope(settings.db_url) as session:
        projections.close_task(session, TaskClosure(
            task_id=task_id, journey_id=journey_id, status="done", outcome=outcome,
            outcome_hash=outcome_hash("assign_counsellor", outcome), completed_by=platform.manager,
            completed_at=datetime.now(timezone.utc)))

    mended = await found(local_env, settings, journey_ids=[journey_id], repair=True)
    [difference] = mended.differences
    assert difference.kind == "task_closed_in_records_only" and difference.repaired, difference.line()
    assert "task open again" in difference.note, difference.note
    with session_scope(settings.db_url) as session:
        task = session.get(Task, task_id)
        assert task.status == "open" and task.outcome is None and session.get(TaskCompletion, task_id) is None
    assert reconciled(settings, journey_id)[0]["what"] == "task_reopened"
    assert (await check(local_env, settings, journey_ids=[journey_id])).differences == []


async def test_records_that_lag_or_stray_are_set_to_the_journeys(api, local_env, settings, platform):
    journey_id = await waiting(api, local_env, settings, platform)
    with session_scope(settings.db_url) as session:
        row = session.get(Journey, journey_id)
        row.state = "admitted"  # a state the journey is not in
        session.add(row)
        projections.open_task(session, TaskSpec(  # a task the journey does not wait on
            id=f"{journey_id}-t99", journey_id=journey_id, platform_id=platform.platform_id, kind="shared_evaluation",
            title="Réaliser l'évaluation partagée", assignee_id=None, candidate_role="counsellor",
            created_at=datetime.now(timezone.utc), due_at=None))

    looked = await found(local_env, settings, journey_ids=[journey_id])
    assert sorted((d.kind, d.mendable) for d in looked.differences) == [
        ("state", True), ("task_open_in_records_only", True)]
    assert (await found(local_env, settings, journey_ids=[journey_id], repair=True)).repaired == 2
    assert journey(settings, journey_id).state == "waiting_list"
    with session_scope(settings.db_url) as session:
        assert session.get(Task, f"{journey_id}-t99").status == "cancelled"
    assert {d["what"] for d in reconciled(settings, journey_id)} == {"state", "task_closed"}
    assert (await check(local_env, settings, journey_ids=[journey_id])).differences == []


async def test_the_cli_says_each_difference_and_exits_1_while_one_is_left(local_env, settings, platform):
    """`eaflow journeys check` as an operator runs it, beside a worker with the product's own client
    (its payloads encrypted, as the CLI's are): a line per difference, a summary, exit 1 while one is left."""
    import os
    import subprocess
    import sys

    from eaflow.temporal_client import connect
    from eaflow.worker import build_worker

    body = IntakeRequest.model_validate(intake(channel="cdaph"))
    with session_scope(settings.db_url) as session:
        record_prescription(session, "j-cli", body, platform.platform_id, platform.prescriber)
    address = local_env.client.service_client.config.target_host
    settings = replace(settings, temporal_address=address)
    env = {**os.environ, "EAFLOW_DATABASE_URL": settings.db_url, "EAFLOW_TASK_QUEUE": settings.task_queue,
           "EAFLOW_TEMPORAL_ADDRESS": address, "EAFLOW_DATA_DIR": str(settings.data_dir)}

    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "eaflow.cli", "journeys", "check", *args],
                              capture_output=True, text=True, env=env, timeout=120)

    async with build_worker(await connect(settings), settings):
        looked = await asyncio.to_thread(run, "j-cli")
        assert looked.returncode == 1, looked.stdout + looked.stderr
        assert "j-cli: intake_without_workflow" in looked.stdout and "to repair" in looked.stdout
        assert "1 journey(s) checked, 1 difference(s), 0 repaired, 1 left" in looked.stdout
        mended = await asyncio.to_thread(run, "--repair", "j-cli")
        assert mended.returncode == 0, mended.stdout + mended.stderr
        assert "1 repaired, 0 left" in mended.stdout
        for _ in range(100):
            if journey(settings, "j-cli").state == "waiting_list":
                break
            await asyncio.sleep(0.1)
        assert journey(settings, "j-cli").state == "waiting_list"


async def test_start_journey_again_finds_the_running_one(api, local_env, settings, platform):
    body = IntakeRequest.model_validate(intake(channel="cdaph"))
    with session_scope(settings.db_url) as session:
        record_prescription(session, "j-twice", body, platform.platform_id, platform.prescriber)
    inp = journey_input("j-twice", platform.platform_id, body, Policy())
    first, second = await asyncio.gather(*(start_journey(local_env.client, settings.task_queue, inp) for _ in range(2)))
    assert first.state == second.state
    runs = [e async for e in local_env.client.list_workflows('WorkflowId="j-twice"')]
    assert len(runs) == 1
