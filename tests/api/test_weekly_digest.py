"""The weekly digest to each counsellor (issue 5), on the real stack: a Temporal dev server with its
Schedule, the worker, the database and a real SMTP server.

The sections come from rows seeded straight into the database (the projections the journeys write).
The schedule is triggered by hand (`handle.trigger()`): its action time is now, so "this week" is
the current ISO week, Paris time.
"""
from __future__ import annotations

import asyncio
import uuid
from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from sqlmodel import select
from temporalio.client import Client, ScheduleActionStartWorkflow, ScheduleOverlapPolicy, ScheduleRange

from eaflow.activities.digest import digest_week
from eaflow.durations import Duration
from eaflow.policy import NATIONAL_DEFAULTS, AccompanimentPolicy, Policy
from eaflow.schedules import WEEKLY_DIGEST_SCHEDULE_ID, ensure_weekly_digest_schedule
from eaflow.settings import Settings
from eaflow.store.db import session_scope
from eaflow.store.models import Journey, MailOutbox, Person, Task, User
from eaflow.workflows.digest import DigestOutcome, DigestReport

PARIS = ZoneInfo("Europe/Paris")


# --- the week, Paris time -------------------------------------------------------------------

def test_the_digest_week_is_the_iso_week_in_paris_time():
    # Sunday 29 November 2026, 23:30 UTC is already Monday 30 November in Paris: week 49.
    week = digest_week(datetime(2026, 11, 29, 23, 30, tzinfo=timezone.utc))
    assert (week.label, week.day) == ("2026-W49", date(2026, 11, 30))
    assert week.starts_at.astimezone(timezone.utc) == datetime(2026, 11, 29, 23, 0, tzinfo=timezone.utc)
    # 1 January 2027 belongs to ISO week 53 of 2026.
    assert digest_week(datetime(2027, 1, 1, 6, 0, tzinfo=timezone.utc)).label == "2026-W53"
    # The week of the change to summer time is an hour short; it still ends on Monday 00:00, Paris.
    spring = digest_week(datetime(2026, 3, 25, 12, 0, tzinfo=timezone.utc))
    assert spring.label == "2026-W13"
    assert spring.ends_at.astimezone(timezone.utc) - spring.starts_at.astimezone(timezone.utc) == timedelta(hours=167)


# --- the schedule follows the policy --------------------------------------------------------

def _policy(weekday: int, hour: int) -> Policy:
    return Policy(accompaniment=AccompanimentPolicy(digest_weekday=weekday, digest_hour=hour))


async def test_the_schedule_spec_matches_the_policy(local_env):
    client: Client = local_env.client
    settings = Settings(task_queue=f"digest-spec-{uuid.uuid4().hex[:8]}")
    schedule_id = f"weekly-digest-spec-{uuid.uuid4().hex[:8]}"
    handle = client.get_schedule_handle(schedule_id)
    try:
        assert await ensure_weekly_digest_schedule(client, settings, _policy(3, 18), schedule_id) == "created"
        described = await handle.describe()
        [calendar] = described.schedule.spec.calendars
        assert list(calendar.day_of_week) == [ScheduleRange(3)]  # Wednesday (Temporal: 0 = Sunday)
        assert list(calendar.hour) == [ScheduleRange(18)]
        assert list(calendar.minute) == [ScheduleRange(0)]
        assert described.schedule.spec.time_zone_name == "Europe/Paris"
        assert described.schedule.policy.overlap is ScheduleOverlapPolicy.SKIP
        assert described.schedule.policy.catchup_window == timedelta(days=1)
        action = described.schedule.action
        assert isinstance(action, ScheduleActionStartWorkflow)
        assert (action.workflow, action.task_queue) == ("WeeklyDigest", settings.task_queue)
        for moment in described.info.next_action_times[:3]:
            local = moment.astimezone(PARIS)
            assert (local.isoweekday(), local.hour, local.minute) == (3, 18, 0)

        # Same policy: nothing to do. Another one: the schedule follows; a pause is kept.
        assert await ensure_weekly_digest_schedule(client, settings, _policy(3, 18), schedule_id) == "unchanged"
        await handle.pause(note="pause décidée par l'administrateur")
        assert await ensure_weekly_digest_schedule(client, settings, _policy(7, 6), schedule_id) == "updated"
        described = await handle.describe()
        [calendar] = described.schedule.spec.calendars
        assert (list(calendar.day_of_week), list(calendar.hour)) == ([ScheduleRange(0)], [ScheduleRange(6)])
        assert described.schedule.state.paused
        await handle.unpause()
        local = (await handle.describe()).info.next_action_times[0].astimezone(PARIS)
        assert (local.isoweekday(), local.hour) == (7, 6)
    finally:
        await handle.delete()


