"""R12 on the time-skipping server: a simulated year of one journey. The counsellor gets the
plan_interview task exactly `interview_lead` before the deadline, the managers are alerted the day
after it passes, and an interview recorded at any time (as the task's outcome, through the contacts,
or even before its nudge arrives) moves the deadline. The history is kept short on purpose, so that the
year crosses several continue-as-new with the rhythm and the avenant loops side by side."""
from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from sqlmodel import select

from eaflow.durations import Duration
from eaflow.policy import Policy, policy_as_toml
from eaflow.store.accompaniment import Contact
from eaflow.store.db import session_scope
from eaflow.store.models import Journey, Task
from eaflow.workflows.accompaniment import start_of
from tests.conftest import with_policy
from tests.workflow.accompaniment_helpers import contacts_changed, env_today, first_deadline, rhythm_of, to_accompaniment
from tests.workflow.helpers import complete, open_tasks, running_worker, snapshot_of
from tests.workflow.test_convention import mail_count, until

pytestmark = pytest.mark.xdist_group("time-skipping")

# Not the national defaults (P3M, P14D): the offsets must come from the policy.
# Runs end by age (`run_at_most`) as well as by length: the year below crosses several continue-as-new.
POLICY = Policy.model_validate({"accompaniment": {"interview_every": "P2M", "interview_lead": "P10D"},
                                "workflow": {"history_event_limit": 150, "run_at_most": "P5M"}})
EVERY, LEAD = Duration.parse("P2M"), Duration.parse("P10D")


def interview(on, **overrides) -> dict:
    return {"occurred_on": on.isoformat(), "duration_minutes": 60, "place": "service", "channel": "in_person",
            "participants": "person", "interview": True, **overrides}


def add_contact_row(settings, journey_id: str, on, **overrides) -> None:
    """A contact written as the contacts API writes it (the API's own tests cover the API)."""
    values = {"occurred_on": on, "duration_minutes": 45, "place": "workplace", "channel": "in_person",
              "participants": "both", "reached": True, "interview": True, **overrides}
    with session_scope(settings.db_url) as session:
        session.add(Contact(id=f"ct-{uuid.uuid4().hex[:10]}", journey_id=journey_id, **values))


def projected_due(settings, journey_id: str):
    with session_scope(settings.db_url) as session:
        return session.get(Journey, journey_id).next_interview_due


async def sleep_to(env, moment) -> None:
    """Skip the server's time to just after `moment` (a task or mail due then is out)."""
    now = await env.get_current_time()
    if moment > now:
        await env.sleep(moment - now + timedelta(minutes=1))


async def test_r12_a_year_of_interview_deadlines(time_skipping_env, settings, platform, tmp_path):
    env = time_skipping_env
    policy_file = tmp_path / "policy.toml"
    policy_file.write_text(policy_as_toml(POLICY))
    settings = with_policy(settings, policy_file)  # read again at each continue-as-new
    async with running_worker(env.client, settings):
        journey_id = await to_accompaniment(env, settings, platform, POLICY)
        started = (await first_deadline(env, journey_id)).started_on
        due = EVERY.from_date(started)
        await until(lambda: projected_due(settings, journey_id) == due, "first deadline projected")
        assert (await rhythm_of(env, journey_id)).due == due

        # The plan task comes exactly `interview_lead` before the deadline, not a day sooner.
        plan_at = start_of(LEAD.before(start_of(due)).date())
        await sleep_to(env, plan_at - timedelta(days=1, minutes=2))
        assert not open_tasks(settings, journey_id, "plan_interview")
        await sleep_to(env, plan_at)
        await until(lambda: bool(open_tasks(settings, journey_id, "plan_interview")), "plan_interview task")
        [plan] = open_tasks(settings, journey_id, "plan_interview")
        assert plan.assignee_id == platform.counsellor
        assert plan.due_at.date() == due  # the last moment of the deadline's day
        await until(lambda: mail_count(settings, journey_id, "interview_to_plan") == 1, "mail to the counsellor")

        # The interview, recorded as the task's outcome, moves the deadline.
        held = await env_today(env)
        await complete(env.client, plan, interview(held), platform.counsellor)
        due = EVERY.from_date(held)
        await until(lambda: projected_due(settings, journey_id) == due, "deadline moved by the interview")
        with session_scope(settings.db_url) as session:
            [contact] = session.exec(select(Contact).where(Contact.task_id == plan.id)).all()
            assert contact.interview and contact.occurred_on == held

        # No interview this time: the plan task, then the managers' alert the day after the deadline.
        await sleep_to(env, start_of(due))
        assert open_tasks(settings, journey_id, "plan_interview")
        assert not open_tasks(settings, journey_id, "interview_overdue")
        await sleep_to(env, start_of(due + timedelta(days=1)))
        await until(lambda: bool(open_tasks(settings, journey_id, "interview_overdue")), "overdue alert")
        [alert] = open_tasks(settings, journey_id, "interview_overdue")
        assert alert.candidate_role == "manager" and alert.assignee_id is None
        # the platform's mailbox and its manager
        await until(lambda: mail_count(settings, journey_id, "interview_overdue") == 2, "mail to the managers")

        # An interview recorded through the contacts (with its nudge) moves the deadline and closes
        # the tasks of the old one.
        late = await env_today(env)
        add_contact_row(settings, journey_id, late)
        assert (await contacts_changed(env, journey_id)) == {"next_interview_due": EVERY.from_date(late).isoformat()}
        due = EVERY.from_date(late)
        await until(lambda: not open_tasks(settings, journey_id, "interview_overdue")
                    and not open_tasks(settings, journey_id, "plan_interview"), "old deadline's tasks closed")
        with session_scope(settings.db_url) as session:
            statuses = {t.kind: t.status for t in session.exec(select(Task).where(
                Task.journey_id == journey_id, Task.kind.in_(["plan_interview", "interview_overdue"]))).all()
                if t.id != plan.id}
        assert statuses == {"plan_interview": "cancelled", "interview_overdue": "cancelled"}

        # A contact that is not an interview does not move it; an interview whose nudge has not arrived
        # is found when the deadline comes, and no task opens.
        add_contact_row(settings, journey_id, late + timedelta(days=3), interview=False, participants="employer")
        await sleep_to(env, start_of(late + timedelta(days=20)))
        quiet = await env_today(env)
        add_contact_row(settings, journey_id, quiet)  # nobody tells the journey
        await sleep_to(env, start_of(LEAD.before(start_of(due)).date()))
        due = EVERY.from_date(quiet)
        await until(lambda: projected_due(settings, journey_id) == due, "deadline found at the old plan date")
        assert not open_tasks(settings, journey_id, "plan_interview")

        # The rest of the year: a plan task and an alert per missed deadline, never two.
        await sleep_to(env, start_of(due + timedelta(days=1)))
        await until(lambda: bool(open_tasks(settings, journey_id, "interview_overdue")), "second alert")
        assert len(open_tasks(settings, journey_id, "plan_interview")) == 1
        assert len(open_tasks(settings, journey_id, "interview_overdue")) == 1
        await sleep_to(env, start_of(started + timedelta(days=366)))
        assert len(open_tasks(settings, journey_id, "interview_overdue")) == 1
        await until(lambda: mail_count(settings, journey_id, "interview_overdue") == 4, "two alerts in the year")
        snapshot = await snapshot_of(env.client.get_workflow_handle(journey_id))
        assert snapshot.rhythm.due == due
        assert snapshot.continued_runs >= 2  # the year crossed continue-as-new
