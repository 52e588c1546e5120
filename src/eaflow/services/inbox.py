"""The inbox: list, count, claim, give back, assign and complete the human tasks of the journeys.

Completing a task is a Workflow Update of its journey (ARCHITECTURE.md, decision 2): checked here
first (who may, whether the outcome fits its schema) for a precise refusal, then checked again and
applied by the journey, whose answer comes once the projection is written.
"""
from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass
from datetime import date, datetime, time, timezone
from typing import Any, Literal

from fastapi.concurrency import run_in_threadpool
from sqlalchemy import and_, func, or_, update
from sqlmodel import Session, select
from temporalio.client import Client

from eaflow.activities.assignment import caseload_of
from eaflow.services import plausible, roles
from eaflow.services.access import audit_read, audit_reads, task_filter, visible_task
from eaflow.services.convention import draft_facts
from eaflow.services.db import db_scope
from eaflow.services.refusals import Refusal
from eaflow.services.operators import check_may_designate
from eaflow.services.views import task_view, user_names
from eaflow.services.workflow_calls import call_workflow
from eaflow.settings import Settings
from eaflow.store.models import Journey, Person, Task, User
from eaflow.workflows.journey import JourneyWorkflow
from eaflow.workflows.task_kinds import TASK_KINDS, outcome_errors
from eaflow.workflows.types import TaskCompletion


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
        raise Refusal(422, "Curseur de pagination invalide.", errors=[{"field": "cursor", "message": "invalide"}]) from error


@dataclass(frozen=True)
class TaskFilters:
    """What an inbox shows: `assignee` is "me", "none" or a user id; `person` part of a name."""

    assignee: str | None = None
    role: str | None = None
    kind: str | None = None
    journey_id: str | None = None
    status: Literal["open", "done", "cancelled"] = "open"
    overdue: bool | None = None
    due_before: date | None = None
    person: str | None = None

    def where(self, user: User) -> list:
        conditions = [task_filter(user), Task.status == self.status]
        if self.assignee == "me":
            conditions.append(Task.assignee_id == user.id)
        elif self.assignee == "none":
            conditions.append(Task.assignee_id.is_(None))
        elif self.assignee:
            conditions.append(Task.assignee_id == self.assignee)
        if self.role:
            conditions.append(Task.candidate_role == self.role)
        if self.kind:
            conditions.append(Task.kind == self.kind)
        if self.journey_id:
            conditions.append(Task.journey_id == self.journey_id)
        if self.overdue:
            conditions.append(Task.due_at < datetime.now(timezone.utc))
        if self.due_before:
            conditions.append(Task.due_at < datetime.combine(self.due_before, time.min, timezone.utc))
        if self.person and self.person.strip():
            names = select(Person.journey_id).where(Person.search_name.contains(self.person.strip().lower()))
            conditions.append(Task.journey_id.in_(names))
        return conditions


def list_tasks(settings: Settings, user: User, filters: TaskFilters, limit: int = 50,
               cursor: str | None = None, *, with_person: bool = False) -> dict[str, Any]:
    """A page of the inbox by due date, tasks without one last; `with_person` adds each task's person
    (name) and journey state, for the pages."""
    # NULLS LAST spelt out, as SQLite puts NULLs first and PostgreSQL last (PostgreSQL's ascending
    # index on due_at is already in this order).
    due_key = Task.due_at.asc().nulls_last()
    query = select(Task).where(*filters.where(user))
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
        # R22: the inbox is a work queue (which task, for whom, by when), not the file: its items carry
        # no outcome (a done task's evaluation needs or silence analysis), which only the traced read of
        # one task (get_task) shows. So the API's list, which names no one, writes no trace: one row per
        # task at every look at the inbox would drown the managers' journal of who read which file. The
        # pages' list shows the persons' names: one trace per person shown, as the waiting list does.
        items = [_without_outcome(task_view(session, t, with_schema=False, names=names)) for t in page]
        if with_person:
            _add_persons(session, items)
            audit_reads(session, [item["journey_id"] for item in items], user, "journey_listed")
        return {"items": items, "next_cursor": _encode_cursor(rows[limit - 1]) if len(rows) > limit else None}


def _without_outcome(item: dict[str, Any]) -> dict[str, Any]:
    item.pop("outcome", None)
    return item


