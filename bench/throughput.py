"""Journey throughput through the API, beside a bare-Temporal baseline, on the dev server.

    .venv/bin/python -m bench.throughput [--n 1000] [--concurrency 32] [--quick]

What runs (each phase on a fresh `temporal server start-dev --headless`, SQLite file in WAL mode,
as `eaflow up` runs it):

* journeys: `eaflow worker` and `eaflow api` (uvicorn) as subprocesses, as in production, over a
  SQLite records database, with a local SMTP sink (tests/smtp_fixture.py) catching the mails. An
  httpx client in this process keeps at most `--concurrency` journeys in flight; each one is
  POST /api/v1/journeys (manager, channel cdaph: no notify_cdaph task), poll GET /api/v1/tasks until
  the assign_counsellor task shows, complete it with a counsellor (enough counsellors of 1.0 FTE
  for R7's 20 per FTE), poll as that counsellor until the shared_evaluation task shows, complete
  it. A journey counts once the second completion answered 200.
* baseline: a bare workflow (below) that waits on one Update, its worker in a subprocess of its
  own; the same kind of client (asyncio, `--concurrency` in flight) starts it and sends the
  update, N times.

Prints journeys/s, baseline/s and their ratio (target >= 0.5).
"""
from __future__ import annotations

import argparse
import asyncio
import sys
import time
from collections import Counter, defaultdict
from datetime import date, timedelta

from temporalio import workflow

TARGET_RATIO = 0.5


# ------------------------------------------------------------------------------ the baseline
@workflow.defn(name="BenchBaseline")
class BaselineWorkflow:
    """The least a journey step could cost: a workflow that waits on one Update, then ends."""

    def __init__(self) -> None:
        self.done = False

    @workflow.run
    async def run(self) -> str:
        await workflow.wait_condition(lambda: self.done)
        return "done"

    @workflow.update
    async def finish(self, value: str) -> str:
        self.done = True
        return value


async def baseline_worker(address: str, task_queue: str) -> None:
    """Entry point of the baseline's worker subprocess (`--baseline-worker`)."""
    import signal

    from temporalio.client import Client
    from temporalio.worker import Worker

    client = await Client.connect(address)
    worker = Worker(client, task_queue=task_queue, workflows=[BaselineWorkflow])
    task = asyncio.ensure_future(worker.run())
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, task.cancel)
    try:
        await task
    except asyncio.CancelledError:
        pass


async def run_baseline(n: int, concurrency: int, log_dir) -> dict:
    from temporalio.client import Client

    from bench.harness import Processes, Timer, cpu_lines, start_dev_server

    with Processes(log_dir / "baseline") as procs:
        address = await start_dev_server(procs, log_dir / "baseline")
        task_queue = "bench-baseline"
        procs.start("baseline-worker", [sys.executable, "-m", "bench.throughput", "--baseline-worker",
                                        address, task_queue])
        client = await Client.connect(address)
        # Warm up: the worker is up and the first workflow task is not counted.
        await _baseline_one(client, task_queue, "warmup")
        gate = asyncio.Semaphore(concurrency)
        failures: Counter = Counter()

        async def one(i: int) -> None:
            async with gate:
                try:
                    await _baseline_one(client, task_queue, f"baseline-{i}")
                except Exception as error:  # noqa: BLE001 - counted and printed
                    failures[type(error).__name__] += 1

        cpu_before = procs.cpu()
        timer = Timer()
        await asyncio.gather(*(one(i) for i in range(n)))
        elapsed = timer.elapsed
        cpu_after = procs.cpu()
        history = await history_summary(address, "baseline-0")
    done = n - sum(failures.values())
    return {"n": n, "done": done, "seconds": elapsed, "per_second": done / elapsed, "failures": dict(failures),
            "cpu": cpu_lines(cpu_before, cpu_after, elapsed, n, "workflow"), "history": history}


async def _baseline_one(client, task_queue: str, workflow_id: str) -> None:
    handle = await client.start_workflow(BaselineWorkflow.run, id=workflow_id, task_queue=task_queue)
    assert await handle.execute_update(BaselineWorkflow.finish, "ok") == "ok"


async def history_summary(address: str, workflow_id: str) -> str:
    """What one workflow cost the server: its history events, activities, updates and timers."""
    from temporalio.client import Client

    client = await Client.connect(address)
    events = (await client.get_workflow_handle(workflow_id).fetch_history()).events
    kinds = Counter(event.WhichOneof("attributes") for event in events)
    return (f"{len(events)} history events: {kinds['activity_task_scheduled_event_attributes']} activities, "
            f"{kinds['workflow_execution_update_accepted_event_attributes']} updates, "
            f"{kinds['workflow_task_completed_event_attributes']} workflow tasks, "
            f"{kinds['timer_started_event_attributes']} timers")


