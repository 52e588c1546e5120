"""The Temporal worker: the journey workflow and its activities on one task queue."""
from __future__ import annotations

import asyncio
import logging

from temporalio.client import Client
from temporalio.worker import Worker

from eaflow.activities.registry import JourneyActivities
from eaflow.notifications.registry import check_templates
from eaflow.settings import Settings
from eaflow.temporal_client import connect
from eaflow.workflows.journey import JourneyWorkflow

WORKFLOWS = [JourneyWorkflow]
# A cached sandboxed journey costs about 90 KB; 2,000 keeps the active ones warm in ~180 MB.
MAX_CACHED_WORKFLOWS = 2000


def build_worker(client: Client, settings: Settings) -> Worker:
    return Worker(
        client,
        task_queue=settings.task_queue,
        workflows=WORKFLOWS,
        activities=JourneyActivities(settings).all(),
        max_cached_workflows=MAX_CACHED_WORKFLOWS,
    )


async def run_worker(settings: Settings) -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    check_templates()
    client = await connect(settings)
    worker = build_worker(client, settings)
    logging.getLogger("eaflow.worker").info("worker polling task queue %s on %s", settings.task_queue,
                                            settings.temporal_address)
    await worker.run()


if __name__ == "__main__":  # pragma: no cover
    from eaflow.settings import load_settings

    asyncio.run(run_worker(load_settings()))
