"""R10 on the time-skipping server (real worker, SQLite, SMTP): the unsigned parties are reminded and
the counsellor alerted at the policy's delays; the journey accepts only answers for the current
version from parties that have not answered; once every party has signed, the accompaniment begins."""
from __future__ import annotations

import asyncio
import uuid
from datetime import datetime, timedelta, timezone

import pytest
from sqlmodel import select
from temporalio.client import WorkflowUpdateFailedError

from eaflow.policy import Policy
from eaflow.store.convention import ConventionParty, Signature
from eaflow.store.db import session_scope
from eaflow.store.models import Journey, MailOutbox, Task
from eaflow.workflows.journey import JourneyWorkflow
from eaflow.workflows.types import SignatureIn
from tests.workflow.helpers import complete, intake, open_tasks, running_worker, start, today
from tests.workflow.test_journey_entry import wait_for_task

pytestmark = pytest.mark.xdist_group("time-skipping")

EMPLOYER = {"name": "Boulangerie Durand", "email": "rh@durand.fr", "contact_name": "Paul Durand"}
DRAFT = {
    "workplace_modalities": "Une visite par mois sur le poste.", "rhythm": "Tous les quinze jours.",
    "person_signatory": {"name": "Léa Martin", "email": "lea.martin@example.fr"},
    "employer": {"name": "Boulangerie Durand", "signatory": {"name": "Paul Durand", "email": "rh@durand.fr"}},
}
# Not the national defaults (P7D, P21D): the delays must come from the policy.
POLICY = Policy.model_validate({"convention": {"signature_reminder_every": "P5D",
                                               "signature_escalation_after": "P12D",
                                               "signature_link_valid_for": "P30D"}})


def mail_count(settings, journey_id: str, kind: str) -> int:
    with session_scope(settings.db_url) as session:
        return len(session.exec(select(MailOutbox).where(
            MailOutbox.journey_id == journey_id, MailOutbox.kind == kind, MailOutbox.status == "sent")).all())


async def until(predicate, what: str, attempts: int = 100):
    for _ in range(attempts):
        if predicate():
            return
        await asyncio.sleep(0.1)
    raise AssertionError(what)


async def to_signature(env, settings, platform, policy: Policy, **intake_overrides) -> str:
    """An employed person's journey, its convention drafted and sent: every party to sign."""
    journey_id, _ = await start(env.client, settings, platform,
                                intake(**{"situation": "employed", "employer": EMPLOYER, **intake_overrides}), policy)
    assign = await wait_for_task(settings, journey_id, "assign_counsellor", env)
    await complete(env.client, assign, {"counsellor_id": platform.counsellor}, platform.manager, caseload=0, fte=1.0)
    evaluation = await wait_for_task(settings, journey_id, "shared_evaluation", env)
    await complete(env.client, evaluation, {"evaluated_on": today(), "wishes": "w", "needs": "n", "resources": "r"},
                   platform.counsellor)
    draft = await wait_for_task(settings, journey_id, "draft_convention", env)
    assert draft.assignee_id == platform.counsellor
    await complete(env.client, draft, DRAFT, platform.counsellor)
    await wait_for_task(settings, journey_id, "sign_convention", env, attempts=200)
    await until(lambda: mail_count(settings, journey_id, "convention_to_sign") == 2, "links to person and employer")
    return journey_id


def counts(settings, journey_id: str) -> dict[str, int]:
    return {kind: mail_count(settings, journey_id, kind)
            for kind in ("convention_sign_reminder", "task_reminder", "convention_unsigned_alert")}


