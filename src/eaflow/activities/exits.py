"""The records of exits (R15, R18): the exit procedure's row, and the copy of a journey to the
receiving platform on a move. Idempotent by the procedure's id and the new journey's id."""
from __future__ import annotations

from datetime import datetime, timezone

from sqlmodel import Session

from eaflow.activities.projections import audit_once, load_journey
from eaflow.store.models import AuditEvent, ExitProcedure, Journey, Person
from eaflow.workflows.types import ExitDecision, TransferRequest


def record_exit(session: Session, decision: ExitDecision) -> None:
    procedure = session.get(ExitProcedure, decision.procedure_id)
    if decision.status == "open":
        if procedure is None:
            session.add(ExitProcedure(
                id=decision.procedure_id, journey_id=decision.journey_id, reason=decision.reason, status="open",
                opened_at=decision.at, opened_by=decision.actor_id, detail=decision.detail or None))
        return
    if procedure is None:
        raise LookupError(f"exit procedure {decision.procedure_id} is not in the database")
    if procedure.status != "open":
        return  # a retried activity
    procedure.status, procedure.closed_at, procedure.closed_by = decision.status, decision.at, decision.actor_id
    procedure.decision_reason = decision.decision_reason
    procedure.detail = {**(procedure.detail or {}), **decision.detail}
    session.add(procedure)


def transfer_journey(session: Session, request: TransferRequest) -> None:
    """The receiving platform's journey: the same person and prescription, waiting for a counsellor,
    linked to the sending one (whose history it shows)."""
    if session.get(Journey, request.new_journey_id) is not None:
        return
    old = load_journey(session, request.journey_id)
    keep = {name: getattr(old, name) for name in (
        "channel", "urgent", "situation", "prescribed_on", "prescriber_id", "rqth_until", "rqth_permanent",
        "boe_category", "subsidiarity_reason", "other_support", "other_support_justification",
        "cdaph_informed_on", "cdaph_informed_how")}
    session.add(Journey(id=request.new_journey_id, platform_id=request.to_platform_id, state="waiting_list",
                        transferred_from=old.id, waiting_key=old.waiting_key, **keep))
    session.flush()
    person = session.get(Person, old.id)
    if person is not None:
        values = person.model_dump()
        values["journey_id"] = request.new_journey_id
        session.add(Person(**values))
    audit_once(session, AuditEvent(
        journey_id=request.new_journey_id, at=request.at, actor_kind="system", action="journey_transferred_in",
        detail={"rule": "R15", "from_journey_id": old.id, "from_platform_id": old.platform_id},
        step_key=f"{request.new_journey_id}/transferred-in"))
    old.updated_at = datetime.now(timezone.utc)
    session.add(old)
