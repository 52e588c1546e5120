"""Intake of a prescription: the body clients send, the records it creates, the journey it starts."""
from __future__ import annotations

import hashlib
import uuid
from datetime import date
from typing import Literal

from pydantic import ConfigDict, EmailStr, Field
from sqlmodel import Session
from temporalio.client import Client, WithStartWorkflowOperation
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy

from eaflow.policy import Policy
from eaflow.store.models import AuditEvent, Journey, Person
from eaflow.workflows.journey import JourneyWorkflow
from eaflow.workflows.task_kinds import choice_labels
from eaflow.workflows.types import Channel, Consent, IntakeAnswer, IntakeFacts, JourneyInput, Rights, Situation
from eaflow.workflows.plausibility import CheckedText


class _Body(CheckedText):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class LegalRepresentative(_Body):
    model_config = ConfigDict(title="Représentant légal")

    name: str = Field(min_length=1, max_length=200, title="Nom du représentant légal",
                      description="Prénom et nom, ou nom de l'organisme (par exemple l'association tutélaire)")
    email: EmailStr | None = Field(None, title="Adresse électronique",
                                   description="Pour lui envoyer les courriers du parcours et la convention à signer")
    phone: str | None = Field(None, max_length=40, title="Téléphone", description="Un numéro où le joindre")
    kind: str | None = Field(None, max_length=100, title="Nature de la représentation",
                             description="Par exemple : tutelle, curatelle, parent d'un mineur…")


class PersonIn(_Body):
    model_config = ConfigDict(title="La personne orientée")

    first_name: str = Field(min_length=1, max_length=100, title="Prénom", description="Le prénom de la personne")
    last_name: str = Field(min_length=1, max_length=100, title="Nom", description="Le nom de famille de la personne")
    birth_date: date = Field(title="Date de naissance",
                             description="L'emploi accompagné est ouvert à partir de 16 ans (R1)")
    email: EmailStr | None = Field(None, title="Adresse électronique",
                                   description="Pour lui envoyer les courriers du parcours et la convention à signer")
    phone: str | None = Field(None, max_length=40, title="Téléphone", description="Un numéro où la joindre")
    legal_representative: LegalRepresentative | None = Field(
        None, title="Représentant légal",
        description="À remplir si la personne est mineure ou protégée (tutelle, curatelle…)")


class EmployerIn(_Body):
    model_config = ConfigDict(title="Employeur")

    name: str = Field(min_length=1, max_length=200, title="Nom de l'employeur",
                      description="Raison sociale, ou nom de l'activité indépendante")
    kind: Literal["private", "public", "self_employed"] = Field(
        "private", title="Type d'employeur",
        description="Employeur privé, employeur public, ou personne qui travaille à son compte",
        json_schema_extra=choice_labels({"private": "Employeur privé", "public": "Employeur public",
                                         "self_employed": "Travailleur non salarié (à son compte)"}))
    email: EmailStr | None = Field(None, title="Adresse électronique de l'employeur",
                                   description="Pour l'informer de l'entrée de la personne dans l'emploi "
                                               "accompagné, quand elle est en emploi (R4)")
    contact_name: str | None = Field(None, max_length=200, title="Personne à contacter",
                                     description="Prénom et nom de l'interlocuteur chez l'employeur")
    phone: str | None = Field(None, max_length=40, title="Téléphone de l'employeur",
                              description="Un numéro où joindre l'interlocuteur")


class IntakeRequest(_Body):
    model_config = ConfigDict(title="Prescription d'emploi accompagné")

    person: PersonIn = Field(title="La personne", description="La personne orientée vers l'emploi accompagné")
    channel: Channel = Field(
        title="Origine de la prescription",
        description="Qui oriente la personne : la CDAPH, ou un organisme du service public de l'emploi ; dans ce "
                    "cas, la CDAPH en est informée (R2)",
        json_schema_extra={"oneOf": [{"const": value, "title": label} for value, label in {
            "cdaph": "Décision d'orientation de la CDAPH", "france_travail": "France Travail",
            "cap_emploi": "Cap emploi", "mission_locale": "Mission locale"}.items()]})
    urgent: bool = Field(False, title="Demande urgente",
                         description="Oui si la situation de la personne demande une prise en charge rapide : "
                                     "c'est signalé dans la liste d'attente")
    prescribed_on: date = Field(title="Date de la prescription",
                                description="Jour de la prescription, aujourd'hui au plus tard ; elle fixe l'ordre "
                                            "dans la liste d'attente (R6)")
    situation: Situation = Field(
        title="Situation de la personne",
        description="Sa situation au regard de l'emploi : elle fixe la priorité dans la liste d'attente (R6)",
        json_schema_extra={"oneOf": [{"const": value, "title": label} for value, label in {
            "seeking": "En recherche d'emploi", "employed": "En emploi, avec un risque pour ce poste",
            "about_to_be_hired": "Sur le point d'être embauchée", "leaving_esat": "Sortant d'un ESAT"}.items()]})
    rights: Rights = Field(title="Droits de la personne",
                           description="Une RQTH en cours de validité, ou le statut de bénéficiaire de l'obligation "
                                       "d'emploi (R1)")
    subsidiarity_reason: str | None = Field(
        None, max_length=5000, title="Pourquoi l'emploi accompagné",
        description="Pourquoi les services de droit commun ne suffisent pas (R5) : obligatoire pour une prescription "
                    "du service public de l'emploi ; une orientation de la CDAPH qui ne le dit pas est acceptée, "
                    "le motif étant noté comme non renseigné",
        json_schema_extra={"x-required-when": "obligatoire pour une prescription du service public de l'emploi"})
    other_support: str | None = Field(None, max_length=500, title="Autre accompagnement en cours",
                                      description="L'accompagnement financé par ailleurs dont la personne bénéficie "
                                                  "déjà, s'il y en a un")
    other_support_justification: str | None = Field(
        None, max_length=5000, title="Ce que l'emploi accompagné y ajoute",
        description="Obligatoire si la personne a déjà un autre accompagnement : ce que l'emploi accompagné lui "
                    "apporte en plus (R5)")
    employer: EmployerIn | None = Field(None, title="Employeur",
                                        description="À remplir si la personne est en emploi ou sur le point d'être "
                                                    "embauchée")
    consent: Consent | None = Field(None, title="Consentement",
                                    description="Obligatoire : rien ne commence sans le consentement de la personne "
                                                "ou de son représentant légal (R3)")

    def facts(self) -> IntakeFacts:
        return IntakeFacts(
            birth_date=self.person.birth_date, channel=self.channel, urgent=self.urgent,
            prescribed_on=self.prescribed_on, situation=self.situation, rights=self.rights,
            subsidiarity_reason=self.subsidiarity_reason, other_support=self.other_support,
            other_support_justification=self.other_support_justification, consent=self.consent,
            has_legal_representative=self.person.legal_representative is not None,
            has_employer=self.employer is not None,
        )


