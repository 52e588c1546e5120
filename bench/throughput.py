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
* same shape: a bare workflow that does the same Temporal work as one measured journey, with no
  business logic. After the journeys phase, the history of one completed measured journey (the
  first one to finish, once its history has settled) is read: its updates, its local activities
  (`core_local_activity` markers), its ordinary activities (and which were scheduled together) and
  its timers, in their order, split by update. `BenchSameShape` replays that shape with no-op
  activities, on a fresh dev server, its worker being the baseline's worker subprocess: per update,
  the local activities the handler ran before answering, then what the journey did after the
  answer (local activities, ordinary activities in the same batches, the timer it waits on).
  Its client, `--concurrency` in flight, sends the first update with the start (as the API's
  POST does) and the others one after the other, each once the previous one has answered.

Prints journeys/s, baseline/s and their ratio (the issue's target: >= 0.5, which sets the exit
status), then same-shape/s and the ratio journeys/same-shape: eaflow's own overhead over the
Temporal work it does, a figure for information, not a target.
"""
from __future__ import annotations

import argparse
import asyncio
import sys
import time
from collections import Counter, defaultdict
from datetime import date, timedelta

from temporalio import activity, workflow

TARGET_RATIO = 0.5
# The same-shape workflow waits on its next update with a timer as long as a journey's reminders.
SAME_SHAPE_TIMER = timedelta(days=14)


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


@activity.defn(name="bench_noop")
async def noop_activity(step: str) -> None:
    """A step with no business logic, run as a local or as an ordinary activity."""


@workflow.defn(name="BenchSameShape")
class SameShapeWorkflow:
    """The Temporal work of one journey and nothing else (see `journey_shape`).

    `shape` = {"start": ops, "updates": [{"handler": ops, "after": ops}, ...]}, where an op is "L" (a
    local activity), "A<n>" (n ordinary activities scheduled together, awaited together) or "T" (the
    next wait, on an update or for ever, has a timer; as in a journey, whose `until_done` waits with a
    reminder timer, none is started when that update has already been answered). Update i is handled once the previous step has
    run its last local activity (a journey's task is visible once `open_task` has run): its handler
    runs its ops and answers; the run then runs the `after` ops and waits for update i + 1.
    """

    @workflow.init
    def __init__(self, shape: dict) -> None:
        self.shape = shape
        self.opened = 0  # updates that may be handled (their "task" is open)
        self.handled = 0  # updates answered

    @workflow.run
    async def run(self, shape: dict) -> str:
        updates = shape["updates"]
        timer = await self._ops(shape["start"], "start", opens=1)
        for i, update in enumerate(updates):
            await workflow.wait_condition(lambda: self.handled > i, timeout=SAME_SHAPE_TIMER if timer else None)
            timer = await self._ops(update["after"], f"after-{i}", opens=i + 2 if i + 1 < len(updates) else None)
        if timer:  # a journey stays open, waiting on its next deadline
            await workflow.sleep(SAME_SHAPE_TIMER)
        return "done"

    @workflow.update
    async def step(self, i: int) -> int:
        await workflow.wait_condition(lambda: self.opened > i)
        await self._ops(self.shape["updates"][i]["handler"], f"handler-{i}", opens=None)
        self.handled = i + 1
        return i

    async def _ops(self, ops: list[str], where: str, opens: int | None) -> bool:
        """Run `ops`; open the next update after the last local activity (at once if none)."""
        last_local = max((k for k, op in enumerate(ops) if op == "L"), default=-1)
        if opens is not None and last_local < 0:
            self.opened = opens
        timer = False
        for k, op in enumerate(ops):
            if op == "L":
                await workflow.execute_local_activity(noop_activity, f"{where}-{k}",
                                                      start_to_close_timeout=timedelta(seconds=30))
            elif op.startswith("A"):
                await asyncio.gather(*(workflow.execute_activity(noop_activity, f"{where}-{k}-{a}",
                                                                 start_to_close_timeout=timedelta(seconds=60))
                                       for a in range(int(op[1:]))))
            elif op == "T":
                timer = True
            if opens is not None and k == last_local:
                self.opened = opens
        return timer


async def baseline_worker(address: str, task_queue: str, same_shape: bool = False) -> None:
    """Entry point of the baseline's worker subprocess (`--baseline-worker`; `--same-shape` adds
    `BenchSameShape` and its no-op activity, for that phase only)."""
    import signal

    from temporalio.client import Client
    from temporalio.worker import Worker

    client = await Client.connect(address)
    if same_shape:
        worker = Worker(client, task_queue=task_queue, workflows=[BaselineWorkflow, SameShapeWorkflow],
                        activities=[noop_activity])
    else:
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
        history = history_summary(await fetch_history(address, "baseline-0"))
    done = n - sum(failures.values())
    return {"n": n, "done": done, "seconds": elapsed, "per_second": done / elapsed, "failures": dict(failures),
            "cpu": cpu_lines(cpu_before, cpu_after, elapsed, n, "workflow"), "history": history}


async def _baseline_one(client, task_queue: str, workflow_id: str) -> None:
    handle = await client.start_workflow(BaselineWorkflow.run, id=workflow_id, task_queue=task_queue)
    assert await handle.execute_update(BaselineWorkflow.finish, "ok") == "ok"


async def run_same_shape(n: int, concurrency: int, log_dir, shape: dict) -> dict:
    """As `run_baseline`, with `BenchSameShape` doing one journey's Temporal work, on a fresh dev server."""
    from temporalio.client import Client

    from bench.harness import Processes, Timer, cpu_lines, start_dev_server

    with Processes(log_dir / "same-shape") as procs:
        address = await start_dev_server(procs, log_dir / "same-shape")
        task_queue = "bench-same-shape"
        procs.start("baseline-worker", [sys.executable, "-m", "bench.throughput", "--baseline-worker",
                                        address, task_queue, "--same-shape"])
        client = await Client.connect(address)
        await _same_shape_one(client, task_queue, "warmup", shape)  # not counted
        gate = asyncio.Semaphore(concurrency)
        failures: Counter = Counter()
        errors: list[str] = []

        async def one(i: int) -> None:
            async with gate:
                try:
                    await _same_shape_one(client, task_queue, f"same-shape-{i}", shape)
                except Exception as error:  # noqa: BLE001 - counted and printed
                    failures[type(error).__name__] += 1
                    errors.append(f"{type(error).__name__}: {error}")

        cpu_before = procs.cpu()
        timer = Timer()
        await asyncio.gather(*(one(i) for i in range(n)))
        elapsed = timer.elapsed
        cpu_after = procs.cpu()
        events = await fetch_history(address, "same-shape-0", settle=True)
    done = n - sum(failures.values())
    return {"n": n, "done": done, "seconds": elapsed, "per_second": done / elapsed, "failures": dict(failures),
            "errors": errors[:5], "cpu": cpu_lines(cpu_before, cpu_after, elapsed, n, "workflow"),
            "history": history_summary(events)}


