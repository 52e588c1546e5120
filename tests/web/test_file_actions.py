"""The actions of a person's file through the pages, each over the API's own service: contacts
(R13: corrected, deleted with a reason), employment (R16), rights (R19), avenant (R10), veille and
its end (R14), a paper signature with its scan (R10); every read of the file traced (R22); claim,
give back and saved views in the inbox; French HTML errors."""
from __future__ import annotations

import asyncio
import re
from datetime import date

import pytest
from sqlmodel import select

from eaflow.store.accompaniment import Contact, EmploymentEpisode
from eaflow.store.accounts import SavedView
from eaflow.store.convention import Signature, SignatureScan
from eaflow.store.db import session_scope
from eaflow.store.models import AuditEvent, Journey, Task
from tests.api.test_contacts import admitted_journey
from tests.api.test_convention import admitted_to_convention, draft_outcome
from tests.api.test_employment import in_accompaniment

pytestmark = pytest.mark.xdist_group("dev-server")

C1, C2 = "c1@test.fr", "c2@test.fr"
TODAY = date.today().isoformat()
CONTACT = {"occurred_on": TODAY, "duration_minutes": "45", "place": "service", "channel": "phone",
           "participants": "person", "reached": "true", "interview": "false", "note": "Point d'étape."}


def rows(settings, model, *where) -> list:
    with session_scope(settings.db_url) as session:
        return list(session.exec(select(model).where(*where)).all())


def state(settings, journey_id: str) -> str:
    with session_scope(settings.db_url) as session:
        return session.get(Journey, journey_id).state


async def test_r13_r16_r19_r10_r14_r22_the_files_actions(pages, settings, smtp_server, platform):
    journey_id = await in_accompaniment(pages.api, smtp_server, platform)
    await pages.sign_in(C1)
    reads = len(rows(settings, AuditEvent, AuditEvent.journey_id == journey_id, AuditEvent.action == "journey_read"))
    file = await pages.get(C1, f"/parcours/{journey_id}")
    assert file.status_code == 200 and "Léa Martin" in file.text and "Accompagnement en cours" in file.text
    [read] = rows(settings, AuditEvent, AuditEvent.journey_id == journey_id, AuditEvent.action == "journey_read",
                  AuditEvent.id > 0)[reads:]
    assert read.actor_id == platform.counsellor  # R22: the page's read is traced with its reader

    base = f"/parcours/{journey_id}"
    added = await pages.submit(C1, f"{base}/contacts/nouveau", CONTACT)
    assert added.status_code == 303 and added.headers["location"] == f"{base}?fait=contact"
    [contact] = rows(settings, Contact, Contact.journey_id == journey_id)
    edit = await pages.get(C1, f"{base}/contacts/{contact.id}/modifier")
    assert 'value="45"' in edit.text  # the form starts from the contact
    fixed = await pages.submit(C1, f"{base}/contacts/{contact.id}/modifier", {**CONTACT, "duration_minutes": "60"})
    assert fixed.status_code == 303
    assert rows(settings, Contact, Contact.id == contact.id)[0].duration_minutes == 60
    no_reason = await pages.submit(C1, f"{base}/contacts/{contact.id}/supprimer", {"reason": "  "})
    assert no_reason.status_code == 422 and 'id="f-reason-error"' in no_reason.text
    assert rows(settings, Contact, Contact.id == contact.id)[0].deleted_at is None
    deleted = await pages.submit(C1, f"{base}/contacts/{contact.id}/supprimer", {"reason": "Saisi deux fois"})
    assert deleted.status_code == 303
    [trace] = rows(settings, AuditEvent, AuditEvent.journey_id == journey_id, AuditEvent.action == "contact_deleted")
    assert trace.detail["reason"] == "Saisi deux fois"

    # R16: a new job (another employer: an avenant is asked), then its end.
    opened = await pages.submit(C1, f"{base}/emploi/nouveau", {
        "employer.name": "Fromagerie Lemoine", "employer.type": "private", "contract_type": "cdd",
        "working_hours": "20 h / semaine", "started_on": TODAY})
    assert opened.status_code == 303, opened.text
    [episode] = [e for e in rows(settings, EmploymentEpisode, EmploymentEpisode.journey_id == journey_id)
                 if e.employer_name == "Fromagerie Lemoine"]
    closed = await pages.submit(C1, f"{base}/emploi/{episode.id}/cloturer",
                                {"ended_on": TODAY, "end_reason": "end_of_fixed_term"})
    assert closed.status_code == 303, closed.text
    assert rows(settings, EmploymentEpisode, EmploymentEpisode.id == episode.id)[0].end_reason == "end_of_fixed_term"

    # R19: a rights event; a date in the future is refused beside its field, as by the API.
    future = await pages.submit(C1, f"{base}/droits/renewal_filed", {"right": "rqth", "on": "2099-01-01"})
    assert future.status_code == 422 and "field-error" in future.text
    filed = await pages.submit(C1, f"{base}/droits/renewal_filed", {"right": "rqth", "on": TODAY})
    assert filed.status_code == 303, filed.text

    # R10: an avenant asked; R14: a veille, and its end.
    asked = await pages.submit(C1, f"{base}/avenant", {"kind": "legal_representative",
                                                        "summary": "Une mesure de curatelle est prononcée."})
    assert asked.status_code == 303, asked.text
    too_long = await pages.submit(C1, f"{base}/veille", {
        "requested_by": "person", "agreement.on": TODAY, "agreement.how": "Courriel",
        "until": "2099-01-01", "reactivation_conditions": "À sa demande."})
    assert too_long.status_code == 422 and 'id="f-until-error"' in too_long.text
    assert state(settings, journey_id) == "accompaniment"
    veille = await pages.submit(C1, f"{base}/veille", {
        "requested_by": "person", "agreement.on": TODAY, "agreement.how": "Courriel",
        "until": date.fromordinal(date.today().toordinal() + 30).isoformat(),
        "reactivation_conditions": "À sa demande."})
    assert veille.status_code == 303, veille.text
    assert state(settings, journey_id) == "veille"
    back = await pages.submit(C1, f"{base}/reprise", {"reason": "Fin de sa formation"})
    assert back.status_code == 303, back.text
    assert state(settings, journey_id) == "accompaniment"

    # An action the state does not allow, an unknown one: French pages, nothing done.
    assert (await pages.get(C1, f"{base}/reprise")).status_code == 409
    assert (await pages.get(C1, f"{base}/nimporte-quoi")).status_code == 404
    assert (await pages.get(C1, f"{base}/convention/signature-papier")).status_code == 409


