"""The kinds of human task: who does them, their French title, and the outcome they take.

Each outcome is a pydantic model: its JSON Schema is published on the task resource so that a
client can draw the form, and the same model validates a completion in the API and again in the
workflow's update validator.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, EmailStr, Field, ValidationError, field_validator, model_validator


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


class Signatory(_Outcome):
    """Who signs for a party, and where their personal signing link is sent."""

    name: str = Field(min_length=1, max_length=200, description="Nom et prénom du ou de la signataire")
    email: EmailStr = Field(description="Adresse électronique où envoyer le lien personnel de signature")
    quality: str | None = Field(None, max_length=200, description="Qualité : tuteur, curatrice, gérant, DRH…")

    _strip = field_validator("name")(_not_blank)


class EmployerParty(_Outcome):
    """The employer, a party when the person is employed (R10); self-employed people sign as their
    own employer, through their own signature."""

    name: str = Field(min_length=1, max_length=200, description="Raison sociale (ou nom de l'activité indépendante)")
    self_employed: bool = Field(False, description="Travailleur non salarié : la personne signe aussi comme employeur")
    signatory: Signatory | None = Field(None, description="Représentant de l'employeur qui signe (sauf travailleur non salarié)")

    _strip = field_validator("name")(_not_blank)

    @model_validator(mode="after")
    def _signatory_unless_self_employed(self):
        if not self.self_employed and self.signatory is None:
            raise ValueError("l'employeur signe par son représentant : indiquez le signataire")
        if self.self_employed and self.signatory is not None:
            raise ValueError("un travailleur non salarié signe lui-même comme employeur : pas d'autre signataire")
        return self


class DraftConventionOutcome(_Outcome):
    """R10: the content of the convention individuelle d'accompagnement, and its parties."""

    workplace_modalities: str = Field(
        min_length=1, max_length=5000,
        description="Modalités d'intervention du conseiller sur le lieu de travail (R10)")
    rhythm: str = Field(min_length=1, max_length=1000, description="Rythme prévu de l'accompagnement (rencontres, contacts)")
    objectives: str | None = Field(None, max_length=5000, description="Objectifs de l'accompagnement")
    signs_for_person: Literal["person", "legal_representative"] = Field(
        "person", description="Qui signe pour la personne : elle-même, ou son représentant légal")
    person_signatory: Signatory = Field(description="La personne accompagnée, ou son représentant légal")
    employer: EmployerParty | None = Field(None, description="L'employeur, quand la personne est en emploi")

    _strip = field_validator("workplace_modalities", "rhythm")(_not_blank)


class SignConventionOutcome(_Outcome):
    """R10: the platform signs the convention through one of its managers (or refuses, with a reason)."""

    decision: Literal["sign", "refuse"] = Field(description="sign : signer pour la plateforme ; refuse : renvoyer au conseiller")
    reason: str | None = Field(None, max_length=2000, description="Motif du refus (obligatoire pour refuse)")

    @model_validator(mode="after")
    def _reason_when_refused(self):
        if self.decision == "refuse" and not (self.reason or "").strip():
            raise ValueError("indiquez le motif du refus")
        return self


class ConventionFollowUpOutcome(_Outcome):
    """R10: the counsellor, alerted that the convention is still unsigned, says what was done."""

    contacted_on: date = Field(description="Date à laquelle les parties ont été relancées")
    note: str = Field(min_length=1, max_length=2000, description="Ce qui a été fait ou convenu")

    _strip = field_validator("note")(_not_blank)


class ContactPlace(StrEnum):
    service = "service"
    workplace = "workplace"
    home = "home"
    other = "other"


class ContactChannel(StrEnum):
    in_person = "in_person"
    phone = "phone"
    video = "video"
    mail = "mail"
    letter = "letter"
    sms = "sms"
    third_party = "third_party"


class ContactParticipants(StrEnum):
    person = "person"
    employer = "employer"
    both = "both"
    partner = "partner"


class ContactFields(_Outcome):
    """R13: a contact, or an attempt that did not reach the person. The body of
    `POST /journeys/{id}/contacts` and the outcome of the tasks that record an interview."""

    occurred_on: date = Field(description="Date du contact")
    duration_minutes: int = Field(ge=0, le=1440, description="Durée en minutes (0 pour une tentative sans réponse)")
    place: ContactPlace = Field(description="Lieu : service, lieu de travail, domicile, autre lieu choisi par la personne")
    channel: ContactChannel = Field(description="Moyen : en présence, téléphone, visio, mail, courrier, SMS, tiers de confiance")
    participants: ContactParticipants = Field(description="Qui a participé : la personne, l'employeur, les deux, un partenaire")
    reached: bool = Field(True, description="La personne a-t-elle été effectivement jointe ? (non : tentative de contact)")
    interview: bool = Field(False, description="Entretien avec le conseiller (R12 : au moins un par trimestre)")
    note: str | None = Field(None, max_length=5000, description="Compte rendu")

    @model_validator(mode="after")
    def _interview_reaches_the_person(self):
        if self.interview and not (self.reached and self.participants in (ContactParticipants.person,
                                                                           ContactParticipants.both)):
            raise ValueError("un entretien suppose que la personne ait été jointe et y ait participé")
        return self


