"""The kinds of human task: who does them, their French title, and the outcome they take.

Each outcome is a pydantic model: its JSON Schema is published on the task resource so that a
client can draw the form, and the same model validates a completion in the API and again in the
workflow's update validator. The schema speaks French: every model and field has a `title` (the label a
person reads) and a `description` (the help under it), and every choice publishes the label of each of
its values as `oneOf: [{"const", "title"}]` beside its `enum`.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date
from enum import StrEnum, nonmember
from typing import Any, Literal

from pydantic import ConfigDict, EmailStr, Field, ValidationError, field_validator, model_validator

from eaflow import profile
from eaflow.workflows.field_errors import FieldValueError, field_errors
from eaflow.workflows.plausibility import CheckedText


def choice_labels(labels: Mapping[str, str]) -> Callable[[dict[str, Any]], None]:
    """A `json_schema_extra` that publishes the French label of each value of a choice, as
    `oneOf: [{"const": value, "title": label}]` beside its `enum` (in the non-null branch of an optional
    choice, so that null stays valid). A value without a label fails when the schema is built."""
    def publish(schema: dict[str, Any]) -> None:
        target = next((branch for branch in schema.get("anyOf", ()) if "enum" in branch), schema)
        target["oneOf"] = [{"const": value, "title": labels[value]} for value in target["enum"]]
    return publish


def _item_labels(labels: Mapping[str, str]) -> Callable[[dict[str, Any]], None]:
    """`choice_labels` for a list of choices: the labels go on its items' schema."""
    def publish(schema: dict[str, Any]) -> None:
        array = next((branch for branch in schema.get("anyOf", ()) if branch.get("type") == "array"), schema)
        choice_labels(labels)(array["items"])
    return publish


class _Choice(StrEnum):
    """A choice whose own schema (its `$defs` entry) carries a French title and the French label of each
    value, from the subclass's `schema_title` and `labels` (non-members)."""

    @classmethod
    def __get_pydantic_json_schema__(cls, core_schema, handler):
        schema = handler(core_schema)
        own = handler.resolve_ref_schema(schema)
        own["title"] = cls.schema_title
        choice_labels(cls.labels)(own)
        return schema


_READ_ONLY = {"readOnly": True}  # set by the task itself: a form does not show it


class _Outcome(CheckedText):
    model_config = ConfigDict(extra="forbid")  # subclasses add their French title; the config merges


def _not_blank(value: str) -> str:
    if not value.strip():
        raise ValueError("ce champ ne peut pas être vide")
    return value.strip()


class CdaphInformedBy(_Choice):
    courrier = "courrier"
    mail = "mail"
    portail = "portail"
    autre = "autre"

    schema_title = nonmember("Moyen d'information de la CDAPH")
    labels = nonmember({"courrier": "Par courrier", "mail": "Par courriel", "portail": "Par le portail de la MDPH",
                        "autre": "Autre moyen"})


class NotifyCdaphOutcome(_Outcome):
    """R2: when and how the CDAPH was informed of the SPE prescription."""

    model_config = ConfigDict(title="Information de la CDAPH")

    informed_on: date = Field(title="Date de l'information", description="Date à laquelle la CDAPH a été informée")
    how: CdaphInformedBy = Field(title="Moyen utilisé", description="Comment la CDAPH a été informée")
    reference: str | None = Field(None, max_length=200, title="Référence",
                                  description="Référence du courrier ou du dépôt sur le portail")


class AssignCounsellorOutcome(_Outcome):
    """R7/R8: the counsellor designated at admission."""

    model_config = ConfigDict(title="Désignation du conseiller")

    counsellor_id: str = Field(min_length=1, max_length=64, title="Conseiller désigné",
                               description="Identifiant du conseiller qui accompagnera la personne")


