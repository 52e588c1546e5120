"""R17 on the time-skipping server: a relaunch sequence starts once the person has not been reached for
the policy's threshold despite a failed attempt, opens one attempt task (and mail) at each offset of
the policy's schedule, and stops on any contact that reaches the person; the silence examination
(`analyse_silence`) comes only after six months without a link AND each of R17's five channels tried
or recorded as impossible (with why), and concludes to keep the link (the accompaniment goes on, a sequence may start again) or to propose
the exit, which a manager approves (R18)."""
from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from pydantic import ValidationError
from sqlmodel import select
from temporalio.client import WorkflowUpdateFailedError

from eaflow.durations import Duration
from eaflow.nudges import redeliver_pending, relay_forever
from eaflow.policy import Policy, policy_as_toml
from eaflow.services.decisions import exit_dossier
from eaflow.store.accompaniment import Contact, ContactNudge
from eaflow.store.db import session_scope
from eaflow.store.models import AuditEvent, Task
from eaflow.store.nudges import want_nudge
from eaflow.workflows.accompaniment import start_of
from eaflow.workflows.journey import JourneyWorkflow
from eaflow.workflows.types import Reactivation
from tests.conftest import with_policy
from tests.workflow.accompaniment_helpers import (
    contacts_changed,
    env_today,
    first_deadline,
    journey_state,
    to_accompaniment,
)
from tests.workflow.helpers import complete, open_tasks, running_worker, snapshot_of
from tests.workflow.test_convention import mail_count, until
from tests.workflow.test_rhythm import add_contact_row, sleep_to
from tests.workflow.test_veille import veille

pytestmark = pytest.mark.xdist_group("time-skipping")

# Not the national defaults (P1M, eight attempts): the threshold and the offsets come from the policy.
SCHEDULE = [("P0D", "phone"), ("P5D", "mail"), ("P12D", "letter"), ("P1M", "home_visit"), ("P2M", "third_party")]
POLICY = Policy.model_validate({
    "accompaniment": {"interview_every": "P3M", "interview_lead": "P10D"},
    "relaunch": {"not_reached_after": "P20D", "attempts": [f"{o} {c}" for o, c in SCHEDULE],
                 "silence_minimum": "P6M", "minimum_channels": 3},
})
THRESHOLD, SILENCE = Duration.parse("P20D"), Duration.parse("P6M")
CHANNEL_LABELS = {"phone": "téléphone", "mail": "courriel", "letter": "courrier", "home_visit": "déplacement au domicile",
                  "third_party": "tiers de confiance"}


@pytest.fixture
def policy_settings(settings, tmp_path):
    path = tmp_path / "policy.toml"
    path.write_text(policy_as_toml(POLICY))
    return with_policy(settings, path)  # read again at each continue-as-new


def add_failed_attempt(settings, journey_id: str, on, channel: str = "phone", **overrides) -> None:
    values = {"reached": False, "interview": False, "channel": channel, "place": "service", "participants": "person",
              "duration_minutes": 0, **overrides}
    add_contact_row(settings, journey_id, on, **values)


def delivered(settings, journey_id: str) -> int:
    with session_scope(settings.db_url) as session:
        return session.get(ContactNudge, journey_id).delivered


def add_link(settings, journey_id: str, on) -> None:
    """A contact that reaches the person (not an interview: any link counts for R17)."""
    add_contact_row(settings, journey_id, on, interview=False, participants="person", channel="phone",
                    place="service")


def actions(settings, journey_id: str, action: str) -> list[AuditEvent]:
    with session_scope(settings.db_url) as session:
        return list(session.exec(select(AuditEvent).where(
            AuditEvent.journey_id == journey_id, AuditEvent.action == action).order_by(AuditEvent.id)).all())


def task_statuses(settings, journey_id: str, kind: str) -> list[str]:
    with session_scope(settings.db_url) as session:
        return [t.status for t in session.exec(select(Task).where(
            Task.journey_id == journey_id, Task.kind == kind).order_by(Task.created_at)).all()]


async def continue_as_new(env, journey_id: str) -> None:
    """Continue the journey as new now (the `resume` signal): the sequence must go on from its snapshot.
    (A signal, not a short history limit: the time-skipping server mishandles some updates racing a
    continue-as-new, sdk-python issue 826.)"""
    handle = env.client.get_workflow_handle(journey_id)
    runs = (await snapshot_of(handle)).continued_runs
    await handle.signal(JourneyWorkflow.resume)
    for _ in range(100):
        if (await snapshot_of(handle)).continued_runs == runs + 1:
            return
        await asyncio.sleep(0.1)
    raise AssertionError("no continue-as-new")


