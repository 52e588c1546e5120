"""R10, the convention individuelle, over HTTP with a real worker, a real Temporal dev server, a real
SMTP server and the database: drafted by the counsellor, rendered to HTML and PDF, signed by every
party through the personal links read out of the caught mails (in order and out of order), refused
then re-drafted, and the bad links (expired, used, tampered, foreign) refused with a French page."""
from __future__ import annotations

import asyncio
import io
import re
from datetime import datetime, timedelta, timezone

import pytest
from pypdf import PdfReader
from sqlmodel import func, select

from eaflow.signing import make_token, secret_key
from eaflow.store.convention import Signature, SigningToken
from eaflow.store.db import session_scope
from eaflow.store.models import AuditEvent
from tests.api.test_journeys_and_inbox import C1, MANAGER, TODAY, intake

pytestmark = pytest.mark.xdist_group("dev-server")

PERSON, EMPLOYER, REPRESENTATIVE = "lea.martin@example.fr", "rh@boulangerie-durand.fr", "tuteur@udaf35.fr"
MODALITIES = "Une visite par mois sur le poste, annoncée à l'employeur ; médiation avec l'équipe en cas de besoin."
EMPLOYER_IN = {"name": "Boulangerie Durand", "kind": "private", "email": EMPLOYER, "contact_name": "Paul Durand"}


async def admitted_to_convention(api, platform, **overrides) -> tuple[str, dict]:
    """A CDAPH orientation admitted with C1, evaluated: returns (journey id, the draft task)."""
    created = await api.request("POST", "/api/v1/journeys", MANAGER, json=intake(channel="cdaph", **overrides))
    assert created.status_code == 201, created.text
    journey_id = created.json()["id"]
    assign = await api.wait_task(journey_id, "assign_counsellor", MANAGER)
    done = await api.request("POST", f"/api/v1/tasks/{assign['id']}/complete", MANAGER,
                             json={"outcome": {"counsellor_id": platform.counsellor}})
    assert done.status_code == 200, done.text
    evaluation = await api.wait_task(journey_id, "shared_evaluation", C1)
    done = await api.request("POST", f"/api/v1/tasks/{evaluation['id']}/complete", C1, json={"outcome": {
        "evaluated_on": TODAY, "wishes": "Garder son poste de vendeuse", "needs": "Adapter les horaires",
        "resources": "Une collègue référente"}})
    assert done.status_code == 200, done.text
    draft = await api.wait_task(journey_id, "draft_convention", C1)
    return journey_id, draft


def draft_outcome(modalities: str = MODALITIES, **overrides) -> dict:
    outcome = {
        "workplace_modalities": modalities,
        "rhythm": "Un entretien toutes les deux semaines pendant trois mois, puis une fois par mois.",
        "objectives": "Sécuriser le maintien dans l'emploi.",
        "signs_for_person": "person",
        "person_signatory": {"name": "Léa Martin", "email": PERSON},
        "employer": {"name": "Boulangerie Durand", "signatory": {"name": "Paul Durand", "email": EMPLOYER,
                                                                 "quality": "gérant"}},
    }
    outcome.update(overrides)
    return outcome


def mails(smtp, kind: str, to: str | None = None) -> list:
    return [m for m in list(smtp.messages) if m["X-Eaflow-Kind"] == kind and (to is None or m["To"] == to)]


async def wait_mails(smtp, kind: str, to: str | None = None, count: int = 1, timeout: float = 30) -> list:
    for _ in range(int(timeout / 0.1)):
        found = mails(smtp, kind, to)
        if len(found) >= count:
            return found
        await asyncio.sleep(0.1)
    raise AssertionError(f"{len(mails(smtp, kind, to))} {kind} mail(s) to {to}, {count} expected")


def link_in(message) -> str:
    """The path of the personal link in a mail (public_url is http://test, the client's base URL)."""
    body = message.get_body(("plain",)).get_content()
    return re.search(r"http://test(/signature/\S+)", body).group(1)


async def wait_state(api, journey_id: str, state: str, timeout: float = 30) -> dict:
    for _ in range(int(timeout / 0.1)):
        journey = (await api.request("GET", f"/api/v1/journeys/{journey_id}", C1)).json()
        if journey["state"] == state:
            return journey
        await asyncio.sleep(0.1)
    raise AssertionError(f"{journey_id} is {journey['state']}, not {state}")


async def sign(api, path: str, name: str):
    return await api.http.post(path, data={"decision": "sign", "signer_name": name, "agree": "yes"},
                               headers={"User-Agent": "Navigateur de test/1.0"})


