"""The records and the journeys, compared and mended (issue 19): `eaflow journeys check [--repair]`,
the worker at start-up, and the daily `journeys-check` schedule.

The workflow is the truth of where a journey stands (ARCHITECTURE.md, decision 1); the database holds
its projection. A crash of the whole machine can leave them apart: an intake recorded whose workflow
never started, a workflow started for an intake taken back, and, for journeys whose update was handled
before updates were made durable first (workflows/steps.py `accepted`), a completion the records show
and the journey never received. What is compared, journey by journey:

- the workflow exists (running, or closed as the records say) for every journey of the records, and
  no running journey workflow lacks its records;
- the state, the counsellor, the next interview's deadline (R12) and the veille's end (R14);
- the tasks: each task the journey waits on is open in the records, and each task open in the records
  is one the journey waits on;
- a journey that is not closed waits on something a person or a timer will do: an open task, a
  deadline of the accompaniment or of the veille, or the parties' signatures.

Differences are looked at twice, `settle` seconds apart, and only those that stay are reported: a step
in flight (a task being opened, a state being written) is not a difference. What `--repair` does:

- an intake without its workflow: the journey starts from its records (`intake.recorded_input`);
- a running workflow without records: terminated (nothing of it is in the records to act on);
- a completion in the records that the journey never received: handed to the journey again, as the
  person who made it sent it (`complete_task` with the same update id); if the journey refuses it now,
  the task is reopened in the records, and the refusal reported;
- a task open in the records that the journey no longer waits on: closed as the journey closed it (done
  with its outcome, or cancelled);
- the state, counsellor, deadline or veille's end of the records: set to the journey's.

A task the journey waits on that the records lack entirely, a journey whose workflow is gone, and a
journey that waits on nothing are reported, not mended: a person must look at them. Every difference
is one log line (logger `eaflow.reconcile`) and one count of `eaflow_journey_differences_total{kind,
repaired}`; each repair writes an audit row (`record_reconciled`) naming what changed.
"""
from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from typing import Any, Iterable

from sqlalchemy import or_
from sqlmodel import Session, select
from temporalio.client import Client, WorkflowExecutionStatus, WorkflowUpdateFailedError
from temporalio.service import RPCError, RPCStatusCode

from eaflow.activities import projections
from eaflow.intake import recorded_input, start_journey
from eaflow.observability import JOURNEY_DIFFERENCES
from eaflow.policy import load_policy
from eaflow.settings import Settings
from eaflow.store.db import session_scope
from eaflow.store.models import AuditEvent, Journey, Task, TaskCompletion as TaskCompletionRow
from eaflow.workflows.journey import JourneyWorkflow
from eaflow.workflows.types import JourneySnapshot, JourneyState, TaskClosure

log = logging.getLogger("eaflow.reconcile")

CLOSED = frozenset({"refused", "exited", "transferred"})
ACCOMPANYING = frozenset({"accompaniment", "veille", "relaunch"})
SETTLE_SECONDS = 3.0
CONCURRENCY = 8
STARTUP_WINDOW = timedelta(days=2)  # what a worker looks at when it starts: what a crash can have left


@dataclass(frozen=True)
class Record:
    """A journey as the records hold it."""

    id: str
    state: str
    counsellor_id: str | None
    next_interview_due: date | None
    veille_until: date | None
    tasks: dict[str, str]  # task id -> status (open | done | cancelled)


@dataclass
class Difference:
    journey_id: str
    kind: str
    detail: str
    mendable: bool
    task_id: str | None = None
    repaired: bool = False
    note: str = ""

    def line(self) -> str:
        mark = "repaired" if self.repaired else ("to repair" if self.mendable else "to look at")
        return f"{self.journey_id}: {self.kind}: {self.detail} ({mark}{': ' + self.note if self.note else ''})"

    def key(self) -> tuple:
        return self.journey_id, self.kind, self.task_id


@dataclass
class Report:
    checked: int = 0
    differences: list[Difference] = field(default_factory=list)

    @property
    def repaired(self) -> int:
        return sum(d.repaired for d in self.differences)

    def summary(self) -> str:
        left = len(self.differences) - self.repaired
        return (f"{self.checked} journey(s) checked, {len(self.differences)} difference(s), "
                f"{self.repaired} repaired, {left} left")