async def relaunch_of(env, journey_id: str):
    return (await snapshot_of(env.client.get_workflow_handle(journey_id))).relaunch


async def attempt_opens_at(env, settings, journey_id: str, at, number: int, channel: str):
    """The attempt task `number` is not there a minute before its offset, and is there at it."""
    await sleep_to(env, at - timedelta(minutes=3))
    assert len(open_tasks(settings, journey_id, "relaunch_attempt")) + done_attempts(settings, journey_id) == number - 1
    await sleep_to(env, at)
    await until(lambda: len(open_tasks(settings, journey_id, "relaunch_attempt"))
                + done_attempts(settings, journey_id) == number, f"attempt {number}")
    task = open_tasks(settings, journey_id, "relaunch_attempt")[-1]
    assert task.assignee_id is not None
    assert task.title == f"Relance {number}/{len(SCHEDULE)} ({CHANNEL_LABELS[channel]}) : tenter de joindre la personne"
    assert task.created_at.replace(tzinfo=at.tzinfo) >= at
    await until(lambda: mail_count(settings, journey_id, "relaunch_attempt") == number, f"mail of attempt {number}")
    return task


def done_attempts(settings, journey_id: str) -> int:
    return sum(1 for s in task_statuses(settings, journey_id, "relaunch_attempt") if s in ("done", "cancelled"))


def attempt(on, channel: str, reached: bool = False) -> dict:
    return {"occurred_on": on.isoformat(), "channel": channel, "reached": reached,
            "note": "Message laissé." if not reached else "Échange avec la personne."}


def impossible(on, channel: str, why: str) -> dict:
    """R17: the channel cannot be used for this person, recorded with why (not a contact)."""
    return {"occurred_on": on.isoformat(), "channel": channel, "reached": False, "impossible": True,
            "impossible_reason": why}


def analysis(conclusion: str, **overrides) -> dict:
    return {"causes_examined": "Aucun signe d'hospitalisation ni de déménagement connu ; le tiers de confiance "
                               "n'a plus de nouvelles.", "fragility_identified": False,
            "consultation": "Courrier recommandé à la personne et appel à sa sœur (tiers de confiance) le même jour.",
            "relaunch_history_acknowledged": True, "conclusion": conclusion, **overrides}


async def to_relaunch(env, settings, platform, *, link: bool) -> tuple[str, object]:
    """A journey in accompaniment whose person was last reached today (or never, `link` false), with a
    failed attempt two days later: the sequence starts `not_reached_after` after the link."""
    journey_id = await to_accompaniment(env, settings, platform, POLICY)
    started = (await first_deadline(env, journey_id)).started_on
    today = await env_today(env)
    if link:
        add_link(settings, journey_id, today)
        await contacts_changed(env, journey_id)
    await env.sleep(timedelta(days=2))
    add_failed_attempt(settings, journey_id, await env_today(env))
    await contacts_changed(env, journey_id)
    base = max(today, started) if link else started
    trigger = start_of(THRESHOLD.from_date(base))
    # Not a day before the threshold …
    await sleep_to(env, trigger - timedelta(days=1))
    assert journey_state(settings, journey_id) == "accompaniment"
    assert not open_tasks(settings, journey_id, "relaunch_attempt")
    # … and at it: the journey enters `relaunch`, traced with rule R17.
    await sleep_to(env, trigger)
    await until(lambda: journey_state(settings, journey_id) == "relaunch", "relaunch started at the threshold")
    [started_event] = actions(settings, journey_id, "relaunch_started")
    assert started_event.detail["rule"] == "R17"
    assert started_event.detail["last_link_on"] == (today.isoformat() if link else None)
    assert [a["channel"] for a in started_event.detail["attempts"]] == [c for _, c in SCHEDULE]
    rl = await relaunch_of(env, journey_id)
    assert rl.started_at >= trigger and rl.started_at - trigger < timedelta(minutes=5)
    return journey_id, rl.started_at


def at(started_at, offset: str):
    return Duration.parse(offset).after(started_at)