class InterviewOutcome(ContactFields):
    """R12: the quarterly interview, held: recorded as a contact (R13) that moves the deadline."""

    interview: bool = Field(True, description="Toujours vrai : cette tâche enregistre l'entretien tenu")
    reached: bool = Field(True, description="Toujours vrai : la personne a participé à l'entretien")

    @model_validator(mode="after")
    def _is_an_interview(self):
        if not self.interview:
            raise ValueError("cette tâche enregistre l'entretien tenu : interview doit valoir true")
        return self


class InterviewOverdueOutcome(_Outcome):
    """R12: the manager, alerted that the quarterly interview is overdue, says what was decided."""

    note: str = Field(min_length=1, max_length=2000, description="Ce qui a été fait ou décidé avec le conseiller")
    follow_up_on: date | None = Field(None, description="Date à laquelle l'entretien est prévu, si elle est connue")

    _strip = field_validator("note")(_not_blank)


class DraftAvenantOutcome(_Outcome):
    """R10: an avenant to the convention in force: what changes, and only what changes."""

    changes: str = Field(min_length=1, max_length=5000, description="Objet de l'avenant : ce qui change, en clair")
    workplace_modalities: str | None = Field(
        None, max_length=5000, description="Nouvelles modalités d'intervention sur le lieu de travail (sinon inchangées)")
    rhythm: str | None = Field(None, max_length=1000, description="Nouveau rythme de l'accompagnement (sinon inchangé)")
    signs_for_person: Literal["person", "legal_representative"] | None = Field(
        None, description="Qui signe désormais pour la personne (changement de représentant légal)")
    person_signatory: Signatory | None = Field(
        None, description="Le nouveau représentant légal, ou la personne (changement de représentant légal)")
    employer: EmployerParty | None = Field(None, description="Le nouvel employeur (changement d'employeur)")

    _strip = field_validator("changes")(_not_blank)


class VeilleEndingOutcome(_Outcome):
    """R14: the veille ends soon; the counsellor prepares the resumption with the person."""

    decision: Literal["resume_at_end", "resume_now", "extend"] = Field(
        description="resume_at_end : reprise à la date prévue ; resume_now : reprise dès maintenant ; "
                    "extend : prolongation, par un nouvel accord de la personne (POST /veille)")
    note: str = Field(min_length=1, max_length=2000, description="Ce qui a été convenu avec la personne")

    _strip = field_validator("note")(_not_blank)


class RenewRightsOutcome(_Outcome):
    """R19: the counsellor helped the person renew: the day the request was filed, or not yet, with a note."""

    filed_on: date | None = Field(
        None, description="Date de dépôt de la demande de renouvellement auprès de la MDPH ; vide si elle n'est pas "
                          "encore déposée")
    note: str | None = Field(None, max_length=2000,
                             description="Où en est la démarche (obligatoire quand la demande n'est pas encore déposée)")

    @model_validator(mode="after")
    def _filed_or_why_not(self):
        if self.filed_on is None and not (self.note or "").strip():
            raise ValueError("indiquez la date de dépôt de la demande, ou où en est la démarche")
        return self


class RightsAppealOutcome(_Outcome):
    """R19: renewal refused: does the person appeal (if they wish to continue), and when was it filed."""

    appeal: bool = Field(description="La personne forme-t-elle un recours contre le refus ?")
    filed_on: date | None = Field(None, description="Date de dépôt du recours (obligatoire quand il y a recours)")
    note: str | None = Field(None, max_length=2000, description="Ce qui a été convenu avec la personne")

    @model_validator(mode="after")
    def _filed_when_appealed(self):
        if self.appeal and self.filed_on is None:
            raise ValueError("indiquez la date de dépôt du recours")
        if not self.appeal and self.filed_on is not None:
            raise ValueError("sans recours, pas de date de dépôt")
        return self


class ApproveExitOutcome(_Outcome):
    """R18: a manager decides on an exit procedure, with the file (reason, analysis, history)."""

    decision: Literal["approve", "reject"] = Field(
        description="approve : la personne sort du dispositif ; reject : le parcours reprend où il était")
    consultation: str | None = Field(
        None, max_length=2000, description="Comment la personne (ou son représentant) a été consultée (obligatoire "
                                           "pour approuver : R18)")
    reason: str | None = Field(None, max_length=2000, description="Motif de la décision (obligatoire pour rejeter)")

    @model_validator(mode="after")
    def _what_each_decision_needs(self):
        if self.decision == "approve" and not (self.consultation or "").strip():
            raise ValueError("indiquez comment la personne ou son représentant a été consultée (R18)")
        if self.decision == "reject" and not (self.reason or "").strip():
            raise ValueError("indiquez le motif du rejet")
        return self


