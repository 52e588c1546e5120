"""Several `eaflow worker` processes on one task queue share the work (issue 3, "The production stack")."""
from __future__ import annotations

import socket
from collections import Counter

import pytest
from temporalio.api.enums.v1 import EventType

from tests.faults.conftest import (MANAGER, QUIET_POLICY, expected_first_task, expected_open_tasks, intake,
                                   wait_until)

pytestmark = pytest.mark.xdist_group("faults")

JOURNEYS = 24
# The events that name the worker that did the work: workflow tasks and activity attempts.
WORK_EVENTS = {
    EventType.EVENT_TYPE_WORKFLOW_TASK_STARTED: "workflow",
    EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED: "activity",
}


def identity_of(event) -> str:
    if event.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_STARTED:
        return event.workflow_task_started_event_attributes.identity
    return event.activity_task_started_event_attributes.identity


def test_two_workers_on_one_task_queue_share_the_journeys(stack_factory):
    stack = stack_factory(QUIET_POLICY)
    stack.start_temporal()
    first, second = stack.start_worker(), stack.start_worker()
    api = stack.start_api()

    channels = ["france_travail" if i % 2 else "cdaph" for i in range(JOURNEYS)]
    journeys = [api.create_journey(intake(i, channel))["id"] for i, channel in enumerate(channels)]
    assert len(set(journeys)) == JOURNEYS

    # Every journey reaches the task its channel leads to, with its mails sent once.
    for journey_id, channel in zip(journeys, channels):
        api.wait_task(journey_id, expected_first_task(channel), timeout=45)
        wait_until(lambda: {t["kind"] for t in api.open_tasks(journey_id)} == expected_open_tasks(channel), 45,
                   "the tasks of the entry")

    # Who did the work: the SDK's default identity of a worker is "<pid>@<host>".
    host = socket.gethostname()
    identities = {first.pid: f"{first.pid}@{host}", second.pid: f"{second.pid}@{host}"}
    done: dict[str, Counter] = {name: Counter() for name in identities.values()}
    for events in stack.histories(journeys).values():
        for event in events:
            if event.event_type in WORK_EVENTS:
                who = identity_of(event)
                assert who in done, f"work done by an unknown worker {who!r} (workers: {list(done)})"
                done[who][WORK_EVENTS[event.event_type]] += 1
    for who, counts in done.items():
        assert counts["workflow"] > 0 and counts["activity"] > 0, f"worker {who} did nothing: {done}"
    print(f"work shared between the two workers: {dict((k, dict(v)) for k, v in done.items())}")

    # The mails of the entry steps went out once each (the two workers never both sent one).
    def mails_settled() -> bool:
        return len(stack.smtp.messages) >= expected_mail_count(channels)

    wait_until(mails_settled, 30, "the entry mails of every journey")
    stack.smtp.assert_each_once()
    assert first.running() and second.running()
    assert api.get(MANAGER, "/healthz")["status"] == "ok"


def expected_mail_count(channels: list[str]) -> int:
    """Mails each journey sends before its first task, to the platform mailbox and its one manager.

    cdaph: entry decision to the person (1) and the platform (2), "counsellor needed" (2) = 5.
    france_travail: the same, on the waiting list at once, and "CDAPH to inform" (mailbox + manager) = 7.
    """
    return sum(7 if channel == "france_travail" else 5 for channel in channels)
