"""Rights renewal (R19; §IV.E of the cahier des charges, « Non renouvellement de la notification de la
CDAPH ou du titre RQTH »), read top to bottom.

The accompaniment rests on decisions of the CDAPH, and the text names two: the RQTH (a recognition
with an end date, or none) and the CDAPH's notification (its orientation towards emploi
accompagné). They are distinct decisions with their own durations: a person may hold an RQTH until
2031 and an orientation until 2028, and a person prescribed by the SPE (R2) has no orientation
decision at all. So each is tracked on its own, as a `RightTrack`: the RQTH from the intake facts
(then from events), the CDAPH decision from the first event that records it (a `granted` with its
end date: the intake does not ask for it).

For each right with an end date:
- at each point of the policy's schedule before the end (default 6, 3 and 1 months), the counsellor
  gets a `renew_rights` task and a mail, once per point; a point already past when the schedule
  begins is not made up for, except the latest one, at once;
- a renewal filed (an event, or the task's outcome) stops the reminders; granted, the new end date
  starts a new schedule (a permanent right has none); refused, the counsellor gets a
  `rights_appeal` task within the policy's appeal delay: the person appeals, or not;
- an appeal filed waits for its decision: granted (a new end date) or refused (final);
- once the end is reached with no renewal filed, or the refusal is final (no appeal, the delay
  passed, the appeal refused) and the end reached, the accompaniment has lost its legal basis: an
  exit is proposed for non-renewal (R15). The exit procedure (R18, a manager's approval) takes it
  from `RightsState.exit_proposal`; a renewal granted later withdraws the proposal. A request or an
  appeal still pending at the end is not a non-renewal: the end is traced and the journey waits.

The clock starts at intake, once the prescription is accepted, not at the convention: an RQTH may end
while the person waits on the list. Until a counsellor is designated (R7, R8) the journey has none, so
its rights tasks go to the managers' team inbox (and the mails to the platform): the managers run the
waiting list and already hold its tasks (R2, R6–R8), and no counsellor has a need to know a person
they do not follow (R22). At the designation the open ones go to the counsellor, as do the later
ones. Journeys that began before this (`RIGHTS_FROM_INTAKE`) start their rights at the accompaniment
as they did, until their next continue-as-new.

The reminders go on during a veille: R14 stops the interviews, not the rights' calendar. Events
come through the `rights_event` update in the order of the table below; the workflow refuses the
others with rule R19.
"""
from __future__ import annotations

import asyncio
from datetime import date, datetime, timedelta

from temporalio import workflow
from temporalio.exceptions import ApplicationError

from eaflow.durations import Duration
from eaflow.workflows import steps, transitions
from eaflow.workflows.accompaniment import start_of
from eaflow.workflows.context import JourneyContext
from eaflow.workflows.task_kinds import RenewRightsOutcome, RightsAppealOutcome
from eaflow.workflows.types import (
    JourneyState,
    RightsEvent,
    RightsExitProposal,
    RightsState,
    RightTrack,
    TaskCompletion,
    TaskView,
)

DAY = timedelta(days=1)
KEEP_EVENT_KEYS = 50  # events remembered across continue-as-new (update ids deduplicate within a run)

