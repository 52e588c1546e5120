"""The accompaniment's rhythm (§IV.A, §V.B.3–4 of the cahier des charges), read top to bottom.

R12: every person has an interview with the counsellor at least once a quarter, outside veille.
The journey knows when the next one is due (the policy's `interview_every` after the last
interview, or after the accompaniment began). The policy's `interview_lead` before that day the
counsellor gets a `plan_interview` task and a mail; once the day has passed with no interview, the
managers get an `interview_overdue` alert and a mail. An interview recorded at any time, through
the contacts or as that task's outcome, moves the deadline. During a veille the clock stops, and it
restarts at reactivation with the time that was left (R14 calls `stop_clock` and `restart_clock`).

Contacts live in the database (R13): the journey re-reads them whenever it is told they changed
and again before each deadline, so a nudge still on its way (eaflow/nudges.py) never raises a false alarm
nor hides a real one.
"""
from __future__ import annotations

import asyncio
from datetime import date, datetime, timedelta, timezone

from temporalio import workflow

from eaflow.durations import Duration
from eaflow.workflows.context import JourneyContext
from eaflow.workflows.types import ContactFacts, ContactFromTask, TaskCompletion, TaskView



def start_of(day: date) -> datetime:
    """Deadlines fall at midnight UTC of their day (workflow time is UTC)."""
    return datetime(day.year, day.month, day.day, tzinfo=timezone.utc)


class RhythmProcedure:
    TASK_KINDS = frozenset({"plan_interview", "interview_overdue"})

    def __init__(self, ctx: JourneyContext) -> None:
        self.ctx = ctx
        self._lock = asyncio.Lock()  # the loop and the contacts_changed handler both re-read contacts

    @property
    def r(self):
        return self.ctx.s.rhythm

    @property
    def every(self) -> Duration:
        return Duration.parse(self.ctx.policy.accompaniment.interview_every)

    @property
    def lead(self) -> Duration:
        return Duration.parse(self.ctx.policy.accompaniment.interview_lead)

    async def run(self) -> None:
        ctx, r = self.ctx, self.r
        if r.started_on is None:
            r.started_on = ctx.s.convention.signed_on or workflow.now().date()
            await self.refresh()
        await ctx.on_deadlines(lambda: r.nudges, self.next_wake, self.r12_deadline_reached)

    # ------------------------------------------------------------------ R12

    def next_wake(self) -> datetime | None:
        r = self.r
        if r.due is None or r.stopped_on is not None:
            return None
        if r.planned_for != r.due:
            return start_of(self.lead.before(start_of(r.due)).date())
        if r.alerted_for != r.due:
            return start_of(r.due + timedelta(days=1))
        return None

    async def r12_deadline_reached(self) -> None:
        """Re-read the contacts first: an interview recorded meanwhile moves the deadline instead."""
        ctx, r = self.ctx, self.r
        ctx.contacts_may_have_changed()  # look again: a nudge may still be on its way
        async with self._lock:
            await self._refresh()
            wake = self.next_wake()
            if wake is None or workflow.now() < wake:
                return
            if r.planned_for != r.due:
                r.planned_for = r.due
                task = await ctx.open_task("plan_interview", due=self._until(r.due), step=f"interview-plan-{r.due}")
                await ctx.notify(f"interview/{r.due}/plan", "interview_to_plan", ["counsellor"], task_id=task.id,
                                 interview_due_on=r.due.isoformat())
            else:
                r.alerted_for = r.due
                task = await ctx.open_task("interview_overdue", due="P7D", step=f"interview-overdue-{r.due}")
                await ctx.notify(f"interview/{r.due}/overdue", "interview_overdue", ["platform"], task_id=task.id,
                                 interview_due_on=r.due.isoformat())
                await ctx.record(f"interview/{r.due}/overdue", "interview_overdue",
                                 detail={"rule": "R12", "due_on": r.due.isoformat()})

    def _until(self, due: date) -> str:
        """The plan task's due date, as a duration from now (the end of the deadline's day)."""
        seconds = max(int((start_of(due + timedelta(days=1)) - workflow.now()).total_seconds()), 0)
        return f"PT{seconds}S"

    async def refresh(self) -> date | None:
        async with self._lock:
            return await self._refresh()

    async def _refresh(self) -> date | None:
        """Read the contacts and move the deadline; tasks about an old deadline leave the inboxes."""
        ctx, r = self.ctx, self.r
        if r.started_on is None:
            return None  # the accompaniment has not begun: nothing is due yet
        facts: ContactFacts = await ctx.contact_facts()
        r.last_interview_on = facts.last_interview_on
        if r.stopped_on is not None:
            return r.due
        base = max(d for d in (r.started_on, facts.last_interview_on) if d is not None)
        due = self.every.from_date(base)
        if due != r.due:
            await self.move_deadline(due)
        return r.due

    async def move_deadline(self, due: date) -> None:
        ctx, r = self.ctx, self.r
        previous, r.due = r.due, due
        r.moves += 1
        for step in (f"interview-plan-{previous}", f"interview-overdue-{previous}"):
            task = ctx.open_task_of(step)
            if task is not None:
                await ctx.cancel_task(task)
        await ctx.record(f"interview/due-{r.moves}", "interview_due", fields={"next_interview_due": due.isoformat()},
                         detail={"rule": "R12", "due_on": due.isoformat(),
                                 "last_interview_on": r.last_interview_on.isoformat() if r.last_interview_on else None})

    # ------------------------------------------------------------------ the veille's hook (R14)

    async def stop_clock(self, on: date) -> None:
        """No interview is due during a veille: the deadline's open tasks leave the inboxes."""
        ctx, r = self.ctx, self.r
        if r.stopped_on is not None or r.due is None:
            return
        r.stopped_on, r.remaining_days = on, max((r.due - on).days, 0)
        for step in (f"interview-plan-{r.due}", f"interview-overdue-{r.due}"):
            task = ctx.open_task_of(step)
            if task is not None:
                await ctx.cancel_task(task)
        r.nudges += 1

    async def restart_clock(self, on: date) -> None:
        r = self.r
        if r.stopped_on is None:
            return
        remaining = r.remaining_days or 0
        r.stopped_on, r.remaining_days = None, None
        r.planned_for = r.alerted_for = None
        await self.move_deadline(on + timedelta(days=remaining))
        r.nudges += 1

    # ------------------------------------------------------------------ messages

    async def contacts_changed(self) -> dict:
        due = await self.refresh()
        self.r.nudges += 1
        return {"next_interview_due": due.isoformat() if due else None}

    def validate(self, task: TaskView, completion: TaskCompletion) -> None:
        pass  # the outcome's model says it all

    async def apply(self, task: TaskView, completion: TaskCompletion) -> None:
        if task.kind == "plan_interview":
            await self.ctx.record_contact(ContactFromTask(
                journey_id=self.ctx.journey_id, task_id=task.id, fields=completion.outcome,
                recorded_by=completion.actor_id))
            await self.refresh()
            self.r.nudges += 1