async def test_r17_relaunch_starts_at_the_threshold_opens_attempts_at_the_offsets_and_ends_on_a_reached_contact(
        time_skipping_env, policy_settings, platform):
    env, settings = time_skipping_env, policy_settings
    async with running_worker(env.client, settings):
        journey_id, started_at = await to_relaunch(env, settings, platform, link=True)

        # The first attempt (P0D) at once, then each at its offset, with its channel in the title.
        await until(lambda: len(open_tasks(settings, journey_id, "relaunch_attempt")) == 1, "first attempt")
        [phone] = open_tasks(settings, journey_id, "relaunch_attempt")
        assert phone.title == "Relance 1/5 (téléphone) : tenter de joindre la personne"
        await until(lambda: mail_count(settings, journey_id, "relaunch_attempt") == 1, "mail of the first attempt")
        await complete(env.client, phone, attempt(await env_today(env), "phone"), platform.counsellor)
        mail = await attempt_opens_at(env, settings, journey_id, at(started_at, "P5D"), 2, "mail")
        await complete(env.client, mail, attempt(await env_today(env), "mail"), platform.counsellor)
        await continue_as_new(env, journey_id)  # the sequence goes on in the next run
        letter = await attempt_opens_at(env, settings, journey_id, at(started_at, "P12D"), 3, "letter")
        assert journey_state(settings, journey_id) == "relaunch"

        # The attempts' outcomes are contacts (R13) that did not reach the person.
        with session_scope(settings.db_url) as session:
            recorded = session.exec(select(Contact).where(Contact.task_id.in_([phone.id, mail.id]))).all()
            assert sorted((c.channel, c.reached, c.place) for c in recorded) == [
                ("mail", False, "service"), ("phone", False, "service")]

        # A contact that reaches the person, recorded through the contacts, stops the sequence.
        add_link(settings, journey_id, await env_today(env))
        await contacts_changed(env, journey_id)
        await until(lambda: journey_state(settings, journey_id) == "accompaniment", "back to accompaniment")
        assert not open_tasks(settings, journey_id, "relaunch_attempt")
        assert task_statuses(settings, journey_id, "relaunch_attempt") == ["done", "done", "cancelled"]
        [ended] = actions(settings, journey_id, "relaunch_ended")
        assert ended.detail["how"] == "reached" and ended.detail["rule"] == "R17"
        assert letter.id not in {t.id for t in open_tasks(settings, journey_id)}

        # The schedule's later offsets pass: nothing more opens, no new sequence without a new failed attempt.
        await sleep_to(env, at(started_at, "P2M") + timedelta(days=1))
        assert journey_state(settings, journey_id) == "accompaniment"
        assert len(task_statuses(settings, journey_id, "relaunch_attempt")) == 3
        assert mail_count(settings, journey_id, "relaunch_attempt") == 3
        assert len(actions(settings, journey_id, "relaunch_started")) == 1