def _add_persons(session: Session, items: list[dict[str, Any]]) -> None:
    ids = {item["journey_id"] for item in items}
    if not ids:
        return
    rows = session.exec(select(Journey.id, Journey.state, Person.first_name, Person.last_name)
                        .join(Person, Person.journey_id == Journey.id, isouter=True)
                        .where(Journey.id.in_(ids))).all()
    by_id = {journey_id: (state, first, last) for journey_id, state, first, last in rows}
    for item in items:
        state, first, last = by_id.get(item["journey_id"], (None, None, None))
        item["person"] = {"first_name": first, "last_name": last} if first is not None else None
        item["journey_state"] = state


def count_by_kind(settings: Settings, user: User, filters: TaskFilters) -> dict[str, int]:
    """How many tasks of each kind the filters select (the inbox's counts)."""
    with db_scope(settings) as session:
        rows = session.exec(select(Task.kind, func.count()).where(*filters.where(user)).group_by(Task.kind)).all()
    return {kind: int(count) for kind, count in sorted(rows)}


def task_kinds() -> dict[str, Any]:
    return {name: {"title": k.title, "candidate_role": k.candidate_role, "outcome_schema": k.outcome_schema()}
            for name, k in TASK_KINDS.items()}


def get_task(settings: Settings, user: User, task_id: str) -> dict[str, Any]:
    """A task with the JSON Schema of its outcome (and its prefill and context, where it has them);
    the read is traced (R22: its outcome and context are the person's file)."""
    with db_scope(settings) as session:
        task = visible_task(session, user, task_id)
        audit_read(session, task.journey_id, user, "task_read", detail={"task_id": task.id, "kind": task.kind})
        return task_view(session, task)


def _set_assignee(settings: Settings, user: User, task_id: str, *, expect_assignee, new_assignee, check) -> dict:
    """Change the assignee with a compare-and-set, so that two claims never both win."""
    with db_scope(settings) as session:
        task = visible_task(session, user, task_id)
        if task.status != "open":
            raise Refusal(409, "Cette tâche n'est plus ouverte.")
        check(session, task)
        if task.assignee_id == new_assignee:
            return task_view(session, task)
        result = session.exec(update(Task).where(Task.id == task_id, Task.status == "open",
                                                 Task.assignee_id.is_(None) if expect_assignee is None
                                                 else Task.assignee_id == expect_assignee)
                              .values(assignee_id=new_assignee))
        if result.rowcount != 1:
            raise Refusal(409, "Quelqu'un d'autre vient de prendre cette tâche.")
        session.expire_all()
        return task_view(session, session.get(Task, task_id))


def claim_task(settings: Settings, user: User, task_id: str) -> dict[str, Any]:
    """Take a team task."""
    def check(_, task: Task) -> None:
        if task.candidate_role != user.role:
            raise Refusal(403, "Cette tâche revient à un autre rôle.")
        if task.assignee_id not in (None, user.id):
            raise Refusal(409, "Cette tâche est déjà prise par quelqu'un d'autre.")

    return _set_assignee(settings, user, task_id, expect_assignee=None, new_assignee=user.id, check=check)


def unclaim_task(settings: Settings, user: User, task_id: str) -> dict[str, Any]:
    """Give a task back to the team."""
    def check(_, task: Task) -> None:
        if task.assignee_id not in (user.id, None):
            raise Refusal(403, "Seule la personne qui a pris la tâche peut la rendre.")

    return _set_assignee(settings, user, task_id, expect_assignee=user.id, new_assignee=None, check=check)


def assign_task(settings: Settings, user: User, task_id: str, assignee_id: str) -> dict[str, Any]:
    """Give the task to someone of the team (managers)."""
    roles.check(user, roles.MANAGERS)

    def check(session, task: Task) -> None:
        target = session.get(User, assignee_id)
        if target is None or not target.active or target.platform_id != user.platform_id or target.role not in roles.STAFF:
            raise Refusal(422, "Cette personne n'existe pas dans l'équipe de la plateforme.",
                          errors=[{"field": "assignee_id", "message": "inconnu sur cette plateforme"}])
        if target.role != task.candidate_role:
            raise Refusal(422, "Cette tâche revient à un autre rôle.",
                          errors=[{"field": "assignee_id", "message": f"rôle attendu : {task.candidate_role}"}])

    with db_scope(settings) as session:
        current = visible_task(session, user, task_id).assignee_id
    return _set_assignee(settings, user, task_id, expect_assignee=current, new_assignee=assignee_id, check=check)


