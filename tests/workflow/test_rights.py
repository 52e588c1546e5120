"""R19 on the time-skipping server (real worker, SQLite, SMTP): the end of the RQTH (or of the CDAPH
decision) is anticipated. The counsellor gets a `renew_rights` task and a mail at each point of the
policy's schedule before the end; a renewal filed stops them; granted, the new end date brings a new
schedule; refused, the person may appeal within the policy's delay; the end reached with no
renewal, or a final refusal, proposes an exit for non-renewal (R15); a permanent RQTH has no
reminder at all."""
from __future__ import annotations

import uuid
from datetime import date, timedelta

import pytest
from sqlmodel import select
from temporalio.client import WorkflowUpdateFailedError
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Replayer

from eaflow.durations import Duration
from eaflow.policy import Policy, policy_as_toml
from eaflow.store.db import session_scope
from eaflow.store.models import AuditEvent, Journey, Task
from eaflow.worker import WORKFLOWS
from eaflow.workflows.accompaniment import start_of
from eaflow.workflows.journey import JourneyWorkflow
from eaflow.workflows.types import RightsEvent
from tests.conftest import with_policy
from tests.workflow.accompaniment_helpers import env_today, to_accompaniment
from tests.workflow.helpers import (
    complete, intake, open_tasks, running_worker, snapshot_of, start, update_across_continue_as_new,
)
from tests.workflow.test_convention import mail_count, until
from tests.workflow.test_rhythm import sleep_to

pytestmark = pytest.mark.xdist_group("time-skipping")


async def accompanied(env, settings, platform, policy: Policy, rights: dict) -> str:
    """A journey brought to the accompaniment, with these rights at intake."""
    journey_id = await to_accompaniment(env, settings, platform, policy, rights=rights)
    await until(lambda: bool(actions(settings, journey_id, "rights_tracked")), "rights tracked")
    return journey_id


def renew_tasks(settings, journey_id: str, kind: str = "renew_rights") -> list[Task]:
    """Every task of this kind, whatever its status, oldest first."""
    with session_scope(settings.db_url) as session:
        return list(session.exec(select(Task).where(Task.journey_id == journey_id, Task.kind == kind)
                                 .order_by(Task.created_at)).all())


def actions(settings, journey_id: str, action: str) -> list[AuditEvent]:
    with session_scope(settings.db_url) as session:
        return list(session.exec(select(AuditEvent).where(AuditEvent.journey_id == journey_id,
                                                          AuditEvent.action == action)
                                 .order_by(AuditEvent.id)).all())


def projected(settings, journey_id: str) -> tuple[date | None, bool]:
    with session_scope(settings.db_url) as session:
        journey = session.get(Journey, journey_id)
        return journey.rqth_until, journey.rqth_permanent


async def rights_event(env, platform, journey_id: str, **fields) -> dict:
    event = RightsEvent(key=f"test-{uuid.uuid4().hex}", actor_id=platform.counsellor, **fields)
    return await update_across_continue_as_new(env.client.get_workflow_handle(journey_id), JourneyWorkflow.rights_event,
                                               event, id=event.key)


async def rights_of(env, journey_id: str):
    return (await snapshot_of(env.client.get_workflow_handle(journey_id))).rights


def points(schedule: list[str], end: date) -> list[date]:
    return sorted(Duration.parse(lead).before(start_of(end)).date() for lead in schedule)


async def reminded_exactly_at(env, settings, journey_id: str, point: date, count: int) -> Task:
    """Not a minute before the point's day begins; then the count-th task and mail, at once."""
    await sleep_to(env, start_of(point) - timedelta(minutes=2))
    assert len(renew_tasks(settings, journey_id)) == count - 1, f"no reminder before {point}"
    await sleep_to(env, start_of(point))
    await until(lambda: len(renew_tasks(settings, journey_id)) == count, f"reminder of {point}")
    await until(lambda: mail_count(settings, journey_id, "rights_renewal_reminder") == count, f"mail of {point}")
    return renew_tasks(settings, journey_id)[-1]