class RelaunchChannel(StrEnum):
    """R17: the channels of the solicitations (§IV.E: téléphone, courrier, courriel, tiers de confiance,
    déplacement au domicile)."""

    phone = "phone"
    letter = "letter"
    mail = "mail"
    third_party = "third_party"
    home_visit = "home_visit"


RELAUNCH_CHANNEL_LABELS: dict[str, str] = {
    "phone": "téléphone", "letter": "courrier", "mail": "courriel", "third_party": "tiers de confiance",
    "home_visit": "déplacement au domicile",
}


class RelaunchAttemptOutcome(_Outcome):
    """R17: one attempt of the relaunch sequence, and its result: recorded as a contact (R13), reached or not."""

    occurred_on: date = Field(description="Date de la tentative")
    channel: RelaunchChannel = Field(
        description="Moyen : téléphone, courrier, courriel, tiers de confiance, déplacement au domicile")
    reached: bool = Field(description="La personne a-t-elle été jointe ? (oui : les relances s'arrêtent)")
    duration_minutes: int = Field(0, ge=0, le=1440, description="Durée en minutes (0 pour une tentative sans réponse)")
    note: str | None = Field(None, max_length=5000, description="Ce qui a été fait, ce qu'en a dit le tiers, …")


class AnalyseSilenceOutcome(_Outcome):
    """R17: the formal and documented examination of the possible causes of the silence, in particular a
    fragility that calls for keeping the link, before any exit is proposed."""

    causes_examined: str = Field(
        min_length=1, max_length=5000,
        description="Examen des causes possibles du silence (santé, situation sociale, logement, emploi, …)")
    fragility_identified: bool = Field(
        description="Une fragilité nécessitant le maintien du lien a-t-elle été identifiée ?")
    consultation: str = Field(
        min_length=1, max_length=2000,
        description="Consultation de la personne ou de son représentant légal, ou la tentative de la consulter (R18)")
    relaunch_history_acknowledged: bool = Field(
        description="L'historique des relances (dates, moyens, résultats) a été relu et joint à l'examen")
    conclusion: Literal["keep_link", "propose_exit"] = Field(
        description="keep_link : maintenir le lien, l'accompagnement continue ; propose_exit : proposer la sortie "
                    "pour désengagement manifeste et durable (décision d'un responsable, R18)")
    note: str | None = Field(None, max_length=5000, description="Compléments")

    _strip = field_validator("causes_examined", "consultation")(_not_blank)

    @model_validator(mode="after")
    def _documented(self):
        if not self.relaunch_history_acknowledged:
            raise ValueError("l'examen se fait au vu de l'historique des relances : relaunch_history_acknowledged "
                             "doit valoir true")
        if self.fragility_identified and self.conclusion == "propose_exit":
            raise ValueError("une fragilité nécessitant le maintien du lien a été identifiée : la conclusion ne peut "
                             "être que le maintien du lien (keep_link)")
        return self


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
        TaskKind("draft_convention", "Rédiger la convention individuelle d'accompagnement", "counsellor",
                 DraftConventionOutcome, assigned_to_counsellor=True),
        TaskKind("sign_convention", "Signer la convention pour la plateforme", "manager", SignConventionOutcome),
        TaskKind("convention_follow_up", "Convention non signée : relancer les parties", "counsellor",
                 ConventionFollowUpOutcome, assigned_to_counsellor=True),
        TaskKind("draft_avenant", "Rédiger un avenant à la convention", "counsellor", DraftAvenantOutcome,
                 assigned_to_counsellor=True),
        TaskKind("plan_interview", "Tenir l'entretien trimestriel", "counsellor", InterviewOutcome,
                 assigned_to_counsellor=True),
        TaskKind("interview_overdue", "Entretien trimestriel en retard", "manager", InterviewOverdueOutcome),
        TaskKind("approve_exit", "Décider de la sortie du dispositif", "manager", ApproveExitOutcome),
        TaskKind("veille_ending", "Fin de veille : préparer la reprise de l'accompagnement", "counsellor",
                 VeilleEndingOutcome, assigned_to_counsellor=True),
        TaskKind("renew_rights", "Aider la personne à renouveler ses droits (RQTH, décision de la CDAPH)",
                 "counsellor", RenewRightsOutcome, assigned_to_counsellor=True),
        TaskKind("rights_appeal", "Renouvellement refusé : recours ou non", "counsellor", RightsAppealOutcome,
                 assigned_to_counsellor=True),
        TaskKind("relaunch_attempt", "Relance : tenter de joindre la personne", "counsellor", RelaunchAttemptOutcome,
                 assigned_to_counsellor=True),
        TaskKind("analyse_silence", "Silence prolongé : examiner les causes possibles (R17)", "counsellor",
                 AnalyseSilenceOutcome, assigned_to_counsellor=True),
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
