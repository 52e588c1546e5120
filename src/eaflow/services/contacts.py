"""Contacts of a journey (R13) and the intensity they make month by month (R11).

Who: the journey's counsellor and the platform's managers (a journey they may not see is a 404).
Each write is committed with its nudge (eaflow/nudges.py), then the journey's workflow is told
through its `contacts_changed` update, so that it moves its deadlines (R12, R17). A nudge that
cannot be delivered now is logged and the request still succeeds: the worker's relay delivers it.
"""
from __future__ import annotations

import logging
from datetime import date
from typing import Any, Callable, Optional

from fastapi.concurrency import run_in_threadpool
from fastapi.encoders import jsonable_encoder
from pydantic import (
    ConfigDict,
    Field,
    ValidationError,
    create_model,
    field_validator,
)
from sqlalchemy import tuple_
from sqlmodel import Session, select

from eaflow import nudges
from eaflow.services import plausible
from eaflow.services.access import audit_read, visible_journey
from eaflow.services.db import db_scope
from eaflow.services.refusals import Refusal, invalid
from eaflow.services.temporal import TemporalHolder
from eaflow.services.views import aware, names_of
from eaflow.settings import Settings
from eaflow.store import contacts as store
from eaflow.store import nudges as nudge_store
from eaflow.store.accompaniment import Contact
from eaflow.store.models import CLOSED_STATES, User
from eaflow.workflows import rules, transitions
from eaflow.workflows.field_errors import field_errors
from eaflow.workflows.task_kinds import ContactFields
from eaflow.workflows.plausibility import CheckedText

log = logging.getLogger(__name__)

MAX_MONTHS = 120
MONTH = r"^\d{4}-(0[1-9]|1[0-2])$"
# The months a journey can have, with room on both sides: beyond them the date arithmetic of the
# period (11 months before `to`) would leave the calendar (year 0, a 500 found by fuzzing, issue 18).
MIN_YEAR, MAX_YEAR = 1900, 2200

# PATCH takes any of ContactFields' fields; the merged contact is validated by ContactFields itself.
ContactPatch = create_model(
    "ContactPatch", __config__=ConfigDict(extra="forbid"),
    **{name: (Optional[field.annotation], Field(None, description=field.description))
       for name, field in ContactFields.model_fields.items()},
)



# ------------------------------------------------------------------------------------- services
async def add_contact(settings: Settings, temporal: TemporalHolder, user: User, journey_id: str,
                      body: ContactFields, idempotency_key: str | None = None) -> tuple[dict[str, Any], bool]:
    """Record a contact: (its view, whether it was recorded now: False for a repeated key)."""
    contact_id = store.new_contact_id(journey_id, user.id, idempotency_key)

    def write(session: Session) -> tuple[Contact, bool]:
        plausible.check_dates(session, journey_id, {"occurred_on": body.occurred_on})
        return store.add_contact(session, journey_id, body, user.id, contact_id)

    view, nudge = await run_in_threadpool(_write, settings, user, journey_id, write)
    if nudge is not None:
        await tell_journey(temporal, settings, journey_id, nudge)
    # No news means a repeated Idempotency-Key found the contact already recorded (a closed journey is a 409).
    return view, nudge is not None


def list_contacts(settings: Settings, user: User, journey_id: str, limit: int = 50,
                  cursor: str | None = None) -> dict[str, Any]:
    """The journey's contacts, newest first; the read is traced (R22)."""
    with db_scope(settings) as session:
        journey = visible_journey(session, user, journey_id)
        newest_first = (Contact.occurred_on.desc(), Contact.recorded_at.desc(), Contact.id.desc())
        query = select(Contact).where(Contact.journey_id == journey.id, Contact.deleted_at.is_(None))
        if cursor:
            last = session.get(Contact, cursor)
            if last is None or last.journey_id != journey.id:
                raise Refusal(422, "Curseur de pagination invalide.",
                              errors=[{"field": "cursor", "message": "invalide"}])
            query = query.where(tuple_(Contact.occurred_on, Contact.recorded_at, Contact.id)
                                < tuple_(last.occurred_on, last.recorded_at, last.id))
        rows = session.exec(query.order_by(*newest_first).limit(limit + 1)).all()
        page = list(rows[:limit])
        names = names_of(session, {i for c in page for i in (c.recorded_by, c.updated_by) if i})
        audit_read(session, journey.id, user, "contacts_read")
        return {"items": [contact_view(c, names) for c in page],
                "next_cursor": page[-1].id if len(rows) > limit else None}