async def test_r19_reminders_at_6_3_1_months_before_the_end_then_a_non_renewal_exit(
        time_skipping_env, settings, platform):
    env = time_skipping_env
    end = date.today() + timedelta(days=250)
    async with running_worker(env.client, settings):
        journey_id = await accompanied(env, settings, platform, Policy(), {"rqth_until": end.isoformat()})
        six, three, one = points(["P6M", "P3M", "P1M"], end)  # the national schedule
        assert (six, three, one) == (Duration.parse("P6M").before(start_of(end)).date(),
                                     Duration.parse("P3M").before(start_of(end)).date(),
                                     Duration.parse("P1M").before(start_of(end)).date())
        assert not renew_tasks(settings, journey_id)

        first = await reminded_exactly_at(env, settings, journey_id, six, 1)
        assert first.assignee_id == platform.counsellor and first.status == "open"
        assert first.context["rights"]["until"] == end.isoformat()
        # not yet filed: the task is done with a note, and the next point reminds again
        await complete(env.client, first, {"note": "Dossier MDPH en cours de constitution."}, platform.counsellor)

        second = await reminded_exactly_at(env, settings, journey_id, three, 2)
        third = await reminded_exactly_at(env, settings, journey_id, one, 3)
        statuses = {t.id: t.status for t in renew_tasks(settings, journey_id)}
        # one task at a time: the third point's task took over the second one
        assert statuses == {first.id: "done", second.id: "cancelled", third.id: "open"}
        assert third.due_at.date() <= end

        # The last day passes with no renewal filed: an exit is proposed for non-renewal (R15).
        await sleep_to(env, start_of(end))
        assert not actions(settings, journey_id, "exit_proposed_non_renewal")
        await sleep_to(env, start_of(end + timedelta(days=1)))
        await until(lambda: bool(actions(settings, journey_id, "exit_proposed_non_renewal")), "exit proposal")
        [proposal] = actions(settings, journey_id, "exit_proposed_non_renewal")
        assert proposal.detail["rule"] == "R15" and proposal.detail["reason"] == "non_renewal"
        assert proposal.detail["why"] == "no_renewal" and proposal.detail["right"] == "rqth"
        rights = await rights_of(env, journey_id)
        assert rights.exit_proposal.reason == "non_renewal" and rights.exit_proposal.why == "no_renewal"
        assert rights.tracks["rqth"].status == "lapsed"
        assert mail_count(settings, journey_id, "rights_renewal_reminder") == 3  # once per point, never more


# Not the national schedule (6/3/1 months, a task due in a month): the points come from the policy.
SCHEDULE = ["P4M", "P45D", "P10D"]
POLICY = Policy.model_validate({"rights": {"reminders_before_end": SCHEDULE, "renewal_task_due": "P20D"},
                                "workflow": {"history_event_limit": 150}})


