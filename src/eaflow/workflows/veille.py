"""The veille (§IV.D of the cahier des charges; R14), read top to bottom.

Only on the person's explicit request, or on the counsellor's proposal with the person's formal
agreement; its end is agreed, written (an avenant to the convention) and strictly bounded by the
policy: the whole period from its first day, extensions included. The reactivation conditions are
stated. It is not an exit: the person and the employer are told so. During the veille the
interview clock stops (R12) and the person is out of the counsellor's caseload (R7). The policy's
`ending_lead` before the end the counsellor gets a task to prepare the resumption; on the end
date the accompaniment resumes, unless a new agreement extended it. `reactivate` resumes it at any
time.
"""
from __future__ import annotations

import asyncio

from temporalio import workflow
from temporalio.exceptions import ApplicationError

from eaflow.durations import Duration
from eaflow.workflows import rules
from eaflow.workflows.accompaniment import RhythmProcedure, start_of
from eaflow.workflows.context import JourneyContext
from eaflow.workflows.convention import ConventionProcedure
from eaflow.workflows.types import (
    AvenantRequest,
    JourneyState,
    Reactivation,
    TaskCompletion,
    TaskView,
    VeilleRequest,
)

REQUESTED_BY_LABELS = {"person": "à la demande de la personne",
                       "counsellor_proposal": "sur proposition du conseiller, avec l'accord formel de la personne"}


