"""R15, R18 on the time-skipping server: an exit is only ever proposed, for one of R15's reasons; a
manager decides with the file; approval ends the journey (its workflow completes), rejection returns
it where it was; health and the platform's own reasons are refused; death is an administrative
closure; a move to a département with a platform here is a transfer."""
from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from pydantic import ValidationError
from sqlmodel import select
from temporalio.client import WorkflowUpdateFailedError

from eaflow import accounts
from eaflow.policy import Policy
from eaflow.store.db import session_scope
from eaflow.store.models import AuditEvent, ExitProcedure, Journey, Person
from eaflow.workflows.journey import JourneyWorkflow
from eaflow.workflows.types import ExitProposal
from tests.workflow.accompaniment_helpers import env_today, first_deadline, journey_state, to_accompaniment
from tests.workflow.helpers import complete, open_tasks, running_worker, snapshot_of
from tests.workflow.test_convention import mail_count, until
from tests.workflow.test_veille import start_veille, veille

pytestmark = pytest.mark.xdist_group("time-skipping")

PERSON_REQUEST = {"informed": True, "low_intensity_offered": True}


async def propose(env, journey_id: str, reason: str, actor: str, details: dict | None = None, **extra):
    handle = env.client.get_workflow_handle(journey_id)
    return await handle.execute_update(JourneyWorkflow.propose_exit, ExitProposal(
        reason=reason, proposed_by=actor, details=details or {}, analysis="Analyse de la situation.", **extra))


def procedures(settings, journey_id: str) -> list[tuple[str, str]]:
    with session_scope(settings.db_url) as session:
        return [(p.reason, p.status) for p in session.exec(select(ExitProcedure).where(
            ExitProcedure.journey_id == journey_id).order_by(ExitProcedure.opened_at)).all()]


async def result_of(env, journey_id: str) -> str:
    return await asyncio.wait_for(env.client.get_workflow_handle(journey_id).result(), timeout=30)


async def test_r15_r18_person_request_approved_by_a_manager_ends_the_journey(time_skipping_env, settings, platform):
    env = time_skipping_env
    async with running_worker(env.client, settings):
        journey_id = await to_accompaniment(env, settings, platform, Policy())
        await first_deadline(env, journey_id)
        answer = await propose(env, journey_id, "person_request", platform.counsellor, PERSON_REQUEST)
        assert answer["state"] == "exit_proposed"
        with pytest.raises(WorkflowUpdateFailedError) as twice:
            await propose(env, journey_id, "person_request", platform.counsellor, PERSON_REQUEST | {"x": 1})
        assert twice.value.cause.type == "Conflict"  # one open procedure at a time
        [task] = open_tasks(settings, journey_id, "approve_exit")
        assert task.candidate_role == "manager" and task.context["exit"]["reason"] == "person_request"
        await until(lambda: mail_count(settings, journey_id, "exit_to_approve") == 2, "the managers are asked")

        with pytest.raises(ValidationError, match="consultée"):  # the same model in the API and the journey
            await complete(env.client, task, {"decision": "approve", "consultation": " "}, platform.manager)
        await complete(env.client, task, {"decision": "approve",
                                          "consultation": "Entretien avec la personne le 3 mars."}, platform.manager)
        assert await result_of(env, journey_id) == "exited"  # every loop stopped, the workflow completed
        with session_scope(settings.db_url) as session:
            journey = session.get(Journey, journey_id)
            assert (journey.state, journey.exit_reason) == ("exited", "person_request")
            assert journey.exited_on == (await env_today(env))
        assert procedures(settings, journey_id) == [("person_request", "approved")]
        await until(lambda: mail_count(settings, journey_id, "journey_exited_person") == 1
                    and mail_count(settings, journey_id, "journey_exited_prescriber") == 1, "exit mails")
        assert not open_tasks(settings, journey_id)


