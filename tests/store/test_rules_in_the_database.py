"""Rules the database holds too (migration 0002), raced by two writers, on SQLite and PostgreSQL.

Each race: two threads, each with its own connection and transaction, released together by a
barrier. Exactly one wins; the other gets IntegrityError (a raw write) or takes the activity's
idempotent path; nothing of the loser is half-written.
"""
from __future__ import annotations

import threading
import time
from datetime import date, datetime, timedelta, timezone
from typing import Any, Callable

import pytest
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, func, select
from temporalio.exceptions import ApplicationError

from eaflow.activities.assignment import assign_counsellor
from eaflow.activities.projections import close_task
from eaflow.store.db import session_scope
from eaflow.store.models import AuditEvent, CounsellorAssignment, ExitProcedure, Journey, Task, TaskCompletion
from eaflow.workflows.types import AssignmentRequest, TaskClosure

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=timezone.utc)


# ---------------------------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------------------------
def race(url: str, *writers: Callable[[Session], Any], hold: float = 0.2) -> list[Any]:
    """Run each writer in its own thread and transaction, started together; their results.

    A writer's result is what it returned, or the exception its transaction raised (the
    transaction was then rolled back). `hold` keeps each transaction open a little after its
    writes, so that the two overlap on PostgreSQL (on SQLite, BEGIN IMMEDIATE makes the second
    wait for the first at its first statement).
    """
    barrier = threading.Barrier(len(writers))
    results: list[Any] = [None] * len(writers)

    def run(index: int, writer: Callable[[Session], Any]) -> None:
        barrier.wait(timeout=30)
        try:
            with session_scope(url) as session:
                results[index] = writer(session)
                session.flush()
                time.sleep(hold)
        except Exception as error:  # noqa: BLE001 - the result under test
            results[index] = error

    threads = [threading.Thread(target=run, args=(i, w)) for i, w in enumerate(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
        assert not thread.is_alive(), "a writer is stuck"
    return results


def add_journey(url: str, platform, journey_id: str, state: str = "waiting_list") -> None:
    with session_scope(url) as session:
        session.add(Journey(id=journey_id, platform_id=platform.platform_id, state=state, channel="cdaph",
                            situation="seeking", prescribed_on=date(2026, 11, 2), prescriber_id=platform.prescriber))


def add_task(url: str, platform, journey_id: str, task_id: str) -> None:
    with session_scope(url) as session:
        session.add(Task(id=task_id, journey_id=journey_id, platform_id=platform.platform_id,
                         kind="shared_evaluation", title="Évaluation partagée", created_at=T0))


def count(url: str, model, *where) -> int:
    with session_scope(url) as session:
        return int(session.exec(select(func.count()).select_from(model).where(*where)).one())


def integrity_errors(results: list[Any]) -> list[IntegrityError]:
    return [r for r in results if isinstance(r, IntegrityError)]


# ---------------------------------------------------------------------------------------------
# R8: one active counsellor per journey
# ---------------------------------------------------------------------------------------------
def test_r8_two_writers_opening_an_active_assignment_one_wins(settings, platform):
    url = settings.db_url
    add_journey(url, platform, "j-r8")

    def writer(counsellor_id: str, key: str):
        def write(session: Session) -> str:
            session.add(CounsellorAssignment(journey_id="j-r8", counsellor_id=counsellor_id, started_at=T0,
                                             reason="race", assigned_by=platform.manager, step_key=key))
            session.add(AuditEvent(journey_id="j-r8", at=T0, actor_kind="user", actor_id=platform.manager,
                                   action="counsellor_assigned", step_key=key))
            journey = session.get(Journey, "j-r8")
            journey.counsellor_id = counsellor_id
            session.add(journey)
            return key
        return write

    results = race(url, writer(platform.counsellor, "r8/a"), writer(platform.counsellor2, "r8/b"))

    assert len(integrity_errors(results)) == 1, results
    [winner] = [r for r in results if isinstance(r, str)]
    loser = "r8/b" if winner == "r8/a" else "r8/a"
    with session_scope(url) as session:
        [active] = session.exec(select(CounsellorAssignment).where(
            CounsellorAssignment.journey_id == "j-r8", CounsellorAssignment.ended_at.is_(None))).all()
        assert active.step_key == winner
        # Nothing of the loser: no audit event, and the journey points at the winner's counsellor.
        assert session.exec(select(AuditEvent).where(AuditEvent.step_key == loser)).first() is None
        assert session.get(Journey, "j-r8").counsellor_id == active.counsellor_id


def test_r8_an_ended_assignment_does_not_count_as_active(settings, platform):
    url = settings.db_url
    add_journey(url, platform, "j-r8-ended")
    with session_scope(url) as session:
        session.add(CounsellorAssignment(journey_id="j-r8-ended", counsellor_id=platform.counsellor, started_at=T0,
                                         ended_at=T0 + timedelta(days=30), step_key="old-1"))
        session.add(CounsellorAssignment(journey_id="j-r8-ended", counsellor_id=platform.counsellor2,
                                         started_at=T0 + timedelta(days=30), ended_at=T0 + timedelta(days=60),
                                         step_key="old-2"))
        session.add(CounsellorAssignment(journey_id="j-r8-ended", counsellor_id=platform.counsellor,
                                         started_at=T0 + timedelta(days=60), step_key="current"))
    with pytest.raises(IntegrityError):
        with session_scope(url) as session:
            session.add(CounsellorAssignment(journey_id="j-r8-ended", counsellor_id=platform.counsellor2,
                                             started_at=T0 + timedelta(days=61), step_key="second-active"))
    assert count(url, CounsellorAssignment, CounsellorAssignment.journey_id == "j-r8-ended") == 3


def _request(journey_id: str, counsellor_id: str, step_key: str, actor: str, at: datetime = T0) -> AssignmentRequest:
    return AssignmentRequest(journey_id=journey_id, counsellor_id=counsellor_id, actor_id=actor,
                             step_key=step_key, reason="R8 : désignation", at=at)


def test_r8_a_retried_assignment_racing_the_original_writes_once(settings, platform):
    """The same step twice at once (a retry while the first attempt still runs): one row, one event."""
    url = settings.db_url
    add_journey(url, platform, "j-r8-retry")
    request = _request("j-r8-retry", platform.counsellor, "j-r8-retry/assign/1", platform.manager)

    results = race(url, lambda s: assign_counsellor(s, request), lambda s: assign_counsellor(s, request))

    assert results == [None, None], results  # both succeed: one wrote, the other found its row
    assert count(url, CounsellorAssignment, CounsellorAssignment.journey_id == "j-r8-retry") == 1
    assert count(url, AuditEvent, AuditEvent.step_key == request.step_key) == 1
    with session_scope(url) as session:
        assert session.get(Journey, "j-r8-retry").counsellor_id == platform.counsellor


def test_r8_two_assignments_of_one_journey_at_once_leave_one_active(settings, platform):
    """Two different steps on one journey: serialised by the journey lock, the second is a change."""
    url = settings.db_url
    add_journey(url, platform, "j-r8-two")
    first = _request("j-r8-two", platform.counsellor, "j-r8-two/assign/1", platform.manager)
    second = _request("j-r8-two", platform.counsellor2, "j-r8-two/change/1", platform.manager,
                      at=T0 + timedelta(minutes=1))

    results = race(url, lambda s: assign_counsellor(s, first), lambda s: assign_counsellor(s, second))

    assert results == [None, None], results
    with session_scope(url) as session:
        rows = session.exec(select(CounsellorAssignment).where(CounsellorAssignment.journey_id == "j-r8-two")).all()
        assert len(rows) == 2
        [active] = [r for r in rows if r.ended_at is None]
        assert session.get(Journey, "j-r8-two").counsellor_id == active.counsellor_id
        actions = sorted(e.action for e in session.exec(select(AuditEvent).where(AuditEvent.journey_id == "j-r8-two")))
        assert actions == ["counsellor_assigned", "counsellor_changed"]


def test_r7_two_journeys_racing_for_the_last_place_of_a_counsellor(settings, platform):
    """counsellor2 (0.05 FTE) can take one person: the counsellor row lock lets one journey in."""
    url = settings.db_url
    add_journey(url, platform, "j-r7-a")
    add_journey(url, platform, "j-r7-b")
    a = _request("j-r7-a", platform.counsellor2, "j-r7-a/assign/1", platform.manager)
    b = _request("j-r7-b", platform.counsellor2, "j-r7-b/assign/1", platform.manager)

    results = race(url, lambda s: assign_counsellor(s, a), lambda s: assign_counsellor(s, b))

    refused = [r for r in results if isinstance(r, ApplicationError)]
    assert len(refused) == 1 and refused[0].type == "RuleRefused", results
    assert results.count(None) == 1, results
    assert count(url, Journey, Journey.counsellor_id == platform.counsellor2) == 1
    assert count(url, CounsellorAssignment, CounsellorAssignment.counsellor_id == platform.counsellor2) == 1


# ---------------------------------------------------------------------------------------------
# R18: one open exit procedure per journey
# ---------------------------------------------------------------------------------------------
def _exit(procedure_id: str, journey_id: str, **fields) -> ExitProcedure:
    return ExitProcedure(id=procedure_id, journey_id=journey_id, reason=fields.pop("reason", "Emploi durable"),
                         opened_at=fields.pop("opened_at", T0), **fields)


def test_r18_two_writers_opening_an_exit_procedure_one_wins(settings, platform):
    url = settings.db_url
    add_journey(url, platform, "j-r18", state="accompanied")

    def writer(procedure_id: str, actor: str):
        def write(session: Session) -> str:
            session.add(_exit(procedure_id, "j-r18", opened_by=actor))
            session.add(AuditEvent(journey_id="j-r18", at=T0, actor_kind="user", actor_id=actor,
                                   action="exit_proposed", step_key=f"{procedure_id}/opened"))
            return procedure_id
        return write

    results = race(url, writer("exit-a", platform.counsellor), writer("exit-b", platform.manager))

    assert len(integrity_errors(results)) == 1, results
    [winner] = [r for r in results if isinstance(r, str)]
    loser = "exit-b" if winner == "exit-a" else "exit-a"
    with session_scope(url) as session:
        [procedure] = session.exec(select(ExitProcedure).where(ExitProcedure.journey_id == "j-r18")).all()
        assert procedure.id == winner and procedure.status == "open"
        assert session.exec(select(AuditEvent).where(AuditEvent.step_key == f"{loser}/opened")).first() is None


def test_r18_a_closed_procedure_lets_another_open_and_statuses_are_checked(settings, platform):
    url = settings.db_url
    add_journey(url, platform, "j-r18-again", state="accompanied")
    with session_scope(url) as session:
        session.add(_exit("exit-1", "j-r18-again", status="rejected", closed_at=T0 + timedelta(days=10),
                          closed_by=platform.manager, decision_reason="Accompagnement encore nécessaire"))
        session.add(_exit("exit-2", "j-r18-again", opened_at=T0 + timedelta(days=90)))
    assert count(url, ExitProcedure, ExitProcedure.journey_id == "j-r18-again") == 2

    for bad in (
        _exit("exit-3", "j-r18-again", opened_at=T0 + timedelta(days=91)),          # a second open one
        _exit("exit-4", "j-r18-again", status="archived", closed_at=T0),              # unknown status
        _exit("exit-5", "j-r18-again", status="approved"),                            # closed without a date
        _exit("exit-6", "j-r18-again", status="open", closed_at=T0),                  # open with a close date
    ):
        with pytest.raises(IntegrityError):
            with session_scope(url) as session:
                session.add(bad)
    assert count(url, ExitProcedure, ExitProcedure.journey_id == "j-r18-again") == 2


# ---------------------------------------------------------------------------------------------
# One completion per task
# ---------------------------------------------------------------------------------------------
def _closure(task_id: str, journey_id: str, status: str = "done", by: str | None = None,
             outcome: dict | None = None) -> TaskClosure:
    outcome = outcome if outcome is not None else {"evaluated_on": "2026-11-20"}
    return TaskClosure(task_id=task_id, journey_id=journey_id, status=status, outcome=outcome,
                       outcome_hash=str(sorted(outcome.items())), completed_by=by, completed_at=T0 + timedelta(days=18))


def test_two_writers_completing_one_task_one_wins(settings, platform):
    url = settings.db_url
    add_journey(url, platform, "j-task", state="admitted")
    add_task(url, platform, "j-task", "j-task/shared-evaluation")

    def writer(by: str):
        def write(session: Session) -> str:
            task = session.get(Task, "j-task/shared-evaluation")
            task.status, task.completed_by, task.completed_at = "done", by, T0
            session.add(task)
            session.add(TaskCompletion(task_id=task.id, journey_id="j-task", status="done", completed_by=by,
                                       completed_at=T0))
            return by
        return write

    results = race(url, writer(platform.counsellor), writer(platform.manager))

    assert len(integrity_errors(results)) == 1, results
    [winner] = [r for r in results if isinstance(r, str)]
    with session_scope(url) as session:
        [completion] = session.exec(select(TaskCompletion)).all()
        task = session.get(Task, "j-task/shared-evaluation")
        # The loser's update of the task went with its transaction: the task is the winner's.
        assert completion.completed_by == task.completed_by == winner


def test_close_task_twice_at_once_writes_one_completion(settings, platform):
    """The activity, retried while its first attempt still runs: both succeed, one effect."""
    url = settings.db_url
    add_journey(url, platform, "j-close", state="admitted")
    add_task(url, platform, "j-close", "j-close/shared-evaluation")
    closure = _closure("j-close/shared-evaluation", "j-close", by=platform.counsellor)

    results = race(url, lambda s: close_task(s, closure), lambda s: close_task(s, closure))

    assert results == [None, None], results
    with session_scope(url) as session:
        [completion] = session.exec(select(TaskCompletion)).all()
        task = session.get(Task, closure.task_id)
        assert (task.status, completion.status, completion.completed_by) == ("done", "done", platform.counsellor)
        assert completion.outcome_hash == task.outcome_hash == closure.outcome_hash
        assert completion.completed_at == closure.completed_at
    assert count(url, AuditEvent, AuditEvent.step_key == f"{closure.task_id}/done") == 1


def test_a_completion_racing_a_cancellation_the_first_one_holds(settings, platform):
    url = settings.db_url
    add_journey(url, platform, "j-cancel", state="admitted")
    add_task(url, platform, "j-cancel", "j-cancel/shared-evaluation")
    done = _closure("j-cancel/shared-evaluation", "j-cancel", by=platform.counsellor)
    cancelled = _closure("j-cancel/shared-evaluation", "j-cancel", status="cancelled", outcome={})

    results = race(url, lambda s: close_task(s, done), lambda s: close_task(s, cancelled))

    assert results == [None, None], results
    with session_scope(url) as session:
        [completion] = session.exec(select(TaskCompletion)).all()
        task = session.get(Task, done.task_id)
        assert task.status == completion.status
        assert task.outcome_hash == completion.outcome_hash
