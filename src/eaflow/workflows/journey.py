"""The journey of one beneficiary: one long-lived workflow per person (DOMAIN.md, "Journey states").

This module holds the entry part (§I.C, §II, §III of the cahier des charges): the prescription is
examined (R1–R5), a SPE prescription is brought to the CDAPH's knowledge (R2), the decision is
notified (R4), the person waits on the list in R6 order until a manager designates a counsellor
within capacity (R7, R8), and the counsellor does the shared evaluation (R9). The journey then
waits for the convention (a later procedure). It lives for years: its compact snapshot is carried
across continue-as-new, and nothing identifying the person travels in its payloads.
"""
from __future__ import annotations

import asyncio
from datetime import datetime

from temporalio import workflow
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    from eaflow.durations import Duration
    from eaflow.policy import Policy
    from eaflow.workflows import rules, steps, transitions
    from eaflow.workflows.task_kinds import TASK_KINDS, outcome_errors
    from eaflow.workflows.types import (
        AssignmentRequest,
        CounsellorChange,
        EvaluationRecord,
        IntakeAnswer,
        JourneyInput,
        JourneySnapshot,
        JourneyState,
        Notification,
        Situation,
        StepRecord,
        TaskClosure,
        TaskCompletion,
        TaskSpec,
        TaskView,
    )

# Completed tasks kept in the snapshot so that a completion retried after continue-as-new is still
# recognised (update ids deduplicate within one run only).
KEEP_DONE_TASKS = 50


