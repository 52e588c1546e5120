"""Asking for an avenant to the convention in force (R10): a new legal representative, or a change of
employer that no employment episode records. The journey drafts it through the counsellor's
`draft_avenant` task and has it signed by the parties it concerns only. (A new employer recorded as
an employment episode asks for its avenant by itself, services/employment.py; a veille too, services/veille.py.)
"""
from __future__ import annotations

import hashlib
from typing import Any, Literal

from fastapi.concurrency import run_in_threadpool
from pydantic import ConfigDict, Field, field_validator
from temporalio.client import Client

from eaflow.services.access import visible_journey
from eaflow.services.db import db_scope
from eaflow.services.workflow_calls import call_workflow
from eaflow.settings import Settings
from eaflow.store.models import User
from eaflow.workflows.journey import JourneyWorkflow
from eaflow.workflows.task_kinds import choice_labels
from eaflow.workflows.types import AvenantRequest
from eaflow.workflows.plausibility import CheckedText


class AvenantIn(CheckedText):
    model_config = ConfigDict(extra="forbid", title="Demande d'avenant à la convention")
    kind: Literal["legal_representative", "employer"] = Field(
        title="Ce qui change",
        description="Le changement qui appelle un avenant à la convention en vigueur (R10) : il est signé à nouveau "
                    "par les parties qu'il concerne",
        json_schema_extra=choice_labels({"legal_representative": "Changement de représentant légal",
                                         "employer": "Changement d'employeur"}))
    summary: str = Field(min_length=1, max_length=1000, title="Objet de l'avenant",
                         description="Ce qui change, en une phrase (sans donnée de santé)")

    @field_validator("summary")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("ce champ ne peut pas être vide")
        return value.strip()


async def request_avenant(settings: Settings, client: Client, user: User, journey_id: str, body: AvenantIn,
                          idempotency_key: str | None = None) -> dict[str, Any]:
    """Ask the journey for an avenant; a repeat (same key, or same kind and summary) is one request."""
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
