"""The counsellor's workspace in a real browser (Debian's Chromium, Playwright), on a real stack:
sign-in, inbox, a task's form with an invalid submission first, the convention drafted, a contact and
the month's intensity, a veille, an exit proposal; another counsellor's 404; a form without its CSRF
token. Every page visited is checked with axe-core (no serious or critical violation)."""
from __future__ import annotations

from datetime import date, timedelta

import pytest
from playwright.async_api import expect
from sqlmodel import func, select

from eaflow.store.accompaniment import Contact
from eaflow.store.db import session_scope
from eaflow.store.models import Journey, SharedEvaluation
from tests.api.test_convention import (EMPLOYER, EMPLOYER_IN, PERSON, link_in, manager_signs, sign, wait_mails,
                                       wait_state)
from tests.api.test_contacts import admitted_journey
from tests.api.test_journeys_and_inbox import C1, C2

pytestmark = pytest.mark.xdist_group("browser")

TODAY = date.today()


def count(settings, model, *where) -> int:
    with session_scope(settings.db_url) as session:
        return int(session.exec(select(func.count()).select_from(model).where(*where)).one())


async def admitted(api, platform) -> str:
    """A CDAPH orientation with an employer, admitted with C1 (the scene, set through the API)."""
    return await admitted_journey(api, platform, situation="employed", employer=EMPLOYER_IN)


async def accessible(person) -> None:
    violations = await person.serious_accessibility_violations()
    assert violations == [], f"{person.page.url}: {violations}"


async def test_a_counsellor_works_a_journey_from_the_inbox_to_an_exit_proposal(people, stack, settings, platform,
                                                                               smtp_server):
    name = "counsellor"
    journey_id = await admitted(stack.api, platform)
    c1 = await people("c1")

    # Signs in from the inbox's address and lands back on it.
    await c1.goto("/")
    await expect(c1.page).to_have_url(f"{stack.base_url}/connexion?suivant=%2F")
    await accessible(c1)
    await c1.screenshot(name, "connexion")
    await c1.sign_in(C1)
    await expect(c1.page.get_by_role("heading", level=1)).to_have_text("Mes tâches")
    await accessible(c1)
    await c1.screenshot(name, "inbox")

    # R9: the shared evaluation, one invalid submission first.
    await c1.page.locator("#mes-taches ~ .table-wrap").get_by_role("link", name="Réaliser l'évaluation partagée de la situation", exact=True).click()
    await c1.page.locator("#f-evaluated_on").fill(TODAY.isoformat())
    await c1.page.locator("#f-wishes").fill("Garder son poste de vendeuse")
    await c1.page.locator("#f-resources").fill("Une collègue référente")
    await c1.page.get_by_role("button", name="Enregistrer et terminer la tâche").click()
    error = c1.page.locator("#f-needs-error")
    await expect(error).to_contain_text("Ce champ est obligatoire")
    await expect(c1.page.locator("#f-needs")).to_have_attribute("aria-invalid", "true")
    assert "f-needs-error" in (await c1.page.locator("#f-needs").get_attribute("aria-describedby"))
    await expect(c1.page.locator("#f-wishes")).to_have_value("Garder son poste de vendeuse")  # kept
    assert count(settings, SharedEvaluation) == 0
    await accessible(c1)
    await c1.screenshot(name, "evaluation-invalid")
    await c1.page.locator("#f-needs").fill("Adapter les horaires")
    await c1.page.get_by_role("button", name="Enregistrer et terminer la tâche").click()
    await expect(c1.page.get_by_role("status")).to_contain_text("Tâche terminée")
    assert count(settings, SharedEvaluation) == 1
    await accessible(c1)

    # R10: the next task, the convention, prefilled from the file.
    await c1.page.get_by_role("status").get_by_role("link", name="Rédiger la convention individuelle").click()
    await expect(c1.page.locator("#f-person_signatory-email")).to_have_value(PERSON)
    await c1.page.locator("#f-workplace_modalities").fill("Une visite par mois sur le poste, annoncée à l'employeur.")
    await c1.page.locator("#f-rhythm").fill("Un entretien toutes les deux semaines, puis une fois par mois.")
    await expect(c1.page.locator("#f-employer-__present")).to_be_checked()
    await c1.page.locator("#f-employer-signatory-name").fill("Paul Durand")
    await c1.page.locator("#f-employer-signatory-email").fill(EMPLOYER)
    await accessible(c1)
    await c1.screenshot(name, "convention-form")
    await c1.page.get_by_role("button", name="Enregistrer et terminer la tâche").click()
    await expect(c1.page.get_by_role("status")).to_contain_text("Tâche terminée")

    # The parties sign through their links, the platform through its manager (the API sets the scene).
    for to, signer in ((PERSON, "Léa Martin"), (EMPLOYER, "Paul Durand")):
        [mail] = await wait_mails(smtp_server, "convention_to_sign", to)
        assert (await sign(stack.api, link_in(mail), signer)).status_code == 200
    await manager_signs(stack.api, journey_id)
    await wait_state(stack.api, journey_id, "accompaniment")

    # R13, R11: a contact, and the month's intensity on the file.
    await c1.goto(f"/parcours/{journey_id}")
    await c1.page.get_by_role("link", name="Enregistrer un contact").first.click()
    await expect(c1.page.locator("#f-occurred_on")).to_have_value(TODAY.isoformat())
    await c1.page.locator("#f-duration_minutes").fill("90")
    await c1.page.locator("#f-place-workplace").check()
    await c1.page.locator("#f-channel").select_option("in_person")
    await c1.page.locator("#f-participants-both").check()
    await c1.page.locator("#f-interview-true").check()
    await c1.page.locator("#f-note").fill("Point sur le poste avec la responsable.")
    await accessible(c1)
    await c1.page.get_by_role("button", name="Enregistrer le contact").click()
    await expect(c1.page.get_by_role("status")).to_contain_text("Contact enregistré")
    await expect(c1.page.locator("#echeances ~ .cards")).to_contain_text("1,5 h")
    assert count(settings, Contact, Contact.journey_id == journey_id) == 1
    await accessible(c1)
    await c1.screenshot(name, "file")

    # R14: a veille, at the person's request.
    await c1.page.get_by_role("link", name="Mettre en veille").click()
    await c1.page.locator("#f-requested_by-person").check()
    await c1.page.locator("#f-agreement-on").fill(TODAY.isoformat())
    await c1.page.locator("#f-agreement-how").fill("Courriel de la personne")
    await c1.page.locator("#f-until").fill((TODAY + timedelta(days=60)).isoformat())
    await c1.page.locator("#f-reactivation_conditions").fill("À sa demande, ou au retour de formation.")
    await accessible(c1)
    await c1.page.get_by_role("button", name="Enregistrer la veille").click()
    await expect(c1.page.get_by_role("status")).to_contain_text("Veille enregistrée")
    await expect(c1.page.locator(".page-header .badge")).to_have_text("En veille")

    # R15, R18: an exit at the person's request, proposed for a manager to decide.
    await c1.page.get_by_role("link", name="Sortie : sortie à la demande de la personne").click()
    await c1.page.locator("#f-informed-true").check()
    await c1.page.locator("#f-low_intensity_offered-true").check()
    await c1.page.locator("#f-analysis").fill("La personne souhaite arrêter : elle se sent autonome dans son poste.")
    await accessible(c1)
    await c1.screenshot(name, "exit-form")
    await c1.page.get_by_role("button", name="Proposer la sortie").click()
    await expect(c1.page.get_by_role("status")).to_contain_text("Sortie proposée")
    await expect(c1.page.locator(".page-header .badge")).to_have_text("Sortie proposée")
    await c1.screenshot(name, "exit-proposed")