async def refuse(api, path: str, name: str, reason: str):
    return await api.http.post(path, data={"decision": "refuse", "signer_name": name, "reason": reason})


async def manager_signs(api, journey_id: str, outcome: dict | None = None):
    task = await api.wait_task(journey_id, "sign_convention", MANAGER)
    done = await api.request("POST", f"/api/v1/tasks/{task['id']}/complete", MANAGER,
                             json={"outcome": outcome or {"decision": "sign"}})
    assert done.status_code == 200, done.text
    return task


def pdf_text(data: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages)


def count(settings, model) -> int:
    with session_scope(settings.db_url) as session:
        return session.exec(select(func.count()).select_from(model)).one()


async def test_r10_drafted_signed_in_order_frozen_and_mailed_to_every_party(api, settings, smtp_server, platform):
    journey_id, draft = await admitted_to_convention(
        api, platform, situation="employed", employer=EMPLOYER_IN)

    # The draft is prefilled from the journey: the person, the employer and its contact.
    task = (await api.request("GET", f"/api/v1/tasks/{draft['id']}", C1)).json()
    assert task["assignee"]["id"] == platform.counsellor
    assert task["prefill"]["person_signatory"] == {"name": "Léa Martin", "email": PERSON, "quality": None}
    assert task["prefill"]["employer"]["signatory"]["name"] == "Paul Durand"
    assert "Garder son poste" in task["prefill"]["objectives"]
    assert "workplace_modalities" in task["outcome_schema"]["properties"]
    journey = (await api.request("GET", f"/api/v1/journeys/{journey_id}", C1)).json()
    assert journey["state"] == "convention" and journey["convention"]["status"] == "drafting"
    await wait_mails(smtp_server, "convention_to_draft", "c1@test.fr")

    invalid = await api.request("POST", f"/api/v1/tasks/{draft['id']}/complete", C1, json={"outcome": draft_outcome(
        employer={"name": "Boulangerie Durand"})})
    assert invalid.status_code == 422 and invalid.json()["errors"][0]["field"] == "outcome.employer"
    done = await api.request("POST", f"/api/v1/tasks/{draft['id']}/complete", C1, json={"outcome": draft_outcome()})
    assert done.status_code == 200, done.text

    # Each external party gets a personal link; the platform signs through a manager's task.
    [to_person] = await wait_mails(smtp_server, "convention_to_sign", PERSON)
    [to_employer] = await wait_mails(smtp_server, "convention_to_sign", EMPLOYER)
    await wait_mails(smtp_server, "convention_platform_to_sign", "plateforme35@test.fr")
    person_link, employer_link = link_in(to_person), link_in(to_employer)
    assert person_link != employer_link

    shown = await api.http.get(person_link)
    assert shown.status_code == 200 and "text/html" in shown.headers["content-type"]
    assert "Convention individuelle d&#39;accompagnement" in shown.text or "Convention individuelle" in shown.text
    assert "Une visite par mois sur le poste" in shown.text and "Article 5" in shown.text  # the veille clause
    assert "Vos données personnelles" in shown.text  # R22
    assert shown.text.count("<form") == 2
    preview = await api.http.get(f"{person_link}/convention.pdf")
    assert preview.headers["content-type"] == "application/pdf" and "Paul Durand" in pdf_text(preview.content)

    signed = await sign(api, person_link, "Léa Martin")
    assert signed.status_code == 200 and "signature est enregistrée" in signed.text, signed.text
    again = await sign(api, person_link, "Léa Martin")
    assert again.status_code == 410 and "déjà servi" in again.text
    assert (await sign(api, employer_link, "Paul Durand")).status_code == 200
    journey = (await api.request("GET", f"/api/v1/journeys/{journey_id}", C1)).json()
    assert journey["state"] == "convention"  # the platform has not signed yet
    await manager_signs(api, journey_id)

    # Every party signed: frozen, mailed with the signed PDF, and the accompaniment begins.
    journey = await wait_state(api, journey_id, "accompaniment")
    assert journey["convention"]["status"] == "signed" and journey["convention"]["signed_on"] == TODAY
    convention = (await api.request("GET", f"/api/v1/journeys/{journey_id}/convention", C1)).json()
    assert convention["status"] == "signed" and convention["signed_version"] == 1
    [version] = convention["versions"]
    assert version["status"] == "signed" and len(version["signed_pdf_hash"]) == 64
    assert {p["role"] for p in convention["parties"]} == {"platform", "person", "employer"}
    assert all(p["signed_at"] for p in convention["parties"])
    by_role = {s["role"]: s for s in convention["signatures"]}
    assert by_role["person"]["signer_name"] == "Léa Martin" and by_role["person"]["via"] == "link"
    assert by_role["person"]["ip"] and by_role["person"]["user_agent"] == "Navigateur de test/1.0"
    assert by_role["platform"]["via"] == "task" and by_role["platform"]["user_id"] == platform.manager

    copies = await wait_mails(smtp_server, "convention_signed", count=3)
    assert {m["To"] for m in copies} == {PERSON, EMPLOYER, "plateforme35@test.fr"}
    for copy in copies:
        [attachment] = list(copy.iter_attachments())
        assert attachment.get_content_type() == "application/pdf"
        text = pdf_text(attachment.get_content())
        assert "Léa Martin" in text and "Paul Durand" in text and "Boulangerie Durand" in text
        assert "Une visite par mois sur le poste" in text
        assert "Maëlle Manager" in text and "Attestation de signature" in text
    pdf = await api.request("GET", f"/api/v1/journeys/{journey_id}/convention.pdf", C1)
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    import hashlib

    assert hashlib.sha256(pdf.content).hexdigest() == version["signed_pdf_hash"]
    page = await api.request("GET", f"/api/v1/journeys/{journey_id}/convention.html", C1)
    assert page.status_code == 200 and "Modalités d&#39;intervention" in page.text or "Modalités" in page.text
    assert (await api.request("GET", f"/api/v1/journeys/{journey_id}/convention", "c2@test.fr")).status_code == 404
    assert (await api.request("GET", f"/api/v1/journeys/{journey_id}/convention",
                              "prescripteur@test.fr")).status_code == 403
    assert (await sign(api, employer_link, "Paul Durand")).status_code == 410  # used: nothing changes

    history = (await api.request("GET", f"/api/v1/journeys/{journey_id}/history", MANAGER)).json()["items"]
    actions = [e["action"] for e in history]
    for expected in ("convention_started", "convention_drafted", "convention_sent_for_signature",
                     "convention_signed_by_party", "convention_frozen", "convention_signed", "convention_read"):
        assert expected in actions, (expected, actions)
    assert [e for e in history if e["action"] == "convention_signed_by_party"][0]["actor_kind"] == "link"


