"""The managers' workspace over HTTP, on a real stack: the waiting list and "Attribuer" (R6, R7), the
team and the change of counsellor (R7, R8, R12), the decisions to take with their file (R15, R17,
R18), the audit journal of a file (R22)."""
from __future__ import annotations

import re
from html import unescape

import pytest

from eaflow.store.db import session_scope
from eaflow.store.models import Journey
from tests.api.test_contacts import admitted_journey
from tests.api.test_journeys_and_inbox import intake


def text(response) -> str:
    return unescape(response.text)


pytestmark = pytest.mark.xdist_group("dev-server")

C1, C2, MANAGER = "c1@test.fr", "c2@test.fr", "manager@test.fr"


def journey(settings, journey_id: str) -> Journey:
    with session_scope(settings.db_url) as session:
        return session.get(Journey, journey_id)


async def waiting(api, **overrides) -> tuple[str, str]:
    created = await api.request("POST", "/api/v1/journeys", MANAGER, json=intake(channel="cdaph", **overrides))
    assert created.status_code == 201, text(created)
    journey_id = created.json()["id"]
    task = await api.wait_task(journey_id, "assign_counsellor", MANAGER)
    return journey_id, task["id"]


async def test_r6_r7_the_manager_assigns_from_the_waiting_list_and_sees_the_r7_refusal(pages, settings, platform):
    seeking, seeking_task = await waiting(pages.api, person={
        "first_name": "Léa", "last_name": "Martin", "birth_date": "1995-04-12", "email": None, "phone": None,
        "legal_representative": None}, prescribed_on="2026-10-01")
    employed, employed_task = await waiting(pages.api, situation="employed", person={
        "first_name": "Paul", "last_name": "Durand", "birth_date": "1990-01-01", "email": None, "phone": None,
        "legal_representative": None}, employer={"name": "Boulangerie Rennaise", "kind": "private"})
    await pages.sign_in(MANAGER)
    page = await pages.get(MANAGER, "/liste-attente")
    assert page.status_code == 200, text(page)
    # R6: the employed person first, although prescribed later; each with the reason of its rank.
    assert text(page).index("Durand Paul") < text(page).index("Martin Léa")
    assert "En emploi : le maintien dans l'emploi passe en premier" in text(page)
    assert "Dominique Demi — 0 / 1 personne" in text(page) and "Camille Conseil — 0 / 20 personnes" in text(page)

    first = await pages.submit(MANAGER, f"/liste-attente/{employed}/attribuer",
                               {"tache": employed_task, "counsellor_id": platform.counsellor2}, page="/liste-attente")
    assert first.status_code == 303, text(first)
    assert journey(settings, employed).counsellor_id == platform.counsellor2
    # R7: Dominique Demi (0.05 FTE) is full; the refusal names the rule and says it in French.
    refused = await pages.submit(MANAGER, f"/liste-attente/{seeking}/attribuer",
                                 {"tache": seeking_task, "counsellor_id": platform.counsellor2}, page="/liste-attente")
    assert refused.status_code == 422, text(refused)
    assert "Attribution refusée — règle R7" in text(refused) and "capacité" in text(refused)
    assert "Rien n'a été enregistré" in text(refused) and "(complet)" in text(refused)
    assert journey(settings, seeking).state == "waiting_list" and journey(settings, seeking).counsellor_id is None
    missing = await pages.submit(MANAGER, f"/liste-attente/{seeking}/attribuer", {"tache": seeking_task},
                                 page="/liste-attente")
    assert missing.status_code == 422 and "Choisissez le conseiller" in text(missing)
    done = await pages.submit(MANAGER, f"/liste-attente/{seeking}/attribuer",
                              {"tache": seeking_task, "counsellor_id": platform.counsellor}, page="/liste-attente")
    assert done.status_code == 303
    after = await pages.get(MANAGER, done.headers["location"])
    assert "Conseiller désigné" in text(after) and "Personne n'attend de conseiller" in text(after)
    assert journey(settings, seeking).counsellor_id == platform.counsellor

    # The task page of an assignment offers the counsellors by name, not an id to type.
    third, third_task = await waiting(pages.api)
    task_page = await pages.get(MANAGER, f"/taches/{third_task}")
    assert "Camille Conseil — 1 / 20 personnes" in text(task_page) and "Dominique Demi — 1 / 1 personne (complet)" in text(task_page)


