"""The database unavailable for a moment (issue 3, "Faults survived"), on both backends.

SQLite: another connection holds the write lock (BEGIN EXCLUSIVE) for several seconds while the API
and the worker run with EAFLOW_DB_BUSY_TIMEOUT=1. PostgreSQL: the server itself is stopped
(tests/pg.py PostgresServer.stop(), a "fast" shutdown that drops every connection), then started
again on the same port and data.

Meanwhile every route that needs the database answers 503 application/problem+json (never a 500
or a stack trace), /healthz names the database as the check that failed, and the activities that
fall due (the CDAPH reminders, every 3 s) fail with the database error and are retried by Temporal.
Once the database is back, everything completes.
"""
from __future__ import annotations

import asyncio
import sqlite3
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from typing import Iterator

import httpx
import pytest
from sqlalchemy.exc import OperationalError
from sqlmodel import select

from eaflow.notifications.outbox import deliver, message_id_for
from eaflow.notifications.registry import SAMPLE_PARAMS
from eaflow.settings import Settings
from eaflow.store.db import engine_for, session_scope
from eaflow.store.migrate import upgrade
from eaflow.store.models import MailOutbox
from tests.faults.conftest import FAST_POLICY, MANAGER, PRESCRIBER, intake, run, wait_until
from tests.pg import PostgresServer

pytestmark = pytest.mark.xdist_group("faults")

JOURNEYS = 2
UNAVAILABLE_FOR = 8.0


class SqliteLock:
    """The records database locked by another writer."""

    backend = "sqlite"
    expected_failure = "OperationalError: (sqlite3.OperationalError) database is locked"

    def __init__(self) -> None:
        self.db_url: str | None = None  # the stack's own SQLite file
        self.connection: sqlite3.Connection | None = None

    def begin(self, stack) -> None:
        self.connection = sqlite3.connect(stack.db_path, timeout=10, isolation_level=None)
        self.connection.execute("BEGIN EXCLUSIVE")

    def end(self) -> None:
        if self.connection is not None:
            self.connection.execute("ROLLBACK")
            self.connection.close()
            self.connection = None


class PostgresDown:
    """The records database's server stopped, then started again (same port, same data)."""

    backend = "postgresql"
    # Refused connections ("connection failed"), or a query cut by the shutdown (AdminShutdown).
    expected_failure = "OperationalError: (psycopg."

    def __init__(self) -> None:
        # Its own server (a temp dir of tests/pg.py, readable by the unprivileged user it runs as
        # under root), so that stopping it disturbs no other test.
        self.server = PostgresServer().start()
        self.db_url = self.server.new_database()

    def begin(self, stack) -> None:
        self.server.stop(mode="fast")

    def end(self) -> None:
        self.server.start()


@pytest.fixture(params=["sqlite", "postgresql"])
def outage(request) -> Iterator[SqliteLock | PostgresDown]:
    if request.param == "sqlite":
        yield SqliteLock()
        return
    down = PostgresDown()
    try:
        yield down
    finally:
        down.server.close()


async def failure_chain(client, failure) -> str:
    """'type: message' of a Temporal failure and its causes, outermost first, decrypted as the
    workers read them (temporal_client.py: the server keeps failures encoded, R22).

    The server keeps at most ~4 KB of a retried activity's last failure: with a Python stack trace
    the outer message becomes "Failure exceeds size limit." and the original is kept as its cause.
    """
    error = await client.data_converter.decode_failure(failure)
    parts = []
    while error is not None:
        parts.append(f"{getattr(error, 'type', None) or 'server'}: {getattr(error, 'message', str(error))}")
        error = error.__cause__
    return " <- ".join(parts)


def assert_problem_503(response: httpx.Response) -> dict:
    assert response.status_code == 503, f"{response.request.method} {response.request.url.path}: " \
                                        f"{response.status_code} {response.text}"
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["status"] == 503 and problem["title"] and problem["detail"]
    assert "Traceback" not in response.text and "OperationalError" not in response.text
    return problem