async def test_r19_a_renewal_filed_stops_the_reminders_and_granted_brings_a_new_schedule(
        time_skipping_env, settings, platform, tmp_path):
    env = time_skipping_env
    policy_file = tmp_path / "policy.toml"
    policy_file.write_text(policy_as_toml(POLICY))
    settings = with_policy(settings, policy_file)  # read again at each continue-as-new
    end = date.today() + timedelta(days=200)
    async with running_worker(env.client, settings):
        journey_id = await accompanied(env, settings, platform, POLICY, {"rqth_until": end.isoformat()})
        first_point, second_point, last_point = points(SCHEDULE, end)
        task = await reminded_exactly_at(env, settings, journey_id, first_point, 1)
        assert task.due_at.date() == first_point + timedelta(days=20)  # the policy's renewal_task_due

        # The renewal, filed (the task's outcome): the reminders stop.
        filed_on = await env_today(env)
        await complete(env.client, task, {"filed_on": filed_on.isoformat()}, platform.counsellor)
        await until(lambda: bool(actions(settings, journey_id, "rights_renewal_filed")), "renewal filed")
        await sleep_to(env, start_of(last_point + timedelta(days=1)))
        assert len(renew_tasks(settings, journey_id)) == 1
        assert mail_count(settings, journey_id, "rights_renewal_reminder") == 1

        # The end passes while the request is pending: not a non-renewal, the journey waits.
        await sleep_to(env, start_of(end + timedelta(days=2)))
        await until(lambda: bool(actions(settings, journey_id, "rights_ended_pending_decision")), "end traced")
        assert not actions(settings, journey_id, "exit_proposed_non_renewal")

        # Granted, late: a new end date, projected on the journey, and a new schedule from it.
        new_end = end + timedelta(days=365)
        result = await rights_event(env, platform, journey_id, event="granted", until=new_end,
                                    on=await env_today(env))
        assert result["status"] == "in_force" and result["until"] == new_end.isoformat()
        assert result["next_reminder_on"] == points(SCHEDULE, new_end)[0].isoformat()
        assert projected(settings, journey_id) == (new_end, False)
        [granted] = actions(settings, journey_id, "rights_granted")
        assert granted.actor_id == platform.counsellor and granted.detail["previous_until"] == end.isoformat()
        await reminded_exactly_at(env, settings, journey_id, points(SCHEDULE, new_end)[0], 2)
        assert (await snapshot_of(env.client.get_workflow_handle(journey_id))).continued_runs >= 1


async def test_r19_a_refusal_appealed_then_granted(time_skipping_env, settings, platform):
    env = time_skipping_env
    end = date.today() + timedelta(days=100)
    async with running_worker(env.client, settings):
        journey_id = await accompanied(env, settings, platform, Policy(), {"rqth_until": end.isoformat()})
        day = await env_today(env)

        # Out of order, or dates that do not fit: refused with rule R19, nothing changes.
        with pytest.raises(WorkflowUpdateFailedError) as early:
            await rights_event(env, platform, journey_id, event="appeal_decided", decision="granted",
                               until=end + timedelta(days=700), on=day)
        assert early.value.cause.type == "Conflict" and early.value.cause.details[0]["rule"] == "R19"
        with pytest.raises(WorkflowUpdateFailedError) as future:
            await rights_event(env, platform, journey_id, event="renewal_filed", on=day + timedelta(days=3))
        assert future.value.cause.type == "InvalidOutcome"
        assert future.value.cause.details[0]["errors"] == [{"field": "on", "message": "cette date est dans le futur"}]

        await rights_event(env, platform, journey_id, event="renewal_filed", on=day)
        with pytest.raises(WorkflowUpdateFailedError) as past:
            await rights_event(env, platform, journey_id, event="granted", until=day - timedelta(days=1))
        assert past.value.cause.type == "InvalidOutcome" and past.value.cause.details[0]["rule"] == "R19"

        refused = await rights_event(env, platform, journey_id, event="refused", on=day)
        appeal_due = Duration.parse("P2M").from_date(day)  # the national appeal delay
        assert refused["status"] == "refused" and refused["appeal_due_on"] == appeal_due.isoformat()
        await until(lambda: bool(open_tasks(settings, journey_id, "rights_appeal")), "appeal task")
        [appeal] = open_tasks(settings, journey_id, "rights_appeal")
        assert appeal.assignee_id == platform.counsellor and appeal.due_at.date() == appeal_due  # its last moment
        await until(lambda: mail_count(settings, journey_id, "rights_appeal_to_decide") == 1, "mail: appeal")

        # The person appeals (the task's outcome); the end passes while the appeal is pending.
        await env.sleep(timedelta(days=10))
        await complete(env.client, appeal, {"appeal": True, "filed_on": (await env_today(env)).isoformat()},
                       platform.counsellor)
        assert (await rights_of(env, journey_id)).tracks["rqth"].status == "appeal_filed"
        await sleep_to(env, start_of(end + timedelta(days=5)))
        await until(lambda: bool(actions(settings, journey_id, "rights_ended_pending_decision")), "end traced")
        assert not actions(settings, journey_id, "exit_proposed_non_renewal")

        # The appeal succeeds: a new end, a new schedule.
        new_end = end + timedelta(days=3 * 365)
        decided = await rights_event(env, platform, journey_id, event="appeal_decided", decision="granted",
                                     until=new_end, on=await env_today(env))
        assert decided["status"] == "in_force" and decided["until"] == new_end.isoformat()
        assert decided["next_reminder_on"] == Duration.parse("P6M").before(start_of(new_end)).date().isoformat()
        assert decided["exit_proposal"] is None
        assert projected(settings, journey_id) == (new_end, False)
        assert actions(settings, journey_id, "rights_appeal_granted")
        # The run's history (events, tasks, timers, refused updates) replays on this code.
        history = await env.client.get_workflow_handle(journey_id).fetch_history()
        await Replayer(workflows=WORKFLOWS, data_converter=pydantic_data_converter).replay_workflow(history)


