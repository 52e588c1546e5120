"""The Temporal worker: the journey workflow and its activities on one task queue."""
from __future__ import annotations

import asyncio
import logging
from functools import partial

from prometheus_client import start_http_server
from temporalio.client import Client
from temporalio.worker import Worker

from eaflow import reconcile
from eaflow.activities.digest import DigestActivities
from eaflow.activities.journeys_check import JourneysCheckActivities
from eaflow.activities.personal_data import PersonalDataActivities
from eaflow.activities.registry import JourneyActivities
from eaflow.activities.reports import ReportActivities
from eaflow.activity_logging import ActivityLogging
from eaflow.notifications import sent_journal
from eaflow.notifications.outbox import journal_directory, mark_sent_messages
from eaflow.notifications.registry import check_templates
from eaflow.nudges import relay_forever
from eaflow.observability import REGISTRY, UP, configure_logging
from eaflow.policy import load_policy
from eaflow.schedules import (
    ensure_journeys_check_schedule,
    ensure_personal_data_purge_schedule,
    ensure_quarterly_report_schedule,
    ensure_weekly_digest_schedule,
)
from eaflow.settings import Settings
from eaflow.temporal_client import connect
from eaflow.workflows.digest import WeeklyDigest
from eaflow.workflows.journey import JourneyWorkflow
from eaflow.workflows.journeys_check import JourneysCheck
from eaflow.workflows.personal_data import PersonalDataPurge
from eaflow.workflows.quarterly_report import QuarterlyReport

WORKFLOWS = [JourneyWorkflow, WeeklyDigest, PersonalDataPurge, QuarterlyReport, JourneysCheck]
# A cached sandboxed journey costs about 260 KB here (bench/memory.py): 2,000 keep the active ones
# warm in ~510 MiB; the worker levelled off at ~615 MiB RSS with 10,000 open journeys.
MAX_CACHED_WORKFLOWS = 2000


def build_worker(client: Client, settings: Settings) -> Worker:
    return Worker(
        client,
        task_queue=settings.task_queue,
        workflows=WORKFLOWS,
        activities=JourneyActivities(settings).all() + DigestActivities(settings).all()
        + PersonalDataActivities(settings).all() + ReportActivities(settings).all()
        + JourneysCheckActivities(settings).all(),
        max_cached_workflows=MAX_CACHED_WORKFLOWS,
        interceptors=[ActivityLogging()],
    )


async def run_worker(settings: Settings) -> None:
    configure_logging("worker")
    check_templates()
    if settings.worker_metrics_port:
        start_http_server(settings.worker_metrics_port, addr="0.0.0.0", registry=REGISTRY)
        UP.labels("worker").set(1)
    absorbed = sent_journal.absorb(journal_directory(settings), partial(mark_sent_messages, settings.db_url))
    if absorbed:  # issue 19: mails a process that is gone had sent, and not yet marked
        logging.getLogger("eaflow.worker").info("mails marked sent from journals of stopped processes: %d", absorbed,
                                                extra={"component": "worker", "kind": "outbox"})
    client = await connect(settings)
    worker = build_worker(client, settings)
    policy = load_policy(settings.policy_file)
    try:  # idempotent; a second worker starting at the same time finds it and compares
        await ensure_weekly_digest_schedule(client, settings, policy)
    except Exception:  # the journeys do not wait on the digest: serve them, say it loudly
        logging.getLogger("eaflow.worker").exception(
            "weekly digest schedule not ensured", extra={"component": "worker", "kind": "weekly-digest"})
    try:  # R22: the purge catches up the next day whatever it missed
        await ensure_personal_data_purge_schedule(client, settings)
    except Exception:
        logging.getLogger("eaflow.worker").exception(
            "personal data purge schedule not ensured", extra={"component": "worker", "kind": "personal-data-purge"})
    try:  # R20: a quarter's report missed at its hour is caught up within the week
        await ensure_quarterly_report_schedule(client, settings, policy)
    except Exception:
        logging.getLogger("eaflow.worker").exception(
            "quarterly report schedule not ensured", extra={"component": "worker", "kind": "quarterly-report"})
    try:  # issue 19: whatever a crash left between the records and the journeys is mended every night
        await ensure_journeys_check_schedule(client, settings)
    except Exception:
        logging.getLogger("eaflow.worker").exception(
            "journeys check schedule not ensured", extra={"component": "worker", "kind": "journeys-check"})
    logging.getLogger("eaflow.worker").info(
        "worker polling", extra={"component": "worker", "kind": settings.task_queue})
    relay = asyncio.create_task(relay_forever(client, settings.db_url))  # contacts' news not yet delivered
    startup_check = asyncio.create_task(check_at_startup(client, settings))
    try:
        await worker.run()
    finally:
        relay.cancel()
        startup_check.cancel()


async def check_at_startup(client: Client, settings: Settings) -> reconcile.Report | None:
    """Issue 19: the journeys touched lately (what a crash can have left apart) compared with the
    records and mended, once this worker polls (the comparison queries the journeys, which it answers)."""
    from datetime import datetime, timezone

    log = logging.getLogger("eaflow.worker")
    await asyncio.sleep(1)
    try:
        report = await reconcile.check(client, settings, repair=True,
                                       since=datetime.now(timezone.utc) - reconcile.STARTUP_WINDOW)
    except Exception:  # noqa: BLE001 - the nightly schedule will try again
        log.exception("journeys not checked at start-up", extra={"component": "worker", "kind": "journeys-check"})
        return None
    log.info("journeys checked at start-up: %s", report.summary(), extra={"component": "worker",
                                                                           "kind": "journeys-check"})
    return report


if __name__ == "__main__":  # pragma: no cover
    from eaflow.settings import load_settings

    asyncio.run(run_worker(load_settings()))
