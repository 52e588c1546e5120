"""Contacts (R13) and the intensity they make month by month (R11), on the database side.

Each write runs in the caller's transaction and locks the journey's row first (SELECT … FOR UPDATE
on PostgreSQL; SQLite's BEGIN IMMEDIATE already serialises writers), so that two contacts recorded
at once on one journey never total a month without each other. A write then records the contact,
its audit event (R21: who, when, the fields before and after; never the note's text), rewrites the
`intensity_month` rows of the months it touches and the journey's `last_contact_on`.

The dates a journey needs (R12's last interview, R17's last link) come from `contact_facts`.
"""
from __future__ import annotations

import hashlib
import uuid
from datetime import date, datetime, timezone
from typing import Any, Iterable

from sqlalchemy import case, func
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session, select

from eaflow.store.accompaniment import Contact, IntensityMonth
from eaflow.store.models import CLOSED_STATES, AuditEvent, Journey
from eaflow.workflows.rules import MonthIntensity, month_start, monthly_intensity, next_month
from eaflow.workflows.task_kinds import ContactFields

# A journey in one of these states takes no more contacts (its file is closed).
FIELDS = tuple(ContactFields.model_fields)  # what a contact records, as the API takes it
PERSON_TOOK_PART = ("person", "both")
ATTEMPTS_KEPT = 100  # R17: the solicitations since the last link that a journey reads (the latest ones)


class JourneyClosed(Exception):
    """The journey is refused, exited or transferred: it takes no more contacts."""

    def __init__(self, state: str) -> None:
        super().__init__(state)
        self.state = state


class ContactNotFound(LookupError):
    """No such contact on this journey, or it was deleted."""


def new_contact_id(journey_id: str, user_id: str | None, idempotency_key: str | None) -> str:
    """Opaque ids; a repeated Idempotency-Key of the same user on the same journey maps to one contact."""
    if idempotency_key:
        digest = hashlib.sha256(f"{user_id}|{journey_id}|{idempotency_key}".encode()).hexdigest()[:20]
        return f"ct-{digest}"
    return f"ct-{uuid.uuid4().hex[:20]}"


# --------------------------------------------------------------------------------------- writes
def add_contact(session: Session, journey_id: str, fields: ContactFields, user_id: str | None,
                contact_id: str) -> tuple[Contact, bool]:
    """Record a contact under `contact_id`; (the contact, whether it was created). A contact already
    recorded under that id (a repeated Idempotency-Key) is returned as it is."""
    journey = lock_journey(session, journey_id)
    existing = session.get(Contact, contact_id)
    if existing is not None and existing.journey_id == journey_id:
        return existing, False
    _check_open(journey)
    return _insert(session, journey, contact_id, fields, user_id, task_id=None), True


def record_contact_from_task(session: Session, journey_id: str, task_id: str, fields: ContactFields,
                             user_id: str | None) -> Contact:
    """A contact recorded as a task's outcome; idempotent on the task (a retried activity gets the
    contact of its first run). The journey's workflow decided that the task takes it: no state check."""
    journey = lock_journey(session, journey_id)
    existing = session.exec(select(Contact).where(Contact.task_id == task_id)).first()
    if existing is not None:
        return existing
    contact_id = f"ct-{hashlib.sha256(f'task|{task_id}'.encode()).hexdigest()[:20]}"
    return _insert(session, journey, contact_id, fields, user_id, task_id=task_id)


def edit_contact(session: Session, journey_id: str, contact_id: str, fields: ContactFields,
                 user_id: str | None) -> tuple[Contact, dict[str, Any]]:
    """Replace a contact's fields; (the contact, the changes traced). No change: nothing written."""
    journey = lock_journey(session, journey_id)
    _check_open(journey)
    contact = live_contact(session, journey_id, contact_id)
    before, after = _values_of(contact), _values(fields)
    changed = [name for name in FIELDS if before[name] != after[name]]
    if not changed:
        return contact, {}
    months = {month_start(contact.occurred_on), month_start(fields.occurred_on)}
    for name in changed:
        setattr(contact, name, after[name])
    contact.updated_by, contact.updated_at = user_id, _now()
    session.add(contact)
    changes = {name: ("modifiée" if name == "note" else {"before": _json(before[name]), "after": _json(after[name])})
               for name in changed}
    _audit(session, journey_id, user_id, "contact_edited", {"contact_id": contact.id, "changes": changes})
    _refresh(session, journey, months)
    return contact, changes


def delete_contact(session: Session, journey_id: str, contact_id: str, user_id: str | None,
                   reason: str | None = None) -> Contact:
    """Mark a contact deleted (kept, with who deleted it, when and why); its month is totalled again."""
    journey = lock_journey(session, journey_id)
    _check_open(journey)
    contact = live_contact(session, journey_id, contact_id)
    contact.deleted_by, contact.deleted_at = user_id, _now()
    session.add(contact)
    _audit(session, journey_id, user_id, "contact_deleted",
           {"contact_id": contact.id, "fields": _audit_fields(_values_of(contact)),
            **({"reason": reason} if reason else {})})
    _refresh(session, journey, {month_start(contact.occurred_on)})
    return contact


# ---------------------------------------------------------------------------------------- reads
def live_contact(session: Session, journey_id: str, contact_id: str) -> Contact:
    contact = session.get(Contact, contact_id)
    if contact is None or contact.journey_id != journey_id or contact.deleted_at is not None:
        raise ContactNotFound(contact_id)
    return contact


