"""The inbox: list, claim, assign and complete the human tasks of the journeys."""
from __future__ import annotations

import base64
import hashlib
import json
from datetime import datetime, timezone
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import and_, or_, update
from sqlmodel import select

from eaflow.activities.assignment import caseload_of
from eaflow.api.deps import STAFF, SettingsDep, TemporalDep, db_scope, require
from eaflow.api.problems import Problem
from eaflow.api.views import task_filter, task_view, user_names, visible_task
from eaflow.api.workflow_calls import call_workflow
from eaflow.store.models import Task, User
from eaflow.workflows.journey import JourneyWorkflow
from eaflow.workflows.task_kinds import TASK_KINDS, outcome_errors
from eaflow.workflows.types import TaskCompletion

router = APIRouter(prefix="/api/v1/tasks", tags=["tasks"])
StaffDep = Annotated[User, Depends(require(*STAFF))]


def _encode_cursor(task: Task) -> str:
    raw = json.dumps([task.due_at.isoformat() if task.due_at else None, task.id])
    return base64.urlsafe_b64encode(raw.encode()).decode()


def _decode_cursor(cursor: str) -> tuple[datetime | None, str]:
    """(due date of the last task seen, or None when it had none; its id)."""
    try:
        due, task_id = json.loads(base64.urlsafe_b64decode(cursor.encode()))
        if due is None or str(due).startswith("9999-"):  # None, or the far-future stand-in of older cursors
            return None, str(task_id)
        when = datetime.fromisoformat(due)
        return (when if when.tzinfo else when.replace(tzinfo=timezone.utc)), str(task_id)
    except Exception as error:  # noqa: BLE001 - any garbage is the same client error
        raise Problem(422, "Curseur de pagination invalide.", errors=[{"field": "cursor", "message": "invalide"}]) from error


@router.get("", summary="My inbox, sorted by due date")
def list_tasks(
    settings: SettingsDep, user: StaffDep,
    assignee: Annotated[str | None, Query(description="me, none, or a user id")] = None,
    role: str | None = None, kind: str | None = None, journey_id: str | None = None,
    status: Literal["open", "done", "cancelled"] = "open", overdue: bool | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50, cursor: str | None = None,
):
    # By due date, tasks without one last: NULLS LAST spelt out, as SQLite puts NULLs first and
    # PostgreSQL last (PostgreSQL's ascending index on due_at is already in this order).
    due_key = Task.due_at.asc().nulls_last()
    query = select(Task).where(task_filter(user), Task.status == status)
    if assignee == "me":
        query = query.where(Task.assignee_id == user.id)
    elif assignee == "none":
        query = query.where(Task.assignee_id.is_(None))
    elif assignee:
        query = query.where(Task.assignee_id == assignee)
    if role:
        query = query.where(Task.candidate_role == role)
    if kind:
        query = query.where(Task.kind == kind)
    if journey_id:
        query = query.where(Task.journey_id == journey_id)
    if overdue:
        query = query.where(Task.due_at < datetime.now(timezone.utc))
    if cursor:
        due, last_id = _decode_cursor(cursor)
        if due is None:  # already in the tail of tasks without a due date
            query = query.where(Task.due_at.is_(None), Task.id > last_id)
        else:
            query = query.where(or_(Task.due_at > due, and_(Task.due_at == due, Task.id > last_id),
                                    Task.due_at.is_(None)))
    with db_scope(settings) as session:
        rows = session.exec(query.order_by(due_key, Task.id).limit(limit + 1)).all()
        page = list(rows[:limit])
        names = user_names(session, page)
        items = [task_view(session, t, with_schema=False, names=names) for t in page]
        return {"items": items, "next_cursor": _encode_cursor(rows[limit - 1]) if len(rows) > limit else None}


@router.get("/kinds", summary="Every task kind with the JSON Schema of its outcome")
def task_kinds(user: StaffDep):
    return {name: {"title": k.title, "candidate_role": k.candidate_role, "outcome_schema": k.outcome_schema()}
            for name, k in TASK_KINDS.items()}


@router.get("/{task_id}", summary="A task, with the JSON Schema of the outcome it takes")
def get_task(task_id: str, settings: SettingsDep, user: StaffDep):
    with db_scope(settings) as session:
        return task_view(session, visible_task(session, user, task_id))


def _set_assignee(settings, user: User, task_id: str, *, expect_assignee, new_assignee, check) -> dict:
    """Change the assignee with a compare-and-set, so that two claims never both win."""
    with db_scope(settings) as session:
        task = visible_task(session, user, task_id)
        if task.status != "open":
            raise Problem(409, "Cette tâche n'est plus ouverte.")
        check(session, task)
        if task.assignee_id == new_assignee:
            return task_view(session, task)
        result = session.exec(update(Task).where(Task.id == task_id, Task.status == "open",
                                                 Task.assignee_id.is_(None) if expect_assignee is None
                                                 else Task.assignee_id == expect_assignee)
                              .values(assignee_id=new_assignee))
        if result.rowcount != 1:
            raise Problem(409, "Quelqu'un d'autre vient de prendre cette tâche.")
        session.expire_all()
        return task_view(session, session.get(Task, task_id))