def test_an_unavailable_database_is_503_then_everything_completes(outage, stack_factory):
    stack = stack_factory(FAST_POLICY, busy_timeout=1.0, db_url=outage.db_url)
    smtp = stack.smtp
    reminders = smtp.reminders
    stack.start_temporal()
    stack.start_worker()
    api = stack.start_api()

    journeys = [api.create_journey(intake(i))["id"] for i in range(JOURNEYS)]
    tasks = {j: api.wait_task(j, "notify_cdaph")["id"] for j in journeys}
    manager, prescriber = api.login(MANAGER), api.login(PRESCRIBER)  # signed in before the outage
    # The outage starts once the first mails are out, so that no mail is caught between its SMTP
    # send and its outbox update (the at-least-once window, notifications/outbox.py): a cut there
    # is retried and sends the mail again, which is expected and not what this test is about.
    wait_until(lambda: len(smtp.messages) >= 2 * JOURNEYS, 20, "the first mail of every journey")
    http = api.http

    outage.begin(stack)
    began_at = time.monotonic()
    try:
        reminders_at_outage = reminders()

        health = http.get("/healthz", timeout=15)
        problem = assert_problem_503(health)
        assert problem["checks"] == {"api": "ok", "database": "unavailable", "temporal": "ok"}, problem
        assert "database" in problem["detail"]

        # Every route of the API that reads or writes the records, all at once.
        journey_id, task_id = journeys[0], tasks[journeys[0]]
        today = date.today().isoformat()
        calls = [
            ("POST", "/api/v1/auth/token", {"data": {"username": MANAGER, "password": "x" * 12}}),
            ("GET", "/api/v1/me", {"headers": manager}),
            ("GET", "/api/v1/counsellors", {"headers": manager}),
            ("GET", "/api/v1/journeys", {"headers": manager}),
            ("POST", "/api/v1/journeys", {"headers": prescriber, "json": intake(99)}),
            ("GET", f"/api/v1/journeys/{journey_id}", {"headers": manager}),
            ("GET", f"/api/v1/journeys/{journey_id}/history", {"headers": manager}),
            ("PUT", f"/api/v1/journeys/{journey_id}/counsellor",
             {"headers": manager, "json": {"counsellor_id": stack.platform.counsellor, "reason": "absence"}}),
            ("GET", "/api/v1/tasks", {"headers": manager}),
            ("GET", "/api/v1/tasks/kinds", {"headers": manager}),
            ("GET", f"/api/v1/tasks/{task_id}", {"headers": manager}),
            ("POST", f"/api/v1/tasks/{task_id}/claim", {"headers": manager}),
            ("POST", f"/api/v1/tasks/{task_id}/unclaim", {"headers": manager}),
            ("POST", f"/api/v1/tasks/{task_id}/assign",
             {"headers": manager, "json": {"assignee_id": stack.platform.manager}}),
            ("POST", f"/api/v1/tasks/{task_id}/complete",
             {"headers": manager, "json": {"outcome": {"informed_on": today, "how": "mail"}}}),
            ("GET", "/api/v1/waiting-list", {"headers": manager}),
        ]
        with ThreadPoolExecutor(len(calls)) as pool:
            answers = list(pool.map(lambda call: http.request(call[0], call[1], timeout=30, **call[2]), calls))
        for answer in answers:
            assert_problem_503(answer)
        # /metrics (monitoring) must not turn an unavailable database into a 500 either.
        metrics = http.get("/metrics", timeout=30)
        assert metrics.status_code in (200, 404, 503), f"/metrics: {metrics.status_code} {metrics.text[:2000]}"

        # The reminders falling due meanwhile fail on the database and are retried by Temporal.
        async def failing_mail_attempts() -> list[tuple[int, str]]:
            client = await stack.temporal_client()
            found = []
            for journey_id in journeys:
                description = await client.get_workflow_handle(journey_id).describe()
                for pending in description.raw_description.pending_activities:
                    if pending.activity_type.name == "send_notification" and pending.attempt >= 2:
                        found.append((pending.attempt, await failure_chain(client, pending.last_failure)))
            return found

        seen: list[tuple[int, str]] = []

        def retried_on_the_outage() -> bool:
            seen[:] = run(failing_mail_attempts())
            return any(outage.expected_failure in chain for _, chain in seen)

        try:
            wait_until(retried_on_the_outage, UNAVAILABLE_FOR + 2, "a mail activity failing on the database")
        except AssertionError as error:
            raise AssertionError(f"{error}; retried mail activities: {seen}") from None
        time.sleep(max(0.0, UNAVAILABLE_FOR - (time.monotonic() - began_at)))
    finally:
        outage.end()
    back_at = time.monotonic()

    wait_until(lambda: http.get("/healthz", timeout=15).status_code == 200, 15, "/healthz to answer 200 again")
    # The reminders held by the outage go out, then the journeys take their completions.
    wait_until(lambda: all(reminders().get(t, 0) > reminders_at_outage.get(t, 0) for t in tasks.values()),
               30, "the reminders held by the outage")
    print(f"{outage.backend}: held reminders delivered {time.monotonic() - back_at:.1f} s after the database came back")
    for journey_id, task_id in tasks.items():
        response = http.post(f"/api/v1/tasks/{task_id}/complete", headers=manager,
                             json={"outcome": {"informed_on": date.today().isoformat(), "how": "mail"}})
        assert response.status_code == 200, response.text
        api.wait_task(journey_id, "assign_counsellor")
    created = http.post("/api/v1/journeys", headers=prescriber, json=intake(99))
    assert created.status_code == 201, created.text
    smtp.assert_each_once()
    assert "Traceback" not in stack.api.text(), stack.api.text()[-3000:]


def test_the_outbox_waits_for_a_locked_sqlite_database_no_longer_than_the_busy_timeout(tmp_path, smtp):
    """EAFLOW_DB_BUSY_TIMEOUT holds for the outbox too: a mail activity fails and is retried, it
    does not sit on the lock for session_scope's 30 s default (the claim happens before the send,
    so giving up there never sends a mail twice)."""
    url = f"sqlite:///{tmp_path / 'eaflow.db'}"
    upgrade(url)
    settings = Settings(data_dir=tmp_path, database_url=url, smtp_host=smtp.host, smtp_port=smtp.port,
                        db_busy_timeout_seconds=1.0)
    key, params = "j-outbox/admission", SAMPLE_PARAMS["admission_counsellor"]

    def send() -> str:
        return asyncio.run(deliver(settings, key=key, kind="admission_counsellor", to="c1@test.fr", params=params))

    lock = sqlite3.connect(tmp_path / "eaflow.db", timeout=10, isolation_level=None)
    lock.execute("BEGIN EXCLUSIVE")
    try:
        started = time.monotonic()
        with pytest.raises(OperationalError, match="database is locked"):
            send()
        waited = time.monotonic() - started
    finally:
        lock.execute("ROLLBACK")
        lock.close()
    assert waited < 5, f"the outbox waited {waited:.1f} s for the lock (busy timeout: 1 s)"
    assert not smtp.messages

    assert send() == message_id_for(key)
    smtp.wait_for_sync(1)
    with session_scope(url) as session:
        row = session.exec(select(MailOutbox).where(MailOutbox.idempotency_key == key)).one()
    assert (row.status, row.attempts) == ("sent", 1)
    engine_for(url).dispose()