# ------------------------------------------------------------------------------- pure comparison
def waits_on_something(snapshot: JourneySnapshot) -> bool:
    """A journey that is not closed waits on a person (an open task), a timer (the accompaniment's and
    the veille's deadlines) or the parties' signatures."""
    if snapshot.state.value in CLOSED:
        return True
    if any(task.status in ("open", "completing") for task in snapshot.tasks.values()):
        return True
    if snapshot.state.value in ACCOMPANYING:
        return True  # its loops wait on the interview deadline (R12), the veille's end (R14), the rights (R19)
    return snapshot.state is JourneyState.convention and snapshot.convention.status == "signing"


def compare(record: Record, snapshot: JourneySnapshot, *, activities_pending: bool = False) -> list[Difference]:
    """The differences between a journey's records and its workflow's state. `activities_pending`: the
    journey waits on an activity (a mail to an SMTP server that is down, say), so it waits on something."""
    found: list[Difference] = []
    jid = record.id
    if record.state != snapshot.state.value:
        found.append(Difference(jid, "state", f"records say {record.state}, the journey {snapshot.state.value}", True))
    if record.counsellor_id != snapshot.counsellor_id:
        found.append(Difference(jid, "counsellor", f"records say {record.counsellor_id}, "
                                                   f"the journey {snapshot.counsellor_id}", True))
    due = snapshot.rhythm.due if snapshot.state.value in ACCOMPANYING and snapshot.rhythm.stopped_on is None else None
    if snapshot.state.value in ACCOMPANYING and record.next_interview_due != due and due is not None:
        found.append(Difference(jid, "next_interview_due", f"records say {record.next_interview_due}, "
                                                           f"the journey {due}", True))
    until = snapshot.veille.until if snapshot.state is JourneyState.veille else None
    if snapshot.state is JourneyState.veille and record.veille_until != until:
        found.append(Difference(jid, "veille_until", f"records say {record.veille_until}, the journey {until}", True))
    waited = {task.id: task for task in snapshot.tasks.values() if task.status in ("open", "completing")}
    for task_id, task in waited.items():
        status = record.tasks.get(task_id)
        if status is None:
            found.append(Difference(jid, "task_missing", f"the journey waits on {task.kind} {task_id}, "
                                                         "which the records lack", False, task_id))
        elif status != "open" and task.status == "open":
            found.append(Difference(jid, "task_closed_in_records_only", f"{task.kind} {task_id} is {status} in the "
                                                                         "records, open in the journey", True, task_id))
    for task_id, status in record.tasks.items():
        if status == "open" and task_id not in waited:
            known = snapshot.tasks.get(task_id)
            now = known.status if known else "unknown to it"
            found.append(Difference(jid, "task_open_in_records_only", f"{task_id} is open in the records, "
                                                                       f"{now} in the journey", True, task_id))
    if not activities_pending and not waits_on_something(snapshot):
        found.append(Difference(jid, "waits_on_nothing", f"in {snapshot.state.value}, the journey waits on no task, "
                                                          "deadline or signature", False))
    return found


# ------------------------------------------------------------------------------- reading both sides
def _records(session: Session, ids: Iterable[str] | None, since: datetime | None) -> dict[str, Record]:
    query = select(Journey.id, Journey.state, Journey.counsellor_id, Journey.next_interview_due, Journey.veille_until)
    if ids is not None:
        query = query.where(Journey.id.in_(list(ids)))
    elif since is not None:
        touched = select(Task.journey_id).where(or_(Task.created_at >= since, Task.completed_at >= since))
        query = query.where(or_(Journey.updated_at >= since, Journey.created_at >= since, Journey.id.in_(touched),
                                Journey.state == "prescribed"))
    rows = session.exec(query).all()
    records = {row[0]: Record(row[0], row[1], row[2], row[3], row[4], {}) for row in rows}
    if records:
        for journey_id, task_id, status in session.exec(
                select(Task.journey_id, Task.id, Task.status).where(Task.journey_id.in_(list(records)))).all():
            records[journey_id].tasks[task_id] = status
    return records


@dataclass
class Seen:
    """A journey as Temporal has it: no workflow, a closed one (with the state it ended in), or a running
    one with its snapshot; `busy` while a workflow task or a database step of it is pending."""

    exists: bool
    running: bool = False
    final_state: str | None = None
    snapshot: JourneySnapshot | None = None
    busy: bool = False
    activities_pending: bool = False


MAIL_ACTIVITIES = frozenset({"send_notification", "send_signing_link"})  # may wait long on SMTP: not in flight