async def edit_contact(settings: Settings, temporal: TemporalHolder, user: User, journey_id: str, contact_id: str,
                       patch: dict[str, Any]) -> dict[str, Any]:
    """Correct a contact (traced); `patch` holds the fields to change."""
    def write(session: Session) -> tuple[Contact, bool]:
        store.lock_journey(session, journey_id)  # read the contact as no one else is changing it
        fields = _merged(store.live_contact(session, journey_id, contact_id), patch)
        plausible.check_dates(session, journey_id, {"occurred_on": fields.occurred_on})
        contact, changes = store.edit_contact(session, journey_id, contact_id, fields, user.id)
        return contact, bool(changes)

    view, nudge = await run_in_threadpool(_write, settings, user, journey_id, write)
    if nudge is not None:
        await tell_journey(temporal, settings, journey_id, nudge)
    return view


async def delete_contact(settings: Settings, temporal: TemporalHolder, user: User, journey_id: str,
                         contact_id: str, reason: str | None = None) -> None:
    """Delete a contact: kept, marked deleted, traced."""
    def write(session: Session) -> tuple[Contact, bool]:
        return store.delete_contact(session, journey_id, contact_id, user.id, reason=reason), True

    _, nudge = await run_in_threadpool(_write, settings, user, journey_id, write)
    if nudge is not None:
        await tell_journey(temporal, settings, journey_id, nudge)


def intensity(settings: Settings, user: User, journey_id: str, from_: str | None = None,
              to: str | None = None) -> dict[str, Any]:
    """Hours and R11 level month by month (months without contact included), workplace time (R13);
    the read is traced (R22)."""
    last = _month(to, "to") if to else rules.month_start(date.today())
    first = _month(from_, "from") if from_ else _months_before(last, 11)
    if first > last:
        raise Refusal(422, "Le mois de début doit précéder le mois de fin.",
                      errors=[{"field": "from", "message": "postérieur à to"}])
    if len(rules.months_from(first, last)) > MAX_MONTHS:
        raise Refusal(422, f"La période demandée dépasse {MAX_MONTHS} mois.",
                      errors=[{"field": "from", "message": f"au plus {MAX_MONTHS} mois"}])
    with db_scope(settings) as session:
        journey = visible_journey(session, user, journey_id)
        months = store.intensity_by_month(session, journey.id, first, last)
        audit_read(session, journey.id, user, "intensity_read")
    total = sum(m.minutes for m in months)
    workplace = sum(m.workplace_minutes for m in months)
    return {"journey_id": journey_id, "from": f"{first:%Y-%m}", "to": f"{last:%Y-%m}",
            "items": [month_view(m) for m in months],
            "total": {"minutes": total, "hours": round(total / 60, 2),
                      "workplace_minutes": workplace, "workplace_hours": round(workplace / 60, 2)}}


# ------------------------------------------------------------------------------------- views
def contact_view(contact: Contact, names: dict[str, str]) -> dict[str, Any]:
    def ref(user_id: str | None) -> dict[str, Any] | None:
        return {"id": user_id, "name": names.get(user_id)} if user_id else None

    return {
        "id": contact.id, "journey_id": contact.journey_id, "occurred_on": contact.occurred_on,
        "duration_minutes": contact.duration_minutes, "place": contact.place, "channel": contact.channel,
        "participants": contact.participants, "reached": contact.reached, "interview": contact.interview,
        "note": contact.note, "task_id": contact.task_id,
        "recorded_by": ref(contact.recorded_by), "recorded_at": aware(contact.recorded_at),
        "updated_by": ref(contact.updated_by), "updated_at": aware(contact.updated_at),
    }