async def _same_shape_one(client, task_queue: str, workflow_id: str, shape: dict) -> None:
    """Start the workflow with its first update (as the API's POST starts a journey), then send the
    others in order, each once the previous one has answered."""
    from temporalio.client import WithStartWorkflowOperation
    from temporalio.common import WorkflowIDConflictPolicy

    start = WithStartWorkflowOperation(SameShapeWorkflow.run, shape, id=workflow_id, task_queue=task_queue,
                                       id_conflict_policy=WorkflowIDConflictPolicy.FAIL)
    if not shape["updates"]:
        await client.start_workflow(SameShapeWorkflow.run, shape, id=workflow_id, task_queue=task_queue)
        return
    assert await client.execute_update_with_start_workflow(SameShapeWorkflow.step, 0,
                                                           start_workflow_operation=start) == 0
    handle = client.get_workflow_handle(workflow_id)
    for i in range(1, len(shape["updates"])):
        assert await handle.execute_update(SameShapeWorkflow.step, i) == i


async def fetch_history(address: str, workflow_id: str, settle: bool = False) -> list:
    """The history events of one workflow. With `settle`, once it idles: no activity pending and no
    new event for a second (a journey keeps working after its last completion answered)."""
    from temporalio.client import Client

    client = await Client.connect(address)
    handle = client.get_workflow_handle(workflow_id)
    events = list((await handle.fetch_history()).events)
    deadline = time.monotonic() + 60
    while settle and time.monotonic() < deadline:
        await asyncio.sleep(1.0)
        again = list((await handle.fetch_history()).events)
        pending = (await handle.describe()).raw_description.pending_activities
        if len(again) == len(events) and not pending:
            break
        events = again
    return events