def contact_facts(session: Session, journey_id: str, *, attempts: bool = False) -> dict[str, Any]:
    """From the contacts not deleted: the last interview (R12), the last contact that reached the
    person (reached, with the person taking part: R17's link), the last contact of any kind,
    attempts included, and (`attempts`) R17's solicitations since that link: the contacts recorded
    as not reaching the person, oldest first (the last ATTEMPTS_KEPT)."""
    def latest(condition):
        return func.max(case((condition, Contact.occurred_on)))

    last_interview, last_reached, last_contact = session.exec(
        select(latest(Contact.interview.is_(True)), latest(_reached_person()), func.max(Contact.occurred_on))
        .where(Contact.journey_id == journey_id, Contact.deleted_at.is_(None))
    ).one()
    facts: dict[str, Any] = {"last_interview_on": _as_date(last_interview), "last_reached_on": _as_date(last_reached),
                             "last_contact_on": _as_date(last_contact)}
    if attempts:
        query = select(Contact).where(Contact.journey_id == journey_id, Contact.deleted_at.is_(None),
                                      Contact.reached.is_(False))
        if facts["last_reached_on"] is not None:  # a same-day attempt is taken to precede the link
            query = query.where(Contact.occurred_on > facts["last_reached_on"])
        rows = session.exec(query.order_by(Contact.occurred_on.desc(), Contact.recorded_at.desc())
                            .limit(ATTEMPTS_KEPT)).all()
        facts["attempts"] = [{"on": _as_date(c.occurred_on), "channel": c.channel, "place": c.place,
                              "participants": c.participants} for c in reversed(rows)]
    return facts


def intensity_by_month(session: Session, journey_id: str, first: date, last: date) -> list[MonthIntensity]:
    """R11 month by month from `first` to `last` (months without a contact included)."""
    contacts = session.exec(select(Contact).where(
        Contact.journey_id == journey_id, Contact.deleted_at.is_(None),
        Contact.occurred_on >= month_start(first), Contact.occurred_on < next_month(month_start(last)),
    )).all()
    return monthly_intensity(contacts, first, last)


# -------------------------------------------------------------------------------------- helpers
def _now() -> datetime:
    return datetime.now(timezone.utc)


def lock_journey(session: Session, journey_id: str) -> Journey:
    """The journey's row, locked until the end of the transaction (PostgreSQL; SQLite: BEGIN IMMEDIATE)."""
    journey = session.exec(select(Journey).where(Journey.id == journey_id).with_for_update()
                           .execution_options(populate_existing=True)).first()
    if journey is None:
        raise LookupError(f"journey {journey_id} is not in the database")
    return journey


def _check_open(journey: Journey) -> None:
    if journey.state in CLOSED_STATES:
        raise JourneyClosed(journey.state)


def _reached_person():
    return Contact.reached.is_(True) & Contact.participants.in_(PERSON_TOOK_PART)


def _values(fields: ContactFields) -> dict[str, Any]:
    """The fields as the table stores them (plain strings for the choices)."""
    values = fields.model_dump(mode="json")
    values["occurred_on"] = fields.occurred_on
    return values


def _values_of(contact: Contact) -> dict[str, Any]:
    return {name: getattr(contact, name) for name in FIELDS}


def _json(value: Any) -> Any:
    return value.isoformat() if isinstance(value, date) else value


def _audit_fields(values: dict[str, Any]) -> dict[str, Any]:
    """What the audit keeps of a contact: every field, but only whether there is a note."""
    return {name: _json(value) for name, value in values.items() if name != "note"} | {"note": bool(values["note"])}


def _audit(session: Session, journey_id: str, user_id: str | None, action: str, detail: dict[str, Any],
           step_key: str | None = None) -> None:
    session.add(AuditEvent(journey_id=journey_id, actor_kind="user" if user_id else "system", actor_id=user_id,
                           action=action, detail={"rule": "R13", **detail}, step_key=step_key))


def _insert(session: Session, journey: Journey, contact_id: str, fields: ContactFields, user_id: str | None,
            task_id: str | None) -> Contact:
    values = _values(fields)
    contact = Contact(id=contact_id, journey_id=journey.id, task_id=task_id, recorded_by=user_id, **values)
    session.add(contact)
    session.flush()
    detail = {"contact_id": contact_id, "fields": _audit_fields(values), **({"task_id": task_id} if task_id else {})}
    _audit(session, journey.id, user_id, "contact_recorded", detail,
           step_key=f"{task_id}/contact" if task_id else None)
    _refresh(session, journey, {month_start(fields.occurred_on)})
    return contact


def _refresh(session: Session, journey: Journey, months: Iterable[date]) -> None:
    """Total again the months touched (R11, R13) and project the last contact reaching the person."""
    session.flush()
    for month in sorted(months):
        (total,) = intensity_by_month(session, journey.id, month, month)
        _upsert_month(session, journey.id, total)
    journey.last_contact_on = contact_facts(session, journey.id)["last_reached_on"]
    journey.updated_at = _now()
    session.add(journey)


def _upsert_month(session: Session, journey_id: str, total: MonthIntensity) -> None:
    insert = {"postgresql": postgresql_insert, "sqlite": sqlite_insert}[session.get_bind().dialect.name]
    statement = insert(IntensityMonth).values(
        journey_id=journey_id, month=total.month, minutes=total.minutes,
        workplace_minutes=total.workplace_minutes, level=total.level, updated_at=_now())
    session.exec(statement.on_conflict_do_update(
        index_elements=["journey_id", "month"],
        set_={name: statement.excluded[name] for name in ("minutes", "workplace_minutes", "level", "updated_at")},
    ))


def _as_date(value: date | str | None) -> date | None:
    return date.fromisoformat(value) if isinstance(value, str) else value
