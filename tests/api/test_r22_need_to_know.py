"""R22: health and disability data only for those who need them, and every read of a person's file
traced — the lists (journeys, waiting list) one line per person shown, a task's view, the intensity;
a former counsellor no longer reads the file through the tasks they completed; the prescriber follows
the outcome, not the rights' detail nor the veille."""
from __future__ import annotations

from datetime import date, timedelta

import pytest

from eaflow.services.access import READ_ACTIONS
from eaflow.store.db import session_scope
from eaflow.store.models import AuditEvent, Journey
from eaflow.web.timeline import ACTION_LABELS
from tests.api.test_contacts import admitted_journey, rows
from tests.api.test_journeys_and_inbox import C1, C2, MANAGER, PRESCRIBER, TODAY, intake

pytestmark = pytest.mark.xdist_group("dev-server")


def reads(settings, action: str, *where) -> list[AuditEvent]:
    return rows(settings, AuditEvent, AuditEvent.action == action, *where)


async def waiting(api, **overrides) -> str:
    """A journey on the waiting list (a CDAPH orientation: no CDAPH to inform), its assignment open."""
    created = await api.request("POST", "/api/v1/journeys", MANAGER, json=intake(channel="cdaph", **overrides))
    assert created.status_code == 201, created.text
    journey_id = created.json()["id"]
    await api.wait_task(journey_id, "assign_counsellor", MANAGER)
    return journey_id


def test_r22_every_read_has_its_words_in_the_managers_journal():
    assert {"journey_listed", "task_read", "intensity_read", "waiting_list_read"} <= set(READ_ACTIONS)
    assert all(action in ACTION_LABELS for action in READ_ACTIONS)


async def test_r22_the_list_of_journeys_traces_one_read_per_journey_shown(api, settings, platform):
    first = await waiting(api)
    second = await waiting(api, person={**intake()["person"], "first_name": "Paul", "last_name": "Durand"})
    listed = await api.request("GET", "/api/v1/journeys", MANAGER)
    assert listed.status_code == 200 and {j["id"] for j in listed.json()["items"]} == {first, second}
    traced = reads(settings, "journey_listed")
    assert sorted(e.journey_id for e in traced) == sorted([first, second])
    assert {e.actor_id for e in traced} == {platform.manager}

    found = await api.request("GET", "/api/v1/journeys", MANAGER, params={"q": "durand"})
    assert [j["id"] for j in found.json()["items"]] == [second]
    assert len(reads(settings, "journey_listed", AuditEvent.journey_id == second)) == 2
    assert len(reads(settings, "journey_listed", AuditEvent.journey_id == first)) == 1  # not shown, not traced


async def test_r22_reading_a_task_is_traced(api, settings, platform):
    journey_id = await admitted_journey(api, platform)
    evaluation = await api.wait_task(journey_id, "shared_evaluation", C1)
    assert reads(settings, "task_read") == []
    shown = await api.request("GET", f"/api/v1/tasks/{evaluation['id']}", C1)
    assert shown.status_code == 200, shown.text
    [read] = reads(settings, "task_read")
    assert read.journey_id == journey_id and read.actor_id == platform.counsellor
    assert read.detail == {"task_id": evaluation["id"], "kind": "shared_evaluation"}


async def test_r22_reading_the_intensity_is_traced(api, settings, platform):
    journey_id = await admitted_journey(api, platform)
    shown = await api.request("GET", f"/api/v1/journeys/{journey_id}/intensity", C1)
    assert shown.status_code == 200, shown.text
    [read] = reads(settings, "intensity_read")
    assert read.journey_id == journey_id and read.actor_id == platform.counsellor
    assert (await api.request("GET", f"/api/v1/journeys/{journey_id}/intensity", C2)).status_code == 404
    assert len(reads(settings, "intensity_read")) == 1  # a refused read shows nothing and traces nothing


async def test_r22_the_waiting_list_traces_one_read_per_person_listed(api, settings, platform):
    ids = [await waiting(api), await waiting(api)]
    listed = await api.request("GET", "/api/v1/waiting-list", MANAGER)
    assert listed.status_code == 200 and sorted(i["journey_id"] for i in listed.json()["items"]) == sorted(ids)
    traced = reads(settings, "waiting_list_read")
    assert sorted(e.journey_id for e in traced) == sorted(ids)
    assert {e.actor_id for e in traced} == {platform.manager}
    # The managers' journal of the file says so, in French.
    history = (await api.request("GET", f"/api/v1/journeys/{ids[0]}/history", MANAGER)).json()["items"]
    assert "waiting_list_read" in [e["action"] for e in history]


