"""R22 on the real stack: what the journeys hand to Temporal is stored encrypted.

A shared evaluation's wishes and needs (health data, often) are a task's outcome: they travel to the
journey as an update argument and are kept in its snapshot. The Temporal dev server stores them; its
UI shows them to anyone who reaches it. Here the real `eaflow api` and `eaflow worker` processes work
through a journey as usual, and the history as the server stores it holds none of those words.
"""
from __future__ import annotations

import asyncio
from datetime import date

import pytest

from tests.faults.conftest import C1, MANAGER, QUIET_POLICY, intake
from eaflow.workflows.journey import JourneyWorkflow

pytestmark = pytest.mark.xdist_group("faults")

WISHES = "Souhaite reprendre en boulangerie"
NEEDS = "Fatigue liée au traitement en cours"


def test_r22_task_outcomes_reach_the_journey_but_are_stored_encrypted(stack_factory):
    stack = stack_factory(QUIET_POLICY)
    stack.start_temporal()
    stack.start_worker()
    api = stack.start_api()

    journey_id = api.create_journey(intake(0, "cdaph"), as_=MANAGER)["id"]
    assign = api.wait_task(journey_id, "assign_counsellor")
    done = api.request("POST", f"/api/v1/tasks/{assign['id']}/complete", MANAGER,
                       json={"outcome": {"counsellor_id": stack.platform.counsellor}})
    assert done.status_code == 200, done.text
    evaluation = api.wait_task(journey_id, "shared_evaluation", as_=C1)
    done = api.request("POST", f"/api/v1/tasks/{evaluation['id']}/complete", C1, json={"outcome": {
        "evaluated_on": date.today().isoformat(), "wishes": WISHES, "needs": NEEDS, "resources": "Permis B"}})
    assert done.status_code == 200, done.text

    # The journey read the outcome (it went on to the convention) …
    api.wait_task(journey_id, "draft_convention", as_=C1)

    async def snapshot():
        return await (await stack.temporal_client()).get_workflow_handle(journey_id).query(JourneyWorkflow.snapshot)

    assert asyncio.run(snapshot()).evaluation_done

    # … while the server holds only ciphertext: no word of it in any event; the journey's input and
    # every update's arguments encrypted (what stays plain is the SDK's own bookkeeping: patch and
    # local-activity markers, search attributes).
    [events] = stack.histories([journey_id]).values()
    stored = b"".join(event.SerializeToString() for event in events)
    for secret in (WISHES, NEEDS, "Permis B", stack.platform.counsellor):
        assert secret.encode() not in stored, secret
    started = events[0].workflow_execution_started_event_attributes.input.payloads
    updates = [p for e in events if e.HasField("workflow_execution_update_accepted_event_attributes")
               for p in e.workflow_execution_update_accepted_event_attributes.accepted_request.input.args.payloads]
    assert len(updates) >= 2  # the two completions (and the intake's answer)
    assert {p.metadata["encoding"] for p in [*started, *updates]} == {b"binary/encrypted"}
