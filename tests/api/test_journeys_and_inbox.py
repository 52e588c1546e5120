"""The API over a real worker, a real Temporal dev server, a real SMTP server and SQLite."""
from __future__ import annotations

import asyncio
from datetime import date, timedelta

import pytest
from sqlmodel import func, select

from eaflow.store.db import session_scope
from eaflow.store.models import AuditEvent, Journey, MailOutbox, Person

pytestmark = pytest.mark.xdist_group("dev-server")

PRESCRIBER, MANAGER, C1, C2 = "prescripteur@test.fr", "manager@test.fr", "c1@test.fr", "c2@test.fr"
TODAY = date.today().isoformat()
# The prescription half a year ago: the journey's contacts, interviews and decisions of these tests lie
# after it (issue 18: nothing of a journey predates its prescription).
PRESCRIBED = (date.today() - timedelta(days=180)).isoformat()


def intake(**overrides) -> dict:
    body = {
        "person": {"first_name": "Léa", "last_name": "Martin", "birth_date": "1995-04-12",
                   "email": "lea.martin@example.fr", "phone": "0600000000", "legal_representative": None},
        "channel": "france_travail", "urgent": False, "prescribed_on": PRESCRIBED, "situation": "seeking",
        "rights": {"rqth_until": "2030-05-31", "rqth_permanent": False, "boe_category": None},
        "subsidiarity_reason": "Un appui durable dans l'emploi que le droit commun n'offre pas.",
        "other_support": None, "employer": None, "consent": {"given_on": PRESCRIBED, "by": "person"},
    }
    body.update(overrides)
    return body


def count(settings, model) -> int:
    with session_scope(settings.db_url) as session:
        return session.exec(select(func.count()).select_from(model)).one()


async def test_sign_in_and_problems(api):
    bad = await api.http.post("/api/v1/auth/token", data={"username": MANAGER, "password": "non"})
    assert bad.status_code == 401 and bad.headers["content-type"] == "application/problem+json"
    anonymous = await api.http.get("/api/v1/tasks")
    assert anonymous.status_code == 401 and anonymous.json()["status"] == 401
    me = await api.request("GET", "/api/v1/me", MANAGER)
    assert me.json()["role"] == "manager"
    forbidden = await api.request("POST", "/api/v1/journeys", C1, json=intake())
    assert forbidden.status_code == 403


async def test_r2_malformed_intake_is_422_and_writes_nothing(api, settings):
    body = intake(channel="pole_emploi")
    body["person"]["birth_date"] = "pas une date"
    response = await api.request("POST", "/api/v1/journeys", PRESCRIBER, json=body)
    assert response.status_code == 422
    problem = response.json()
    assert response.headers["content-type"] == "application/problem+json"
    assert {e["field"] for e in problem["errors"]} == {"channel", "person.birth_date"}
    assert count(settings, Journey) == 0 and count(settings, Person) == 0 and count(settings, AuditEvent) == 0


async def test_r1_ineligible_prescription_is_recorded_as_refused(api, settings, smtp_server):
    response = await api.request("POST", "/api/v1/journeys", PRESCRIBER,
                                 json=intake(rights={"rqth_until": "2020-01-01"}, consent=None))
    assert response.status_code == 201, response.text
    journey = response.json()
    assert journey["state"] == "refused"
    assert {r["rule"] for r in journey["refusal"]} == {"R1", "R3"}
    mails = await smtp_server.wait_for(1, timeout=10)
    assert mails[0]["To"] == PRESCRIBER and "pas retenue" in mails[0]["Subject"]