async def _seen(client: Client, journey_id: str, *, final: bool = True) -> Seen:
    """`final`: read the state a closed journey ended in (its result: a read of its history)."""
    handle = client.get_workflow_handle(journey_id)
    try:
        description = await handle.describe()
    except RPCError as error:
        if error.status == RPCStatusCode.NOT_FOUND:
            return Seen(exists=False)
        raise
    raw = description.raw_description
    busy = raw.HasField("pending_workflow_task") or any(
        activity.activity_type.name not in MAIL_ACTIVITIES for activity in raw.pending_activities)
    if description.status == WorkflowExecutionStatus.RUNNING:
        if busy:
            # No query while a workflow task is in flight: a query then makes the worker complete that
            # task early, between a local activity's marker and its result reaching the workflow, and
            # such a history does not replay (the journey would stop on a nondeterminism error).
            return Seen(exists=True, running=True, busy=True)
        return Seen(exists=True, running=True, snapshot=await handle.query(JourneyWorkflow.snapshot),
                    activities_pending=bool(raw.pending_activities))
    ended_in = await handle.result() if final and description.status == WorkflowExecutionStatus.COMPLETED else None
    return Seen(exists=True, final_state=ended_in, busy=busy)


async def _differences(client: Client, record: Record | None, journey_id: str) -> list[Difference]:
    seen = await _seen(client, journey_id, final=record is not None and record.state not in CLOSED)
    if record is None:
        if seen.running:
            return [Difference(journey_id, "workflow_without_records", "a journey runs that the records do not hold",
                               True)]
        return []
    if not seen.exists:
        if record.state == "prescribed":
            return [Difference(journey_id, "intake_without_workflow", "recorded, its journey never started", True)]
        if record.state in CLOSED:
            return []  # a closed file whose history the server no longer keeps
        return [Difference(journey_id, "no_workflow", f"in {record.state} in the records, no journey runs", False)]
    if not seen.running:
        if seen.final_state is not None and seen.final_state != record.state:
            return [Difference(journey_id, "state", f"records say {record.state}, the journey ended "
                                                    f"{seen.final_state}", True)]
        return []
    if seen.busy:
        return []  # a step in flight: looked at again on the next pass
    return compare(record, seen.snapshot, activities_pending=seen.activities_pending)


async def _pass(client: Client, settings: Settings, ids: Iterable[str] | None,
                since: datetime | None) -> tuple[int, list[Difference], dict[str, Record]]:
    with session_scope(settings.db_url, settings.db_busy_timeout_seconds) as session:
        records = _records(session, ids, since)
    candidates: dict[str, Record | None] = dict(records)
    if ids is None:  # running journeys that the records lack (never for ids: those name records)
        # This installation's journeys: those of its task queue (a Temporal namespace may serve others).
        query = f'WorkflowType="Journey" AND ExecutionStatus="Running" AND TaskQueue="{settings.task_queue}"'
        if since is not None:
            query += f' AND StartTime >= "{since.astimezone(timezone.utc).isoformat()}"'
        running = [execution.id async for execution in client.list_workflows(query)]
        missing = [jid for jid in running if jid not in candidates]
        if missing:
            with session_scope(settings.db_url, settings.db_busy_timeout_seconds) as session:
                present = set(session.exec(select(Journey.id).where(Journey.id.in_(missing))).all())
            candidates |= {jid: None for jid in missing if jid not in present}
    gate = asyncio.Semaphore(CONCURRENCY)

    async def one(journey_id: str) -> list[Difference]:
        async with gate:
            return await _differences(client, candidates[journey_id], journey_id)

    found = [d for ds in await asyncio.gather(*(one(jid) for jid in candidates)) for d in ds]
    return len(records), found, records


async def check(client: Client, settings: Settings, *, repair: bool = False, since: datetime | None = None,
                journey_ids: Iterable[str] | None = None, settle: float = SETTLE_SECONDS) -> Report:
    """Compare (and with `repair`, mend) the journeys of the records touched since `since` (all without
    it), or those of `journey_ids`, with their workflows."""
    checked, first, _ = await _pass(client, settings, journey_ids, since)
    report = Report(checked=checked)
    if not first:
        return report
    await asyncio.sleep(settle)
    again = {d.journey_id for d in first}
    _, second, records = await _pass(client, settings, again, None)
    kept = {d.key() for d in first}
    # A workflow without records is not found by ids: keep the first pass's if it still runs.
    orphans = [d for d in first if d.kind == "workflow_without_records"]
    report.differences = [d for d in second if d.key() in kept] + [
        d for d in orphans if (await _seen(client, d.journey_id)).running]
    for difference in report.differences:
        if repair and difference.mendable:
            try:
                difference.note = await _mend(client, settings, difference) or ""
                difference.repaired = True
            except Exception as error:  # noqa: BLE001 - one journey's failure does not stop the others
                difference.note = f"not repaired: {error}"
        JOURNEY_DIFFERENCES.labels(difference.kind, str(difference.repaired).lower()).inc()
        log.log(logging.WARNING if difference.repaired else logging.ERROR, "journey difference: %s",
                difference.line(), extra={"journey_id": difference.journey_id, "kind": difference.kind})
    return report