class VeilleProcedure:
    TASK_KINDS = frozenset({"veille_ending"})

    def __init__(self, ctx: JourneyContext, rhythm: RhythmProcedure, convention: ConventionProcedure) -> None:
        self.ctx, self.rhythm, self.convention = ctx, rhythm, convention
        self._lock = asyncio.Lock()  # a start, an extension, a reactivation and the end date, one at a time

    @property
    def v(self):
        return self.ctx.s.veille

    def in_veille(self) -> bool:
        return self.ctx.s.state is JourneyState.veille

    async def run(self) -> None:
        ctx, v = self.ctx, self.v
        await ctx.on_deadlines(lambda: v.changes, self.next_wake, self.deadline_reached, follow_state=True)

    async def deadline_reached(self) -> None:
        if workflow.now() >= start_of(self.v.until):
            await self.end("end_date", actor_id=None)
        else:
            await self.prepare_resumption()

    def next_wake(self):
        v = self.v
        if not self.in_veille() or v.until is None:
            return None
        if v.ending_task_for != v.until:
            lead = Duration.parse(self.ctx.policy.veille.ending_lead)
            return max(start_of(lead.before(start_of(v.until)).date()), start_of(v.since))
        return start_of(v.until)

    async def prepare_resumption(self) -> None:
        ctx, v = self.ctx, self.v
        v.ending_task_for = v.until
        task = await ctx.open_task("veille_ending", due=self._until_end(), step=f"veille-{v.agreements}-ending")
        await ctx.notify(f"veille/{v.agreements}/ending", "veille_ending", ["counsellor"], task_id=task.id,
                         veille_until=v.until.isoformat())

    def _until_end(self) -> str:
        seconds = max(int((start_of(self.v.until) - workflow.now()).total_seconds()), 1)
        return f"PT{seconds}S"

    # ------------------------------------------------------------------ R14: start or extend

    def validate_start(self, request: VeilleRequest, *, bounded_period: bool = True) -> None:
        """R14 for a first agreement or an extension. The whole veille, extensions included, lasts at
        most the policy's `max_duration` from its first day (`v.since`, kept in the snapshot that
        continue-as-new carries). `bounded_period=False` is the former bound (each agreement counted
        from its own day), kept only for the handler of runs recorded before patch
        "veille-bounded-period"; the validator always applies the whole-period bound."""
        state = self.ctx.s.state
        if state not in (JourneyState.accompaniment, JourneyState.veille):
            raise ApplicationError("Une veille ne se décide que pendant l'accompagnement.", {"rule": "R14"},
                                   type="Conflict")
        if request.requested_by not in rules.VEILLE_REQUESTED_BY:
            raise ApplicationError("Une veille n'est possible qu'à la demande de la personne, ou sur proposition du "
                                   "conseiller avec son accord formel.", {"rule": "R14", "errors": [
                                       {"field": "requested_by", "message": "person ou counsellor_proposal"}]},
                                   type="RuleRefused")
        today = workflow.now().date()
        errors = rules.r14_veille_refusals(
            agreement_on=request.agreement_on, until=request.until,
            reactivation_conditions=request.reactivation_conditions, starts_on=today,
            max_duration=self.ctx.policy.veille.max_duration,
            veille_since=self.v.since if self.in_veille() and bounded_period else None)
        if errors:
            raise ApplicationError("La mise en veille ne respecte pas le cahier des charges (R14).",
                                   {"rule": "R14", "errors": errors}, type="RuleRefused")

    async def start(self, request: VeilleRequest) -> dict:
        async with self._lock:
            return await self._start(request)

    async def _start(self, request: VeilleRequest) -> dict:
        # Again: the veille may have ended while this waited. An extension accepted before the whole
        # period was bounded must replay as it ran, hence the patch (a validator emits no command).
        bounded = not self.in_veille() or workflow.patched("veille-bounded-period")
        self.validate_start(request, bounded_period=bounded)
        ctx, v = self.ctx, self.v
        today, extension = workflow.now().date(), self.in_veille()
        v.agreements += 1
        previous_task = ctx.open_task_of(f"veille-{v.agreements - 1}-ending")
        if previous_task is not None:
            await ctx.cancel_task(previous_task)
        v.until, v.ending_task_for = request.until, None
        if not extension:
            v.since = today
            ctx.enter(JourneyState.veille)
            await self.rhythm.stop_clock(today)
        detail = {"rule": "R14", "requested_by": request.requested_by, "agreement_on": request.agreement_on.isoformat(),
                  "agreement_how": request.agreement_how, "since": v.since.isoformat(), "until": v.until.isoformat(),
                  "agreement": v.agreements}
        await ctx.record(f"veille/{v.agreements}", "veille_extended" if extension else "veille_started",
                         fields={"veille_until": v.until.isoformat()}, detail=detail,
                         actor={"completed_by": request.actor_id})
        self.convention.request_avenant(AvenantRequest(
            kind="veille", reference=f"veille-{v.agreements}", requested_by=request.actor_id,
            summary=(f"Veille {REQUESTED_BY_LABELS[request.requested_by]}, accord du "
                     f"{request.agreement_on.strftime('%d/%m/%Y')}, du {v.since.strftime('%d/%m/%Y')} au "
                     f"{v.until.strftime('%d/%m/%Y')}. Conditions de réactivation : "
                     f"{request.reactivation_conditions.strip()}")))
        await ctx.notify(f"veille/{v.agreements}/started", "veille_started", ["person", "employer"],
                         veille_since=v.since.isoformat(), veille_until=v.until.isoformat(), extension=extension,
                         reactivation_conditions=request.reactivation_conditions.strip())
        v.changes += 1
        return {"state": ctx.s.state.value, "since": v.since.isoformat(), "until": v.until.isoformat()}

    # ------------------------------------------------------------------ the end

    def validate_reactivation(self, _: Reactivation) -> None:
        if not self.in_veille():
            raise ApplicationError("Le parcours n'est pas en veille : l'accompagnement est déjà en cours.",
                                   {"rule": "R14"}, type="Conflict")

    async def reactivate(self, request: Reactivation) -> dict:
        self.validate_reactivation(request)
        await self.end("reactivated", actor_id=request.actor_id, reason=request.reason)
        return {"state": self.ctx.s.state.value}

    async def end(self, how: str, *, actor_id: str | None, reason: str = "") -> None:
        """The accompaniment resumes: the interview clock restarts with the time it had left."""
        async with self._lock:
            await self._end(how, actor_id=actor_id, reason=reason)

    async def _end(self, how: str, *, actor_id: str | None, reason: str) -> None:
        ctx, v = self.ctx, self.v
        if not self.in_veille():
            return
        today, since, until = workflow.now().date(), v.since, v.until
        ctx.enter(JourneyState.accompaniment)
        task = ctx.open_task_of(f"veille-{v.agreements}-ending")
        if task is not None:
            await ctx.cancel_task(task)
        await self.rhythm.restart_clock(today)
        await ctx.record(f"veille/{v.agreements}/ended", "veille_ended", fields={"veille_until": None},
                         detail={"rule": "R14", "how": how, "since": since.isoformat(), "until": until.isoformat(),
                                 "ended_on": today.isoformat(), **({"reason": reason} if reason else {})},
                         actor={"completed_by": actor_id} if actor_id else None)
        await ctx.notify(f"veille/{v.agreements}/ended", "veille_ended", ["person", "employer"],
                         veille_since=since.isoformat(), ended_on=today.isoformat())
        v.since = v.until = v.ending_task_for = None
        v.changes += 1

    # ------------------------------------------------------------------ its task

    def validate(self, task: TaskView, completion: TaskCompletion) -> None:
        pass

    async def apply(self, task: TaskView, completion: TaskCompletion) -> None:
        if completion.outcome.get("decision") == "resume_now":
            await self.end("reactivated", actor_id=completion.actor_id, reason=completion.outcome.get("note", ""))