async def test_r22_r8_a_former_counsellor_no_longer_reads_the_tasks_they_completed(api, settings, platform):
    journey_id = await admitted_journey(api, platform)
    evaluation = await api.wait_task(journey_id, "shared_evaluation", C1)
    done = await api.request("POST", f"/api/v1/tasks/{evaluation['id']}/complete", C1, json={"outcome": {
        "evaluated_on": TODAY, "wishes": "Rester en poste", "needs": "Adapter le poste au traitement",
        "resources": "Soutien de l'équipe"}})
    assert done.status_code == 200, done.text
    assert (await api.request("GET", f"/api/v1/tasks/{evaluation['id']}", C1)).status_code == 200  # still theirs

    changed = await api.request("PUT", f"/api/v1/journeys/{journey_id}/counsellor", MANAGER,
                                json={"counsellor_id": platform.counsellor2, "reason": "Départ en congé"})
    assert changed.status_code == 200, changed.text
    former = await api.request("GET", f"/api/v1/tasks/{evaluation['id']}", C1)
    assert former.status_code == 404 and former.headers["content-type"] == "application/problem+json"
    mine_done = (await api.request("GET", "/api/v1/tasks", C1, params={"status": "done"})).json()["items"]
    assert evaluation["id"] not in [t["id"] for t in mine_done]

    # The counsellor who follows the person now reads it; the inbox list carries no outcome.
    now = await api.request("GET", f"/api/v1/tasks/{evaluation['id']}", C2)
    assert now.status_code == 200 and now.json()["outcome"]["needs"] == "Adapter le poste au traitement"
    listed = (await api.request("GET", "/api/v1/tasks", C2, params={"status": "done"})).json()["items"]
    assert evaluation["id"] in [t["id"] for t in listed] and all("outcome" not in t for t in listed)
    # The open tasks followed the person (R8): C2's inbox works, C1's no longer holds them.
    assert await api.wait_task(journey_id, "draft_convention", C2)
    assert (await api.request("GET", "/api/v1/tasks", C1, params={"journey_id": journey_id})).json()["items"] == []


async def test_r22_the_prescriber_sees_the_outcome_not_the_boe_category_nor_the_veille(api, settings, platform):
    created = await api.request("POST", "/api/v1/journeys", PRESCRIBER, json=intake(
        channel="cdaph", rights={"rqth_until": None, "rqth_permanent": False, "boe_category": "2°"}))
    assert created.status_code == 201, created.text
    journey_id = created.json()["id"]
    assert "boe_category" not in created.json()["rights"]
    await api.wait_task(journey_id, "assign_counsellor", MANAGER)
    # The person is admitted and later put in veille (its course is tested in tests/workflow/): the view
    # reads the store.
    with session_scope(settings.db_url) as session:
        journey = session.get(Journey, journey_id)
        journey.state, journey.veille_until = "veille", date.today() + timedelta(days=90)
        journey.counsellor_id, journey.admitted_on = platform.counsellor, date.today()
        session.add(journey)

    own = await api.request("GET", f"/api/v1/journeys/{journey_id}", PRESCRIBER)
    assert own.status_code == 200, own.text
    view = own.json()
    assert view["rights"] == {"rqth_until": None, "rqth_permanent": False, "in_force": True}
    assert "veille" not in view and view["state"] == "accompaniment"
    assert (view["outcome"], view["outcome_label"]) == ("admitted", "Admise")
    for private in ("open_tasks", "employment", "intensity", "next_interview_due", "last_contact_on",
                    "cdaph_notification"):
        assert private not in view
    assert "2°" not in own.text and "veille" not in own.text.lower()
    [listed] = (await api.request("GET", "/api/v1/journeys", PRESCRIBER)).json()["items"]
    assert listed["rights"] == view["rights"] and "veille" not in listed

    # The platform's staff still see the file as it is.
    staff = (await api.request("GET", f"/api/v1/journeys/{journey_id}", MANAGER)).json()
    assert staff["rights"]["boe_category"] == "2°" and staff["veille"] is not None and staff["state"] == "veille"


async def test_r22_the_prescriber_still_reads_why_a_prescription_was_not_retained(api, settings):
    created = await api.request("POST", "/api/v1/journeys", PRESCRIBER,
                                json=intake(rights={"rqth_until": "2020-01-01"}, consent=None))
    journey_id = created.json()["id"]
    view = (await api.request("GET", f"/api/v1/journeys/{journey_id}", PRESCRIBER)).json()
    assert view["state"] == "refused" and view["outcome"] == "refused"
    assert {r["rule"] for r in view["refusal"]} == {"R1", "R3"} and all(r["detail"] for r in view["refusal"])