@workflow.defn(name="Journey")
class JourneyWorkflow:
    @workflow.init
    def __init__(self, inp: JourneyInput) -> None:
        self.inp = inp
        self.policy: Policy = inp.policy
        self.s: JourneySnapshot = inp.snapshot.model_copy(deep=True) if inp.snapshot else JourneySnapshot()
        self._intake_answered = inp.snapshot is not None

    # ------------------------------------------------------------------ the journey, in order

    @workflow.run
    async def run(self, inp: JourneyInput) -> str:
        if self.s.state is JourneyState.prescribed:
            await self._r1_r5_examine_prescription()
            if self.s.state is JourneyState.refused:
                await workflow.wait_condition(workflow.all_handlers_finished)
                return self.s.state.value
        if self.s.state in (JourneyState.consent, JourneyState.cdaph_notified):
            if self.inp.facts.channel.is_spe and not self.s.cdaph_informed:
                await self._r2_bring_to_cdaph_knowledge()
            await self._r4_notify_entry_decision()
            await self._enter_waiting_list()
        if self.s.state is JourneyState.waiting_list:
            await self._r7_r8_admit_from_waiting_list()
        if self.s.state is JourneyState.admitted and not self.s.evaluation_done:
            await self._r9_shared_evaluation()
        # The convention comes next (a later procedure): wait, keeping the history small.
        while True:
            await self._continue_as_new_if_due()
            await workflow.wait_condition(self._history_is_long)

    async def _r1_r5_examine_prescription(self) -> None:
        facts = self.inp.facts
        refusal = rules.evaluate_intake(facts, workflow.now().date())
        if refusal:
            self._enter(JourneyState.refused)
            self.s.refusal = refusal
            reasons = [r.model_dump() for r in refusal]
            await self._record("intake", "intake_refused", fields={"refusal": reasons}, detail={"refusal": reasons})
            self._intake_answered = True
            await self._notify("intake-refused", "intake_refused", ["prescriber"], refusals=reasons)
            return
        self._enter(JourneyState.consent)
        await self._record(
            "intake", "intake_accepted",
            detail={"rules": ["R1", "R2", "R3", "R5"], "consent_by": facts.consent.by.value if facts.consent else None},
        )
        self._intake_answered = True

    async def _r2_bring_to_cdaph_knowledge(self) -> None:
        intake = self.policy.intake
        task = await self._open_task("notify_cdaph", due=intake.cdaph_notification_due)
        await self._notify("cdaph-needed", "cdaph_notification_needed", ["platform"], task_id=task.id)
        await self._until_done(task, intake.cdaph_reminder_every, "cdaph_notification_reminder", ["platform"])
        self.s.cdaph_informed = True
        self._enter(JourneyState.cdaph_notified)
        outcome = self.s.tasks[task.id].outcome or {}
        await self._record(
            "cdaph-informed", "cdaph_informed", actor=self.s.tasks[task.id].result,
            fields={"cdaph_informed_on": outcome.get("informed_on"), "cdaph_informed_how": outcome.get("how")},
            detail={"rule": "R2", **outcome},
        )

    async def _r4_notify_entry_decision(self) -> None:
        if self.s.entry_notified:
            return
        mails = [
            self._notify("entry-decision/person", "entry_decision_person", ["person"], waiting=True),
            self._notify("entry-decision/platform", "entry_decision_platform", ["platform"]),
        ]
        if self.inp.facts.situation is Situation.employed and self.inp.facts.has_employer:
            mails.append(self._notify("entry-decision/employer", "entry_decision_employer", ["employer"]))
        await asyncio.gather(*mails)
        self.s.entry_notified = True

    async def _enter_waiting_list(self) -> None:
        self._enter(JourneyState.waiting_list)
        facts = self.inp.facts
        await self._record(
            "waiting-list", "waiting_list_entered",
            fields={"waiting_key": rules.r6_waiting_list_key(facts.situation, facts.prescribed_on)},
            detail={"rule": "R6", "priority_group": rules.r6_priority_group(facts.situation)},
        )

    async def _r7_r8_admit_from_waiting_list(self) -> None:
        facts, waiting = self.inp.facts, self.policy.waiting_list
        task = await self._open_task(
            "assign_counsellor", due=waiting.assignment_due,
            sort_key=rules.r6_waiting_list_key(facts.situation, facts.prescribed_on),
        )
        await self._notify("assignment-needed", "assignment_needed", ["platform"], task_id=task.id)
        await self._until_done(task, waiting.assignment_reminder_every, "assignment_reminder", ["platform"])
        # The update handler has designated the counsellor, capacity checked atomically (R7, R8).
        now = workflow.now()
        self._enter(JourneyState.admitted)
        self.s.admitted_at = now
        await self._record(
            "admitted", "admitted", actor=self.s.tasks[task.id].result,
            fields={
                "admitted_on": now.date().isoformat(),
                "admission_delay_days": (now.date() - facts.prescribed_on).days,
                "counsellor_id": self.s.counsellor_id,
            },
            detail={"rules": ["R7", "R8"], "counsellor_id": self.s.counsellor_id},
        )
        await self._notify("admission/person", "admission_person", ["person"])

    async def _r9_shared_evaluation(self) -> None:
        admission = self.policy.admission
        task = await self._open_task("shared_evaluation", due=admission.shared_evaluation_due)
        await self._notify("admission/counsellor", "admission_counsellor", ["counsellor"], task_id=task.id)
        await self._until_done(task, admission.shared_evaluation_reminder_every, "task_reminder", ["assignee"])
        self.s.evaluation_done = True

    # ------------------------------------------------------------------ messages

    @workflow.query
    def snapshot(self) -> JourneySnapshot:
        return self.s

    @workflow.update
    async def intake_answer(self) -> IntakeAnswer:
        """Answered once the prescription is examined and the decision traced (R1–R5)."""
        await workflow.wait_condition(lambda: self._intake_answered)
        return IntakeAnswer(state=self.s.state, refusal=self.s.refusal)

    @workflow.update
    async def complete_task(self, completion: TaskCompletion) -> dict:
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
            await self._apply_outcome(task, completion)
        except ApplicationError:
            task.status, task.outcome_hash = "open", None
            raise
        now = workflow.now()
        await steps.close_task(TaskClosure(
            task_id=task.id, journey_id=self.inp.journey_id, status="done", outcome=completion.outcome,
            outcome_hash=completion.outcome_hash, completed_by=completion.actor_id, completed_at=now,
        ))
        task.status, task.outcome = "done", completion.outcome
        task.result = {"task_id": task.id, "status": "done", "completed_by": completion.actor_id,
                       "completed_at": now.isoformat()}
        self._forget_old_tasks()
        return task.result

    @complete_task.validator
    def _validate_completion(self, completion: TaskCompletion) -> None:
        task = self.s.tasks.get(completion.task_id)
        if task is None:
            raise ApplicationError("Tâche inconnue pour ce parcours.", type="NotFound")
        if task.status in ("done", "completing"):
            if task.outcome_hash == completion.outcome_hash:
                return
            raise ApplicationError("Cette tâche a déjà été complétée avec un autre résultat.", type="Conflict")
        if task.status != "open":
            raise ApplicationError("Cette tâche n'est plus ouverte.", type="Conflict")
        errors = outcome_errors(task.kind, completion.outcome)
        if errors:
            raise ApplicationError("Le résultat ne correspond pas à la tâche.", {"errors": errors}, type="InvalidOutcome")
        if task.kind == "assign_counsellor":
            self._validate_capacity(completion.facts.get("caseload"), completion.facts.get("fte"))

    @workflow.update
    async def change_counsellor(self, change: CounsellorChange) -> dict:
        """R8, R21: a change of counsellor is traced; the open tasks follow the person."""
        self.s.counsellor_changes += 1
        previous = self.s.counsellor_id
        await steps.assign_counsellor(AssignmentRequest(
            journey_id=self.inp.journey_id, counsellor_id=change.counsellor_id, actor_id=change.actor_id,
            step_key=f"{self.inp.journey_id}/counsellor-change-{self.s.counsellor_changes}",
            reason=change.reason, at=workflow.now(),
        ))
        self.s.counsellor_id = change.counsellor_id
        for task in self.s.tasks.values():
            if task.status == "open" and task.assignee_id == previous:
                task.assignee_id = change.counsellor_id
        await steps.reassign_open_tasks(self.inp.journey_id, previous, change.counsellor_id)
        return {"counsellor_id": change.counsellor_id, "previous": previous}

    @change_counsellor.validator
    def _validate_counsellor_change(self, change: CounsellorChange) -> None:
        if self.s.counsellor_id is None or self.s.state in (
            JourneyState.refused, JourneyState.exited, JourneyState.transferred
        ):
            raise ApplicationError(
                "Le parcours n'a pas de conseiller à remplacer : la désignation se fait à l'admission.",
                type="Conflict")
        if change.counsellor_id == self.s.counsellor_id:
            raise ApplicationError("Ce conseiller accompagne déjà la personne.", type="Conflict")
        if not change.reason.strip():
            raise ApplicationError("Le motif du changement est obligatoire (R21).",
                                   {"errors": [{"field": "reason", "message": "obligatoire"}]},
                                   type="InvalidOutcome")
        self._validate_capacity(change.caseload, change.fte)

    @staticmethod
    def _validate_capacity(caseload, fte) -> None:
        refusal = rules.r7_can_take_one_more(int(caseload or 0), float(fte or 0))
        if refusal:
            raise ApplicationError(refusal.detail, refusal.model_dump(), type="RuleRefused")

    async def _apply_outcome(self, task: TaskView, completion: TaskCompletion) -> None:
        if task.kind == "assign_counsellor":
            counsellor_id = completion.outcome["counsellor_id"]
            await steps.assign_counsellor(AssignmentRequest(
                journey_id=self.inp.journey_id, counsellor_id=counsellor_id, actor_id=completion.actor_id,
                step_key=f"{task.id}/assign", reason="admission", at=workflow.now(),
            ))
            self.s.counsellor_id = counsellor_id
        elif task.kind == "shared_evaluation":
            await steps.record_evaluation(EvaluationRecord(
                journey_id=self.inp.journey_id, outcome=completion.outcome, recorded_by=completion.actor_id,
            ))

    # ------------------------------------------------------------------ shared steps

    def _enter(self, state: JourneyState) -> None:
        if not transitions.allowed(self.s.state, state):
            # A bug, not a user error: failing the workflow task keeps the journey intact until fixed.
            raise RuntimeError(f"transition {self.s.state.value} -> {state.value} is not in the table")
        self.s.state = state

    async def _open_task(self, kind: str, *, due: str, sort_key: str | None = None, step: str | None = None) -> TaskView:
        """Open the task of a step once: after continue-as-new the step finds its task again,
        open or already done (a completion that landed just before the continue-as-new)."""
        step = step or kind
        for task in self.s.tasks.values():
            if task.status == "cancelled":
                continue
            if task.step == step or (not task.step and task.kind == kind and task.status != "done"):
                return task  # (snapshots from before steps were recorded match by kind)
        spec = TASK_KINDS[kind]
        self.s.task_seq += 1
        now = workflow.now()
        assignee = self.s.counsellor_id if spec.assigned_to_counsellor else None
        task = TaskView(
            id=f"{self.inp.journey_id}-t{self.s.task_seq}", kind=kind, step=step, assignee_id=assignee,
            candidate_role=spec.candidate_role, created_at=now,
        )
        # Known to the workflow before the inbox shows it: a completion can never arrive first.
        self.s.tasks[task.id] = task
        await steps.open_task(TaskSpec(
            id=task.id, journey_id=self.inp.journey_id, platform_id=self.inp.platform_id, kind=kind,
            title=spec.title, assignee_id=assignee, candidate_role=spec.candidate_role, created_at=now,
            due_at=Duration.parse(due).after(now), sort_key=sort_key,
        ))
        return task

    async def _until_done(self, task: TaskView, every: str, reminder_kind: str, recipients: list[str]) -> None:
        """Wait for a task, reminding its recipients every `every` until it is done."""
        interval = Duration.parse(every)
        task = self.s.tasks[task.id]
        while task.status != "done":
            await self._continue_as_new_if_due()
            now = workflow.now()
            if task.next_reminder_at is None:
                task.next_reminder_at = interval.after(task.created_at or now)
            try:
                await workflow.wait_condition(
                    lambda: task.status == "done" or self._history_is_long(),
                    timeout=max(task.next_reminder_at - now, _ZERO),
                )
            except asyncio.TimeoutError:
                if task.status == "done":
                    break
                task.reminders_sent += 1
                task.next_reminder_at = interval.after(task.next_reminder_at)
                await self._notify(
                    f"{task.id}/reminder-{task.reminders_sent}", reminder_kind,
                    [f"user:{task.assignee_id}" if r == "assignee" else r for r in recipients],
                    task_id=task.id, reminder_number=task.reminders_sent,
                )

    async def _record(self, step: str, action: str, *, fields: dict | None = None, detail: dict | None = None,
                      actor: dict | None = None) -> None:
        actor_id = (actor or {}).get("completed_by")
        await steps.record(StepRecord(
            journey_id=self.inp.journey_id, step_key=f"{self.inp.journey_id}/{step}", action=action,
            state=self.s.state.value, fields=fields or {}, actor_kind="user" if actor_id else "system",
            actor_id=actor_id, detail=detail or {}, at=workflow.now(),
        ))

    async def _notify(self, step: str, kind: str, recipients: list[str], **params) -> None:
        await steps.notify(Notification(
            key=f"{self.inp.journey_id}/{step}", kind=kind, journey_id=self.inp.journey_id,
            recipients=recipients, params=params,
        ))

    def _forget_old_tasks(self) -> None:
        done = [t for t in self.s.tasks.values() if t.status in ("done", "cancelled")]
        for task in done[:-KEEP_DONE_TASKS]:
            del self.s.tasks[task.id]

    def _history_is_long(self) -> bool:
        info = workflow.info()
        return (info.get_current_history_length() >= self.policy.workflow.history_event_limit
                or info.is_continue_as_new_suggested())

    async def _continue_as_new_if_due(self) -> None:
        if not self._history_is_long():
            return
        policy = Policy.model_validate(await steps.current_policy())
        # No await between the last handler finishing and the continue-as-new: an update admitted
        # meanwhile would otherwise be cut off half-applied.
        await workflow.wait_condition(workflow.all_handlers_finished)
        self.s.continued_runs += 1
        workflow.continue_as_new(JourneyInput(
            journey_id=self.inp.journey_id, platform_id=self.inp.platform_id, facts=self.inp.facts,
            policy=policy, snapshot=self.s,
        ))


_ZERO = datetime.min - datetime.min
