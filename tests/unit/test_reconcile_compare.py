"""Issue 19: the pure comparison of a journey's records with its workflow's state (eaflow/reconcile.py)."""
from __future__ import annotations

from datetime import date

from eaflow.reconcile import Record, compare, waits_on_something
from eaflow.workflows.types import ConventionState, JourneySnapshot, JourneyState, RhythmState, TaskView, VeilleState


def record(state: str = "waiting_list", tasks: dict[str, str] | None = None, **fields) -> Record:
    return Record(id="j-1", state=state, counsellor_id=fields.get("counsellor_id"),
                  next_interview_due=fields.get("next_interview_due"), veille_until=fields.get("veille_until"),
                  tasks=tasks if tasks is not None else {"j-1-t1": "open"})


def snapshot(state: JourneyState = JourneyState.waiting_list, tasks: dict[str, str] | None = None,
             **fields) -> JourneySnapshot:
    tasks = tasks if tasks is not None else {"j-1-t1": "open"}
    return JourneySnapshot(state=state, tasks={i: TaskView(id=i, kind="assign_counsellor", status=s)
                                               for i, s in tasks.items()}, **fields)


def kinds(found) -> list[tuple[str, str | None]]:
    return sorted((d.kind, d.task_id) for d in found)


def test_the_same_journey_on_both_sides_is_no_difference():
    assert compare(record(), snapshot()) == []


def test_a_completion_only_the_records_hold_is_mendable():
    assert kinds(compare(record(tasks={"j-1-t1": "done"}), snapshot())) == [("task_closed_in_records_only", "j-1-t1")]


def test_a_task_the_journey_waits_on_that_the_records_lack_is_for_a_person():
    [found] = compare(record(tasks={}), snapshot())
    assert (found.kind, found.mendable) == ("task_missing", False)


def test_a_task_open_in_the_records_only_and_one_being_completed():
    both = compare(record(tasks={"j-1-t1": "open", "j-1-t2": "open"}),
                   snapshot(tasks={"j-1-t1": "completing", "j-1-t2": "done"}))
    assert kinds(both) == [("task_open_in_records_only", "j-1-t2")]  # a completion in flight is not a difference


def test_state_counsellor_deadline_and_veille():
    due, until = date(2027, 3, 31), date(2027, 2, 1)
    found = compare(record(state="accompaniment", tasks={}, counsellor_id="u-1", next_interview_due=date(2027, 1, 1)),
                    snapshot(JourneyState.accompaniment, tasks={}, counsellor_id="u-2", rhythm=RhythmState(due=due)))
    assert kinds(found) == [("counsellor", None), ("next_interview_due", None)]
    found = compare(record(state="accompaniment", tasks={}),
                    snapshot(JourneyState.veille, tasks={}, veille=VeilleState(since=date(2027, 1, 1), until=until)))
    assert kinds(found) == [("state", None), ("veille_until", None)]


def test_a_journey_waits_on_a_task_a_deadline_or_signatures():
    assert waits_on_something(snapshot())
    assert waits_on_something(snapshot(JourneyState.accompaniment, tasks={}))
    assert waits_on_something(snapshot(JourneyState.convention, tasks={}, convention=ConventionState(status="signing")))
    assert waits_on_something(snapshot(JourneyState.exited, tasks={}))
    assert not waits_on_something(snapshot(JourneyState.admitted, tasks={"j-1-t1": "done"}))
    [found] = compare(record(state="admitted", tasks={"j-1-t1": "done"}),
                      snapshot(JourneyState.admitted, tasks={"j-1-t1": "done"}))
    assert (found.kind, found.mendable) == ("waits_on_nothing", False)
