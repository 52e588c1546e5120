"""Exits (§IV.E of the cahier des charges; R15, R18), read top to bottom.

An exit is only ever proposed, for one of R15's reasons: the person's explicit request (informed,
offered a low-intensity accompaniment instead), a move to a territory with no platform (a move to a
département with a platform on this installation is a transfer; to one whose platform is elsewhere, a
handover: the file goes to that platform's address with the person's consent, and the journey ends
as transferred once the manager records its acknowledgement), the non-renewal of the rights
(proposed by the rights procedure, R19), a manifest and lasting disengagement (proposed by the
relaunch procedure after its analysis, R17), a reorientation the person chose. Health and any
reason of the platform's own are refused (R18). Every proposal goes to the managers' `approve_exit`
task with its file; approval ends the journey with its reason and date and mails the person and the
prescriber; rejection returns the journey where it was, with the manager's reason. Death is recorded
by a manager as an administrative closure, at any time from the waiting list on: the open tasks leave
the inboxes and the procedure under way (entry, convention) stops at its next safe point. A person on
the waiting list or before the shared evaluation may withdraw: their request goes to a manager like
any exit, and the entry's tasks wait for the decision.

A closed journey continues as new once, so that every loop beside this one stops at a safe point,
and its next run ends at once (journey.py).
"""
from __future__ import annotations

import asyncio

from temporalio import workflow
from temporalio.exceptions import ApplicationError

from eaflow.workflows import rules, steps
from eaflow.workflows.context import JourneyContext
from eaflow.workflows.types import (
    ExitDecision,
    ExitProposal,
    Handover,
    JourneyInput,
    JourneySnapshot,
    JourneyState,
    TaskCompletion,
    TaskView,
    TransferRequest,
)

PROPOSABLE = (JourneyState.accompaniment, JourneyState.veille, JourneyState.relaunch)
# Before the accompaniment (the CDAPH being informed, the waiting list, admitted, the convention being
# signed) a death closes the file, and a person waiting for a counsellor or for the shared evaluation
# may withdraw (their request, approved by a manager like any exit); the other reasons are about an
# accompaniment.
CLOSABLE_BEFORE = (JourneyState.cdaph_notified, JourneyState.waiting_list, JourneyState.admitted,
                   JourneyState.convention)
WITHDRAWABLE_BEFORE = (JourneyState.waiting_list, JourneyState.admitted)
CLOSED = (JourneyState.exited, JourneyState.transferred)
APPROVAL_DUE = "P14D"
HANDOVER_DUE = "P30D"  # the receiving platform's acknowledgement, recorded by a manager


