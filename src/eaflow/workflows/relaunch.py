"""The relaunch sequence and the examination of a lasting silence (§IV.E of the cahier des charges,
« Désengagement manifeste et durable »; R17), read top to bottom.

« Lorsqu'aucun lien ne peut être maintenu pendant une période minimale de six mois, malgré des
sollicitations répétées par différents canaux (téléphone, courrier, courriel, tiers de confiance et
déplacement au domicile), une sortie peut être envisagée. Cette situation doit faire l'objet d'une
procédure formalisée et documentée, avec un examen attentif des causes possibles du silence,
notamment lorsqu'il est susceptible de traduire une fragilité nécessitant un maintien du lien. »

The link is the last contact that reached the person (R13: reached, with the person taking part).
During the accompaniment, once the person has not been reached for the policy's
`not_reached_after` (counted from the last link, the accompaniment's first day, the end of the
previous sequence or of a veille — an agreed pause is not a silence —, whichever is latest) although
at least one attempt since that link did not reach them, the journey enters `relaunch` and traces it. The policy's schedule of `attempts` (an offset
from the start and a channel) gives the counsellor one `relaunch_attempt` task and one mail per
attempt; each outcome is recorded as a contact, reached or not. Any contact that reaches the person
— an attempt's outcome, a contact recorded through the API, an interview — ends the sequence: the
accompaniment goes on, the open tasks of the sequence leave the inbox. `reactivate` ends it too.

Only once `silence_minimum` (never under six months) has passed since the last link (the start of
the sequence if there is none; the last examination if later) and each of R17's five channels was
tried (an attempt recorded since) or recorded as impossible in the sequence, with why (an attempt's
outcome `impossible`: no known e-mail address, no trusted third party, the person lives abroad…),
does the counsellor get `analyse_silence` (runs from before `EVERY_CHANNEL_PATCH` keep the policy's
`minimum_channels` distinct channels until their next continue-as-new): the causes
examined, a fragility identified or not, the person or representative consulted, the relaunch
history read. It concludes to keep the link (back to the accompaniment; a sequence may start again
later) or to propose the exit for disengagement, which the exit procedure takes to a manager (R18).

Contacts live in the database: the journey re-reads them at each of its deadlines and when told they
changed (`contacts_changed`, delivered at least once by eaflow/nudges.py).
"""
from __future__ import annotations

import asyncio
from datetime import date, datetime
from typing import Any

from temporalio import workflow
from temporalio.exceptions import ApplicationError

from eaflow.durations import Duration
from eaflow.policy import relaunch_attempt
from eaflow.workflows import rules
from eaflow.workflows.accompaniment import start_of
from eaflow.workflows.context import JourneyContext
from eaflow.workflows.task_kinds import RELAUNCH_CHANNEL_LABELS, AnalyseSilenceOutcome, RelaunchAttemptOutcome
from eaflow.workflows.types import (
    ContactFacts,
    ContactFromTask,
    ExitProposal,
    JourneyState,
    Reactivation,
    RelaunchState,
    TaskCompletion,
    TaskView,
)

# Since the contacts' nudges are delivered at least once (eaflow/nudges.py), the loop no longer
# re-reads the contacts every `not_reached_after` in case one was lost: it waits for the nudges.
DURABLE_NUDGES_PATCH = "durable-contact-nudges"
# R17: the examination waits for every one of the five channels (tried or recorded impossible), no longer
# for `minimum_channels` of them; runs that began before keep the old rule so that they replay identically.
EVERY_CHANNEL_PATCH = "r17-every-channel"
LAST_ATTEMPT_DUE = "P1M"  # the last attempt's task is due this long after it opens (the others: at the next)
ANALYSIS_DUE = "P1M"
ATTEMPT_RESULTS = {"person": "not_reached", "both": "not_reached", "employer": "employer_only",
                   "partner": "third_party_only"}


def _iso(day: date | None) -> str | None:
    return day.isoformat() if day else None


def _refused(message: str, field: str, detail: str, *, conflict: bool = False) -> ApplicationError:
    return ApplicationError(message, {"rule": "R17", "errors": [{"field": field, "message": detail}]},
                            type="Conflict" if conflict else "InvalidOutcome")