async def test_r10_out_of_order_refusal_then_redraft_and_the_replaced_version_refused(
        api, settings, smtp_server, platform):
    journey_id, draft = await admitted_to_convention(
        api, platform, situation="employed", employer=EMPLOYER_IN)
    await api.request("POST", f"/api/v1/tasks/{draft['id']}/complete", C1, json={"outcome": draft_outcome()})
    person_v1 = link_in((await wait_mails(smtp_server, "convention_to_sign", PERSON))[0])
    employer_v1 = link_in((await wait_mails(smtp_server, "convention_to_sign", EMPLOYER))[0])

    # Out of order: the platform first, then the employer refuses, with a reason.
    await manager_signs(api, journey_id)
    incomplete = await refuse(api, employer_v1, "Paul Durand", "   ")
    assert incomplete.status_code == 422 and "pourquoi" in incomplete.text
    reason = "Les visites doivent être annoncées une semaine à l'avance."
    refused = await refuse(api, employer_v1, "Paul Durand", reason)
    assert refused.status_code == 200 and "refus est enregistré" in refused.text, refused.text

    # Back to the counsellor: a re-draft task with the reason, and a mail.
    [alert] = await wait_mails(smtp_server, "convention_refused", "c1@test.fr")
    assert reason in alert.get_body(("plain",)).get_content()
    for _ in range(100):
        tasks = (await api.request("GET", "/api/v1/tasks", C1, params={"journey_id": journey_id,
                                                                       "kind": "draft_convention"})).json()["items"]
        if tasks:
            break
        await asyncio.sleep(0.1)
    redraft = (await api.request("GET", f"/api/v1/tasks/{tasks[0]['id']}", C1)).json()
    assert redraft["id"] != draft["id"]
    assert redraft["context"]["refusal"]["reason"] == reason and redraft["context"]["refusal"]["role"] == "employer"
    assert redraft["prefill"]["workplace_modalities"] == MODALITIES  # the re-draft starts from version 1
    journey = (await api.request("GET", f"/api/v1/journeys/{journey_id}", C1)).json()
    assert journey["state"] == "convention" and journey["convention"]["status"] == "drafting"
    # The person's version-1 link is still unused, but its version was refused: nothing to sign.
    assert (await sign(api, person_v1, "Léa Martin")).status_code == 409

    new_modalities = "Une visite par mois, annoncée une semaine à l'avance à l'employeur."
    done = await api.request("POST", f"/api/v1/tasks/{redraft['id']}/complete", C1,
                             json={"outcome": draft_outcome(new_modalities)})
    assert done.status_code == 200, done.text
    person_v2 = link_in((await wait_mails(smtp_server, "convention_to_sign", PERSON, count=2))[1])
    employer_v2 = link_in((await wait_mails(smtp_server, "convention_to_sign", EMPLOYER, count=2))[1])
    replaced = await sign(api, person_v1, "Léa Martin")
    assert replaced.status_code == 409 and "remplacée" in replaced.text  # a version that v2 replaced

    # Version 2, out of order again: the employer, the platform, then the person.
    assert (await sign(api, employer_v2, "Paul Durand")).status_code == 200
    await manager_signs(api, journey_id)
    assert (await sign(api, person_v2, "Léa Martin")).status_code == 200
    journey = await wait_state(api, journey_id, "accompaniment")
    assert journey["convention"] == {"status": "signed", "signed_on": TODAY, "version": 2, "avenant": None}
    convention = (await api.request("GET", f"/api/v1/journeys/{journey_id}/convention", MANAGER)).json()
    assert [(v["number"], v["kind"], v["status"]) for v in convention["versions"]] == [
        (1, "initial", "refused"), (2, "redraft", "signed")]
    first, second = convention["versions"]
    assert first["content_hash"] != second["content_hash"] and first["superseded_at"]
    assert [s["decision"] for s in first["signatures"] if s["role"] == "employer"] == ["refused"]
    old = await api.request("GET", f"/api/v1/journeys/{journey_id}/convention.html", MANAGER, params={"version": 1})
    assert "Une visite par mois sur le poste" in old.text  # every version stays readable
    copies = await wait_mails(smtp_server, "convention_signed", count=3)
    text = pdf_text(next(copies[0].iter_attachments()).get_content())
    assert "annoncée une semaine à l'avance" in text and "Léa Martin" in text


