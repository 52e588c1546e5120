"""R14 on the time-skipping server: a veille that ends on its date, one reactivated early, one
extended, and each R14 refusal. During a veille the interview clock stops (R12): no plan task and
no alert fire, and it restarts at reactivation with the time it had left."""
from __future__ import annotations

from datetime import timedelta

import pytest
from temporalio.client import WorkflowUpdateFailedError

from eaflow.durations import Duration
from eaflow.policy import Policy, policy_as_toml
from eaflow.workflows.accompaniment import start_of
from eaflow.workflows.journey import JourneyWorkflow
from eaflow.workflows.rules import french_date
from eaflow.workflows.types import Reactivation, VeilleRequest
from tests.conftest import with_policy
from tests.workflow.accompaniment_helpers import env_today, first_deadline, journey_state, to_accompaniment
from tests.workflow.helpers import open_tasks, running_worker, snapshot_of
from tests.workflow.test_convention import mail_count, until

pytestmark = pytest.mark.xdist_group("time-skipping")

POLICY = Policy.model_validate({"accompaniment": {"interview_every": "P2M", "interview_lead": "P10D"},
                                "veille": {"max_duration": "P4M", "ending_lead": "P9D"}})


def veille(actor: str, on, until_, **overrides) -> VeilleRequest:
    values = {"requested_by": "person", "agreement_on": on, "agreement_how": "écrit signé", "until": until_,
              "reactivation_conditions": "À la demande de la personne, à tout moment.", "actor_id": actor}
    return VeilleRequest(**{**values, **overrides})


async def start_veille(env, journey_id: str, request: VeilleRequest):
    handle = env.client.get_workflow_handle(journey_id)
    return await handle.execute_update(JourneyWorkflow.start_veille, request)


async def sleep_to(env, moment) -> None:
    now = await env.get_current_time()
    if moment > now:
        await env.sleep(moment - now + timedelta(minutes=1))


def interview_tasks(settings, journey_id: str) -> list:
    return open_tasks(settings, journey_id, "plan_interview") + open_tasks(settings, journey_id, "interview_overdue")


@pytest.fixture
def policy_settings(settings, tmp_path):
    path = tmp_path / "policy.toml"
    path.write_text(policy_as_toml(POLICY))
    return with_policy(settings, path)


async def test_r14_veille_ends_on_its_date_and_stops_the_interview_clock(time_skipping_env, policy_settings, platform):
    env, settings = time_skipping_env, policy_settings
    async with running_worker(env.client, settings):
        journey_id = await to_accompaniment(env, settings, platform, POLICY)
        due = (await first_deadline(env, journey_id)).due
        await env.sleep(timedelta(days=20))
        today = await env_today(env)
        end = today + timedelta(days=90)  # beyond the interview deadline
        answer = await start_veille(env, journey_id, veille(platform.counsellor, today, end))
        assert answer["state"] == "veille"
        assert journey_state(settings, journey_id) == "veille"
        rhythm = (await snapshot_of(env.client.get_workflow_handle(journey_id))).rhythm
        remaining = (due - today).days
        assert rhythm.stopped_on == today and rhythm.remaining_days == remaining
        # The person and the employer are told it is not an exit; an avenant is drafted.
        await until(lambda: mail_count(settings, journey_id, "veille_started") == 2, "veille mails")
        await until(lambda: bool(open_tasks(settings, journey_id, "draft_avenant")), "the veille's avenant")

        # The deadline passes during the veille: nothing fires.
        await sleep_to(env, start_of(due + timedelta(days=2)))
        assert not interview_tasks(settings, journey_id)
        # The counsellor prepares the resumption `ending_lead` before the end.
        ending = start_of(Duration.parse("P9D").before(start_of(end)).date())
        await sleep_to(env, ending - timedelta(days=1))
        assert not open_tasks(settings, journey_id, "veille_ending")
        await sleep_to(env, ending)
        await until(lambda: bool(open_tasks(settings, journey_id, "veille_ending")), "veille_ending task")
        await until(lambda: mail_count(settings, journey_id, "veille_ending") == 1, "mail to the counsellor")

        # On its end date the accompaniment resumes, and the clock restarts with the time it had left.
        await sleep_to(env, start_of(end))
        await until(lambda: journey_state(settings, journey_id) == "accompaniment", "resumed on the end date")
        await until(lambda: mail_count(settings, journey_id, "veille_ended") == 2, "resumption mails")
        assert not open_tasks(settings, journey_id, "veille_ending")
        rhythm = (await snapshot_of(env.client.get_workflow_handle(journey_id))).rhythm
        assert rhythm.stopped_on is None and rhythm.due == end + timedelta(days=remaining)


