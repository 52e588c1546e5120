"""The journey of one beneficiary: one long-lived workflow per person (DOMAIN.md, "Journey states").

The workflow runs the procedures in order — the entry, the convention, then the accompaniment,
whose procedures run side by side (the interview rhythm, avenants, veille, rights renewal, relaunch,
exits) until the journey closes — and receives the messages of the outside world: task
completions, contacts, veille, rights events, exit proposals and changes of counsellor, each
validated before it is accepted. It lives for years: its compact snapshot is carried across
continue-as-new, and nothing identifying the person travels in its payloads.
"""
from __future__ import annotations

from temporalio import workflow
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    import email_validator  # noqa: F401  (EmailStr in the convention's outcomes, validated in the sandbox)
    import idna  # noqa: F401  (used by email_validator)

    from eaflow.workflows import steps
    from eaflow.workflows.accompaniment import RhythmProcedure
    from eaflow.workflows.context import JourneyContext
    from eaflow.workflows.convention import ConventionProcedure
    from eaflow.workflows.entry import EntryProcedure, validate_capacity
    from eaflow.workflows.exits import CLOSED, ExitProcedure
    from eaflow.workflows.relaunch import RelaunchProcedure
    from eaflow.workflows.rights import RIGHTS_FROM_INTAKE, RightsProcedure
    from eaflow.workflows.task_kinds import outcome_errors
    from eaflow.workflows.veille import VeilleProcedure
    from eaflow.workflows.types import (
        AssignmentRequest,
        AvenantRequest,
        ExitProposal,
        Reactivation,
        CounsellorChange,
        IntakeAnswer,
        JourneyInput,
        JourneySnapshot,
        JourneyState,
        RightsEvent,
        SignatureIn,
        TaskCompletion,
        VeilleRequest,
    )


ACCOMPANYING = (JourneyState.accompaniment, JourneyState.veille, JourneyState.relaunch)