async def test_r2_r4_r7_r9_r21_r22_prescription_to_admission_through_the_inbox(api, settings, smtp_server, platform):
    created = await api.request("POST", "/api/v1/journeys", PRESCRIBER, json=intake(),
                                headers={"Idempotency-Key": "ft-2026-0001"})
    assert created.status_code == 201, created.text
    journey_id = created.json()["id"]
    repeated = await api.request("POST", "/api/v1/journeys", PRESCRIBER, json=intake(),
                                 headers={"Idempotency-Key": "ft-2026-0001"})
    assert repeated.status_code == 200 and repeated.json()["id"] == journey_id
    assert count(settings, Journey) == 1

    # R2: the platform staff inform the CDAPH of the SPE prescription.
    notify = await api.wait_task(journey_id, "notify_cdaph", MANAGER)
    detail = (await api.request("GET", f"/api/v1/tasks/{notify['id']}", MANAGER)).json()
    assert detail["outcome_schema"]["properties"]["how"]
    invalid = await api.request("POST", f"/api/v1/tasks/{notify['id']}/complete", MANAGER,
                                json={"outcome": {"informed_on": TODAY, "how": "pigeon"}})
    assert invalid.status_code == 422 and invalid.json()["errors"][0]["field"] == "outcome.how"
    not_mine = await api.request("POST", f"/api/v1/tasks/{notify['id']}/complete", C1,
                                 json={"outcome": {"informed_on": TODAY, "how": "courrier"}})
    assert not_mine.status_code == 404  # a counsellor does not see a manager's task
    outcome = {"outcome": {"informed_on": TODAY, "how": "courrier", "reference": "AR 1A 234"}}
    first, again = await asyncio.gather(
        api.request("POST", f"/api/v1/tasks/{notify['id']}/complete", MANAGER, json=outcome),
        api.request("POST", f"/api/v1/tasks/{notify['id']}/complete", MANAGER, json=outcome),
    )
    assert first.status_code == again.status_code == 200, (first.text, again.text)
    assert first.json()["status"] == "done" and first.json()["completed_at"] == again.json()["completed_at"]
    competing = await api.request("POST", f"/api/v1/tasks/{notify['id']}/complete", MANAGER,
                                  json={"outcome": {"informed_on": TODAY, "how": "mail"}})
    assert competing.status_code == 409

    # R7: a counsellor at capacity is refused with the rule; another one admits the person.
    assign = await api.wait_task(journey_id, "assign_counsellor", MANAGER)
    _fill_caseload(settings, platform, platform.counsellor2, 1)
    full = await api.request("POST", f"/api/v1/tasks/{assign['id']}/complete", MANAGER,
                             json={"outcome": {"counsellor_id": platform.counsellor2}})
    assert full.status_code == 422 and full.json()["rule"] == "R7", full.text
    admitted = await api.request("POST", f"/api/v1/tasks/{assign['id']}/complete", MANAGER,
                                 json={"outcome": {"counsellor_id": platform.counsellor}})
    assert admitted.status_code == 200, admitted.text

    # R9: the counsellor finds the shared evaluation in their inbox.
    evaluation = await api.wait_task(journey_id, "shared_evaluation", C1)
    mine = (await api.request("GET", "/api/v1/tasks", C1, params={"assignee": "me"})).json()["items"]
    assert [t["id"] for t in mine] == [evaluation["id"]]
    journey = (await api.request("GET", f"/api/v1/journeys/{journey_id}", C1)).json()
    assert journey["state"] == "admitted" and journey["counsellor"]["id"] == platform.counsellor
    assert journey["admitted_on"] == TODAY and journey["admission_delay_days"] == 180  # since the prescription
    assert (await api.request("GET", f"/api/v1/journeys/{journey_id}", C2)).status_code == 404
    done = await api.request("POST", f"/api/v1/tasks/{evaluation['id']}/complete", C1, json={"outcome": {
        "evaluated_on": TODAY, "wishes": "Rester en poste", "needs": "Adapter le poste",
        "resources": "Soutien de l'équipe"}})
    assert done.status_code == 200, done.text

    # R21, R22: the history tells who did what, and reads are traced.
    history = (await api.request("GET", f"/api/v1/journeys/{journey_id}/history", MANAGER)).json()["items"]
    actions = [e["action"] for e in history]
    for expected in ("prescription_received", "intake_accepted", "task_done", "cdaph_informed",
                     "counsellor_assigned", "admitted", "shared_evaluation_recorded", "journey_read"):
        assert expected in actions, (expected, actions)
    assigned = next(e for e in history if e["action"] == "counsellor_assigned")
    assert assigned["actor"]["role"] == "manager"
    with session_scope(settings.db_url) as session:
        kinds = {m.kind for m in session.exec(select(MailOutbox).where(MailOutbox.journey_id == journey_id))}
    assert {"cdaph_notification_needed", "entry_decision_person", "entry_decision_platform",
            "assignment_needed", "admission_person", "admission_counsellor"} <= kinds


