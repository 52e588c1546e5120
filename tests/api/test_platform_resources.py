"""R20 group 2 through the API: `GET/PUT /api/v1/platform-resources/{year}` (managers; the chef de
file writes), its refusals (precise problem+json, nothing written), its audit line, and the declared
figures in `GET /api/v1/reports/indicators`. No Temporal here: the routes do not touch it."""
from __future__ import annotations

from datetime import date

import httpx
import pytest
from sqlmodel import select

from eaflow import accounts
from eaflow.app import create_app
from eaflow.store.db import session_scope
from eaflow.store.models import AuditEvent, Operator
from eaflow.store.resources import ResourceQuarter, ResourceTraining, ResourceYear
from tests.api.conftest import Api
from tests.conftest import PASSWORD

MANAGER, COUNSELLOR, PRESCRIBER = "manager@test.fr", "c1@test.fr", "prescripteur@test.fr"
URL = "/api/v1/platform-resources/2026"
DECLARATION = {
    "quarters": {"1": {"total_fte": 5, "fte_by_mission": {"accompaniment": 3.5, "coordination": 0.75,
                                                          "management": 0.5, "partnerships": 0.25},
                       "title_holders": 2, "title_in_training": 1},
                 "2": None},
    "funding": {"state": 120000, "agefiph": 60000, "fiphp": 15000.5, "other": 4999.5,
                "other_label": "Conseil départemental"},
    "trainings": [{"status": "delivered", "nature": "Job coaching", "count": 2},
                  {"status": "planned", "nature": "Accueil TSA", "count": 4}],
}


@pytest.fixture
async def api(settings, platform):
    app = create_app(settings)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test", timeout=30) as http:
        yield Api(http)


def stored(settings) -> tuple[int, int, int, int]:
    """Rows of the three tables, and the audit lines of declarations."""
    with session_scope(settings.db_url) as session:
        return (len(session.exec(select(ResourceQuarter)).all()), len(session.exec(select(ResourceYear)).all()),
                len(session.exec(select(ResourceTraining)).all()),
                len(session.exec(select(AuditEvent).where(AuditEvent.action == "platform_resources_declared")).all()))


async def test_r20_a_manager_declares_the_year_and_reads_it_back_in_the_indicators(api, settings, platform):
    empty = await api.request("GET", URL, MANAGER)
    assert empty.status_code == 200
    assert empty.json() == {"year": 2026, "quarters": {"1": None, "2": None, "3": None, "4": None},
                            "funding": None, "trainings": None, "declared_at": None}

    saved = await api.request("PUT", URL, MANAGER, json=DECLARATION)
    assert saved.status_code == 200, saved.text
    body = saved.json()
    assert body["quarters"]["1"]["fte_by_mission"]["coordination"] == 0.75 and body["quarters"]["2"] is None
    assert body["funding"] == {"state": 120000, "agefiph": 60000, "fiphp": 15000.5, "other": 4999.5,
                               "other_label": "Conseil départemental"}
    assert (await api.request("GET", URL, MANAGER)).json() == body
    assert stored(settings) == (1, 1, 2, 1)
    with session_scope(settings.db_url) as session:
        audit = session.exec(select(AuditEvent).where(AuditEvent.action == "platform_resources_declared")).one()
        assert audit.actor_id == platform.manager and audit.detail["year"] == 2026
        assert audit.detail["changes"]["funding"][0] is None

    same = await api.request("PUT", URL, MANAGER, json=body)  # read-only keys come back harmlessly
    assert same.status_code == 200 and stored(settings)[3] == 1  # nothing changed: no new audit line

    report = await api.request("GET", "/api/v1/reports/indicators", MANAGER,
                               params={"from": "2026-01-01", "to": "2026-03-31"})
    resources = report.json()["resources"]
    assert resources["total_fte"] == 5.0 and resources["accompaniment_fte"]["declared"] == 3.5
    assert resources["time_split"]["accompaniment"]["percent"] == 70.0
    assert resources["funding"]["percent"] == {"state": 60.0, "agefiph": 30.0, "fiphp": 7.5, "other": 2.5}
    assert resources["trainings"]["planned"]["count"] == 4 and resources["title_holders"]["holders"] == 2
    csv = await api.request("GET", "/api/v1/reports/indicators", MANAGER,
                            params={"from": "2026-04-01", "to": "2026-06-30", "format": "csv"})
    assert "resources;total_fte;Nombre total d'ETP affectés à la plateforme : non déclaré;\r\n" in csv.text  # Q2
    assert "Financements mobilisés : État (euros);120000,0" in csv.text

    # A new PUT replaces the year: the trainings and the funding withdrawn are "non déclaré" again.
    replaced = await api.request("PUT", URL, MANAGER, json={"quarters": DECLARATION["quarters"]})
    assert replaced.status_code == 200 and replaced.json()["funding"] is None
    assert stored(settings) == (1, 0, 0, 2)


