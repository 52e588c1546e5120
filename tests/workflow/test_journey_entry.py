"""The entry part of the journey on the time-skipping server: real worker, SQLite and SMTP."""
from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from sqlmodel import select

from eaflow.policy import Policy
from eaflow.store.db import session_scope
from eaflow.store.models import AuditEvent, Journey, MailOutbox
from eaflow.workflows.journey import JourneyWorkflow
from tests.workflow.helpers import complete, intake, open_tasks, running_worker, start, today

pytestmark = pytest.mark.xdist_group("time-skipping")


async def wait_for_task(settings, journey_id, kind, env, step=timedelta(seconds=1), attempts=50):
    for _ in range(attempts):
        tasks = open_tasks(settings, journey_id, kind)
        if tasks:
            return tasks[0]
        await asyncio.sleep(0.05)
    raise AssertionError(f"no open {kind} task for {journey_id}")


async def test_r1_under_16_is_refused_traced_and_answered_by_mail(time_skipping_env, settings, platform, smtp_server):
    env = time_skipping_env
    async with running_worker(env.client, settings):
        young = intake(person={"first_name": "Tom", "last_name": "Petit", "birth_date": "2015-01-01"})
        journey_id, answer = await start(env.client, settings, platform, young, Policy())
        assert answer.state == "refused"
        assert [r.rule for r in answer.refusal] == ["R1"]
        assert await env.client.get_workflow_handle(journey_id).result() == "refused"
    [mail] = await smtp_server.wait_for(1, timeout=10)
    assert mail["To"] == "prescripteur@test.fr"
    assert "R1" in mail.get_body().get_content()
    with session_scope(settings.db_url) as session:
        journey = session.get(Journey, journey_id)
        assert journey.state == "refused" and journey.refusal[0]["rule"] == "R1"
        actions = [e.action for e in session.exec(select(AuditEvent).where(AuditEvent.journey_id == journey_id))]
    assert "intake_refused" in actions


async def test_r2_spe_prescription_reminded_until_cdaph_informed_then_admitted(
    time_skipping_env, settings, platform, smtp_server
):
    env = time_skipping_env
    policy = Policy.model_validate({"intake": {"cdaph_notification_due": "P7D", "cdaph_reminder_every": "P7D"}})
    async with running_worker(env.client, settings):
        journey_id, answer = await start(env.client, settings, platform,
                                         intake(channel="france_travail", situation="employed",
                                                employer={"name": "Boulangerie Durand", "email": "rh@durand.fr"}),
                                         policy)
        assert answer.state in ("consent", "waiting_list")  # R6: it does not wait for the CDAPH
        task = await wait_for_task(settings, journey_id, "notify_cdaph", env)
        await env.sleep(timedelta(days=15))  # two reminders at +7 and +14 days
        await asyncio.sleep(0.5)
        with session_scope(settings.db_url) as session:
            kinds = [m.kind for m in session.exec(select(MailOutbox).where(MailOutbox.journey_id == journey_id))]
        assert kinds.count("cdaph_notification_reminder") == 2 * 2  # platform mailbox + the manager
        await complete(env.client, task, {"informed_on": today(), "how": "courrier"}, platform.manager)
        assign = await wait_for_task(settings, journey_id, "assign_counsellor", env)
        assert assign.sort_key.startswith("0-")  # R6: employed first
        await complete(env.client, assign, {"counsellor_id": platform.counsellor}, platform.manager,
                       caseload=0, fte=1.0)
        evaluation = await wait_for_task(settings, journey_id, "shared_evaluation", env)
        assert evaluation.assignee_id == platform.counsellor
        snapshot = await env.client.get_workflow_handle(journey_id).query(JourneyWorkflow.snapshot)
        assert snapshot.state == "admitted" and snapshot.counsellor_id == platform.counsellor
    with session_scope(settings.db_url) as session:
        journey = session.get(Journey, journey_id)
        assert journey.state == "admitted" and journey.admission_delay_days is not None
        assert journey.cdaph_informed_how == "courrier"
        recipients = {m.recipient for m in session.exec(select(MailOutbox).where(
            MailOutbox.journey_id == journey_id, MailOutbox.kind.like("entry_decision%")))}
    assert {"lea.martin@example.fr", "rh@durand.fr", "plateforme35@test.fr"} <= recipients  # R4


