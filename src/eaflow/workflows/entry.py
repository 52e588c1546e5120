"""A beneficiary's entry (§I.C, §II, §III of the cahier des charges), read top to bottom.

The prescription is examined (R1–R5); the decision is notified (R4); the person waits on the list in
R6 order until a manager designates a counsellor within capacity (R7, R8); the counsellor does the
shared evaluation (R9). A SPE prescription joins the waiting list at once (R6): bringing it to the
CDAPH's knowledge (R2) is a task that runs beside the journey, reminded until it is recorded.
"""
from __future__ import annotations

import asyncio

from temporalio import workflow
from temporalio.exceptions import ApplicationError

from eaflow.workflows import rules, steps
from eaflow.workflows.context import JourneyContext
from eaflow.workflows.types import (
    AssignmentRequest,
    EvaluationRecord,
    JourneyState,
    Situation,
    TaskCompletion,
    TaskView,
)


# workflow.patched id: journeys started before it mailed the R4 decision before the waiting list.
MAIL_BESIDE_WAITING_LIST = "entry-decision-mailed-beside-the-waiting-list"
# workflow.patched id: journeys started before it held a SPE prescription off the waiting list until the
# CDAPH was informed (consent → cdaph_notified → waiting_list); since, it joins the list at once (R6)
# and the CDAPH information runs beside the journey until done (R2).
SPE_WAITING_LIST_AT_ONCE = "spe-waiting-list-at-once"


