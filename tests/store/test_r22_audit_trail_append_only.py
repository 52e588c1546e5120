"""R21/R22: the audit trail is append-only, held by the database itself (migration 0015) on SQLite and
PostgreSQL: no UPDATE, no DELETE (no TRUNCATE) of its rows, whatever the code path — through the ORM
or in raw SQL. The one DELETE allowed is the compensation of an intake whose workflow never started:
the rows of a journey that no longer exists."""
from __future__ import annotations

import pytest
from sqlalchemy import delete, text, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import select

from eaflow.services.journeys import _forget
from eaflow.store.db import session_scope
from eaflow.store.models import AuditEvent, Journey, Person
from tests.store.test_rules_in_the_database import T0, add_journey, count

REFUSED = "append-only"


def add_trace(url: str, journey_id: str | None, action: str = "journey_read") -> int:
    with session_scope(url) as session:
        event = AuditEvent(journey_id=journey_id, at=T0, actor_kind="system", action=action, detail={"n": 1})
        session.add(event)
        session.flush()
        return event.id


def refused(url: str, write) -> None:
    with pytest.raises(IntegrityError, match=REFUSED):
        with session_scope(url) as session:
            write(session)
            session.flush()


def test_r22_no_row_of_the_audit_trail_can_be_changed_or_removed(settings, platform):
    url = settings.db_url
    add_journey(url, platform, "j-audit")
    event_id = add_trace(url, "j-audit")
    admin_id = add_trace(url, None, "user_created")  # an administrator's action: no journey

    def edit_through_the_orm(session):
        event = session.get(AuditEvent, event_id)
        event.actor_id = "quelqu-un-d-autre"
        session.add(event)

    refused(url, edit_through_the_orm)
    refused(url, lambda session: session.delete(session.get(AuditEvent, event_id)))
    refused(url, lambda session: session.exec(update(AuditEvent).values(detail=None)))
    refused(url, lambda session: session.exec(delete(AuditEvent).where(AuditEvent.id == admin_id)))
    refused(url, lambda session: session.exec(text("DELETE FROM auditevent")))
    if url.startswith("postgresql"):
        refused(url, lambda session: session.exec(text("TRUNCATE auditevent")))

    with session_scope(url) as session:
        rows = session.exec(select(AuditEvent).where(AuditEvent.id.in_((event_id, admin_id)))).all()
        assert sorted((e.id, e.actor_id, e.detail) for e in rows) == [(event_id, None, {"n": 1}),
                                                                      (admin_id, None, {"n": 1})]
    add_trace(url, "j-audit", "history_read")  # appending goes on
    assert count(url, AuditEvent, AuditEvent.journey_id == "j-audit") == 2


def test_r22_an_intake_that_never_started_leaves_nothing(settings, platform):
    """The intake writes the journey, the person and its first trace, then starts the workflow; when
    that fails, `_forget` takes all of it back (the API answers "rien n'a été enregistré")."""
    url = settings.db_url
    add_journey(url, platform, "j-not-started")
    with session_scope(url) as session:
        session.add(Person(journey_id="j-not-started", first_name="Léa", last_name="Martin", birth_date=T0.date(),
                           search_name="léa martin"))
    add_trace(url, "j-not-started", "prescription_received")
    add_journey(url, platform, "j-other")
    kept = add_trace(url, "j-other")

    _forget(settings, "j-not-started")

    assert count(url, Journey, Journey.id == "j-not-started") == 0
    assert count(url, Person, Person.journey_id == "j-not-started") == 0
    assert count(url, AuditEvent, AuditEvent.journey_id == "j-not-started") == 0
    assert count(url, AuditEvent, AuditEvent.id == kept) == 1


def test_r22_a_closed_files_free_texts_are_redacted_once_and_nothing_else_changes(settings, platform):
    """Migration 0017: the anonymisation (services/personal_data.py) may strike a row's free texts out,
    once, setting `redacted_at`; the same statement touching another column, or a second redaction,
    is refused like any other change."""
    from datetime import datetime, timezone

    url = settings.db_url
    add_journey(url, platform, "j-audit")
    event_id = add_trace(url, "j-audit")
    at = datetime(2028, 2, 20, 3, tzinfo=timezone.utc)
    refused(url, lambda session: session.exec(update(AuditEvent).where(AuditEvent.id == event_id)
                                              .values(detail={}, redacted_at=at, actor_id="quelqu-un")))
    refused(url, lambda session: session.exec(update(AuditEvent).where(AuditEvent.id == event_id)
                                              .values(detail={})))  # no redaction mark: no change
    with session_scope(url) as session:
        session.exec(update(AuditEvent).where(AuditEvent.id == event_id).values(detail={}, redacted_at=at))
    refused(url, lambda session: session.exec(update(AuditEvent).where(AuditEvent.id == event_id)
                                              .values(detail={"n": 2}, redacted_at=at)))
    with session_scope(url) as session:
        event = session.get(AuditEvent, event_id)
        assert (event.detail, event.actor_id, event.action) == ({}, None, "journey_read")
        assert event.redacted_at is not None
