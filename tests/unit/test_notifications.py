"""Notifications: the registry renders every kind, holes fail, delivery is idempotent, the catcher
catches."""
from __future__ import annotations

import asyncio
import os
import signal
import smtplib
import subprocess
import sys
from datetime import date
from email.message import EmailMessage
from pathlib import Path

import aiosmtplib
import jinja2
import pytest
from sqlmodel import select

import eaflow.store.models  # noqa: F401  (registers the tables on SQLModel.metadata)
from eaflow.notifications.catcher import MailCatcher, read_mails
from eaflow.notifications.outbox import deliver, message_id_for
from eaflow.notifications.registry import (
    KINDS,
    SAMPLE_PARAMS,
    MailKind,
    MailParamsError,
    check_templates,
    date_fr,
    render,
)
from eaflow.settings import Settings
from eaflow.store.db import session_scope
from eaflow.store.models import MailOutbox

# `tests.smtp_fixture` imports whether pytest runs as `python -m pytest` (cwd on sys.path) or not.
_ROOT = str(Path(__file__).resolve().parents[2])
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)
from tests.smtp_fixture import SmtpServer, smtp_server  # noqa: E402,F401


# --- registry -------------------------------------------------------------------------------

def test_every_kind_renders_with_its_sample_params():
    rendered = check_templates()
    assert set(rendered) == set(KINDS)
    for kind, (subject, body) in rendered.items():
        assert subject and "\n" not in subject, kind
        assert body.endswith("\n") and "{{" not in body and "{%" not in body, kind
        assert "vous" in body.lower(), kind  # vouvoiement everywhere


def test_the_kinds_needed_now_are_registered_with_their_params():
    assert KINDS["intake_refused"].params == {"person_display", "prescribed_on", "refusals"}
    assert KINDS["task_reminder"].params == {
        "recipient_name", "task_title", "task_url", "due_on", "reminder_number"}
    assert {
        "intake_refused", "cdaph_notification_needed", "cdaph_notification_reminder",
        "entry_decision_person", "entry_decision_platform", "entry_decision_employer",
        "assignment_needed", "assignment_reminder", "admission_person", "admission_counsellor",
        "task_reminder",
    } <= set(KINDS)


def test_a_missing_parameter_raises():
    params = dict(SAMPLE_PARAMS["admission_counsellor"])
    del params["task_url"]
    with pytest.raises(MailParamsError, match="task_url"):
        render("admission_counsellor", params)


def test_an_unknown_parameter_or_kind_raises():
    with pytest.raises(MailParamsError, match="taks_url"):
        render("admission_counsellor", {**SAMPLE_PARAMS["admission_counsellor"], "taks_url": "x"})
    with pytest.raises(MailParamsError, match="unknown mail kind"):
        render("no_such_kind", {})


def test_a_hole_inside_a_parameter_raises():
    params = {**SAMPLE_PARAMS["intake_refused"], "refusals": [{"rule": "R1"}]}  # no "detail"
    with pytest.raises(jinja2.UndefinedError):
        render("intake_refused", params)


def test_a_missing_template_raises(monkeypatch):
    monkeypatch.setitem(KINDS, "ghost", MailKind("ghost", frozenset({"x"}), "no template"))
    monkeypatch.setitem(SAMPLE_PARAMS, "ghost", {"x": 1})
    with pytest.raises(jinja2.TemplateNotFound):
        render("ghost", {"x": 1})
    with pytest.raises(jinja2.TemplateNotFound):
        check_templates()


