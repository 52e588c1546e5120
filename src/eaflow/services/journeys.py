"""Journeys: intake of a prescription, the file as it stands (every read traced, R22), its history
(R21), the journeys a user may see, the change of counsellor (R8)."""
from __future__ import annotations

import uuid
from datetime import date
from typing import Any

from fastapi.concurrency import run_in_threadpool
from fastapi.encoders import jsonable_encoder
from pydantic import ConfigDict, Field
from sqlalchemy import func
from sqlalchemy.exc import IntegrityError
from sqlmodel import select
from temporalio.client import Client

from eaflow.accounts import default_platform
from eaflow.activities.assignment import caseload_of
from eaflow.intake import (
    IntakeRequest,
    journey_input,
    new_journey_id,
    record_prescription,
    recorded_input,
    start_journey,
)
from eaflow.policy import load_policy
from eaflow.services import plausible, roles
from eaflow.services.access import READ_ACTIONS, audit_read, audit_reads, journey_filter, visible_journey
from eaflow.services.db import db_scope
from eaflow.services.operators import check_may_designate
from eaflow.services.refusals import Refusal
from eaflow.services.views import aware, journey_view, names_of
from eaflow.services.workflow_calls import call_workflow
from eaflow.settings import Settings
from eaflow.store.models import AuditEvent, Journey, Person, Task, User
from eaflow.workflows import transitions
from eaflow.workflows.journey import JourneyWorkflow
from eaflow.workflows.types import CounsellorChange, JourneyInput
from eaflow.workflows.plausibility import CheckedText


async def intake(settings: Settings, client: Client, user: User, body: IntakeRequest,
                 idempotency_key: str | None = None) -> tuple[dict[str, Any], bool]:
    """Record a prescription and start its journey: (the journey, whether it was created now; a
    repeated Idempotency-Key finds it already started)."""
    roles.check(user, roles.INTAKE)
    plausible.refuse(plausible.intake_errors(body, load_policy(settings.policy_file), date.today()))
    journey_id = new_journey_id(user.id, idempotency_key)

    def write() -> tuple[str, bool]:
        for attempt in (1, 2):
            try:
                with db_scope(settings) as session:
                    existing = session.get(Journey, journey_id)
                    if existing is not None:
                        return existing.platform_id, False
                    platform_id = user.platform_id or default_platform(session).id
                    record_prescription(session, journey_id, body, platform_id, user.id)
                    return platform_id, True
            except IntegrityError:
                # The same Idempotency-Key in two requests at once (PostgreSQL lets both look
                # before either writes): the other one inserted the journey; read it this time.
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    platform_id, created = await run_in_threadpool(write)
    if created:
        try:
            await start_journey(client, settings.task_queue,
                                journey_input(journey_id, platform_id, body, load_policy(settings.policy_file)))
        except Exception as error:
            await _take_back(settings, client, journey_id)
            raise Refusal(503, "Le parcours n'a pas pu démarrer ; rien n'a été enregistré, réessayez.") from error
    else:
        await _started(settings, client, journey_id)

    def read():
        with db_scope(settings) as session:
            journey = session.get(Journey, journey_id)
            return jsonable_encoder(journey_view(session, journey, user))

    return await run_in_threadpool(read), created


async def _started(settings: Settings, client: Client, journey_id: str) -> None:
    """The same intake again (its Idempotency-Key): if the first one was cut between its record and its
    workflow (a crash), the journey starts now from its records; otherwise nothing happens (issue 19)."""
    def recorded() -> JourneyInput | None:
        with db_scope(settings) as session:
            journey = session.get(Journey, journey_id)
            if journey is None or journey.state != "prescribed":
                return None  # the workflow moved it on: it runs
            return recorded_input(session, journey_id, load_policy(settings.policy_file))

    inp = await run_in_threadpool(recorded)
    if inp is not None:
        await start_journey(client, settings.task_queue, inp)  # an existing workflow is found, not started twice