class SharedEvaluationOutcome(_Outcome):
    """R9: the shared evaluation of the situation."""

    model_config = ConfigDict(title="Évaluation partagée")

    evaluated_on: date = Field(title="Date de l'évaluation partagée",
                               description="Jour où la situation a été évaluée avec la personne")
    wishes: str = Field(min_length=1, max_length=5000, title="Souhaits de la personne",
                        description="Ce que la personne souhaite, dans ses mots")
    needs: str = Field(min_length=1, max_length=5000, title="Besoins identifiés",
                       description="Ce dont la personne a besoin pour trouver ou garder un emploi")
    resources: str = Field(min_length=1, max_length=5000, title="Ressources et points d'appui",
                           description="Ce sur quoi la personne peut s'appuyer : compétences, entourage, aides")
    employer_expectations: str | None = Field(None, max_length=5000, title="Attentes de l'employeur",
                                              description="Si la personne est en emploi : ce qu'attend l'employeur")
    # The profile at entry (eaflow.profile), for the funders' indicators (R20, §V.A.6 3°): optional.
    disability_nature: Literal[tuple(profile.DISABILITY_NATURES)] | None = Field(
        None, title="Nature du handicap (indicateurs)",
        description="Pour les indicateurs des financeurs, chiffres agrégés seulement ; laissez vide si la "
                    "personne ne souhaite pas le dire",
        json_schema_extra=choice_labels(profile.DISABILITY_NATURES))
    months_without_employment: int | None = Field(
        None, ge=0, le=profile.MAX_MONTHS_WITHOUT_EMPLOYMENT, title="Durée sans emploi avant l'entrée (en mois)",
        description="Depuis la fin du dernier emploi ; 0 si la personne est en emploi")
    lifetime_employment_years: float | None = Field(
        None, ge=0, le=profile.MAX_EMPLOYMENT_YEARS,
        title="Durée totale en emploi sur la vie professionnelle (en années, estimation)",
        description="Tous emplois confondus, par exemple 2,5 ; 0 si la personne n'a jamais travaillé")
    education_level: Literal[tuple(profile.EDUCATION_LEVELS)] | None = Field(
        None, title="Niveau de formation initiale",
        description="Le plus haut diplôme obtenu, selon la nomenclature nationale des niveaux de diplôme",
        json_schema_extra=choice_labels(profile.EDUCATION_LEVELS))
    status_at_entry: Literal[tuple(profile.STATUSES_AT_ENTRY)] | None = Field(
        None, title="Statut administratif à l'entrée", description="La situation de la personne à son entrée",
        json_schema_extra=choice_labels(profile.STATUSES_AT_ENTRY))
    medico_social_support: list[Literal[tuple(profile.MEDICO_SOCIAL_SUPPORTS)]] | None = Field(
        None, max_length=len(profile.MEDICO_SOCIAL_SUPPORTS), title="Accompagnement médico-social complémentaire",
        description="Un ou plusieurs ; « Aucun » seul si la personne n'en a pas",
        json_schema_extra=_item_labels(profile.MEDICO_SOCIAL_SUPPORTS))

    _strip = field_validator("wishes", "needs", "resources")(_not_blank)

    @field_validator("medico_social_support")
    @classmethod
    def _supports_are_distinct(cls, value: list[str] | None) -> list[str] | None:
        if value is None:
            return None
        if len(set(value)) != len(value):
            raise ValueError("chaque accompagnement ne peut être coché qu'une fois")
        if profile.NO_SUPPORT in value and len(value) > 1:
            raise ValueError("« Aucun » ne va pas avec un autre accompagnement")
        return value or None


class Signatory(_Outcome):
    """Who signs for a party, and where their personal signing link is sent."""

    model_config = ConfigDict(title="Signataire")

    name: str = Field(min_length=1, max_length=200, title="Nom et prénom",
                      description="Nom et prénom du ou de la signataire")
    email: EmailStr = Field(title="Adresse électronique",
                            description="Le lien personnel de signature est envoyé à cette adresse")
    quality: str | None = Field(None, max_length=200, title="Qualité",
                                description="À quel titre la personne signe : tuteur, curatrice, gérant, DRH…")

    _strip = field_validator("name")(_not_blank)


class EmployerParty(_Outcome):
    """The employer, a party when the person is employed (R10); self-employed people sign as their
    own employer, through their own signature."""

    model_config = ConfigDict(title="Employeur")

    name: str = Field(min_length=1, max_length=200, title="Nom de l'employeur",
                      description="Raison sociale (ou nom de l'activité indépendante)")
    self_employed: bool = Field(False, title="Travailleur non salarié",
                                description="Oui : la personne travaille à son compte et signe aussi comme employeur")
    signatory: Signatory | None = Field(None, title="Signataire pour l'employeur",
                                        description="La personne qui signe au nom de l'employeur (sauf travailleur "
                                                    "non salarié)")

    _strip = field_validator("name")(_not_blank)

    @model_validator(mode="after")
    def _signatory_unless_self_employed(self):
        if not self.self_employed and self.signatory is None:
            raise ValueError("l'employeur signe par son représentant : indiquez le signataire")
        if self.self_employed and self.signatory is not None:
            raise ValueError("un travailleur non salarié signe lui-même comme employeur : pas d'autre signataire")
        return self


