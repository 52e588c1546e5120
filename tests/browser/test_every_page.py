"""Every page of the counsellor's workspace, at 1280 and at 375 px wide: no serious or critical axe-core
violation, nothing wider than the screen (tables scroll inside their frame), a screenshot of each."""
from __future__ import annotations

import pytest

from eaflow import accounts
from eaflow.store.db import session_scope

from tests.api.test_employment import in_accompaniment
from tests.api.test_contacts import admitted_journey
from tests.api.test_journeys_and_inbox import C1, intake
from tests.browser.test_counsellor_workspace import accessible
from tests.conftest import PASSWORD

pytestmark = pytest.mark.xdist_group("browser")

MANAGER, PRESCRIBER, ADMIN = "manager@test.fr", "prescripteur@test.fr", "admin@test.fr"

WIDER_THAN_THE_SCREEN = """() => [...document.querySelectorAll('body *')]
  .filter(e => !e.closest('.table-wrap') && e.getBoundingClientRect().right > window.innerWidth + 1)
  .map(e => e.tagName.toLowerCase() + (e.id ? '#' + e.id : '') + (e.className ? '.' + e.className : ''))"""


async def test_every_page_is_accessible_and_fits_a_phone(people, stack, settings, platform, smtp_server):
    journey_id = await in_accompaniment(stack.api, smtp_server, platform)
    contact = await stack.api.request("POST", f"/api/v1/journeys/{journey_id}/contacts", C1, json={
        "occurred_on": "2026-11-02", "duration_minutes": 60, "place": "workplace", "channel": "in_person",
        "participants": "both", "reached": True, "interview": True, "note": "Visite sur le poste."})
    assert contact.status_code == 201, contact.text
    base = f"/parcours/{journey_id}"
    pages = {
        "inbox": "/", "persons": "/personnes", "file": base, "convention": f"{base}/convention",
        "contact": f"{base}/contacts/nouveau", "contact-edit": f"{base}/contacts/{contact.json()['id']}/modifier",
        "contact-delete": f"{base}/contacts/{contact.json()['id']}/supprimer", "job": f"{base}/emploi/nouveau",
        "rights": f"{base}/droits/appeal_decided", "veille": f"{base}/veille", "avenant": f"{base}/avenant",
        "exit-move": f"{base}/sortie/move", "exit-reorientation": f"{base}/sortie/reorientation",
        "not-found": "/parcours/j-inconnu",
    }
    c1 = await people("c1")
    await c1.sign_in(C1)
    for width in (1280, 375):
        await c1.page.set_viewport_size({"width": width, "height": 900})
        for name, path in pages.items():
            await c1.goto(path)
            await accessible(c1)
            assert await c1.page.evaluate(WIDER_THAN_THE_SCREEN) == [], f"{path} at {width} px"
            await c1.screenshot(f"page-{width}", name)


async def test_every_page_of_the_other_workspaces_is_accessible_and_fits_a_phone(people, stack, settings, platform):
    journey_id = await admitted_journey(stack.api, platform)
    waiting = await stack.api.request("POST", "/api/v1/journeys", PRESCRIBER, json=intake(channel="cdaph"))
    assert waiting.status_code == 201, waiting.text
    await stack.api.wait_task(waiting.json()["id"], "assign_counsellor", MANAGER)
    proposed = await stack.api.request("POST", f"/api/v1/journeys/{journey_id}/exit", C1, json={
        "reason": "person_request", "details": {"informed": True, "low_intensity_offered": True},
        "analysis": "La personne souhaite arrêter."})
    assert proposed.status_code < 300, proposed.text
    decision = await stack.api.wait_task(journey_id, "approve_exit", MANAGER)
    by_role = {
        MANAGER: {"waiting-list": "/liste-attente", "team": "/equipe", "team-one":
                  f"/equipe?conseiller={platform.counsellor}", "validations": "/validations",
                  "decision": f"/taches/{decision['id']}", "indicators": "/indicateurs", "resources": "/ressources",
                  "journal": f"/parcours/{journey_id}/journal", "change": f"/parcours/{journey_id}/conseiller"},
        PRESCRIBER: {"prescriptions": "/prescriptions", "new-prescription": "/prescriptions/nouvelle",
                     "prescription": f"/prescriptions/{waiting.json()['id']}"},
        ADMIN: {"administration": "/administration", "account": f"/administration/comptes/{platform.counsellor}",
                "new-account": "/administration/comptes/nouveau", "platform": "/administration/plateforme",
                "policy": "/administration/politique"},
        C1: {"preferences": "/preferences", "security": "/securite", "security-enrol": "/securite/activation"},
    }
    by_role[MANAGER]["manager-preferences"] = "/preferences"
    with session_scope(settings.db_url) as session:
        accounts.create_user(session, ADMIN, "admin", PASSWORD, platform_id=platform.platform_id)
    for email, pages in by_role.items():
        person = await people(email)
        await person.sign_in(email)
        for width in (1280, 375):
            await person.page.set_viewport_size({"width": width, "height": 900})
            for name, path in pages.items():
                response = await person.goto(path)
                assert response.status == 200, (email, path)
                await accessible(person)
                assert await person.page.evaluate(WIDER_THAN_THE_SCREEN) == [], f"{path} at {width} px"
                await person.screenshot(f"page-{width}", name)
