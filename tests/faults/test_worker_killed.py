"""A worker killed with SIGKILL in the middle of an activity (issue 3, "Faults survived").

The SMTP server holds every DATA command, so that each journey's first mail (the platform is told
a CDAPH must be informed, R2) is in flight in a `send_notification` activity when the only worker
gets SIGKILL. aiosmtpd then sees the connection drop before it accepted the message, as a real MTA
would. A second worker takes over: every mail arrives once, no task is lost or doubled, and the
journeys go on to their next step.
"""
from __future__ import annotations

import signal
import socket
import time
from collections import Counter
from datetime import date

import pytest
from sqlmodel import select
from temporalio.api.enums.v1 import EventType

from eaflow.store.db import session_scope
from eaflow.store.models import MailOutbox, Task
from tests.faults.conftest import MANAGER, QUIET_POLICY, intake, wait_until

pytestmark = pytest.mark.xdist_group("faults")

JOURNEYS = 3
RECIPIENTS = 2  # the platform mailbox and its one manager
# A worker that dies mid-mail must be noticed well before the mail's start-to-close timeout.
TAKEOVER_WITHIN = 30.0


def test_a_worker_killed_mid_mail_is_replaced_and_nothing_is_lost_or_sent_twice(stack_factory):
    stack = stack_factory(QUIET_POLICY)
    smtp = stack.smtp
    stack.start_temporal()
    doomed = stack.start_worker()
    api = stack.start_api()

    smtp.stall.set()
    journeys = [api.create_journey(intake(i))["id"] for i in range(JOURNEYS)]
    wait_until(lambda: smtp.data_started >= JOURNEYS, 30, "every journey's first mail to be in DATA")
    assert not smtp.messages

    doomed.signal(signal.SIGKILL)
    doomed.process.wait(timeout=10)
    killed_at = time.monotonic()
    wait_until(lambda: smtp.data_abandoned >= JOURNEYS, 10, "the SMTP server to see the connections drop")
    smtp.stall.clear()
    assert not smtp.messages, "a mail was accepted although its sender died before the end of DATA"

    rescuer = stack.start_worker()
    wait_until(lambda: len(smtp.messages) >= JOURNEYS * RECIPIENTS, 75,
               "the interrupted mails to be sent by the second worker")
    takeover = time.monotonic() - killed_at
    print(f"mails in flight delivered {takeover:.1f} s after the SIGKILL")
    assert takeover < TAKEOVER_WITHIN, f"the killed worker's activities were retried only after {takeover:.0f} s"

    # The journeys go on: the task opened before the kill is there, once, and completing it works.
    today = date.today().isoformat()
    for number, journey_id in enumerate(journeys):
        task = api.wait_task(journey_id, "notify_cdaph")
        response = api.request("POST", f"/api/v1/tasks/{task['id']}/complete", MANAGER,
                               json={"outcome": {"informed_on": today, "how": "portail", "reference": f"K-{number}"}})
        assert response.status_code == 200, response.text
        api.wait_task(journey_id, "assign_counsellor")
    # Entry decision (person 1 + platform 2) and "counsellor needed" (platform 2), per journey.
    wait_until(lambda: len(smtp.messages) >= JOURNEYS * (RECIPIENTS + 5), 30, "the mails of the next steps")
    time.sleep(1)  # anything sent twice would arrive now
    smtp.assert_each_once()

    with session_scope(stack.db_url) as session:
        tasks = session.exec(select(Task).where(Task.journey_id.in_(journeys))).all()
        outbox = session.exec(select(MailOutbox).where(MailOutbox.journey_id.in_(journeys))).all()
    assert Counter((t.journey_id, t.kind, t.status) for t in tasks) == Counter(
        {(j, kind, status): 1 for j in journeys for kind, status in
         (("notify_cdaph", "done"), ("assign_counsellor", "open"))})
    assert {row.status for row in outbox} == {"sent"}
    assert len(outbox) == len(smtp.messages)
    interrupted = [row for row in outbox if row.kind == "cdaph_notification_needed"]
    assert len(interrupted) == JOURNEYS * RECIPIENTS
    # Each journey's first recipient was claimed by the killed attempt, then by the retry; the
    # second recipient only by the retry.
    attempts = Counter(min(row.attempts, 2) for row in interrupted)
    assert attempts == {1: JOURNEYS, 2: JOURNEYS}, [(row.idempotency_key, row.attempts) for row in interrupted]

    # Temporal's own record: the interrupted activity was finished by the second worker, on attempt 2.
    rescuer_identity = f"{rescuer.pid}@{socket.gethostname()}"
    for journey_id, events in stack.histories(journeys).items():
        scheduled = {e.event_id: e.activity_task_scheduled_event_attributes.activity_type.name
                     for e in events if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED}
        mails = [e.activity_task_started_event_attributes for e in events
                 if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED
                 and scheduled[e.activity_task_started_event_attributes.scheduled_event_id] == "send_notification"]
        first_mail = mails[0]
        assert first_mail.attempt >= 2 and first_mail.identity == rescuer_identity, (journey_id, first_mail)