_SIGNS_FOR_PERSON = choice_labels({"person": "La personne elle-même",
                                   "legal_representative": "Son représentant légal"})


class DraftConventionOutcome(_Outcome):
    """R10: the content of the convention individuelle d'accompagnement, and its parties."""

    model_config = ConfigDict(title="Convention individuelle d'accompagnement")

    workplace_modalities: str = Field(
        min_length=1, max_length=5000, title="Modalités d'intervention sur le lieu de travail",
        description="Comment le conseiller intervient sur le lieu de travail (R10)")
    rhythm: str = Field(min_length=1, max_length=1000, title="Rythme de l'accompagnement",
                        description="Rencontres et contacts prévus, et à quelle fréquence")
    objectives: str | None = Field(None, max_length=5000, title="Objectifs de l'accompagnement",
                                   description="Ce que l'accompagnement doit permettre d'atteindre")
    signs_for_person: Literal["person", "legal_representative"] = Field(
        "person", title="Qui signe pour la personne",
        description="La personne elle-même, ou son représentant légal (tutelle, curatelle…)",
        json_schema_extra=_SIGNS_FOR_PERSON)
    person_signatory: Signatory = Field(title="Signataire pour la personne",
                                        description="La personne accompagnée, ou son représentant légal")
    employer: EmployerParty | None = Field(None, title="Employeur",
                                           description="Obligatoire quand la personne est en emploi : "
                                                       "l'employeur est partie à la convention (R10)")

    _strip = field_validator("workplace_modalities", "rhythm")(_not_blank)


class SignConventionOutcome(_Outcome):
    """R10: the platform signs the convention through one of its managers (or refuses, with a reason)."""

    model_config = ConfigDict(title="Signature de la convention par la plateforme")

    decision: Literal["sign", "refuse"] = Field(
        title="Décision",
        description="Signer engage la plateforme ; refuser renvoie la convention au conseiller, avec un motif",
        json_schema_extra=choice_labels({"sign": "Signer pour la plateforme",
                                         "refuse": "Refuser et renvoyer au conseiller"}))
    reason: str | None = Field(None, max_length=2000, title="Motif du refus",
                               description="Obligatoire quand vous refusez : ce que le conseiller doit revoir",
                               json_schema_extra={"x-required-when": "obligatoire pour refuser"})

    @model_validator(mode="after")
    def _reason_when_refused(self):
        if self.decision == "refuse" and not (self.reason or "").strip():
            raise FieldValueError("reason", "indiquez le motif du refus")
        return self


class ConventionFollowUpOutcome(_Outcome):
    """R10: the counsellor, alerted that the convention is still unsigned, says what was done."""

    model_config = ConfigDict(title="Relance des signataires")

    contacted_on: date = Field(title="Date de la relance",
                               description="Date à laquelle les parties ont été relancées")
    note: str = Field(min_length=1, max_length=2000, title="Ce qui a été fait",
                      description="Ce qui a été fait ou convenu avec les signataires")

    _strip = field_validator("note")(_not_blank)


class ContactPlace(_Choice):
    service = "service"
    workplace = "workplace"
    home = "home"
    other = "other"

    schema_title = nonmember("Lieu du contact")
    labels = nonmember({"service": "Dans les locaux du service", "workplace": "Sur le lieu de travail",
                        "home": "Au domicile", "other": "Autre lieu choisi par la personne"})


class ContactChannel(_Choice):
    in_person = "in_person"
    phone = "phone"
    video = "video"
    mail = "mail"
    letter = "letter"
    sms = "sms"
    third_party = "third_party"

    schema_title = nonmember("Moyen de contact")
    labels = nonmember({"in_person": "En présence", "phone": "Par téléphone", "video": "En visioconférence",
                        "mail": "Par courriel", "letter": "Par courrier", "sms": "Par SMS",
                        "third_party": "Par un tiers de confiance"})


