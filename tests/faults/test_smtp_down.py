"""The SMTP server down for a while (issue 3, "Faults survived").

With the server stopped, journeys are created: their mails fail and the activities retry with the
workflows' backoff (1 s, doubling). Brought back on the same port ~10 s later, every mail arrives,
none twice, and the outbox shows the attempts it took.
"""
from __future__ import annotations

import time

import pytest
from sqlmodel import select

from eaflow.store.db import session_scope
from eaflow.store.models import MailOutbox
from tests.faults.conftest import QUIET_POLICY, expected_first_task, intake, wait_until

pytestmark = pytest.mark.xdist_group("faults")

DOWN_FOR = 10.0
CHANNELS = ["france_travail", "cdaph", "france_travail", "cdaph"]
# Mails before the first task: see test_two_workers.expected_mail_count.
EXPECTED_MAILS = sum(7 if channel == "france_travail" else 5 for channel in CHANNELS)


def test_mails_wait_for_the_smtp_server_and_are_all_delivered_once(stack_factory):
    stack = stack_factory(QUIET_POLICY)
    smtp = stack.smtp
    stack.start_temporal()
    stack.start_worker()
    api = stack.start_api()

    smtp.stop()
    down_at = time.monotonic()
    journeys = [api.create_journey(intake(i, channel))["id"] for i, channel in enumerate(CHANNELS)]

    # While SMTP is down the journeys still take their steps; only the mails wait.
    for journey_id, channel in zip(journeys, CHANNELS):
        if channel == "france_travail":  # its task opens before its first mail
            api.wait_task(journey_id, expected_first_task(channel))

    def failing_attempts() -> int:
        with session_scope(stack.db_url) as session:
            return sum(row.attempts for row in session.exec(select(MailOutbox)).all())

    wait_until(lambda: failing_attempts() >= 3 * len(journeys), DOWN_FOR,
               "the mail activities to fail and retry while SMTP is down")
    time.sleep(max(0.0, DOWN_FOR - (time.monotonic() - down_at)))
    assert not smtp.messages
    with session_scope(stack.db_url) as session:
        assert {row.status for row in session.exec(select(MailOutbox)).all()} == {"pending"}

    smtp.start()  # same port
    back_at = time.monotonic()
    wait_until(lambda: len(smtp.messages) >= EXPECTED_MAILS, 45, f"{EXPECTED_MAILS} mails once SMTP is back")
    print(f"{EXPECTED_MAILS} mails delivered {time.monotonic() - back_at:.1f} s after SMTP came back")
    for journey_id, channel in zip(journeys, CHANNELS):
        api.wait_task(journey_id, expected_first_task(channel))
    time.sleep(1.5)  # a mail sent twice would arrive now
    assert len(smtp.messages) == EXPECTED_MAILS
    smtp.assert_each_once()

    with session_scope(stack.db_url) as session:
        rows = session.exec(select(MailOutbox)).all()
    assert len(rows) == EXPECTED_MAILS and {row.status for row in rows} == {"sent"}
    assert {row.message_id for row in rows} == set(smtp.message_ids())
    assert max(row.attempts for row in rows) >= 3, [row.attempts for row in rows]
