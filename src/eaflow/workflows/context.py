"""What every procedure of a journey shares: its state, and the steps written once.

Open a task for a step, wait for it with reminders, trace a step, notify, move the journey along
the transition table, apply a task completion, and continue as new before the history grows
large. Workflow code only (imported inside the journey workflow's sandbox).
"""
from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from typing import Awaitable, Callable

from temporalio import workflow
from temporalio.exceptions import ApplicationError

from eaflow.durations import Duration
from eaflow.policy import Policy
from eaflow.workflows import steps, transitions
from eaflow.workflows.task_kinds import TASK_KINDS
from eaflow.workflows.types import (
    ContactFacts,
    ContactFromTask,
    JourneyInput,
    JourneySnapshot,
    JourneyState,
    Notification,
    StepRecord,
    TaskClosure,
    TaskCompletion,
    TaskSpec,
    TaskView,
)

# Completed tasks kept in the snapshot so that a completion retried after continue-as-new is still
# recognised (update ids deduplicate within one run only).
KEEP_DONE_TASKS = 50
_ZERO = timedelta(0)
# The accompaniment's runs also end by age (policy `workflow.run_at_most`); journeys that began
# their run before this shipped keep going until their history is long.
RUN_AGE_PATCH = "run-at-most"


class JourneyContext:
    def __init__(self, inp: JourneyInput) -> None:
        self.inp = inp
        self.policy: Policy = inp.policy
        self.s: JourneySnapshot = inp.snapshot.model_copy(deep=True) if inp.snapshot else JourneySnapshot()
        # Loops running side by side (`together`) and how many of them wait to continue as new.
        self._loops = 1
        self._parked = 0
        self._continuing = False
        self.resume_requested = False  # a `resume` signal: continue as new now, into the current code
        # The contacts as last read (R13), shared by the procedures that look at them at one moment.
        self._contacts: tuple[int, ContactFacts] | None = None
        self.contacts_version = 0  # bumped whenever the contacts may have changed
        self.run_started = workflow.now()
        self._run_ends_at: datetime | None = None  # set by `together` (RUN_AGE_PATCH)
        self._beside: list[asyncio.Task] = []  # loops started with `beside`

    @property
    def journey_id(self) -> str:
        return self.inp.journey_id

    def enter(self, state: JourneyState) -> None:
        if not transitions.allowed(self.s.state, state):
            # A bug, not a user error: failing the workflow task keeps the journey intact until fixed.
            raise RuntimeError(f"transition {self.s.state.value} -> {state.value} is not in the table")
        self.s.state = state
        self.s.transitions += 1

    # ------------------------------------------------------------------ tasks

    async def open_task(self, kind: str, *, due: str, sort_key: str | None = None, step: str | None = None,
                        context: dict | None = None, title: str | None = None,
                        to_team: str | None = None) -> TaskView:
        """Open the task of a step once: after continue-as-new the step finds its task again,
        open or already done (a completion that landed just before the continue-as-new). `title`:
        the inbox's title when it says more than the kind's (e.g. an attempt's channel). `to_team`: a
        role whose team inbox gets the task, unassigned, instead of the kind's usual recipient (a
        counsellor's task while the journey has no counsellor yet)."""
        step = step or kind
        for task in self.s.tasks.values():
            if task.status == "cancelled":
                continue
            if task.step == step or (not task.step and task.kind == kind and task.status != "done"):
                return task  # (snapshots from before steps were recorded match by kind)
        spec = TASK_KINDS[kind]
        self.s.task_seq += 1
        now = workflow.now()
        assignee = self.s.counsellor_id if spec.assigned_to_counsellor and to_team is None else None
        role = to_team or spec.candidate_role
        task = TaskView(
            id=f"{self.journey_id}-t{self.s.task_seq}", kind=kind, step=step, assignee_id=assignee,
            candidate_role=role, created_at=now,
        )
        # Known to the workflow before the inbox shows it: a completion can never arrive first.
        self.s.tasks[task.id] = task
        await steps.open_task(TaskSpec(
            id=task.id, journey_id=self.journey_id, platform_id=self.inp.platform_id, kind=kind,
            title=title or spec.title, assignee_id=assignee, candidate_role=role, created_at=now,
            due_at=Duration.parse(due).after(now), sort_key=sort_key, context=context or {},
        ))
        return task

    async def until_done(self, task: TaskView, every: str, reminder_kind: str, recipients: list[str], *,
                         beside: bool = False) -> TaskView:
        """Wait for a task, reminding its recipients every `every` until it is done (`beside`: from a
        loop started with `beside`)."""
        interval = Duration.parse(every)
        task = self.s.tasks[task.id]
        while task.status != "done":
            await self.continue_as_new_if_due(beside=beside)
            now = workflow.now()
            if task.next_reminder_at is None:
                task.next_reminder_at = interval.after(task.created_at or now)
            try:
                await workflow.wait_condition(
                    lambda: task.status == "done" or self.history_is_long(),
                    timeout=max(task.next_reminder_at - now, _ZERO),
                )
            except asyncio.TimeoutError:
                if task.status == "done":
                    break
                task.reminders_sent += 1
                task.next_reminder_at = interval.after(task.next_reminder_at)
                await self.notify(
                    f"{task.id}/reminder-{task.reminders_sent}", reminder_kind,
                    [f"user:{task.assignee_id}" if r == "assignee" else r for r in recipients],
                    task_id=task.id, reminder_number=task.reminders_sent,
                )
        return task

    async def complete(self, completion: TaskCompletion,
                       apply: Callable[[TaskView, TaskCompletion], Awaitable[None]]) -> dict:
        """Apply a completion once; a duplicate shares the first result, a different one is refused."""
        task = self.s.tasks[completion.task_id]
        if task.status == "completing" and task.outcome_hash == completion.outcome_hash:
            # The same completion delivered twice while the first is applied: share its result.
            await workflow.wait_condition(lambda: task.status != "completing")
        if task.status == "done":
            return task.result or {}
        if task.status != "open":
            raise ApplicationError("Cette tâche est déjà en cours de traitement.", type="Conflict")
        task.status, task.outcome_hash = "completing", completion.outcome_hash
        try:
            await apply(task, completion)
        except ApplicationError:
            task.status, task.outcome_hash = "open", None
            raise
        now = workflow.now()
        await steps.close_task(TaskClosure(
            task_id=task.id, journey_id=self.journey_id, status="done", outcome=completion.outcome,
            outcome_hash=completion.outcome_hash, completed_by=completion.actor_id, completed_at=now,
        ))
        task.status, task.outcome = "done", completion.outcome
        task.result = {"task_id": task.id, "status": "done", "completed_by": completion.actor_id,
                       "completed_at": now.isoformat()}
        self._forget_old_tasks()
        return task.result

    async def cancel_task(self, task: TaskView) -> None:
        """Close a task nobody needs any more (its step was overtaken): it leaves the inbox."""
        if task.status != "open":
            return
        task.status = "cancelled"
        await steps.close_task(TaskClosure(
            task_id=task.id, journey_id=self.journey_id, status="cancelled", completed_at=workflow.now(),
        ))

    def open_task_of(self, step: str) -> TaskView | None:
        return next((t for t in self.s.tasks.values() if t.step == step and t.status == "open"), None)

    def _forget_old_tasks(self) -> None:
        done = [t for t in self.s.tasks.values() if t.status in ("done", "cancelled")]
        for task in done[:-KEEP_DONE_TASKS]:
            del self.s.tasks[task.id]

    # ------------------------------------------------------------------ contacts (R13)

    async def contact_facts(self) -> ContactFacts:
        """What the contacts say, read from the database. The procedures told of the same change (the
        rhythm and the relaunch) share one reading; `contacts_may_have_changed` makes the next one fresh
        (a deadline looks again: a change's nudge may still be on its way)."""
        if self._contacts is not None and self._contacts[0] == self.contacts_version:
            return self._contacts[1]
        facts = await steps.contact_facts(self.journey_id)
        self._contacts = (self.contacts_version, facts)
        return facts

    def contacts_may_have_changed(self) -> None:
        self.contacts_version += 1

    async def record_contact(self, contact: ContactFromTask) -> None:
        facts = await steps.record_contact_from_task(contact)
        self.contacts_may_have_changed()
        if facts is not None:  # read in the same transaction: the procedures told next share it
            self._contacts = (self.contacts_version, facts)

    # ------------------------------------------------------------------ trace and mail

    async def record(self, step: str, action: str, *, fields: dict | None = None, detail: dict | None = None,
                     actor: dict | None = None, with_state: bool = True) -> None:
        """`with_state=False`: a step of a loop `beside` the journey, which does not move it and must not
        write over the state that a step of the journey recorded meanwhile."""
        actor_id = (actor or {}).get("completed_by")
        await steps.record(StepRecord(
            journey_id=self.journey_id, step_key=f"{self.journey_id}/{step}", action=action,
            state=self.s.state.value if with_state else None, fields=fields or {}, actor_kind="user" if actor_id else "system",
            actor_id=actor_id, detail=detail or {}, at=workflow.now(),
        ))

    async def notify(self, step: str, kind: str, recipients: list[str], *, attachments: list[str] | None = None,
                     **params) -> None:
        await steps.notify(Notification(
            key=f"{self.journey_id}/{step}", kind=kind, journey_id=self.journey_id,
            recipients=recipients, params=params, **({"attachments": attachments} if attachments else {}),
        ))

    # ------------------------------------------------------------------ years-long life

    def history_is_long(self) -> bool:
        """Time to continue as new: the history is long, a resume was asked, or the journey has closed
        (every loop then stops at a safe point, and the next run ends at once)."""
        info = workflow.info()
        return (self.resume_requested or self.s.state in (JourneyState.exited, JourneyState.transferred)
                or info.get_current_history_length() >= self.policy.workflow.history_event_limit
                or info.is_continue_as_new_suggested()
                or (self._run_ends_at is not None and workflow.now() >= self._run_ends_at))

    async def on_deadlines(self, changes: Callable[[], int], next_wake: Callable[[], datetime | None],
                           reached: Callable[[], Awaitable[None]], *, follow_state: bool = False,
                           state_changed: Callable[[], Awaitable[None]] | None = None,
                           beside: bool = False) -> None:
        """A procedure's loop, forever: continue as new when due, then wait for its next deadline
        (`reached` is called), for a change it is told of (`changes()` moves: it looks again), or, when
        it `follow_state`, for a change of the journey's state (`state_changed`, if given, is called).
        `beside`: a loop started with `beside`, which parks but leaves the continue-as-new to the main flow."""
        while True:
            await self.continue_as_new_if_due(beside=beside)
            seen, moved, wake = changes(), self.s.transitions, next_wake()
            timeout = None if wake is None else max(wake - workflow.now(), _ZERO)
            try:
                await workflow.wait_condition(
                    lambda: changes() != seen or (follow_state and self.s.transitions != moved)
                    or self.history_is_long(), timeout=timeout)
            except asyncio.TimeoutError:
                await reached()
            else:
                if follow_state and self.s.transitions != moved and state_changed is not None:
                    await state_changed()

    async def together(self, *loops: Awaitable[None]) -> None:
        """Run loops side by side (each waits on its own deadlines). Every loop calls
        `continue_as_new_if_due` at the top of each turn, where it holds nothing half done."""

        async def counted(loop: Awaitable[None]) -> None:
            try:
                await loop
            finally:
                self._loops -= 1

        if workflow.patched(RUN_AGE_PATCH):
            self._run_ends_at = Duration.parse(self.policy.workflow.run_at_most).after(self.run_started)
            loops += (self._end_run_by_age(),)
        self._loops += len(loops) - 1
        await asyncio.gather(*(counted(loop) for loop in loops))
        self._loops += 1

    async def _end_run_by_age(self) -> None:
        """One timer for the run's age: once it fires, every loop sees `history_is_long` and parks."""
        while True:
            try:
                await workflow.wait_condition(self.history_is_long,
                                              timeout=max(self._run_ends_at - workflow.now(), _ZERO))
            except asyncio.TimeoutError:
                pass
            await self.continue_as_new_if_due()

    def beside(self, loop: Awaitable[None]) -> asyncio.Task:
        """Run a loop beside the journey's procedures, whatever they are, until it ends (the R2 CDAPH
        information of a SPE prescription). It parks at continue-as-new like the others but never
        continues as new itself: the continue-as-new must be raised in the workflow's main flow."""

        async def counted() -> None:
            try:
                await loop
            finally:
                self._loops -= 1

        self._loops += 1
        task = asyncio.create_task(counted())
        self._beside.append(task)  # a reference, so that the task is not collected
        return task

    async def continue_as_new_if_due(self, *, beside: bool = False) -> None:
        """Continue as new once the history is long, when every loop has reached this point: a loop
        in the middle of a step (a task half opened) would otherwise lose that step."""
        if not self.history_is_long():
            return
        self._parked += 1
        await workflow.wait_condition(lambda: self._parked >= self._loops)
        if self._continuing or beside:
            await workflow.wait_condition(lambda: False)  # another loop continues as new for all
        self._continuing = True
        policy = Policy.model_validate(await steps.current_policy())
        # No await between the last handler finishing and the continue-as-new: an update admitted
        # meanwhile would otherwise be cut off half-applied.
        await workflow.wait_condition(workflow.all_handlers_finished)
        self.s.continued_runs += 1
        workflow.continue_as_new(JourneyInput(
            journey_id=self.journey_id, platform_id=self.inp.platform_id, facts=self.inp.facts,
            policy=policy, snapshot=self.s,
        ))