class ContactParticipants(_Choice):
    person = "person"
    employer = "employer"
    both = "both"
    partner = "partner"

    schema_title = nonmember("Participants au contact")
    labels = nonmember({"person": "La personne", "employer": "L'employeur", "both": "La personne et l'employeur",
                        "partner": "Un partenaire"})


class ContactFields(_Outcome):
    """R13: a contact, or an attempt that did not reach the person. The body of
    `POST /journeys/{id}/contacts` and the outcome of the tasks that record an interview."""

    model_config = ConfigDict(title="Contact")

    occurred_on: date = Field(title="Date du contact", description="Jour du contact ou de la tentative")
    duration_minutes: int = Field(ge=0, le=1440, title="Durée (en minutes)",
                                  description="0 pour une tentative sans réponse")
    place: ContactPlace = Field(title="Lieu du contact", description="Où le contact a eu lieu")
    channel: ContactChannel = Field(title="Moyen de contact", description="Comment le contact a eu lieu")
    participants: ContactParticipants = Field(title="Participants", description="Qui a participé au contact")
    reached: bool = Field(True, title="Personne jointe",
                          description="La personne a-t-elle été effectivement jointe ? Non : c'est une tentative "
                                      "de contact")
    interview: bool = Field(False, title="Entretien avec le conseiller",
                            description="Oui si c'est un entretien (R12 : au moins un par trimestre)")
    note: str | None = Field(None, max_length=5000, title="Compte rendu",
                             description="Ce qui a été dit, fait ou convenu")

    @model_validator(mode="after")
    def _interview_reaches_the_person(self):
        if self.interview and not (self.reached and self.participants in (ContactParticipants.person,
                                                                           ContactParticipants.both)):
            raise ValueError("un entretien suppose que la personne ait été jointe et y ait participé")
        return self


class InterviewOutcome(ContactFields):
    """R12: the quarterly interview, held: recorded as a contact (R13) that moves the deadline."""

    model_config = ConfigDict(title="Entretien trimestriel")

    interview: bool = Field(True, title="Entretien avec le conseiller",
                            description="Toujours vrai : cette tâche enregistre l'entretien tenu",
                            json_schema_extra=_READ_ONLY)
    reached: bool = Field(True, title="Personne jointe",
                          description="Toujours vrai : la personne a participé à l'entretien",
                          json_schema_extra=_READ_ONLY)

    @model_validator(mode="after")
    def _is_an_interview(self):
        if not self.interview:
            raise ValueError("cette tâche enregistre l'entretien tenu : interview doit valoir true")
        return self


class InterviewOverdueOutcome(_Outcome):
    """R12: the manager, alerted that the quarterly interview is overdue, says what was decided."""

    model_config = ConfigDict(title="Entretien trimestriel en retard")

    note: str = Field(min_length=1, max_length=2000, title="Ce qui a été décidé",
                      description="Ce qui a été fait ou décidé avec le conseiller")
    follow_up_on: date | None = Field(None, title="Date prévue de l'entretien",
                                      description="Si elle est déjà connue")

    _strip = field_validator("note")(_not_blank)


class DraftAvenantOutcome(_Outcome):
    """R10: an avenant to the convention in force: what changes, and only what changes."""

    model_config = ConfigDict(title="Avenant à la convention")

    changes: str = Field(min_length=1, max_length=5000, title="Objet de l'avenant",
                         description="Ce qui change, en clair")
    workplace_modalities: str | None = Field(
        None, max_length=5000, title="Nouvelles modalités d'intervention sur le lieu de travail",
        description="Laissez vide si elles ne changent pas")
    rhythm: str | None = Field(None, max_length=1000, title="Nouveau rythme de l'accompagnement",
                               description="Laissez vide s'il ne change pas")
    signs_for_person: Literal["person", "legal_representative"] | None = Field(
        None, title="Qui signe désormais pour la personne",
        description="Seulement en cas de changement de représentant légal", json_schema_extra=_SIGNS_FOR_PERSON)
    person_signatory: Signatory | None = Field(
        None, title="Nouveau signataire pour la personne",
        description="Le nouveau représentant légal, ou la personne (changement de représentant légal)")
    employer: EmployerParty | None = Field(None, title="Nouvel employeur",
                                           description="Seulement en cas de changement d'employeur")

    _strip = field_validator("changes")(_not_blank)