async def test_r18_a_rejected_exit_returns_the_journey_to_its_veille(time_skipping_env, settings, platform):
    env = time_skipping_env
    async with running_worker(env.client, settings):
        journey_id = await to_accompaniment(env, settings, platform, Policy())
        await first_deadline(env, journey_id)
        today = await env_today(env)
        end = today + timedelta(days=40)
        await start_veille(env, journey_id, veille(platform.counsellor, today, end))
        with pytest.raises(WorkflowUpdateFailedError) as no_choice:
            await propose(env, journey_id, "reorientation", platform.counsellor, {"towards": "ESAT"})
        assert no_choice.value.cause.details[0]["rule"] == "R18"
        await propose(env, journey_id, "reorientation", platform.counsellor,
                      {"towards": "ESAT", "person_choice": {"on": today.isoformat(), "how": "entretien"}})
        [task] = open_tasks(settings, journey_id, "approve_exit")
        await complete(env.client, task, {"decision": "reject", "reason": "Revoir la personne avec sa tutrice."},
                       platform.manager)
        assert journey_state(settings, journey_id) == "veille"
        assert procedures(settings, journey_id) == [("reorientation", "rejected")]
        await until(lambda: mail_count(settings, journey_id, "exit_rejected") == 1, "the counsellor is told")
        # The veille goes on to its end date.
        await env.sleep(timedelta(days=41))
        await until(lambda: journey_state(settings, journey_id) == "accompaniment", "the veille ended on its date")


@pytest.mark.parametrize("reason, details, rule, says", [
    ("health", {}, "R18", "veille"),
    ("platform_decision", {}, "R18", "jamais seule"),
    ("stable_situation", {}, "R18", "jamais seule"),
    ("person_request", {"informed": True}, "R15", "faible intensité"),
    ("holidays", {}, "R15", "inconnu"),
])
async def test_r18_forbidden_exits_are_refused(time_skipping_env, settings, platform, reason, details, rule, says):
    env = time_skipping_env
    async with running_worker(env.client, settings):
        journey_id = await to_accompaniment(env, settings, platform, Policy())
        with pytest.raises(WorkflowUpdateFailedError) as refused:
            await propose(env, journey_id, reason, platform.counsellor, details)
        cause = refused.value.cause
        assert cause.type == "RuleRefused" and cause.details[0]["rule"] == rule and says in cause.message
        assert journey_state(settings, journey_id) == "accompaniment"
        assert procedures(settings, journey_id) == []


async def test_r18_death_is_an_administrative_closure_by_a_manager(time_skipping_env, settings, platform):
    env = time_skipping_env
    async with running_worker(env.client, settings):
        journey_id = await to_accompaniment(env, settings, platform, Policy())
        await propose(env, journey_id, "death", platform.manager, {"on": (await env_today(env)).isoformat()})
        assert await result_of(env, journey_id) == "exited"
        assert procedures(settings, journey_id) == [("death", "approved")]
        await asyncio.sleep(0.5)
        assert mail_count(settings, journey_id, "journey_exited_person") == 0


async def test_r15_a_move_to_a_departement_with_a_platform_is_a_transfer(time_skipping_env, settings, platform):
    env = time_skipping_env
    with session_scope(settings.db_url) as session:
        receiving = accounts.create_platform(session, "56", "Plateforme du Morbihan", mailbox="plateforme56@test.fr").id
    async with running_worker(env.client, settings):
        journey_id = await to_accompaniment(env, settings, platform, Policy())
        await propose(env, journey_id, "move", platform.counsellor, {"department": "56"},
                      transfer_to_platform_id=receiving)
        [task] = open_tasks(settings, journey_id, "approve_exit")
        await complete(env.client, task, {"decision": "approve", "consultation": "La personne l'a demandé."},
                       platform.manager)
        assert await result_of(env, journey_id) == "transferred"
        new_id = (await snapshot_of(env.client.get_workflow_handle(journey_id))).exit.transferred_to
        await until(lambda: bool(open_tasks(settings, new_id, "assign_counsellor")), "the receiving platform's task",
                    attempts=200)
        [assign] = open_tasks(settings, new_id, "assign_counsellor")
        assert assign.platform_id == receiving
        with session_scope(settings.db_url) as session:
            moved = session.get(Journey, new_id)
            assert (moved.platform_id, moved.transferred_from, moved.state) == (receiving, journey_id, "waiting_list")
            assert session.get(Person, new_id).last_name == "Martin"
            assert session.get(Journey, journey_id).state == "transferred"
            assert session.exec(select(AuditEvent).where(AuditEvent.journey_id == new_id,
                                                         AuditEvent.action == "journey_transferred_in")).one()
        await until(lambda: mail_count(settings, journey_id, "journey_transferred_person") == 1, "the person is told")


