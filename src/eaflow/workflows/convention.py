"""The convention individuelle d'accompagnement (§II, §IV.C of the cahier des charges; R10), read
top to bottom.

After the shared evaluation, the counsellor drafts the convention: how they intervene at the
workplace, the expected rhythm, and the parties — the platform (its operator, signed by a manager),
the person or their legal representative, and the employer when the person is employed
(self-employed people sign as their own employer). The document is rendered and stored as a
version with its hash. Every party signs: the person (or representative) and the employer through
a personal link by mail, the platform through a manager's task. Unsigned parties are reminded on the
policy's schedule and the counsellor is alerted after the escalation delay. A refusal goes back to
the counsellor with its reason, and the re-draft is a new version. Once every party has signed, the
signed version is frozen, a PDF copy is mailed to every party, and the accompaniment begins.
"""
from __future__ import annotations

import asyncio
from datetime import timedelta

from temporalio import workflow
from temporalio.exceptions import ApplicationError

from eaflow.durations import Duration
from eaflow.workflows import steps
from eaflow.workflows.context import JourneyContext
from eaflow.workflows.types import (
    ConventionDraft,
    ConventionFinal,
    JourneyState,
    PartyRef,
    PlatformSignature,
    SignatureAcceptance,
    SignatureIn,
    SigningLinkRequest,
    TaskCompletion,
    TaskView,
)

# French labels of the parties, for the mails (the names stay in the database).
PARTY_LABELS = {
    "platform": "la plateforme",
    "person": "la personne accompagnée",
    "legal_representative": "le représentant légal",
    "employer": "l'employeur",
}
_ZERO = timedelta(0)


