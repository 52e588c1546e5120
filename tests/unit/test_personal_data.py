"""R22: a closed file's personal data is kept the policy's retention after the exit, then anonymised;
tested over years with dates, not by waiting: the purge is called with `today` years later, on a real
database (SQLite and PostgreSQL) holding the eleven journeys of the indicators' fixture (open, in
veille, on the waiting list, refused, exited at several dates, transferred) with their persons,
notes, documents and scans. The indicators of the past quarter give the same figures after."""
from __future__ import annotations

import json
from datetime import date, datetime, timezone
from functools import partial

import pytest
from sqlmodel import func, select

from eaflow import cli, indicators
from eaflow.policy import NATIONAL_DEFAULTS, Policy
from eaflow.services import personal_data
from eaflow.store.accompaniment import Contact, EmploymentEpisode
from eaflow.store.convention import Convention, ConventionParty, ConventionVersion, Signature, SignatureScan
from eaflow.store.db import session_scope
from eaflow.store.models import (
    AuditEvent, ExitProcedure, Journey, MailOutbox, Person, SharedEvaluation, Task,
)
from tests.unit.test_indicators import Q1, add_episode, at, seed

CLOSED = ("j-c", "j-g", "j-i", "j-j")  # exited 15 Feb 2026, transferred 20 Mar 2026, exited 20 Dec 2025, 10 Jan 2026
OPEN = ("j-a", "j-b", "j-d", "j-e", "j-h", "j-k")
NAMES = {"j-c": ("Léa", "Martin"), "j-g": ("Yanis", "Bernard"), "j-i": ("Inès", "Petit"), "j-j": ("Jules", "Moreau"),
         "j-a": ("Anne", "Dubois")}
NOTE = "Léa Martin a parlé de son traitement avec le Dr Roux"


def add_person_file(session, journey_id: str) -> None:
    """A person with everything R22 names: identity, contacts, documents, scans, free texts."""
    first, last = NAMES[journey_id]
    session.add(Person(journey_id=journey_id, first_name=first, last_name=last, birth_date=date(1990, 6, 14),
                       email=f"{first.lower()}@exemple.fr", phone="06 12 34 56 78", consent_by=f"{first} {last}",
                       legal_representative={"name": "UDAF 35", "email": "udaf@exemple.fr", "kind": "curatelle"},
                       employer={"name": "Jardins du Parc", "kind": "private", "contact_name": "Paul Durand",
                                 "email": "paul@jardins.fr", "phone": "02 99 00 00 00"},
                       search_name=f"{first} {last}".lower()))
    session.add(Contact(id=f"ct-{journey_id}", journey_id=journey_id, occurred_on=date(2026, 1, 8),
                        duration_minutes=60, place="service", channel="in_person", participants="person",
                        interview=True, note=NOTE))
    session.add(SharedEvaluation(journey_id=journey_id, evaluated_on=date(2025, 10, 5), wishes="Travailler dehors",
                                 needs="Des horaires fixes (fatigue liée à son traitement)", resources="Permis B",
                                 employer_expectations="Ponctualité", recorded_by="someone"))
    session.add(Task(id=f"t-{journey_id}", journey_id=journey_id, platform_id=session.get(Journey, journey_id).platform_id,
                     kind="record_contact", title="Enregistrer un contact", status="done",
                     context={"person_name": f"{first} {last}", "due_on": "2026-01-08"},
                     outcome={"channel": "phone", "reached": True, "duration_minutes": 30, "occurred_on": "2026-01-08",
                              "note": NOTE, "summary": "Rendez-vous chez Jardins du Parc"},
                     completed_at=at("2026-01-08")))
    session.add(ExitProcedure(id=f"x-{journey_id}", journey_id=journey_id, reason="person_request", status="approved",
                              opened_at=at("2026-02-10"), closed_at=at("2026-02-15"),
                              decision_reason="À sa demande, elle déménage chez sa sœur",
                              detail={"summary": "Souhaite arrêter", "reason": "person_request",
                                      "last_contact_on": "2026-02-01"}))
    session.add(AuditEvent(journey_id=journey_id, at=at("2026-01-08"), actor_kind="user", actor_id="someone",
                           action="task_done", detail={"kind": "record_contact", "outcome": {"note": NOTE,
                                                                                             "channel": "phone"}}))
    session.add(MailOutbox(idempotency_key=f"mail/{journey_id}", kind="convention_to_sign", journey_id=journey_id,
                           recipient=f"{first.lower()}@exemple.fr", subject=f"Votre convention, {first} {last}",
                           message_id=f"<{journey_id}@eaflow>", status="sent"))
    session.add(Convention(id=f"cv-{journey_id}", journey_id=journey_id, status="signed"))
    session.flush()
    session.add(ConventionVersion(id=f"cvv-{journey_id}", convention_id=f"cv-{journey_id}", number=1, status="signed",
                                  content={"person": {"first_name": first}}, html=f"<p>{first} {last}</p>",
                                  pdf=b"%PDF-1.4 name", content_hash="h", signed_pdf=b"%PDF-1.4 signed",
                                  signed_pdf_hash="hs"))
    session.flush()
    session.add(ConventionParty(id=f"p-{journey_id}", version_id=f"cvv-{journey_id}", convention_id=f"cv-{journey_id}",
                                role="person", label="la personne accompagnée", name=f"{first} {last}",
                                signatory_name=f"{first} {last}", email=f"{first.lower()}@exemple.fr"))
    session.flush()
    session.add(Signature(id=f"s-{journey_id}", convention_id=f"cv-{journey_id}", version_id=f"cvv-{journey_id}",
                          party_id=f"p-{journey_id}", decision="signed", status="accepted",
                          signer_name=f"{first} {last}", via="paper", ip="192.0.2.1", user_agent="Firefox"))
    session.flush()
    session.add(SignatureScan(signature_id=f"s-{journey_id}", content_type="image/png", size=4, sha256="x",
                              data=b"scan", uploaded_by="someone"))