async def test_r2_r6_spe_prescription_on_the_waiting_list_at_once_cdaph_informed_beside(
    time_skipping_env, settings, platform, smtp_server
):
    """Informing the CDAPH is the prescriber's duty and fast access the rule: a France Travail
    prescription joins the waiting list at once, and can be admitted, while the platform tracks and
    reminds of the CDAPH information until it is recorded."""
    env = time_skipping_env
    policy = Policy.model_validate({"intake": {"cdaph_notification_due": "P7D", "cdaph_reminder_every": "P7D"}})
    async with running_worker(env.client, settings):
        journey_id, _ = await start(env.client, settings, platform, intake(channel="france_travail"), policy)
        handle = env.client.get_workflow_handle(journey_id)
        notify = await wait_for_task(settings, journey_id, "notify_cdaph", env)
        assign = await wait_for_task(settings, journey_id, "assign_counsellor", env)  # at once, beside it
        snapshot = await handle.query(JourneyWorkflow.snapshot)
        assert snapshot.state == "waiting_list" and not snapshot.cdaph_informed
        await complete(env.client, assign, {"counsellor_id": platform.counsellor}, platform.manager,
                       caseload=0, fte=1.0)
        await wait_for_task(settings, journey_id, "shared_evaluation", env)
        assert open_tasks(settings, journey_id, "notify_cdaph")  # still tracked once admitted
        await env.sleep(timedelta(days=8))  # and still reminded (+7 days)
        await asyncio.sleep(0.5)
        with session_scope(settings.db_url) as session:
            kinds = [m.kind for m in session.exec(select(MailOutbox).where(MailOutbox.journey_id == journey_id))]
        assert "cdaph_notification_reminder" in kinds
        await complete(env.client, notify, {"informed_on": today(), "how": "courrier"}, platform.manager)
        for _ in range(50):
            snapshot = await handle.query(JourneyWorkflow.snapshot)
            if snapshot.cdaph_informed:
                break
            await asyncio.sleep(0.05)
        assert snapshot.cdaph_informed and snapshot.state == "admitted"
        await asyncio.sleep(0.3)
    with session_scope(settings.db_url) as session:
        journey = session.get(Journey, journey_id)
        assert journey.state == "admitted" and journey.counsellor_id == platform.counsellor
        assert journey.cdaph_informed_how == "courrier" and journey.cdaph_informed_on is not None
        actions = [e.action for e in session.exec(select(AuditEvent).where(AuditEvent.journey_id == journey_id))]
    assert "cdaph_informed" in actions
    assert actions.index("waiting_list_entered") < actions.index("admitted") < actions.index("cdaph_informed")


async def test_r2_cdaph_information_beside_the_waiting_list_survives_continue_as_new(
    time_skipping_env, settings, platform
):
    env = time_skipping_env
    policy = Policy.model_validate({"intake": {"cdaph_reminder_every": "P1D"},
                                    "workflow": {"history_event_limit": 150}})
    async with running_worker(env.client, settings):
        journey_id, _ = await start(env.client, settings, platform, intake(channel="mission_locale"), policy)
        handle = env.client.get_workflow_handle(journey_id)
        notify = await wait_for_task(settings, journey_id, "notify_cdaph", env)
        await wait_for_task(settings, journey_id, "assign_counsellor", env)
        for _ in range(12):  # daily reminders until the history is long: both loops park, one run continues
            await env.sleep(timedelta(days=5))
            snapshot = await handle.query(JourneyWorkflow.snapshot)
            if snapshot.continued_runs:
                break
        assert snapshot.continued_runs >= 1 and snapshot.state == "waiting_list"
        assert [t.id for t in open_tasks(settings, journey_id, "notify_cdaph")] == [notify.id]  # found again
        await complete(env.client, notify, {"informed_on": today(), "how": "portail"}, platform.manager)
        for _ in range(50):
            snapshot = await handle.query(JourneyWorkflow.snapshot)
            if snapshot.cdaph_informed:
                break
            await asyncio.sleep(0.05)
        assert snapshot.cdaph_informed and snapshot.state == "waiting_list"
        assert open_tasks(settings, journey_id, "assign_counsellor")