def history_counts(events: list) -> dict:
    kinds = Counter(event.WhichOneof("attributes") for event in events)
    markers = Counter(event.marker_recorded_event_attributes.marker_name for event in events
                      if event.HasField("marker_recorded_event_attributes"))
    updates = Counter(event.workflow_execution_update_accepted_event_attributes.accepted_request.input.name
                      for event in events if event.HasField("workflow_execution_update_accepted_event_attributes"))
    return {"events": len(events), "activities": kinds["activity_task_scheduled_event_attributes"],
            "local activities": markers["core_local_activity"], "updates": sum(updates.values()),
            "update names": dict(updates), "workflow tasks": kinds["workflow_task_completed_event_attributes"],
            "timers": kinds["timer_started_event_attributes"]}


def history_summary(events: list) -> str:
    """What one workflow cost the server: its history events, activities, updates and timers."""
    c = history_counts(events)
    return (f"{c['events']} history events: {c['activities']} activities, {c['local activities']} local activities, "
            f"{c['updates']} updates, {c['workflow tasks']} workflow tasks, {c['timers']} timers")


def journey_shape(events: list) -> dict:
    """The Temporal work of one workflow, in its order, split by update (see `SameShapeWorkflow`):
    the ops before the first update accepted, then for each update the ops between its acceptance and
    its answer ("handler") and those after its answer, up to the next update ("after"). Activities
    scheduled by the same workflow task make one "A<n>" op (scheduled together, awaited together)."""
    shape: dict = {"start": [], "updates": []}
    ops = shape["start"]
    batch_open = False  # the last op is an "A<n>" of the workflow task being recorded
    for event in events:
        kind = event.WhichOneof("attributes")
        if kind == "workflow_execution_update_accepted_event_attributes":
            name = event.workflow_execution_update_accepted_event_attributes.accepted_request.input.name
            shape["updates"].append({"name": name, "handler": [], "after": []})
            ops, batch_open = shape["updates"][-1]["handler"], False
        elif kind == "workflow_execution_update_completed_event_attributes" and shape["updates"]:
            ops, batch_open = shape["updates"][-1]["after"], False
        elif kind == "workflow_task_completed_event_attributes":
            batch_open = False
        elif kind == "marker_recorded_event_attributes":
            if event.marker_recorded_event_attributes.marker_name == "core_local_activity":
                ops.append("L")
                batch_open = False
        elif kind == "activity_task_scheduled_event_attributes":
            if batch_open:
                ops[-1] = f"A{int(ops[-1][1:]) + 1}"
            else:
                ops.append("A1")
                batch_open = True
        elif kind == "timer_started_event_attributes":
            ops.append("T")
            batch_open = False
    return shape


