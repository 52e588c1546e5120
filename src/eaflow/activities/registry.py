"""The worker's activities, bound to the settings: each one a thin, idempotent shell around the store."""
from __future__ import annotations

import asyncio
import contextlib
from typing import Any, AsyncIterator, Callable

from sqlalchemy.exc import IntegrityError
from temporalio import activity

from eaflow.activities import assignment, convention, exits, notify, projections
from eaflow.notifications.outbox import deliver
from eaflow.notifications.registry import get_kind
from eaflow.policy import load_policy
from eaflow.settings import Settings
from eaflow.signing import secret_key
from eaflow.store.db import session_scope
from eaflow.workflows.task_kinds import ContactFields
from eaflow.workflows.types import (
    AssignmentRequest,
    ContactFacts,
    ContactFromTask,
    ExitDecision,
    TransferRequest,
    ConventionDraft,
    ConventionFinal,
    ConventionVersionRef,
    EvaluationRecord,
    Notification,
    PlatformSignature,
    SignatureAcceptance,
    SigningLinkRequest,
    StepRecord,
    TaskClosure,
    TaskSpec,
)


# How often a mail activity tells Temporal it is alive (the SDK throttles the actual sends to 80 %
# of the heartbeat timeout, workflows/steps.py MAIL_HEARTBEAT_TIMEOUT).
HEARTBEAT_EVERY_SECONDS = 1.0


@contextlib.asynccontextmanager
async def _heartbeating(every: float = HEARTBEAT_EVERY_SECONDS) -> AsyncIterator[None]:
    """Heartbeat in the background while the body runs, even while it waits on SMTP or the database."""

    async def beat() -> None:
        while True:
            activity.heartbeat()
            await asyncio.sleep(every)

    task = asyncio.create_task(beat())
    try:
        yield
    finally:
        task.cancel()