async def test_another_counsellor_gets_the_french_404_page(people, stack, settings, platform):
    journey_id = await admitted(stack.api, platform)
    task = await stack.api.wait_task(journey_id, "shared_evaluation", C1)
    c2 = await people("c2")
    await c2.sign_in(C2)
    for path in (f"/parcours/{journey_id}", f"/taches/{task['id']}", f"/parcours/{journey_id}/contacts/nouveau"):
        response = await c2.goto(path)
        assert response.status == 404, path
        await expect(c2.page.get_by_role("heading", level=1)).to_have_text("Page introuvable")
        await expect(c2.page.get_by_role("alert")).to_contain_text("n'existe pas ou ne vous est pas accessible")
    await accessible(c2)
    await c2.screenshot("not-yours", "404")


async def test_a_form_without_its_csrf_token_writes_nothing(people, stack, settings, platform):
    journey_id = await admitted(stack.api, platform)
    c1 = await people("c1")
    await c1.sign_in(C1)
    await c1.goto(f"/parcours/{journey_id}/contacts/nouveau")
    await c1.page.locator("#f-duration_minutes").fill("30")
    await c1.page.locator("#f-place-service").check()
    await c1.page.locator("#f-channel").select_option("phone")
    await c1.page.locator("#f-participants-person").check()
    await c1.page.locator("#contenu input[name=csrf_token]").evaluate("input => input.remove()")
    await c1.page.get_by_role("button", name="Enregistrer le contact").click()
    await expect(c1.page.get_by_role("heading", level=1)).to_have_text("Action non autorisée")
    await expect(c1.page.get_by_role("alert")).to_contain_text("rien n'a été enregistré")
    assert count(settings, Contact, Contact.journey_id == journey_id) == 0
    with session_scope(settings.db_url) as session:
        assert session.get(Journey, journey_id).last_contact_on is None
    await c1.screenshot("csrf", "refused")