async def test_r14_veille_reactivated_early_and_extended(time_skipping_env, policy_settings, platform):
    env, settings = time_skipping_env, policy_settings
    async with running_worker(env.client, settings):
        journey_id = await to_accompaniment(env, settings, platform, POLICY)
        await first_deadline(env, journey_id)
        today = await env_today(env)
        await start_veille(env, journey_id, veille(platform.counsellor, today, today + timedelta(days=30)))
        await env.sleep(timedelta(days=10))
        # Extended by a new agreement, within the policy's bound counted from today.
        later = await env_today(env)
        await start_veille(env, journey_id, veille(platform.counsellor, later, later + timedelta(days=60)))
        snapshot = await snapshot_of(env.client.get_workflow_handle(journey_id))
        assert snapshot.veille.until == later + timedelta(days=60) and snapshot.veille.agreements == 2
        await until(lambda: mail_count(settings, journey_id, "veille_started") == 4, "extension mails")

        await env.sleep(timedelta(days=5))
        handle = env.client.get_workflow_handle(journey_id)
        await handle.execute_update(JourneyWorkflow.reactivate, Reactivation(actor_id=platform.counsellor,
                                                                               reason="Nouveau poste"))
        assert journey_state(settings, journey_id) == "accompaniment"
        with pytest.raises(WorkflowUpdateFailedError) as twice:
            await handle.execute_update(JourneyWorkflow.reactivate, Reactivation(actor_id=platform.counsellor))
        assert twice.value.cause.type == "Conflict"
        # The former end date passes: nothing more happens.
        await env.sleep(timedelta(days=70))
        assert journey_state(settings, journey_id) == "accompaniment"
        assert mail_count(settings, journey_id, "veille_ended") == 2


async def test_r14_extensions_cannot_outlast_the_bound_from_the_first_day(time_skipping_env, policy_settings,
                                                                          platform):
    """The whole veille, first start and extensions together, ends at the latest `max_duration` after its
    first day; that day is in the snapshot, so the bound holds across continue-as-new."""
    from tests.workflow.test_relaunch import continue_as_new  # here: that module imports this one

    env, settings = time_skipping_env, policy_settings
    async with running_worker(env.client, settings):
        journey_id = await to_accompaniment(env, settings, platform, POLICY)
        await first_deadline(env, journey_id)
        since = await env_today(env)
        await start_veille(env, journey_id, veille(platform.counsellor, since, since + timedelta(days=60)))
        await env.sleep(timedelta(days=50))
        await continue_as_new(env, journey_id)
        later = await env_today(env)
        bound = Duration.parse("P4M").from_date(since)
        assert bound + timedelta(days=1) <= Duration.parse("P4M").from_date(later)  # what each agreement allowed
        with pytest.raises(WorkflowUpdateFailedError) as refused:
            await start_veille(env, journey_id, veille(platform.counsellor, later, bound + timedelta(days=1)))
        cause = refused.value.cause
        assert cause.type == "RuleRefused" and cause.details[0]["rule"] == "R14"
        [error] = cause.details[0]["errors"]
        assert error == {"field": "until", "message": (
            f"La veille a commencé le {french_date(since)} : prolongations comprises, elle ne peut pas dépasser "
            f"le {french_date(bound)} (4 mois, R14).")}
        # Up to the bound itself, an extension is a new agreement; the veille keeps its first day.
        answer = await start_veille(env, journey_id, veille(platform.counsellor, later, bound))
        assert answer == {"state": "veille", "since": since.isoformat(), "until": bound.isoformat()}
        snapshot = await snapshot_of(env.client.get_workflow_handle(journey_id))
        assert snapshot.veille.since == since and snapshot.veille.agreements == 2 and snapshot.continued_runs >= 1


@pytest.mark.parametrize("overrides, field", [
    ({"agreement_on": None}, "agreement"),
    ({"until": None}, "until"),
    ({"until": "beyond"}, "until"),
    ({"reactivation_conditions": "  "}, "reactivation_conditions"),
])
async def test_r14_veille_refused(time_skipping_env, policy_settings, platform, overrides, field):
    env, settings = time_skipping_env, policy_settings
    async with running_worker(env.client, settings):
        journey_id = await to_accompaniment(env, settings, platform, POLICY)
        today = await env_today(env)
        if overrides.get("until") == "beyond":  # the policy allows four months
            overrides = {"until": Duration.parse("P4M").from_date(today) + timedelta(days=1)}
        with pytest.raises(WorkflowUpdateFailedError) as refused:
            await start_veille(env, journey_id, veille(platform.counsellor, today, today + timedelta(days=30),
                                                       **overrides))
        cause = refused.value.cause
        assert cause.type == "RuleRefused" and cause.details[0]["rule"] == "R14"
        assert [e["field"] for e in cause.details[0]["errors"]] == [field]
        assert journey_state(settings, journey_id) == "accompaniment"
