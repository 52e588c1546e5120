"""The Temporal worker: the journey workflow and its activities on one task queue."""
from __future__ import annotations

import asyncio
import logging

from prometheus_client import start_http_server
from temporalio.client import Client
from temporalio.worker import Worker

from eaflow.activities.digest import DigestActivities
from eaflow.activities.personal_data import PersonalDataActivities
from eaflow.activities.registry import JourneyActivities
from eaflow.activities.reports import ReportActivities
from eaflow.activity_logging import ActivityLogging
from eaflow.notifications.registry import check_templates
from eaflow.nudges import relay_forever
from eaflow.observability import REGISTRY, UP, configure_logging
from eaflow.policy import load_policy
from eaflow.schedules import (
    ensure_personal_data_purge_schedule,
    ensure_quarterly_report_schedule,
    ensure_weekly_digest_schedule,
)
from eaflow.settings import Settings
from eaflow.temporal_client import connect
from eaflow.workflows.digest import WeeklyDigest
from eaflow.workflows.journey import JourneyWorkflow
from eaflow.workflows.personal_data import PersonalDataPurge
from eaflow.workflows.quarterly_report import QuarterlyReport

WORKFLOWS = [JourneyWorkflow, WeeklyDigest, PersonalDataPurge, QuarterlyReport]
# A cached sandboxed journey costs about 260 KB here (bench/memory.py): 2,000 keep the active ones
# warm in ~510 MiB; the worker levelled off at ~615 MiB RSS with 10,000 open journeys.
MAX_CACHED_WORKFLOWS = 2000


def build_worker(client: Client, settings: Settings) -> Worker:
    return Worker(
        client,
        task_queue=settings.task_queue,
        workflows=WORKFLOWS,
        activities=JourneyActivities(settings).all() + DigestActivities(settings).all()
        + PersonalDataActivities(settings).all() + ReportActivities(settings).all(),
        max_cached_workflows=MAX_CACHED_WORKFLOWS,
        interceptors=[ActivityLogging()],
    )


async def run_worker(settings: Settings) -> None:
    configure_logging("worker")
    check_templates()
    if settings.worker_metrics_port:
        start_http_server(settings.worker_metrics_port, addr="0.0.0.0", registry=REGISTRY)
        UP.labels("worker").set(1)
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
    logging.getLogger("eaflow.worker").info(
        "worker polling", extra={"component": "worker", "kind": settings.task_queue})
    relay = asyncio.create_task(relay_forever(client, settings.db_url))  # contacts' news not yet delivered
    try:
        await worker.run()
    finally:
        relay.cancel()


if __name__ == "__main__":  # pragma: no cover
    from eaflow.settings import load_settings

    asyncio.run(run_worker(load_settings()))
