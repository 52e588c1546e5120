"""The operators of a platform (issue 13): co-porteurs under a chef de file. A person belongs to the
operator of their counsellor; a co-porteur's managers see their operator's persons and the waiting list,
designate only their counsellors, and read their operator's indicators; the chef de file's managers see
the whole platform and every operator's figures, which add up to the consolidated report."""
from __future__ import annotations

from datetime import date

import pytest

from eaflow import accounts
from eaflow.store.db import session_scope
from tests.api.test_journeys_and_inbox import intake
from tests.conftest import PASSWORD

pytestmark = pytest.mark.xdist_group("dev-server")

ADMIN, MANAGER, MANAGER_B, COUNSELLOR_B = "admin@test.fr", "manager@test.fr", "resp-b@test.fr", "cons-b@test.fr"


async def add_operator(api, settings, platform) -> str:
    """A co-porteur with its own manager and counsellor, added the way an administrator does."""
    with session_scope(settings.db_url) as session:
        accounts.create_user(session, ADMIN, "admin", PASSWORD, platform_id=platform.platform_id)
    added = await api.request("POST", "/api/v1/operators", ADMIN, json={"name": "Handi-Emploi Sud"})
    assert added.status_code == 201, added.text
    operator_id = added.json()["id"]
    for email, role, fte in ((MANAGER_B, "manager", None), (COUNSELLOR_B, "counsellor", 1.0)):
        created = await api.request("POST", "/api/v1/users", ADMIN, json={
            "email": email, "name": email.split("@")[0], "role": role, "fte": fte, "operator": operator_id})
        assert created.status_code == 201, created.text
        assert created.json()["operator"] == operator_id
        with session_scope(settings.db_url) as session:  # they chose their password already
            user = accounts.find_user_by_email(session, email)
            user.password_hash = accounts.hash_password(PASSWORD)
            session.add(user)
    return operator_id


def user_id(settings, email: str) -> str:
    with session_scope(settings.db_url) as session:
        return accounts.find_user_by_email(session, email).id


async def assigned(api, counsellor_id: str, **overrides) -> str:
    created = await api.request("POST", "/api/v1/journeys", MANAGER, json=intake(channel="cdaph", **overrides))
    assert created.status_code == 201, created.text
    journey_id = created.json()["id"]
    task = await api.wait_task(journey_id, "assign_counsellor", MANAGER)
    done = await api.request("POST", f"/api/v1/tasks/{task['id']}/complete", MANAGER,
                             json={"outcome": {"counsellor_id": counsellor_id}})
    assert done.status_code == 200, done.text
    await admitted(api, journey_id)
    return journey_id


async def admitted(api, journey_id: str) -> None:
    """The admission projected (the designation is written first, the state just after)."""
    import asyncio

    for _ in range(200):
        if (await api.request("GET", f"/api/v1/journeys/{journey_id}", MANAGER)).json()["state"] == "admitted":
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"{journey_id} not admitted")


async def test_operators_each_manager_answers_for_their_operator_the_chef_de_file_for_all(api, settings, platform):
    listed = await api.request("GET", "/api/v1/operators", MANAGER)
    assert [(o["id"], o["name"], o["is_lead"]) for o in listed.json()] == [
        ("op-35", "Association Trajectoires 35", True)]  # the platform's creation made its chef de file
    operator_b = await add_operator(api, settings, platform)
    duplicate = await api.request("POST", "/api/v1/operators", ADMIN, json={"name": "handi-emploi sud"})
    assert duplicate.status_code == 422 and duplicate.json()["errors"][0]["field"] == "name"
    refused = await api.request("POST", "/api/v1/operators", MANAGER, json={"name": "Autre"})
    assert refused.status_code == 403

    counsellor_b = user_id(settings, COUNSELLOR_B)
    of_lead = await assigned(api, platform.counsellor)
    of_b = await assigned(api, counsellor_b, person={
        "first_name": "Paul", "last_name": "Durand", "birth_date": "1990-01-01", "email": None, "phone": None,
        "legal_representative": None})
    waiting = (await api.request("POST", "/api/v1/journeys", MANAGER, json=intake(channel="cdaph"))).json()["id"]
    waiting_task = await api.wait_task(waiting, "assign_counsellor", MANAGER)

    # The co-porteur's manager: their operator's person and the one still waiting, not the chef de file's.
    seen = {j["id"] for j in (await api.request("GET", "/api/v1/journeys", MANAGER_B)).json()["items"]}
    assert of_b in seen and waiting in seen and of_lead not in seen
    assert (await api.request("GET", f"/api/v1/journeys/{of_lead}", MANAGER_B)).status_code == 404
    assert (await api.request("GET", f"/api/v1/journeys/{of_b}", MANAGER_B)).status_code == 200
    tasks = (await api.request("GET", "/api/v1/tasks", MANAGER_B, params={"journey_id": of_lead})).json()["items"]
    assert tasks == []
    # The chef de file's manager sees everyone.
    seen = {j["id"] for j in (await api.request("GET", "/api/v1/journeys", MANAGER)).json()["items"]}
    assert {of_lead, of_b, waiting} <= seen

    # They designate their own counsellors only; the refusal names the field and writes nothing.
    other = await api.request("POST", f"/api/v1/tasks/{waiting_task['id']}/complete", MANAGER_B,
                              json={"outcome": {"counsellor_id": platform.counsellor}})
    assert other.status_code == 422, other.text
    assert other.json()["errors"][0]["field"] == "outcome.counsellor_id"
    assert "autre opérateur" in other.json()["detail"]
    still = await api.request("GET", f"/api/v1/journeys/{waiting}", MANAGER)
    assert still.json()["counsellor"] is None and still.json()["state"] == "waiting_list"
    ok = await api.request("POST", f"/api/v1/tasks/{waiting_task['id']}/complete", MANAGER_B,
                           json={"outcome": {"counsellor_id": counsellor_b}})
    assert ok.status_code == 200, ok.text
    await admitted(api, waiting)

    # Indicators: each operator's part, and the platform's that adds them up.
    period = {"from": "2020-01-01", "to": "2020-12-31"}
    today = {"from": date.today().isoformat(), "to": date.today().isoformat()}  # admitted today
    whole = (await api.request("GET", "/api/v1/reports/indicators", MANAGER, params=today)).json()
    part_b = (await api.request("GET", "/api/v1/reports/indicators", MANAGER,
                                params={**today, "operator": operator_b})).json()
    part_lead = (await api.request("GET", "/api/v1/reports/indicators", MANAGER,
                                   params={**today, "operator": "op-35"})).json()
    assert whole["operator"] is None and part_b["operator"] == operator_b
    assert whole["activity"]["new_entries"]["total"] == 3
    assert part_b["activity"]["new_entries"]["total"] == 2 and part_lead["activity"]["new_entries"]["total"] == 1
    assert part_b["resources"]["counsellors"]["count"] == 1
    assert part_lead["resources"]["counsellors"]["count"] == 2
    # The co-porteur's manager reads their operator's by default, never another operator's.
    own = (await api.request("GET", "/api/v1/reports/indicators", MANAGER_B, params=today)).json()
    assert own["operator"] == operator_b and own["activity"]["new_entries"]["total"] == 2
    other = await api.request("GET", "/api/v1/reports/indicators", MANAGER_B, params={**period, "operator": "op-35"})
    assert other.status_code == 403
    unknown = await api.request("GET", "/api/v1/reports/indicators", MANAGER, params={**period, "operator": "op-x"})
    assert unknown.status_code == 422 and unknown.json()["errors"][0]["field"] == "operator"
