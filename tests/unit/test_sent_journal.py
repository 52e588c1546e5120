"""Issue 19: the journal of accepted mails keeps a crash between the SMTP server's acceptance and the
database's "sent" mark from sending the mail again (eaflow/notifications/sent_journal.py, outbox.py)."""
from __future__ import annotations

import asyncio
import subprocess
from pathlib import Path

import pytest
from sqlmodel import select

from eaflow.notifications import outbox, sent_journal
from eaflow.notifications.outbox import deliver, journal_directory, mark_sent_messages
from eaflow.notifications.sent_journal import SentJournal
from eaflow.settings import Settings
from eaflow.store.db import session_scope
from eaflow.store.models import MailOutbox
from eaflow.notifications.registry import SAMPLE_PARAMS

PARAMS = SAMPLE_PARAMS["admission_counsellor"]


@pytest.fixture
def db_backend() -> str:
    return "sqlite"


def _settings(tmp_path: Path, server, url: str) -> Settings:
    return Settings(data_dir=tmp_path, database_url=url, smtp_host=server.host, smtp_port=server.port,
                    smtp_timeout_seconds=2.0)


def _status(settings: Settings, key: str) -> str:
    with session_scope(settings.db_url) as session:
        return session.exec(select(MailOutbox.status).where(MailOutbox.idempotency_key == key)).one()


def test_a_key_written_by_one_journal_is_known_to_every_process_of_the_machine(tmp_path):
    mine, another = SentJournal(tmp_path), SentJournal(tmp_path / "other")
    mine.accepted("<0123456789abcdef0123456789abcdef@eaflow>")
    assert mine.holds("<0123456789abcdef0123456789abcdef@eaflow>")
    assert not mine.holds("<0123456789abcdef@eaflow>")  # whole lines only
    assert not another.holds("<0123456789abcdef0123456789abcdef@eaflow>")  # another directory
    mine.close()


async def test_a_crash_after_the_servers_acceptance_sends_nothing_twice(tmp_path, smtp_server, database_url,
                                                                        monkeypatch):
    """The process dies between the SMTP server's 250 and the database's mark: the retry finds the key in
    the journal, marks the row sent and sends nothing."""
    settings = _settings(tmp_path, smtp_server, database_url)
    key = "j-9/admission/nadia@example.org"

    def killed(*_args, **_kwargs):
        raise SystemExit("killed between the acceptance and the mark")

    monkeypatch.setattr(outbox, "_mark_sent", killed)
    with pytest.raises(SystemExit):
        await deliver(settings, key=key, kind="admission_counsellor", to="nadia@example.org", params=PARAMS)
    await smtp_server.wait_for(1, timeout=5)
    assert _status(settings, key) == "pending"
    monkeypatch.undo()

    assert "nadia" not in journal_directory(settings).joinpath(sent_journal.journal_for(
        journal_directory(settings)).path.name).read_text()  # R22: a digest, never the address
    again = await deliver(settings, key=key, kind="admission_counsellor", to="nadia@example.org", params=PARAMS)
    assert again == outbox.message_id_for(key)
    await asyncio.sleep(0.2)
    assert len(smtp_server.messages) == 1 and _status(settings, key) == "sent"


async def test_the_journals_of_processes_gone_are_taken_into_the_database_then_deleted(tmp_path, smtp_server,
                                                                                      database_url):
    settings = _settings(tmp_path, smtp_server, database_url)
    key = "j-3/admission/b@example.org"
    with session_scope(settings.db_url) as session:
        session.add(MailOutbox(idempotency_key=key, kind="admission_counsellor", recipient="b@example.org",
                               subject="s", message_id=outbox.message_id_for(key), status="pending"))
    gone = subprocess.Popen(["true"])
    gone.wait()
    directory = journal_directory(settings)
    directory.mkdir(parents=True)
    dead = directory / f"{sent_journal.PREFIX}{sent_journal._host()}-{gone.pid}{sent_journal.SUFFIX}"
    dead.write_text(f"{outbox.message_id_for(key)}\n")
    live = sent_journal.journal_for(directory)
    live.accepted("j-4/still/being/marked")

    assert sent_journal.absorb(directory, lambda ids: mark_sent_messages(settings.db_url, ids)) == 1
    assert _status(settings, key) == "sent" and not dead.exists()
    assert live.path.exists()  # this process's own journal is its own
    live.marked()


def test_a_journal_is_emptied_once_every_key_in_it_is_marked(tmp_path, monkeypatch):
    monkeypatch.setattr(sent_journal, "EMPTY_WHEN_LARGER_THAN", 10)
    journal = SentJournal(tmp_path)
    journal.accepted("j-1/a/first@example.fr")
    journal.accepted("j-1/b/second@example.fr")
    journal.marked()
    assert journal.holds("j-1/b/second@example.fr")  # one key still waits for its mark
    journal.marked()
    assert journal.path.stat().st_size == 0 and not journal.holds("j-1/a/first@example.fr")
    journal.accepted("j-1/c/third@example.fr")
    assert journal.path.read_text() == "j-1/c/third@example.fr\n"
    journal.close()