def outcome_hash(kind: str, outcome: dict) -> str:
    canonical = TASK_KINDS[kind].validate(outcome).model_dump(mode="json")
    return hashlib.sha256(json.dumps(canonical, sort_keys=True).encode()).hexdigest()


def completion_of(session: Session, task: Task, outcome: dict[str, Any], digest: str, actor_id: str) -> TaskCompletion:
    """The `complete_task` update of a checked outcome, with the facts of the records its validator
    needs (the workflow reads no database): the counsellor's caseload and FTE for R7, whether the
    person is in employment for R10. Also how the reconciler hands over a completion the records hold
    and the journey never received (eaflow/reconcile.py)."""
    facts: dict[str, Any] = {}
    if task.kind == "assign_counsellor":
        counsellor = session.get(User, outcome["counsellor_id"])
        facts = {"caseload": caseload_of(session, counsellor.id, excluding=task.journey_id),
                 "fte": counsellor.fte if counsellor else 0}
    if task.kind in ("draft_convention", "draft_avenant"):
        facts = draft_facts(session, task.journey_id)
    canonical = TASK_KINDS[task.kind].validate(outcome).model_dump(mode="json")
    return TaskCompletion(task_id=task.id, outcome=canonical, outcome_hash=digest, actor_id=actor_id, facts=facts)


def completion_update_id(task_id: str, digest: str) -> str:
    """The update id of a completion: a repeated one (same task, same outcome) is applied once."""
    return f"{task_id}:{digest[:16]}"


async def complete_task(settings: Settings, client: Client, user: User, task_id: str,
                        outcome: dict[str, Any]) -> dict[str, Any]:
    """Complete a task with an outcome valid against its schema; the task as it stands after. The
    same outcome twice returns the first result; a different one is a 409."""
    def prepare() -> tuple[TaskCompletion | None, dict | None, str]:
        with db_scope(settings) as session:
            task = visible_task(session, user, task_id)
            if task.assignee_id not in (None, user.id) or (task.assignee_id is None and task.candidate_role != user.role):
                raise Refusal(403, "Cette tâche est confiée à quelqu'un d'autre.")
            errors = outcome_errors(task.kind, outcome)
            if errors:
                raise Refusal(422, "Le résultat ne correspond pas à ce que la tâche demande.", errors=errors)
            plausible.check_dates(session, task.journey_id, outcome, prefix="outcome.")
            digest = outcome_hash(task.kind, outcome)
            if task.status == "done":
                if task.outcome_hash == digest:
                    return None, task_view(session, task), task.journey_id
                raise Refusal(409, "Cette tâche a déjà été complétée avec un autre résultat.")
            if task.status != "open":
                raise Refusal(409, "Cette tâche n'est plus ouverte.")
            if task.kind == "assign_counsellor":
                counsellor = session.get(User, outcome["counsellor_id"])
                if counsellor is None or counsellor.role != "counsellor" or not counsellor.active \
                        or counsellor.platform_id != task.platform_id:
                    raise Refusal(422, "Ce conseiller n'existe pas sur la plateforme de la personne.",
                                  errors=[{"field": "outcome.counsellor_id", "message": "conseiller inconnu"}])
                check_may_designate(session, user, counsellor, "outcome.counsellor_id")
            return completion_of(session, task, outcome, digest, user.id), None, task.journey_id

    completion, already, journey_id = await run_in_threadpool(prepare)
    if already is not None:
        return already
    handle = client.get_workflow_handle(journey_id)
    update_id = completion_update_id(task_id, completion.outcome_hash)
    await call_workflow(lambda: handle.execute_update(JourneyWorkflow.complete_task, completion, id=update_id))

    def read():
        with db_scope(settings) as session:
            return task_view(session, session.get(Task, task_id))

    return await run_in_threadpool(read)


def opened_since(settings: Settings, user: User, journey_id: str, since: datetime) -> dict[str, Any] | None:
    """The first open task of this journey, visible to this user, created since `since` (the task
    that a completion opened next), or None."""
    with db_scope(settings) as session:
        task = session.exec(select(Task).where(task_filter(user), Task.journey_id == journey_id,
                                               Task.status == "open", Task.created_at >= since)
                            .order_by(Task.created_at, Task.id)).first()
        return task_view(session, task, with_schema=False) if task else None
