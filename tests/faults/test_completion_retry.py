"""A client repeating a task completion after a timeout (issue 3, "Faults survived").

The worker is frozen (SIGSTOP) so that the completion cannot be answered in time: the client gives
up on its side while the API goes on waiting for the workflow. The client sends the same completion
again, the worker resumes, and later sends it a third time: every answer is 200 with the same
result, the workflow applied the update once, and the database holds one effect.
"""
from __future__ import annotations

import json
import signal
import threading
import time

import httpx
import pytest
from sqlmodel import func, select
from temporalio.api.enums.v1 import EventType

from eaflow.store.db import session_scope
from eaflow.store.models import AuditEvent, CounsellorAssignment, Journey, Task
from tests.faults.conftest import MANAGER, QUIET_POLICY, intake

pytestmark = pytest.mark.xdist_group("faults")

RESULT_FIELDS = ("id", "status", "completed_by", "completed_at", "outcome")


def test_a_completion_repeated_after_a_client_timeout_has_one_effect(stack_factory):
    stack = stack_factory(QUIET_POLICY)
    stack.start_temporal()
    worker = stack.start_worker()
    api = stack.start_api()
    counsellor = stack.platform.counsellor

    journey_id = api.create_journey(intake(0, "cdaph"), as_=MANAGER)["id"]
    task = api.wait_task(journey_id, "assign_counsellor")
    path = f"/api/v1/tasks/{task['id']}/complete"
    body = {"outcome": {"counsellor_id": counsellor}}
    headers = api.login(MANAGER)

    worker.signal(signal.SIGSTOP)
    try:
        # 1. The client gives up before the answer (the API keeps working on it).
        with pytest.raises(httpx.TimeoutException):
            api.http.post(path, json=body, headers=headers, timeout=httpx.Timeout(1.5))

        # 2. It sends the same completion again, while the first is still in flight.
        answers: list[httpx.Response] = []
        retry = threading.Thread(target=lambda: answers.append(
            api.http.post(path, json=body, headers=headers, timeout=60)))
        retry.start()
        time.sleep(1.0)
        assert not answers, "answered although no worker could run the workflow"
    finally:
        worker.signal(signal.SIGCONT)
    retry.join(timeout=60)
    assert answers and answers[0].status_code == 200, answers and answers[0].text
    second = answers[0].json()

    # 3. And once more, after everything settled: the stored result, not a second completion.
    third_response = api.http.post(path, json=body, headers=headers, timeout=30)
    assert third_response.status_code == 200, third_response.text
    third = third_response.json()
    assert second["status"] == "done"
    assert {k: second[k] for k in RESULT_FIELDS} == {k: third[k] for k in RESULT_FIELDS}
    assert second["completed_by"]["id"] == stack.platform.manager
    assert second["outcome"] == {"counsellor_id": counsellor}

    # A different outcome now is a conflict, not a second effect.
    other = api.http.post(path, json={"outcome": {"counsellor_id": stack.platform.counsellor2}}, headers=headers)
    assert other.status_code == 409 and other.headers["content-type"] == "application/problem+json", other.text

    api.wait_task(journey_id, "shared_evaluation", as_="c1@test.fr")
    with session_scope(stack.db_url) as session:
        def count(model, *where) -> int:
            return session.exec(select(func.count()).select_from(model).where(*where)).one()

        assert count(AuditEvent, AuditEvent.journey_id == journey_id, AuditEvent.action == "task_done") == 1
        assert count(AuditEvent, AuditEvent.journey_id == journey_id, AuditEvent.action == "counsellor_assigned") == 1
        assert count(AuditEvent, AuditEvent.journey_id == journey_id, AuditEvent.action == "admitted") == 1
        assert count(CounsellorAssignment, CounsellorAssignment.journey_id == journey_id) == 1
        assert count(Task, Task.journey_id == journey_id, Task.kind == "shared_evaluation") == 1
        journey = session.get(Journey, journey_id)
        assert (journey.state, journey.counsellor_id) == ("admitted", counsellor)

    # Temporal's record: one update accepted, one assignment activity.
    [events] = stack.histories([journey_id]).values()
    accepted = [e for e in events if e.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED
                and e.workflow_execution_update_accepted_event_attributes.accepted_request.input.name
                == "complete_task"]
    assert len(accepted) == 1
    assigned = [e for e in events if e.event_type == EventType.EVENT_TYPE_MARKER_RECORDED
                and e.marker_recorded_event_attributes.marker_name == "core_local_activity"
                and json.loads(e.marker_recorded_event_attributes.details["data"].payloads[0].data)["activity_type"]
                == "assign_counsellor"]  # a database step: a local activity, recorded as a marker
    assert len(assigned) == 1