def month_view(month: rules.MonthIntensity) -> dict[str, Any]:
    return {"month": f"{month.month:%Y-%m}", "minutes": month.minutes, "hours": month.hours,
            "workplace_minutes": month.workplace_minutes, "workplace_hours": month.workplace_hours,
            "level": month.level, "label": month.label}


# ------------------------------------------------------------------------------------ helpers
def _write(settings, user: User, journey_id: str,
           write: Callable[[Session], tuple[Contact, bool]]) -> tuple[dict[str, Any], int | None]:
    """Run a write on a journey visible to the user, in one transaction; any refusal writes nothing.
    Returns the contact's view and, when the contacts changed, the nudge to deliver."""
    with db_scope(settings) as session:
        journey = visible_journey(session, user, journey_id)
        try:
            contact, changed = write(session)
        except store.JourneyClosed as closed:
            raise Refusal(409, f"Ce parcours est clos ({transitions.label(closed.state).lower()}) : "
                               "ses contacts ne peuvent plus être enregistrés ni modifiés.") from closed
        except store.ContactNotFound as missing:
            raise Refusal(404, "Ce contact n'existe pas sur ce parcours ou a été supprimé.") from missing
        nudge = nudge_store.want_nudge(session, journey.id) if changed and journey.state not in CLOSED_STATES \
            else None
        session.flush()
        names = names_of(session, {i for i in (contact.recorded_by, contact.updated_by) if i})
        view = jsonable_encoder(contact_view(contact, names))
    return view, nudge


def _merged(contact: Contact, patch: dict[str, Any]) -> ContactFields:
    current = {name: getattr(contact, name) for name in store.FIELDS}
    try:
        return ContactFields.model_validate({**current, **patch})
    except ValidationError as error:
        raise Refusal(422, "La requête contient des champs invalides.", errors=field_errors(error)) from error


def _month(text: str, field: str) -> date:
    """A month YYYY-MM (the format is the API's check) within MIN_YEAR..MAX_YEAR, or a 422 on `field`."""
    year, month = text.split("-")
    if not MIN_YEAR <= int(year) <= MAX_YEAR:
        raise invalid("La période demandée n'est pas valide.", field,
                      f"Indiquez un mois entre {MIN_YEAR}-01 et {MAX_YEAR}-12 (AAAA-MM).")
    return date(int(year), int(month), 1)


def _months_before(month: date, count: int) -> date:
    index = month.year * 12 + month.month - 1 - count
    return date(index // 12, index % 12 + 1, 1)


async def tell_journey(temporal: TemporalHolder, settings: Settings, journey_id: str, version: int) -> None:
    """Tell the journey's workflow that its contacts changed (R12, R17); never fails the request
    (what is not delivered now, the worker's relay delivers later: eaflow/nudges.py)."""
    client = await temporal.get()
    if client is None:
        log.warning("contacts_changed not delivered to journey %s: Temporal unavailable", journey_id)
        return
    await nudges.deliver(client, settings.db_url, journey_id, version)  # logs what it could not do


def get_contact(settings: Settings, user: User, journey_id: str, contact_id: str) -> dict[str, Any]:
    """One contact of the journey (not deleted); the read is traced (R22)."""
    with db_scope(settings) as session:
        journey = visible_journey(session, user, journey_id)
        try:
            contact = store.live_contact(session, journey.id, contact_id)
        except store.ContactNotFound as missing:
            raise Refusal(404, "Ce contact n'existe pas sur ce parcours ou a été supprimé.") from missing
        names = names_of(session, {i for i in (contact.recorded_by, contact.updated_by) if i})
        audit_read(session, journey.id, user, "contacts_read")
        return contact_view(contact, names)


class ContactDeletion(CheckedText):
    """Deleting a contact from the pages: the reason is asked, and traced."""

    model_config = ConfigDict(extra="forbid", title="Suppression d'un contact")
    reason: str = Field(min_length=1, max_length=2000, title="Motif de la suppression",
                        description="Par exemple : contact saisi deux fois, erreur de personne. Il est tracé.")

    @field_validator("reason")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("indiquez le motif de la suppression")
        return value.strip()