async def test_r20_an_invalid_declaration_is_refused_field_by_field_and_writes_nothing(api, settings, platform):
    assert (await api.request("PUT", URL, MANAGER, json=DECLARATION)).status_code == 200
    before = (await api.request("GET", URL, MANAGER)).json()
    wrong = {**DECLARATION,
             "quarters": {"1": {**DECLARATION["quarters"]["1"], "total_fte": 6}},
             "funding": {**DECLARATION["funding"], "other_label": ""},
             "trainings": [{"status": "delivered", "nature": "Job coaching", "count": "deux"}]}
    refused = await api.request("PUT", URL, MANAGER, json=wrong)
    assert refused.status_code == 422
    assert refused.headers["content-type"] == "application/problem+json"
    problem = refused.json()
    assert problem["status"] == 422 and problem["title"] == "Données refusées"
    assert {e["field"] for e in problem["errors"]} == {"quarters.1.fte_by_mission", "funding.other_label",
                                                       "trainings.0.count"}
    assert (await api.request("GET", URL, MANAGER)).json() == before
    assert stored(settings) == (1, 1, 2, 1)

    future = date.today().year + 1
    later = await api.request("PUT", f"/api/v1/platform-resources/{future}", MANAGER,
                              json={"quarters": {"4": DECLARATION["quarters"]["1"]}})
    assert later.status_code == 422 and later.json()["errors"][0]["field"] == "quarters.4"
    too_old = await api.request("PUT", "/api/v1/platform-resources/2010", MANAGER, json={})
    assert too_old.status_code == 422 and too_old.json()["errors"] == [
        {"field": "year", "message": f"Choisissez une année de 2017 à {future}."}]
    not_an_object = await api.request("PUT", URL, MANAGER, json=[1, 2])
    assert not_an_object.status_code == 422 and not_an_object.json()["errors"][0]["field"] == "body"
    assert stored(settings) == (1, 1, 2, 1)


async def test_r20_only_managers_and_only_the_chef_de_file_declare(api, settings, platform):
    for who in (COUNSELLOR, PRESCRIBER):
        assert (await api.request("GET", URL, who)).status_code == 403
        refused = await api.request("PUT", URL, who, json=DECLARATION)
        assert refused.status_code == 403 and refused.headers["content-type"] == "application/problem+json"
    with session_scope(settings.db_url) as session:
        session.add(Operator(id="op-b", platform_id=platform.platform_id, name="Handi-Emploi Sud"))
        session.flush()
        accounts.create_user(session, "resp-b@test.fr", "manager", PASSWORD, platform_id=platform.platform_id,
                             operator="op-b")
    co_porteur = await api.request("PUT", URL, "resp-b@test.fr", json=DECLARATION)
    assert co_porteur.status_code == 403 and "chef de file" in co_porteur.json()["detail"]
    assert (await api.request("GET", URL, "resp-b@test.fr")).status_code == 200  # they read it
    assert stored(settings) == (0, 0, 0, 0)