async def test_r8_claim_assign_and_traced_change_of_counsellor(api, settings, platform):
    created = await api.request("POST", "/api/v1/journeys", MANAGER, json=intake(channel="cdaph"))
    journey_id = created.json()["id"]
    assign = await api.wait_task(journey_id, "assign_counsellor", MANAGER)
    claimed = await api.request("POST", f"/api/v1/tasks/{assign['id']}/claim", MANAGER)
    assert claimed.json()["assignee"]["id"] == platform.manager
    assert (await api.request("POST", f"/api/v1/tasks/{assign['id']}/unclaim", MANAGER)).json()["assignee"] is None
    wrong_role = await api.request("POST", f"/api/v1/tasks/{assign['id']}/assign", MANAGER,
                                   json={"assignee_id": platform.counsellor})
    assert wrong_role.status_code == 422
    await api.request("POST", f"/api/v1/tasks/{assign['id']}/complete", MANAGER,
                      json={"outcome": {"counsellor_id": platform.counsellor}})
    evaluation = await api.wait_task(journey_id, "shared_evaluation", C1)

    # R8: the change is traced and the open task follows the person to the new counsellor.
    missing_reason = await api.request("PUT", f"/api/v1/journeys/{journey_id}/counsellor", MANAGER,
                                       json={"counsellor_id": platform.counsellor2})
    assert missing_reason.status_code == 422
    changed = await api.request("PUT", f"/api/v1/journeys/{journey_id}/counsellor", MANAGER,
                                json={"counsellor_id": platform.counsellor2, "reason": "Départ en congé"})
    assert changed.status_code == 200, changed.text
    assert changed.json()["counsellor"]["id"] == platform.counsellor2
    moved = (await api.request("GET", f"/api/v1/tasks/{evaluation['id']}", C2)).json()
    assert moved["assignee"]["id"] == platform.counsellor2
    assert (await api.request("GET", f"/api/v1/tasks/{evaluation['id']}", C1)).status_code == 404
    history = (await api.request("GET", f"/api/v1/journeys/{journey_id}/history", MANAGER)).json()["items"]
    change = next(e for e in history if e["action"] == "counsellor_changed")
    assert change["detail"]["reason"] == "Départ en congé"
    assert change["detail"]["previous_counsellor_id"] == platform.counsellor


def _fill_caseload(settings, platform, counsellor_id: str, persons: int) -> None:
    """Put persons in a counsellor's caseload directly (the capacity check reads the store)."""
    with session_scope(settings.db_url) as session:
        for n in range(persons):
            session.add(Journey(id=f"j-filler-{counsellor_id}-{n}", platform_id=platform.platform_id,
                                state="accompaniment", channel="cdaph", situation="seeking",
                                prescribed_on=date.today(), counsellor_id=counsellor_id))


async def test_r22_who_sees_what(api, settings, platform):
    created = await api.request("POST", "/api/v1/journeys", PRESCRIBER, json=intake(channel="cdaph"))
    journey_id = created.json()["id"]
    own = (await api.request("GET", f"/api/v1/journeys/{journey_id}", PRESCRIBER)).json()
    assert own["state"] == "waiting_list" or own["state"] == "consent"
    assert "open_tasks" not in own  # the prescriber follows the outcome, not the file
    assert (await api.request("GET", "/api/v1/tasks", PRESCRIBER)).status_code == 403
    assert (await api.request("GET", f"/api/v1/journeys/{journey_id}/history", PRESCRIBER)).status_code == 403
    assert (await api.request("GET", f"/api/v1/journeys/{journey_id}", C1)).status_code == 404
    listed = (await api.request("GET", "/api/v1/journeys", MANAGER, params={"q": "mart"})).json()["items"]
    assert [j["id"] for j in listed] == [journey_id]
    assert (await api.request("GET", "/api/v1/journeys", C1)).json()["items"] == []


