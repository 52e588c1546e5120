"""The worker's activities, bound to the settings: each one a thin, idempotent shell around the store."""
from __future__ import annotations

import asyncio
from typing import Any, Callable

from temporalio import activity

from eaflow.activities import assignment, notify, projections
from eaflow.notifications.outbox import deliver
from eaflow.notifications.registry import get_kind
from eaflow.policy import load_policy
from eaflow.settings import Settings
from eaflow.store.db import session_scope
from eaflow.workflows.types import (
    AssignmentRequest,
    EvaluationRecord,
    Notification,
    StepRecord,
    TaskClosure,
    TaskSpec,
)


class JourneyActivities:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    async def _in_transaction(self, work: Callable[..., Any], *args: Any) -> Any:
        def run() -> Any:
            with session_scope(self.settings.db_url, self.settings.db_busy_timeout_seconds) as session:
                return work(session, *args)

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
        await self._in_transaction(projections.reassign_open_tasks, change["journey_id"], change["old"], change["new"])

    @activity.defn(name="record_shared_evaluation")
    async def record_shared_evaluation(self, record: EvaluationRecord) -> None:
        await self._in_transaction(projections.record_shared_evaluation, record)

    @activity.defn(name="assign_counsellor")
    async def assign_counsellor(self, request: AssignmentRequest) -> None:
        await self._in_transaction(assignment.assign_counsellor, request)

    @activity.defn(name="current_policy")
    async def current_policy(self, _: None = None) -> dict:
        return load_policy(self.settings.policy_file).model_dump(mode="json")

    @activity.defn(name="send_notification")
    async def send_notification(self, notification: Notification) -> int:
        """Send the notification to every recipient; each mail is keyed so a retry sends it once."""

        def resolve():
            with session_scope(self.settings.db_url, self.settings.db_busy_timeout_seconds) as session:
                journey, person, params = notify.context(session, self.settings, notification)
                mails = []
                for role in notification.recipients:
                    found = notify.recipients(session, journey, person, role, self.settings.platform_mailbox)
                    if not found:
                        notify.note_missing_address(session, notification, role)
                    mails.extend(found)
                return mails, params

        mails, context = await asyncio.to_thread(resolve)
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
            )
        return len(seen)

    def all(self) -> list[Callable]:
        return [
            self.record_step, self.open_task, self.close_task, self.reassign_open_tasks,
            self.record_shared_evaluation, self.assign_counsellor, self.current_policy, self.send_notification,
        ]
