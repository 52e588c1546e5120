"""Proposing an exit (R15, R18). The service checks the rules first, for a precise refusal naming the
rule; the journey checks them again and opens the procedure: the managers' `approve_exit` task. A move
to a département whose platform runs on this installation becomes a transfer on approval."""
from __future__ import annotations

import hashlib
import json
from datetime import date
from typing import Any

from fastapi.concurrency import run_in_threadpool
from fastapi.encoders import jsonable_encoder
from pydantic import BaseModel, ConfigDict, Field
from sqlmodel import select
from temporalio.client import Client

from eaflow.services.access import visible_journey
from eaflow.services.db import db_scope
from eaflow.services.refusals import Refusal
from eaflow.services.views import journey_view
from eaflow.services.workflow_calls import call_workflow
from eaflow.settings import Settings
from eaflow.store.models import Journey, Platform, User
from eaflow.workflows import rules
from eaflow.workflows.journey import JourneyWorkflow
from eaflow.workflows.types import ExitProposal


class ExitIn(BaseModel):
    """R15: the reason and what it requires in `details`:
    person_request {informed: true, low_intensity_offered: true}; move {department};
    reorientation {person_choice: {on, how}, towards}; death (managers only)."""

    model_config = ConfigDict(extra="forbid", title="Proposition de sortie")
    reason: str = Field(min_length=1, max_length=50, title="Motif de sortie",
                        description="L'un des motifs prévus (R15) : person_request (demande explicite de la "
                                    "personne), move (déménagement), reorientation (réorientation choisie par la "
                                    "personne), death (décès, enregistré par un responsable de la plateforme). "
                                    "L'état de santé n'est jamais un motif de sortie : proposez plutôt une veille "
                                    "(R18). Le désengagement (R17) et le non-renouvellement des droits (R19) sont "
                                    "proposés par le parcours lui-même")
    details: dict[str, Any] = Field(default_factory=dict, title="Précisions exigées par le motif",
                                    description="person_request : informed et low_intensity_offered (la personne a "
                                                "été informée, un accompagnement de faible intensité lui a été "
                                                "proposé) ; move : department (le département où elle s'installe) ; "
                                                "reorientation : person_choice {on, how} (quand et comment elle a "
                                                "exprimé son choix) et towards (vers quoi) ; death : rien")
    analysis: str = Field("", max_length=5000, title="Analyse circonstanciée de la situation",
                          description="Obligatoire, sauf pour un décès : ce qui conduit à proposer la sortie, ce qui "
                                      "a été tenté, l'avis de la personne (R18)")


def _refusal(body: ExitIn, user: User) -> Refusal | None:
    refusal = rules.r15_r18_exit_refusal(body.reason, body.details)
    if refusal is not None:
        return Refusal(422, refusal.detail, rule=refusal.rule, errors=[{"field": "reason", "message": refusal.detail}])
    if body.reason in rules.PROCEDURE_ONLY_REASONS:
        rule = rules.PROCEDURE_ONLY_REASONS[body.reason]
        return Refusal(422, "Ce motif de sortie est proposé par le parcours lui-même, au terme de sa procédure "
                            f"({rule}) : il ne se propose pas directement.", rule=rule,
                       errors=[{"field": "reason", "message": "proposé par la procédure " + rule}])
    if body.reason == "death" and user.role != "manager":
        return Refusal(403, "Le décès est enregistré par un responsable de la plateforme (clôture administrative).",
                       rule="R18")
    if body.reason != "death" and not body.analysis.strip():
        return Refusal(422, "Toute sortie suppose une analyse circonstanciée de la situation (R18).", rule="R18",
                       errors=[{"field": "analysis", "message": "obligatoire"}])
    return None


async def propose_exit(settings: Settings, client: Client, user: User, journey_id: str, body: ExitIn) -> dict[str, Any]:
    """Propose an exit (R15, R18): the journey opens the managers' `approve_exit` task."""
    def check() -> str | None:
        with db_scope(settings) as session:
            journey = visible_journey(session, user, journey_id)
            refusal = _refusal(body, user)
            if refusal is not None:
                raise refusal
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


# ------------------------------------------------------------------ the proposal, reason by reason
# What each reason that a person may propose needs, as forms draw it (the pages); `exit_body` turns
# one into the API's ExitIn, which the rules above check.
_ANALYSIS = Field("", max_length=5000, title="Analyse circonstanciée de la situation",
                  description="Ce qui conduit à proposer la sortie, ce qui a été tenté, l'avis de la personne (R18). "
                              "Un responsable de la plateforme décidera au vu de cette analyse.")


class _ExitForm(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PersonRequestExit(_ExitForm):
    informed: bool = Field(title="La personne a été informée des conséquences de sa décision",
                           description="Obligatoire pour une sortie à sa demande (R15).")
    low_intensity_offered: bool = Field(
        title="Un accompagnement de faible intensité lui a été proposé",
        description="Le cahier des charges demande de proposer un accompagnement allégé avant toute sortie à la "
                    "demande de la personne (R15).")
    analysis: str = _ANALYSIS


class MoveExit(_ExitForm):
    department: str = Field(min_length=1, max_length=3, title="Département où la personne s'installe",
                            description="Son numéro, par exemple 35, 2A ou 974. Si une plateforme y existe, le "
                                        "dossier lui est transmis.")
    analysis: str = _ANALYSIS


class ReorientationExit(_ExitForm):
    choice_on: date = Field(title="Date à laquelle la personne a exprimé son choix",
                            description="Une réorientation n'est une sortie que sur le choix explicite de la "
                                        "personne (R18).")
    choice_how: str = Field(min_length=1, max_length=500, title="Comment elle l'a exprimé",
                            description="Par exemple : entretien du 12 mars, courrier signé.")
    towards: str = Field(min_length=1, max_length=200, title="Vers quoi elle se réoriente",
                         description="Par exemple : ESAT, entreprise adaptée, structure d'insertion.")
    analysis: str = _ANALYSIS


class DeathExit(_ExitForm):
    analysis: str = Field("", max_length=5000, title="Précisions", description="Facultatif : comment la "
                          "plateforme a appris le décès.")


EXIT_FORMS: dict[str, type[_ExitForm]] = {"person_request": PersonRequestExit, "move": MoveExit,
                                          "reorientation": ReorientationExit, "death": DeathExit}


def exit_body(reason: str, form: _ExitForm) -> ExitIn:
    values = form.model_dump(mode="json")
    analysis = values.pop("analysis", "")
    if reason == "reorientation":
        details = {"person_choice": {"on": values["choice_on"], "how": values["choice_how"]},
                   "towards": values["towards"]}
    else:
        details = values
    return ExitIn(reason=reason, details=details, analysis=analysis)