async def _take_back(settings: Settings, client: Client, journey_id: str) -> None:
    """An intake whose workflow did not start is taken back whole: the workflow too, in case the start
    did reach the server before failing here (a timeout), so that neither outlives the other."""
    try:
        await client.get_workflow_handle(journey_id).terminate(reason="intake taken back: its start failed")
    except Exception:  # noqa: BLE001 - not started, or Temporal unreachable: the nightly check terminates it
        pass
    await run_in_threadpool(_forget, settings, journey_id)


def _forget(settings, journey_id: str) -> None:
    """Undo an intake whose workflow did not start. The audit trail is append-only (migration 0015)
    except for the rows of a journey that no longer exists: the journey goes first, then its rows."""
    with db_scope(settings) as session:
        for person in session.exec(select(Person).where(Person.journey_id == journey_id)).all():
            session.delete(person)
        session.flush()
        journey = session.get(Journey, journey_id)
        if journey is not None:
            session.delete(journey)
            session.flush()
        for event in session.exec(select(AuditEvent).where(AuditEvent.journey_id == journey_id)).all():
            session.delete(event)


def list_journeys(settings: Settings, user: User, *, state: str | None = None, counsellor_id: str | None = None,
                  q: str | None = None, limit: int = 50, cursor: str | None = None) -> dict[str, Any]:
    """The journeys this user may see (by id), filtered by state, counsellor and part of a name."""
    roles.check(user, roles.JOURNEY_READERS)
    with db_scope(settings) as session:
        query = select(Journey).where(journey_filter(user))
        if state:
            query = query.where(Journey.state == state)
        if counsellor_id:
            query = query.where(Journey.counsellor_id == counsellor_id)
        if q:
            names = select(Person.journey_id).where(Person.search_name.contains(q.strip().lower()))
            query = query.where(Journey.id.in_(names))
        if cursor:
            query = query.where(Journey.id > cursor)
        rows = session.exec(query.order_by(Journey.id).limit(limit + 1)).all()
        items = [journey_view(session, j, user) for j in rows[:limit]]
        # R22: each item is the person's file (identity, contact, employer, rights): one read per journey shown.
        audit_reads(session, [j.id for j in rows[:limit]], user, "journey_listed")
        return {"items": items, "next_cursor": rows[limit - 1].id if len(rows) > limit else None}


def read_journey(settings: Settings, user: User, journey_id: str) -> dict[str, Any]:
    """The journey as it stands now; the read is traced (R22)."""
    with db_scope(settings) as session:
        journey = visible_journey(session, user, journey_id)
        audit_read(session, journey.id, user, "journey_read")
        return journey_view(session, journey, user)


def journey_history(settings: Settings, user: User, journey_id: str, *, with_reads: bool = True) -> dict[str, Any]:
    """Timeline: every event, who, when, why (R21), and for a manager every read of the file too (R22),
    unless `with_reads` is False (the file page: the reads have their own paged journal); the read is
    traced."""
    roles.check(user, roles.STAFF)
    with db_scope(settings) as session:
        journey = visible_journey(session, user, journey_id)
        # R21, R15: a journey transferred from another platform comes with the history it had there.
        lineage, previous = [journey.id], journey.transferred_from
        while previous and previous not in lineage:
            lineage.append(previous)
            previous = getattr(session.get(Journey, previous), "transferred_from", None)
        query = select(AuditEvent).where(AuditEvent.journey_id.in_(lineage))
        if user.role != "manager" or not with_reads:  # the reads are the managers' audit journal (R22)
            query = query.where(AuditEvent.action.not_in(READ_ACTIONS))
        events = session.exec(query.order_by(AuditEvent.at, AuditEvent.id)).all()
        actors = {u.id: u for u in session.exec(select(User).where(
            User.id.in_({e.actor_id for e in events if e.actor_id}))).all()}
        items = [{
            "at": e.at, "action": e.action, "actor_kind": e.actor_kind,
            "actor": ({"id": e.actor_id, "name": actors[e.actor_id].display_name or actors[e.actor_id].email,
                       "role": actors[e.actor_id].role} if e.actor_id in actors else None),
            "detail": e.detail,
            **({"journey_id": e.journey_id} if e.journey_id != journey.id else {}),
        } for e in events]
        audit_read(session, journey.id, user, "history_read")
        return {"journey_id": journey.id, "items": items}


