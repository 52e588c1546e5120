"""Idempotent delivery of a notification: one MailOutbox row per idempotency key.

`deliver` is meant to be called from a Temporal activity, which may run several times for the
same key (retries after a timeout, a worker crash, a failed SMTP server). The sequence is:

1. render the mail (an unknown kind or a missing parameter raises MailParamsError, which is not
   worth retrying);
2. in its own transaction: read the row of `key`; if it is "sent", return its message id and
   send nothing; otherwise insert it (or keep it) as "pending" and count the attempt;
3. send through SMTP (any error propagates; the row stays "pending" and the retry comes back to 2);
4. in its own transaction: mark the row "sent".

At-least-once window: if the process dies after the SMTP server accepted the message and before
step 4 commits (or the commit itself fails), the next attempt sends the mail again. This cannot be
closed on our side (SMTP has no two-phase commit); it is kept as narrow as the machine allows: the
instant the server accepts, the key is appended to this process's journal (sent_journal.py: one
`write`, microseconds, which survives the process being killed), and a retry that finds its row still
pending looks there before sending (step 2). Step 4, which may wait for the database under load,
is then no longer part of the window on one machine. It stays harmless: every attempt carries the
same Message-ID, derived from the key alone, so a receiving server or mail client that deduplicates
on Message-ID shows the mail once.
"""
from __future__ import annotations

import asyncio
import hashlib
from email.message import EmailMessage
from email.utils import format_datetime
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Sequence

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlmodel import select

from eaflow.notifications import mailer
from eaflow.notifications.sent_journal import journal_for
from eaflow.notifications.registry import render
from eaflow.settings import Settings
from eaflow.store.db import session_scope
from eaflow.store.models import MailOutbox

STATUS_PENDING = "pending"
STATUS_SENT = "sent"
MESSAGE_ID_DOMAIN = "eaflow"


def message_id_for(key: str) -> str:
    """The Message-ID of the mail of `key`, the same on every attempt: '<32 hex digits@eaflow>'."""
    digest = hashlib.sha256(key.encode("utf-8")).hexdigest()[:32]
    return f"<{digest}@{MESSAGE_ID_DOMAIN}>"


# An attached document: (file name, content type "maintype/subtype", bytes).
Attachment = tuple[str, str, bytes]


def build_message(settings: Settings, *, key: str, kind: str, to: str, subject: str, body: str,
                  message_id: str, attachments: Sequence[Attachment] = ()) -> EmailMessage:
    message = EmailMessage()
    message["From"] = settings.mail_from
    message["To"] = to
    message["Subject"] = subject
    message["Date"] = format_datetime(datetime.now(timezone.utc))
    message["Message-ID"] = message_id
    message["X-Eaflow-Kind"] = kind
    message["X-Eaflow-Key"] = key
    # RFC 3834: an automatic message; well-behaved auto-responders do not answer it.
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(body)
    for filename, content_type, data in attachments:
        maintype, _, subtype = content_type.partition("/")
        message.add_attachment(data, maintype=maintype, subtype=subtype or "octet-stream", filename=filename)
    return message


def journal_directory(settings: Settings) -> Path:
    return settings.data_dir / "outbox"


def _claim(url: str, *, key: str, kind: str, to: str, subject: str, message_id: str,
           journey_id: str | None, busy_timeout: float = 30.0, accepted: Callable[[str], bool] = lambda _: False,
           ) -> tuple[bool, str]:
    """(already_sent, message_id). Inserts the pending row or counts one more attempt on it; a pending
    row whose Message-ID `accepted` knows (the journal: the server accepted it before a crash) is
    marked sent.

    Waits for a locked database no longer than EAFLOW_DB_BUSY_TIMEOUT (`busy_timeout`), like every
    other activity: nothing is sent yet, so failing here and being retried is safe.
    """
    for _ in range(2):  # a concurrent insert of the same key: read it back once
        try:
            with session_scope(url, busy_timeout) as session:
                row = session.exec(select(MailOutbox).where(MailOutbox.idempotency_key == key)).first()
                if row is not None and row.status == STATUS_SENT:
                    return True, row.message_id
                if row is None:
                    row = MailOutbox(idempotency_key=key, kind=kind, journey_id=journey_id, recipient=to,
                                     subject=subject, message_id=message_id, status=STATUS_PENDING)
                elif row.kind != kind:
                    raise ValueError(f"mail key {key!r} already used for kind {row.kind!r}, not {kind!r}")
                elif accepted(row.message_id):
                    row.status, row.sent_at = STATUS_SENT, datetime.now(timezone.utc)
                    session.add(row)
                    return True, row.message_id
                else:
                    # A retry renders again: keep what is actually being sent now.
                    row.recipient, row.subject = to, subject
                row.attempts += 1
                session.add(row)
            return False, message_id
        except IntegrityError:
            continue
    raise RuntimeError(f"mail key {key!r}: could not claim the outbox row")


def _mark_sent(url: str, key: str) -> None:
    # Deliberately not EAFLOW_DB_BUSY_TIMEOUT but session_scope's longer default: the mail is sent,
    # and giving up on a locked database here would make the retry look in the journal.
    with session_scope(url) as session:
        row = session.exec(select(MailOutbox).where(MailOutbox.idempotency_key == key)).one()
        row.status = STATUS_SENT
        row.sent_at = datetime.now(timezone.utc)
        session.add(row)


def mark_sent_messages(url: str, message_ids: Iterable[str]) -> None:
    """Mark these mails sent where they are still pending (the journals of processes that are gone)."""
    message_ids = list(message_ids)
    with session_scope(url) as session:
        for start in range(0, len(message_ids), 500):
            session.exec(update(MailOutbox).where(MailOutbox.message_id.in_(message_ids[start:start + 500]),
                                                  MailOutbox.status == STATUS_PENDING)
                         .values(status=STATUS_SENT, sent_at=datetime.now(timezone.utc)))


async def deliver(settings: Settings, *, key: str, kind: str, to: str, params: Mapping[str, Any],
                  journey_id: str | None = None, attachments: Sequence[Attachment] = ()) -> str:
    """Send the mail `kind` to `to` once per `key`; return its Message-ID ('<…@eaflow>').

    `to` is one address (or a comma-separated list, which becomes one mail to all of them).
    `attachments` (file name, content type, bytes) are attached to the mail (e.g. a signed PDF).
    A second call with the same key after success sends nothing and returns the same id.
    """
    subject, body = render(kind, params)
    message_id = message_id_for(key)
    journal = journal_for(journal_directory(settings))
    already_sent, stored_id = await asyncio.to_thread(
        _claim, settings.db_url, key=key, kind=kind, to=to, subject=subject,
        message_id=message_id, journey_id=journey_id, busy_timeout=settings.db_busy_timeout_seconds,
        accepted=journal.holds)
    if already_sent:
        return stored_id
    message = build_message(settings, key=key, kind=kind, to=to, subject=subject, body=body,
                            message_id=message_id, attachments=attachments)
    await mailer.send_email(settings, message)
    # The at-least-once window (see the module docstring) is between the line above and this one.
    journal.accepted(message_id)
    await asyncio.to_thread(_mark_sent, settings.db_url, key)
    journal.marked()
    return message_id
