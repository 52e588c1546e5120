"""Fleet-wide jobs as Temporal Schedules (ARCHITECTURE, "Known pitfalls"): the weekly digest, and
the daily purge of the personal data of closed files past their retention (R22).

`ensure_weekly_digest_schedule` runs at every worker start. It creates the schedule `weekly-digest`
or, when it exists, updates it if the policy (day, hour) or the task queue changed, and leaves it
alone otherwise. Two workers starting at once are safe: the second create gets
ScheduleAlreadyRunningError and compares, and both would write the same schedule anyway. An
update keeps the schedule's state, so a schedule paused by an operator stays paused.

The spec fires once a week at `[accompaniment] digest_weekday` (1 = Monday … 7 = Sunday) and
`digest_hour`, Paris time (daylight saving included). Overlap policy: skip (a digest still running
is not started twice). Catch-up window: one day, so a server down at the hour still sends that
week's digest once when it comes back the same day; a later one waits for the next week. A run
older than a day is stale and stops (RUN_TIMEOUT); the outbox keys keep whatever it sent.

`personal-data-purge` fires every day at PURGE_HOUR, Paris time, with the same overlap policy and
catch-up window (a day missed is caught up by the next one: the purge takes whatever is due by then).
`quarterly-report` (R20) fires at each quarter's end plus `[reports] snapshot_delay_days`: on day
1 + delay of January, April, July and October at REPORT_HOUR, Paris time (the default, 5 days: the
6th at 6 h), so that late records are in. Same overlap policy; a catch-up window of a week, since a
quarter's report missed for a day would otherwise wait three months. The snapshot and the mails are
keyed, so a caught-up run after a manual one stores and sends nothing twice.
`journeys-check` (issue 19) fires every day at CHECK_HOUR, Paris time: every journey compared with the
records, what can be mended mended (eaflow/reconcile.py); same overlap policy and catch-up window.
`ensure_schedule` creates or updates each of them the same way.
"""
from __future__ import annotations

import logging
from dataclasses import replace
from datetime import timedelta

from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleAlreadyRunningError,
    ScheduleCalendarSpec,
    ScheduleOverlapPolicy,
    SchedulePolicy,
    ScheduleRange,
    ScheduleSpec,
    ScheduleUpdate,
    ScheduleUpdateInput,
)

from eaflow.policy import Policy
from eaflow.settings import Settings
from eaflow.workflows.digest import WeeklyDigest
from eaflow.workflows.journeys_check import JourneysCheck
from eaflow.workflows.personal_data import PersonalDataPurge
from eaflow.workflows.quarterly_report import QuarterlyReport

WEEKLY_DIGEST_SCHEDULE_ID = "weekly-digest"
PERSONAL_DATA_PURGE_SCHEDULE_ID = "personal-data-purge"
PURGE_HOUR = 3  # at night, Paris time: nobody is working on the files
QUARTERLY_REPORT_SCHEDULE_ID = "quarterly-report"
JOURNEYS_CHECK_SCHEDULE_ID = "journeys-check"
CHECK_HOUR = 2  # Paris time: before the purge, when no one works on the files
REPORT_HOUR = 6  # Paris time: the report is archived before the managers' day starts
QUARTER_FIRST_MONTHS = (1, 4, 7, 10)
REPORT_CATCHUP_WINDOW = timedelta(days=7)
TIME_ZONE = "Europe/Paris"
CATCHUP_WINDOW = timedelta(days=1)
RUN_TIMEOUT = timedelta(days=1)

log = logging.getLogger("eaflow.schedules")


def temporal_weekday(iso_weekday: int) -> int:
    """The policy counts 1 = Monday … 7 = Sunday (ISO 8601); Temporal 0 = Sunday … 6 = Saturday."""
    return iso_weekday % 7


def weekly_digest_schedule(settings: Settings, policy: Policy) -> Schedule:
    accompaniment = policy.accompaniment
    return Schedule(
        action=ScheduleActionStartWorkflow(
            WeeklyDigest.run, id=WEEKLY_DIGEST_SCHEDULE_ID, task_queue=settings.task_queue,
            execution_timeout=RUN_TIMEOUT,
        ),
        spec=ScheduleSpec(
            calendars=[ScheduleCalendarSpec(
                day_of_week=(ScheduleRange(temporal_weekday(accompaniment.digest_weekday)),),
                hour=(ScheduleRange(accompaniment.digest_hour),),
                comment="digest hebdomadaire des conseillers",
            )],
            time_zone_name=TIME_ZONE,
        ),
        policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.SKIP, catchup_window=CATCHUP_WINDOW),
    )


def _fingerprint(schedule: Schedule) -> tuple:
    """What ensure_weekly_digest_schedule owns in a schedule, comparable across a describe."""
    action = schedule.action
    assert isinstance(action, ScheduleActionStartWorkflow)
    calendars = tuple(
        (tuple(c.second), tuple(c.minute), tuple(c.hour), tuple(c.day_of_month), tuple(c.month), tuple(c.year),
         tuple(c.day_of_week))
        for c in schedule.spec.calendars)
    return (
        calendars, tuple(schedule.spec.intervals), tuple(schedule.spec.cron_expressions),
        schedule.spec.time_zone_name, schedule.policy.overlap, schedule.policy.catchup_window,
        action.workflow, action.id, action.task_queue, action.execution_timeout,
    )


