"""R7, R8: designate a counsellor, the capacity checked and the assignment written atomically."""
from __future__ import annotations

from sqlalchemy import func
from sqlmodel import Session, select
from temporalio.exceptions import ApplicationError

from eaflow.store.models import AuditEvent, CounsellorAssignment, Journey, User
from eaflow.workflows import rules
from eaflow.workflows.types import AssignmentRequest


def caseload_of(session: Session, counsellor_id: str, excluding: str | None = None) -> int:
    """R7: persons this counsellor accompanies now, veille and ended journeys not counted."""
    query = select(func.count()).select_from(Journey).where(
        Journey.counsellor_id == counsellor_id, Journey.state.not_in(rules.NOT_IN_CASELOAD)
    )
    if excluding:
        query = query.where(Journey.id != excluding)
    return int(session.exec(query).one())


def assign_counsellor(session: Session, request: AssignmentRequest) -> None:
    """Close the current assignment (if any), open the new one, point the journey at it.

    Locks, always in this order: the journey row, then the counsellor's user row (SELECT … FOR
    UPDATE on PostgreSQL; on SQLite BEGIN IMMEDIATE already serialises every writer). The journey
    lock serialises two assignments of one journey, so the second sees the first as the current
    one (and a retry of the same step sees its own row and returns); the counsellor lock serialises
    the R7 capacity check of two journeys given to one counsellor. The partial unique index
    uq_counsellorassignment_active_journey (one active row per journey) backs this up.
    """
    if session.exec(select(CounsellorAssignment).where(CounsellorAssignment.step_key == request.step_key)).first():
        return
    journey = session.exec(select(Journey).where(Journey.id == request.journey_id).with_for_update()).first()
    if journey is None:  # retried: the API commits the journey before it starts the workflow
        raise LookupError(f"journey {request.journey_id} is not in the database")
    # Again under the lock: a concurrent run of this same step may have committed meanwhile.
    if session.exec(select(CounsellorAssignment).where(CounsellorAssignment.step_key == request.step_key)).first():
        return
    counsellor = session.exec(
        select(User).where(User.id == request.counsellor_id).with_for_update()
    ).first()
    if counsellor is None or counsellor.role != "counsellor" or not counsellor.active \
            or counsellor.platform_id != journey.platform_id:
        raise ApplicationError(
            "Ce conseiller n'existe pas sur la plateforme de la personne.",
            {"errors": [{"field": "outcome.counsellor_id", "message": "conseiller inconnu sur cette plateforme"}]},
            type="InvalidOutcome", non_retryable=True,
        )
    refusal = rules.r7_can_take_one_more(caseload_of(session, counsellor.id, excluding=journey.id), counsellor.fte)
    if refusal:
        raise ApplicationError(refusal.detail, refusal.model_dump(), type="RuleRefused", non_retryable=True)
    current = session.exec(select(CounsellorAssignment).where(
        CounsellorAssignment.journey_id == journey.id, CounsellorAssignment.ended_at.is_(None)
    )).first()
    if current:
        current.ended_at = request.at
        session.add(current)
    session.add(CounsellorAssignment(
        journey_id=journey.id, counsellor_id=counsellor.id, started_at=request.at, reason=request.reason,
        assigned_by=request.actor_id, step_key=request.step_key,
    ))
    journey.counsellor_id = counsellor.id
    session.add(journey)
    session.add(AuditEvent(
        journey_id=journey.id, at=request.at, actor_kind="user", actor_id=request.actor_id,
        action="counsellor_assigned" if current is None else "counsellor_changed",
        detail={"rule": "R8", "counsellor_id": counsellor.id,
                "previous_counsellor_id": current.counsellor_id if current else None, "reason": request.reason},
        step_key=request.step_key,
    ))