def new_journey_id(prescriber_id: str | None, idempotency_key: str | None) -> str:
    """Opaque ids only (no personal data in Temporal); a repeated Idempotency-Key maps to one journey."""
    if idempotency_key:
        digest = hashlib.sha256(f"{prescriber_id}|{idempotency_key}".encode()).hexdigest()[:20]
        return f"j-{digest}"
    return f"j-{uuid.uuid4().hex[:20]}"


def record_prescription(session: Session, journey_id: str, request: IntakeRequest, platform_id: str,
                        prescriber_id: str | None) -> Journey:
    person, rights = request.person, request.rights
    journey = Journey(
        id=journey_id, platform_id=platform_id, state="prescribed", channel=request.channel.value,
        urgent=request.urgent, situation=request.situation.value, prescribed_on=request.prescribed_on,
        prescriber_id=prescriber_id, rqth_until=rights.rqth_until, rqth_permanent=rights.rqth_permanent,
        boe_category=rights.boe_category, subsidiarity_reason=request.subsidiarity_reason,
        other_support=request.other_support, other_support_justification=request.other_support_justification,
    )
    session.add(journey)
    session.flush()
    session.add(Person(
        journey_id=journey_id, first_name=person.first_name, last_name=person.last_name,
        birth_date=person.birth_date, email=person.email, phone=person.phone,
        legal_representative=person.legal_representative.model_dump() if person.legal_representative else None,
        employer=request.employer.model_dump() if request.employer else None,
        consent_given_on=request.consent.given_on if request.consent else None,
        consent_by=request.consent.by.value if request.consent else None,
        search_name=f"{person.first_name} {person.last_name}".lower(),
    ))
    session.add(AuditEvent(
        journey_id=journey_id, actor_kind="user" if prescriber_id else "system", actor_id=prescriber_id,
        action="prescription_received", detail={"channel": request.channel.value, "urgent": request.urgent,
                                                "situation": request.situation.value},
        step_key=f"{journey_id}/prescription",
    ))
    return journey


def journey_input(journey_id: str, platform_id: str, request: IntakeRequest, policy: Policy) -> JourneyInput:
    return JourneyInput(journey_id=journey_id, platform_id=platform_id, facts=request.facts(), policy=policy)


def recorded_input(session: Session, journey_id: str, policy: Policy) -> JourneyInput | None:
    """The input of a journey whose prescription is recorded, rebuilt from the records alone (what
    `IntakeRequest.facts` gave at intake): the intake is the record, and a journey recorded without its
    workflow (a crash between the two) is started from here (issue 19). None without the records."""
    journey, person = session.get(Journey, journey_id), session.get(Person, journey_id)
    if journey is None or person is None:
        return None
    consent = (Consent(given_on=person.consent_given_on, by=person.consent_by)
               if person.consent_given_on is not None and person.consent_by else None)
    facts = IntakeFacts(
        birth_date=person.birth_date, channel=journey.channel, urgent=journey.urgent,
        prescribed_on=journey.prescribed_on, situation=journey.situation,
        rights=Rights(rqth_until=journey.rqth_until, rqth_permanent=journey.rqth_permanent,
                      boe_category=journey.boe_category),
        subsidiarity_reason=journey.subsidiarity_reason, other_support=journey.other_support,
        other_support_justification=journey.other_support_justification, consent=consent,
        has_legal_representative=person.legal_representative is not None, has_employer=person.employer is not None,
    )
    return JourneyInput(journey_id=journey_id, platform_id=journey.platform_id, facts=facts, policy=policy)


async def start_journey(client: Client, task_queue: str, inp: JourneyInput) -> IntakeAnswer:
    """Start the journey and wait for the examination of the prescription (one round trip). Started
    again (a retried intake, the reconciler), it finds the running journey and starts nothing."""
    start = WithStartWorkflowOperation(
        JourneyWorkflow.run, inp, id=inp.journey_id, task_queue=task_queue,
        id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
        id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,  # a journey that ended never starts again
    )
    return await client.execute_update_with_start_workflow(JourneyWorkflow.intake_answer, start_workflow_operation=start)
