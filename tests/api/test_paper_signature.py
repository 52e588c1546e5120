"""R10, a party's signature on paper recorded by the counsellor with its scan, over HTTP with a real
worker, a real Temporal dev server, a real SMTP server and the database: the person signs on paper,
the employer by link, the platform by its task; bad scans (too big, wrong type, empty) and bad dates
write nothing; a paper signature of a replaced version is refused and kept as rejected; the scan
downloads back identical and every read of it is traced (R22)."""
from __future__ import annotations

import hashlib
from datetime import timedelta

import pytest
from sqlmodel import select

from eaflow.api.paper_signatures import FORM_OVERHEAD
from eaflow.services.signatures import MAX_SCAN_BYTES, paris_today
from eaflow.store.convention import Signature, SignatureScan
from eaflow.store.db import session_scope
from tests.api.test_convention import (
    EMPLOYER,
    EMPLOYER_IN,
    PERSON,
    admitted_to_convention,
    count,
    draft_outcome,
    link_in,
    manager_signs,
    pdf_text,
    refuse,
    sign,
    wait_mails,
    wait_state,
)
from tests.api.test_journeys_and_inbox import C1, C2, MANAGER, PRESCRIBER

pytestmark = pytest.mark.xdist_group("dev-server")

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR"
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00"


def paper_url(journey_id: str) -> str:
    return f"/api/v1/journeys/{journey_id}/convention/paper-signatures"


async def paper(api, journey_id: str, scan: tuple[str, bytes, str], as_: str = C1, **fields):
    data = {"version": "1", "signer_name": "Léa Martin", "signed_on": paris_today().isoformat()} | fields
    return await api.request("POST", paper_url(journey_id), as_, data=data, files={"scan": scan})


async def parties(api, journey_id: str) -> dict[str, dict]:
    convention = (await api.request("GET", f"/api/v1/journeys/{journey_id}/convention", C1)).json()
    return {p["role"]: p for p in convention["parties"]}


def problem_field(response) -> str:
    assert response.headers["content-type"] == "application/problem+json", response.text
    return response.json()["errors"][0]["field"]


async def test_r10_person_signs_on_paper_employer_by_link_platform_by_task(api, settings, smtp_server, platform):
    journey_id, draft = await admitted_to_convention(api, platform, situation="employed", employer=EMPLOYER_IN)
    done = await api.request("POST", f"/api/v1/tasks/{draft['id']}/complete", C1, json={"outcome": draft_outcome()})
    assert done.status_code == 200, done.text
    person_link = link_in((await wait_mails(smtp_server, "convention_to_sign", PERSON))[0])
    employer_link = link_in((await wait_mails(smtp_server, "convention_to_sign", EMPLOYER))[0])
    person = (await parties(api, journey_id))["person"]

    # The person signed the printed convention; the counsellor uploads its scan (a real PDF).
    scan = (await api.request("GET", f"/api/v1/journeys/{journey_id}/convention.pdf", C1)).content
    recorded = await paper(api, journey_id, ("convention-signee.pdf", scan, "application/octet-stream"),
                           party_id=person["id"])
    assert recorded.status_code == 201, recorded.text
    body = recorded.json()
    assert body["party"] == {"id": person["id"], "role": "person", "label": person["label"]}
    assert (body["decision"], body["via"], body["status"], body["signer_name"]) == (
        "signed", "paper", "accepted", "Léa Martin")
    assert body["user_id"] == platform.counsellor and body["at"][:10] == paris_today().isoformat()
    assert {k: body["scan"][k] for k in ("content_type", "size", "sha256")} == {
        "content_type": "application/pdf", "size": len(scan), "sha256": hashlib.sha256(scan).hexdigest()}
    scan_url = body["scan"]["url"]

    # The person's link has nothing left to sign; the employer signs by link, the platform by its task.
    answered = await sign(api, person_link, "Léa Martin")
    assert answered.status_code == 409 and "déjà répondu" in answered.text
    assert (await sign(api, employer_link, "Paul Durand")).status_code == 200
    await manager_signs(api, journey_id)
    journey = await wait_state(api, journey_id, "accompaniment")
    assert journey["convention"]["status"] == "signed"

    convention = (await api.request("GET", f"/api/v1/journeys/{journey_id}/convention", C1)).json()
    by_role = {s["role"]: s for s in convention["signatures"]}
    assert by_role["person"]["via"] == "paper" and by_role["person"]["scan_url"] == scan_url
    assert by_role["person"]["user_id"] == platform.counsellor and by_role["person"]["id"] == body["id"]
    assert by_role["employer"]["via"] == "link" and by_role["employer"]["scan_url"] is None
    copies = await wait_mails(smtp_server, "convention_signed", count=3)
    attestation = " ".join(pdf_text(next(copies[0].iter_attachments()).get_content()).split())
    assert "signature manuscrite sur papier" in attestation and "Léa Martin" in attestation

    # The scan downloads back identical, for the counsellor and the manager only; each read is traced.
    download = await api.request("GET", scan_url, C1)
    assert download.status_code == 200 and download.content == scan
    assert download.headers["content-type"] == "application/pdf"
    assert download.headers["x-content-type-options"] == "nosniff"
    assert (await api.request("GET", scan_url, MANAGER)).content == scan
    assert (await api.request("GET", scan_url, C2)).status_code == 404
    assert (await api.request("GET", scan_url, PRESCRIBER)).status_code == 403
    unknown = scan_url.replace(body["id"], "sg-inconnue")
    assert (await api.request("GET", unknown, C1)).status_code == 404
    history = (await api.request("GET", f"/api/v1/journeys/{journey_id}/history", MANAGER)).json()["items"]
    reads = [e for e in history if e["action"] == "signature_scan_read"]
    assert [(e["actor"]["id"], e["detail"]["signature_id"], e["detail"]["rule"]) for e in reads] == [
        (platform.counsellor, body["id"], "R22"), (platform.manager, body["id"], "R22")]
    [by_paper] = [e for e in history if e["action"] == "convention_signed_by_party"
                  and e["detail"]["party"] == "person"]
    assert by_paper["detail"]["via"] == "paper" and by_paper["actor"]["id"] == platform.counsellor