async def test_two_workers_starting_at_once_ensure_one_schedule(local_env):
    client: Client = local_env.client
    settings = Settings(task_queue="digest-race")
    schedule_id = f"weekly-digest-race-{uuid.uuid4().hex[:8]}"
    try:
        results = await asyncio.gather(*(ensure_weekly_digest_schedule(client, settings, NATIONAL_DEFAULTS, schedule_id)
                                         for _ in range(2)))
        assert sorted(results) == ["created", "unchanged"]
    finally:
        await client.get_schedule_handle(schedule_id).delete()


# --- the digest, end to end -----------------------------------------------------------------

def _seed(settings, platform, now: datetime) -> dict[str, str]:
    """c1's caseload with something in every section, and what must stay out of the mail."""
    week = digest_week(now)
    today = week.day
    two_months_ago = Duration.parse("P2M").before(datetime.combine(today, datetime.min.time())).date()
    ids = {name: f"J-DIGEST-{name.upper()}-{uuid.uuid4().hex[:6]}" for name in ("alice", "bruno", "chloe", "denis")}
    with session_scope(settings.db_url) as session:
        def journey(name: str, first: str, last: str, state: str, **facts) -> None:
            facts = {"admitted_on": today - timedelta(days=150), **facts}
            session.add(Journey(id=ids[name], platform_id=platform.platform_id, state=state, channel="cdaph",
                                situation="seeking", prescribed_on=today - timedelta(days=200),
                                counsellor_id=platform.counsellor, **facts))
            session.add(Person(journey_id=ids[name], first_name=first, last_name=last, birth_date=date(1990, 5, 17)))

        # Alice: interview due in 5 days, contacted three days ago.
        journey("alice", "Alice", "Martin", "accompaniment", next_interview_due=today + timedelta(days=5),
                last_contact_on=today - timedelta(days=3))
        # Bruno: no contact for two months, interview far away.
        journey("bruno", "Bruno", "Lefort", "accompaniment", next_interview_due=today + timedelta(days=60),
                last_contact_on=two_months_ago)
        # Chloé: in veille — neither an interview nor a contact is expected (R12, R14).
        journey("chloe", "Chloé", "Vasseur", "veille", next_interview_due=today,
                last_contact_on=today - timedelta(days=120))
        # Denis: relaunched, never reached since his admission six weeks ago.
        journey("denis", "Denis", "Roux", "relaunch", admitted_on=today - timedelta(days=42),
                next_interview_due=today + timedelta(days=80))
        session.flush()

        def task(title: str, due_at: datetime, status: str = "open", assignee: str = platform.counsellor) -> None:
            session.add(Task(id=f"T-DIGEST-{uuid.uuid4().hex[:10]}", journey_id=ids["alice"],
                             platform_id=platform.platform_id, kind="shared_evaluation", title=title,
                             status=status, assignee_id=assignee, due_at=due_at))

        task("Rédiger la convention individuelle", now + (week.ends_at - now) / 2)  # this week
        task("Évaluation partagée de la situation", now - timedelta(days=2))  # overdue
        task("Tâche de la semaine prochaine", week.ends_at + timedelta(days=1))
        task("Tâche déjà faite", now - timedelta(days=1), status="done")
        # A counsellor who left keeps an overdue task: no digest for them.
        gone = f"U-GONE-{uuid.uuid4().hex[:6]}"
        session.add(User(id=gone, email=f"{gone.lower()}@test.fr", role="counsellor",
                         platform_id=platform.platform_id, password_hash="x", active=False))
        session.flush()
        task("Tâche d'un conseiller parti", now - timedelta(days=3), assignee=gone)
    return ids


async def _started(handle) -> set[tuple[str, str]]:
    return {(a.action.workflow_id, a.action.first_execution_run_id)
            for a in (await handle.describe()).info.recent_actions}


async def _run_of_next_action(client: Client, handle, known: set[tuple[str, str]],
                              timeout: float = 20.0) -> DigestReport:
    """Wait for the schedule's next action (a run not in `known`) and return its result."""
    for _ in range(int(timeout / 0.1)):
        new = await _started(handle) - known
        if new:
            [(workflow_id, run_id)] = new
            known.add((workflow_id, run_id))
            return await client.get_workflow_handle(workflow_id, run_id=run_id, result_type=DigestReport).result()
        await asyncio.sleep(0.1)
    raise AssertionError("the schedule started nothing")