class VeilleEndingOutcome(_Outcome):
    """R14: the veille ends soon; the counsellor prepares the resumption with the person."""

    model_config = ConfigDict(title="Fin de veille")

    decision: Literal["resume_at_end", "resume_now", "extend"] = Field(
        title="Décision prise avec la personne",
        description="Reprendre l'accompagnement à la date prévue ou dès maintenant, ou prolonger la veille : une "
                    "prolongation demande un nouvel accord de la personne, à enregistrer ensuite",
        json_schema_extra=choice_labels({"resume_at_end": "Reprendre à la date prévue",
                                         "resume_now": "Reprendre dès maintenant",
                                         "extend": "Prolonger la veille (nouvel accord de la personne)"}))
    note: str = Field(min_length=1, max_length=2000, title="Ce qui a été convenu",
                      description="Ce qui a été convenu avec la personne")

    _strip = field_validator("note")(_not_blank)


class RenewRightsOutcome(_Outcome):
    """R19: the counsellor helped the person renew: the day the request was filed, or not yet, with a note."""

    model_config = ConfigDict(title="Renouvellement des droits")

    filed_on: date | None = Field(
        None, title="Date de dépôt de la demande",
        description="Date de dépôt de la demande de renouvellement auprès de la MDPH ; laissez vide si elle n'est "
                    "pas encore déposée")
    note: str | None = Field(None, max_length=2000, title="Où en est la démarche",
                             description="Obligatoire quand la demande n'est pas encore déposée")

    @model_validator(mode="after")
    def _filed_or_why_not(self):
        if self.filed_on is None and not (self.note or "").strip():
            raise ValueError("indiquez la date de dépôt de la demande, ou où en est la démarche")
        return self


class RightsAppealOutcome(_Outcome):
    """R19: renewal refused: does the person appeal (if they wish to continue), and when was it filed."""

    model_config = ConfigDict(title="Recours contre le refus de renouvellement")

    appeal: bool = Field(title="Recours", description="La personne forme-t-elle un recours contre le refus ?")
    filed_on: date | None = Field(None, title="Date de dépôt du recours",
                                  description="Obligatoire quand il y a recours")
    note: str | None = Field(None, max_length=2000, title="Ce qui a été convenu",
                             description="Ce qui a été convenu avec la personne")

    @model_validator(mode="after")
    def _filed_when_appealed(self):
        if self.appeal and self.filed_on is None:
            raise ValueError("indiquez la date de dépôt du recours")
        if not self.appeal and self.filed_on is not None:
            raise ValueError("sans recours, pas de date de dépôt")
        return self


class ApproveExitOutcome(_Outcome):
    """R18: a manager decides on an exit procedure, with the file (reason, analysis, history)."""

    model_config = ConfigDict(title="Décision de sortie du dispositif")

    decision: Literal["approve", "reject"] = Field(
        title="Décision",
        description="Approuver : la personne sort du dispositif ; rejeter : le parcours reprend où il en était",
        json_schema_extra=choice_labels({"approve": "Approuver la sortie", "reject": "Rejeter la sortie"}))
    consultation: str | None = Field(
        None, max_length=2000, title="Consultation de la personne",
        description="Comment la personne (ou son représentant) a été consultée ; obligatoire pour approuver (R18)",
        json_schema_extra={"x-required-when": "obligatoire pour approuver"})
    reason: str | None = Field(None, max_length=2000, title="Motif de la décision",
                               description="Obligatoire pour rejeter : il est tracé et communiqué au conseiller",
                               json_schema_extra={"x-required-when": "obligatoire pour rejeter"})

    @model_validator(mode="after")
    def _what_each_decision_needs(self):
        if self.decision == "approve" and not (self.consultation or "").strip():
            raise FieldValueError("consultation", "indiquez comment la personne ou son représentant a été consultée (R18)")
        if self.decision == "reject" and not (self.reason or "").strip():
            raise FieldValueError("reason", "indiquez le motif du rejet")
        return self