async def test_r7_r8_r12_the_team_and_a_change_of_counsellor_with_its_reason(pages, settings, platform):
    journey_id = await admitted_journey(pages.api, platform)
    await pages.sign_in(MANAGER)
    team = await pages.get(MANAGER, "/equipe")
    assert team.status_code == 200, text(team)
    row = re.search(r"Camille Conseil</a></td>(.*?)</tr>", text(team), re.S).group(1)
    cells = [re.sub(r"<[^>]+>", "", cell).strip() for cell in re.findall(r"<td>(.*?)</td>", row, re.S)]
    assert cells[:5] == ["1", "1 / 20", "0", "0", "0"], cells
    assert "Réaliser l'évaluation partagée" in cells[5]
    mine = await pages.get(MANAGER, f"/equipe?conseiller={platform.counsellor}")
    assert "Personnes suivies par Camille Conseil" in text(mine) and f"/parcours/{journey_id}/conseiller" in text(mine)

    form = await pages.get(MANAGER, f"/parcours/{journey_id}/conseiller")
    assert form.status_code == 200 and "Motif du changement" in text(form) and "Dominique Demi — 0 / 1 personne" in text(form)
    no_reason = await pages.submit(MANAGER, f"/parcours/{journey_id}/conseiller",
                                   {"counsellor_id": platform.counsellor2, "reason": ""})
    assert no_reason.status_code == 422 and "Ce champ est obligatoire" in text(no_reason)
    assert journey(settings, journey_id).counsellor_id == platform.counsellor
    changed = await pages.submit(MANAGER, f"/parcours/{journey_id}/conseiller",
                                 {"counsellor_id": platform.counsellor2, "reason": "Absence longue de Camille"})
    assert changed.status_code == 303, text(changed)
    assert journey(settings, journey_id).counsellor_id == platform.counsellor2
    evaluation = await pages.api.wait_task(journey_id, "shared_evaluation", C2)
    assert evaluation["assignee"]["id"] == platform.counsellor2  # the open task followed (R8)
    file = await pages.get(MANAGER, changed.headers["location"])
    assert "Conseiller changé" in text(file)

    # A counsellor opening a manager's page is told it does not exist.
    await pages.sign_in(C1)
    for path in ("/liste-attente", "/equipe", "/validations", "/indicateurs", f"/parcours/{journey_id}/journal",
                 f"/parcours/{journey_id}/conseiller"):
        assert (await pages.get(C1, path)).status_code == 404, path


async def test_r15_r18_the_manager_approves_one_exit_and_rejects_another_with_its_reason(pages, settings, platform):
    leaving = await admitted_journey(pages.api, platform)
    staying = await admitted_journey(pages.api, platform, person={
        "first_name": "Paul", "last_name": "Durand", "birth_date": "1990-01-01", "email": None, "phone": None,
        "legal_representative": None})
    for journey_id in (leaving, staying):
        proposed = await pages.api.request("POST", f"/api/v1/journeys/{journey_id}/exit", C1, json={
            "reason": "person_request", "details": {"informed": True, "low_intensity_offered": True},
            "analysis": "La personne a retrouvé un équilibre et souhaite arrêter."})
        assert proposed.status_code in (200, 201, 202), text(proposed)
    await pages.sign_in(MANAGER)
    listed = await pages.get(MANAGER, "/validations?kind=approve_exit")
    assert listed.status_code == 200 and text(listed).count("Décider de la sortie du dispositif") >= 2
    tasks = {journey_id: await pages.api.wait_task(journey_id, "approve_exit", MANAGER) for journey_id in (leaving, staying)}

    page = await pages.get(MANAGER, f"/taches/{tasks[leaving]['id']}")
    assert "Le dossier de la sortie proposée" in text(page) and "R15 autorise ce motif" in text(page)
    assert "La personne a retrouvé un équilibre" in text(page)
    assert "Accompagnement de faible intensité proposé" in text(page)
    # R18: approving needs the consultation of the person, shown beside its field.
    unconsulted = await pages.submit(MANAGER, f"/taches/{tasks[leaving]['id']}", {"decision": "approve"})
    assert unconsulted.status_code == 422
    assert 'id="f-consultation-error"' in text(unconsulted) or "f-consultation" in text(unconsulted)
    assert "Indiquez comment la personne ou son représentant a été consultée" in text(unconsulted)
    approved = await pages.submit(MANAGER, f"/taches/{tasks[leaving]['id']}", {
        "decision": "approve", "consultation": "Entretien du 2 décembre avec la personne"})
    assert approved.status_code == 303, text(approved)

    no_reason = await pages.submit(MANAGER, f"/taches/{tasks[staying]['id']}", {"decision": "reject"})
    assert no_reason.status_code == 422 and "Indiquez le motif du rejet" in text(no_reason)
    assert journey(settings, staying).state == "exit_proposed"
    rejected = await pages.submit(MANAGER, f"/taches/{tasks[staying]['id']}", {
        "decision": "reject", "reason": "Un accompagnement allégé lui convient mieux."})
    assert rejected.status_code == 303, text(rejected)
    assert journey(settings, leaving).state == "exited"
    assert journey(settings, staying).state != "exited"


async def test_r22_the_audit_journal_shows_who_read_and_changed_the_file(pages, settings, platform):
    journey_id = await admitted_journey(pages.api, platform)
    await pages.sign_in(C1)
    assert (await pages.get(C1, f"/parcours/{journey_id}")).status_code == 200
    await pages.sign_in(MANAGER)
    file = await pages.get(MANAGER, f"/parcours/{journey_id}")
    assert "Journal d'audit" in text(file) and "Dossier consulté" not in text(file)  # the reads have their page
    journal = await pages.get(MANAGER, f"/parcours/{journey_id}/journal")
    assert journal.status_code == 200, text(journal)
    assert "Camille Conseil <span class=\"muted\">(conseiller)</span>" in text(journal)
    assert "Dossier consulté" in text(journal) and "Conseiller désigné, personne admise" in text(journal)
    api = (await pages.api.request("GET", f"/api/v1/journeys/{journey_id}/audit?limit=2", MANAGER)).json()
    assert len(api["items"]) == 2 and api["next_cursor"]
    older = (await pages.api.request("GET", f"/api/v1/journeys/{journey_id}/audit?before={api['next_cursor']}",
                                     MANAGER)).json()
    assert all(event["id"] < api["next_cursor"] for event in older["items"])
    assert (await pages.api.request("GET", f"/api/v1/journeys/{journey_id}/audit", C1)).status_code == 403