async def test_cdaph_orientation_skips_the_cdaph_notification(time_skipping_env, settings, platform):
    env = time_skipping_env
    async with running_worker(env.client, settings):
        journey_id, answer = await start(env.client, settings, platform, intake(), Policy())
        await wait_for_task(settings, journey_id, "assign_counsellor", env)
        assert not open_tasks(settings, journey_id, "notify_cdaph")


async def test_r7_validator_refuses_a_counsellor_at_capacity(time_skipping_env, settings, platform):
    from temporalio.client import WorkflowUpdateFailedError

    env = time_skipping_env
    async with running_worker(env.client, settings):
        journey_id, _ = await start(env.client, settings, platform, intake(), Policy())
        assign = await wait_for_task(settings, journey_id, "assign_counsellor", env)
        with pytest.raises(WorkflowUpdateFailedError) as refused:
            await complete(env.client, assign, {"counsellor_id": platform.counsellor}, platform.manager,
                           caseload=20, fte=1.0)
        assert refused.value.cause.details[0]["rule"] == "R7"
        assert open_tasks(settings, journey_id, "assign_counsellor")  # nothing changed
        # The activity re-checks atomically: a 0.05 FTE counsellor (capacity 1) takes one person only.
        await complete(env.client, assign, {"counsellor_id": platform.counsellor2}, platform.manager,
                       caseload=0, fte=0.05)
        other_id, _ = await start(env.client, settings, platform, intake(), Policy())
        other = await wait_for_task(settings, other_id, "assign_counsellor", env)
        with pytest.raises(WorkflowUpdateFailedError) as raced:
            await complete(env.client, other, {"counsellor_id": platform.counsellor2}, platform.manager,
                           caseload=0, fte=0.05)  # stale facts: the activity still refuses
        assert raced.value.cause.type == "RuleRefused" and raced.value.cause.details[0]["rule"] == "R7"


async def test_same_completion_twice_returns_the_first_result(time_skipping_env, settings, platform):
    from temporalio.client import WorkflowUpdateFailedError

    env = time_skipping_env
    async with running_worker(env.client, settings):
        journey_id, _ = await start(env.client, settings, platform, intake(channel="cap_emploi"), Policy())
        task = await wait_for_task(settings, journey_id, "notify_cdaph", env)
        outcome = {"informed_on": today(), "how": "mail"}
        first = await complete(env.client, task, outcome, platform.manager)
        again = await complete(env.client, task, outcome, platform.manager)
        assert first == again
        with pytest.raises(WorkflowUpdateFailedError) as competing:
            await complete(env.client, task, {"informed_on": today(), "how": "portail"}, platform.manager)
        assert competing.value.cause.type == "Conflict"


async def test_r4_mail_server_down_does_not_hold_the_waiting_list(time_skipping_env, settings, platform, smtp_server):
    """The decision mails retry in the background: the managers can admit the person meanwhile."""
    env = time_skipping_env
    smtp_server.stop()
    async with running_worker(env.client, settings):
        journey_id, answer = await start(env.client, settings, platform, intake(), Policy())
        assign = await wait_for_task(settings, journey_id, "assign_counsellor", env, attempts=200)
        await complete(env.client, assign, {"counsellor_id": platform.counsellor}, platform.manager,
                       caseload=0, fte=1.0)
        assert not smtp_server.messages
        smtp_server.start()
        await wait_for_task(settings, journey_id, "shared_evaluation", env, attempts=400)
    with session_scope(settings.db_url) as session:
        sent = [(m.kind, m.recipient) for m in session.exec(select(MailOutbox).where(
            MailOutbox.journey_id == journey_id, MailOutbox.status == "sent"))]
    assert ("entry_decision_person", "lea.martin@example.fr") in sent
    assert len(sent) == len(set(sent))  # each mail once
