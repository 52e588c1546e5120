"""The daily purge's activity (R22): the closed files whose retention ran out on the schedule's day
are anonymised (eaflow/services/personal_data.py), one transaction per journey."""
from __future__ import annotations

import asyncio
from contextlib import AbstractContextManager
from datetime import datetime
from typing import Callable
from zoneinfo import ZoneInfo

from sqlmodel import Session
from temporalio import activity

from eaflow.activities.registry import _heartbeating
from eaflow.policy import load_policy
from eaflow.services import personal_data
from eaflow.settings import Settings
from eaflow.store.db import session_scope
from eaflow.workflows.personal_data import PurgeReport

PARIS = ZoneInfo("Europe/Paris")


class PersonalDataActivities:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def _sessions(self) -> AbstractContextManager[Session]:
        return session_scope(self.settings.db_url, self.settings.db_busy_timeout_seconds)

    @activity.defn(name="purge_personal_data")
    async def purge_personal_data(self, at: datetime) -> PurgeReport:
        """Anonymise what is due on the day of `at` (Paris time)."""
        day = at.astimezone(PARIS).date()
        policy = load_policy(self.settings.policy_file)
        async with _heartbeating():
            jobs = await asyncio.to_thread(personal_data.purge, self._sessions, policy, day)
        return PurgeReport(day=day.isoformat(), anonymised=[job.journey_id for job in jobs])

    def all(self) -> list[Callable]:
        return [self.purge_personal_data]