async def test_r10_unsigned_parties_reminded_and_counsellor_alerted_at_the_policy_delays(
        time_skipping_env, settings, platform):
    env = time_skipping_env
    async with running_worker(env.client, settings):
        journey_id = await to_signature(env, settings, platform, POLICY)

        await env.sleep(timedelta(days=4))
        await asyncio.sleep(0.5)
        assert counts(settings, journey_id) == {"convention_sign_reminder": 0, "task_reminder": 0,
                                                "convention_unsigned_alert": 0}
        await env.sleep(timedelta(days=2))  # day 6: the reminder of day 5, to each unsigned party
        # person and employer each a new link; the platform's task: its mailbox and its manager
        expected = {"convention_sign_reminder": 2, "task_reminder": 2, "convention_unsigned_alert": 0}
        await until(lambda: counts(settings, journey_id) == expected, f"day 6: {counts(settings, journey_id)}")
        await env.sleep(timedelta(days=5))  # day 11: the reminder of day 10, no alert before day 12
        expected = {"convention_sign_reminder": 4, "task_reminder": 4, "convention_unsigned_alert": 0}
        await until(lambda: counts(settings, journey_id) == expected, f"day 11: {counts(settings, journey_id)}")
        assert not open_tasks(settings, journey_id, "convention_follow_up")
        await env.sleep(timedelta(days=2))  # day 13: the counsellor is alerted, once
        expected = {"convention_sign_reminder": 4, "task_reminder": 4, "convention_unsigned_alert": 1}
        await until(lambda: counts(settings, journey_id) == expected, f"day 13: {counts(settings, journey_id)}")
        [follow_up] = open_tasks(settings, journey_id, "convention_follow_up")
        assert follow_up.assignee_id == platform.counsellor
        await env.sleep(timedelta(days=4))  # day 17: one more reminder (day 15), still one alert
        expected = {"convention_sign_reminder": 6, "task_reminder": 6, "convention_unsigned_alert": 1}
        await until(lambda: counts(settings, journey_id) == expected, f"day 17: {counts(settings, journey_id)}")

        # The platform signs; a signed party is no longer reminded.
        [sign_task] = open_tasks(settings, journey_id, "sign_convention")
        await complete(env.client, sign_task, {"decision": "sign"}, platform.manager)
        await env.sleep(timedelta(days=4))  # day 21: the reminder of day 20, to person and employer only
        expected = {"convention_sign_reminder": 8, "task_reminder": 6, "convention_unsigned_alert": 1}
        await until(lambda: counts(settings, journey_id) == expected, f"day 21: {counts(settings, journey_id)}")


def pending_signature(settings, journey_id: str, role: str, decision: str = "signed") -> tuple[str, str]:
    """What the public signing page writes before it sends the answer: (signature id, party id)."""
    with session_scope(settings.db_url) as session:
        party = session.exec(select(ConventionParty).where(
            ConventionParty.convention_id == f"{journey_id}-cv", ConventionParty.role == role)
            .order_by(ConventionParty.id.desc())).first()
        signature = Signature(id=f"sg-{uuid.uuid4().hex[:12]}", convention_id=party.convention_id,
                              version_id=party.version_id, party_id=party.id, decision=decision, status="pending",
                              signer_name="Test", via="link", at=datetime.now(timezone.utc))
        session.add(signature)
        return signature.id, party.id


async def answer(env, journey_id: str, signature_id: str, party_id: str, version: int = 1,
                 decision: str = "signed"):
    handle = env.client.get_workflow_handle(journey_id)
    return await handle.execute_update(JourneyWorkflow.record_signature, SignatureIn(
        signature_id=signature_id, convention_id=f"{journey_id}-cv", version=version, party_id=party_id,
        decision=decision), id=f"signature-{signature_id}")


async def test_r10_answers_checked_by_the_journey_then_accompaniment(time_skipping_env, settings, platform):
    env = time_skipping_env
    async with running_worker(env.client, settings):
        journey_id = await to_signature(env, settings, platform, Policy())
        signature_id, person = pending_signature(settings, journey_id, "person")
        with pytest.raises(WorkflowUpdateFailedError) as stale:
            await answer(env, journey_id, signature_id, person, version=2)
        assert stale.value.cause.type == "Conflict" and "remplacée" in stale.value.cause.message
        with pytest.raises(WorkflowUpdateFailedError) as unknown:
            await answer(env, journey_id, signature_id, f"{journey_id}-cv-v1-platform")  # signs by task
        assert unknown.value.cause.type == "NotFound"

        assert (await answer(env, journey_id, signature_id, person))["status"] == "signed"
        again, _ = pending_signature(settings, journey_id, "person")
        with pytest.raises(WorkflowUpdateFailedError) as twice:
            await answer(env, journey_id, again, person)
        assert twice.value.cause.type == "Conflict"

        await env.sleep(timedelta(days=22))  # reminded, then the counsellor alerted: a follow-up task
        await until(lambda: bool(open_tasks(settings, journey_id, "convention_follow_up")), "follow-up task")
        employer_signature, employer = pending_signature(settings, journey_id, "employer")
        await answer(env, journey_id, employer_signature, employer)
        [sign_task] = open_tasks(settings, journey_id, "sign_convention")
        await complete(env.client, sign_task, {"decision": "sign"}, platform.manager)

        def accompanied() -> bool:
            with session_scope(settings.db_url) as session:
                return session.get(Journey, journey_id).state == "accompaniment"

        await until(accompanied, "accompaniment after the last signature", attempts=200)
        snapshot = await env.client.get_workflow_handle(journey_id).query(JourneyWorkflow.snapshot)
        assert snapshot.convention.status == "signed" and snapshot.convention.signed_on is not None
        await until(lambda: mail_count(settings, journey_id, "convention_signed") == 3, "signed copies")
    with session_scope(settings.db_url) as session:
        follow_up = session.exec(select(Task).where(Task.journey_id == journey_id,
                                                    Task.kind == "convention_follow_up")).one()
    assert follow_up.status == "cancelled"  # nothing left to follow up once signed