@workflow.defn(name="Journey")
class JourneyWorkflow:
    @workflow.init
    def __init__(self, inp: JourneyInput) -> None:
        self.ctx = JourneyContext(inp)
        self.entry = EntryProcedure(self.ctx)
        self.convention = ConventionProcedure(self.ctx)
        self.rhythm = RhythmProcedure(self.ctx)
        self.veille = VeilleProcedure(self.ctx, self.rhythm, self.convention)
        self.rights = RightsProcedure(self.ctx)
        self.exits = ExitProcedure(self.ctx)
        self.relaunch = RelaunchProcedure(self.ctx, self.exits)
        self.procedures = [self.entry, self.convention, self.rhythm, self.veille, self.rights, self.exits,
                           self.relaunch]

    @property
    def s(self) -> JourneySnapshot:
        return self.ctx.s

    @workflow.run
    async def run(self, inp: JourneyInput) -> str:
        if self.s.state in CLOSED:  # closed in the previous run, which stopped its loops to get here
            await workflow.wait_condition(workflow.all_handlers_finished)
            return self.s.state.value
        # R19: the rights' clock starts at intake (an RQTH may end on the waiting list), beside the
        # entry and on until the exit. Journeys that began before it start it with the accompaniment,
        # as they did, until their next continue-as-new (ARCHITECTURE §6; tests/histories replay).
        rights_beside = self.s.state is not JourneyState.refused and workflow.patched(RIGHTS_FROM_INTAKE)
        if rights_beside:
            self.ctx.beside(self._rights_from_intake())
        await self.entry.run()
        if self.s.state is JourneyState.refused:
            await workflow.wait_condition(workflow.all_handlers_finished)
            return self.s.state.value
        # Journeys recorded before the convention existed wait here, as they did, until their next
        # continue-as-new, whose new run takes the convention (ARCHITECTURE §6).
        if self.s.state in (JourneyState.admitted, JourneyState.convention) and workflow.patched("convention"):
            await self.convention.run()
        # Journeys whose convention was signed before the accompaniment existed idle below until a
        # `resume` signal (eaflow journeys resume) continues them as new into this code.
        # The accompaniment: its procedures side by side, each on its own deadlines, until an exit.
        if self.s.state in ACCOMPANYING and workflow.patched("accompaniment"):
            rights = () if rights_beside else (self.rights.run(),)
            await self.ctx.together(self.rhythm.run(), self.convention.run_avenants(), self.veille.run(),
                                    *rights, self.relaunch.run(), self.exits.run())
        while True:
            await self.ctx.continue_as_new_if_due()
            await workflow.wait_condition(self.ctx.history_is_long)

    async def _rights_from_intake(self) -> None:
        """R19 from the moment the prescription is accepted (a refused one has no rights to follow)."""
        await workflow.wait_condition(
            lambda: self.s.state not in (JourneyState.prescribed, JourneyState.eligibility))
        if self.s.state is not JourneyState.refused:
            await self.rights.run(beside=True)

    # ------------------------------------------------------------------ messages

    @workflow.query
    def snapshot(self) -> JourneySnapshot:
        return self.s

    @workflow.update
    async def intake_answer(self) -> IntakeAnswer:
        """Answered once the prescription is examined and the decision traced (R1–R5)."""
        await workflow.wait_condition(lambda: self.entry.intake_answered)
        return IntakeAnswer(state=self.s.state, refusal=self.s.refusal)

    @workflow.update
    async def complete_task(self, completion: TaskCompletion) -> dict:
        await self._accepted(self._validate_completion, completion)
        task = self.s.tasks[completion.task_id]
        result = await self.ctx.complete(completion, self._owner(task.kind).apply)
        if task.kind == "plan_interview" and self.relaunch.running:
            await self.relaunch.contacts_changed()  # R17: an interview held is a link
        if task.kind == "assign_counsellor":
            await self.rights.counsellor_designated()  # R19: the managers' rights tasks go to the counsellor
        return result

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
        self.exits.hold_entry_task(task)
        errors = outcome_errors(task.kind, completion.outcome)
        if errors:
            raise ApplicationError("Le résultat ne correspond pas à la tâche.", {"errors": errors}, type="InvalidOutcome")
        self._owner(task.kind).validate(task, completion)

    @workflow.update
    async def record_signature(self, answer: SignatureIn) -> dict:
        """R10: a party signed or refused the convention through its personal link."""
        await self._accepted(self._validate_signature, answer)
        return await self.convention.record_signature(answer)

    @record_signature.validator
    def _validate_signature(self, answer: SignatureIn) -> None:
        self.convention.validate_signature(answer)

    @workflow.update
    async def contacts_changed(self) -> dict:
        """R12, R13: contacts were recorded, edited or deleted: re-read them, move the deadline;
        R17: a contact that reaches the person ends a relaunch sequence, a failed attempt may start one."""
        await self._accepted()
        self.ctx.contacts_may_have_changed()
        result = await self.rhythm.contacts_changed()
        if self.relaunch.running:
            await self.relaunch.contacts_changed()
        return result

    @workflow.update
    def request_avenant(self, request: AvenantRequest) -> dict:
        """R10: a change that the convention must follow (a new employer, legal representative, veille)."""
        return self.convention.request_avenant(request)

    @request_avenant.validator
    def _validate_avenant_request(self, request: AvenantRequest) -> None:
        self.convention.validate_avenant_request(request)

    @workflow.update
    async def start_veille(self, request: VeilleRequest) -> dict:
        """R14: a veille agreed with the person, or its extension by a new agreement."""
        await self._accepted(self._validate_veille, request)
        return await self.veille.start(request)

    @start_veille.validator
    def _validate_veille(self, request: VeilleRequest) -> None:
        self.veille.validate_start(request)

    @workflow.update
    async def reactivate(self, request: Reactivation) -> dict:
        """R14: the veille ends now; R17: the relaunch sequence ends now. The accompaniment resumes."""
        await self._accepted(self._validate_reactivation, request)
        if self.s.state is JourneyState.relaunch:
            return await self.relaunch.reactivate(request)
        return await self.veille.reactivate(request)

    @reactivate.validator
    def _validate_reactivation(self, request: Reactivation) -> None:
        if self.s.state is JourneyState.relaunch:
            self.relaunch.validate_reactivation(request)
        else:
            self.veille.validate_reactivation(request)

    @workflow.update
    async def rights_event(self, event: RightsEvent) -> dict:
        """R19: a renewal filed, granted or refused, an appeal filed or decided: the rights follow."""
        await self._accepted(self._validate_rights_event, event)
        return await self.rights.apply_event(event)

    @rights_event.validator
    def _validate_rights_event(self, event: RightsEvent) -> None:
        self.rights.validate_event(event)

    @workflow.update
    async def propose_exit(self, proposal: ExitProposal) -> dict:
        """R15, R18: an exit proposed for one of R15's reasons goes to a manager; death closes the file."""
        await self._accepted(self._validate_exit, proposal)
        return await self.exits.propose(proposal)

    @propose_exit.validator
    def _validate_exit(self, proposal: ExitProposal) -> None:
        self.exits.validate_proposal(proposal)

    @workflow.signal
    def resume(self) -> None:
        """Continue as new at the next safe point, into the code deployed now (ARCHITECTURE §6)."""
        self.ctx.resume_requested = True

    async def _accepted(self, validate=None, *args) -> None:
        """The first step of every update that writes: wait until the update is durably in the history
        (steps.accepted: the database never shows what the journey did not receive), then check it
        again, since another message may have moved the journey while this one was being recorded."""
        await steps.accepted()
        if validate is not None:
            validate(*args)

    def _owner(self, kind: str):
        return next(p for p in self.procedures if kind in p.TASK_KINDS)

    @workflow.update
    async def change_counsellor(self, change: CounsellorChange) -> dict:
        """R8, R21: a change of counsellor is traced; the open tasks follow the person."""
        await self._accepted(self._validate_counsellor_change, change)
        self.s.counsellor_changes += 1
        previous = self.s.counsellor_id
        await steps.assign_counsellor(AssignmentRequest(
            journey_id=self.ctx.journey_id, counsellor_id=change.counsellor_id, actor_id=change.actor_id,
            step_key=f"{self.ctx.journey_id}/counsellor-change-{self.s.counsellor_changes}",
            reason=change.reason, at=workflow.now(),
        ))
        self.s.counsellor_id = change.counsellor_id
        for task in self.s.tasks.values():
            if task.status == "open" and task.assignee_id == previous:
                task.assignee_id = change.counsellor_id
        await steps.reassign_open_tasks(self.ctx.journey_id, previous, change.counsellor_id)
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
        validate_capacity(change.caseload, change.fte)
