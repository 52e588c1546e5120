"""The veille (R14): start or extend it with the person's agreement, and reactivate the accompaniment.

The journey decides (its update validator applies R14 again, with its own clock and policy): the service
checks the same rule first so that a refused veille is a precise 422 naming R14 without a round
trip, and writes nothing itself — the journey traces the veille, asks for its avenant and mails the
person and the employer.
"""
from __future__ import annotations

import hashlib
import json
from datetime import date
from typing import Any, Literal

from fastapi.concurrency import run_in_threadpool
from fastapi.encoders import jsonable_encoder
from pydantic import BaseModel, ConfigDict, Field
from sqlmodel import select
from temporalio.client import Client

from eaflow.policy import load_policy
from eaflow.services import plausible
from eaflow.services.access import visible_journey
from eaflow.services.db import db_scope
from eaflow.services.refusals import Refusal
from eaflow.services.views import journey_view
from eaflow.services.workflow_calls import call_workflow
from eaflow.settings import Settings
from eaflow.store.models import AuditEvent, Journey, User
from eaflow.workflows import rules
from eaflow.workflows.journey import JourneyWorkflow
from eaflow.workflows.task_kinds import choice_labels
from eaflow.workflows.types import Reactivation, VeilleRequest
from eaflow.workflows.plausibility import CheckedText


class Agreement(CheckedText):
    model_config = ConfigDict(extra="forbid", title="Accord formel de la personne")
    on: date = Field(title="Date de l'accord de la personne",
                     description="Jour où la personne a donné son accord formel à la mise en veille (R14)")
    how: str = Field(min_length=1, max_length=200, title="Forme de l'accord",
                     description="Comment la personne a donné son accord : écrit signé, courriel, …")


class VeilleIn(CheckedText):
    """R14: who asked, the person's formal agreement, the agreed end, the reactivation conditions."""

    model_config = ConfigDict(extra="forbid", title="Mise en veille de l'accompagnement")
    requested_by: Literal["person", "counsellor_proposal"] = Field(
        title="À l'initiative de",
        description="Qui a demandé la mise en veille : la personne elle-même, ou le conseiller avec son accord "
                    "formel (R14)",
        json_schema_extra=choice_labels({
            "person": "À la demande explicite de la personne",
            "counsellor_proposal": "Sur proposition du conseiller, avec l'accord formel de la personne"}))
    agreement: Agreement | None = Field(None, title="Accord formel de la personne",
                                        description="Obligatoire : sans l'accord formel de la personne, pas de "
                                                    "veille (R14)")
    until: date | None = Field(None, title="Date de fin de la veille",
                               description="Obligatoire : la date de fin convenue avec la personne, dans la durée "
                                           "maximale prévue par la plateforme (R14)")
    reactivation_conditions: str = Field("", max_length=2000, title="Conditions de réactivation",
                                         description="Obligatoire : ce qui, convenu avec la personne, fera reprendre "
                                                     "l'accompagnement avant la date de fin (R14)")


class ReactivateIn(CheckedText):
    model_config = ConfigDict(extra="forbid", title="Reprise de l'accompagnement")
    reason: str = Field("", max_length=2000, title="Motif de la reprise",
                        description="Pourquoi l'accompagnement reprend maintenant, avant la fin de la veille ou de "
                                    "la relance (R14, R17)")


def _visible(settings, user: User, journey_id: str) -> Journey:
    with db_scope(settings) as session:
        return visible_journey(session, user, journey_id)


def _episode(settings, journey: Journey) -> str:
    """What the reactivation ends: the veille (its end date) or the relaunch sequence (the step that
    started it), so that the update id of one episode's reactivation is not the next one's."""
    if journey.state == "veille":
        return str(journey.veille_until)
    with db_scope(settings) as session:
        started = session.exec(select(AuditEvent.step_key).where(
            AuditEvent.journey_id == journey.id, AuditEvent.action == "relaunch_started")
            .order_by(AuditEvent.id.desc())).first()
    return f"relaunch:{started}"


def _veille_since(settings, journey: Journey) -> date | None:
    """R14: the first day of the veille in progress (None when the journey is not in veille), as the
    journey traced it at its start and at each extension: the whole period is bounded from that day."""
    if journey.state != "veille":
        return None
    with db_scope(settings) as session:
        detail = session.exec(select(AuditEvent.detail).where(
            AuditEvent.journey_id == journey.id, AuditEvent.action.in_(("veille_started", "veille_extended")))
            .order_by(AuditEvent.id.desc())).first()
    since = (detail or {}).get("since")
    return date.fromisoformat(since) if since else None


def _view(settings, user: User, journey_id: str) -> dict:
    with db_scope(settings) as session:
        return jsonable_encoder(journey_view(session, session.get(Journey, journey_id), user))


def _update_id(kind: str, journey_id: str, body: BaseModel) -> str:
    digest = hashlib.sha256(json.dumps(body.model_dump(mode="json"), sort_keys=True).encode()).hexdigest()
    return f"{kind}:{journey_id}:{digest[:16]}"


async def start_veille(settings: Settings, client: Client, user: User, journey_id: str, body: VeilleIn) -> dict[str, Any]:
    """Start or extend a veille (R14); the journey as it stands after."""
    journey = await run_in_threadpool(_visible, settings, user, journey_id)
    since = await run_in_threadpool(_veille_since, settings, journey)  # an extension: bounded from that day
    errors = rules.r14_veille_refusals(
        agreement_on=body.agreement.on if body.agreement else None, until=body.until,
        reactivation_conditions=body.reactivation_conditions, starts_on=date.today(),
        max_duration=load_policy(settings.policy_file).veille.max_duration, veille_since=since)
    if errors:
        raise Refusal(422, "La mise en veille ne respecte pas le cahier des charges (R14).", rule="R14", errors=errors)
    await run_in_threadpool(plausible.check_paths, settings, journey_id, {  # an agreement before the journey began
        "agreement.on": body.agreement.on if body.agreement else None, "until": body.until})
    request = VeilleRequest(requested_by=body.requested_by, agreement_on=body.agreement.on,
                            agreement_how=body.agreement.how, until=body.until,
                            reactivation_conditions=body.reactivation_conditions, actor_id=user.id)
    handle = client.get_workflow_handle(journey_id)
    await call_workflow(lambda: handle.execute_update(JourneyWorkflow.start_veille, request,
                                                      id=_update_id("veille", journey_id, body)))
    return await run_in_threadpool(_view, settings, user, journey_id)


async def reactivate(settings: Settings, client: Client, user: User, journey_id: str,
                     body: ReactivateIn) -> dict[str, Any]:
    """End the veille (R14) or the relaunch sequence (R17) now; the journey as it stands after."""
    journey = await run_in_threadpool(_visible, settings, user, journey_id)
    if journey.state not in ("veille", "relaunch"):
        raise Refusal(409, "Le parcours n'est ni en veille ni en relance : l'accompagnement est déjà en cours.",
                      rule="R14")
    episode = await run_in_threadpool(_episode, settings, journey)
    handle = client.get_workflow_handle(journey_id)
    await call_workflow(lambda: handle.execute_update(
        JourneyWorkflow.reactivate, Reactivation(actor_id=user.id, reason=body.reason),
        id=_update_id("reactivate", journey_id, body) + f":{episode}"))
    return await run_in_threadpool(_view, settings, user, journey_id)