async def test_r10_bad_scans_and_dates_write_nothing(api, settings, smtp_server, platform):
    journey_id, draft = await admitted_to_convention(api, platform)
    done = await api.request("POST", f"/api/v1/tasks/{draft['id']}/complete", C1, json={"outcome": draft_outcome(
        employer=None)})
    assert done.status_code == 200, done.text
    await wait_mails(smtp_server, "convention_to_sign", PERSON)
    by_role = await parties(api, journey_id)
    person_id = by_role["person"]["id"]
    today = paris_today()

    too_big = await paper(api, journey_id, ("scan.pdf", b"%PDF-" + b"0" * (MAX_SCAN_BYTES - 4), "application/pdf"),
                          party_id=person_id)
    assert too_big.status_code == 413 and problem_field(too_big) == "scan"
    far_too_big = await paper(api, journey_id, ("scan.pdf", b"%PDF-" + b"0" * (MAX_SCAN_BYTES + FORM_OVERHEAD),
                                                "application/pdf"), party_id=person_id)
    assert far_too_big.status_code == 413 and problem_field(far_too_big) == "scan"
    # Streamed without a Content-Length, 1 MiB at a time: the reading stops just past the maximum.
    sent = []

    async def endless_scan():
        yield (f'--frontiere\r\nContent-Disposition: form-data; name="party_id"\r\n\r\n{person_id}\r\n'
               '--frontiere\r\nContent-Disposition: form-data; name="scan"; filename="scan.pdf"\r\n'
               'Content-Type: application/pdf\r\n\r\n%PDF-').encode()
        for _ in range(100):
            sent.append(1)
            yield b"0" * (1024 * 1024)

    streamed = await api.request("POST", paper_url(journey_id), C1, content=endless_scan(),
                                 headers={"Content-Type": "multipart/form-data; boundary=frontiere"})
    assert streamed.status_code == 413 and problem_field(streamed) == "scan"
    assert len(sent) <= MAX_SCAN_BYTES // (1024 * 1024) + 1
    renamed = await paper(api, journey_id, ("scan.pdf", "Ceci n'est pas un scan.\n".encode(), "application/pdf"),
                          party_id=person_id)
    assert renamed.status_code == 415 and problem_field(renamed) == "scan"
    assert "PDF, JPEG ou PNG" in renamed.json()["errors"][0]["message"]
    empty = await paper(api, journey_id, ("scan.pdf", b"", "application/pdf"), party_id=person_id)
    assert empty.status_code == 422 and problem_field(empty) == "scan"
    future = await paper(api, journey_id, ("scan.png", PNG, "image/png"), party_id=person_id,
                         signed_on=(today + timedelta(days=1)).isoformat())
    assert future.status_code == 422 and problem_field(future) == "signed_on"
    assert "futur" in future.json()["errors"][0]["message"]
    before_sent = await paper(api, journey_id, ("scan.png", PNG, "image/png"), party_id=person_id,
                              signed_on=(today - timedelta(days=1)).isoformat())
    assert before_sent.status_code == 422 and problem_field(before_sent) == "signed_on"
    no_reason = await paper(api, journey_id, ("scan.png", PNG, "image/png"), party_id=person_id, decision="refused")
    assert no_reason.status_code == 422 and problem_field(no_reason) == "reason"
    not_a_form = await api.request("POST", paper_url(journey_id), C1, json={"version": 1, "party_id": person_id})
    assert not_a_form.status_code == 415
    unknown_party = await paper(api, journey_id, ("scan.png", PNG, "image/png"), party_id="partie-inconnue")
    assert unknown_party.status_code == 404 and problem_field(unknown_party) == "party_id"
    unknown_version = await paper(api, journey_id, ("scan.png", PNG, "image/png"), party_id=person_id, version="7")
    assert unknown_version.status_code == 404
    assert (await paper(api, journey_id, ("scan.png", PNG, "image/png"), C2, party_id=person_id)).status_code == 404
    assert (await paper(api, journey_id, ("scan.png", PNG, "image/png"), PRESCRIBER,
                        party_id=person_id)).status_code == 403
    assert count(settings, Signature) == 0 and count(settings, SignatureScan) == 0

    # The platform signs by its manager's task: the journey refuses a paper answer for it (404).
    platform_party = await paper(api, journey_id, ("scan.jpg", JPEG, "image/jpeg"), MANAGER,
                                 party_id=by_role["platform"]["id"], signer_name="Maëlle Manager")
    assert platform_party.status_code == 404 and "pas partie" in platform_party.json()["detail"]
    with session_scope(settings.db_url) as session:
        [rejected] = session.exec(select(Signature)).all()
        assert (rejected.status, rejected.via, rejected.user_id) == ("rejected", "paper", platform.manager)
    assert (await parties(api, journey_id))["platform"]["signed_at"] is None

    # A refusal on paper, with its reason, and a scan of exactly the maximum size: back to the counsellor.
    reason = "La personne souhaite que les visites sur le poste soient annoncées."
    refused = await paper(api, journey_id, ("refus.png", PNG + b"\x00" * (MAX_SCAN_BYTES - len(PNG)), "image/png"),
                          party_id=person_id, decision="refused", reason=reason)
    assert refused.status_code == 201, refused.text
    assert refused.json()["decision"] == "refused" and refused.json()["scan"]["size"] == MAX_SCAN_BYTES
    assert refused.json()["scan"]["content_type"] == "image/png"
    [alert] = await wait_mails(smtp_server, "convention_refused", "c1@test.fr")
    assert reason in alert.get_body(("plain",)).get_content()
    redraft = await api.wait_task(journey_id, "draft_convention", C1)
    redraft = (await api.request("GET", f"/api/v1/tasks/{redraft['id']}", C1)).json()
    assert redraft["context"]["refusal"]["reason"] == reason