async def test_r19_a_refusal_not_appealed_ends_in_a_non_renewal_exit_proposal(
        time_skipping_env, settings, platform, tmp_path):
    env = time_skipping_env
    policy = Policy.model_validate({"rights": {"appeal_delay": "P20D"}})  # not the national two months
    policy_file = tmp_path / "policy.toml"
    policy_file.write_text(policy_as_toml(policy))
    settings = with_policy(settings, policy_file)
    end = date.today() + timedelta(days=60)
    async with running_worker(env.client, settings):
        journey_id = await accompanied(env, settings, platform, policy, {"rqth_until": end.isoformat()})
        day = await env_today(env)
        await rights_event(env, platform, journey_id, event="renewal_filed", on=day)
        refused = await rights_event(env, platform, journey_id, event="refused", on=day)
        appeal_due = day + timedelta(days=20)
        assert refused["appeal_due_on"] == appeal_due.isoformat()
        await until(lambda: bool(open_tasks(settings, journey_id, "rights_appeal")), "appeal task")

        # No appeal by the end of the delay: the refusal is final, the task leaves the inbox...
        await sleep_to(env, start_of(appeal_due))
        assert (await rights_of(env, journey_id)).tracks["rqth"].status == "refused"
        await sleep_to(env, start_of(appeal_due + timedelta(days=1)))
        await until(lambda: bool(actions(settings, journey_id, "rights_final_refusal")), "final refusal")
        assert [t.status for t in renew_tasks(settings, journey_id, "rights_appeal")] == ["cancelled"]
        with pytest.raises(WorkflowUpdateFailedError) as late:
            await rights_event(env, platform, journey_id, event="appeal_filed", on=await env_today(env))
        assert late.value.cause.type == "Conflict" and late.value.cause.details[0]["rule"] == "R19"
        # ... but the right holds until its end: the exit is proposed once it has ended.
        assert not actions(settings, journey_id, "exit_proposed_non_renewal")
        await sleep_to(env, start_of(end + timedelta(days=1)))
        await until(lambda: bool(actions(settings, journey_id, "exit_proposed_non_renewal")), "exit proposal")
        [proposal] = actions(settings, journey_id, "exit_proposed_non_renewal")
        assert proposal.detail["rule"] == "R15" and proposal.detail["why"] == "final_refusal"
        rights = await rights_of(env, journey_id)
        assert rights.exit_proposal.reason == "non_renewal" and rights.exit_proposal.why == "final_refusal"
        # The exit procedure takes it up: a manager decides (R18).
        await until(lambda: bool(open_tasks(settings, journey_id, "approve_exit")), "the managers' approve_exit task")
        [approval] = open_tasks(settings, journey_id, "approve_exit")
        assert approval.context["exit"]["reason"] == "non_renewal"
        assert (await snapshot_of(env.client.get_workflow_handle(journey_id))).state == "exit_proposed"