class EntryProcedure:
    TASK_KINDS = frozenset({"notify_cdaph", "assign_counsellor", "shared_evaluation"})

    def __init__(self, ctx: JourneyContext) -> None:
        self.ctx = ctx
        self.intake_answered = ctx.inp.snapshot is not None

    async def run(self) -> None:
        s = self.ctx.s
        if s.state is JourneyState.prescribed:
            await self.r1_r5_examine_prescription()
            if s.state is JourneyState.refused:
                return
        # The decision is mailed beside the waiting list, not before it: a mail server that is down
        # must not keep the managers from admitting the person (the mails go out once it is back).
        mail_beside_waiting_list = workflow.patched(MAIL_BESIDE_WAITING_LIST)
        if self.ctx.inp.facts.channel.is_spe and not s.cdaph_informed:
            if workflow.patched(SPE_WAITING_LIST_AT_ONCE):
                await self.r2_cdaph_information_beside()  # every run until done, whatever the state
            elif s.state in (JourneyState.consent, JourneyState.cdaph_notified):
                await self.r2_bring_to_cdaph_knowledge()  # recorded before SPE_WAITING_LIST_AT_ONCE
        if s.state in (JourneyState.consent, JourneyState.cdaph_notified):
            if not mail_beside_waiting_list:
                await self.r4_notify_entry_decision()
            await self.enter_waiting_list()
        if s.state is JourneyState.waiting_list:
            await self.r7_r8_admit_from_waiting_list(mail_decision=mail_beside_waiting_list)
        if s.state is JourneyState.admitted and not s.evaluation_done:
            await self.r9_shared_evaluation()

    async def r1_r5_examine_prescription(self) -> None:
        ctx, facts = self.ctx, self.ctx.inp.facts
        refusal = rules.evaluate_intake(facts, workflow.now().date())
        if refusal:
            ctx.enter(JourneyState.refused)
            ctx.s.refusal = refusal
            reasons = [r.model_dump() for r in refusal]
            await ctx.record("intake", "intake_refused", fields={"refusal": reasons}, detail={"refusal": reasons})
            self.intake_answered = True
            await ctx.notify("intake-refused", "intake_refused", ["prescriber"], refusals=reasons)
            return
        ctx.enter(JourneyState.consent)
        detail = {"rules": ["R1", "R2", "R3", "R5"], "consent_by": facts.consent.by.value if facts.consent else None}
        if rules.r5_subsidiarity_missing(facts.channel, facts.subsidiarity_reason):
            detail["subsidiarity_missing"] = True  # R5: a CDAPH orientation is accepted without it, and noted
        await ctx.record("intake", "intake_accepted", detail=detail)
        self.intake_answered = True

    async def r2_cdaph_information_beside(self) -> None:
        """R2 beside the journey: informing the CDAPH is the prescriber's duty, and fast access the rule
        (R6): the person joins the waiting list at once while the platform tracks (and reminds of) the
        information until it is recorded, on the waiting list or later."""
        ctx, intake = self.ctx, self.ctx.policy.intake
        known = any(t.step == "notify_cdaph" and t.status != "cancelled" for t in ctx.s.tasks.values())
        task = await ctx.open_task("notify_cdaph", due=intake.cdaph_notification_due)
        if not known:  # a later run finds its task again, already announced
            await ctx.notify("cdaph-needed", "cdaph_notification_needed", ["platform"], task_id=task.id)

        async def until_informed() -> None:
            done = await ctx.until_done(task, intake.cdaph_reminder_every, "cdaph_notification_reminder",
                                        ["platform"], beside=True)
            await self._record_cdaph_informed(done, with_state=False)

        ctx.beside(until_informed())

    async def r2_bring_to_cdaph_knowledge(self) -> None:
        """R2 as journeys recorded before SPE_WAITING_LIST_AT_ONCE did it: the waiting list waits."""
        ctx, intake = self.ctx, self.ctx.policy.intake
        task = await ctx.open_task("notify_cdaph", due=intake.cdaph_notification_due)
        await ctx.notify("cdaph-needed", "cdaph_notification_needed", ["platform"], task_id=task.id)
        task = await ctx.until_done(task, intake.cdaph_reminder_every, "cdaph_notification_reminder", ["platform"])
        ctx.enter(JourneyState.cdaph_notified)
        await self._record_cdaph_informed(task)

    async def _record_cdaph_informed(self, task: TaskView, with_state: bool = True) -> None:
        ctx = self.ctx
        ctx.s.cdaph_informed = True
        outcome = task.outcome or {}
        await ctx.record(
            "cdaph-informed", "cdaph_informed", actor=task.result,
            fields={"cdaph_informed_on": outcome.get("informed_on"), "cdaph_informed_how": outcome.get("how")},
            detail={"rule": "R2", **outcome}, with_state=with_state,
        )

    async def r4_notify_entry_decision(self) -> None:
        ctx = self.ctx
        if ctx.s.entry_notified:
            return
        mails = [
            ctx.notify("entry-decision/person", "entry_decision_person", ["person"], waiting=True),
            ctx.notify("entry-decision/platform", "entry_decision_platform", ["platform"]),
        ]
        if ctx.inp.facts.situation is Situation.employed and ctx.inp.facts.has_employer:
            mails.append(ctx.notify("entry-decision/employer", "entry_decision_employer", ["employer"]))
        await asyncio.gather(*mails)
        ctx.s.entry_notified = True

    async def enter_waiting_list(self) -> None:
        ctx, facts = self.ctx, self.ctx.inp.facts
        ctx.enter(JourneyState.waiting_list)
        await ctx.record(
            "waiting-list", "waiting_list_entered",
            fields={"waiting_key": rules.r6_waiting_list_key(facts.situation, facts.prescribed_on)},
            detail={"rule": "R6", "priority_group": rules.r6_priority_group(facts.situation)},
        )

    async def r7_r8_admit_from_waiting_list(self, mail_decision: bool = False) -> None:
        ctx, facts, waiting = self.ctx, self.ctx.inp.facts, self.ctx.policy.waiting_list
        task = await ctx.open_task(
            "assign_counsellor", due=waiting.assignment_due,
            sort_key=rules.r6_waiting_list_key(facts.situation, facts.prescribed_on),
        )
        mails = [ctx.notify("assignment-needed", "assignment_needed", ["platform"], task_id=task.id)]
        if mail_decision:
            mails.append(self.r4_notify_entry_decision())
        await asyncio.gather(*mails)
        task = await ctx.until_done(task, waiting.assignment_reminder_every, "assignment_reminder", ["platform"])
        # The completion has designated the counsellor, capacity checked atomically (R7, R8).
        now = workflow.now()
        ctx.enter(JourneyState.admitted)
        ctx.s.admitted_at = now
        await ctx.record(
            "admitted", "admitted", actor=task.result,
            fields={
                "admitted_on": now.date().isoformat(),
                "admission_delay_days": (now.date() - facts.prescribed_on).days,
                "counsellor_id": ctx.s.counsellor_id,
            },
            detail={"rules": ["R7", "R8"], "counsellor_id": ctx.s.counsellor_id},
        )
        await ctx.notify("admission/person", "admission_person", ["person"])

    async def r9_shared_evaluation(self) -> None:
        ctx, admission = self.ctx, self.ctx.policy.admission
        task = await ctx.open_task("shared_evaluation", due=admission.shared_evaluation_due)
        await ctx.notify("admission/counsellor", "admission_counsellor", ["counsellor"], task_id=task.id)
        await ctx.until_done(task, admission.shared_evaluation_reminder_every, "task_reminder", ["assignee"])
        ctx.s.evaluation_done = True

    # ------------------------------------------------------------------ completions of its tasks

    def validate(self, task: TaskView, completion: TaskCompletion) -> None:
        if task.kind == "assign_counsellor":
            validate_capacity(completion.facts.get("caseload"), completion.facts.get("fte"))

    async def apply(self, task: TaskView, completion: TaskCompletion) -> None:
        ctx = self.ctx
        if task.kind == "assign_counsellor":
            counsellor_id = completion.outcome["counsellor_id"]
            await steps.assign_counsellor(AssignmentRequest(
                journey_id=ctx.journey_id, counsellor_id=counsellor_id, actor_id=completion.actor_id,
                step_key=f"{task.id}/assign", reason="admission", at=workflow.now(),
            ))
            ctx.s.counsellor_id = counsellor_id
        elif task.kind == "shared_evaluation":
            await steps.record_evaluation(EvaluationRecord(
                journey_id=ctx.journey_id, outcome=completion.outcome, recorded_by=completion.actor_id,
            ))


def validate_capacity(caseload, fte) -> None:
    """R7, in an update validator: the facts come from the API, the rule from rules.py."""
    refusal = rules.r7_can_take_one_more(int(caseload or 0), float(fte or 0))
    if refusal:
        raise ApplicationError(refusal.detail, refusal.model_dump(), type="RuleRefused")
