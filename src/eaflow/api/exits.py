"""Proposing an exit (R15, R18). The API checks the rules first, for a precise problem naming the
rule; the journey checks them again and opens the procedure: the managers' `approve_exit` task. A move
to a département whose platform runs on this installation becomes a transfer on approval."""
from __future__ import annotations

import hashlib
import json
from typing import Annotated, Any

from fastapi import APIRouter, Depends
from fastapi.concurrency import run_in_threadpool
from fastapi.encoders import jsonable_encoder
from pydantic import BaseModel, ConfigDict, Field
from sqlmodel import select

from eaflow.api.deps import SettingsDep, TemporalDep, db_scope, require
from eaflow.api.problems import Problem
from eaflow.api.views import journey_view, visible_journey
from eaflow.api.workflow_calls import call_workflow
from eaflow.store.models import Journey, Platform, User
from eaflow.workflows import rules
from eaflow.workflows.journey import JourneyWorkflow
from eaflow.workflows.types import ExitProposal

router = APIRouter(prefix="/api/v1/journeys", tags=["exits"])
StaffDep = Annotated[User, Depends(require("counsellor", "manager"))]


class ExitIn(BaseModel):
    """R15: the reason and what it requires in `details`:
    person_request {informed: true, low_intensity_offered: true}; move {department};
    reorientation {person_choice: {on, how}, towards}; death (managers only)."""

    model_config = ConfigDict(extra="forbid")
    reason: str = Field(min_length=1, max_length=50, description="Motif (R15) : person_request, move, "
                                                                 "reorientation, death")
    details: dict[str, Any] = Field(default_factory=dict, description="Ce que le motif exige (voir ci-dessus)")
    analysis: str = Field("", max_length=5000, description="Analyse circonstanciée de la situation (R18)")


def _refusal(body: ExitIn, user: User) -> Problem | None:
    refusal = rules.r15_r18_exit_refusal(body.reason, body.details)
    if refusal is not None:
        return Problem(422, refusal.detail, rule=refusal.rule, errors=[{"field": "reason", "message": refusal.detail}])
    if body.reason in rules.PROCEDURE_ONLY_REASONS:
        rule = rules.PROCEDURE_ONLY_REASONS[body.reason]
        return Problem(422, "Ce motif de sortie est proposé par le parcours lui-même, au terme de sa procédure "
                            f"({rule}) : il ne se propose pas directement.", rule=rule,
                       errors=[{"field": "reason", "message": "proposé par la procédure " + rule}])
    if body.reason == "death" and user.role != "manager":
        return Problem(403, "Le décès est enregistré par un responsable de la plateforme (clôture administrative).",
                       rule="R18")
    if body.reason != "death" and not body.analysis.strip():
        return Problem(422, "Toute sortie suppose une analyse circonstanciée de la situation (R18).", rule="R18",
                       errors=[{"field": "analysis", "message": "obligatoire"}])
    return None


@router.post("/{journey_id}/exit", summary="Propose an exit for one of R15's reasons (R18: a manager decides)")
async def propose_exit(journey_id: str, body: ExitIn, settings: SettingsDep, client: TemporalDep, user: StaffDep):
    def check() -> str | None:
        with db_scope(settings) as session:
            journey = visible_journey(session, user, journey_id)
            problem = _refusal(body, user)
            if problem is not None:
                raise problem
            if body.reason != "move":
                return None
            receiving = session.exec(select(Platform).where(
                Platform.department == str(body.details["department"]).strip())).first()
            return receiving.id if receiving is not None and receiving.id != journey.platform_id else None

    transfer_to = await run_in_threadpool(check)
    proposal = ExitProposal(reason=body.reason, proposed_by=user.id, details=body.details,
                            analysis=body.analysis.strip(), transfer_to_platform_id=transfer_to)
    digest = hashlib.sha256(json.dumps(body.model_dump(mode="json"), sort_keys=True).encode()).hexdigest()[:16]
    handle = client.get_workflow_handle(journey_id)
    answer = await call_workflow(lambda: handle.execute_update(
        JourneyWorkflow.propose_exit, proposal, id=f"exit:{journey_id}:{user.id}:{digest}"))

    def view() -> dict:
        with db_scope(settings) as session:
            return jsonable_encoder(journey_view(session, session.get(Journey, journey_id), user))

    return {**await run_in_threadpool(view), "exit_procedure": {**answer, "transfer": transfer_to is not None}}