class RelaunchProcedure:
    TASK_KINDS = frozenset({"relaunch_attempt", "analyse_silence"})

    def __init__(self, ctx: JourneyContext, exits: Any) -> None:
        """`exits`: the exit procedure (R15, R18): `validate_proposal` and `propose(ExitProposal)`."""
        self.ctx, self.exits = ctx, exits
        self._lock = asyncio.Lock()  # the loop's deadlines, the nudges, the completions and reactivation
        self.running = False  # the loop runs in this run: the contacts' nudges reach it from then on
        self._facts: ContactFacts | None = None  # the last reading (not carried: re-read when needed)

    @property
    def rl(self) -> RelaunchState:
        return self.ctx.s.relaunch

    @property
    def policy(self):
        return self.ctx.policy.relaunch

    def in_relaunch(self) -> bool:
        return self.ctx.s.state is JourneyState.relaunch

    # ------------------------------------------------------------------ the loop

    async def run(self) -> None:
        ctx, rl = self.ctx, self.rl
        self.running = True
        # Read the contacts the first time; in each later run, look at the state the previous run left.
        await self.check(read=not rl.began)
        rl.began = True
        # A change of state (e.g. an exit rejected: back to the relaunch where it was) is looked at
        # without reading the contacts again; a deadline reads them.
        await ctx.on_deadlines(lambda: rl.nudges, self.next_wake, self.deadline_reached, follow_state=True,
                               state_changed=lambda: self.check(read=False))

    async def deadline_reached(self) -> None:
        self.ctx.contacts_may_have_changed()  # look again: a nudge may still be on its way
        await self.check(read=True)

    def next_wake(self) -> datetime | None:
        rl, state = self.rl, self.ctx.s.state
        durable = workflow.patched(DURABLE_NUDGES_PATCH)
        reread = None  # runs from before nudges were durable re-read the contacts now and then
        if rl.read_at and not durable:
            reread = Duration.parse(self.policy.not_reached_after).after(rl.read_at)
        if state is JourneyState.accompaniment:
            trigger = self.trigger_at()
            if trigger is None or rl.unreached:
                return trigger
            if durable:
                return None  # no attempt failed: only a nudge can change that
            return trigger if reread is None else max(trigger, reread)  # no attempt known: look again later
        if state is JourneyState.relaunch and rl.started_at is not None:
            wakes = [w for w in (reread, self.analysis_at()) if w is not None]
            if rl.opened < len(rl.schedule):
                wakes.append(self.attempt_at(rl.opened))
            return min(wakes, default=None)
        return None

    async def check(self, *, read: bool) -> None:
        async with self._lock:
            if read:
                await self._read()
            await self._act()

    async def _read(self) -> None:
        """What the contacts say: the last link, the attempts since, their channels."""
        rl = self.rl
        facts: ContactFacts = await self.ctx.contact_facts()
        self._facts = facts
        rl.read_at = workflow.now()
        rl.last_link_on, rl.unreached = facts.last_reached_on, len(facts.attempts)
        since = rl.analysed_on  # a new examination looks at the attempts made after the previous one
        rl.channels = rules.r17_channels(a for a in facts.attempts if since is None or a.on > since)

    async def _act(self) -> None:
        rl, now, state = self.rl, workflow.now(), self.ctx.s.state
        if rl.seen_state == JourneyState.veille.value and state is JourneyState.accompaniment:
            rl.resumed_on = now.date()  # R14: a veille is agreed, not a silence; counted from its end
        rl.seen_state = state.value
        if state is JourneyState.accompaniment:
            trigger = self.trigger_at()
            if self.rl.unreached and trigger is not None and now >= trigger:
                await self.r17_start()
        elif state is JourneyState.relaunch and self.rl.started_at is not None:
            if self.link_since_start():
                await self._end("reached", actor_id=None)
                return
            await self.r17_attempts_due(now)
            analysis = self.analysis_at()
            if analysis is not None and now >= analysis:
                await self.r17_analysis()

    # ------------------------------------------------------------------ R17, step by step

    def trigger_at(self) -> datetime | None:
        """When the silence becomes long enough to start a sequence (given an attempt that failed)."""
        s, rl = self.ctx.s, self.rl
        bases = [d for d in (rl.last_link_on, s.rhythm.started_on or s.convention.signed_on, rl.ended_on,
                             rl.resumed_on) if d]
        if not bases:
            return None
        return start_of(Duration.parse(self.policy.not_reached_after).from_date(max(bases)))

    def link_since_start(self) -> bool:
        rl = self.rl
        return rl.last_link_on is not None and (rl.link_at_start is None or rl.last_link_on > rl.link_at_start)

    def attempt_at(self, index: int) -> datetime:
        offset, _ = relaunch_attempt(self.rl.schedule[index])
        return Duration.parse(offset).after(self.rl.started_at)

    def silence_since(self) -> date:
        """The silence the examination looks at: since the last link (the sequence's start if none), or
        since the previous examination or the end of a veille if later."""
        rl = self.rl
        return max(d for d in (rl.last_link_on or rl.started_at.date(), rl.analysed_on, rl.resumed_on)
                   if d is not None)

    def analysis_at(self) -> datetime | None:
        rl = self.rl
        if rl.started_at is None or rl.analysis_step is not None or not self.channels_solicited():
            return None
        return start_of(Duration.parse(self.policy.silence_minimum).from_date(self.silence_since()))

    def channels_solicited(self) -> bool:
        """Whether the solicitations went through R17's channels: each of the five tried or impossible."""
        rl = self.rl
        if workflow.patched(EVERY_CHANNEL_PATCH):
            return not rules.r17_channels_owed(rl.channels, rl.impossible)
        return len(rl.channels) >= self.policy.minimum_channels  # a run from before: enough distinct channels

    async def r17_start(self) -> None:
        ctx, rl = self.ctx, self.rl
        now = workflow.now()
        rl.sequences += 1
        rl.started_at, rl.link_at_start = now, rl.last_link_on
        rl.schedule, rl.opened, rl.analysis_step = list(self.policy.attempts), 0, None
        rl.impossible = {}  # each sequence looks again at what is possible
        ctx.enter(JourneyState.relaunch)
        planned = [{"attempt": i + 1, "channel": relaunch_attempt(item)[1], "on": self.attempt_at(i).date().isoformat()}
                   for i, item in enumerate(rl.schedule)]
        await ctx.record(f"relaunch/{rl.sequences}", "relaunch_started", detail={
            "rule": "R17", "sequence": rl.sequences, "last_link_on": _iso(rl.last_link_on),
            "unreached_attempts": rl.unreached, "not_reached_after": self.policy.not_reached_after,
            "attempts": planned})
        await self.r17_attempts_due(now)

    async def r17_attempts_due(self, now: datetime) -> None:
        """Open the attempt whose time has come; attempts overtaken meanwhile (the journey was elsewhere,
        e.g. an exit proposed then rejected) are skipped: only the latest one opens."""
        rl = self.rl
        due = [i for i in range(rl.opened, len(rl.schedule)) if self.attempt_at(i) <= now]
        if not due:
            return
        rl.opened = due[-1] + 1
        await self.r17_attempt(due[-1], skipped=[i + 1 for i in due[:-1]])

    async def r17_attempt(self, index: int, skipped: list[int]) -> None:
        ctx, rl = self.ctx, self.rl
        _, channel = relaunch_attempt(rl.schedule[index])
        number, total, label = index + 1, len(rl.schedule), RELAUNCH_CHANNEL_LABELS[channel]
        step = f"relaunch/{rl.sequences}/attempt-{number}"
        due = self._until(self.attempt_at(index + 1)) if index + 1 < total else LAST_ATTEMPT_DUE
        task = await ctx.open_task(
            "relaunch_attempt", due=due, step=step, title=f"Relance {number}/{total} ({label}) : tenter de joindre la personne",
            context={"relaunch": {"sequence": rl.sequences, "attempt": number, "of": total, "channel": channel,
                                  "channel_label": label, "last_link_on": _iso(rl.last_link_on)}})
        await ctx.notify(step, "relaunch_attempt", ["counsellor"], task_id=task.id, attempt_number=number,
                         attempts_total=total, channel_label=label, last_link_on=_iso(rl.last_link_on))
        await ctx.record(step, "relaunch_attempt_due", detail={
            "rule": "R17", "sequence": rl.sequences, "attempt": number, "channel": channel, "task_id": task.id,
            **({"skipped": skipped} if skipped else {})})

    async def r17_analysis(self) -> None:
        """The formal examination of the silence's causes (six months at least, several channels)."""
        ctx, rl = self.ctx, self.rl
        rl.analyses += 1
        step = f"relaunch/{rl.sequences}/analysis-{rl.analyses}"
        rl.analysis_step = step
        since = self.silence_since()
        labels = [RELAUNCH_CHANNEL_LABELS[c] for c in rl.channels]
        impossible = self._impossible()
        task = await ctx.open_task("analyse_silence", due=ANALYSIS_DUE, step=step, context={"relaunch": {
            "sequence": rl.sequences, "last_link_on": _iso(rl.last_link_on), "silence_since": since.isoformat(),
            "channels": rl.channels, "unreached_attempts": rl.unreached, **impossible}})
        await ctx.notify(step, "silence_analysis", ["counsellor"], task_id=task.id, last_link_on=_iso(rl.last_link_on),
                         silence_since=since.isoformat(), channel_labels=labels, attempts_count=rl.unreached)
        await ctx.record(step, "silence_analysis_due", detail={
            "rule": "R17", "sequence": rl.sequences, "silence_since": since.isoformat(),
            "last_link_on": _iso(rl.last_link_on), "channels": rl.channels, "unreached_attempts": rl.unreached,
            **impossible, "task_id": task.id})

    async def _end(self, how: str, *, actor_id: str | None, reason: str = "") -> None:
        """The sequence ends (the person reached, the link kept, a reactivation): the accompaniment goes on."""
        ctx, rl = self.ctx, self.rl
        if not self.in_relaunch():
            return
        ctx.enter(JourneyState.accompaniment)
        await self._cancel_open_tasks()
        started_on = rl.started_at.date() if rl.started_at else None
        rl.ended_on = workflow.now().date()
        rl.started_at, rl.schedule, rl.opened, rl.analysis_step = None, [], 0, None
        await ctx.record(f"relaunch/{rl.sequences}/ended", "relaunch_ended", detail={
            "rule": "R17", "sequence": rl.sequences, "how": how, "started_on": _iso(started_on),
            "ended_on": rl.ended_on.isoformat(), "last_link_on": _iso(rl.last_link_on),
            **({"reason": reason} if reason else {})}, actor={"completed_by": actor_id} if actor_id else None)

    async def _cancel_open_tasks(self) -> None:
        prefix = f"relaunch/{self.rl.sequences}/"
        for task in list(self.ctx.s.tasks.values()):
            if task.status == "open" and task.step.startswith(prefix):
                await self.ctx.cancel_task(task)

    def _until(self, moment: datetime) -> str:
        seconds = max(int((moment - workflow.now()).total_seconds()), 1)
        return f"PT{seconds}S"

    # ------------------------------------------------------------------ messages

    async def contacts_changed(self) -> None:
        """Contacts were recorded, edited or deleted: a link stops the sequence, a failed attempt may start one."""
        await self.check(read=True)
        self.rl.nudges += 1

    def validate_reactivation(self, _: Reactivation) -> None:
        if not self.in_relaunch():
            raise ApplicationError("Le parcours n'est pas en relance : l'accompagnement est déjà en cours.",
                                   {"rule": "R17"}, type="Conflict")

    async def reactivate(self, request: Reactivation) -> dict:
        """The counsellor restored the link (the person called back, …): the sequence ends now."""
        async with self._lock:
            self.validate_reactivation(request)
            await self._end("reactivated", actor_id=request.actor_id, reason=request.reason)
            self.rl.nudges += 1
            return {"state": self.ctx.s.state.value}

    # ------------------------------------------------------------------ completions of its tasks

    def validate(self, task: TaskView, completion: TaskCompletion) -> None:
        rl, today = self.rl, workflow.now().date()
        if not self.in_relaunch() or not task.step.startswith(f"relaunch/{rl.sequences}/"):
            raise ApplicationError("Les relances de cette tâche sont terminées.", {"rule": "R17"}, type="Conflict")
        if task.kind == "relaunch_attempt":
            outcome = RelaunchAttemptOutcome.model_validate(completion.outcome)
            if outcome.occurred_on > today:
                raise _refused("La date de la tentative est dans le futur.", "outcome.occurred_on",
                               "cette date est dans le futur")
            started_on = rl.started_at.date() if rl.started_at else today
            if outcome.occurred_on < started_on:
                raise _refused("La tentative ne peut précéder le début des relances.", "outcome.occurred_on",
                               f"les relances ont commencé le {started_on:%d/%m/%Y}")
            return
        if task.step != rl.analysis_step:
            raise ApplicationError("Cet examen du silence n'est plus attendu.", {"rule": "R17"}, type="Conflict")
        outcome = AnalyseSilenceOutcome.model_validate(completion.outcome)
        if outcome.conclusion == "propose_exit":
            self.exits.validate_proposal(ExitProposal(reason="disengagement", proposed_by=completion.actor_id))

    async def apply(self, task: TaskView, completion: TaskCompletion) -> None:
        async with self._lock:
            self.validate(task, completion)  # again: the sequence may have ended while this waited
            if task.kind == "relaunch_attempt":
                await self._record_attempt(task, completion)
            else:
                await self._conclude(task, completion)
            self.rl.nudges += 1

    async def _record_attempt(self, task: TaskView, completion: TaskCompletion) -> None:
        """The attempt becomes a contact (R13); a person reached ends the sequence, a new channel counts."""
        outcome = RelaunchAttemptOutcome.model_validate(completion.outcome)
        channel = outcome.channel.value
        if outcome.impossible:
            # Not a contact (nothing was tried): the channel is no longer owed in this sequence (R17).
            self.rl.impossible = {**self.rl.impossible, channel: outcome.impossible_reason}
            await self.ctx.record(f"{task.step}/recorded", "relaunch_channel_impossible", detail={
                "rule": "R17", "sequence": self.rl.sequences, "task_id": task.id, "channel": channel,
                "on": outcome.occurred_on.isoformat(), "reason": outcome.impossible_reason},
                actor={"completed_by": completion.actor_id})
            await self._act()
            return
        fields = {"occurred_on": outcome.occurred_on.isoformat(), "duration_minutes": outcome.duration_minutes,
                  "reached": outcome.reached, "interview": False, "note": outcome.note,
                  **rules.r17_contact_fields(channel, outcome.reached)}
        await self.ctx.record_contact(ContactFromTask(
            journey_id=self.ctx.journey_id, task_id=task.id, fields=fields, recorded_by=completion.actor_id))
        await self.ctx.record(f"{task.step}/recorded", "relaunch_attempt_recorded", detail={
            "rule": "R17", "sequence": self.rl.sequences, "task_id": task.id, "channel": channel,
            "on": outcome.occurred_on.isoformat(), "reached": outcome.reached}, actor={"completed_by": completion.actor_id})
        await self._read()
        await self._act()

    async def _conclude(self, task: TaskView, completion: TaskCompletion) -> None:
        ctx, rl = self.ctx, self.rl
        outcome = AnalyseSilenceOutcome.model_validate(completion.outcome)
        await self._read()  # the relaunch history, as it stands, goes into the file
        analysis = outcome.model_dump(mode="json")
        file = {"rule": "R17", "sequence": rl.sequences, "analysis": analysis, "last_link_on": _iso(rl.last_link_on),
                "silence_since": self.silence_since().isoformat(),
                "relaunch_started_on": _iso(rl.started_at.date() if rl.started_at else None),
                "channels": rl.channels, "attempts": self._history(), **self._impossible()}
        actor = {"completed_by": completion.actor_id}
        if self.link_since_start():
            # The person was reached meanwhile (a contact whose nudge had not arrived yet): no disengagement any more.
            rl.analysis_step, rl.analysed_on = None, workflow.now().date()
            await ctx.record(f"{task.step}/concluded", "silence_analysed", actor=actor,
                             detail={**file, "conclusion": outcome.conclusion, "overtaken_by_link": True})
            await self._end("reached", actor_id=None)
            return
        if outcome.conclusion == "propose_exit":
            # R18: the platform never decides alone; the exit procedure takes the file to a manager. Proposed
            # first: if the exit procedure refuses, nothing here has changed and the task stays open.
            await self.exits.propose(ExitProposal(
                reason="disengagement", proposed_by=completion.actor_id, details=file,
                consultation=outcome.consultation,
                analysis=(f"Examen des causes possibles du silence : {outcome.causes_examined} — Aucune fragilité "
                          f"nécessitant le maintien du lien n'a été identifiée. — Consultation de la personne : "
                          f"{outcome.consultation}")))
        rl.analysis_step, rl.analysed_on = None, workflow.now().date()
        rl.channels = []  # the next examination looks at the attempts made after this one
        await ctx.record(f"{task.step}/concluded", "silence_analysed",
                         detail={**file, "conclusion": outcome.conclusion}, actor=actor)
        if outcome.conclusion == "keep_link":
            await self._end("keep_link", actor_id=completion.actor_id)
        else:
            await self._cancel_open_tasks()  # attempts resume where they were if a manager rejects the exit

    def _impossible(self) -> dict[str, Any]:
        """The channels recorded as impossible, and why, for the examination and the exit file (nothing when none)."""
        items = [{"channel": c, "reason": why} for c, why in self.rl.impossible.items()]
        return {"impossible": items} if items else {}

    def _history(self) -> list[dict[str, Any]]:
        """The attempts since the last link, for the exit file: when, by which channel, with what result."""
        attempts = self._facts.attempts if self._facts else []
        return [{"on": a.on.isoformat(), "channel": rules.r17_channel_of(a.channel, a.place) or a.channel,
                 "result": ATTEMPT_RESULTS.get(a.participants, "not_reached")} for a in attempts]