async def test_inbox_pages_follow_due_dates(api, settings):
    ids = []
    for n in range(3):
        created = await api.request("POST", "/api/v1/journeys", MANAGER, json=intake(channel="cdaph"))
        ids.append(created.json()["id"])
        await api.wait_task(ids[-1], "assign_counsellor", MANAGER)
    seen, cursor = [], None
    while True:
        params = {"kind": "assign_counsellor", "limit": 1, **({"cursor": cursor} if cursor else {})}
        page = (await api.request("GET", "/api/v1/tasks", MANAGER, params=params)).json()
        seen += page["items"]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert [t["journey_id"] for t in seen] == ids  # due dates in creation order
    dues = [t["due_at"] for t in seen]
    assert dues == sorted(dues)
    bad = await api.request("GET", "/api/v1/tasks", MANAGER, params={"cursor": "%%%"})
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "cursor"
    assert (await api.request("GET", "/api/v1/tasks", MANAGER, params={"overdue": "true"})).json()["items"] == []


async def test_r6_waiting_list_order(api, settings):
    from datetime import timedelta

    earlier = (date.today() - timedelta(days=30)).isoformat()
    order = [("seeking", earlier), ("leaving_esat", TODAY), ("employed", TODAY), ("about_to_be_hired", TODAY),
             ("employed", earlier)]
    ids = {}
    for situation, prescribed_on in order:
        body = intake(channel="cdaph", situation=situation, prescribed_on=prescribed_on)
        if situation == "employed":
            body["employer"] = {"name": "Mairie de Rennes", "kind": "public"}
        created = await api.request("POST", "/api/v1/journeys", MANAGER, json=body)
        ids[(situation, prescribed_on)] = created.json()["id"]
    for journey_id in ids.values():
        await api.wait_task(journey_id, "assign_counsellor", MANAGER)
    listed = (await api.request("GET", "/api/v1/waiting-list", MANAGER)).json()["items"]
    expected = [("employed", earlier), ("employed", TODAY), ("about_to_be_hired", TODAY),
                ("leaving_esat", TODAY), ("seeking", earlier)]
    assert [item["journey_id"] for item in listed] == [ids[key] for key in expected]
    assert listed[0]["priority_group"] == 1 and listed[0]["days_waiting"] == 30
    assert (await api.request("GET", "/api/v1/waiting-list", C1)).status_code == 403


async def test_r5_a_cdaph_orientation_without_subsidiarity_reason_is_accepted_and_noted(api, settings):
    """The statement of subsidiarity is the prescriber's (§III): a CDAPH decision without it is not
    refused, it is noted as missing; a SPE prescription without it still is."""
    created = await api.request("POST", "/api/v1/journeys", MANAGER,
                                json=intake(channel="cdaph", subsidiarity_reason=None))
    assert created.status_code == 201, created.text
    journey = created.json()
    assert journey["state"] != "refused" and not journey["refusal"], journey
    assert journey["subsidiarity_missing"] is True
    await api.wait_task(journey["id"], "assign_counsellor", MANAGER)  # on the waiting list, as any orientation
    history = (await api.request("GET", f"/api/v1/journeys/{journey['id']}/history", MANAGER)).json()["items"]
    [accepted] = [e for e in history if e["action"] == "intake_accepted"]
    assert accepted["detail"]["subsidiarity_missing"] is True

    spe = (await api.request("POST", "/api/v1/journeys", PRESCRIBER, json=intake(subsidiarity_reason="  "))).json()
    assert spe["state"] == "refused" and [r["rule"] for r in spe["refusal"]] == ["R5"]
    assert spe["subsidiarity_missing"] is False
    stated = (await api.request("POST", "/api/v1/journeys", MANAGER, json=intake(channel="cdaph"))).json()
    assert stated["state"] != "refused" and stated["subsidiarity_missing"] is False
