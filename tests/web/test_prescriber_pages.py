"""The prescribers' workspace over HTTP, on a real stack: the intake form (R1–R5) drawn from the API's
model, its refusals in French, and the outcome only of the persons they sent (R22)."""
from __future__ import annotations

import re
from datetime import date
from html import unescape

import pytest
from sqlmodel import func, select

from eaflow.store.db import session_scope
from eaflow.store.models import Journey


def text(response) -> str:
    return unescape(response.text)


pytestmark = pytest.mark.xdist_group("dev-server")

PRESCRIBER, C1 = "prescripteur@test.fr", "c1@test.fr"
TODAY = date.today().isoformat()


def form(**overrides) -> dict[str, str]:
    fields = {
        "person.first_name": "Inès", "person.last_name": "Moreau", "person.birth_date": "1998-06-01",
        "person.email": "ines.moreau@example.fr", "person.phone": "", "channel": "france_travail",
        "urgent": "false", "prescribed_on": TODAY, "situation": "seeking", "rights.rqth_until": "2030-01-31",
        "rights.rqth_permanent": "false", "rights.boe_category": "",
        "subsidiarity_reason": "Un appui durable dans l'emploi que le droit commun n'offre pas.",
        "other_support": "", "other_support_justification": "", "consent.given_on": TODAY, "consent.by": "person",
    }
    fields.update(overrides)
    return fields


def journeys(settings) -> int:
    with session_scope(settings.db_url) as session:
        return int(session.exec(select(func.count()).select_from(Journey)).one())


async def test_r1_r3_r5_the_prescriber_sends_a_person_in_and_sees_a_refusal_in_french(pages, settings, platform):
    await pages.sign_in(PRESCRIBER)
    home = await pages.get(PRESCRIBER, "/")
    assert home.status_code == 303 and home.headers["location"] == "/prescriptions"
    page = await pages.get(PRESCRIBER, "/prescriptions/nouvelle")
    assert page.status_code == 200 and "Date de naissance" in text(page) and "Consentement" in text(page)

    # Malformed: each error beside its field, nothing recorded.
    invalid = await pages.submit(PRESCRIBER, "/prescriptions/nouvelle",
                                 form(**{"person.first_name": "", "person.birth_date": "31/02/2001"}),
                                 page="/prescriptions/nouvelle")
    assert invalid.status_code == 422, text(invalid)
    assert "Le formulaire contient 2 erreurs" in text(invalid) and 'value="Moreau"' in text(invalid)
    assert journeys(settings) == 0

    sent = await pages.submit(PRESCRIBER, "/prescriptions/nouvelle", form(), page="/prescriptions/nouvelle")
    assert sent.status_code == 303, text(sent)
    outcome = await pages.get(PRESCRIBER, sent.headers["location"])
    assert "Prescription envoyée à la plateforme" in text(outcome) and "Moreau" in text(outcome)
    assert "En cours d'examen" in text(outcome) or "En liste d'attente" in text(outcome)

    # R1: fifteen years old: recorded, refused, and the prescriber reads why.
    young = date.today().replace(year=date.today().year - 15).isoformat()
    refused = await pages.submit(PRESCRIBER, "/prescriptions/nouvelle",
                                 form(**{"person.first_name": "Jules", "person.birth_date": young}),
                                 page="/prescriptions/nouvelle")
    assert refused.status_code == 303, text(refused)
    why = await pages.get(PRESCRIBER, refused.headers["location"])
    assert "Non retenue" in text(why) and "Règle R1 du cahier des charges" in text(why)
    assert "16 ans" in text(why)

    listed = await pages.get(PRESCRIBER, "/prescriptions")
    assert "Moreau Inès" not in text(listed) and "Inès Moreau" in text(listed) and "Jules Moreau" in text(listed)
    assert journeys(settings) == 2
    # The outcome only: no file, no task, no counsellor's note.
    journey_id = sent.headers["location"].split("/")[2].split("?")[0]
    assert (await pages.get(PRESCRIBER, f"/parcours/{journey_id}")).status_code == 404
    assert (await pages.get(PRESCRIBER, "/liste-attente")).status_code == 404
    # Someone else's prescription is not there.
    await pages.sign_in(C1)
    assert (await pages.get(C1, f"/prescriptions/{journey_id}")).status_code == 404


async def test_r3_the_form_sent_twice_starts_one_journey(pages, settings, platform):
    await pages.sign_in(PRESCRIBER)
    page = await pages.get(PRESCRIBER, "/prescriptions/nouvelle")
    key = re.search(r'name="cle" value="([^"]+)"', text(page)).group(1)
    first = await pages.submit(PRESCRIBER, "/prescriptions/nouvelle", {**form(), "cle": key}, page="/prescriptions/nouvelle")
    again = await pages.submit(PRESCRIBER, "/prescriptions/nouvelle", {**form(), "cle": key}, page="/prescriptions/nouvelle")
    assert first.status_code == again.status_code == 303
    assert first.headers["location"].split("?")[0] == again.headers["location"].split("?")[0]
    assert journeys(settings) == 1


async def test_what_cannot_be_true_is_refused_beside_its_field_on_the_page(pages, settings, platform):
    """Issue 18 on the pages: the same bounds as the API, each message beside its field, the values kept."""
    await pages.sign_in(PRESCRIBER)
    refused = await pages.submit(PRESCRIBER, "/prescriptions/nouvelle",
                                 form(**{"person.birth_date": "0096-05-17", "rights.rqth_until": "9999-12-31",
                                         "person.last_name": "Moreau\u200f"}),
                                 page="/prescriptions/nouvelle")
    assert refused.status_code == 422, text(refused)
    assert "invisible" in text(refused)  # the name is refused first, by the form's model
    fixed = await pages.submit(PRESCRIBER, "/prescriptions/nouvelle",
                               form(**{"person.birth_date": "0096-05-17", "rights.rqth_until": "9999-12-31"}),
                               page="/prescriptions/nouvelle")
    assert fixed.status_code == 422, text(fixed)
    shown = text(fixed)
    assert "Le formulaire contient 2 erreurs" in shown and "120 ans" in shown and "sans limitation de durée" in shown
    assert 'value="Moreau"' in shown and journeys(settings) == 0
