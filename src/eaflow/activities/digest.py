"""The weekly digest's activities: who gets one, what it holds, and its delivery through the outbox.

One counsellor's digest has four sections, counted from the schedule's action time `at`:
- overdue: their open tasks whose due date has passed;
- due this week: their open tasks due from `at` to the end of the ISO week (Monday–Sunday, Paris);
- interviews (R12): their journeys whose next quarterly interview is due within the policy's
  `interview_lead` of the digest's day, or is already past (none during a veille: its clock stops);
- without contact (R13): their journeys in accompaniment or relaunch that no contact reached for
  longer than the policy's `without_contact_after` (since the last contact, or since admission when
  there was none). No contact is expected during a veille (R14): those are left out.

A counsellor with nothing in any section gets no mail: a digest that says "rien à signaler" every
week teaches its reader to skip it.

R22: the mail names the persons of the counsellor's own caseload by first name and initial of the
last name, with a link to the journey; never a birth date, a contact detail or health data.
"""
from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from typing import Any, Callable
from zoneinfo import ZoneInfo

from sqlmodel import Session, select
from temporalio import activity

from eaflow.activities.registry import _heartbeating
from eaflow.durations import Duration
from eaflow.notifications.outbox import STATUS_SENT, deliver
from eaflow.policy import AccompanimentPolicy, load_policy
from eaflow.settings import Settings
from eaflow.store.db import session_scope
from eaflow.store.models import Journey, MailOutbox, Person, Platform, Task, User
from eaflow.workflows.digest import DigestOutcome, DigestPlan, DigestRequest
from eaflow.workflows.types import JourneyState

PARIS = ZoneInfo("Europe/Paris")
MAIL_KIND = "weekly_digest"
# R12: no interview is due while the clock is stopped (veille) or once the journey is closed.
NO_INTERVIEW_STATES = {JourneyState.veille, JourneyState.exited, JourneyState.transferred, JourneyState.refused}
# R13/R14: a contact is expected while the person is accompanied or relaunched; not during a veille.
CONTACT_EXPECTED_STATES = {JourneyState.accompaniment, JourneyState.relaunch}


@dataclass(frozen=True)
class DigestWeek:
    label: str  # ISO week, "2026-W48"
    number: int
    day: date  # the digest's day, Paris time
    starts_at: datetime  # Monday 00:00, Paris time
    ends_at: datetime  # the next Monday 00:00, Paris time


def digest_week(at: datetime) -> DigestWeek:
    """The ISO week (Monday–Sunday, Paris time) of the instant `at`."""
    day = at.astimezone(PARIS).date()
    year, number, weekday = day.isocalendar()
    monday = day - timedelta(days=weekday - 1)
    return DigestWeek(
        label=f"{year}-W{number:02d}", number=number, day=day,
        starts_at=datetime.combine(monday, time(), PARIS),
        ends_at=datetime.combine(monday + timedelta(days=7), time(), PARIS),
    )


def _utc(moment: datetime) -> datetime:
    """UTC, as the store keeps timestamps (SQLite hands them back naive)."""
    return moment.replace(tzinfo=timezone.utc) if moment.tzinfo is None else moment.astimezone(timezone.utc)


def person_display(person: Person | None, journey_id: str) -> str:
    """R22: 'Camille D.' — enough for the counsellor to recognise a person of their caseload."""
    if person is None:
        return f"parcours {journey_id}"
    return f"{person.first_name} {person.last_name[:1]}.".strip()


def journey_url(settings: Settings, journey_id: str) -> str:
    return f"{settings.public_url}/api/v1/journeys/{journey_id}"


def task_url(settings: Settings, task_id: str) -> str:
    return f"{settings.public_url}/api/v1/tasks/{task_id}"


def active_counsellors(session: Session) -> list[str]:
    return list(session.exec(select(User.id).where(
        User.role == "counsellor", User.active == True, User.platform_id.is_not(None)  # noqa: E712
    ).order_by(User.id)).all())


