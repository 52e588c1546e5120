"""R15, R18 over HTTP: every refused exit is a problem+json naming its rule, and writes nothing; a move
hands the file over to the new département's platform. (The rest of the procedure — a manager's
approval, a rejection, a transfer here — is tested on the time-skipping server, tests/workflow/test_exits.py.)"""
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
    body = {"reason": "move", "details": {"department": "75", "consent_to_handover": True,
                                          "receiving_email": "plateforme75@example.fr"}, "analysis": ANALYSIS}
    early = await api.request("POST", f"/api/v1/journeys/{journey_id}/exit", C1, json=body)
    assert early.status_code == 409 and early.json()["rule"] == "R18"
    assert (await api.request("POST", f"/api/v1/journeys/{journey_id}/exit", C2, json=body)).status_code == 404
    journey = (await api.request("GET", f"/api/v1/journeys/{journey_id}", MANAGER)).json()
    assert journey["exit"] is None


MOVE = {"reason": "move", "analysis": ANALYSIS}


async def propose_move(api, journey_id: str, **details):
    return await api.request("POST", f"/api/v1/journeys/{journey_id}/exit", C1, json={**MOVE, "details": details})


async def approve(api, journey_id: str):
    task = await api.wait_task(journey_id, "approve_exit", MANAGER)
    done = await api.request("POST", f"/api/v1/tasks/{task['id']}/complete", MANAGER,
                             json={"outcome": {"decision": "approve", "consultation": "Entretien avec la personne."}})
    assert done.status_code == 200, done.text


async def test_r15_a_move_hands_the_file_over_and_ends_once_acknowledged(api, settings, smtp_server, platform):
    from tests.api.test_convention import wait_mails, wait_state
    from tests.api.test_employment import in_accompaniment

    journey_id = await in_accompaniment(api, smtp_server, platform)
    # Within the platform's own département a move is no exit: refused, nothing written.
    same = await propose_move(api, journey_id, department="35", consent_to_handover=True)
    assert same.status_code == 422 and same.json()["rule"] == "R15"
    assert same.json()["errors"][0]["field"] == "details.department"
    # Another département with a platform: the person's consent and that platform's address first.
    no_consent = await propose_move(api, journey_id, department="75", receiving_email="contact@ea75.fr")
    assert no_consent.status_code == 422 and no_consent.json()["errors"][0]["field"] == "details.consent_to_handover"
    no_address = await propose_move(api, journey_id, department="75", consent_to_handover=True)
    assert no_address.status_code == 422 and no_address.json()["errors"][0]["field"] == "details.receiving_email"
    with session_scope(settings.db_url) as session:
        assert not session.exec(select(ExitProcedure).where(ExitProcedure.journey_id == journey_id)).all()

    proposed = await propose_move(api, journey_id, department="75", consent_to_handover=True,
                                  receiving_email="Contact@EA75.fr")
    assert proposed.status_code == 200, proposed.text
    assert proposed.json()["exit_procedure"]["handover"] is True
    await approve(api, journey_id)
    # The file leaves: a summary and the signed convention, to that platform; the person is told.
    [handover] = await wait_mails(smtp_server, "file_handover", "contact@ea75.fr")
    names = sorted(part.get_filename() for part in handover.iter_attachments())
    assert names == ["convention-accompagnement-v1-signee.pdf", "synthese-dossier-emploi-accompagne.pdf"]
    summary = next(p for p in handover.iter_attachments() if p.get_filename().startswith("synthese"))
    from io import BytesIO

    from pypdf import PdfReader
    text = "".join(page.extract_text() for page in PdfReader(BytesIO(summary.get_content())).pages)
    assert "Synthèse du dossier" in text and "Martin" in text
    await wait_mails(smtp_server, "file_handover_person")
    # Until the acknowledgement is recorded the journey is not over.
    task = await api.wait_task(journey_id, "record_handover", MANAGER)
    assert (await wait_state(api, journey_id, "exit_proposed"))["state"] == "exit_proposed"
    blank = await api.request("POST", f"/api/v1/tasks/{task['id']}/complete", MANAGER,
                              json={"outcome": {"acknowledged_on": "2026-12-01", "how": "  "}})
    assert blank.status_code == 422 and blank.json()["errors"][0]["field"] == "outcome.how"
    done = await api.request("POST", f"/api/v1/tasks/{task['id']}/complete", MANAGER, json={"outcome": {
        "acknowledged_on": "2026-12-01", "how": "Courriel de la responsable de la plateforme 75"}})
    assert done.status_code == 200, done.text
    ended = await wait_state(api, journey_id, "transferred")
    assert ended["exit"]["reason"] == "move"
    await wait_mails(smtp_server, "journey_transferred_person")


async def test_r15_a_move_where_no_platform_covers_the_territory_is_an_exit(api, settings, smtp_server, platform):
    from tests.api.test_convention import wait_state
    from tests.api.test_employment import in_accompaniment

    journey_id = await in_accompaniment(api, smtp_server, platform)
    proposed = await propose_move(api, journey_id, department="99")  # abroad (INSEE code)
    assert proposed.status_code == 200, proposed.text
    assert proposed.json()["exit_procedure"]["handover"] is False
    await approve(api, journey_id)
    ended = await wait_state(api, journey_id, "exited")
    assert ended["exit"]["reason"] == "move"