class ConventionProcedure:
    TASK_KINDS = frozenset({"draft_convention", "sign_convention", "convention_follow_up"})

    def __init__(self, ctx: JourneyContext) -> None:
        self.ctx = ctx
        self._answering: set[str] = set()  # parties whose answer is being recorded right now

    @property
    def c(self):
        return self.ctx.s.convention

    async def run(self) -> None:
        ctx, c = self.ctx, self.c
        if ctx.s.state is JourneyState.admitted:
            ctx.enter(JourneyState.convention)
            c.status, c.version = "drafting", 1
            await ctx.record("convention", "convention_started", detail={"rule": "R10"})
        while ctx.s.state is JourneyState.convention:
            if c.status == "drafting":
                await self.r10_draft()
            await self.r10_collect_signatures()
            if c.refusal is not None:
                await self.r10_refusal_back_to_counsellor()
            else:
                await self.r10_signed_by_every_party()

    async def r10_draft(self) -> None:
        ctx, c, policy = self.ctx, self.c, self.ctx.policy.convention
        n = c.version
        task = await ctx.open_task("draft_convention", due=policy.draft_due, step=f"convention-draft-{n}")
        if n == 1:
            await ctx.notify("convention/to-draft", "convention_to_draft", ["counsellor"], task_id=task.id)
        task = await ctx.until_done(task, policy.draft_reminder_every, "task_reminder", ["assignee"])
        ref = await steps.create_convention_version(ConventionDraft(
            journey_id=ctx.journey_id, platform_id=ctx.inp.platform_id, number=n, outcome=task.outcome or {},
            drafted_by=(task.result or {}).get("completed_by"), task_id=task.id, at=workflow.now(),
        ))
        c.convention_id, c.version_id, c.content_hash, c.parties = (
            ref.convention_id, ref.version_id, ref.content_hash, ref.parties)
        c.signed, c.refusal, c.sent_at, c.next_reminder_at = [], None, workflow.now(), None
        c.reminders_sent, c.escalated, c.links_sent, c.status = 0, False, False, "signing"

    async def r10_collect_signatures(self) -> None:
        ctx, c, policy = self.ctx, self.c, self.ctx.policy.convention
        if not c.links_sent:
            await self.send_for_signature()
        every = Duration.parse(policy.signature_reminder_every)
        escalate_at = Duration.parse(policy.signature_escalation_after).after(c.sent_at)
        if c.next_reminder_at is None:
            c.next_reminder_at = every.after(c.sent_at)
        while not self.every_party_signed() and c.refusal is None:
            await ctx.continue_as_new_if_due()
            seen, now = c.changes, workflow.now()
            deadline = c.next_reminder_at if c.escalated else min(c.next_reminder_at, escalate_at)
            try:
                await workflow.wait_condition(lambda: c.changes != seen or ctx.history_is_long(),
                                              timeout=max(deadline - now, _ZERO))
            except asyncio.TimeoutError:
                now = workflow.now()
                if now >= c.next_reminder_at:
                    c.reminders_sent += 1
                    c.next_reminder_at = every.after(c.next_reminder_at)
                    await self.remind_unsigned_parties(c.reminders_sent)
                if not c.escalated and now >= escalate_at:
                    c.escalated = True
                    await self.alert_counsellor()
        for step in (f"convention-sign-{c.version}", f"convention-follow-up-{c.version}"):
            task = ctx.open_task_of(step)
            if task is not None:
                await ctx.cancel_task(task)

    async def send_for_signature(self) -> None:
        ctx, c = self.ctx, self.c
        mails = [self.send_link(party, 0) for party in self.unsigned("link")]
        await asyncio.gather(*mails)
        if self.unsigned("task"):
            task = await ctx.open_task("sign_convention", due=self.ctx.policy.convention.signature_reminder_every,
                                       step=f"convention-sign-{c.version}")
            await ctx.notify(f"convention/v{c.version}/platform-to-sign", "convention_platform_to_sign",
                             ["platform"], task_id=task.id, version_number=c.version)
        c.links_sent = True
        await ctx.record(f"convention/v{c.version}/sent", "convention_sent_for_signature",
                         detail={"rule": "R10", "version": c.version, "content_hash": c.content_hash,
                                 "parties": [p.role for p in c.parties]})

    async def send_link(self, party: PartyRef, reminder: int) -> None:
        ctx, c = self.ctx, self.c
        now = workflow.now()
        await steps.send_signing_link(SigningLinkRequest(
            key=f"{ctx.journey_id}/convention/v{c.version}/{party.role}/link-{reminder}",
            kind="convention_sign_reminder" if reminder else "convention_to_sign",
            journey_id=ctx.journey_id, version_id=c.version_id, party_id=party.id, issued_at=now,
            expires_at=Duration.parse(ctx.policy.convention.signature_link_valid_for).after(now),
            reminder_number=reminder,
        ))

    async def remind_unsigned_parties(self, number: int) -> None:
        ctx, c = self.ctx, self.c
        reminders = [self.send_link(party, number) for party in self.unsigned("link")]
        task = ctx.open_task_of(f"convention-sign-{c.version}")
        if task is not None:
            reminders.append(ctx.notify(f"{task.id}/reminder-{number}", "task_reminder", ["platform"],
                                        task_id=task.id, reminder_number=number))
        await asyncio.gather(*reminders)

    async def alert_counsellor(self) -> None:
        ctx, c = self.ctx, self.c
        task = await ctx.open_task("convention_follow_up", due=ctx.policy.convention.signature_reminder_every,
                                   step=f"convention-follow-up-{c.version}")
        unsigned = [PARTY_LABELS.get(p.role, p.role) for p in self.unsigned("link") + self.unsigned("task")]
        await ctx.notify(f"convention/v{c.version}/unsigned-alert", "convention_unsigned_alert", ["counsellor"],
                         task_id=task.id, unsigned=unsigned, sent_on=c.sent_at.date().isoformat())
        await ctx.record(f"convention/v{c.version}/escalated", "convention_unsigned_alert",
                         detail={"rule": "R10", "version": c.version, "unsigned": [p.role for p in c.parties
                                                                                   if p.id not in c.signed]})

    async def r10_refusal_back_to_counsellor(self) -> None:
        ctx, c = self.ctx, self.c
        refused, refusal = c.version, c.refusal or {}
        c.version, c.status, c.links_sent = refused + 1, "drafting", False
        task = await ctx.open_task("draft_convention", due=ctx.policy.convention.draft_due,
                                   step=f"convention-draft-{c.version}")
        await ctx.notify(f"convention/v{refused}/refused", "convention_refused", ["counsellor"], task_id=task.id,
                         version_number=refused, refused_by=PARTY_LABELS.get(refusal.get("role"), ""),
                         signature_id=refusal.get("signature_id"))

    async def r10_signed_by_every_party(self) -> None:
        ctx, c = self.ctx, self.c
        now = workflow.now()
        signed_hash = await steps.finalize_convention(ConventionFinal(
            journey_id=ctx.journey_id, version_id=c.version_id, at=now))
        c.status, c.signed_on = "signed", now.date()
        ctx.enter(JourneyState.accompaniment)
        await ctx.record(f"convention/v{c.version}/signed", "convention_signed",
                         detail={"rule": "R10", "version": c.version, "content_hash": c.content_hash,
                                 "signed_pdf_hash": signed_hash})
        await ctx.notify(f"convention/v{c.version}/signed-copies", "convention_signed",
                         [f"party:{p.id}" for p in c.parties], attachments=[f"convention:{c.version_id}"],
                         version_number=c.version, signed_on=c.signed_on.isoformat(), content_hash=c.content_hash)

    # ------------------------------------------------------------------ who signed

    def unsigned(self, signs_by: str) -> list[PartyRef]:
        return [p for p in self.c.parties if p.signs_by == signs_by and p.id not in self.c.signed]

    def every_party_signed(self) -> bool:
        return bool(self.c.parties) and all(p.id in self.c.signed for p in self.c.parties)

    def _party(self, party_id: str) -> PartyRef | None:
        return next((p for p in self.c.parties if p.id == party_id), None)

    def _answered(self, party_id: str, decision: str, signature_id: str | None) -> None:
        c = self.c
        if decision == "signed":
            c.signed.append(party_id)
        else:
            c.refusal = {"party_id": party_id, "role": self._party(party_id).role, "signature_id": signature_id}
        c.changes += 1

    # ------------------------------------------------------------------ a party's answer by link

    def validate_signature(self, answer: SignatureIn) -> None:
        c = self.c
        if c.status != "signing" or answer.convention_id != c.convention_id:
            raise ApplicationError("Cette convention n'attend pas de signature.", type="Conflict")
        if answer.version != c.version:
            raise ApplicationError("Cette version de la convention a été remplacée par une version plus récente : "
                                   "elle ne peut plus être signée.", type="Conflict")
        party = self._party(answer.party_id)
        if party is None or party.signs_by != "link":
            raise ApplicationError("Ce signataire n'est pas partie à cette version.", type="NotFound")
        if c.refusal is not None:
            raise ApplicationError("Cette version a été refusée par une partie : une nouvelle version sera proposée.",
                                   type="Conflict")
        if answer.party_id in c.signed or answer.party_id in self._answering:
            raise ApplicationError("Cette partie a déjà répondu pour cette version.", type="Conflict")
        if answer.decision not in ("signed", "refused"):
            raise ApplicationError("Réponse inconnue.", type="InvalidOutcome")

    async def record_signature(self, answer: SignatureIn) -> dict:
        self.validate_signature(answer)  # again: two answers of one party may both pass their validators
        self._answering.add(answer.party_id)
        try:
            await steps.accept_signature(SignatureAcceptance(
                journey_id=self.ctx.journey_id, signature_id=answer.signature_id, at=workflow.now()))
        finally:
            self._answering.discard(answer.party_id)
        self._answered(answer.party_id, answer.decision, answer.signature_id)
        return {"status": answer.decision, "version": answer.version, "all_signed": self.every_party_signed()}

    # ------------------------------------------------------------------ completions of its tasks

    def validate(self, task: TaskView, completion: TaskCompletion) -> None:
        c = self.c
        if task.kind == "sign_convention" and (
                c.status != "signing" or task.step != f"convention-sign-{c.version}" or c.refusal is not None):
            raise ApplicationError("Cette version de la convention n'attend plus la signature de la plateforme.",
                                   type="Conflict")

    async def apply(self, task: TaskView, completion: TaskCompletion) -> None:
        if task.kind != "sign_convention":
            return  # a draft is rendered by the procedure once the task is done; a follow-up is recorded
        c = self.c
        self.validate(task, completion)
        party = next(p for p in c.parties if p.signs_by == "task")
        decision = "signed" if completion.outcome["decision"] == "sign" else "refused"
        signature_id = f"{c.version_id}-platform-{task.id}"
        await steps.record_platform_signature(PlatformSignature(
            journey_id=self.ctx.journey_id, signature_id=signature_id, version_id=c.version_id, party_id=party.id,
            decision=decision,
            reason=completion.outcome.get("reason"), user_id=completion.actor_id, task_id=task.id,
            at=workflow.now(),
        ))
        self._answered(party.id, decision, signature_id)
