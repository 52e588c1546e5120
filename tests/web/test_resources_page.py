""""Ressources de la plateforme" (/ressources, R20 group 2): a manager declares the year's resources
with French numbers, sees the summary and the indicators take it; a refusal comes back beside its
field with what was typed and writes nothing; anyone else gets the French 404 page."""
from __future__ import annotations

from html import unescape

from sqlmodel import select

from eaflow.store.db import session_scope
from eaflow.store.resources import ResourceQuarter, ResourceYear

MANAGER, C1 = "manager@test.fr", "c1@test.fr"
PAGE = "/ressources?annee=2026"
FORM = {
    "annee": "2026",
    "quarters.1.total_fte": "5",
    "quarters.1.fte_by_mission.accompaniment": "3,5", "quarters.1.fte_by_mission.coordination": "0,75",
    "quarters.1.fte_by_mission.management": "0,5", "quarters.1.fte_by_mission.partnerships": "0,25",
    "quarters.1.title_holders": "2", "quarters.1.title_in_training": "",
    "funding.state": "120 000", "funding.agefiph": "60000", "funding.fiphp": "0", "funding.other": "0",
    "funding.other_label": "",
    "trainings.0.status": "delivered", "trainings.0.nature": "", "trainings.0.count": "",  # a blank row
    "trainings.1.status": "planned", "trainings.1.nature": "Méthode IPS", "trainings.1.count": "2",
}


def rows(settings) -> tuple[int, int]:
    with session_scope(settings.db_url) as session:
        return len(session.exec(select(ResourceQuarter)).all()), len(session.exec(select(ResourceYear)).all())


async def test_r20_a_manager_declares_the_resources_and_the_indicators_take_them(plain_pages, settings):
    await plain_pages.sign_in(MANAGER)
    page = await plain_pages.get(MANAGER, PAGE)
    assert page.status_code == 200
    text = unescape(page.text)
    assert '<a href="/ressources" aria-current="page">Ressources</a>' in text
    assert "Ressources de la plateforme : 2026" in text and "Formations non déclarées." in text

    saved = await plain_pages.submit(MANAGER, "/ressources", FORM, page=PAGE)
    assert saved.status_code == 303 and saved.headers["location"] == "/ressources?annee=2026&fait=1"
    shown = unescape((await plain_pages.get(MANAGER, saved.headers["location"])).text)
    assert "La déclaration des ressources de 2026 est enregistrée" in shown
    assert "3,5 ETP (70 %)" in shown and "120000 €" in shown
    assert "Méthode IPS : 2 (prévues pour l'année à suivre)" in shown
    assert 'name="quarters.1.fte_by_mission.coordination" value="0,75"' in shown  # the form shows the declaration
    assert rows(settings) == (1, 1)

    indicators = unescape((await plain_pages.get(MANAGER, "/indicateurs?annee=2026&trimestre=T1")).text)
    assert "Nombre total d'ETP affectés à la plateforme" in indicators
    assert "Répartition du temps de travail : accompagnement (%)" in indicators
    second = unescape((await plain_pages.get(MANAGER, "/indicateurs?annee=2026&trimestre=T2")).text)
    assert "Nombre total d'ETP affectés à la plateforme : non déclaré" in second  # Q2: the staff is not declared
    assert "non déclaré" not in indicators  # Q1: staff, funding and trainings all declared


async def test_r20_a_refused_declaration_shows_each_error_beside_its_field_and_writes_nothing(plain_pages, settings):
    await plain_pages.sign_in(MANAGER)
    wrong = {**FORM, "quarters.1.total_fte": "6", "funding.other": "10", "trainings.1.count": "deux"}
    refused = await plain_pages.submit(MANAGER, "/ressources", wrong, page=PAGE)
    assert refused.status_code == 422
    text = unescape(refused.text)
    assert "Le formulaire contient 3 erreurs" in text
    assert ('id="f-quarters-1-fte_by_mission-error"><span class="visually-hidden">Erreur : </span>Les ETP par '
            'mission du trimestre 1 (3,5 + 0,75 + 0,5 + 0,25 = 5) doivent faire l\'ETP total (6).') in text
    assert 'href="#f-funding-other_label"' in text
    # the list held the filled row only: its error is put back on row 1 of the form
    assert 'id="f-trainings-1-count-error"' in text and 'name="trainings.1.count" value="deux"' in text
    assert 'name="quarters.1.total_fte" value="6"' in text  # what was typed stays
    assert rows(settings) == (0, 0)


async def test_r20_the_resources_page_is_the_managers_only(plain_pages):
    await plain_pages.sign_in(C1)
    assert (await plain_pages.get(C1, "/ressources")).status_code == 404
    refused = await plain_pages.submit(C1, "/ressources", FORM, page="/")
    assert refused.status_code == 404