async def test_r17_six_months_and_every_channel_tried_or_impossible_then_the_exit_approved_by_a_manager(
        time_skipping_env, policy_settings, platform):
    env, settings = time_skipping_env, policy_settings
    async with running_worker(env.client, settings):
        # Never reached since the accompaniment began: the silence counts from the sequence's start.
        journey_id, started_at = await to_relaunch(env, settings, platform, link=False)
        for number, (offset, channel) in enumerate(SCHEDULE[:3], start=1):
            task = (await attempt_opens_at(env, settings, journey_id, at(started_at, offset), number, channel)
                    if number > 1 else open_tasks(settings, journey_id, "relaunch_attempt")[0])
            await complete(env.client, task, attempt(await env_today(env), channel), platform.counsellor)
        rl = await relaunch_of(env, journey_id)
        assert rl.channels == ["letter", "mail", "phone"]
        await continue_as_new(env, journey_id)
        # The home visit and the trusted third party cannot be used: each recorded impossible, with why.
        visit = await attempt_opens_at(env, settings, journey_id, at(started_at, "P1M"), 4, "home_visit")
        await complete(env.client, visit, impossible(await env_today(env), "home_visit",
                                                     "La personne réside désormais à l'étranger."), platform.counsellor)
        third = await attempt_opens_at(env, settings, journey_id, at(started_at, "P2M"), 5, "third_party")
        await complete(env.client, third, impossible(await env_today(env), "third_party",
                                                     "Aucun tiers de confiance désigné."), platform.counsellor)
        rl = await relaunch_of(env, journey_id)
        assert rl.channels == ["letter", "mail", "phone"]  # not contacts: nothing was tried
        assert rl.impossible == {"home_visit": "La personne réside désormais à l'étranger.",
                                 "third_party": "Aucun tiers de confiance désigné."}
        assert [e.detail["channel"] for e in actions(settings, journey_id, "relaunch_channel_impossible")] == [
            "home_visit", "third_party"]
        await continue_as_new(env, journey_id)  # carried in the snapshot

        # Every channel solicited, but not six months: no examination yet, even a minute before.
        analysis_at = start_of(SILENCE.from_date(started_at.date()))
        await sleep_to(env, analysis_at - timedelta(minutes=3))
        assert not open_tasks(settings, journey_id, "analyse_silence")
        assert journey_state(settings, journey_id) == "relaunch"
        await sleep_to(env, analysis_at)
        await until(lambda: bool(open_tasks(settings, journey_id, "analyse_silence")), "analyse_silence at six months")
        [task] = open_tasks(settings, journey_id, "analyse_silence")
        assert task.assignee_id == platform.counsellor
        await until(lambda: mail_count(settings, journey_id, "silence_analysis") == 1, "mail of the examination")
        [due] = actions(settings, journey_id, "silence_analysis_due")
        assert due.detail["silence_since"] == started_at.date().isoformat()

        # A fragility that calls for keeping the link cannot conclude to an exit.
        with pytest.raises(ValidationError):
            await complete(env.client, task, analysis("propose_exit", fragility_identified=True), platform.counsellor)

        # The examination concludes to propose the exit: the exit procedure takes the file to a manager.
        await complete(env.client, task, analysis("propose_exit"), platform.counsellor)
        await until(lambda: journey_state(settings, journey_id) == "exit_proposed", "exit proposed")
        [proposed] = actions(settings, journey_id, "exit_proposed")
        assert proposed.detail["reason"] == "disengagement"
        details = proposed.detail["details"]
        assert details["rule"] == "R17" and details["analysis"]["conclusion"] == "propose_exit"
        assert details["analysis"]["consultation"].startswith("Courrier recommandé")
        assert [(a["channel"], a["result"]) for a in details["attempts"]] == [
            ("phone", "not_reached"), ("phone", "not_reached"), ("mail", "not_reached"), ("letter", "not_reached")]
        assert details["impossible"] == [
            {"channel": "home_visit", "reason": "La personne réside désormais à l'étranger."},
            {"channel": "third_party", "reason": "Aucun tiers de confiance désigné."}]
        [analysed] = actions(settings, journey_id, "silence_analysed")
        assert analysed.detail["conclusion"] == "propose_exit"
        assert not open_tasks(settings, journey_id, "relaunch_attempt")  # the exit procedure takes over

        # R18: a manager approves; the person leaves the scheme for disengagement.
        await until(lambda: bool(open_tasks(settings, journey_id, "approve_exit")), "approve_exit task")
        [approve] = open_tasks(settings, journey_id, "approve_exit")
        # The manager's file shows the channels recorded impossible, and why.
        assert exit_dossier(approve.context)["relaunch"]["impossible"] == [
            {"channel": "déplacement au domicile", "reason": "La personne réside désormais à l'étranger."},
            {"channel": "tiers de confiance", "reason": "Aucun tiers de confiance désigné."}]
        await complete(env.client, approve, {"decision": "approve", "consultation": "Courrier recommandé resté sans "
                                             "réponse ; la sœur de la personne consultée."}, platform.manager)
        await until(lambda: journey_state(settings, journey_id) == "exited", "exited")