class ExitProcedure:
    TASK_KINDS = frozenset({"approve_exit", "record_handover"})

    def __init__(self, ctx: JourneyContext) -> None:
        self.ctx = ctx
        self._lock = asyncio.Lock()

    @property
    def e(self):
        return self.ctx.s.exit

    async def run(self) -> None:
        """Take up the rights procedure's non-renewal proposal (R19) when the journey can exit."""
        ctx, e = self.ctx, self.e
        while True:
            await ctx.continue_as_new_if_due()
            await workflow.wait_condition(lambda: self._rights_proposal_due() or ctx.history_is_long())
            if self._rights_proposal_due():
                proposal = ctx.s.rights.exit_proposal
                e.rights_proposal_on = proposal.on
                await self.propose(ExitProposal(
                    reason="non_renewal", details={"right": proposal.right, "why": proposal.why,
                                                   "rule": "R19", "on": proposal.on.isoformat()},
                    analysis="Droits non renouvelés : proposition de sortie faite par le suivi des droits (R19)."))

    def _rights_proposal_due(self) -> bool:
        proposal = self.ctx.s.rights.exit_proposal
        return (proposal is not None and proposal.on != self.e.rights_proposal_on
                and self.e.procedure_id is None and self.ctx.s.state in PROPOSABLE)

    # ------------------------------------------------------------------ the proposal

    def validate_proposal(self, proposal: ExitProposal) -> None:
        ctx = self.ctx
        refusal = rules.r15_r18_exit_refusal(proposal.reason, proposal.details)
        if refusal is not None:
            raise ApplicationError(refusal.detail, {"rule": refusal.rule}, type="RuleRefused")
        state = ctx.s.state
        before = (state in CLOSABLE_BEFORE and proposal.reason == "death"
                  or state in WITHDRAWABLE_BEFORE and proposal.reason == "person_request")
        if state not in PROPOSABLE and not before:
            raise ApplicationError("Une sortie ne se propose que pendant l'accompagnement, la veille ou les relances ; "
                                   "avant, seuls un décès ou la demande de la personne (en liste d'attente ou avant "
                                   "l'évaluation partagée) clôturent le dossier.", {"rule": "R18"}, type="Conflict")
        if self.e.procedure_id is not None:
            raise ApplicationError("Une procédure de sortie est déjà en cours pour ce parcours.", {"rule": "R18"},
                                   type="Conflict")

    async def propose(self, proposal: ExitProposal) -> dict:
        async with self._lock:
            self.validate_proposal(proposal)
            if proposal.reason == "death":
                return await self.administrative_closure(proposal)
            return await self._open(proposal)

    async def administrative_closure(self, proposal: ExitProposal) -> dict:
        """R18: death is recorded by a manager: the procedure is opened and approved by them at once."""
        ctx, e = self.ctx, self.e
        e.proposals += 1
        e.procedure_id, e.reason, e.return_to = f"{ctx.journey_id}-x{e.proposals}", proposal.reason, ctx.s.state
        detail = {"rule": "R18", "reason": "death", "label": rules.EXIT_REASONS["death"], "details": proposal.details,
                  "administrative_closure": True}
        for status in ("open", "approved"):
            await steps.record_exit(ExitDecision(
                journey_id=ctx.journey_id, procedure_id=e.procedure_id, status=status, reason="death",
                actor_id=proposal.proposed_by, detail=detail, at=workflow.now()))
        ctx.enter(JourneyState.exit_proposed)
        await self.close("death", actor_id=proposal.proposed_by, detail=detail)
        return {"state": ctx.s.state.value, "procedure_id": e.procedure_id}

    async def _open(self, proposal: ExitProposal) -> dict:
        ctx, e = self.ctx, self.e
        e.proposals += 1
        e.procedure_id, e.reason, e.return_to = f"{ctx.journey_id}-x{e.proposals}", proposal.reason, ctx.s.state
        e.transfer_to = proposal.transfer_to_platform_id
        e.handover_to, e.handover_sent = proposal.handover_to, False
        now = workflow.now()
        detail = {"rule": "R15", "reason": proposal.reason, "label": rules.EXIT_REASONS[proposal.reason],
                  "details": proposal.details, "analysis": proposal.analysis, "consultation": proposal.consultation,
                  "transfer_to_platform_id": proposal.transfer_to_platform_id}
        if proposal.handover_to is not None:
            detail["handover_to"] = proposal.handover_to.model_dump()
        await steps.record_exit(ExitDecision(
            journey_id=ctx.journey_id, procedure_id=e.procedure_id, status="open", reason=proposal.reason,
            actor_id=proposal.proposed_by, detail=detail, at=now))
        ctx.enter(JourneyState.exit_proposed)
        await ctx.record(f"exit/{e.proposals}", "exit_proposed", detail=detail,
                         actor={"completed_by": proposal.proposed_by} if proposal.proposed_by else None)
        task = await ctx.open_task("approve_exit", due=APPROVAL_DUE, step=f"exit-{e.proposals}-approval",
                                   context={"exit": detail, "procedure_id": e.procedure_id})
        await ctx.notify(f"exit/{e.proposals}/to-approve", "exit_to_approve", ["platform"], task_id=task.id,
                         reason_label=rules.EXIT_REASONS[proposal.reason])
        return {"state": ctx.s.state.value, "procedure_id": e.procedure_id, "task_id": task.id}

    # ------------------------------------------------------------------ the manager's decision

    def validate(self, task: TaskView, completion: TaskCompletion) -> None:
        step = f"exit-{self.e.proposals}-" + ("handover" if task.kind == "record_handover" else "approval")
        if self.e.procedure_id is None or task.step != step:
            raise ApplicationError("Cette procédure de sortie n'attend plus de décision.", type="Conflict")

    def hold_entry_task(self, task: TaskView) -> None:
        """A withdrawal before the accompaniment waits for its decision: the entry's tasks wait with it
        (an admission meanwhile would take the journey from under the procedure). The CDAPH information of a
        SPE prescription (R2) moves nothing and runs beside the journey: it stays completable."""
        if (self.e.procedure_id is not None and self.e.return_to in WITHDRAWABLE_BEFORE
                and task.kind not in ("approve_exit", "notify_cdaph")):
            raise ApplicationError("Une demande de sortie attend la décision d'un responsable : cette tâche reprendra "
                                   "si elle est rejetée.", {"rule": "R18"}, type="Conflict")

    async def apply(self, task: TaskView, completion: TaskCompletion) -> None:
        self.validate(task, completion)
        outcome, e = completion.outcome, self.e
        if task.kind == "record_handover":
            await self.handed_over(completion)
            return
        if outcome["decision"] == "reject":
            await self.reject(completion.actor_id, outcome["reason"])
            return
        detail = {"consultation": outcome["consultation"], "decision_reason": outcome.get("reason")}
        await steps.record_exit(ExitDecision(
            journey_id=self.ctx.journey_id, procedure_id=e.procedure_id, status="approved", reason=e.reason,
            actor_id=completion.actor_id, decision_reason=outcome.get("reason"), detail=detail, at=workflow.now()))
        if e.transfer_to:
            await self.transfer(e.transfer_to, completion.actor_id, detail)
        elif e.handover_to is not None and workflow.patched("r15-handover"):
            await self.hand_over(e.handover_to, completion.actor_id, detail)
        else:
            await self.close(e.reason, actor_id=completion.actor_id, detail=detail)

    async def reject(self, actor_id: str, reason: str) -> None:
        ctx, e = self.ctx, self.e
        back = e.return_to or JourneyState.accompaniment
        await steps.record_exit(ExitDecision(
            journey_id=ctx.journey_id, procedure_id=e.procedure_id, status="rejected", reason=e.reason,
            actor_id=actor_id, decision_reason=reason, at=workflow.now()))
        ctx.enter(back)
        await ctx.record(f"exit/{e.proposals}/rejected", "exit_rejected",
                         detail={"rule": "R18", "reason": e.reason, "decision_reason": reason, "back_to": back.value},
                         actor={"completed_by": actor_id})
        await ctx.notify(f"exit/{e.proposals}/rejected", "exit_rejected", ["counsellor"],
                         reason_label=rules.EXIT_REASONS[e.reason], decision_reason=reason)
        e.procedure_id = e.reason = e.return_to = e.transfer_to = e.handover_to = None

    async def close(self, reason: str, *, actor_id: str | None, detail: dict) -> None:
        """The journey ends: its reason and date, traced and mailed (the loops stop at their next turn)."""
        ctx, e = self.ctx, self.e
        today = workflow.now().date()
        e.closed_reason, e.closed_on = reason, today
        ctx.enter(JourneyState.exited)
        await ctx.record("exit/closed", "journey_exited",
                         fields={"exit_reason": reason, "exited_on": today.isoformat()},
                         detail={"rule": "R18" if reason != "death" else "R15", "reason": reason,
                                 "label": rules.EXIT_REASONS[reason], **detail},
                         actor={"completed_by": actor_id} if actor_id else None)
        await self._cancel_open_tasks()
        if reason != "death":
            await self._tell_person_and_prescriber("closed", "journey_exited", reason_label=rules.EXIT_REASONS[reason],
                                                   exited_on=today.isoformat())
        e.procedure_id = e.return_to = None

    async def transfer(self, to_platform_id: str, actor_id: str, detail: dict) -> None:
        """R15: a move to a département with a platform here: the receiving platform takes the journey
        on (its managers designate a counsellor), this one closes it as transferred."""
        ctx, e = self.ctx, self.e
        now = workflow.now()
        new_id = f"{ctx.journey_id}-tr{e.proposals}"
        await steps.transfer_journey(TransferRequest(journey_id=ctx.journey_id, new_journey_id=new_id,
                                                     to_platform_id=to_platform_id, at=now))
        await workflow.start_child_workflow(
            "Journey", JourneyInput(
                journey_id=new_id, platform_id=to_platform_id, facts=ctx.inp.facts, policy=ctx.policy,
                snapshot=JourneySnapshot(state=JourneyState.waiting_list, entry_notified=True,
                                         cdaph_informed=ctx.s.cdaph_informed)),
            id=new_id, parent_close_policy=workflow.ParentClosePolicy.ABANDON)
        e.transferred_to = new_id
        await self._end_transferred(actor_id, {"to_platform_id": to_platform_id, "new_journey_id": new_id, **detail},
                                    on=now.date())

    async def hand_over(self, to: Handover, actor_id: str, detail: dict) -> None:
        """R15: the new département's platform is not on this installation: the platform hands the file
        over (a summary and the convention, the person having consented) to its address, tells the
        person, and waits for the acknowledgement a manager records (`record_handover`)."""
        ctx, e = self.ctx, self.e
        n = e.proposals
        await ctx.notify(f"exit/{n}/handover", "file_handover", [f"address:{to.email}"],
                         attachments=[f"handover:{ctx.journey_id}", f"convention-of:{ctx.journey_id}"],
                         department=to.department)
        await ctx.notify(f"exit/{n}/handover/person", "file_handover_person", ["person"], department=to.department)
        e.handover_sent = True
        await ctx.record(f"exit/{n}/handover", "file_handed_over",
                         detail={"rule": "R15", "handover_to": to.model_dump(), **detail},
                         actor={"completed_by": actor_id})
        await ctx.open_task("record_handover", due=HANDOVER_DUE, step=f"exit-{n}-handover",
                            context={"handover_to": to.model_dump(), "procedure_id": e.procedure_id})

    async def handed_over(self, completion: TaskCompletion) -> None:
        """The receiving platform acknowledged the file: the journey ends here as transferred."""
        to = self.e.handover_to
        await self._end_transferred(completion.actor_id, {
            "handover_to": to.model_dump() if to else None, "acknowledged_on": completion.outcome["acknowledged_on"],
            "acknowledged_how": completion.outcome["how"]}, on=workflow.now().date())

    async def _end_transferred(self, actor_id: str, detail: dict, *, on) -> None:
        ctx, e, today = self.ctx, self.e, on
        e.closed_reason, e.closed_on = "move", today
        ctx.enter(JourneyState.transferred)
        await ctx.record("exit/transferred", "journey_transferred",
                         fields={"exit_reason": "move", "exited_on": today.isoformat()},
                         detail={"rule": "R15", **detail}, actor={"completed_by": actor_id})
        await self._cancel_open_tasks()
        await self._tell_person_and_prescriber("transferred", "journey_transferred", exited_on=today.isoformat())
        e.procedure_id = e.return_to = None

    async def _tell_person_and_prescriber(self, step: str, kind: str, **params) -> None:
        await asyncio.gather(
            self.ctx.notify(f"exit/{step}/person", f"{kind}_person", ["person"], **params),
            self.ctx.notify(f"exit/{step}/prescriber", f"{kind}_prescriber", ["prescriber"], **params))

    async def _cancel_open_tasks(self) -> None:
        for task in list(self.ctx.s.tasks.values()):
            if task.status == "open" and task.kind != "approve_exit":
                await self.ctx.cancel_task(task)
