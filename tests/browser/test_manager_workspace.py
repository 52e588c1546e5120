"""The managers', prescribers' and administrators' workspaces in a real browser (Debian's Chromium, Playwright), on a
real stack. The manager assigns from the waiting list (an R7 refusal first), approves one exit
proposal and rejects another with its reason; the prescriber sends a person in and reads an R1
refusal for another; the administrator disables a user whose open session then ends. Every page visited is checked with axe-core (no serious or critical violation)."""
from __future__ import annotations

import io
from datetime import date
from pathlib import Path

import pytest
from openpyxl import load_workbook
from playwright.async_api import expect

from eaflow import accounts
from eaflow.store.db import session_scope
from eaflow.store.models import Journey
from tests.api.test_contacts import admitted_journey
from tests.api.test_journeys_and_inbox import C1, intake
from tests.browser.test_counsellor_workspace import accessible
from tests.conftest import PASSWORD

pytestmark = pytest.mark.xdist_group("browser")

MANAGER, PRESCRIBER = "manager@test.fr", "prescripteur@test.fr"


def state_of(settings, journey_id: str) -> Journey:
    with session_scope(settings.db_url) as session:
        return session.get(Journey, journey_id)


async def test_a_manager_assigns_from_the_waiting_list_and_decides_two_exits(people, stack, settings, platform):
    name = "manager"
    api = stack.api
    # Dominique Demi (0.05 FTE, R7 capacity 1) already follows one person.
    full = await api.request("POST", "/api/v1/journeys", MANAGER, json=intake(channel="cdaph"))
    task = await api.wait_task(full.json()["id"], "assign_counsellor", MANAGER)
    assert (await api.request("POST", f"/api/v1/tasks/{task['id']}/complete", MANAGER,
                              json={"outcome": {"counsellor_id": platform.counsellor2}})).status_code == 200
    waiting = await api.request("POST", "/api/v1/journeys", MANAGER, json=intake(channel="cdaph", person={
        "first_name": "Paul", "last_name": "Durand", "birth_date": "1990-01-01", "email": None, "phone": None,
        "legal_representative": None}))
    waiting_id = waiting.json()["id"]
    await api.wait_task(waiting_id, "assign_counsellor", MANAGER)

    manager = await people("manager")
    await manager.sign_in(MANAGER)
    await manager.page.get_by_role("link", name="Liste d'attente").click()
    await expect(manager.page.get_by_role("heading", level=1)).to_have_text("Liste d'attente")
    await accessible(manager)
    await manager.screenshot(name, "liste-attente")
    picker = manager.page.get_by_label("Conseiller pour Paul Durand")
    await picker.select_option(label="Dominique Demi — 1 / 1 personne (complet)")
    await manager.page.get_by_role("button", name="Attribuer : Paul Durand").click()
    await expect(manager.page.get_by_role("heading", name="Attribution refusée — règle R7")).to_be_visible()
    await accessible(manager)
    await manager.screenshot(name, "refus-r7")
    assert state_of(settings, waiting_id).counsellor_id is None
    await manager.page.get_by_label("Conseiller pour Paul Durand").select_option(label="Camille Conseil — 0 / 20 personnes")
    await manager.page.get_by_role("button", name="Attribuer : Paul Durand").click()
    await expect(manager.page.get_by_role("status")).to_contain_text("Conseiller désigné")
    assert state_of(settings, waiting_id).counsellor_id == platform.counsellor

    # The team: each counsellor's load against capacity.
    await manager.page.get_by_role("link", name="Équipe").click()
    await expect(manager.page.get_by_role("heading", level=1)).to_have_text("Équipe")
    await accessible(manager)
    await manager.screenshot(name, "equipe")

    # Two exit proposals: one approved, one rejected with its reason.
    leaving = await admitted_journey(api, platform, person={
        "first_name": "Inès", "last_name": "Moreau", "birth_date": "1998-06-01", "email": None, "phone": None,
        "legal_representative": None})
    staying = await admitted_journey(api, platform, person={
        "first_name": "Jules", "last_name": "Bernard", "birth_date": "1997-03-03", "email": None, "phone": None,
        "legal_representative": None})
    for journey_id in (leaving, staying):
        proposed = await api.request("POST", f"/api/v1/journeys/{journey_id}/exit", C1, json={
            "reason": "person_request", "details": {"informed": True, "low_intensity_offered": True},
            "analysis": "La personne souhaite arrêter l'accompagnement."})
        assert proposed.status_code < 300, proposed.text
        await api.wait_task(journey_id, "approve_exit", MANAGER)
    await manager.page.get_by_role("link", name="À valider").click()
    await expect(manager.page.get_by_role("heading", level=1)).to_have_text("À valider")
    await accessible(manager)
    await manager.screenshot(name, "a-valider")

    async def open_decision(person: str) -> None:
        await manager.goto("/validations?kind=approve_exit")
        row = manager.page.get_by_role("row").filter(has_text=person)
        await row.get_by_role("link", name="Décider de la sortie du dispositif").click()
        await expect(manager.page.get_by_role("heading", name="Le dossier de la sortie proposée")).to_be_visible()
        await expect(manager.page.get_by_text("R15 autorise ce motif")).to_be_visible()

    await open_decision("Inès Moreau")
    await accessible(manager)
    await manager.screenshot(name, "decision")
    await manager.page.get_by_label("Approuver la sortie").check()
    await manager.page.get_by_label("Consultation de la personne").fill("Entretien avec la personne le 2 décembre")
    await manager.page.get_by_role("button", name="Enregistrer et terminer la tâche").click()
    await expect(manager.page.get_by_role("status")).to_contain_text("Tâche terminée")

    await open_decision("Jules Bernard")
    await manager.page.get_by_label("Rejeter la sortie").check()
    await manager.page.get_by_role("button", name="Enregistrer et terminer la tâche").click()
    await expect(manager.page.get_by_role("alert")).to_contain_text("Indiquez le motif du rejet")
    await accessible(manager)
    await manager.screenshot(name, "rejet-sans-motif")
    await manager.page.get_by_label("Motif de la décision").fill("Un accompagnement allégé lui convient mieux.")
    await manager.page.get_by_role("button", name="Enregistrer et terminer la tâche").click()
    await expect(manager.page.get_by_role("status")).to_contain_text("Tâche terminée")
    assert state_of(settings, leaving).state == "exited"
    assert state_of(settings, staying).state not in ("exited", "exit_proposed")

    # R20: the quarter so far, as the funders get it: the XLSX holds the exit just approved.
    today = date.today()
    quarter_start = date(today.year, 3 * ((today.month - 1) // 3) + 1, 1)
    await manager.page.get_by_role("link", name="Indicateurs").click()
    await manager.page.locator("#f-du").fill(quarter_start.isoformat())
    await manager.page.locator("#f-au").fill(today.isoformat())
    await manager.page.get_by_role("button", name="Afficher cette période").click()
    await expect(manager.page.get_by_role("heading", level=1)).to_have_text("Indicateurs de pilotage")
    await accessible(manager)
    await manager.screenshot(name, "indicateurs")
    async with manager.page.expect_download() as download_info:
        await manager.page.get_by_role("link", name="Télécharger en XLSX").click()
    download = await download_info.value
    assert download.suggested_filename.endswith(".xlsx")
    workbook = load_workbook(io.BytesIO(Path(await download.path()).read_bytes()))
    figures = {row[0]: row[2] for row in workbook["Activité"].iter_rows(values_only=True) if len(row) > 2}
    assert figures["exits.total"] == 1, figures
    assert figures["exits.by_reason.person_request"] == 1

    # The audit journal of a file.
    await manager.goto(f"/parcours/{staying}/journal")
    await expect(manager.page.get_by_role("heading", level=1)).to_have_text("Journal d'audit")
    await accessible(manager)
    await manager.screenshot(name, "journal")

    # A counsellor opening a manager's page gets the 404.
    c1 = await people("c1")
    await c1.sign_in(C1)
    for path in ("/liste-attente", "/equipe", "/validations", f"/parcours/{staying}/journal"):
        response = await c1.goto(path)
        assert response.status == 404, path
        await expect(c1.page.get_by_role("heading", level=1)).to_have_text("Page introuvable")


async def test_a_prescriber_sends_a_person_in_and_reads_a_refusal(people, stack, settings, platform):
    name = "prescriber"
    prescriber = await people("prescriber")
    await prescriber.sign_in(PRESCRIBER)
    await expect(prescriber.page.get_by_role("heading", level=1)).to_have_text("Mes prescriptions")
    await accessible(prescriber)
    today = date.today()

    async def prescribe(first_name: str, birth_date: str) -> None:
        page = prescriber.page
        await page.get_by_role("link", name="Nouvelle prescription").first.click()
        await expect(page.get_by_role("heading", level=1)).to_have_text("Nouvelle prescription")
        await page.locator("#f-person-first_name").fill(first_name)
        await page.locator("#f-person-last_name").fill("Moreau")
        await page.locator("#f-person-birth_date").fill(birth_date)
        await page.get_by_label("France Travail").check()
        await page.locator("#f-prescribed_on").fill(today.isoformat())
        await page.get_by_label("En recherche d'emploi").check()
        await page.locator("#f-rights-rqth_until").fill(today.replace(year=today.year + 3).isoformat())
        await page.locator("#f-subsidiarity_reason").fill("Un appui durable que le droit commun n'offre pas.")
        await page.locator("#f-consent-given_on").fill(today.isoformat())
        await page.locator("#f-consent-by-person").check()
        await prescriber.screenshot(name, f"formulaire-{first_name}")
        await page.get_by_role("button", name="Envoyer la prescription").click()
        await expect(page.get_by_role("status")).to_contain_text("Prescription envoyée")

    await prescribe("Inès", "1998-06-01")
    await accessible(prescriber)
    await prescriber.screenshot(name, "envoyee")
    await prescribe("Jules", today.replace(year=today.year - 15).isoformat())
    await expect(prescriber.page.get_by_role("heading", name="Pourquoi la prescription n'est pas retenue")).to_be_visible()
    await expect(prescriber.page.get_by_text("Règle R1 du cahier des charges")).to_be_visible()
    await accessible(prescriber)
    await prescriber.screenshot(name, "refus-r1")
    await prescriber.page.get_by_role("link", name="Mes prescriptions").first.click()
    await expect(prescriber.page.get_by_role("row")).to_have_count(3)
    await accessible(prescriber)
    await prescriber.screenshot(name, "liste")
    # A person's file is not theirs to open.
    link = await prescriber.page.get_by_role("link", name="Jules Moreau").get_attribute("href")
    journey_id = link.rsplit("/", 1)[1]
    response = await prescriber.goto(f"/parcours/{journey_id}")
    assert response.status == 404


async def test_an_administrator_disables_a_user_whose_open_session_ends(people, stack, settings, platform):
    name = "admin"
    with session_scope(settings.db_url) as session:
        accounts.create_user(session, "admin@test.fr", "admin", PASSWORD, platform_id=platform.platform_id,
                             display_name="Alix Admin")
    c1 = await people("c1")
    await c1.sign_in(C1)
    await expect(c1.page.get_by_role("heading", level=1)).to_have_text("Mes tâches")

    admin = await people("admin")
    await admin.sign_in("admin@test.fr")
    await expect(admin.page.get_by_role("heading", level=1)).to_have_text("Administration")
    await accessible(admin)
    await admin.screenshot(name, "administration")
    await admin.page.get_by_role("link", name="Camille Conseil").click()
    await expect(admin.page.get_by_role("heading", level=1)).to_have_text("Camille Conseil")
    await accessible(admin)
    await admin.screenshot(name, "compte")
    await admin.page.get_by_role("button", name="Désactiver le compte").click()
    await expect(admin.page.get_by_role("button", name="Réactiver le compte")).to_be_visible()
    await accessible(admin)
    await admin.screenshot(name, "desactive")
    for path in ("/administration/plateforme", "/administration/politique", "/administration/comptes/nouveau"):
        assert (await admin.goto(path)).status == 200, path
        await accessible(admin)
        await admin.screenshot(name, path.rsplit("/", 1)[1])

    # The counsellor's open page: the next click lands on the sign-in page, and signing in is refused.
    await c1.page.get_by_role("link", name="Personnes accompagnées").click()
    await expect(c1.page).to_have_url(f"{stack.base_url}/connexion?suivant=%2Fpersonnes")
    await c1.sign_in(C1)
    await expect(c1.page.get_by_role("heading", level=1)).to_have_text("Connexion à votre espace")
    await expect(c1.page.get_by_role("alert")).to_be_visible()
    # And the administrator's pages are nobody else's.
    manager = await people("manager")
    await manager.sign_in(MANAGER)
    assert (await manager.goto("/administration")).status == 404
