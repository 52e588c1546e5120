"""Asking for an avenant to the convention in force (R10): a new legal representative, or a change of
employer that no employment episode records. The journey drafts it through the counsellor's
`draft_avenant` task and has it signed by the parties it concerns only. (A new employer recorded as
an employment episode asks for its avenant by itself, api/employment.py; a veille too, api/veille.py.)
"""
from __future__ import annotations

import hashlib
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Header
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, ConfigDict, Field, field_validator

from eaflow.api.deps import SettingsDep, TemporalDep, db_scope, require
from eaflow.api.views import visible_journey
from eaflow.api.workflow_calls import call_workflow
from eaflow.store.models import User
from eaflow.workflows.journey import JourneyWorkflow
from eaflow.workflows.types import AvenantRequest

router = APIRouter(prefix="/api/v1/journeys", tags=["convention"])
StaffDep = Annotated[User, Depends(require("counsellor", "manager"))]


class AvenantIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kind: Literal["legal_representative", "employer"] = Field(
        description="legal_representative : changement de représentant légal ; employer : changement d'employeur")
    summary: str = Field(min_length=1, max_length=1000, description="Ce qui change, en une phrase (sans donnée de santé)")

    @field_validator("summary")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("ce champ ne peut pas être vide")
        return value.strip()


@router.post("/{journey_id}/convention/avenants", status_code=202,
             summary="Ask for an avenant to the convention in force (R10)")
async def request_avenant(journey_id: str, body: AvenantIn, settings: SettingsDep, client: TemporalDep,
                          user: StaffDep, idempotency_key: Annotated[str | None, Header(max_length=200)] = None):
    def check() -> None:
        with db_scope(settings) as session:
            visible_journey(session, user, journey_id)

    await run_in_threadpool(check)
    basis = idempotency_key or f"{body.kind}:{body.summary}"
    reference = "req-" + hashlib.sha256(f"{journey_id}:{user.id}:{basis}".encode()).hexdigest()[:16]
    request = AvenantRequest(kind=body.kind, reference=reference, requested_by=user.id, summary=body.summary)
    handle = client.get_workflow_handle(journey_id)
    answer = await call_workflow(lambda: handle.execute_update(
        JourneyWorkflow.request_avenant, request, id=f"avenant:{body.kind}:{reference}"))
    return {"journey_id": journey_id, "avenant": answer["avenant"], "queued": answer["queued"],
            "in_progress": answer["in_progress"]}
