"""Who may see which journey and which task (R22: only those who need it), and the trace of every
read of a person's file."""
from __future__ import annotations

from sqlalchemy import and_, or_
from sqlmodel import Session, select

from eaflow.services.refusals import Refusal
from eaflow.store.models import AuditEvent, Journey, Task, User


def journey_filter(user: User):
    """The journeys a user may read: counsellor their caseload, manager their platform, prescriber theirs."""
    if user.role == "manager":
        return Journey.platform_id == user.platform_id
    if user.role == "counsellor":
        return Journey.counsellor_id == user.id
    if user.role == "prescriber":
        return Journey.prescriber_id == user.id
    return Journey.id.is_(None)  # admins manage users and policy, not persons' files


def visible_journey(session: Session, user: User, journey_id: str) -> Journey:
    journey = session.exec(select(Journey).where(Journey.id == journey_id, journey_filter(user))).first()
    if journey is None:
        raise Refusal(404, "Ce parcours n'existe pas ou ne vous est pas accessible.")
    return journey


def task_filter(user: User):
    """Manager: the platform's tasks. Counsellor: their own, their team's, and their persons' tasks."""
    if user.role == "manager":
        return Task.platform_id == user.platform_id
    if user.role == "counsellor":
        own_journeys = select(Journey.id).where(Journey.counsellor_id == user.id)
        return and_(Task.platform_id == user.platform_id, or_(
            Task.assignee_id == user.id,
            and_(Task.assignee_id.is_(None), Task.candidate_role == "counsellor"),
            Task.journey_id.in_(own_journeys),
        ))
    return Task.id.is_(None)


def visible_task(session: Session, user: User, task_id: str) -> Task:
    task = session.exec(select(Task).where(Task.id == task_id, task_filter(user))).first()
    if task is None:
        raise Refusal(404, "Cette tâche n'existe pas ou ne vous est pas accessible.")
    return task


# The traces of reads (R22), as `audit_read` and the scan's download write them: the audit journal of
# the managers, not the journey's history of steps and decisions (R21) that a counsellor reads.
READ_ACTIONS = ("journey_read", "history_read", "convention_read", "contacts_read", "employment_read",
                "signature_scan_read", "prescription_read", "journal_read")


def audit_read(session: Session, journey_id: str, user: User, what: str) -> None:
    """R22: every read of a person's file is traced."""
    session.add(AuditEvent(journey_id=journey_id, actor_kind="user", actor_id=user.id, action=what))