# ------------------------------------------------------------------------------ the journeys
def seed(db_url: str, counsellors: int) -> dict:
    """One platform, one manager, `counsellors` counsellors of 1.0 FTE, with bearer tokens."""
    from eaflow import accounts
    from eaflow.store.db import session_scope
    from eaflow.store.migrate import upgrade
    from eaflow.store.models import User

    from bench.harness import issue_tokens, new_id, password_hash

    upgrade(db_url)
    with session_scope(db_url) as session:
        platform = accounts.create_platform(session, "35", "Plateforme d'Ille-et-Vilaine",
                                            operator="Association Trajectoires 35", mailbox="plateforme35@bench.fr")
        manager = User(id=new_id("u"), email="manager@bench.fr", display_name="Maëlle Manager", role="manager",
                       platform_id=platform.id, password_hash=password_hash())
        staff = [User(id=new_id("u"), email=f"c{n}@bench.fr", display_name=f"Conseiller {n}", role="counsellor",
                      platform_id=platform.id, fte=1.0, password_hash=password_hash()) for n in range(counsellors)]
        session.add_all([manager, *staff])
        session.flush()
        tokens = issue_tokens(session, [manager.id, *(c.id for c in staff)])
    return {"manager": tokens[manager.id], "counsellors": [(c.id, tokens[c.id]) for c in staff]}


def intake_body(i: int) -> dict:
    today = date.today()
    return {
        "person": {"first_name": "Léa", "last_name": f"Martin-{i}",
                   "birth_date": (date(1980, 1, 1) + timedelta(days=i % 9000)).isoformat(),
                   "email": f"personne{i}@example.fr", "phone": "0600000000"},
        "channel": "cdaph", "urgent": False, "prescribed_on": today.isoformat(), "situation": "seeking",
        "rights": {"rqth_until": (today + timedelta(days=3 * 365)).isoformat()},
        "subsidiarity_reason": "Un appui durable dans l'emploi que le droit commun n'offre pas.",
        "consent": {"given_on": today.isoformat(), "by": "person"},
    }


class JourneyClient:
    """One journey driven through the API as the manager and its counsellor would."""

    def __init__(self, http, tokens: dict, poll: float, stats: dict, failures: Counter):
        self.http, self.tokens, self.poll, self.stats, self.failures = http, tokens, poll, stats, failures
        self.journey_ids: list[str] = []

    def auth(self, token: str) -> dict:
        return {"Authorization": f"Bearer {token}"}

    async def call(self, method: str, url: str, token: str, step: str, **kwargs):
        """A request; a 503 (the API's 'try again') is retried with the same body, as a client would."""
        for attempt in range(5):
            started = time.perf_counter()
            response = await self.http.request(method, url, headers=self.auth(token), **kwargs)
            self.stats[step].append(time.perf_counter() - started)
            if response.status_code != 503:
                break
            self.failures[f"{step}: 503 retried"] += 1
            await asyncio.sleep(0.5 * (attempt + 1))
        if response.status_code >= 400:
            raise RuntimeError(f"{step}: {response.status_code} {response.text[:300]}")
        return response.json()

    async def wait_task(self, journey_id: str, kind: str, token: str, timeout: float = 300.0) -> dict:
        started = time.perf_counter()
        deadline = started + timeout
        while True:
            page = await self.call("GET", "/api/v1/tasks", token, "poll",
                                   params={"journey_id": journey_id, "kind": kind})
            if page["items"]:
                self.stats[f"wait {kind}"].append(time.perf_counter() - started)
                return page["items"][0]
            if time.perf_counter() > deadline:
                raise TimeoutError(f"no {kind} task on {journey_id} after {timeout:.0f} s")
            await asyncio.sleep(self.poll)

    async def journey(self, i: int) -> None:
        manager = self.tokens["manager"]
        counsellor_id, counsellor = self.tokens["counsellors"][i % len(self.tokens["counsellors"])]
        started = time.perf_counter()
        created = await self.call("POST", "/api/v1/journeys", manager, "POST journeys", json=intake_body(i))
        journey_id = created["id"]
        self.journey_ids.append(journey_id)
        assign = await self.wait_task(journey_id, "assign_counsellor", manager)
        await self.call("POST", f"/api/v1/tasks/{assign['id']}/complete", manager, "complete assign_counsellor",
                        json={"outcome": {"counsellor_id": counsellor_id}})
        evaluation = await self.wait_task(journey_id, "shared_evaluation", counsellor)
        done = await self.call("POST", f"/api/v1/tasks/{evaluation['id']}/complete", counsellor,
                               "complete shared_evaluation", json={"outcome": {
                                   "evaluated_on": date.today().isoformat(), "wishes": "Trouver un emploi",
                                   "needs": "Adapter le poste", "resources": "Soutien de la famille"}})
        assert done["status"] == "done", done
        self.stats["whole journey"].append(time.perf_counter() - started)