async def test_r15_r18_death_before_the_accompaniment_closes_the_file_from_the_waiting_list(
        time_skipping_env, settings, platform):
    """A person who dies while waiting for a counsellor: a manager closes the file; the assignment task
    leaves the inbox, the entry stops. A move is not an exit before the accompaniment."""
    from tests.workflow.helpers import intake, start
    from tests.workflow.test_journey_entry import wait_for_task

    env = time_skipping_env
    async with running_worker(env.client, settings):
        journey_id, _ = await start(env.client, settings, platform, intake(), Policy())
        assign = await wait_for_task(settings, journey_id, "assign_counsellor", env)
        with pytest.raises(WorkflowUpdateFailedError) as refused:
            await propose(env, journey_id, "move", platform.manager, {"department": "75"})
        assert refused.value.cause.type == "Conflict" and "décès" in refused.value.cause.message
        assert journey_state(settings, journey_id) == "waiting_list" and procedures(settings, journey_id) == []

        await propose(env, journey_id, "death", platform.manager, {"on": (await env_today(env)).isoformat()})
        assert await result_of(env, journey_id) == "exited"
        assert journey_state(settings, journey_id) == "exited"
        assert procedures(settings, journey_id) == [("death", "approved")]
        assert not open_tasks(settings, journey_id)
        with session_scope(settings.db_url) as session:
            assert session.get(Journey, journey_id).exit_reason == "death"
        await env.sleep(timedelta(days=60))  # the assignment's reminders no longer come
        assert mail_count(settings, journey_id, "assignment_reminder") == 0
        assert assign.id not in {t.id for t in open_tasks(settings, journey_id)}


async def test_r15_r18_a_person_on_the_waiting_list_withdraws_with_a_managers_approval(
        time_skipping_env, settings, platform):
    """The person's request before the accompaniment: a manager decides, as for any exit; meanwhile the
    assignment waits (no admission from under the procedure); rejected, the journey is back on the
    waiting list with its task; approved, the file closes and the task leaves the inbox."""
    from tests.workflow.helpers import intake, start
    from tests.workflow.test_journey_entry import wait_for_task

    env = time_skipping_env
    async with running_worker(env.client, settings):
        journey_id, _ = await start(env.client, settings, platform, intake(), Policy())
        assign = await wait_for_task(settings, journey_id, "assign_counsellor", env)
        await propose(env, journey_id, "person_request", platform.manager, PERSON_REQUEST)
        assert journey_state(settings, journey_id) == "exit_proposed"
        approve = await wait_for_task(settings, journey_id, "approve_exit", env)
        with pytest.raises(WorkflowUpdateFailedError) as held:
            await complete(env.client, assign, {"counsellor_id": platform.counsellor}, platform.manager,
                           caseload=0, fte=1.0)
        assert held.value.cause.type == "Conflict" and "décision" in held.value.cause.message

        await complete(env.client, approve, {"decision": "reject", "reason": "La personne a changé d'avis."},
                       platform.manager)
        assert journey_state(settings, journey_id) == "waiting_list"
        assert [t.id for t in open_tasks(settings, journey_id, "assign_counsellor")] == [assign.id]

        await propose(env, journey_id, "person_request", platform.manager, PERSON_REQUEST)
        approve = await wait_for_task(settings, journey_id, "approve_exit", env)
        await complete(env.client, approve, {"decision": "approve", "consultation": "Appel de la personne, qui a "
                                             "trouvé un emploi seule."}, platform.manager)
        assert await result_of(env, journey_id) == "exited"
        assert procedures(settings, journey_id) == [("person_request", "rejected"), ("person_request", "approved")]
        assert not open_tasks(settings, journey_id)
        await until(lambda: mail_count(settings, journey_id, "journey_exited_person") == 1, "the person told")