class JourneyActivities:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    async def _in_transaction(self, work: Callable[..., Any], *args: Any) -> Any:
        def run() -> Any:
            for attempt in (1, 2):
                try:
                    with session_scope(self.settings.db_url, self.settings.db_busy_timeout_seconds) as session:
                        return work(session, *args)
                except IntegrityError:
                    # A concurrent run of the same step (a retry racing the original) inserted the
                    # same key first: every projection is idempotent by key, so once more in a fresh
                    # transaction finds that row and writes nothing. A second failure is real.
                    if attempt == 2:
                        raise

        return await asyncio.to_thread(run)

    @activity.defn(name="record_step")
    async def record_step(self, step: StepRecord) -> None:
        await self._in_transaction(projections.record_step, step)

    @activity.defn(name="open_task")
    async def open_task(self, spec: TaskSpec) -> None:
        await self._in_transaction(projections.open_task, spec)

    @activity.defn(name="close_task")
    async def close_task(self, closure: TaskClosure) -> None:
        await self._in_transaction(projections.close_task, closure)

    @activity.defn(name="reassign_open_tasks")
    async def reassign_open_tasks(self, change: dict) -> None:
        await self._in_transaction(projections.reassign_open_tasks, change["journey_id"], change["old"], change["new"],
                                   change.get("task_ids"), change.get("role"))

    @activity.defn(name="record_shared_evaluation")
    async def record_shared_evaluation(self, record: EvaluationRecord) -> None:
        await self._in_transaction(projections.record_shared_evaluation, record)

    @activity.defn(name="assign_counsellor")
    async def assign_counsellor(self, request: AssignmentRequest) -> None:
        await self._in_transaction(assignment.assign_counsellor, request)

    @activity.defn(name="update_accepted")
    async def update_accepted(self, _: None = None) -> None:
        """Nothing: scheduling it is what makes the update durable first (workflows/steps.py `accepted`)."""

    @activity.defn(name="current_policy")
    async def current_policy(self, _: None = None) -> dict:
        return load_policy(self.settings.policy_file).model_dump(mode="json")

    @activity.defn(name="send_notification")
    async def send_notification(self, notification: Notification) -> int:
        """Send the notification to every recipient; each mail is keyed so a retry sends it once."""
        async with _heartbeating():
            return await self._send_notification(notification)

    async def _send_notification(self, notification: Notification) -> int:

        def resolve():
            with session_scope(self.settings.db_url, self.settings.db_busy_timeout_seconds) as session:
                journey, person, params = notify.context(session, self.settings, notification)
                mails = []
                for role in notification.recipients:
                    found = notify.recipients(session, journey, person, role, self.settings.platform_mailbox,
                                              kind=notification.kind)
                    if not found:
                        notify.note_missing_address(session, notification, role)
                    mails.extend(found)
                attachments = [found for found in (convention.attachment(session, ref)
                                                   for ref in notification.attachments) if found is not None]
                return mails, params, attachments

        mails, context, attachments = await asyncio.to_thread(resolve)
        wanted = get_kind(notification.kind).params | {"platform_name"}
        params = {name: value for name, value in context.items() if name in wanted}
        seen: set[str] = set()
        for mail in mails:
            if mail.to.lower() in seen:
                continue
            seen.add(mail.to.lower())
            await deliver(
                self.settings, key=f"{notification.key}/{mail.to.lower()}", kind=notification.kind, to=mail.to,
                params={**params, **({"recipient_name": mail.recipient_name} if "recipient_name" in wanted else {})}, journey_id=notification.journey_id,
                attachments=attachments,
            )
        return len(seen)

    # ---- the convention individuelle (R10) ----

    @activity.defn(name="create_convention_version")
    async def create_convention_version(self, draft: ConventionDraft) -> ConventionVersionRef:
        """Render the draft to HTML and PDF and store it as the convention's new version."""
        return await self._in_transaction(convention.create_version, self.settings, draft)

    @activity.defn(name="send_signing_link")
    async def send_signing_link(self, request: SigningLinkRequest) -> bool:
        """Mail one party its personal signing link; False when there is nothing to send any more."""
        async with _heartbeating():
            secret = secret_key(self.settings)
            found = await self._in_transaction(convention.signing_link, self.settings, secret, request)
            if found is None:
                return False
            to, params = found
            await deliver(self.settings, key=f"{request.key}/{to.lower()}", kind=request.kind, to=to, params=params,
                          journey_id=request.journey_id)
            return True

    @activity.defn(name="accept_signature")
    async def accept_signature(self, acceptance: SignatureAcceptance) -> None:
        await self._in_transaction(convention.accept_signature, acceptance)

    @activity.defn(name="record_platform_signature")
    async def record_platform_signature(self, signature: PlatformSignature) -> None:
        await self._in_transaction(convention.record_platform_signature, signature)

    @activity.defn(name="finalize_convention")
    async def finalize_convention(self, final: ConventionFinal) -> str:
        return await self._in_transaction(convention.finalize, final)

    # ---- the accompaniment's rhythm (R12, R13) ----

    @activity.defn(name="contact_facts")
    async def contact_facts(self, journey_id: str) -> ContactFacts:
        from eaflow.store import contacts

        return ContactFacts(**await self._in_transaction(
            lambda session, journey: contacts.contact_facts(session, journey, attempts=True), journey_id))

    @activity.defn(name="record_contact_from_task")
    async def record_contact_from_task(self, contact: ContactFromTask) -> ContactFacts:
        """Record a task's outcome as a contact; what the contacts say once it is recorded."""
        from eaflow.store import contacts

        def record_and_read(session, journey_id: str) -> dict:
            contacts.record_contact_from_task(session, journey_id, contact.task_id,
                                              ContactFields.model_validate(contact.fields), contact.recorded_by)
            session.flush()
            return contacts.contact_facts(session, journey_id, attempts=True)

        return ContactFacts(**await self._in_transaction(record_and_read, contact.journey_id))

    # ---- exits (R15, R18) ----

    @activity.defn(name="record_exit")
    async def record_exit(self, decision: ExitDecision) -> None:
        await self._in_transaction(exits.record_exit, decision)

    @activity.defn(name="transfer_journey")
    async def transfer_journey(self, request: TransferRequest) -> None:
        await self._in_transaction(exits.transfer_journey, request)

    def all(self) -> list[Callable]:
        return [
            self.record_step, self.open_task, self.close_task, self.reassign_open_tasks,
            self.record_shared_evaluation, self.assign_counsellor, self.update_accepted, self.current_policy,
            self.send_notification,
            self.create_convention_version, self.send_signing_link, self.accept_signature,
            self.record_platform_signature, self.finalize_convention, self.contact_facts,
            self.record_contact_from_task, self.record_exit, self.transfer_journey,
        ]