@pytest.fixture
def files(settings, platform):
    seed(settings.db_url, platform)
    with session_scope(settings.db_url) as session:
        for journey_id in NAMES:
            add_person_file(session, journey_id)
        # C's two stays at one employer (R20: time in the same firm) and another employer after.
        add_episode(session, "j-c", "Jardins du Parc", "cdd", "2026-01-26", "2026-02-05", "end_of_fixed_term")
        add_episode(session, "j-c", "Mairie de Vitré", "cdd", "2026-02-06")
    return partial(session_scope, settings.db_url)


def report(sessions, platform) -> dict:
    with sessions() as session:
        return indicators.report(session, platform.platform_id, Q1)


def audit_count(sessions) -> int:
    with sessions() as session:
        return session.exec(select(func.count()).select_from(AuditEvent)).one()


def test_r22_the_retention_is_two_years_after_exit_by_default():
    assert NATIONAL_DEFAULTS.personal_data.retention_after_exit == "P2Y"
    assert personal_data.anonymise_on(date(2026, 2, 15), NATIONAL_DEFAULTS) == date(2028, 2, 15)
    assert personal_data.anonymise_on(date(2024, 2, 29), NATIONAL_DEFAULTS) == date(2026, 2, 28)
    with pytest.raises(ValueError):
        Policy.model_validate({"personal_data": {"retention_after_exit": "deux ans"}})


def test_r22_dry_run_lists_what_would_go_and_changes_nothing(files):
    before = audit_count(files)
    # 9 January 2028: I (exited 20 December 2025) is due; J (10 January 2026) is one day short.
    jobs = personal_data.purge(files, NATIONAL_DEFAULTS, date(2028, 1, 9), dry_run=True)
    assert [job.journey_id for job in jobs] == ["j-i"]
    line = personal_data.lines(jobs, dry_run=True)[1]
    assert line.startswith("j-i — sorti le 2025-12-20 — identité")
    assert "1 note de contact" in line and "1 scan de signature papier" in line
    assert "Inès" not in line and "Petit" not in line
    with files() as session:
        assert session.get(Person, "j-i").first_name == "Inès"
        assert session.get(Journey, "j-i").anonymised_at is None
    assert audit_count(files) == before