def personal_data_purge_schedule(settings: Settings) -> Schedule:
    return Schedule(
        action=ScheduleActionStartWorkflow(
            PersonalDataPurge.run, id=PERSONAL_DATA_PURGE_SCHEDULE_ID, task_queue=settings.task_queue,
            execution_timeout=RUN_TIMEOUT,
        ),
        spec=ScheduleSpec(
            calendars=[ScheduleCalendarSpec(hour=(ScheduleRange(PURGE_HOUR),),
                                            comment="anonymisation des dossiers clos (R22)")],
            time_zone_name=TIME_ZONE,
        ),
        policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.SKIP, catchup_window=CATCHUP_WINDOW),
    )


def journeys_check_schedule(settings: Settings) -> Schedule:
    return Schedule(
        action=ScheduleActionStartWorkflow(
            JourneysCheck.run, id=JOURNEYS_CHECK_SCHEDULE_ID, task_queue=settings.task_queue,
            execution_timeout=RUN_TIMEOUT,
        ),
        spec=ScheduleSpec(
            calendars=[ScheduleCalendarSpec(hour=(ScheduleRange(CHECK_HOUR),),
                                            comment="les parcours comparés aux dossiers (issue 19)")],
            time_zone_name=TIME_ZONE,
        ),
        policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.SKIP, catchup_window=CATCHUP_WINDOW),
    )


async def ensure_journeys_check_schedule(client: Client, settings: Settings,
                                         schedule_id: str = JOURNEYS_CHECK_SCHEDULE_ID) -> str:
    """Create or update the daily comparison's schedule; 'created', 'updated' or 'unchanged'."""
    return await ensure_schedule(client, schedule_id, journeys_check_schedule(settings))


def quarterly_report_schedule(settings: Settings, policy: Policy) -> Schedule:
    return Schedule(
        action=ScheduleActionStartWorkflow(
            QuarterlyReport.run, id=QUARTERLY_REPORT_SCHEDULE_ID, task_queue=settings.task_queue,
            execution_timeout=RUN_TIMEOUT,
        ),
        spec=ScheduleSpec(
            calendars=[ScheduleCalendarSpec(
                month=tuple(ScheduleRange(m) for m in QUARTER_FIRST_MONTHS),
                day_of_month=(ScheduleRange(1 + policy.reports.snapshot_delay_days),),
                hour=(ScheduleRange(REPORT_HOUR),),
                comment="rapport trimestriel archivé (R20)",
            )],
            time_zone_name=TIME_ZONE,
        ),
        policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.SKIP, catchup_window=REPORT_CATCHUP_WINDOW),
    )


async def ensure_quarterly_report_schedule(client: Client, settings: Settings, policy: Policy,
                                           schedule_id: str = QUARTERLY_REPORT_SCHEDULE_ID) -> str:
    """Create or update the quarterly report's schedule (R20); 'created', 'updated' or 'unchanged'."""
    return await ensure_schedule(client, schedule_id, quarterly_report_schedule(settings, policy))


async def ensure_weekly_digest_schedule(client: Client, settings: Settings, policy: Policy,
                                        schedule_id: str = WEEKLY_DIGEST_SCHEDULE_ID) -> str:
    """Create or update the weekly digest's schedule; 'created', 'updated' or 'unchanged'."""
    return await ensure_schedule(client, schedule_id, weekly_digest_schedule(settings, policy))


async def ensure_personal_data_purge_schedule(client: Client, settings: Settings,
                                              schedule_id: str = PERSONAL_DATA_PURGE_SCHEDULE_ID) -> str:
    """Create or update the daily purge's schedule (R22); 'created', 'updated' or 'unchanged'."""
    return await ensure_schedule(client, schedule_id, personal_data_purge_schedule(settings))


async def ensure_schedule(client: Client, schedule_id: str, wanted: Schedule) -> str:
    """Create the schedule, or update it if what we own in it differs (its state, paused or not, is
    kept); 'created', 'updated' or 'unchanged'."""
    try:
        await client.create_schedule(schedule_id, wanted)
        log.info("schedule created", extra={"component": "worker", "kind": schedule_id})
        return "created"
    except ScheduleAlreadyRunningError:
        pass
    changed = False

    def updater(update: ScheduleUpdateInput) -> ScheduleUpdate | None:
        nonlocal changed
        current = update.description.schedule
        changed = _fingerprint(current) != _fingerprint(wanted)
        return ScheduleUpdate(schedule=replace(wanted, state=current.state)) if changed else None

    await client.get_schedule_handle(schedule_id).update(updater)
    if changed:
        log.info("schedule updated", extra={"component": "worker", "kind": schedule_id})
    return "updated" if changed else "unchanged"