async def test_r19_a_permanent_rqth_has_no_reminder_and_the_cdaph_decision_has_its_own(
        time_skipping_env, settings, platform):
    env = time_skipping_env
    async with running_worker(env.client, settings):
        journey_id = await accompanied(env, settings, platform, Policy(), {"rqth_permanent": True})
        await env.sleep(timedelta(days=400))
        assert not renew_tasks(settings, journey_id)
        assert mail_count(settings, journey_id, "rights_renewal_reminder") == 0
        assert not actions(settings, journey_id, "rights_reminder")
        assert (await rights_of(env, journey_id)).tracks["rqth"].status == "permanent"
        with pytest.raises(WorkflowUpdateFailedError) as nothing_to_renew:
            await rights_event(env, platform, journey_id, event="renewal_filed", on=await env_today(env))
        assert nothing_to_renew.value.cause.type == "Conflict"
        assert nothing_to_renew.value.cause.details[0]["rule"] == "R19"

        # The CDAPH's orientation decision is another decision, with its own end: its own reminders.
        day = await env_today(env)
        decision_end = day + timedelta(days=100)
        recorded = await rights_event(env, platform, journey_id, right="cdaph_decision", event="granted",
                                      until=decision_end)
        assert recorded["right"] == "cdaph_decision" and recorded["status"] == "in_force"
        # the six-month point is already past: made up for at once; the three-month one comes on its day
        await until(lambda: len(renew_tasks(settings, journey_id)) == 1, "the latest past point, at once")
        [task] = renew_tasks(settings, journey_id)
        assert task.context["rights"]["right"] == "cdaph_decision"
        three = Duration.parse("P3M").before(start_of(decision_end)).date()
        await reminded_exactly_at(env, settings, journey_id, three, 2)
        assert projected(settings, journey_id) == (None, True)  # the RQTH is untouched


async def test_r19_an_rqth_ending_on_the_waiting_list_gets_its_reminder_then_the_counsellor_takes_it(
        time_skipping_env, settings, platform):
    """The clock starts at intake, not at the convention: on the waiting list (no counsellor yet) the
    managers' team gets the task and the platform the mail; the counsellor designated takes it over."""
    env = time_skipping_env
    async with running_worker(env.client, settings):
        end = await env_today(env) + timedelta(days=100)  # within the 6-month window: the latest point, at once
        journey_id, _ = await start(env.client, settings, platform, intake(rights={"rqth_until": end.isoformat()}),
                                    Policy())
        await until(lambda: len(renew_tasks(settings, journey_id)) == 1, "a reminder on the waiting list")
        [task] = renew_tasks(settings, journey_id)
        assert (await snapshot_of(env.client.get_workflow_handle(journey_id))).state.value == "waiting_list"
        assert task.status == "open" and task.assignee_id is None and task.candidate_role == "manager"
        assert task.context["rights"]["until"] == end.isoformat()
        # the platform's mailbox and its manager (no counsellor to mail yet)
        await until(lambda: mail_count(settings, journey_id, "rights_renewal_reminder") == 2, "the platform's mail")

        # A rights event is accepted on the waiting list (a manager records it: there is no counsellor).
        granted = await rights_event(env, platform, journey_id, right="cdaph_decision", event="granted",
                                     until=end + timedelta(days=900))
        assert granted["status"] == "in_force"

        [assign] = open_tasks(settings, journey_id, "assign_counsellor")
        await complete(env.client, assign, {"counsellor_id": platform.counsellor}, platform.manager, caseload=0, fte=1.0)
        await until(lambda: renew_tasks(settings, journey_id)[0].assignee_id == platform.counsellor, "handed over")
        [task] = renew_tasks(settings, journey_id)
        assert task.status == "open" and task.candidate_role == "counsellor"
        view = (await snapshot_of(env.client.get_workflow_handle(journey_id))).tasks[task.id]
        assert view.assignee_id == platform.counsellor and view.candidate_role == "counsellor"
