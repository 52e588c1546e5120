"""Proposing an exit (R15, R18). The service checks the rules first, for a precise refusal naming the
rule; the journey checks them again and opens the procedure: the managers' `approve_exit` task.

A move (R15, §IV.E "Déménagement hors du territoire"): within the platform's own département it is no
exit at all (refused); to a département whose platform runs on this installation it becomes a
transfer on approval; to one whose platform is elsewhere, a handover: with the person's consent, the
file goes to that platform's address and the journey ends once its acknowledgement is recorded; only a
territory that no platform covers (abroad, say) makes the move an exit."""
from __future__ import annotations

import hashlib
import json
from datetime import date
from typing import Any

from fastapi.concurrency import run_in_threadpool
from fastapi.encoders import jsonable_encoder
from pydantic import ConfigDict, Field
from sqlmodel import select
from temporalio.client import Client

from eaflow import accounts
from eaflow.services import plausible
from eaflow.services.access import visible_journey
from eaflow.services.db import db_scope
from eaflow.services.refusals import Refusal
from eaflow.services.views import journey_view
from eaflow.services.workflow_calls import call_workflow
from eaflow.settings import Settings
from eaflow.store.models import Journey, Platform, User
from eaflow.workflows import rules
from eaflow.workflows.journey import JourneyWorkflow
from eaflow.workflows.types import ExitProposal, Handover
from eaflow.workflows.plausibility import CheckedText


class ExitIn(CheckedText):
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
                                                "proposé) ; move : department (le département où elle s'installe), "
                                                "covered (false si aucune plateforme ne le couvre), "
                                                "consent_to_handover et receiving_email (la transmission du "
                                                "dossier) ; "
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
            choice = body.details.get("person_choice")
            if isinstance(choice, dict):  # R18: the day the person chose a reorientation is a past day of the journey
                plausible.check_dates(session, journey_id, {"on": choice.get("on")}, prefix="details.person_choice.")
            if body.reason != "move":
                return None, None
            return move_destination(session, journey, body.details)

    transfer_to, handover_to = await run_in_threadpool(check)
    proposal = ExitProposal(reason=body.reason, proposed_by=user.id, details=body.details,
                            analysis=body.analysis.strip(), transfer_to_platform_id=transfer_to,
                            handover_to=handover_to)
    digest = hashlib.sha256(json.dumps(body.model_dump(mode="json"), sort_keys=True).encode()).hexdigest()[:16]
    handle = client.get_workflow_handle(journey_id)
    answer = await call_workflow(lambda: handle.execute_update(
        JourneyWorkflow.propose_exit, proposal, id=f"exit:{journey_id}:{user.id}:{digest}"))

    def view() -> dict:
        with db_scope(settings) as session:
            return jsonable_encoder(journey_view(session, session.get(Journey, journey_id), user))

    return {**await run_in_threadpool(view), "exit_procedure": {
        **answer, "transfer": transfer_to is not None, "handover": handover_to is not None}}


ABROAD = "99"


def _move_refusal(message: str, field: str, rule: str | None = "R15") -> Refusal:
    return Refusal(422, message, rule=rule, errors=[{"field": f"details.{field}", "message": message}])


def move_destination(session, journey: Journey, details: dict[str, Any]) -> tuple[str | None, Handover | None]:
    """R15: where a move sends the file: (the receiving platform here, or the handover elsewhere);
    (None, None) for a territory no platform covers, the one case where the move is an exit."""
    typed = str(details.get("department", "")).strip()
    if typed == ABROAD:  # INSEE's code for abroad: no platform covers it
        return None, None
    try:
        department = accounts.normalize_department(typed)
    except ValueError:
        raise _move_refusal("Indiquez le numéro du département, par exemple 35, 2A ou 974.", "department",
                            rule=None) from None
    platform = session.get(Platform, journey.platform_id)
    if platform is not None and department == platform.department:
        raise _move_refusal("La personne reste dans le département de la plateforme : son accompagnement continue "
                            "ici, un déménagement n'est un motif de sortie que hors de son territoire (R15).",
                            "department")
    covered = details.get("covered", True) is not False
    if covered and details.get("consent_to_handover") is not True:
        raise _move_refusal("Le dossier est transmis à la plateforme du nouveau département avec l'accord de la "
                            "personne : recueillez-le d'abord (R15, R22).", "consent_to_handover")
    receiving = session.exec(select(Platform).where(Platform.department == department)).first()
    if receiving is not None:
        return receiving.id, None
    if not covered:
        return None, None
    try:
        email = accounts.check_email(str(details.get("receiving_email") or ""))
    except ValueError:
        raise _move_refusal("Indiquez l'adresse électronique de la plateforme d'emploi accompagné du nouveau "
                            "département : le dossier lui est transmis (R15).", "receiving_email") from None
    return None, Handover(department=department, email=email)


# ------------------------------------------------------------------ the proposal, reason by reason
# What each reason that a person may propose needs, as forms draw it (the pages); `exit_body` turns
# one into the API's ExitIn, which the rules above check.
_ANALYSIS = Field("", max_length=5000, title="Analyse circonstanciée de la situation",
                  description="Ce qui conduit à proposer la sortie, ce qui a été tenté, l'avis de la personne (R18). "
                              "Un responsable de la plateforme décidera au vu de cette analyse.")


class _ExitForm(CheckedText):
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
                            description="Son numéro, par exemple 56, 2A ou 974 (99 pour l'étranger). Un déménagement dans le "
                                        "département ne met pas fin à l'accompagnement.")
    covered: bool = Field(True, title="Une plateforme d'emploi accompagné couvre ce territoire",
                          description="Décochez seulement si aucune plateforme n'y existe (par exemple à "
                                      "l'étranger) : c'est le seul cas où le déménagement est une sortie (R15).")
    receiving_email: str = Field("", max_length=320, title="Adresse électronique de la plateforme d'accueil",
                                 description="Le dossier lui est transmis si elle n'est pas gérée avec eaflow "
                                             "ici ; inutile sinon.")
    consent_to_handover: bool = Field(False, title="La personne accepte que son dossier soit transmis",
                                      description="Obligatoire quand une plateforme couvre le nouveau "
                                                  "département : une synthèse et la convention lui sont envoyées.")
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