def test_r22_anonymised_past_retention_only_and_indicators_unchanged(files, platform):
    figures = report(files, platform)
    events_before = audit_count(files)
    with files() as session:
        timeline_before = session.exec(select(AuditEvent.id, AuditEvent.action, AuditEvent.detail)
                                       .order_by(AuditEvent.id)).all()
    now = datetime(2028, 2, 20, 3, tzinfo=timezone.utc)

    done = personal_data.purge(files, NATIONAL_DEFAULTS, date(2028, 2, 20), now=now)

    # I, J, C are past two years; G (transferred 20 March 2026) is not yet; open files never.
    assert sorted(job.journey_id for job in done) == ["j-c", "j-i", "j-j"]
    with files() as session:
        c = session.get(Person, "j-c")
        assert (c.first_name, c.last_name, c.search_name, c.email, c.phone, c.consent_by) == ("", "", "", None, None, None)
        assert c.birth_date == date(1990, 1, 1)  # the year only
        assert c.legal_representative is None and c.employer == {"kind": "private"}
        assert session.get(Contact, "ct-j-c").note is None
        assert session.get(Contact, "ct-j-c").duration_minutes == 60  # R11 intensity stays
        evaluation = session.get(SharedEvaluation, "j-c")
        assert (evaluation.wishes, evaluation.needs, evaluation.resources, evaluation.employer_expectations) == (
            "", "", "", None)
        assert evaluation.evaluated_on == date(2025, 10, 5)
        task = session.get(Task, "t-j-c")
        assert task.outcome == {"channel": "phone", "reached": True, "duration_minutes": 30,
                                "occurred_on": "2026-01-08", "summary": personal_data.ANONYMISED}
        assert task.context == {"due_on": "2026-01-08"}
        exit_ = session.get(ExitProcedure, "x-j-c")
        assert exit_.decision_reason is None and exit_.detail == {"summary": personal_data.ANONYMISED}
        version = session.get(ConventionVersion, "cvv-j-c")
        assert (version.content, version.html, version.pdf, version.signed_pdf) == ({}, "", b"", None)
        assert version.signed_pdf_hash == "hs"
        party = session.get(ConventionParty, "p-j-c")
        assert (party.name, party.signatory_name, party.email) == ("", "", None)
        signature = session.get(Signature, "s-j-c")
        assert (signature.signer_name, signature.ip, signature.user_agent) == ("", None, None)
        assert session.get(SignatureScan, "s-j-c") is None
        mail = session.exec(select(MailOutbox).where(MailOutbox.journey_id == "j-c")).one()
        assert (mail.recipient, mail.subject, mail.status) == ("", "", "sent")
        employers = session.exec(select(EmploymentEpisode.employer_name, EmploymentEpisode.contract_type)
                                 .where(EmploymentEpisode.journey_id == "j-c")
                                 .order_by(EmploymentEpisode.started_on)).all()
        assert employers == [("Employeur 1", "pmsmp"), ("Employeur 1", "cdd"), ("Employeur 2", "cdd")]
        assert session.get(Journey, "j-c").anonymised_at is not None
        # Untouched: the open file, the transferred one still within its retention.
        for journey_id in ("j-a", "j-g"):
            assert session.get(Person, journey_id).first_name == NAMES[journey_id][0]
            assert session.get(Contact, f"ct-{journey_id}").note == NOTE
            assert session.get(SignatureScan, f"s-{journey_id}") is not None
            assert session.get(Journey, journey_id).anonymised_at is None
        # The audit trail is append-only but for the one redaction the database allows (migration 0017):
        # the free texts of the anonymised files' rows struck out, once, who did what and when kept;
        # every other row as it was, plus one per anonymised file, naming no one.
        timeline_after = session.exec(select(AuditEvent.id, AuditEvent.action, AuditEvent.detail)
                                      .order_by(AuditEvent.id)).all()
        redacted = session.exec(select(AuditEvent).where(AuditEvent.redacted_at.is_not(None))).all()
        assert sorted(e.journey_id for e in redacted) == ["j-c", "j-i", "j-j"]
        assert {e.redacted_at.replace(tzinfo=timezone.utc) for e in redacted} == {now}
        assert all(e.detail == {"kind": "record_contact", "outcome": {"channel": "phone"}} for e in redacted)
        assert [row for row in timeline_after[:len(timeline_before)] if row[0] not in {e.id for e in redacted}] == [
            row for row in timeline_before if row[0] not in {e.id for e in redacted}]
        assert NOTE not in json.dumps([row[2] for row in timeline_after
                                       if row[0] in {e.id for e in redacted}], ensure_ascii=False)
        added = session.exec(select(AuditEvent).where(AuditEvent.action == personal_data.ACTION)).all()
        assert sorted(e.journey_id for e in added) == ["j-c", "j-i", "j-j"]
        text = json.dumps([e.detail for e in added], ensure_ascii=False)
        assert all(name not in text for pair in NAMES.values() for name in pair)
        assert {e.detail["retention"] for e in added} == {"P2Y"} and {e.actor_kind for e in added} == {"timer"}
    assert audit_count(files) == events_before + 3

    # The past quarter's figures are the same, to the last one.
    assert report(files, platform) == figures

    # Again the same day: nothing left to do, nothing written.
    assert personal_data.purge(files, NATIONAL_DEFAULTS, date(2028, 2, 20)) == []
    assert audit_count(files) == events_before + 3