async def wait_until_signing(api, journey_id: str) -> None:
    for _ in range(200):
        convention = (await api.request("GET", f"/api/v1/journeys/{journey_id}/convention", C1)).json()
        if convention["status"] == "signing":
            return
        await asyncio.sleep(0.1)
    raise AssertionError("the convention was never sent for signature")


async def test_r10_a_paper_signature_with_its_scan_from_the_page(pages, settings, smtp_server, platform):
    journey_id, draft = await admitted_to_convention(pages.api, platform)
    done = await pages.api.request("POST", f"/api/v1/tasks/{draft['id']}/complete", C1,
                                   json={"outcome": draft_outcome(employer=None)})
    assert done.status_code == 200, done.text
    await wait_until_signing(pages.api, journey_id)
    await pages.sign_in(C1)
    url = f"/parcours/{journey_id}/convention/signature-papier"
    form = await pages.get(C1, url)
    assert form.status_code == 200 and "Enregistrer une signature sur papier" in form.text
    person_party = re.search(r'name="party_id" value="([^"]+)"', form.text).group(1)
    fields = {"version": "1", "party_id": person_party, "signer_name": "Léa Martin", "signed_on": TODAY,
              "decision": "signed"}
    text = await pages.submit(C1, url, fields, files={"scan": ("scan.pdf", b"pas un PDF", "application/pdf")})
    assert text.status_code == 415 and 'id="scan-error"' in text.text
    assert rows(settings, Signature, Signature.via == "paper") == []
    signed = await pages.submit(C1, url, fields, files={"scan": ("scan.pdf", b"%PDF-1.4 signe", "application/pdf")})
    assert signed.status_code == 303, signed.text
    [signature] = rows(settings, Signature, Signature.via == "paper")
    assert signature.status == "accepted" and rows(settings, SignatureScan)[0].data.startswith(b"%PDF-")


async def test_the_inbox_gives_back_takes_and_saves_views(pages, settings, platform):
    journey_id = await admitted_journey(pages.api, platform)
    await pages.sign_in(C1)
    [task] = rows(settings, Task, Task.journey_id == journey_id, Task.kind == "shared_evaluation")
    given = await pages.submit(C1, f"/taches/{task.id}/rendre", {"retour": "/"}, page="/")
    assert given.status_code == 303
    assert rows(settings, Task, Task.id == task.id)[0].assignee_id is None
    inbox = await pages.get(C1, "/")
    assert "Tâches de l'équipe à prendre" in inbox.text and f"/taches/{task.id}/prendre" in inbox.text
    taken = await pages.submit(C1, f"/taches/{task.id}/prendre", {"retour": "/"}, page="/")
    assert taken.status_code == 303
    assert rows(settings, Task, Task.id == task.id)[0].assignee_id == platform.counsellor

    saved = await pages.submit(C1, "/vues", {"name": "Évaluations", "kind": "shared_evaluation", "avant": "",
                                             "personne": "léa"}, page="/")
    assert saved.status_code == 303
    [view] = rows(settings, SavedView)
    assert view.filters == {"kind": "shared_evaluation", "person": "léa"}
    filtered = await pages.get(C1, "/?kind=shared_evaluation&personne=l%C3%A9a")
    assert "Réaliser l&#39;évaluation partagée" in filtered.text and "Évaluations" in filtered.text
    assert (await pages.submit(C1, f"/vues/{view.id}/supprimer", {}, page="/")).status_code == 303
    bad_date = await pages.get(C1, "/?avant=31-02-2026")
    assert bad_date.status_code == 200 and 'href="#f-due_before"' in bad_date.text
    assert rows(settings, SavedView) == []


async def test_unknown_addresses_answer_a_french_page_to_browsers_and_json_to_clients(plain_pages):
    page = await plain_pages.get("anyone", "/nulle-part")
    assert page.status_code == 404 and page.headers["content-type"].startswith("text/html")
    assert "Page introuvable" in page.text
    api = await plain_pages.api.http.get("/api/v1/nulle-part")
    assert api.status_code == 404 and api.headers["content-type"] == "application/problem+json"
