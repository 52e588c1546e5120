"""Record journey histories for the replay test: `python -m tests.histories.record`.

Run it when a new workflow shape ships, and commit the JSON files: from then on, every change to
the workflow code must replay them (or be guarded by `workflow.patched`).
"""
from __future__ import annotations

import asyncio
import tempfile
from datetime import timedelta
from pathlib import Path

from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from eaflow.policy import Policy
from eaflow.settings import Settings
from eaflow.store.migrate import upgrade
from tests.conftest import Platform, binary
from tests.smtp_fixture import SmtpServer
from tests.workflow.helpers import complete, intake, open_tasks, running_worker, start, today

HERE = Path(__file__).parent


async def wait_task(settings, journey_id, kind):
    for _ in range(200):
        tasks = open_tasks(settings, journey_id, kind)
        if tasks:
            return tasks[0]
        await asyncio.sleep(0.05)
    raise RuntimeError(kind)


async def main() -> None:
    smtp = SmtpServer().start()
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(data_dir=Path(tmp), smtp_host=smtp.host, smtp_port=smtp.port, task_queue="record")
        upgrade(settings.db_url)
        platform = Platform(settings)
        env = await WorkflowEnvironment.start_time_skipping(
            test_server_existing_path=binary("temporal-test-server"), data_converter=pydantic_data_converter)
        try:
            async with running_worker(env.client, settings):
                refused, _ = await start(env.client, settings, platform,
                                         intake(person={"first_name": "A", "last_name": "B", "birth_date": "2015-01-01"}),
                                         Policy())
                journey_id, _ = await start(env.client, settings, platform, intake(channel="france_travail"), Policy())
                task = await wait_task(settings, journey_id, "notify_cdaph")
                await env.sleep(timedelta(days=8))
                await complete(env.client, task, {"informed_on": today(), "how": "courrier"}, platform.manager)
                assign = await wait_task(settings, journey_id, "assign_counsellor")
                await complete(env.client, assign, {"counsellor_id": platform.counsellor}, platform.manager,
                               caseload=0, fte=1.0)
                evaluation = await wait_task(settings, journey_id, "shared_evaluation")
                await complete(env.client, evaluation, {"evaluated_on": today(), "wishes": "w", "needs": "n",
                                                        "resources": "r"}, platform.counsellor)
                await asyncio.sleep(0.5)
                for name, wid in (("entry_refused", refused), ("entry_spe_to_evaluation", journey_id)):
                    history = await env.client.get_workflow_handle(wid).fetch_history()
                    (HERE / f"{name}.json").write_text(history.to_json())
                    print("recorded", name, len(history.events), "events")
        finally:
            await env.shutdown()
            smtp.stop()


if __name__ == "__main__":
    asyncio.run(main())