def test_r22_years_later_every_closed_file_is_anonymised_and_no_open_one(files, platform):
    figures = report(files, platform)
    done = personal_data.purge(files, NATIONAL_DEFAULTS, date(2040, 1, 1))
    # The closed files, and j-f: a prescription refused at intake, its retention run from the refusal.
    assert sorted(job.journey_id for job in done) == sorted((*CLOSED, "j-f"))
    assert next(job for job in done if job.journey_id == "j-f").line().startswith("j-f — refusé le ")
    with files() as session:
        assert session.get(Person, "j-g").last_name == ""  # transferred: the sending platform's copy goes
        assert session.get(Journey, "j-f").anonymised_at is not None
        assert session.get(Person, "j-a").last_name == "Dubois"
        for journey_id in OPEN:
            assert session.get(Journey, journey_id).anonymised_at is None
    assert report(files, platform) == figures


def test_r22_a_shorter_policy_counts_from_the_exit(files):
    one_year = Policy.model_validate({"personal_data": {"retention_after_exit": "P1Y"}})
    assert [j.journey_id for j in personal_data.purge(files, one_year, date(2027, 1, 10), dry_run=True)] == [
        "j-i", "j-j"]


@pytest.mark.parametrize("db_backend", ["sqlite"])
def test_r22_purge_command_dry_run_then_for_real(files, settings, monkeypatch, capsys):
    monkeypatch.setenv("EAFLOW_DATABASE_URL", settings.db_url)
    monkeypatch.delenv("EAFLOW_POLICY_FILE", raising=False)
    assert cli.main(["personal-data", "purge", "--dry-run", "--today", "2028-02-20"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "3 dossier(s) clos seraient anonymisés (R22)."
    assert [line.split(" — ")[0] for line in out[1:]] == ["j-i", "j-j", "j-c"]
    assert all("Martin" not in line and "Léa" not in line for line in out)
    with session_scope(settings.db_url) as session:
        assert session.get(Person, "j-c").first_name == "Léa"
    assert cli.main(["personal-data", "purge", "--today", "2028-02-20"]) == 0
    assert capsys.readouterr().out.startswith("3 dossier(s) clos anonymisés (R22).")
    with session_scope(settings.db_url) as session:
        assert session.get(Person, "j-c").first_name == ""
    assert cli.main(["personal-data", "purge", "--today", "demain"]) == 2
