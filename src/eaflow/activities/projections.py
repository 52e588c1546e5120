"""Projections of the journey into the database: steps, tasks, evaluations (idempotent by key)."""
from __future__ import annotations

from datetime import date, datetime, timezone
from typing import Any

from sqlmodel import Session, select

from eaflow.store.models import AuditEvent, Journey, SharedEvaluation, Task, TaskCompletion
from eaflow.workflows.types import EvaluationRecord, StepRecord, TaskClosure, TaskSpec

# The profile at entry the shared evaluation records (eaflow.profile), column by column.
PROFILE_FIELDS = ("disability_nature", "months_without_employment", "lifetime_employment_years", "education_level",
                  "status_at_entry", "medico_social_support")
_DATE_FIELDS = {"admitted_on", "cdaph_informed_on", "prescribed_on", "rqth_until", "next_interview_due", "veille_until", "exited_on"}


def audit_once(session: Session, event: AuditEvent) -> bool:
    """Add an audit event unless one with the same step key exists (a retried activity)."""
    if event.step_key and session.exec(select(AuditEvent).where(AuditEvent.step_key == event.step_key)).first():
        return False
    session.add(event)
    return True


def load_journey(session: Session, journey_id: str) -> Journey:
    journey = session.get(Journey, journey_id)
    if journey is None:  # retried: the API commits the journey before it starts the workflow
        raise LookupError(f"journey {journey_id} is not in the database")
    return journey


def record_step(session: Session, step: StepRecord) -> None:
    if session.exec(select(AuditEvent).where(AuditEvent.step_key == step.step_key)).first():
        return
    journey = load_journey(session, step.journey_id)
    if step.state:
        journey.state = step.state
    for name, value in step.fields.items():
        if name in _DATE_FIELDS and isinstance(value, str):
            value = date.fromisoformat(value)
        setattr(journey, name, value)
    journey.updated_at = datetime.now(timezone.utc)
    session.add(journey)
    session.add(AuditEvent(
        journey_id=step.journey_id, at=step.at, actor_kind=step.actor_kind, actor_id=step.actor_id,
        action=step.action, detail={**step.detail, **({"state": step.state} if step.state else {})},
        step_key=step.step_key,
    ))


def open_task(session: Session, spec: TaskSpec) -> None:
    if session.get(Task, spec.id) is not None:
        return
    session.add(Task(
        id=spec.id, journey_id=spec.journey_id, platform_id=spec.platform_id, kind=spec.kind, title=spec.title,
        assignee_id=spec.assignee_id, candidate_role=spec.candidate_role, created_at=spec.created_at,
        due_at=spec.due_at, sort_key=spec.sort_key, context=spec.context or None,
    ))
    session.add(AuditEvent(
        journey_id=spec.journey_id, at=spec.created_at, actor_kind="system", action="task_opened",
        detail={"task_id": spec.id, "kind": spec.kind, "assignee_id": spec.assignee_id,
                "due_at": spec.due_at.isoformat() if spec.due_at else None},
        step_key=f"{spec.id}/opened",
    ))


def close_task(session: Session, closure: TaskClosure) -> None:
    """Close the task and write its one completion (task_completion, keyed by task id) together.

    The task row is locked first (SELECT … FOR UPDATE on PostgreSQL; SQLite's BEGIN IMMEDIATE
    already serialises writers), so a concurrent or retried closing waits, then finds the task
    closed and writes nothing more: a second completion never reaches the database's constraint.
    """
    task = session.exec(select(Task).where(Task.id == closure.task_id).with_for_update()).first()
    if task is None:
        raise LookupError(f"task {closure.task_id} is not in the database")
    if task.status == "open":
        task.status = closure.status
        task.outcome = closure.outcome
        task.outcome_hash = closure.outcome_hash
        task.completed_by = closure.completed_by
        task.completed_at = closure.completed_at
        session.add(task)
        session.add(TaskCompletion(
            task_id=task.id, journey_id=task.journey_id, status=closure.status, outcome_hash=closure.outcome_hash,
            completed_by=closure.completed_by, completed_at=closure.completed_at,
        ))
    audit_once(session, AuditEvent(
        journey_id=closure.journey_id, at=closure.completed_at,
        actor_kind="user" if closure.completed_by else "system", actor_id=closure.completed_by,
        action=f"task_{closure.status}", detail={"task_id": task.id, "kind": task.kind, "outcome": closure.outcome},
        step_key=f"{closure.task_id}/{closure.status}",
    ))


def reassign_open_tasks(session: Session, journey_id: str, old: str | None, new: str,
                        task_ids: list[str] | None = None, role: str | None = None) -> None:
    """The open tasks of `old` go to `new`; with `task_ids`, these open tasks (held by a team, unassigned)
    go to `new`, in the inbox of `role` (R19: the rights tasks of the waiting list, at admission)."""
    if task_ids is not None:
        for task in session.exec(select(Task).where(
            Task.journey_id == journey_id, Task.status == "open", Task.id.in_(task_ids)
        )).all():
            task.assignee_id, task.candidate_role = new, role or task.candidate_role
            session.add(task)
        return
    for task in session.exec(select(Task).where(
        Task.journey_id == journey_id, Task.status == "open", Task.assignee_id == old
    )).all():
        if old is not None:
            task.assignee_id = new
            session.add(task)


def record_shared_evaluation(session: Session, record: EvaluationRecord) -> None:
    outcome: dict[str, Any] = record.outcome
    row = session.get(SharedEvaluation, record.journey_id) or SharedEvaluation(
        journey_id=record.journey_id, evaluated_on=date.today(), wishes="", needs="", resources="",
        recorded_by=record.recorded_by)
    row.evaluated_on = date.fromisoformat(str(outcome["evaluated_on"]))
    row.wishes, row.needs, row.resources = outcome["wishes"], outcome["needs"], outcome["resources"]
    row.employer_expectations = outcome.get("employer_expectations")
    for name in PROFILE_FIELDS:  # absent from the outcomes recorded before the profile existed
        setattr(row, name, outcome.get(name))
    row.recorded_by = record.recorded_by
    session.add(row)
    audit_once(session, AuditEvent(
        journey_id=record.journey_id, actor_kind="user", actor_id=record.recorded_by,
        action="shared_evaluation_recorded", detail={"rule": "R9"},
        step_key=f"{record.journey_id}/shared-evaluation",
    ))