class RecordHandoverOutcome(_Outcome):
    """R15: the platform of the new département acknowledged the file handed over after a move."""

    model_config = ConfigDict(title="Accusé de réception du dossier transmis")

    acknowledged_on: date = Field(title="Date de l'accusé de réception",
                                  description="Le jour où la plateforme du nouveau département a confirmé avoir "
                                              "reçu le dossier ; le parcours se clôt alors ici comme transféré")
    how: str = Field(min_length=1, max_length=500, title="Comment elle l'a confirmé",
                     description="Par exemple : courriel de réponse de sa responsable du 12 mars, appel téléphonique")

    _strip = field_validator("how")(_not_blank)


RELAUNCH_CHANNEL_LABELS: dict[str, str] = {
    "phone": "téléphone", "letter": "courrier", "mail": "courriel", "third_party": "tiers de confiance",
    "home_visit": "déplacement au domicile",
}


class RelaunchChannel(_Choice):
    """R17: the channels of the solicitations (§IV.E: téléphone, courrier, courriel, tiers de confiance,
    déplacement au domicile)."""

    phone = "phone"
    letter = "letter"
    mail = "mail"
    third_party = "third_party"
    home_visit = "home_visit"

    schema_title = nonmember("Moyen de relance")
    labels = nonmember({value: label[0].upper() + label[1:] for value, label in RELAUNCH_CHANNEL_LABELS.items()})


class RelaunchAttemptOutcome(_Outcome):
    """R17: one attempt of the relaunch sequence, and its result: recorded as a contact (R13), reached or not;
    or the channel recorded as impossible, with why (no known e-mail address, no trusted third party, the
    person lives abroad…): not a contact, but that channel is no longer owed before the examination."""

    model_config = ConfigDict(title="Tentative de relance")

    occurred_on: date = Field(title="Date de la tentative",
                              description="Jour où vous avez tenté de joindre la personne (ou constaté que ce "
                                          "moyen est impossible)")
    channel: RelaunchChannel = Field(title="Moyen utilisé",
                                     description="Comment vous avez tenté de joindre la personne")
    reached: bool = Field(title="Personne jointe",
                          description="La personne a-t-elle été jointe ? Oui : les relances s'arrêtent")
    duration_minutes: int = Field(0, ge=0, le=1440, title="Durée (en minutes)",
                                  description="0 pour une tentative sans réponse")
    note: str | None = Field(None, max_length=5000, title="Ce qui a été fait",
                             description="Ce qui a été fait, ce qu'en a dit le tiers de confiance…")
    # Optional with defaults: the outcomes recorded before they existed stay valid.
    impossible: bool = Field(False, title="Moyen impossible",
                             description="Ce moyen ne peut pas être utilisé pour cette personne (il n'est alors "
                                         "pas tenté) ; indiquez pourquoi")
    impossible_reason: str | None = Field(
        None, max_length=2000, title="Pourquoi ce moyen est impossible",
        description="Par exemple : aucune adresse électronique connue, aucun tiers de confiance, la personne "
                    "réside à l'étranger",
        json_schema_extra={"x-required-when": "obligatoire si le moyen est impossible"})

    @model_validator(mode="after")
    def _why_impossible(self):
        if self.impossible:
            if not (self.impossible_reason or "").strip():
                raise FieldValueError("impossible_reason", "indiquez pourquoi ce moyen est impossible")
            if self.reached:
                raise FieldValueError("reached", "un moyen impossible n'a pas pu joindre la personne")
            self.impossible_reason = self.impossible_reason.strip()
        elif self.impossible_reason is not None and self.impossible_reason.strip():
            raise FieldValueError("impossible_reason", "ce motif ne vaut que pour un moyen impossible")
        return self