RIGHT_LABELS = {"rqth": "la RQTH", "cdaph_decision": "la décision d'orientation de la CDAPH"}
STATUS_LABELS = {
    "none": "aucune échéance connue",
    "in_force": "en cours de validité",
    "permanent": "sans limitation de durée",
    "renewal_filed": "demande de renouvellement déposée",
    "refused": "renouvellement refusé, délai de recours en cours",
    "appeal_filed": "recours déposé",
    "lapsed": "échue sans renouvellement",
    "final_refusal": "renouvellement refusé définitivement",
}
EVENT_LABELS = {
    "renewal_filed": "dépôt de la demande de renouvellement",
    "granted": "renouvellement accordé",
    "refused": "renouvellement refusé",
    "appeal_filed": "dépôt d'un recours",
    "appeal_decided": "décision sur le recours",
}
# The transition table: each event, the statuses of the right in which it may happen (a renewal is
# filed, then decided; a refusal appealed, then the appeal decided). `granted` on a right with no
# known end records the decision in force (a CDAPH decision, a first RQTH).
ALLOWED_FROM: dict[str, frozenset[str]] = {
    "renewal_filed": frozenset({"none", "in_force", "lapsed", "final_refusal"}),
    "granted": frozenset({"none", "renewal_filed"}),
    "refused": frozenset({"renewal_filed"}),
    "appeal_filed": frozenset({"refused"}),
    "appeal_decided": frozenset({"appeal_filed"}),
}
EVENTS = tuple(ALLOWED_FROM)
# The traced steps (audit actions); each carries the rights as they stand after it (`detail.rights`).
ACTIONS = ("rights_tracked", "rights_reminder", "rights_renewal_filed", "rights_granted", "rights_refused",
           "rights_appeal_filed", "rights_appeal_granted", "rights_final_refusal", "rights_ended_pending_decision",
           "exit_proposed_non_renewal")
NEEDS_DATE = frozenset({"renewal_filed", "refused", "appeal_filed", "appeal_decided"})
# workflow.patched id: the rights are followed from the intake on, beside the entry (journey.py).
RIGHTS_FROM_INTAKE = "rights-from-intake"
# From the intake accepted (the waiting list included) until the exit.
FOLLOWED_STATES = (JourneyState.consent, JourneyState.cdaph_notified, JourneyState.waiting_list, JourneyState.admitted, JourneyState.convention, JourneyState.accompaniment, JourneyState.veille,
                   JourneyState.relaunch, JourneyState.exit_proposed)
CLOSED_STATES = (JourneyState.exited, JourneyState.transferred, JourneyState.refused)


def possible_events(status: str) -> list[str]:
    return [event for event, statuses in ALLOWED_FROM.items() if status in statuses]


def date_errors(t: RightTrack, event: str, *, on: date | None, today: date, grants: bool = False,
                until: date | None = None, permanent: bool = False, on_field: str = "on",
                until_field: str = "until") -> list[dict[str, str]]:
    """What is wrong with an event's dates, given the right as it stands (pure: the update's validator
    and the task completions share it). `grants`: the event gives a new end date (or none)."""
    errors: list[dict[str, str]] = []
    if on is None and event in NEEDS_DATE:
        errors.append({"field": on_field, "message": "date obligatoire"})
    elif on is not None:
        message = None
        if on > today:
            message = "cette date est dans le futur"
        elif event in ("refused", "granted") and t.filed_on and on < t.filed_on:
            message = f"la décision ne peut précéder le dépôt de la demande ({t.filed_on:%d/%m/%Y})"
        elif event == "appeal_filed" and t.refused_on and on < t.refused_on:
            message = f"le recours ne peut précéder le refus ({t.refused_on:%d/%m/%Y})"
        elif event == "appeal_filed" and t.appeal_due and on > t.appeal_due:
            message = f"hors délai : le recours était à former au plus tard le {t.appeal_due:%d/%m/%Y}"
        elif event == "appeal_decided" and t.appeal_filed_on and on < t.appeal_filed_on:
            message = f"la décision ne peut précéder le recours ({t.appeal_filed_on:%d/%m/%Y})"
        if message:
            errors.append({"field": on_field, "message": message})
    if grants:
        message = None
        if permanent == (until is not None):
            message = "indiquez la nouvelle date de fin, ou permanent = true (sans limitation de durée)"
        elif until is not None and until <= today:
            message = "la nouvelle date de fin est passée : un droit accordé prend fin dans le futur"
        elif until is not None and t.until and until <= t.until:
            message = f"la nouvelle date de fin doit suivre la précédente ({t.until:%d/%m/%Y})"
        if message:
            errors.append({"field": until_field, "message": message})
    return errors