class CounsellorChangeIn(CheckedText):
    model_config = ConfigDict(extra="forbid", title="Changement de conseiller")
    counsellor_id: str = Field(min_length=1, max_length=64, title="Nouveau conseiller",
                               description="Un conseiller de votre plateforme, qui n'a pas atteint sa capacité "
                                           "(20 personnes par équivalent temps plein, R7) ; les tâches ouvertes le "
                                           "suivent")
    reason: str = Field(min_length=1, max_length=1000, title="Motif du changement",
                        description="Obligatoire et tracé (R8, R21) : absence, départ, réorganisation…")


async def change_counsellor(settings: Settings, client: Client, user: User, journey_id: str,
                           body: CounsellorChangeIn) -> dict[str, Any]:
    """Change of counsellor with a reason (R8, R21); open tasks follow. The journey as it stands after."""
    roles.check(user, roles.MANAGERS)

    def facts() -> CounsellorChange:
        with db_scope(settings) as session:
            visible_journey(session, user, journey_id)
            counsellor = session.get(User, body.counsellor_id)
            if counsellor is None or counsellor.role != "counsellor" or counsellor.platform_id != user.platform_id:
                raise Refusal(422, "Ce conseiller n'existe pas sur votre plateforme.",
                              errors=[{"field": "counsellor_id", "message": "conseiller inconnu"}])
            check_may_designate(session, user, counsellor, "counsellor_id")
            return CounsellorChange(counsellor_id=counsellor.id, reason=body.reason, actor_id=user.id,
                                    caseload=caseload_of(session, counsellor.id, excluding=journey_id),
                                    fte=counsellor.fte)

    change = await run_in_threadpool(facts)
    handle = client.get_workflow_handle(journey_id)
    update_id = f"counsellor-{uuid.uuid4().hex}"
    await call_workflow(lambda: handle.execute_update(JourneyWorkflow.change_counsellor, change, id=update_id))
    return await run_in_threadpool(read_journey, settings, user, journey_id)


CASELOAD_LIMIT = 500


def caseload(settings: Settings, user: User, *, q: str | None = None, state: str | None = None) -> list[dict[str, Any]]:
    """The persons this user follows (a counsellor's caseload, a manager's platform), each with its
    next deadline (quarterly interview, end of veille, end of rights, open task), soonest first."""
    roles.check(user, roles.STAFF)
    with db_scope(settings) as session:
        query = (select(Journey, Person).join(Person, Person.journey_id == Journey.id)
                 .where(journey_filter(user)))
        if state:
            query = query.where(Journey.state == state)
        if q and q.strip():
            query = query.where(Person.search_name.contains(q.strip().lower()))
        rows = session.exec(query.order_by(Journey.id).limit(CASELOAD_LIMIT)).all()
        due = dict(session.exec(
            select(Task.journey_id, func.min(Task.due_at))
            .where(Task.status == "open", Task.journey_id.in_([journey.id for journey, _ in rows]))
            .group_by(Task.journey_id)).all()) if rows else {}
        counsellors = names_of(session, {journey.counsellor_id for journey, _ in rows if journey.counsellor_id})
        audit_reads(session, [journey.id for journey, _ in rows], user, "journey_listed")  # R22: names listed
    items = []
    for journey, person in rows:
        deadlines = [(when, what) for when, what in (
            (journey.next_interview_due, "Entretien trimestriel"),
            (journey.veille_until if journey.state == "veille" else None, "Fin de la veille"),
            (journey.rqth_until, "Fin de la RQTH"),
            (aware(due[journey.id]).date() if due.get(journey.id) else None, "Tâche à faire"),
        ) if when is not None]
        soonest = min(deadlines, default=None)
        items.append({
            "id": journey.id, "person": {"first_name": person.first_name, "last_name": person.last_name},
            "state": journey.state, "state_label": transitions.label(journey.state),
            "counsellor": counsellors.get(journey.counsellor_id), "last_contact_on": journey.last_contact_on,
            "next_deadline": {"on": soonest[0], "what": soonest[1]} if soonest else None,
        })
    return sorted(items, key=lambda item: (item["next_deadline"] is None,
                                           item["next_deadline"]["on"] if item["next_deadline"] else None,
                                           item["person"]["last_name"].lower()))
