"""Worker and Temporal dev server memory with many open journeys.

    .venv/bin/python -m bench.memory [--n 10000] [--quick]

Starts a Temporal dev server (`temporal server start-dev --headless`, SQLite file, WAL) and
`eaflow worker` as subprocesses, a local SMTP sink (tests/smtp_fixture.py) in this process, and a
fresh SQLite records database. Writes the N prescriptions as the API would (journey, person, audit
row: `record_prescription`), then starts the N journeys directly with the Temporal client
(channel cdaph, national policy), `--concurrency` starts in flight, paced so that at most
`--window` journeys are on their way to the waiting list at once. Each journey examines the
prescription, sends its entry-decision mails, enters the waiting list, opens its assign_counsellor
task and waits there (its reminder timer is 14 days away). Once every task is open in the
database, it reads the RSS of the worker and of the server (psutil when installed, else
/proc/PID/status VmRSS; VmHWM for the peak), with their process groups.
Target: worker < 1 GiB.
"""
from __future__ import annotations

import argparse
import asyncio
import sys
from datetime import date, timedelta

TARGET_WORKER_BYTES = 1024 ** 3


def seed(db_url: str, n: int) -> tuple[str, str, list[str]]:
    from eaflow import accounts
    from eaflow.intake import record_prescription
    from eaflow.store.db import session_scope
    from eaflow.store.migrate import upgrade
    from eaflow.store.models import User

    from bench.harness import new_id, password_hash

    upgrade(db_url)
    with session_scope(db_url) as session:
        platform = accounts.create_platform(session, "35", "Plateforme d'Ille-et-Vilaine", mailbox="pf35@bench.fr")
        manager = User(id=new_id("u"), email="manager@bench.fr", role="manager", platform_id=platform.id,
                       password_hash=password_hash())
        session.add(manager)
        platform_id = platform.id
    today = date.today()
    ids = [f"j-mem-{i:06d}" for i in range(n)]
    for start in range(0, n, 1000):
        with session_scope(db_url) as session:
            for i in range(start, min(n, start + 1000)):
                record_prescription(session, ids[i], intake(i, today), platform_id, manager.id)
    return platform_id, manager.id, ids


def intake(i: int, today: date):
    from eaflow.intake import IntakeRequest

    return IntakeRequest.model_validate({
        "person": {"first_name": "Léa", "last_name": f"Martin-{i}",
                   "birth_date": (date(1970, 1, 1) + timedelta(days=i % 12000)).isoformat(),
                   "email": f"personne{i}@example.fr"},
        "channel": "cdaph", "prescribed_on": (today - timedelta(days=i % 300)).isoformat(),
        "situation": ("seeking", "employed", "about_to_be_hired", "leaving_esat")[i % 4],
        "rights": {"rqth_until": (today + timedelta(days=900)).isoformat()},
        "subsidiarity_reason": "Un appui durable dans l'emploi que le droit commun n'offre pas.",
        "consent": {"given_on": today.isoformat(), "by": "person"},
    })


def open_assignments(db_url: str) -> int:
    from sqlmodel import func, select

    from eaflow.store.db import session_scope
    from eaflow.store.models import Task

    with session_scope(db_url) as session:
        return int(session.exec(select(func.count()).select_from(Task).where(
            Task.kind == "assign_counsellor", Task.status == "open")).one())