async def run_journeys(n: int, concurrency: int, poll: float, log_dir, database_url: str | None) -> dict:
    import httpx

    from bench.harness import Processes, Timer, cpu_lines, eaflow_env, start_api, start_dev_server, start_worker
    from tests.smtp_fixture import SmtpServer

    data_dir = log_dir / "journeys"
    data_dir.mkdir(parents=True, exist_ok=True)
    db_url = database_url or f"sqlite:///{data_dir / 'eaflow.db'}"
    # R7: 20 persons per FTE; ~15 per counsellor leaves room to spare.
    tokens = seed(db_url, counsellors=max(2, -(-(n + 1) // 15)))
    smtp = SmtpServer().start()
    try:
        with Processes(data_dir / "logs") as procs:
            address = await start_dev_server(procs, data_dir)
            env = eaflow_env(data_dir, db_url, address, "bench-journeys", smtp.port)
            worker = start_worker(procs, env)
            url = await start_api(procs, env)
            stats: dict[str, list[float]] = defaultdict(list)
            failures: Counter = Counter()
            limits = httpx.Limits(max_connections=concurrency * 2, max_keepalive_connections=concurrency * 2)
            async with httpx.AsyncClient(base_url=url, timeout=120, limits=limits) as http:
                driver = JourneyClient(http, tokens, poll, stats, failures)
                await driver.journey(n)  # warm-up journey (worker caches, first connections): not counted
                stats.clear()
                gate = asyncio.Semaphore(concurrency)
                errors: list[str] = []

                async def one(i: int) -> None:
                    async with gate:
                        try:
                            await driver.journey(i)
                        except Exception as error:  # noqa: BLE001 - counted and printed
                            failures[type(error).__name__] += 1
                            errors.append(str(error))

                cpu_before = procs.cpu()
                timer = Timer()
                await asyncio.gather(*(one(i) for i in range(n)))
                elapsed = timer.elapsed
                cpu_after = procs.cpu()
            history = await history_summary(address, driver.journey_ids[-1])
            if not worker.alive():
                raise RuntimeError(f"the worker died:\n{worker.log_tail()}")
    finally:
        smtp.stop()
    done = len(stats["whole journey"])
    return {"n": n, "done": done, "seconds": elapsed, "per_second": done / elapsed, "failures": dict(failures),
            "errors": errors[:5], "stats": stats, "mails": len(smtp.messages),
            "cpu": cpu_lines(cpu_before, cpu_after, elapsed, n, "journey"), "history": history}


# ------------------------------------------------------------------------------ main
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.throughput", description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=1000, help="journeys, and baseline workflows (default 1000)")
    parser.add_argument("--concurrency", type=int, default=32, help="journeys in flight (default 32)")
    parser.add_argument("--poll", type=float, default=0.25, help="seconds between two polls of the inbox")
    parser.add_argument("--database-url", default=None,
                        help="records database (empty, migrated by the bench); default a fresh SQLite file")
    parser.add_argument("--quick", action="store_true", help="smoke run: 20 of each (< 30 s)")
    parser.add_argument("--keep", action="store_true", help="keep the working directory (logs, databases)")
    parser.add_argument("--baseline-worker", nargs=2, metavar=("ADDRESS", "TASK_QUEUE"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.baseline_worker:
        asyncio.run(baseline_worker(*args.baseline_worker))
        return 0
    if args.quick:
        args.n, args.concurrency = 20, 8

    from bench.harness import latency_line, machine, workdir

    print(f"machine: {machine()}")
    print(f"command: {' '.join([sys.executable.rsplit('/', 1)[-1], '-m', 'bench.throughput', *sys.argv[1:]])}")
    print(f"journeys: {args.n}, {args.concurrency} in flight; API and worker as subprocesses; "
          f"dev server with SQLite WAL; inbox polled every {args.poll} s")
    with workdir("throughput", keep=args.keep) as work:
        journeys = asyncio.run(run_journeys(args.n, args.concurrency, args.poll, work, args.database_url))
        print(f"\njourneys: {journeys['done']}/{journeys['n']} in {journeys['seconds']:.1f} s = "
              f"{journeys['per_second']:.2f} journeys/s ({journeys['mails']} mails caught)")
        for step, values in journeys["stats"].items():
            print("  " + latency_line(step, values))
        print(f"  one journey's workflow: {journeys['history']}")
        for line in journeys["cpu"]:
            print("  " + line)
        if journeys["failures"]:
            print(f"  failures: {journeys['failures']}")
            for error in journeys["errors"]:
                print(f"    {error}")
        baseline = asyncio.run(run_baseline(args.n, args.concurrency, work))
        print(f"baseline: {baseline['done']}/{baseline['n']} workflows started and updated in "
              f"{baseline['seconds']:.1f} s = {baseline['per_second']:.2f} workflows/s")
        print(f"  one baseline workflow: {baseline['history']}")
        for line in baseline["cpu"]:
            print("  " + line)
        if baseline["failures"]:
            print(f"  failures: {baseline['failures']}")
    ratio = journeys["per_second"] / baseline["per_second"]
    verdict = "met" if ratio >= TARGET_RATIO else "NOT met"
    print(f"\nratio journeys/baseline: {ratio:.3f} (target >= {TARGET_RATIO}: {verdict})")
    return 0 if ratio >= TARGET_RATIO and not journeys["failures"] and not baseline["failures"] else 1


if __name__ == "__main__":
    sys.exit(main())
