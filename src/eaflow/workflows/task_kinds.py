"""The kinds of human task: who does them, their French title, and the outcome they take.

Each outcome is a pydantic model: its JSON Schema is published on the task resource so that a
client can draw the form, and the same model validates a completion in the API and again in the
workflow's update validator.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator


class _Outcome(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _not_blank(value: str) -> str:
    if not value.strip():
        raise ValueError("ce champ ne peut pas être vide")
    return value.strip()


class CdaphInformedBy(StrEnum):
    courrier = "courrier"
    mail = "mail"
    portail = "portail"
    autre = "autre"


class NotifyCdaphOutcome(_Outcome):
    """R2: when and how the CDAPH was informed of the SPE prescription."""

    informed_on: date = Field(description="Date à laquelle la CDAPH a été informée")
    how: CdaphInformedBy = Field(description="Moyen utilisé : courrier, mail, portail de la MDPH, autre")
    reference: str | None = Field(None, max_length=200, description="Référence du courrier ou du dépôt")


class AssignCounsellorOutcome(_Outcome):
    """R7/R8: the counsellor designated at admission."""

    counsellor_id: str = Field(min_length=1, max_length=64, description="Identifiant du conseiller désigné")


class SharedEvaluationOutcome(_Outcome):
    """R9: the shared evaluation of the situation."""

    evaluated_on: date = Field(description="Date de l'évaluation partagée")
    wishes: str = Field(min_length=1, max_length=5000, description="Souhaits de la personne")
    needs: str = Field(min_length=1, max_length=5000, description="Besoins identifiés")
    resources: str = Field(min_length=1, max_length=5000, description="Ressources et points d'appui")
    employer_expectations: str | None = Field(None, max_length=5000, description="Attentes de l'employeur, le cas échéant")

    _strip = field_validator("wishes", "needs", "resources")(_not_blank)


@dataclass(frozen=True)
class TaskKind:
    name: str
    title: str
    candidate_role: str  # who may take it from the team inbox
    outcome: type[_Outcome]
    assigned_to_counsellor: bool = False  # the journey's counsellor gets it directly

    def outcome_schema(self) -> dict[str, Any]:
        return self.outcome.model_json_schema()

    def validate(self, outcome: dict[str, Any]) -> _Outcome:
        return self.outcome.model_validate(outcome)


TASK_KINDS: dict[str, TaskKind] = {
    kind.name: kind
    for kind in (
        TaskKind("notify_cdaph", "Informer la CDAPH de la prescription", "manager", NotifyCdaphOutcome),
        TaskKind("assign_counsellor", "Désigner un conseiller et admettre la personne", "manager",
                 AssignCounsellorOutcome),
        TaskKind("shared_evaluation", "Réaliser l'évaluation partagée de la situation", "counsellor",
                 SharedEvaluationOutcome, assigned_to_counsellor=True),
    )
}


def outcome_errors(kind: str, outcome: dict[str, Any]) -> list[dict[str, str]]:
    """Field errors of an outcome, empty when it is valid (shared by the API and the validator)."""
    try:
        TASK_KINDS[kind].validate(outcome)
    except ValidationError as error:
        return [
            {"field": ".".join(["outcome", *map(str, e["loc"])]), "message": e["msg"]}
            for e in error.errors()
        ]
    return []
