"""Roles × pages, walked like the transition table: who gets which page of a person's file, and who a
French 404 (never a hint that the file exists). The file is written straight to the database (no
workflow needed to read it)."""
from __future__ import annotations

from datetime import date

import pytest

from eaflow.intake import IntakeRequest, record_prescription
from eaflow.store.db import session_scope
from eaflow.store.models import Journey
from tests.api.test_journeys_and_inbox import intake

ROLES = {"counsellor": "c1@test.fr", "other_counsellor": "c2@test.fr", "manager": "manager@test.fr",
         "prescriber": "prescripteur@test.fr"}
PAGES = ("/parcours/{id}", "/parcours/{id}/contacts/nouveau", "/parcours/{id}/veille", "/parcours/{id}/emploi/nouveau",
         "/parcours/{id}/droits/granted", "/parcours/{id}/sortie/person_request")
# 200: may see and act; 404: not theirs (or not a role that reads files).
EXPECTED = {"counsellor": 200, "manager": 200, "other_counsellor": 404, "prescriber": 404}


@pytest.fixture
def journey_id(settings, platform) -> str:
    with session_scope(settings.db_url) as session:
        journey = record_prescription(session, "j-roles", IntakeRequest.model_validate(intake()), platform.platform_id,
                                      platform.prescriber)
        journey.state, journey.counsellor_id, journey.admitted_on = "accompaniment", platform.counsellor, date.today()
        session.add(journey)
    return "j-roles"


@pytest.mark.parametrize("role", list(ROLES))
async def test_r22_each_role_gets_the_pages_it_may_see_and_a_french_404_otherwise(plain_pages, journey_id, role):
    await plain_pages.sign_in(ROLES[role])
    for page in PAGES:
        response = await plain_pages.get(ROLES[role], page.format(id=journey_id))
        assert response.status_code == EXPECTED[role], (role, page, response.text[:300])
        if EXPECTED[role] == 404:
            assert "Page introuvable" in response.text and "Léa" not in response.text


async def test_the_death_of_a_person_is_recorded_by_a_manager_only(plain_pages, journey_id):
    url = f"/parcours/{journey_id}/sortie/death"
    await plain_pages.sign_in(ROLES["counsellor"])
    assert (await plain_pages.get(ROLES["counsellor"], url)).status_code == 404
    await plain_pages.sign_in(ROLES["manager"])
    assert (await plain_pages.get(ROLES["manager"], url)).status_code == 200


async def test_a_closed_file_offers_no_action(plain_pages, settings, journey_id):
    with session_scope(settings.db_url) as session:
        session.get(Journey, journey_id).state = "exited"
    await plain_pages.sign_in(ROLES["counsellor"])
    file = await plain_pages.get(ROLES["counsellor"], f"/parcours/{journey_id}")
    assert file.status_code == 200 and "/contacts/nouveau" not in file.text
    assert (await plain_pages.get(ROLES["counsellor"], f"/parcours/{journey_id}/contacts/nouveau")).status_code == 409


async def test_the_persons_list_finds_by_name_and_sorts_by_deadline(plain_pages, journey_id):
    await plain_pages.sign_in(ROLES["counsellor"])
    found = await plain_pages.get(ROLES["counsellor"], "/personnes?q=mart")
    assert "Martin Léa" in found.text and "1 personne," in found.text
    none = await plain_pages.get(ROLES["counsellor"], "/personnes?q=dupont")
    assert "Aucune personne ne correspond" in none.text


async def test_r21_r22_the_reads_of_a_file_are_the_managers_journal_not_the_counsellors_history(
        plain_pages, journey_id):
    await plain_pages.sign_in(ROLES["counsellor"])
    for _ in range(3):
        await plain_pages.get(ROLES["counsellor"], f"/parcours/{journey_id}")
    api = plain_pages.api
    counsellor = (await api.request("GET", f"/api/v1/journeys/{journey_id}/history", ROLES["counsellor"])).json()
    assert [e["action"] for e in counsellor["items"]] == ["prescription_received"]
    manager = (await api.request("GET", f"/api/v1/journeys/{journey_id}/history", ROLES["manager"])).json()
    actions = [e["action"] for e in manager["items"]]
    assert actions.count("journey_read") == 3 and "history_read" in actions
    await plain_pages.sign_in(ROLES["manager"])
    page = await plain_pages.get(ROLES["manager"], f"/parcours/{journey_id}")
    assert "Dossier consulté" not in page.text  # the file shows the steps; the reads are in its journal
    journal = await plain_pages.get(ROLES["manager"], f"/parcours/{journey_id}/journal")
    assert journal.text.count("Dossier consulté") >= 3


WORKSPACES = {  # the first page of each workspace, and who may open it (anyone else: the French 404)
    "/liste-attente": {"manager"}, "/equipe": {"manager"}, "/validations": {"manager"},
    "/indicateurs": {"manager"}, "/ressources": {"manager"}, "/parcours/{id}/journal": {"manager"}, "/parcours/{id}/conseiller": {"manager"},
    "/prescriptions": {"prescriber", "manager"}, "/prescriptions/nouvelle": {"prescriber", "manager"},
}


@pytest.mark.parametrize("role", ["counsellor", "manager", "prescriber"])
async def test_r22_each_workspace_opens_for_its_roles_only(plain_pages, journey_id, role):
    await plain_pages.sign_in(ROLES[role])
    for page, allowed in WORKSPACES.items():
        response = await plain_pages.get(ROLES[role], page.format(id=journey_id))
        assert response.status_code == (200 if role in allowed else 404), (role, page, response.text[:300])
