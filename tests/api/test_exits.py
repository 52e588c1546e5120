"""R15, R18 over HTTP: every refused exit is a problem+json naming its rule, and writes nothing. (The
procedure itself — a manager's approval, a rejection, a transfer — is tested on the time-skipping
server, tests/workflow/test_exits.py.)"""
from __future__ import annotations

import pytest
from sqlmodel import select

from eaflow.store.db import session_scope
from eaflow.store.models import ExitProcedure, Journey
from tests.api.test_contacts import admitted_journey
from tests.api.test_journeys_and_inbox import C1, C2, MANAGER

pytestmark = pytest.mark.xdist_group("dev-server")

ANALYSIS = "Situation examinée avec la personne lors de l'entretien du jour."


@pytest.mark.parametrize("body, status, rule, says", [
    ({"reason": "health", "analysis": ANALYSIS}, 422, "R18", "veille"),
    ({"reason": "platform_decision", "analysis": ANALYSIS}, 422, "R18", "jamais seule"),
    ({"reason": "reorientation", "details": {"towards": "ESAT"}, "analysis": ANALYSIS}, 422, "R18", "choix"),
    ({"reason": "person_request", "details": {"informed": True}, "analysis": ANALYSIS}, 422, "R15", "faible"),
    ({"reason": "disengagement", "analysis": ANALYSIS}, 422, "R17", "procédure"),
    ({"reason": "non_renewal", "analysis": ANALYSIS}, 422, "R19", "procédure"),
    ({"reason": "person_request", "details": {"informed": True, "low_intensity_offered": True}}, 422, "R18", "analyse"),
    ({"reason": "death"}, 403, "R18", "responsable"),
])
async def test_r15_r18_refused_exits_name_their_rule_and_write_nothing(api, settings, platform, body, status,
                                                                        rule, says):
    journey_id = await admitted_journey(api, platform)
    response = await api.request("POST", f"/api/v1/journeys/{journey_id}/exit", C1, json=body)
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    problem = response.json()
    assert problem["rule"] == rule and says in problem["detail"]
    with session_scope(settings.db_url) as session:
        assert session.get(Journey, journey_id).state == "admitted"
        assert not session.exec(select(ExitProcedure).where(ExitProcedure.journey_id == journey_id)).all()


async def test_r18_before_the_accompaniment_a_move_is_no_exit(api, settings, platform):
    """Before the accompaniment only a death or the person's request ends a file (tests/workflow/test_exits.py)."""
    journey_id = await admitted_journey(api, platform)
    body = {"reason": "move", "details": {"department": "75"}, "analysis": ANALYSIS}
    early = await api.request("POST", f"/api/v1/journeys/{journey_id}/exit", C1, json=body)
    assert early.status_code == 409 and early.json()["rule"] == "R18"
    assert (await api.request("POST", f"/api/v1/journeys/{journey_id}/exit", C2, json=body)).status_code == 404
    journey = (await api.request("GET", f"/api/v1/journeys/{journey_id}", MANAGER)).json()
    assert journey["exit"] is None