@router.post("/{task_id}/claim", summary="Take a team task")
def claim_task(task_id: str, settings: SettingsDep, user: StaffDep):
    def check(_, task: Task) -> None:
        if task.candidate_role != user.role:
            raise Problem(403, "Cette tâche revient à un autre rôle.")
        if task.assignee_id not in (None, user.id):
            raise Problem(409, "Cette tâche est déjà prise par quelqu'un d'autre.")

    return _set_assignee(settings, user, task_id, expect_assignee=None, new_assignee=user.id, check=check)


@router.post("/{task_id}/unclaim", summary="Give a task back to the team")
def unclaim_task(task_id: str, settings: SettingsDep, user: StaffDep):
    def check(_, task: Task) -> None:
        if task.assignee_id not in (user.id, None):
            raise Problem(403, "Seule la personne qui a pris la tâche peut la rendre.")

    return _set_assignee(settings, user, task_id, expect_assignee=user.id, new_assignee=None, check=check)


class AssignIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    assignee_id: str = Field(min_length=1, max_length=64)


@router.post("/{task_id}/assign", summary="Give the task to someone (manager)")
def assign_task(task_id: str, body: AssignIn, settings: SettingsDep,
                user: Annotated[User, Depends(require("manager"))]):
    def check(session, task: Task) -> None:
        target = session.get(User, body.assignee_id)
        if target is None or not target.active or target.platform_id != user.platform_id or target.role not in STAFF:
            raise Problem(422, "Cette personne n'existe pas dans l'équipe de la plateforme.",
                          errors=[{"field": "assignee_id", "message": "inconnu sur cette plateforme"}])
        if target.role != task.candidate_role:
            raise Problem(422, "Cette tâche revient à un autre rôle.",
                          errors=[{"field": "assignee_id", "message": f"rôle attendu : {task.candidate_role}"}])

    with db_scope(settings) as session:
        current = visible_task(session, user, task_id).assignee_id
    return _set_assignee(settings, user, task_id, expect_assignee=current, new_assignee=body.assignee_id, check=check)


class CompleteIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    outcome: dict


def outcome_hash(kind: str, outcome: dict) -> str:
    canonical = TASK_KINDS[kind].validate(outcome).model_dump(mode="json")
    return hashlib.sha256(json.dumps(canonical, sort_keys=True).encode()).hexdigest()


@router.post("/{task_id}/complete", summary="Complete a task with an outcome valid against its schema")
async def complete_task(task_id: str, body: CompleteIn, settings: SettingsDep, client: TemporalDep, user: StaffDep):
    def prepare() -> tuple[TaskCompletion | None, dict | None, str]:
        with db_scope(settings) as session:
            task = visible_task(session, user, task_id)
            if task.assignee_id not in (None, user.id) or (task.assignee_id is None and task.candidate_role != user.role):
                raise Problem(403, "Cette tâche est confiée à quelqu'un d'autre.")
            errors = outcome_errors(task.kind, body.outcome)
            if errors:
                raise Problem(422, "Le résultat ne correspond pas à ce que la tâche demande.", errors=errors)
            digest = outcome_hash(task.kind, body.outcome)
            if task.status == "done":
                if task.outcome_hash == digest:
                    return None, task_view(session, task), task.journey_id
                raise Problem(409, "Cette tâche a déjà été complétée avec un autre résultat.")
            if task.status != "open":
                raise Problem(409, "Cette tâche n'est plus ouverte.")
            facts: dict = {}
            if task.kind == "assign_counsellor":
                counsellor = session.get(User, body.outcome["counsellor_id"])
                if counsellor is None or counsellor.role != "counsellor" or not counsellor.active \
                        or counsellor.platform_id != task.platform_id:
                    raise Problem(422, "Ce conseiller n'existe pas sur la plateforme de la personne.",
                                  errors=[{"field": "outcome.counsellor_id", "message": "conseiller inconnu"}])
                facts = {"caseload": caseload_of(session, counsellor.id, excluding=task.journey_id),
                         "fte": counsellor.fte}
            canonical = TASK_KINDS[task.kind].validate(body.outcome).model_dump(mode="json")
            return TaskCompletion(task_id=task.id, outcome=canonical, outcome_hash=digest,
                                  actor_id=user.id, facts=facts), None, task.journey_id

    completion, already, journey_id = await run_in_threadpool(prepare)
    if already is not None:
        return already
    handle = client.get_workflow_handle(journey_id)
    update_id = f"{task_id}:{completion.outcome_hash[:16]}"
    await call_workflow(lambda: handle.execute_update(JourneyWorkflow.complete_task, completion, id=update_id))

    def read():
        with db_scope(settings) as session:
            return task_view(session, session.get(Task, task_id))

    return await run_in_threadpool(read)