def shape_text(shape: dict) -> list[str]:
    def ops(items: list[str]) -> str:
        words = {"L": "local", "T": "timer"}
        return ", ".join(words.get(op, "1 activity" if op == "A1" else f"{op[1:]} activities together")
                         for op in items) or "nothing"

    lines = [f"at start: {ops(shape['start'])}"] if shape["start"] else []
    for i, update in enumerate(shape["updates"]):
        how = "with the start" if i == 0 else "once the previous one answered and its task is open"
        lines.append(f"update {i + 1} ({update['name']}, sent {how}): handler runs {ops(update['handler'])}, "
                     f"answers; then the run: {ops(update['after'])}")
    return lines


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
        self.completed_ids: list[str] = []  # in the order their last completion answered

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
        self.completed_ids.append(journey_id)


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
                driver.completed_ids.clear()
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
            # The first measured journey to finish, once it idles: its history gives the shape.
            sample = driver.completed_ids[0] if driver.completed_ids else driver.journey_ids[-1]
            events = await fetch_history(address, sample, settle=True)
            history = history_summary(events)
            if not worker.alive():
                raise RuntimeError(f"the worker died:\n{worker.log_tail()}")
    finally:
        smtp.stop()
    done = len(stats["whole journey"])
    return {"n": n, "done": done, "seconds": elapsed, "per_second": done / elapsed, "failures": dict(failures),
            "errors": errors[:5], "stats": stats, "mails": len(smtp.messages),
            "cpu": cpu_lines(cpu_before, cpu_after, elapsed, n, "journey"), "history": history,
            "sample": sample, "counts": history_counts(events), "shape": journey_shape(events)}


# ------------------------------------------------------------------------------ main

def print_cpu_and_failures(phase: dict) -> None:
    for line in phase["cpu"]:
        print("  " + line)
    if phase["failures"]:
        print(f"  failures: {phase['failures']}")
        for error in phase.get("errors", []):
            print(f"    {error}")

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
    parser.add_argument("--same-shape", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.baseline_worker:
        asyncio.run(baseline_worker(*args.baseline_worker, same_shape=args.same_shape))
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
        print(f"  one journey's workflow ({journeys['sample']}, the first measured journey to finish, "
              f"once idle): {journeys['history']}")
        print_cpu_and_failures(journeys)
        baseline = asyncio.run(run_baseline(args.n, args.concurrency, work))
        print(f"baseline: {baseline['done']}/{baseline['n']} workflows started and updated in "
              f"{baseline['seconds']:.1f} s = {baseline['per_second']:.2f} workflows/s")
        print(f"  one baseline workflow: {baseline['history']}")
        print_cpu_and_failures(baseline)
        counts, shape = journeys["counts"], journeys["shape"]
        updates = ", ".join(f"{count} {name}" for name, count in counts["update names"].items())
        print(f"same-shape baseline: the journey's Temporal work, from {journeys['sample']}'s history: "
              f"{counts['updates']} updates accepted ({updates}), {counts['local activities']} local activities "
              f"(core_local_activity markers), {counts['activities']} ordinary activities scheduled, "
              f"{counts['timers']} timers started. Shape replayed by BenchSameShape (no-op activities):")
        for line in shape_text(shape):
            print(f"    {line}")
        same = asyncio.run(run_same_shape(args.n, args.concurrency, work, shape))
        print(f"same shape: {same['done']}/{same['n']} workflows driven through their updates in "
              f"{same['seconds']:.1f} s = {same['per_second']:.2f} workflows/s")
        print(f"  one same-shape workflow: {same['history']}")
        print_cpu_and_failures(same)
    ratio = journeys["per_second"] / baseline["per_second"]
    verdict = "met" if ratio >= TARGET_RATIO else "NOT met"
    print(f"\nratio journeys/baseline: {ratio:.3f} (target >= {TARGET_RATIO}: {verdict})")
    overhead = journeys["per_second"] / same["per_second"] if same["per_second"] else float("nan")
    print(f"ratio journeys/same-shape: {overhead:.3f} (eaflow's own overhead over the Temporal work it does; "
          f"for information, not a target)")
    return 0 if ratio >= TARGET_RATIO and not journeys["failures"] and not baseline["failures"] \
        and not same["failures"] else 1


if __name__ == "__main__":
    sys.exit(main())