class AnalyseSilenceOutcome(_Outcome):
    """R17: the formal and documented examination of the possible causes of the silence, in particular a
    fragility that calls for keeping the link, before any exit is proposed."""

    model_config = ConfigDict(title="Examen des causes du silence")

    causes_examined: str = Field(
        min_length=1, max_length=5000, title="Causes possibles du silence",
        description="Ce qui a été examiné : santé, situation sociale, logement, emploi…")
    fragility_identified: bool = Field(
        title="Fragilité identifiée",
        description="Une fragilité qui demande de maintenir le lien a-t-elle été identifiée ?")
    consultation: str = Field(
        min_length=1, max_length=2000, title="Consultation de la personne",
        description="Comment la personne ou son représentant légal a été consultée, ou la tentative de la "
                    "consulter (R18)")
    relaunch_history_acknowledged: bool = Field(
        title="Historique des relances relu",
        description="L'historique des relances (dates, moyens, résultats) a été relu et joint à l'examen")
    conclusion: Literal["keep_link", "propose_exit"] = Field(
        title="Conclusion",
        description="Maintenir le lien : l'accompagnement continue. Proposer la sortie, pour désengagement "
                    "manifeste et durable : un responsable décide (R18)",
        json_schema_extra=choice_labels({"keep_link": "Maintenir le lien",
                                         "propose_exit": "Proposer la sortie du dispositif"}))
    note: str | None = Field(None, max_length=5000, title="Compléments", description="Tout ce qui éclaire l'examen")

    _strip = field_validator("causes_examined", "consultation")(_not_blank)

    @model_validator(mode="after")
    def _documented(self):
        if not self.relaunch_history_acknowledged:
            raise ValueError("l'examen se fait au vu de l'historique des relances : relisez-le et répondez oui à "
                             "« Historique des relances relu »")
        if self.fragility_identified and self.conclusion == "propose_exit":
            raise ValueError("une fragilité nécessitant le maintien du lien a été identifiée : la conclusion "
                             "ne peut être que « Maintenir le lien »")
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

    @property
    def rule(self) -> str:
        """The rule of DOMAIN.md the task serves, e.g. "R12"."""
        return RULE_OF_KIND[self.name]

    @property
    def rule_summary(self) -> str:
        return RULE_SUMMARIES[self.rule.split("/")[0]]

    def validate(self, outcome: dict[str, Any]) -> _Outcome:
        return self.outcome.model_validate(outcome)


# What each rule asks, in a line a counsellor reads beside the task (DOMAIN.md has the full text).
RULE_SUMMARIES: dict[str, str] = {
    "R1": "l'emploi accompagné est ouvert dès 16 ans aux personnes qui ont une RQTH en cours de validité ou le "
          "statut de bénéficiaire de l'obligation d'emploi.",
    "R3": "rien ne commence sans le consentement de la personne ou de son représentant légal.",
    "R4": "la décision est notifiée à la personne, au responsable de la plateforme et, si elle est en emploi, à "
          "son employeur.",
    "R5": "le prescripteur dit pourquoi les services de droit commun ne suffisent pas ; un autre accompagnement "
          "déjà financé demande de justifier ce que l'emploi accompagné y ajoute.",
    "R6": "accès rapide, dans cet ordre : personnes en emploi, sur le point d'être embauchées, sortant d'un ESAT, "
          "puis en recherche d'emploi ; à priorité égale, la prescription la plus ancienne.",
    "R15": "une sortie n'est possible que pour un motif prévu par le cahier des charges.",
    "R2": "une prescription du service public de l'emploi est portée à la connaissance de la CDAPH.",
    "R7": "au plus 20 personnes accompagnées par conseiller à temps plein ; un conseiller unique par personne.",
    "R9": "après l'admission, la situation est évaluée avec la personne (souhaits, besoins, ressources).",
    "R10": "une convention individuelle est signée par la plateforme, la personne et l'employeur s'il y en a un.",
    "R12": "au moins un entretien par trimestre avec le conseiller, hors veille.",
    "R14": "la veille est bornée, convenue avec la personne, et n'est pas une sortie.",
    "R17": "avant toute sortie pour désengagement, six mois de relances par des moyens différents et un examen "
           "des causes du silence.",
    "R18": "aucune sortie sans analyse de la situation, consultation de la personne et décision d'un responsable.",
    "R19": "la fin de la RQTH ou de la décision de la CDAPH est anticipée ; un refus peut faire l'objet d'un recours.",
}
RULE_OF_KIND: dict[str, str] = {
    "notify_cdaph": "R2", "assign_counsellor": "R7/R8", "shared_evaluation": "R9", "draft_convention": "R10",
    "sign_convention": "R10", "convention_follow_up": "R10", "draft_avenant": "R10", "plan_interview": "R12",
    "interview_overdue": "R12", "approve_exit": "R18", "veille_ending": "R14", "renew_rights": "R19",
    "rights_appeal": "R19", "relaunch_attempt": "R17", "analyse_silence": "R17", "record_handover": "R15",
}

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
        TaskKind("record_handover", "Déménagement : noter l'accusé de réception de la nouvelle plateforme", "manager",
                 RecordHandoverOutcome),
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
        return field_errors(error, "outcome")
    return []
