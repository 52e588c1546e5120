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
from eaflow.workflows import rules, steps
from eaflow.workflows.context import JourneyContext
from eaflow.workflows.types import (
    AvenantRequest,
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


# What an avenant may change (R10; the veille's avenant comes with R14).
AVENANT_LABELS = {
    "employer": "changement d'employeur",
    "legal_representative": "changement de représentant légal",
    "veille": "mise en veille de l'accompagnement",
}
AVENANT_KINDS = tuple(AVENANT_LABELS)
AMENDABLE_STATES = (JourneyState.accompaniment, JourneyState.veille, JourneyState.relaunch)


class ConventionProcedure:
    TASK_KINDS = frozenset({"draft_convention", "sign_convention", "convention_follow_up", "draft_avenant"})

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
            await self.sign_round()

    async def run_avenants(self) -> None:
        """R10: during the accompaniment, each change that calls for an avenant (a new employer, a new
        legal representative, a veille) is drafted and signed again by the parties it concerns."""
        ctx, c = self.ctx, self.c
        while True:
            await ctx.continue_as_new_if_due()
            if c.avenant is None:
                if not c.pending_avenants:
                    await workflow.wait_condition(lambda: bool(c.pending_avenants) or ctx.history_is_long())
                    continue
                c.avenant = c.pending_avenants.pop(0)
                c.in_force = self.in_force()
                c.version, c.status, c.links_sent = c.version + 1, "drafting", False
                await ctx.record(f"convention/v{c.version}/avenant", "avenant_requested",
                                 detail={"rule": "R10", "kind": c.avenant.kind, "version": c.version,
                                         "reference": c.avenant.reference})
            if await self.sign_round():
                c.avenant = None

    async def sign_round(self) -> bool:
        """One version from its draft to every party's answer: True once signed, False when a party
        refused it (a re-draft is then on the counsellor's desk)."""
        if self.c.status == "drafting":
            await self.r10_draft()
        await self.r10_collect_signatures()
        if self.c.refusal is not None:
            await self.r10_refusal_back_to_counsellor()
            return False
        await self.r10_signed_by_every_party()
        return True

    def in_force(self) -> int:
        """The number of the signed version in force (journeys signed before avenants existed kept
        only their status)."""
        c = self.c
        return c.in_force or (c.version if c.status == "signed" else 0)

    def _draft_step(self) -> tuple[str, str, str]:
        """(task kind, step, due) of the current version's draft."""
        c = self.c
        if c.avenant is not None:
            return "draft_avenant", f"avenant-draft-{c.version}", self.ctx.policy.accompaniment.avenant_draft_due
        return "draft_convention", f"convention-draft-{c.version}", self.ctx.policy.convention.draft_due

    def _avenant_context(self) -> dict | None:
        a = self.c.avenant
        return {"avenant": {"kind": a.kind, "label": AVENANT_LABELS[a.kind], "summary": a.summary}} if a else None

    async def r10_draft(self) -> None:
        ctx, c, policy = self.ctx, self.c, self.ctx.policy.convention
        n = c.version
        kind, step, due = self._draft_step()
        task = await ctx.open_task(kind, due=due, step=step, context=self._avenant_context())
        if n == 1:
            await ctx.notify("convention/to-draft", "convention_to_draft", ["counsellor"], task_id=task.id)
        elif c.avenant is not None:
            await ctx.notify(f"convention/v{n}/avenant-to-draft", "avenant_to_draft", ["counsellor"],
                             task_id=task.id, summary=c.avenant.summary,
                             avenant_label=AVENANT_LABELS[c.avenant.kind])
        task = await ctx.until_done(task, policy.draft_reminder_every, "task_reminder", ["assignee"])
        ref = await steps.create_convention_version(ConventionDraft(
            journey_id=ctx.journey_id, platform_id=ctx.inp.platform_id, number=n, outcome=task.outcome or {},
            drafted_by=(task.result or {}).get("completed_by"), task_id=task.id, at=workflow.now(),
            avenant=c.avenant,
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
        kind, step, due = self._draft_step()
        task = await ctx.open_task(kind, due=due, step=step, context=self._avenant_context())
        await ctx.notify(f"convention/v{refused}/refused", "convention_refused", ["counsellor"], task_id=task.id,
                         version_number=refused, refused_by=PARTY_LABELS.get(refusal.get("role"), ""),
                         signature_id=refusal.get("signature_id"))

    async def r10_signed_by_every_party(self) -> None:
        ctx, c = self.ctx, self.c
        now = workflow.now()
        signed_hash = await steps.finalize_convention(ConventionFinal(
            journey_id=ctx.journey_id, version_id=c.version_id, at=now))
        c.status, c.signed_on, c.in_force = "signed", now.date(), c.version
        if ctx.s.state is JourneyState.convention:
            ctx.enter(JourneyState.accompaniment)
        await ctx.record(f"convention/v{c.version}/signed", "avenant_signed" if c.avenant else "convention_signed",
                         detail={"rule": "R10", "version": c.version, "content_hash": c.content_hash,
                                 "signed_pdf_hash": signed_hash,
                                 **({"avenant": c.avenant.kind} if c.avenant else {})})
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
        if task.kind == "draft_convention":
            self._validate_employer_party(completion)
        if task.kind == "draft_avenant":
            self._validate_avenant_draft(completion.outcome)
            if not any(party.role == "employer" for party in self.c.parties):
                self._validate_employer_party(completion)  # a job since the convention: the employer joins
        if task.kind == "sign_convention" and (
                c.status != "signing" or task.step != f"convention-sign-{c.version}" or c.refusal is not None):
            raise ApplicationError("Cette version de la convention n'attend plus la signature de la plateforme.",
                                   type="Conflict")

    def _validate_employer_party(self, completion: TaskCompletion) -> None:
        """R10: the employer of a person in employment is a party to the convention, and to an avenant
        of a convention that has none yet. Whether the person is employed: the file's employment
        episodes, sent by the API in `facts` (the workflow does not read the database), else the
        situation at intake. A validator only: replay-safe."""
        refusal = rules.r10_employer_party_refusal(
            self.ctx.inp.facts.situation, completion.facts.get("employed_now"), completion.outcome.get("employer"))
        if refusal is not None:
            raise ApplicationError(refusal.detail, {"rule": "R10", "errors": [
                {"field": "outcome.employer", "message": refusal.detail}]}, type="RuleRefused")

    def _validate_avenant_draft(self, outcome: dict) -> None:
        """What each kind of avenant must state (R10): the new employer, or the new signatory."""
        kind = self.c.avenant.kind if self.c.avenant else None
        errors = []
        if kind == "employer" and not outcome.get("employer"):
            errors.append({"field": "outcome.employer", "message": "indiquez le nouvel employeur"})
        if kind == "legal_representative" and (outcome.get("signs_for_person") != "legal_representative"
                                               or not outcome.get("person_signatory")):
            errors.append({"field": "outcome.person_signatory",
                           "message": "indiquez le nouveau représentant légal (signs_for_person = legal_representative)"})
        if errors:
            raise ApplicationError("L'avenant ne précise pas ce qui change.", {"errors": errors}, type="InvalidOutcome")

    def request_avenant(self, request: AvenantRequest) -> dict:
        """Queue an avenant (a repeated request for the same change is the same avenant)."""
        c, key = self.c, f"{request.kind}:{request.reference}"
        if key not in c.avenant_keys:
            c.avenant_keys.append(key)
            c.pending_avenants.append(request)
        return {"avenant": key, "queued": len(c.pending_avenants), "in_progress": c.avenant is not None}

    def validate_avenant_request(self, request: AvenantRequest) -> None:
        if request.kind not in AVENANT_KINDS:
            raise ApplicationError("Type d'avenant inconnu.", {"errors": [
                {"field": "kind", "message": f"valeurs possibles : {', '.join(AVENANT_KINDS)}"}]}, type="InvalidOutcome")
        if self.ctx.s.state not in AMENDABLE_STATES or not self.in_force():
            raise ApplicationError("Un avenant modifie une convention signée : le parcours n'en a pas encore.",
                                   {"rule": "R10"}, type="Conflict")

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
