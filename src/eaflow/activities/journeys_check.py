"""The daily comparison's activity: every journey against the records, mended where it can be
(eaflow/reconcile.py), with the worker's own Temporal client."""
from __future__ import annotations

from typing import Callable

from temporalio import activity

from eaflow import reconcile
from eaflow.activities.registry import _heartbeating
from eaflow.settings import Settings
from eaflow.workflows.journeys_check import CheckReport


class JourneysCheckActivities:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    @activity.defn(name="check_journeys")
    async def check_journeys(self) -> CheckReport:
        async with _heartbeating():
            report = await reconcile.check(activity.client(), self.settings, repair=True)
        return CheckReport(checked=report.checked, differences=[d.line() for d in report.differences],
                           repaired=report.repaired)

    def all(self) -> list[Callable]:
        return [self.check_journeys]