async def test_r10_bad_links_get_a_french_page_and_change_nothing(api, settings, smtp_server, platform):
    representative = {"name": "Jeanne Tutrice", "email": REPRESENTATIVE, "kind": "tutelle"}
    person = {"first_name": "Léa", "last_name": "Martin", "birth_date": "1995-04-12", "email": PERSON,
              "legal_representative": representative}
    journey_id, draft = await admitted_to_convention(
        api, platform, person=person, situation="employed",
        employer={"name": "Atelier Martin", "kind": "self_employed"})
    task = (await api.request("GET", f"/api/v1/tasks/{draft['id']}", C1)).json()
    assert task["prefill"]["signs_for_person"] == "legal_representative"
    assert task["prefill"]["person_signatory"]["email"] == REPRESENTATIVE
    assert task["prefill"]["employer"] == {"name": "Atelier Martin", "self_employed": True, "signatory": None}
    done = await api.request("POST", f"/api/v1/tasks/{draft['id']}/complete", C1, json={"outcome": task["prefill"] | {
        "workplace_modalities": "Appui à l'organisation de l'activité indépendante.", "rhythm": "Mensuel"}})
    assert done.status_code == 200, done.text
    link = link_in((await wait_mails(smtp_server, "convention_to_sign", REPRESENTATIVE))[0])
    convention = (await api.request("GET", f"/api/v1/journeys/{journey_id}/convention", C1)).json()
    # Self-employed: the representative signs for the person, who is also the employer; no other party.
    assert [p["role"] for p in convention["parties"]] == ["platform", "legal_representative"]
    assert "employeur" in convention["parties"][1]["label"]

    _, _, convention_id, token = link.split("/")
    token_id, expires, mac = token.split(".")
    other_id, _ = await admitted_to_convention(api, platform)
    other_convention = f"{other_id}-cv"
    past = datetime.now(timezone.utc) - timedelta(minutes=1)
    bad = {
        "tampered": (f"/signature/{convention_id}/{token_id}.{expires}.{mac[:-2]}xx", 404, "modifié"),
        "extended": (f"/signature/{convention_id}/{token_id}.{int(expires) + 86400}.{mac}", 404, "modifié"),
        "malformed": (f"/signature/{convention_id}/n-importe-quoi", 404, "pas valide"),
        "foreign": (f"/signature/{other_convention}/{token}", 403, "ne correspond pas"),
        "expired": (f"/signature/{convention_id}/"
                    f"{make_token(secret_key(settings), convention_id, token_id, past)}", 410, "expiré"),
    }
    for name, (path, status, words) in bad.items():
        for response in (await api.http.get(path), await sign(api, path, "Jeanne Tutrice")):
            assert response.status_code == status, (name, response.status_code, response.text)
            assert words in response.text and "text/html" in response.headers["content-type"], name
            assert '<html lang="fr">' in response.text
    assert count(settings, Signature) == 0
    with session_scope(settings.db_url) as session:
        assert session.exec(select(SigningToken).where(SigningToken.used_at.is_not(None))).all() == []

    assert (await sign(api, link, "Jeanne Tutrice")).status_code == 200
    used = await sign(api, link, "Jeanne Tutrice")
    assert used.status_code == 410 and "déjà servi" in used.text
    assert count(settings, Signature) == 1
    with session_scope(settings.db_url) as session:
        events = session.exec(select(AuditEvent).where(AuditEvent.journey_id == journey_id,
                                                       AuditEvent.action == "convention_signed_by_party")).all()
    assert len(events) == 1 and events[0].detail["party"] == "legal_representative"