# ------------------------------------------------------------------------------- mending
def _trace(session: Session, journey_id: str, what: str, **detail: Any) -> None:
    session.add(AuditEvent(journey_id=journey_id, actor_kind="system", action="record_reconciled",
                           detail={"what": what, **detail}))


async def _mend(client: Client, settings: Settings, d: Difference) -> str | None:
    jid = d.journey_id
    if d.kind == "intake_without_workflow":
        with session_scope(settings.db_url, settings.db_busy_timeout_seconds) as session:
            inp = recorded_input(session, jid, load_policy(settings.policy_file))
        await start_journey(client, settings.task_queue, inp)
        return "journey started from its records"
    if d.kind == "workflow_without_records":
        await client.get_workflow_handle(jid).terminate(reason="no records for this journey (eaflow journeys check)")
        return "workflow terminated"
    if d.kind == "task_closed_in_records_only":
        return await _redeliver(client, settings, jid, d.task_id)
    seen = await _seen(client, jid)
    with session_scope(settings.db_url, settings.db_busy_timeout_seconds) as session:
        journey = session.get(Journey, jid)
        if d.kind == "task_open_in_records_only":
            known = seen.snapshot.tasks.get(d.task_id) if seen.snapshot else None
            done = known is not None and known.status == "done"
            result = (known.result or {}) if done else {}
            projections.close_task(session, TaskClosure(
                task_id=d.task_id, journey_id=jid, status="done" if done else "cancelled",
                outcome=known.outcome if done else None, outcome_hash=known.outcome_hash if done else None,
                completed_by=result.get("completed_by"),
                completed_at=datetime.fromisoformat(result["completed_at"]) if result.get("completed_at")
                else datetime.now(timezone.utc)))
            _trace(session, jid, "task_closed", task_id=d.task_id, status="done" if done else "cancelled")
            return "closed as the journey closed it"
        if d.kind == "state":
            state = seen.snapshot.state.value if seen.snapshot else seen.final_state
            _trace(session, jid, "state", before=journey.state, after=state)
            journey.state = state
        elif d.kind == "counsellor":
            _trace(session, jid, "counsellor", before=journey.counsellor_id, after=seen.snapshot.counsellor_id)
            journey.counsellor_id = seen.snapshot.counsellor_id
        elif d.kind == "next_interview_due":
            due = seen.snapshot.rhythm.due
            _trace(session, jid, "next_interview_due", before=str(journey.next_interview_due), after=str(due))
            journey.next_interview_due = due
        elif d.kind == "veille_until":
            until = seen.snapshot.veille.until
            _trace(session, jid, "veille_until", before=str(journey.veille_until), after=str(until))
            journey.veille_until = until
        else:
            raise ValueError(f"no repair for {d.kind}")
        journey.updated_at = datetime.now(timezone.utc)
        session.add(journey)
    return None


async def _redeliver(client: Client, settings: Settings, journey_id: str, task_id: str) -> str:
    """A completion the records hold and the journey never received: hand it over as it was made; if
    the journey refuses it now, the task is open again in the records."""
    from eaflow.services.inbox import completion_of, completion_update_id

    with session_scope(settings.db_url, settings.db_busy_timeout_seconds) as session:
        task = session.get(Task, task_id)
        completion = completion_of(session, task, task.outcome or {}, task.outcome_hash or "", task.completed_by or "")
    try:
        await client.get_workflow_handle(journey_id).execute_update(
            JourneyWorkflow.complete_task, completion, id=completion_update_id(task_id, completion.outcome_hash))
        return "completion handed to the journey"
    except WorkflowUpdateFailedError as error:
        with session_scope(settings.db_url, settings.db_busy_timeout_seconds) as session:
            task = session.get(Task, task_id)
            before = task.status
            task.status, task.outcome, task.outcome_hash = "open", None, None
            task.completed_by = task.completed_at = None
            session.add(task)
            completion_row = session.get(TaskCompletionRow, task_id)
            if completion_row is not None:
                session.delete(completion_row)
            _trace(session, journey_id, "task_reopened", task_id=task_id, before=before,
                   why=str(error.cause or error))
        return f"the journey refused it ({error.cause or error}): task open again"