def gather(session: Session, settings: Settings, policy: AccompanimentPolicy, counsellor: User,
           at: datetime) -> dict[str, Any]:
    """The four sections of one counsellor's digest, and the dates they are counted from."""
    week = digest_week(at)
    now = _utc(at)
    tasks = session.exec(select(Task).where(
        Task.assignee_id == counsellor.id, Task.status == "open", Task.due_at.is_not(None),
        Task.due_at < _utc(week.ends_at),
    ).order_by(Task.due_at, Task.id)).all()
    journeys = session.exec(select(Journey).where(Journey.counsellor_id == counsellor.id).order_by(Journey.id)).all()
    people = {p.journey_id: p for p in session.exec(
        select(Person).where(Person.journey_id.in_({t.journey_id for t in tasks} | {j.id for j in journeys}))).all()}

    def task_item(task: Task) -> dict[str, Any]:
        return {"title": task.title, "due_on": _utc(task.due_at), "url": task_url(settings, task.id),
                "person": person_display(people.get(task.journey_id), task.journey_id)}

    def journey_item(journey: Journey, **facts: Any) -> dict[str, Any]:
        return {"person": person_display(people.get(journey.id), journey.id),
                "url": journey_url(settings, journey.id), **facts}

    horizon = Duration.parse(policy.interview_lead).from_date(week.day)
    interviews = sorted(
        (j for j in journeys if j.state not in NO_INTERVIEW_STATES and j.next_interview_due is not None
         and j.next_interview_due <= horizon),
        key=lambda j: (j.next_interview_due, j.id))
    cutoff = Duration.parse(policy.without_contact_after).before(datetime.combine(week.day, time())).date()
    silent = sorted(
        (j for j in journeys if j.state in CONTACT_EXPECTED_STATES and _last_reached(j) is not None
         and _last_reached(j) < cutoff),
        key=lambda j: (_last_reached(j), j.id))
    return {
        "week_number": week.number,
        "week_start": week.starts_at.date(),
        "week_end": week.ends_at.date() - timedelta(days=1),
        "overdue": [task_item(t) for t in tasks if _utc(t.due_at) < now],
        "due_this_week": [task_item(t) for t in tasks if _utc(t.due_at) >= now],
        "interview_horizon": horizon,
        "interviews": [journey_item(j, due_on=j.next_interview_due, overdue=j.next_interview_due < week.day)
                       for j in interviews],
        "contact_cutoff": cutoff,
        "without_contact": [journey_item(j, last_contact_on=j.last_contact_on, admitted_on=j.admitted_on)
                            for j in silent],
    }


def _last_reached(journey: Journey) -> date | None:
    """The last day a contact reached the person; their admission when none did yet."""
    return journey.last_contact_on or journey.admitted_on


def is_empty(sections: dict[str, Any]) -> bool:
    return not any(sections[name] for name in ("overdue", "due_this_week", "interviews", "without_contact"))


class DigestActivities:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    async def _read(self, work: Callable[..., Any], *args: Any) -> Any:
        def run() -> Any:
            with session_scope(self.settings.db_url, self.settings.db_busy_timeout_seconds) as session:
                return work(session, *args)

        return await asyncio.to_thread(run)

    @activity.defn(name="plan_weekly_digest")
    async def plan_weekly_digest(self, at: datetime) -> DigestPlan:
        """The ISO week of `at` (Paris time) and the active counsellors of every platform."""
        return DigestPlan(week=digest_week(at).label, counsellor_ids=await self._read(active_counsellors))

    @activity.defn(name="send_weekly_digest")
    async def send_weekly_digest(self, request: DigestRequest) -> str:
        """Send one counsellor their digest once per key; nothing when there is nothing to report."""
        async with _heartbeating():
            policy = load_policy(self.settings.policy_file).accompaniment

            def collect(session: Session) -> tuple[str, dict[str, Any]] | str:
                sent = session.exec(select(MailOutbox.status).where(
                    MailOutbox.idempotency_key == request.key)).first()
                if sent == STATUS_SENT:
                    return DigestOutcome.ALREADY_SENT
                counsellor = session.get(User, request.counsellor_id)
                if counsellor is None or not counsellor.active or counsellor.role != "counsellor":
                    return DigestOutcome.NOT_A_COUNSELLOR
                sections = gather(session, self.settings, policy, counsellor, request.at)
                if is_empty(sections):
                    return DigestOutcome.NOTHING_TO_REPORT
                platform = session.get(Platform, counsellor.platform_id) if counsellor.platform_id else None
                params = {**sections, "counsellor_name": counsellor.display_name or counsellor.email,
                          **({"platform_name": platform.name} if platform else {})}
                return counsellor.email, params

            found = await self._read(collect)
            if isinstance(found, str):
                return found
            to, params = found
            await deliver(self.settings, key=request.key, kind=MAIL_KIND, to=to, params=params)
            return DigestOutcome.SENT

    def all(self) -> list[Callable]:
        return [self.plan_weekly_digest, self.send_weekly_digest]