async def run(args, work) -> dict:
    from temporalio.client import Client
    from temporalio.contrib.pydantic import pydantic_data_converter

    from eaflow.policy import Policy
    from eaflow.intake import journey_input
    from eaflow.workflows.journey import JourneyWorkflow
    from tests.smtp_fixture import SmtpServer

    from bench.harness import (
        Processes, Timer, cpu_lines, eaflow_env, mib, rss_bytes, start_dev_server, start_worker, wait_for_log,
    )

    db_url = f"sqlite:///{work / 'eaflow.db'}"
    timer = Timer()
    platform_id, _, ids = seed(db_url, args.n)
    print(f"seeded {args.n} prescriptions in {timer.elapsed:.1f} s")
    smtp = SmtpServer().start()
    samples: list[tuple[float, int, int]] = []
    try:
        with Processes(work / "logs") as procs:
            address = await start_dev_server(procs, work)
            server = procs.children[0]
            worker = start_worker(procs, eaflow_env(work, db_url, address, "bench-memory", smtp.port))
            client = await Client.connect(address, data_converter=pydantic_data_converter)
            await wait_for_log(worker, "worker polling")
            await asyncio.sleep(1)
            idle = (rss_bytes(worker.pid)[0], rss_bytes(server.pid)[0])
            policy, today = Policy(), date.today()
            gate = asyncio.Semaphore(args.concurrency)

            async def start(i: int) -> None:
                async with gate:
                    await client.start_workflow(JourneyWorkflow.run,
                                                journey_input(ids[i], platform_id, intake(i, today), policy),
                                                id=ids[i], task_queue="bench-memory")

            cpu_before = procs.cpu()
            timer = Timer()
            started = 0
            last_print = 0.0
            while True:
                done = await asyncio.to_thread(open_assignments, db_url)
                # Paced: at most `--window` journeys between their start and the waiting list, as
                # journeys arrive in real life (10,000 at once would thrash the sticky cache).
                target = min(args.n, done + args.window)
                if target > started:
                    await asyncio.gather(*(start(i) for i in range(started, target)))
                    started = target
                worker_rss, server_rss = rss_bytes(worker.pid)[0], rss_bytes(server.pid)[0]
                samples.append((timer.elapsed, worker_rss, server_rss))
                if not worker.alive() or not server.alive():
                    raise RuntimeError(f"a process died:\n{worker.log_tail()}\n{server.log_tail()}")
                if timer.elapsed - last_print >= 30:
                    last_print = timer.elapsed
                    print(f"  {timer.elapsed:6.0f} s: {done}/{args.n} journeys on the waiting list, "
                          f"worker {mib(worker_rss)}, server {mib(server_rss)}", flush=True)
                if done >= args.n:
                    break
                if timer.elapsed > args.timeout:
                    raise TimeoutError(f"only {done}/{args.n} journeys on the waiting list after {args.timeout} s")
                await asyncio.sleep(0.5)
            elapsed = timer.elapsed
            cpu = cpu_lines(cpu_before, procs.cpu(), elapsed, args.n, "journey")
            await asyncio.sleep(5)  # let the last activities and mails settle
            worker_now, worker_peak = rss_bytes(worker.pid)
            server_now, server_peak = rss_bytes(server.pid)
            sizes = {path.name: path.stat().st_size for path in work.glob("*.db*")}
    finally:
        smtp.stop()
    return {"idle": idle, "elapsed": elapsed, "worker": (worker_now, worker_peak), "server": (server_now, server_peak),
            "max_worker": max(s[1] for s in samples), "max_server": max(s[2] for s in samples), "sizes": sizes,
            "mails": len(smtp.messages), "cpu": cpu}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.memory", description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=10_000, help="open journeys (default 10000)")
    parser.add_argument("--concurrency", type=int, default=32, help="workflow starts in flight")
    parser.add_argument("--window", type=int, default=200,
                        help="at most this many journeys between their start and the waiting list (default 200)")
    parser.add_argument("--timeout", type=float, default=3600, help="give up after this many seconds")
    parser.add_argument("--quick", action="store_true", help="smoke run: 100 journeys (< 30 s)")
    parser.add_argument("--keep", action="store_true", help="keep the working directory")
    args = parser.parse_args(argv)
    if args.quick:
        args.n = 100

    from bench.harness import machine, mib, workdir
    from eaflow.worker import MAX_CACHED_WORKFLOWS

    print(f"machine: {machine()}")
    print(f"command: python -m bench.memory {' '.join(sys.argv[1:])}")
    print(f"worker: `eaflow worker` subprocess, max_cached_workflows={MAX_CACHED_WORKFLOWS}; "
          f"dev server with SQLite WAL")
    with workdir("memory", keep=args.keep) as work:
        result = asyncio.run(run(args, work))
    worker_now, worker_peak = result["worker"]
    server_now, server_peak = result["server"]
    print(f"\n{args.n} open journeys on the waiting list after {result['elapsed']:.0f} s "
          f"({args.n / result['elapsed']:.1f} journeys/s, {result['mails']} mails caught)")
    for line in result["cpu"]:
        print("  " + line)
    print(f"worker RSS: {mib(worker_now)} now, {mib(worker_peak)} peak (VmHWM), {mib(result['max_worker'])} "
          f"max sampled; {mib(result['idle'][0])} idle before the first start")
    print(f"server RSS: {mib(server_now)} now, {mib(server_peak)} peak (VmHWM), {mib(result['max_server'])} "
          f"max sampled; {mib(result['idle'][1])} idle")
    print("files: " + ", ".join(f"{name} {size / 1024 / 1024:.0f} MiB" for name, size in sorted(result["sizes"].items())))
    ok = worker_peak < TARGET_WORKER_BYTES
    print(f"worker peak < 1 GiB: {'met' if ok else 'NOT met'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
