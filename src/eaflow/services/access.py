"""Who may see which journey and which task (R22: only those who need it), and the trace of every
read of a person's file."""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Iterable

from sqlalchemy import and_, insert, or_, true
from sqlmodel import Session, select

from eaflow.services.refusals import Refusal
from eaflow.store.models import AuditEvent, Journey, Operator, Task, User


def _leads(user: User):
    """True in SQL when the manager works for the chef de file (an uncorrelated subquery, run once)."""
    return select(Operator.id).where(Operator.id == user.operator_id, Operator.is_lead == True).exists()  # noqa: E712


def _operator_journeys(user: User):
    """A manager's journeys within the platform (services/operators.py): all of them for the chef de
    file's managers or one attached to no operator; else those their operator's counsellors follow and
    those no counsellor follows yet."""
    if user.operator_id is None:
        return true()
    own_counsellors = select(User.id).where(User.operator_id == user.operator_id)
    return or_(_leads(user), Journey.counsellor_id.is_(None), Journey.counsellor_id.in_(own_counsellors))


def journey_filter(user: User):
    """The journeys a user may read: counsellor their caseload, manager their platform (or their
    operator's part of it), prescriber theirs."""
    if user.role == "manager":
        return and_(Journey.platform_id == user.platform_id, _operator_journeys(user))
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
    """Manager: the platform's tasks. Counsellor (R22, need to know): every task of the persons they
    follow now, and the open tasks given to them or to their team. A task they completed on a journey
    now followed by someone else (R8) is no longer theirs to read: its outcome is that person's file."""
    if user.role == "manager":
        if user.operator_id is None:
            return Task.platform_id == user.platform_id
        return and_(Task.platform_id == user.platform_id, or_(
            _leads(user), Task.journey_id.in_(select(Journey.id).where(journey_filter(user)))))
    if user.role == "counsellor":
        own_journeys = select(Journey.id).where(Journey.counsellor_id == user.id)
        return and_(Task.platform_id == user.platform_id, or_(
            Task.journey_id.in_(own_journeys),
            and_(Task.status == "open", or_(
                Task.assignee_id == user.id,
                and_(Task.assignee_id.is_(None), Task.candidate_role == "counsellor"),
            )),
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
                "signature_scan_read", "prescription_read", "journal_read", "journey_listed", "task_read",
                "intensity_read", "waiting_list_read", "person_exported")


def audit_read(session: Session, journey_id: str, user: User, what: str, detail: dict | None = None) -> None:
    """R22: every read of a person's file is traced."""
    session.add(AuditEvent(journey_id=journey_id, actor_kind="user", actor_id=user.id, action=what, detail=detail))


def audit_reads(session: Session, journey_ids: Iterable[str], user: User, what: str) -> None:
    """R22: a list that shows several persons' files traces one read per journey shown, in one
    multi-row insert (not one statement per row), in the transaction of the read itself."""
    at = datetime.now(timezone.utc)
    rows = [{"journey_id": journey_id, "at": at, "actor_kind": "user", "actor_id": user.id, "action": what}
            for journey_id in dict.fromkeys(journey_ids)]
    if rows:
        session.exec(insert(AuditEvent), params=rows)