async def test_r17_three_channels_are_no_longer_enough_then_the_link_kept_and_a_new_sequence(
        time_skipping_env, policy_settings, platform):
    env, settings = time_skipping_env, policy_settings
    async with running_worker(env.client, settings):
        journey_id, started_at = await to_relaunch(env, settings, platform, link=True)
        link_on = (await relaunch_of(env, journey_id)).last_link_on
        # Only phone attempts (the counsellor calls instead of mailing): one channel.
        [first] = open_tasks(settings, journey_id, "relaunch_attempt")
        await complete(env.client, first, attempt(await env_today(env), "phone"), platform.counsellor)
        second = await attempt_opens_at(env, settings, journey_id, at(started_at, "P5D"), 2, "mail")
        await complete(env.client, second, attempt(await env_today(env), "phone"), platform.counsellor)
        # Beyond six months of silence: still no examination, a single channel was tried.
        await sleep_to(env, start_of(SILENCE.from_date(link_on)) + timedelta(days=2))
        assert not open_tasks(settings, journey_id, "analyse_silence")
        assert journey_state(settings, journey_id) == "relaunch"
        assert (await relaunch_of(env, journey_id)).channels == ["phone"]
        # The later attempts were opened at their offsets meanwhile; a letter recorded on one of them …
        letter = open_tasks(settings, journey_id, "relaunch_attempt")[0]
        await complete(env.client, letter, attempt(await env_today(env), "letter"), platform.counsellor)
        assert not open_tasks(settings, journey_id, "analyse_silence")
        # … and a trusted third party reached through the contacts (not the person): three channels …
        add_failed_attempt(settings, journey_id, await env_today(env), channel="third_party", participants="partner")
        await contacts_changed(env, journey_id)
        # … are no longer enough (R17): the mail and the home visit are still owed.
        assert (await relaunch_of(env, journey_id)).channels == ["letter", "phone", "third_party"]
        await env.sleep(timedelta(days=1))
        assert not open_tasks(settings, journey_id, "analyse_silence")
        # No known e-mail address: the mail recorded impossible, with why, on an attempt still open …
        mail = open_tasks(settings, journey_id, "relaunch_attempt")[0]
        with pytest.raises(ValidationError):  # the reason is required
            await complete(env.client, mail, {**impossible(await env_today(env), "mail", ""), "impossible_reason": " "},
                           platform.counsellor)
        await complete(env.client, mail, impossible(await env_today(env), "mail", "Aucune adresse électronique connue."),
                       platform.counsellor)
        await env.sleep(timedelta(days=1))
        assert not open_tasks(settings, journey_id, "analyse_silence")
        # … and a home visit recorded through the contacts: every channel solicited, the examination opens.
        add_failed_attempt(settings, journey_id, await env_today(env), channel="in_person", place="home")
        await contacts_changed(env, journey_id)
        await until(lambda: bool(open_tasks(settings, journey_id, "analyse_silence")), "analyse_silence")
        [due] = actions(settings, journey_id, "silence_analysis_due")
        assert due.detail["channels"] == ["home_visit", "letter", "phone", "third_party"]
        assert due.detail["impossible"] == [{"channel": "mail", "reason": "Aucune adresse électronique connue."}]
        [task] = open_tasks(settings, journey_id, "analyse_silence")

        # The examination finds a fragility: the link is kept, the accompaniment goes on.
        kept_on = await env_today(env)
        await complete(env.client, task, analysis("keep_link", fragility_identified=True), platform.counsellor)
        await until(lambda: journey_state(settings, journey_id) == "accompaniment", "link kept")
        assert not open_tasks(settings, journey_id, "relaunch_attempt")
        [ended] = actions(settings, journey_id, "relaunch_ended")
        assert ended.detail["how"] == "keep_link"
        assert not actions(settings, journey_id, "exit_proposed")

        # Still silent: a new sequence starts `not_reached_after` later, and `reactivate` ends it.
        await sleep_to(env, start_of(THRESHOLD.from_date(kept_on)))
        await until(lambda: journey_state(settings, journey_id) == "relaunch", "a second sequence")
        assert (await relaunch_of(env, journey_id)).sequences == 2
        assert (await relaunch_of(env, journey_id)).impossible == {}  # each sequence looks again
        await until(lambda: len(open_tasks(settings, journey_id, "relaunch_attempt")) == 1, "its first attempt")
        handle = env.client.get_workflow_handle(journey_id)
        answer = await handle.execute_update(JourneyWorkflow.reactivate, Reactivation(
            actor_id=platform.counsellor, reason="La personne a rappelé le service."))
        assert answer == {"state": "accompaniment"}
        assert not open_tasks(settings, journey_id, "relaunch_attempt")
        assert [e.detail["how"] for e in actions(settings, journey_id, "relaunch_ended")] == ["keep_link",
                                                                                            "reactivated"]
        with pytest.raises(WorkflowUpdateFailedError) as twice:
            await handle.execute_update(JourneyWorkflow.reactivate, Reactivation(actor_id=platform.counsellor))
        assert twice.value.cause.type == "Conflict"