async def test_weekly_digest_sections_once_a_week(api, local_env, settings, platform, smtp_server):
    client: Client = local_env.client
    now = datetime.now(timezone.utc)
    week = digest_week(now)
    if week.ends_at - now < timedelta(minutes=2):
        # 'This week' would move under the test: start it in the next one (a wait of two minutes at most).
        await asyncio.sleep((week.ends_at - now).total_seconds() + 1)
        now = datetime.now(timezone.utc)
        week = digest_week(now)
    ids = _seed(settings, platform, now)
    assert await ensure_weekly_digest_schedule(client, settings, NATIONAL_DEFAULTS) in ("created", "updated")
    handle = client.get_schedule_handle(WEEKLY_DIGEST_SCHEDULE_ID)
    known = await _started(handle)
    try:
        await handle.trigger()
        report = await _run_of_next_action(client, handle, known)
        assert report.week == week.label
        assert report.outcomes == {platform.counsellor: DigestOutcome.SENT,
                                   platform.counsellor2: DigestOutcome.NOTHING_TO_REPORT}

        [mail] = await smtp_server.wait_for(1, timeout=10)
        assert mail["To"] == "c1@test.fr"
        assert mail["X-Eaflow-Key"] == f"digest/{week.label}/{platform.counsellor}"
        monday = week.starts_at.date()
        assert mail["Subject"] == (f"Votre point de la semaine {week.number} "
                                   f"(du {monday:%d/%m/%Y} au {monday + timedelta(days=6):%d/%m/%Y})")
        body = mail.get_content()
        sections = ["TÂCHES EN RETARD (1)", "TÂCHES À FAIRE CETTE SEMAINE (1)",
                    "ENTRETIENS TRIMESTRIELS À TENIR (1)", "PERSONNES SANS CONTACT DEPUIS LONGTEMPS (2)"]
        positions = [body.index(title) for title in sections]
        assert positions == sorted(positions)
        overdue, this_week, interviews, silent = (
            body[start:end] for start, end in zip(positions, positions[1:] + [len(body)]))
        assert "Évaluation partagée de la situation – Alice M." in overdue
        assert "Rédiger la convention individuelle – Alice M." in this_week
        assert f"Alice M. – entretien à tenir au plus tard le {week.day + timedelta(days=5):%d/%m/%Y}" in interviews
        assert f"http://test/api/v1/journeys/{ids['alice']}" in interviews
        two_months_ago = Duration.parse("P2M").before(datetime.combine(week.day, datetime.min.time())).date()
        assert f"Bruno L. – dernier contact le {two_months_ago:%d/%m/%Y}" in silent
        assert f"Denis R. – aucun contact depuis son admission le {week.day - timedelta(days=42):%d/%m/%Y}" in silent
        assert "/api/v1/tasks/T-DIGEST-" in overdue
        # Out of the mail: next week's task, a done task, the veille, the counsellor who left.
        for absent in ("semaine prochaine", "déjà faite", "Chloé", "conseiller parti"):
            assert absent not in body
        # R22: first name and initial only, no birth date.
        for absent in ("Martin", "Lefort", "Roux", "1990", "17/05"):
            assert absent not in body
        assert "vous" in body and "Bien cordialement" in body

        # The link in the mail is the journey, for its counsellor.
        response = await api.request("GET", f"/api/v1/journeys/{ids['alice']}", "c1@test.fr")
        assert response.status_code == 200, response.text

        # The schedule fires again the same week: the outbox already holds the digest.
        await handle.trigger()
        again = await _run_of_next_action(client, handle, known)
        assert again.outcomes == {platform.counsellor: DigestOutcome.ALREADY_SENT,
                                  platform.counsellor2: DigestOutcome.NOTHING_TO_REPORT}
        await asyncio.sleep(0.5)
        assert len(smtp_server.messages) == 1
        with session_scope(settings.db_url) as session:
            rows = session.exec(select(MailOutbox).where(MailOutbox.kind == "weekly_digest")).all()
            assert [(r.idempotency_key, r.status) for r in rows] == [
                (f"digest/{week.label}/{platform.counsellor}", "sent")]
    finally:
        await handle.delete()
