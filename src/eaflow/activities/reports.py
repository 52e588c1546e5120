"""The quarterly report's activities (R20): which quarter and which platforms, and, for one platform,
its snapshot archived once and its managers told once.

`archive_quarterly_report` stores version 1 of the platform's report over the quarter unless the
period has a snapshot already (services/report_snapshots.py `store_first_version`), then mails each
active manager of the platform through the outbox, keyed by platform, period and manager: run twice,
it leaves one snapshot and one mail per manager. The mail carries the period, the version, its
SHA-256 and the links; the figures stay in the application (R22: aggregates, but no need to spread).
"""
from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any, Callable
from zoneinfo import ZoneInfo

from sqlmodel import Session, select
from temporalio import activity

from eaflow import indicators
from eaflow.activities.registry import _heartbeating
from eaflow.notifications.outbox import deliver
from eaflow.services.operators import operator_scope, operators_of
from eaflow.services.report_snapshots import store_first_version
from eaflow.settings import Settings
from eaflow.store.db import session_scope
from eaflow.store.models import Platform, User
from eaflow.workflows.quarterly_report import ArchiveOutcome, ArchiveRequest, QuarterPlan, mail_key

PARIS = ZoneInfo("Europe/Paris")
MAIL_KIND = "quarterly_report_archived"


def quarter_before(at: datetime) -> indicators.Period:
    """The last calendar quarter that ended before the instant `at` (its day in Paris time)."""
    return indicators.last_complete_quarter(at.astimezone(PARIS).date())


def managers_of(session: Session, platform_id: str) -> list[User]:
    return list(session.exec(select(User).where(
        User.platform_id == platform_id, User.role == "manager", User.active == True  # noqa: E712
    ).order_by(User.id)).all())


class ReportActivities:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    async def _db(self, work: Callable[..., Any], *args: Any) -> Any:
        def run() -> Any:
            with session_scope(self.settings.db_url, self.settings.db_busy_timeout_seconds) as session:
                return work(session, *args)

        return await asyncio.to_thread(run)

    @activity.defn(name="plan_quarterly_report")
    async def plan_quarterly_report(self, at: datetime) -> QuarterPlan:
        period = quarter_before(at)

        def platforms(session: Session) -> list[str]:
            return list(session.exec(select(Platform.id).order_by(Platform.id)).all())

        return QuarterPlan(start=period.start, end=period.end, platform_ids=await self._db(platforms))

    @activity.defn(name="archive_quarterly_report")
    async def archive_quarterly_report(self, request: ArchiveRequest) -> ArchiveOutcome:
        async with _heartbeating():
            period = indicators.Period(request.start, request.end)

            def archive(session: Session) -> tuple[ArchiveOutcome, list[tuple[str, str, dict[str, Any]]]]:
                snapshot, stored = store_first_version(session, request.platform_id, period)
                # With co-porteurs, each operator's part too: what its managers read (services/operators.py).
                operators = operators_of(session, request.platform_id)
                parts = {o.id: store_first_version(session, request.platform_id, period, o.id)[0]
                         for o in operators} if len(operators) > 1 else {}
                platform = session.get(Platform, request.platform_id)
                base = self.settings.public_url
                mails = []
                for m in managers_of(session, request.platform_id):
                    theirs = parts.get(operator_scope(session, m), snapshot)
                    mails.append((m.id, m.email, {
                        "manager_name": m.display_name or m.email, "period_start": period.start,
                        "period_end": period.end, "version": theirs.version, "sha256": theirs.sha256,
                        "page_url": f"{base}/indicateurs",
                        "download_url": f"{base}/indicateurs/archives/{theirs.id}?format=xlsx",
                        **({"platform_name": platform.name} if platform else {}),
                    }))
                return ArchiveOutcome(snapshot_id=snapshot.id, version=snapshot.version, stored=stored), mails

            outcome, mails = await self._db(archive)
            for manager_id, to, params in mails:
                await deliver(self.settings, key=mail_key(request.platform_id, request.start, request.end, manager_id),
                              kind=MAIL_KIND, to=to, params=params)
                outcome.mailed.append(manager_id)
            return outcome

    def all(self) -> list[Callable]:
        return [self.plan_quarterly_report, self.archive_quarterly_report]