async def test_r17_a_veille_is_not_a_silence_and_an_attempt_that_reaches_the_person_ends_the_sequence(
        time_skipping_env, policy_settings, platform):
    env, settings = time_skipping_env, policy_settings
    async with running_worker(env.client, settings):
        journey_id = await to_accompaniment(env, settings, platform, POLICY)
        await first_deadline(env, journey_id)
        add_link(settings, journey_id, await env_today(env))
        await contacts_changed(env, journey_id)
        await env.sleep(timedelta(days=2))
        today = await env_today(env)
        add_failed_attempt(settings, journey_id, today)
        await contacts_changed(env, journey_id)
        # R14: a veille agreed with the person; the threshold passes during it, nothing starts.
        end = today + timedelta(days=60)
        handle = env.client.get_workflow_handle(journey_id)
        await handle.execute_update(JourneyWorkflow.start_veille, veille(platform.counsellor, today, end))
        await sleep_to(env, start_of(end) + timedelta(hours=1))
        await until(lambda: journey_state(settings, journey_id) == "accompaniment", "veille ended")
        assert not actions(settings, journey_id, "relaunch_started")
        # The silence counts from the end of the veille.
        trigger = start_of(THRESHOLD.from_date(end))
        await sleep_to(env, trigger - timedelta(days=1))
        assert journey_state(settings, journey_id) == "accompaniment"
        await sleep_to(env, trigger)
        await until(lambda: journey_state(settings, journey_id) == "relaunch", "relaunch after the veille")
        # The first attempt reaches the person: recorded as a link, the sequence ends at once.
        await until(lambda: len(open_tasks(settings, journey_id, "relaunch_attempt")) == 1, "first attempt")
        [first] = open_tasks(settings, journey_id, "relaunch_attempt")
        reached_on = await env_today(env)
        await complete(env.client, first, attempt(reached_on, "home_visit", reached=True), platform.counsellor)
        await until(lambda: journey_state(settings, journey_id) == "accompaniment", "reached: accompaniment")
        [ended] = actions(settings, journey_id, "relaunch_ended")
        assert ended.detail["how"] == "reached" and ended.detail["last_link_on"] == reached_on.isoformat()
        with session_scope(settings.db_url) as session:
            [contact] = session.exec(select(Contact).where(Contact.task_id == first.id)).all()
            assert (contact.channel, contact.place, contact.participants, contact.reached) == (
                "in_person", "home", "person", True)


async def test_r17_a_failed_attempt_whose_nudge_was_not_delivered_reaches_the_journey_through_the_relay(
        time_skipping_env, policy_settings, platform):
    """The journey no longer polls the contacts between its deadlines: a change the API committed but
    could not tell the workflow (Temporal down, the API stopped in between) waits in the outbox until
    the worker's relay delivers it, once."""
    env, settings = time_skipping_env, policy_settings
    async with running_worker(env.client, settings):
        journey_id = await to_accompaniment(env, settings, platform, POLICY)
        started = (await first_deadline(env, journey_id)).started_on
        today = await env_today(env)
        with session_scope(settings.db_url) as session:  # what the contacts API commits, in one transaction
            session.add(Contact(id="ct-lost-nudge", journey_id=journey_id, occurred_on=today, duration_minutes=0,
                                place="service", channel="phone", participants="person", reached=False))
            version = want_nudge(session, journey_id)
        assert (await relaunch_of(env, journey_id)).unreached == 0  # not told

        # Within its grace the API's own delivery may still be under way: the relay leaves it.
        assert await redeliver_pending(env.client, settings.db_url) == 0
        assert await redeliver_pending(env.client, settings.db_url, grace=timedelta(0)) == 1
        assert (await relaunch_of(env, journey_id)).unreached == 1
        with session_scope(settings.db_url) as session:
            nudge = session.get(ContactNudge, journey_id)
            assert (nudge.version, nudge.delivered) == (version, version)
        assert await redeliver_pending(env.client, settings.db_url, grace=timedelta(0)) == 0  # delivered once

        # The worker's relay loop does the same in the background: an attempt reached, not told.
        with session_scope(settings.db_url) as session:
            session.add(Contact(id="ct-lost-nudge-2", journey_id=journey_id, occurred_on=today, duration_minutes=0,
                                place="service", channel="letter", participants="person", reached=False))
            version = want_nudge(session, journey_id)
        relay = asyncio.create_task(relay_forever(env.client, settings.db_url, every=timedelta(milliseconds=50),
                                                  grace=timedelta(0)))
        try:
            await until(lambda: delivered(settings, journey_id) == version, "the relay's delivery")
        finally:
            relay.cancel()
        assert (await relaunch_of(env, journey_id)).unreached == 2

        # R17 then follows its course: the sequence starts at the threshold.
        await sleep_to(env, start_of(THRESHOLD.from_date(max(started, today))))
        await until(lambda: journey_state(settings, journey_id) == "relaunch", "relaunch started")