async def test_r15_r10_a_file_closed_while_the_links_are_out_refuses_them(api, settings, smtp_server, platform):
    """A death recorded while the convention waits for its signatures: the links already sent open a
    French page saying the file is closed, and a signature through them records nothing."""
    journey_id, draft = await admitted_to_convention(api, platform)
    done = await api.request("POST", f"/api/v1/tasks/{draft['id']}/complete", C1, json={"outcome": draft_outcome()})
    assert done.status_code == 200, done.text
    link = link_in((await wait_mails(smtp_server, "convention_to_sign", PERSON))[0])
    assert (await api.http.get(link)).status_code == 200

    closed = await api.request("POST", f"/api/v1/journeys/{journey_id}/exit", MANAGER,
                               json={"reason": "death", "details": {"on": TODAY}, "analysis": ""})
    assert closed.status_code == 200, closed.text
    await wait_state(api, journey_id, "exited")
    page = await api.http.get(link)
    assert page.status_code == 410 and "Dossier clos" in page.text and "nouveau lien" not in page.text
    assert (await sign(api, link, "Léa Martin")).status_code == 410
    assert count(settings, Signature) == 0


async def test_r10_the_employer_of_a_person_in_employment_is_a_party_to_the_convention(
        api, settings, smtp_server, platform):
    """The convention is concluded "entre la plateforme, la personne accompagnée et l'employeur" (§IV.C):
    a draft that leaves out the employer of a person in employment is refused beside the employer
    field, with the rule; the self-employed sign as their own employer."""
    journey_id, draft = await admitted_to_convention(api, platform, situation="employed", employer=EMPLOYER_IN)
    url = f"/api/v1/tasks/{draft['id']}/complete"
    refused = await api.request("POST", url, C1, json={"outcome": draft_outcome(employer=None)})
    assert refused.status_code == 422, refused.text
    problem = refused.json()
    assert problem["rule"] == "R10"
    assert problem["errors"][0]["field"] == "outcome.employer" and "employeur" in problem["errors"][0]["message"]
    task = (await api.request("GET", f"/api/v1/tasks/{draft['id']}", C1)).json()
    assert task["status"] == "open"
    assert (await api.request("GET", f"/api/v1/journeys/{journey_id}/convention", C1)).json()["status"] == "drafting"
    done = await api.request("POST", url, C1, json={"outcome": draft_outcome(
        employer={"name": "Léa Martin, création de bijoux", "self_employed": True})})
    assert done.status_code == 200, done.text

    # A person seeking at intake who starts a job before the draft: the open episode makes the
    # employer a party, and the draft starts from it.
    journey_id, draft = await admitted_to_convention(api, platform)
    opened = await api.request("POST", f"/api/v1/journeys/{journey_id}/employment", C1, json={
        "action": "open", "employer": {"name": "Mairie de Rennes", "type": "public"}, "contract_type": "cdd",
        "started_on": TODAY})
    assert opened.status_code == 201, opened.text
    task = (await api.request("GET", f"/api/v1/tasks/{draft['id']}", C1)).json()
    assert task["prefill"]["employer"]["name"] == "Mairie de Rennes"
    assert task["prefill"]["employer"]["self_employed"] is False
    refused = await api.request("POST", f"/api/v1/tasks/{draft['id']}/complete", C1,
                                json={"outcome": draft_outcome(employer=None)})
    assert refused.status_code == 422 and refused.json()["errors"][0]["field"] == "outcome.employer"
    done = await api.request("POST", f"/api/v1/tasks/{draft['id']}/complete", C1, json={"outcome": draft_outcome(
        employer={"name": "Mairie de Rennes", "signatory": {"name": "Anne Le Goff", "email": "rh@rennes.fr"}})})
    assert done.status_code == 200, done.text