def test_intake_refused_lists_the_rules_in_french_with_initials_only():
    subject, body = render("intake_refused", {
        "person_display": "M. D.",
        "prescribed_on": "2026-11-02",  # parameters may have crossed JSON
        "refusals": [
            {"rule": "R1", "detail": "La personne a 15 ans au jour de la demande : l'emploi accompagné "
                                     "est ouvert à partir de 16 ans."},
            {"rule": "R3", "detail": "Le consentement de la personne (ou de son représentant légal) "
                                     "n'est pas recueilli : rien ne peut commencer sans lui."},
        ],
    })
    assert subject == ("Emploi accompagné : la prescription du 2 novembre 2026 pour M. D. "
                       "n'est pas retenue")
    assert body.startswith("Madame, Monsieur,\n\nNous avons examiné la prescription vers l'emploi "
                           "accompagné que vous avez établie le 2 novembre 2026 pour M. D. : elle ne "
                           "peut pas être acceptée en l'état.\n\nVoici les raisons de cette décision :\n\n")
    assert ("- Règle R1 (conditions d'accès : âge, RQTH ou statut de bénéficiaire de l'obligation "
            "d'emploi) : La personne a 15 ans au jour de la demande : l'emploi accompagné est ouvert "
            "à partir de 16 ans.\n"
            "- Règle R3 (consentement de la personne ou de son représentant légal) : Le consentement "
            "de la personne (ou de son représentant légal) n'est pas recueilli : rien ne peut "
            "commencer sans lui.\n\n") in body
    assert "Que pouvez-vous faire ?" in body
    assert "vous pourrez adresser une nouvelle prescription" in body
    # No platform name given: the default signature.
    assert "La plateforme départementale d'emploi accompagné\n" in body


def test_entry_decision_person_says_whether_the_person_waits():
    base = SAMPLE_PARAMS["entry_decision_person"]
    _, waiting = render("entry_decision_person", {**base, "waiting": True})
    _, not_waiting = render("entry_decision_person", {**base, "waiting": False})
    assert "liste d'attente" in waiting and "liste d'attente" not in not_waiting
    assert "Bonjour Camille Durand," in waiting
    assert "conseiller ou une conseillère en emploi accompagné" in not_waiting


def test_staff_mails_carry_no_name():
    for kind in ("cdaph_notification_needed", "entry_decision_platform", "assignment_needed"):
        _, body = render(kind, SAMPLE_PARAMS[kind])
        assert "Camille" not in body and "Durand" not in body
        assert "J-2026-0042" in body


def test_dates_are_written_in_french():
    assert date_fr(date(2026, 12, 1)) == "1er décembre 2026"
    assert date_fr("2026-08-15") == "15 août 2026"
    # 23:30 UTC on 31 December is already 1 January in Paris.
    assert date_fr("2026-12-31T23:30:00+00:00") == "1er janvier 2027"
    with pytest.raises(MailParamsError):
        date_fr("demain")


# --- outbox ---------------------------------------------------------------------------------

def _settings(tmp_path: Path, server: SmtpServer, url: str) -> Settings:
    """`url`: the `database_url` fixture, a migrated database on SQLite or PostgreSQL."""
    return Settings(data_dir=tmp_path, database_url=url, smtp_host=server.host, smtp_port=server.port,
                    smtp_timeout_seconds=2.0)


def _row(settings: Settings, key: str) -> MailOutbox:
    with session_scope(settings.db_url) as session:
        return session.exec(select(MailOutbox).where(MailOutbox.idempotency_key == key)).one()


async def test_deliver_sends_once_per_key(tmp_path, smtp_server, database_url):
    settings = _settings(tmp_path, smtp_server, database_url)
    params = SAMPLE_PARAMS["admission_counsellor"]
    key = "J-2026-0042:admission_counsellor:1"

    first = await deliver(settings, key=key, kind="admission_counsellor", to="nadia@example.org",
                          params=params, journey_id="J-2026-0042")
    [mail] = await smtp_server.wait_for(1, timeout=5)
    assert first == message_id_for(key) == mail["Message-ID"]
    assert mail["X-Eaflow-Kind"] == "admission_counsellor"
    assert mail["X-Eaflow-Key"] == key
    assert mail["To"] == "nadia@example.org"
    assert mail["From"] == settings.mail_from
    assert mail["Date"] is not None
    assert mail["Subject"] == render("admission_counsellor", params)[0]
    assert "évaluation partagée" in mail.get_body(("plain",)).get_content()

    second = await deliver(settings, key=key, kind="admission_counsellor", to="nadia@example.org",
                           params=params, journey_id="J-2026-0042")
    assert second == first
    await asyncio.sleep(0.1)
    assert len(smtp_server.messages) == 1

    row = _row(settings, key)
    assert (row.status, row.attempts, row.journey_id, row.kind) == ("sent", 1, "J-2026-0042",
                                                                    "admission_counsellor")
    assert row.sent_at is not None and row.message_id == first


