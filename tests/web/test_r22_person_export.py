"""R22, GDPR art. 15: the person's whole file, exported for a manager from the file page (PDF, JSON)
and by `eaflow person export`, on the real stack: a journey run to the accompaniment through the API
(intake, admission, evaluation, convention signed by every party), a contact, an employment.
The export is a read of the file: it is traced, and listed among the reads it hands over."""
from __future__ import annotations

import io
import json

import pytest
from pypdf import PdfReader
from sqlmodel import select

from eaflow import cli
from eaflow.store.db import session_scope
from eaflow.store.models import AuditEvent
from tests.api.test_contacts import contact
from tests.api.test_employment import in_accompaniment, opening
from tests.api.test_journeys_and_inbox import C1, C2, MANAGER

pytestmark = pytest.mark.xdist_group("dev-server")

HEADINGS = ("Identité", "Prescription", "Éligibilité et admission", "Évaluation partagée", "Convention et avenants",
            "Contacts", "Emploi", "Veille", "Sortie", "Tâches réalisées", "Historique du parcours",
            "Consultations du dossier")


@pytest.fixture
async def accompanied(pages, settings, smtp_server, platform) -> str:
    api = pages.api
    journey_id = await in_accompaniment(api, smtp_server, platform)
    base = f"/api/v1/journeys/{journey_id}"
    assert (await api.request("POST", f"{base}/contacts", C1, json=contact(note="A repris confiance"))).status_code == 201
    assert (await api.request("GET", base, C1)).status_code == 200  # a read by the counsellor, to be listed
    recorded = await api.request("POST", f"{base}/employment", C1, json=opening(name="Fromagerie Leclerc"))
    assert recorded.status_code in (200, 201, 202), recorded.text
    return journey_id


def exports(settings, journey_id: str) -> list[AuditEvent]:
    with session_scope(settings.db_url) as session:
        return session.exec(select(AuditEvent).where(AuditEvent.journey_id == journey_id,
                                                     AuditEvent.action == "person_exported")).all()


async def test_r22_a_manager_exports_the_whole_file_as_json_and_pdf(pages, accompanied, settings, platform):
    journey_id = accompanied
    await pages.sign_in(MANAGER)
    page = await pages.get(MANAGER, f"/parcours/{journey_id}")
    assert page.status_code == 200 and f'href="/parcours/{journey_id}/export.pdf"' in page.text
    assert "Exporter le dossier (RGPD)" in page.text

    answer = await pages.get(MANAGER, f"/parcours/{journey_id}/export.json")
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("application/json")
    assert answer.headers["content-disposition"].startswith(f'attachment; filename="dossier-{journey_id}-')
    file = json.loads(answer.content)
    assert (file["identity"]["first_name"], file["identity"]["last_name"]) == ("Léa", "Martin")
    assert file["identity"]["birth_date"] == "1995-04-12" and file["identity"]["email"] == "lea.martin@example.fr"
    assert file["prescription"]["channel"] == "cdaph" and file["prescription"]["prescribed_on"]
    assert file["prescription"]["situation"] == "employed"
    assert file["eligibility"]["admitted_on"] and file["eligibility"]["counsellor"] == "Camille Conseil"
    assert file["rights"]["rqth_until"] == "2030-05-31"
    assert file["evaluation"]["evaluated_on"]
    [convention] = file["conventions"]
    assert convention["status"] == "signed"
    assert {p["role"] for p in convention["parties"]} >= {"person", "employer", "platform"}
    assert any(s["signer_name"] == "Léa Martin" for s in convention["signatures"])
    assert [c["note"] for c in file["contacts"]] == ["A repris confiance"]
    assert any(e["employer_name"] == "Fromagerie Leclerc" for e in file["employment"])
    assert file["veille"]["in_veille"] is False and file["exit"]["reason"] is None
    assert file["tasks_done"] and all(t["completed_at"] for t in file["tasks_done"])
    assert "prescription_received" in {e["action"] for e in file["history"]}
    assert not {e["action"] for e in file["history"]} & {"journey_read", "person_exported"}
    reads = {(e["action"], e["by"]) for e in file["reads"]}
    assert ("journey_read", "Camille Conseil") in reads  # who read it…
    assert ("person_exported", "Maëlle Manager") in reads  # …this export included
    assert all(e["at"] for e in file["reads"])

    pdf = await pages.get(MANAGER, f"/parcours/{journey_id}/export.pdf")
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    text = "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf.content)).pages)
    assert "Léa" in text and "Martin" in text and "Fromagerie Leclerc" in text
    for heading in HEADINGS:
        assert heading in text, heading
    assert "Camille Conseil" in text  # among the reads

    [json_export, pdf_export] = exports(settings, journey_id)
    assert (json_export.actor_id, json_export.detail) == (platform.manager, {"rule": "R22", "format": "json"})
    assert pdf_export.detail["format"] == "pdf"
    journal = await pages.get(MANAGER, f"/parcours/{journey_id}/journal")
    assert "Dossier exporté pour la personne" in journal.text


async def test_r22_the_export_is_the_managers_only(pages, accompanied, settings):
    journey_id = accompanied
    for who in (C1, C2):  # the person's own counsellor does not hand the file over; another one cannot see it
        await pages.sign_in(who)
        assert (await pages.get(who, f"/parcours/{journey_id}/export.pdf")).status_code == 404
        assert (await pages.get(who, f"/parcours/{journey_id}/export.json")).status_code == 404
    page = await pages.get(C1, f"/parcours/{journey_id}")
    assert page.status_code == 200 and "Exporter le dossier" not in page.text
    await pages.sign_in(MANAGER)
    assert (await pages.get(MANAGER, f"/parcours/{journey_id}/export.xml")).status_code == 404
    assert (await pages.get(MANAGER, "/parcours/j-inconnu/export.pdf")).status_code == 404
    assert exports(settings, journey_id) == []


async def test_r22_person_export_command(accompanied, settings, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("EAFLOW_DATABASE_URL", settings.db_url)
    output = tmp_path / "dossier.json"
    assert cli.main(["person", "export", accompanied, "--by", MANAGER, "--format", "json",
                     "--output", str(output)]) == 0
    assert json.loads(output.read_text(encoding="utf-8"))["identity"]["last_name"] == "Martin"
    pdf = tmp_path / "dossier.pdf"
    assert cli.main(["person", "export", accompanied, "--by", MANAGER, "--output", str(pdf)]) == 0
    assert "Martin" in PdfReader(str(pdf)).pages[0].extract_text()
    assert cli.main(["person", "export", accompanied, "--by", C1]) == 2  # a counsellor: refused, nothing written
    assert "Votre rôle ne permet pas cette action." in capsys.readouterr().err
    assert len(exports(settings, accompanied)) == 2
