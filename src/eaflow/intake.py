"""Intake of a prescription: the body clients send, the records it creates, the journey it starts."""
from __future__ import annotations

import hashlib
import uuid
from datetime import date
from typing import Literal

from pydantic import BaseModel, ConfigDict, EmailStr, Field, field_validator
from sqlmodel import Session
from temporalio.client import Client, WithStartWorkflowOperation
from temporalio.common import WorkflowIDConflictPolicy

from eaflow.policy import Policy
from eaflow.store.models import AuditEvent, Journey, Person
from eaflow.workflows.journey import JourneyWorkflow
from eaflow.workflows.types import Channel, Consent, IntakeAnswer, IntakeFacts, JourneyInput, Rights, Situation


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class LegalRepresentative(_Body):
    name: str = Field(min_length=1, max_length=200)
    email: EmailStr | None = None
    phone: str | None = Field(None, max_length=40)
    kind: str | None = Field(None, max_length=100, description="tutelle, curatelle, parent d'un mineur…")


class PersonIn(_Body):
    first_name: str = Field(min_length=1, max_length=100)
    last_name: str = Field(min_length=1, max_length=100)
    birth_date: date
    email: EmailStr | None = None
    phone: str | None = Field(None, max_length=40)
    legal_representative: LegalRepresentative | None = None

    @field_validator("birth_date")
    @classmethod
    def _not_in_future(cls, value: date) -> date:
        if value > date.today():
            raise ValueError("la date de naissance ne peut pas être dans le futur")
        return value


class EmployerIn(_Body):
    name: str = Field(min_length=1, max_length=200)
    kind: Literal["private", "public", "self_employed"] = "private"
    email: EmailStr | None = None
    contact_name: str | None = Field(None, max_length=200)
    phone: str | None = Field(None, max_length=40)


class IntakeRequest(_Body):
    person: PersonIn
    channel: Channel
    urgent: bool = False
    prescribed_on: date
    situation: Situation
    rights: Rights
    subsidiarity_reason: str | None = Field(None, max_length=5000)
    other_support: str | None = Field(None, max_length=500)
    other_support_justification: str | None = Field(None, max_length=5000)
    employer: EmployerIn | None = None
    consent: Consent | None = None

    @field_validator("prescribed_on")
    @classmethod
    def _prescribed_not_in_future(cls, value: date) -> date:
        if value > date.today():
            raise ValueError("la date de prescription ne peut pas être dans le futur")
        return value

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


async def start_journey(client: Client, task_queue: str, inp: JourneyInput) -> IntakeAnswer:
    """Start the journey and wait for the examination of the prescription (one round trip)."""
    start = WithStartWorkflowOperation(
        JourneyWorkflow.run, inp, id=inp.journey_id, task_queue=task_queue,
        id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
    )
    return await client.execute_update_with_start_workflow(JourneyWorkflow.intake_answer, start_workflow_operation=start)
