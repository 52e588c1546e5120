"""Journeys: intake of a prescription, the file as it stands, its history, the change of counsellor."""
from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Query
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from fastapi.encoders import jsonable_encoder
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.exc import IntegrityError
from sqlmodel import select

from eaflow.accounts import default_platform
from eaflow.activities.assignment import caseload_of
from eaflow.api.deps import SettingsDep, TemporalDep, UserDep, db_scope, require
from eaflow.api.problems import Problem
from eaflow.api.views import journey_filter, journey_view, visible_journey
from eaflow.api.workflow_calls import call_workflow
from eaflow.intake import IntakeRequest, journey_input, new_journey_id, record_prescription, start_journey
from eaflow.policy import load_policy
from eaflow.store.models import AuditEvent, Journey, Person, User
from eaflow.workflows.journey import JourneyWorkflow
from eaflow.workflows.types import CounsellorChange

router = APIRouter(prefix="/api/v1/journeys", tags=["journeys"])


def audit_read(session, journey_id: str, user: User, what: str) -> None:
    """R22: every read of a person's file is traced."""
    session.add(AuditEvent(journey_id=journey_id, actor_kind="user", actor_id=user.id, action=what))


@router.post("", status_code=201, summary="Intake of a prescription or a CDAPH orientation")
async def create_journey(
    body: IntakeRequest, settings: SettingsDep, client: TemporalDep,
    user: Annotated[User, Depends(require("prescriber", "manager"))],
    idempotency_key: Annotated[str | None, Header(max_length=200)] = None,
):
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
    if created:  # a repeated Idempotency-Key finds the journey already started
        try:
            await start_journey(client, settings.task_queue,
                                journey_input(journey_id, platform_id, body, load_policy(settings.policy_file)))
        except Exception as error:
            await run_in_threadpool(_forget, settings, journey_id)
            raise Problem(503, "Le parcours n'a pas pu démarrer ; rien n'a été enregistré, réessayez.") from error

    def read():
        with db_scope(settings) as session:
            journey = session.get(Journey, journey_id)
            return jsonable_encoder(journey_view(session, journey, user))

    return JSONResponse(await run_in_threadpool(read), status_code=201 if created else 200)


def _forget(settings, journey_id: str) -> None:
    with db_scope(settings) as session:
        for model in (Person, AuditEvent):
            for row in session.exec(select(model).where(model.journey_id == journey_id)).all():
                session.delete(row)
        session.flush()
        journey = session.get(Journey, journey_id)
        if journey is not None:
            session.delete(journey)


@router.get("", summary="Journeys visible to me")
def list_journeys(
    settings: SettingsDep, user: Annotated[User, Depends(require("counsellor", "manager", "prescriber"))],
    state: str | None = None, counsellor_id: str | None = None,
    q: Annotated[str | None, Query(max_length=100)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50, cursor: str | None = None,
):
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
        return {"items": items, "next_cursor": rows[limit - 1].id if len(rows) > limit else None}


@router.get("/{journey_id}", summary="The journey as it stands now")
def get_journey(journey_id: str, settings: SettingsDep, user: UserDep):
    with db_scope(settings) as session:
        journey = visible_journey(session, user, journey_id)
        audit_read(session, journey.id, user, "journey_read")
        return journey_view(session, journey, user)


@router.get("/{journey_id}/history", summary="Timeline: every event, who, when, why")
def journey_history(journey_id: str, settings: SettingsDep,
                    user: Annotated[User, Depends(require("counsellor", "manager"))]):
    with db_scope(settings) as session:
        journey = visible_journey(session, user, journey_id)
        # R21, R15: a journey transferred from another platform comes with the history it had there.
        lineage, previous = [journey.id], journey.transferred_from
        while previous and previous not in lineage:
            lineage.append(previous)
            previous = getattr(session.get(Journey, previous), "transferred_from", None)
        events = session.exec(select(AuditEvent).where(AuditEvent.journey_id.in_(lineage))
                              .order_by(AuditEvent.at, AuditEvent.id)).all()
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


class CounsellorChangeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    counsellor_id: str = Field(min_length=1, max_length=64)
    reason: str = Field(min_length=1, max_length=1000, description="Motif : absence, départ, réorganisation…")


@router.put("/{journey_id}/counsellor", summary="Change of counsellor (R8, R21)")
async def change_counsellor(journey_id: str, body: CounsellorChangeIn, settings: SettingsDep, client: TemporalDep,
                            user: Annotated[User, Depends(require("manager"))]):
    def facts() -> CounsellorChange:
        with db_scope(settings) as session:
            visible_journey(session, user, journey_id)
            counsellor = session.get(User, body.counsellor_id)
            if counsellor is None or counsellor.role != "counsellor" or counsellor.platform_id != user.platform_id:
                raise Problem(422, "Ce conseiller n'existe pas sur votre plateforme.",
                              errors=[{"field": "counsellor_id", "message": "conseiller inconnu"}])
            return CounsellorChange(counsellor_id=counsellor.id, reason=body.reason, actor_id=user.id,
                                    caseload=caseload_of(session, counsellor.id, excluding=journey_id),
                                    fte=counsellor.fte)

    change = await run_in_threadpool(facts)
    handle = client.get_workflow_handle(journey_id)
    update_id = f"counsellor-{uuid.uuid4().hex}"
    await call_workflow(lambda: handle.execute_update(JourneyWorkflow.change_counsellor, change, id=update_id))
    return await run_in_threadpool(get_journey, journey_id, settings, user)