def refused(message: str, errors: list[dict[str, str]], *, conflict: bool = False) -> ApplicationError:
    return ApplicationError(message, {"rule": "R19", "errors": errors}, type="Conflict" if conflict else "InvalidOutcome")


class RightsProcedure:
    TASK_KINDS = frozenset({"renew_rights", "rights_appeal"})

    def __init__(self, ctx: JourneyContext) -> None:
        self.ctx = ctx
        self._lock = asyncio.Lock()  # the loop's deadlines, the events and the task completions

    @property
    def r(self) -> RightsState:
        return self.ctx.s.rights

    # ------------------------------------------------------------------ the rights as they stand

    def initial_tracks(self) -> dict[str, RightTrack]:
        facts = self.ctx.inp.facts.rights
        if facts.rqth_permanent:
            rqth = RightTrack(status="permanent", permanent=True)
        elif facts.rqth_until is not None:
            rqth = RightTrack(status="in_force", until=facts.rqth_until)
        else:
            rqth = RightTrack()  # BOE status only: no RQTH to renew
        return {"rqth": rqth, "cdaph_decision": RightTrack()}

    def track(self, right: str) -> RightTrack:
        """The right as it stands, without changing the state (validators read it)."""
        return self.r.tracks.get(right) or self.initial_tracks()[right]

    def _begin(self) -> None:
        for right, track in self.initial_tracks().items():
            if right not in self.r.tracks:
                self.r.tracks[right] = track

    def points(self, t: RightTrack) -> list[date]:
        """The days of the reminders before the end, from the policy's schedule."""
        if t.until is None or t.permanent:
            return []
        end = start_of(t.until)
        return sorted({Duration.parse(lead).before(end).date() for lead in self.ctx.policy.rights.reminders_before_end})

    @staticmethod
    def _has_end(t: RightTrack) -> bool:
        return t.until is not None and not t.permanent

    @staticmethod
    def _end_at(t: RightTrack) -> datetime:
        """The right ends once its last day is over."""
        return start_of(t.until + DAY)

    # ------------------------------------------------------------------ the loop

    async def run(self, *, beside: bool = False) -> None:
        """`beside`: run with `JourneyContext.beside` from the intake on (journey.py, RIGHTS_FROM_INTAKE)."""
        ctx, r = self.ctx, self.r
        if not r.started:
            async with self._lock:
                self._begin()
                r.started = True
                await self._trace("rqth", "rights_tracked")
        await ctx.on_deadlines(lambda: r.nudges, self.next_wake, self._deadlines_reached, beside=beside)

    async def _deadlines_reached(self) -> None:
        async with self._lock:
            await self.r19_deadlines()

    def next_wake(self) -> datetime | None:
        if self.ctx.s.state in CLOSED_STATES:
            return None
        wakes: list[datetime] = []
        for t in self.r.tracks.values():
            if t.status == "in_force":
                wakes += [start_of(p) for p in self.points(t) if p not in t.reminded]
            if t.status == "refused" and t.appeal_due is not None:
                wakes.append(start_of(t.appeal_due + DAY))
            if self._has_end(t) and not t.ended:
                wakes.append(self._end_at(t))
        return min(wakes, default=None)

    async def r19_deadlines(self) -> None:
        """Whatever is due now: a reminder, the end of the appeal delay, the end of a right."""
        if self.ctx.s.state in CLOSED_STATES:
            return
        now = workflow.now()
        for right, t in self.r.tracks.items():
            if t.status == "in_force":
                due = [p for p in self.points(t) if p not in t.reminded and start_of(p) <= now]
                if due:
                    t.reminded = [*t.reminded, *due]  # once per point; only the latest is sent
                    if now < self._end_at(t):
                        await self.r19_remind(right, t, max(due))
            if t.status == "refused" and t.appeal_due is not None and now >= start_of(t.appeal_due + DAY):
                await self.r19_final_refusal(right, t, "appeal_delay_passed")
            if self._has_end(t) and not t.ended and now >= self._end_at(t):
                await self.r19_end_reached(right, t)

    # ------------------------------------------------------------------ R19, step by step

    async def r19_remind(self, right: str, t: RightTrack, point: date) -> None:
        """A point of the schedule: the counsellor helps the person renew (one task at a time)."""
        ctx = self.ctx
        for task in self._open_tasks(right, "renew_rights"):
            await ctx.cancel_task(task)  # the previous point's task: this one takes over
        step = f"rights/{right}/{t.until}/renew/{point}"
        team, recipients = self._who()
        task = await ctx.open_task("renew_rights", due=self._due(t.until), step=step, context=self._context(right, t),
                                   to_team=team)
        await ctx.notify(step, "rights_renewal_reminder", recipients, task_id=task.id,
                         right_label=RIGHT_LABELS[right], ends_on=t.until.isoformat())
        await self._trace(right, "rights_reminder", detail={"point": point.isoformat(), "task_id": task.id})

    async def r19_renewal_filed(self, right: str, t: RightTrack, on: date, actor: str | None) -> None:
        t.status, t.filed_on = "renewal_filed", on
        t.refused_on = t.appeal_due = t.appeal_filed_on = None
        for task in self._open_tasks(right, "renew_rights"):
            await self.ctx.cancel_task(task)  # the reminders stop
        await self._trace(right, "rights_renewal_filed", detail={"filed_on": on.isoformat()}, actor=actor)

    async def r19_granted(self, right: str, t: RightTrack, until: date | None, permanent: bool, on: date | None,
                          actor: str | None, action: str = "rights_granted") -> None:
        """A new end date, a new schedule (none for a permanent right); a proposed exit is withdrawn."""
        previous = t.until
        t.status, t.permanent = ("permanent" if permanent else "in_force"), permanent
        t.until = None if permanent else until
        t.reminded, t.ended = [], False
        t.filed_on = t.refused_on = t.appeal_due = t.appeal_filed_on = None
        for kind in self.TASK_KINDS:
            for task in self._open_tasks(right, kind):
                await self.ctx.cancel_task(task)
        withdrawn = t.exit_proposed
        if withdrawn:
            t.exit_proposed = False
            self._withdraw_exit(right)
        await self._trace(right, action, actor=actor, detail={
            "until": t.until.isoformat() if t.until else None, "permanent": permanent,
            "previous_until": previous.isoformat() if previous else None,
            "decided_on": on.isoformat() if on else None, **({"exit_proposal_withdrawn": True} if withdrawn else {})})

    async def r19_refused(self, right: str, t: RightTrack, on: date, actor: str | None) -> None:
        """The counsellor asks the person whether they appeal, within the policy's delay."""
        ctx = self.ctx
        t.status, t.refused_on = "refused", on
        t.appeal_due = Duration.parse(ctx.policy.rights.appeal_delay).from_date(on)
        await self._trace(right, "rights_refused", actor=actor,
                          detail={"refused_on": on.isoformat(), "appeal_due_on": t.appeal_due.isoformat()})
        if workflow.now() >= start_of(t.appeal_due + DAY):
            return  # told too late to appeal: the loop makes the refusal final
        step = f"rights/{right}/appeal/{self.r.steps}"
        team, recipients = self._who()
        task = await ctx.open_task("rights_appeal", due=self._due(t.appeal_due, cap_only=True), step=step,
                                   context=self._context(right, t), to_team=team)
        await ctx.notify(step, "rights_appeal_to_decide", recipients, task_id=task.id,
                         right_label=RIGHT_LABELS[right], refused_on=on.isoformat(),
                         appeal_due_on=t.appeal_due.isoformat())

    async def r19_appeal_filed(self, right: str, t: RightTrack, on: date, actor: str | None) -> None:
        t.status, t.appeal_filed_on = "appeal_filed", on
        for task in self._open_tasks(right, "rights_appeal"):
            await self.ctx.cancel_task(task)
        await self._trace(right, "rights_appeal_filed", detail={"filed_on": on.isoformat()}, actor=actor)

    async def r19_final_refusal(self, right: str, t: RightTrack, why: str, actor: str | None = None,
                                on: date | None = None) -> None:
        """No appeal, the delay passed, or the appeal refused: the exit follows once the right ends."""
        t.status = "final_refusal"
        for task in self._open_tasks(right, "rights_appeal"):
            await self.ctx.cancel_task(task)
        await self._trace(right, "rights_final_refusal", actor=actor,
                          detail={"why": why, **({"decided_on": on.isoformat()} if on else {})})
        if t.ended:
            await self.r15_propose_exit(right, t, "final_refusal")

    async def r19_end_reached(self, right: str, t: RightTrack) -> None:
        t.ended = True
        if t.status == "in_force":
            t.status = "lapsed"
            await self.r15_propose_exit(right, t, "no_renewal")
        elif t.status == "final_refusal":
            await self.r15_propose_exit(right, t, "final_refusal")
        else:  # a request or an appeal pending: not a non-renewal, the journey waits for the decision
            await self._trace(right, "rights_ended_pending_decision", detail={"ended_on": t.until.isoformat()})

    async def r15_propose_exit(self, right: str, t: RightTrack, why: str) -> None:
        """R15: non-renewal is a valid exit reason; R18: the exit procedure (a manager) decides."""
        if t.exit_proposed:
            return
        t.exit_proposed = True
        if self.r.exit_proposal is None:
            self.r.exit_proposal = RightsExitProposal(right=right, why=why, on=workflow.now().date())
        await self._trace(right, "exit_proposed_non_renewal", detail={
            "rule": "R15", "reason": "non_renewal", "why": why, "renewal_rule": "R19",
            "ended_on": t.until.isoformat() if t.until else None})

    def _withdraw_exit(self, right: str) -> None:
        proposal = self.r.exit_proposal
        if proposal is None or proposal.right != right:
            return
        other = next(((name, t) for name, t in self.r.tracks.items() if t.exit_proposed and name != right), None)
        self.r.exit_proposal = None if other is None else RightsExitProposal(
            right=other[0], why="final_refusal" if other[1].status == "final_refusal" else "no_renewal",
            on=proposal.on)

    # ------------------------------------------------------------------ the `rights_event` update

    def validate_event(self, event: RightsEvent) -> None:
        if event.key in self.r.event_keys:
            return  # the same event again: it shares the first result
        if event.right not in RIGHT_LABELS:
            raise refused("Droit inconnu.", [{"field": "right", "message": f"valeurs possibles : {', '.join(RIGHT_LABELS)}"}])
        if event.event not in ALLOWED_FROM:
            raise refused("Événement inconnu.", [{"field": "event", "message": f"valeurs possibles : {', '.join(EVENTS)}"}])
        state = self.ctx.s.state
        if state not in FOLLOWED_STATES:
            raise refused(
                f"Le suivi des droits commence à l'acceptation de la prescription et finit à la sortie : le "
                f"parcours est à l'étape "
                f"« {transitions.label(state.value)} ».", [{"field": "event", "message": "étape du parcours"}],
                conflict=True)
        t = self.track(event.right)
        if t.status not in ALLOWED_FROM[event.event]:
            possible = ", ".join(possible_events(t.status)) or "aucun"
            raise refused(
                f"Événement hors d'ordre : {EVENT_LABELS[event.event]} impossible quand {RIGHT_LABELS[event.right]} "
                f"est « {STATUS_LABELS[t.status]} ».",
                [{"field": "event", "message": f"événements possibles maintenant : {possible}"}], conflict=True)
        if event.event == "appeal_decided" and event.decision not in ("granted", "refused"):
            raise refused("La décision sur le recours est à préciser.",
                          [{"field": "decision", "message": "granted ou refused"}])
        grants = event.event == "granted" or (event.event == "appeal_decided" and event.decision == "granted")
        errors = date_errors(t, event.event, on=event.on, today=workflow.now().date(), grants=grants,
                             until=event.until, permanent=event.permanent)
        if errors:
            raise refused("Les dates ne correspondent pas au renouvellement en cours.", errors)

    async def apply_event(self, event: RightsEvent) -> dict:
        async with self._lock:
            self._begin()
            if event.key in self.r.event_keys:
                return self.result(event.right)
            self.validate_event(event)  # again: a deadline may have moved the right since the validator ran
            self.r.event_keys = [*self.r.event_keys, event.key][-KEEP_EVENT_KEYS:]
            right, t, actor = event.right, self.r.tracks[event.right], event.actor_id
            if event.event == "renewal_filed":
                await self.r19_renewal_filed(right, t, event.on, actor)
            elif event.event == "granted":
                await self.r19_granted(right, t, event.until, event.permanent, event.on, actor)
            elif event.event == "refused":
                await self.r19_refused(right, t, event.on, actor)
            elif event.event == "appeal_filed":
                await self.r19_appeal_filed(right, t, event.on, actor)
            elif event.decision == "granted":
                await self.r19_granted(right, t, event.until, event.permanent, event.on, actor,
                                       action="rights_appeal_granted")
            else:
                await self.r19_final_refusal(right, t, "appeal_refused", actor, on=event.on)
            self.r.nudges += 1
            return self.result(right)

    def result(self, right: str) -> dict:
        return {"right": right, **self.track_summary(self.track(right)),
                "exit_proposal": self.r.exit_proposal.model_dump(mode="json") if self.r.exit_proposal else None}

    # ------------------------------------------------------------------ completions of its tasks

    def validate(self, task: TaskView, completion: TaskCompletion) -> None:
        right = self._right_of(task)
        t, today = self.track(right), workflow.now().date()
        if task.kind == "renew_rights":
            outcome = RenewRightsOutcome.model_validate(completion.outcome)
            if outcome.filed_on is None:
                return  # not yet: the next point of the schedule reminds again
            if t.status not in ALLOWED_FROM["renewal_filed"]:
                raise refused("Une demande de renouvellement ou un recours est déjà en cours.",
                              [{"field": "outcome.filed_on", "message": STATUS_LABELS[t.status]}], conflict=True)
            errors = date_errors(t, "renewal_filed", on=outcome.filed_on, today=today, on_field="outcome.filed_on")
        else:
            outcome = RightsAppealOutcome.model_validate(completion.outcome)
            if t.status != "refused":
                raise refused("Ce refus n'attend plus de décision sur un recours.",
                              [{"field": "outcome.appeal", "message": STATUS_LABELS[t.status]}], conflict=True)
            errors = date_errors(t, "appeal_filed", on=outcome.filed_on, today=today,
                                 on_field="outcome.filed_on") if outcome.appeal else []
        if errors:
            raise refused("La date ne correspond pas au renouvellement en cours.", errors)

    async def apply(self, task: TaskView, completion: TaskCompletion) -> None:
        async with self._lock:
            self._begin()
            self.validate(task, completion)
            right = self._right_of(task)
            t = self.r.tracks[right]
            if task.kind == "renew_rights":
                outcome = RenewRightsOutcome.model_validate(completion.outcome)
                if outcome.filed_on is not None:
                    await self.r19_renewal_filed(right, t, outcome.filed_on, completion.actor_id)
            else:
                appeal = RightsAppealOutcome.model_validate(completion.outcome)
                if appeal.appeal:
                    await self.r19_appeal_filed(right, t, appeal.filed_on, completion.actor_id)
                else:
                    await self.r19_final_refusal(right, t, "no_appeal", completion.actor_id)
            self.r.nudges += 1

    # ------------------------------------------------------------------ before a counsellor is designated

    def _who(self) -> tuple[str | None, list[str]]:
        """Who gets a rights task and its mail: the counsellor; before one is designated (the intake, the
        waiting list), the managers' team inbox and the platform's mail (see the module's text)."""
        if self.ctx.s.counsellor_id is None:
            return "manager", ["platform"]
        return None, ["counsellor"]

    async def counsellor_designated(self) -> None:
        """R7, R8: the counsellor now designated takes over the rights tasks the managers held."""
        ctx, counsellor = self.ctx, self.ctx.s.counsellor_id
        held = [task for task in ctx.s.tasks.values() if task.kind in self.TASK_KINDS and task.status == "open"
                and task.assignee_id is None and task.candidate_role == "manager"]
        if counsellor is None or not held:
            return  # (always so for journeys whose rights began at the accompaniment)
        for task in held:
            task.assignee_id, task.candidate_role = counsellor, "counsellor"
        await steps.reassign_open_tasks(ctx.journey_id, None, counsellor, task_ids=[task.id for task in held],
                                        role="counsellor")

    # ------------------------------------------------------------------ helpers

    def _open_tasks(self, right: str, kind: str) -> list[TaskView]:
        prefix = f"rights/{right}/"
        return [t for t in self.ctx.s.tasks.values() if t.kind == kind and t.status == "open"
                and t.step.startswith(prefix)]

    @staticmethod
    def _right_of(task: TaskView) -> str:
        parts = task.step.split("/")
        return parts[1] if len(parts) > 1 and parts[0] == "rights" else "rqth"

    def _due(self, last_day: date | None, *, cap_only: bool = False) -> str:
        """A task's due time as a duration from now: the policy's delay, and never after the last moment
        of `last_day` (the right's last day, the last day to appeal)."""
        now = workflow.now()
        due = None if cap_only else Duration.parse(self.ctx.policy.rights.renewal_task_due).after(now)
        if last_day is not None:
            last_moment = start_of(last_day + DAY) - timedelta(seconds=1)
            due = last_moment if due is None else min(due, last_moment)
        return f"PT{max(int((due - now).total_seconds()), 0)}S"

    def _context(self, right: str, t: RightTrack) -> dict:
        return {"rights": {"right": right, "label": RIGHT_LABELS[right], "until": t.until.isoformat() if t.until else None,
                           "refused_on": t.refused_on.isoformat() if t.refused_on else None,
                           "appeal_due_on": t.appeal_due.isoformat() if t.appeal_due else None}}

    def track_summary(self, t: RightTrack) -> dict:
        upcoming = [p for p in self.points(t) if p not in t.reminded] if t.status == "in_force" else []

        def iso(day: date | None) -> str | None:
            return day.isoformat() if day else None

        return {"status": t.status, "status_label": STATUS_LABELS[t.status], "until": iso(t.until),
                "permanent": t.permanent, "filed_on": iso(t.filed_on), "refused_on": iso(t.refused_on),
                "appeal_due_on": iso(t.appeal_due), "appeal_filed_on": iso(t.appeal_filed_on),
                "next_reminder_on": iso(upcoming[0]) if upcoming else None, "exit_proposed": t.exit_proposed}

    async def _trace(self, right: str, action: str, *, detail: dict | None = None, actor: str | None = None) -> None:
        """Trace a step (R21); the RQTH's end date goes to the journey projection with it."""
        r = self.r
        r.steps += 1
        t = r.tracks.get(right)
        fields = {}
        if right == "rqth" and t is not None:
            fields = {"rqth_until": t.until.isoformat() if t.until else None, "rqth_permanent": t.permanent}
        await self.ctx.record(
            f"rights/{r.steps}-{action}", action, fields=fields, actor={"completed_by": actor} if actor else None,
            detail={"rule": "R19", "right": right, **(detail or {}),
                    "rights": {name: self.track_summary(track) for name, track in r.tracks.items()}},
            with_state=False)  # the rights run beside the journey: they never move it (nor write its state)