async def test_deliver_while_smtp_is_down_raises_then_succeeds(tmp_path, smtp_server, database_url):
    settings = _settings(tmp_path, smtp_server, database_url)
    key = "J-1:task_reminder:T-3:1"
    params = SAMPLE_PARAMS["task_reminder"]
    smtp_server.stop()

    with pytest.raises((aiosmtplib.SMTPException, OSError)):
        await deliver(settings, key=key, kind="task_reminder", to="nadia@example.org", params=params)
    row = _row(settings, key)
    assert (row.status, row.attempts, row.sent_at) == ("pending", 1, None)

    smtp_server.start()  # same port
    message_id = await deliver(settings, key=key, kind="task_reminder", to="nadia@example.org",
                               params=params)
    [mail] = await smtp_server.wait_for(1, timeout=5)
    assert mail["Message-ID"] == message_id == message_id_for(key)
    row = _row(settings, key)
    assert (row.status, row.attempts) == ("sent", 2)


async def test_deliver_refuses_bad_params_before_touching_the_outbox(tmp_path, smtp_server, database_url):
    settings = _settings(tmp_path, smtp_server, database_url)
    with pytest.raises(MailParamsError):
        await deliver(settings, key="k", kind="task_reminder", to="a@example.org", params={})
    with session_scope(settings.db_url) as session:
        assert session.exec(select(MailOutbox)).all() == []
    assert smtp_server.messages == []


def test_message_ids_are_stable_and_distinct():
    assert message_id_for("a") == message_id_for("a") != message_id_for("b")
    assert message_id_for("a").startswith("<") and message_id_for("a").endswith("@eaflow>")


# --- catcher --------------------------------------------------------------------------------

def _mail(subject: str, kind: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = "plateforme@eaflow.local"
    message["To"] = "camille@example.org"
    message["Subject"] = subject
    message["Date"] = "Sun, 22 Nov 2026 15:30:00 +0000"
    message["X-Eaflow-Kind"] = kind
    message.set_content("Bonjour,\n\nVotre entrée est acceptée.\n")
    return message


async def test_catcher_writes_each_mail_as_an_eml_file(tmp_path):
    directory = tmp_path / "mails"
    catcher = MailCatcher(directory, host="127.0.0.1", port=0).start()
    try:
        assert catcher.port != 0
        for n, kind in enumerate(("entry_decision_person", "admission_person")):
            await aiosmtplib.send(_mail(f"Mail {n} é", kind), hostname=catcher.host, port=catcher.port,
                                  start_tls=False, timeout=5)
    finally:
        catcher.stop()

    mails = read_mails(directory)
    assert [m["subject"] for m in mails] == ["Mail 0 é", "Mail 1 é"]  # newest last
    first = mails[0]
    assert first["kind"] == "entry_decision_person"
    assert first["to"] == "camille@example.org"
    assert first["from"] == "plateforme@eaflow.local"
    assert first["envelope_to"] == ["camille@example.org"]
    assert first["date"] == "2026-11-22T15:30:00+00:00"
    assert "Votre entrée est acceptée." in first["body"]
    names = [Path(m["file"]).name for m in mails]
    assert names == sorted(names) and all(n.endswith(".eml") for n in names)
    assert names[0].endswith("-0001.eml") and names[1].endswith("-0002.eml")
    assert read_mails(tmp_path / "nowhere") == []


def test_catcher_module_runs_until_sigterm(tmp_path):
    directory = tmp_path / "mails"
    process = subprocess.Popen(
        [sys.executable, "-m", "eaflow.notifications.catcher", "--dir", str(directory),
         "--host", "127.0.0.1", "--port", "0"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONWARNINGS": "error::RuntimeWarning"})
    try:
        line = process.stdout.readline()
        assert "listening on 127.0.0.1:" in line, process.stderr.read() if process.poll() is not None else line
        port = int(line.split("127.0.0.1:")[1].split(",")[0])
        with smtplib.SMTP("127.0.0.1", port, timeout=5) as client:
            client.send_message(_mail("Par le module", "task_reminder"))
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert [m["subject"] for m in read_mails(directory)] == ["Par le module"]