async def test_r10_paper_signature_of_a_replaced_version_is_refused_and_kept_rejected(
        api, settings, smtp_server, platform):
    journey_id, draft = await admitted_to_convention(api, platform)
    await api.request("POST", f"/api/v1/tasks/{draft['id']}/complete", C1, json={"outcome": draft_outcome(
        employer=None)})
    person_v1 = link_in((await wait_mails(smtp_server, "convention_to_sign", PERSON))[0])
    person_v1_party = (await parties(api, journey_id))["person"]["id"]
    refused = await refuse(api, person_v1, "Léa Martin", "Le rythme des entretiens ne me convient pas.")
    assert refused.status_code == 200, refused.text
    redraft = await api.wait_task(journey_id, "draft_convention", C1)
    done = await api.request("POST", f"/api/v1/tasks/{redraft['id']}/complete", C1, json={"outcome": draft_outcome(
        employer=None, rhythm="Un entretien par mois.")})
    assert done.status_code == 200, done.text
    await wait_mails(smtp_server, "convention_to_sign", PERSON, count=2)
    before = await parties(api, journey_id)

    # The counsellor uploads the person's paper signature of version 1, which version 2 replaced.
    replaced = await paper(api, journey_id, ("v1.pdf", b"%PDF-1.7\nsigned on paper\n", "application/pdf"),
                           party_id=person_v1_party, version="1")
    assert replaced.status_code == 409 and replaced.headers["content-type"] == "application/problem+json"
    assert "remplacée" in replaced.json()["detail"]
    with session_scope(settings.db_url) as session:
        [row] = session.exec(select(Signature).where(Signature.via == "paper")).all()
        assert (row.status, row.party_id) == ("rejected", person_v1_party)
        assert session.get(SignatureScan, row.id) is not None  # the upload is kept as evidence
    convention = (await api.request("GET", f"/api/v1/journeys/{journey_id}/convention", C1)).json()
    assert convention["current_version"] == 2 and await parties(api, journey_id) == before
    assert all(s["via"] != "paper" for v in convention["versions"] for s in v["signatures"])
    journey = (await api.request("GET", f"/api/v1/journeys/{journey_id}", C1)).json()
    assert journey["state"] == "convention" and journey["convention"]["status"] == "signing"
