"""Engine and sessions, one per database URL.

SQLite (the embedded default): WAL, foreign keys on, and every transaction is BEGIN IMMEDIATE, so
writers are serialised and wait up to `busy_timeout_seconds` for the lock.
PostgreSQL (`postgresql+psycopg://…`, production): READ COMMITTED, with `pool_pre_ping` so a pool
survives a restart of the server; the code that must serialise writers takes row locks
(SELECT … FOR UPDATE, ignored by SQLite). `busy_timeout_seconds` bounds the connection attempt and
the wait for a row lock (lock_timeout): past it, the API answers 503 and an activity retries, as
with SQLite. Every session runs in UTC, and timestamps are `timestamptz`, stored in UTC.
"""
from __future__ import annotations

from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import Iterator

from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlmodel import Session, create_engine


# hide_parameters: a database error names the statement, never the values (which may be a
# person's name or health data) in logs and in Temporal's failure records (R22).
@lru_cache(maxsize=16)
def engine_for(url: str, busy_timeout_seconds: float = 30.0) -> Engine:
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, hide_parameters=True,
                               connect_args={"check_same_thread": False, "timeout": busy_timeout_seconds})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection, _record):
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_seconds * 1000)}")
            cursor.close()
            # Let SQLAlchemy emit BEGIN itself so that `BEGIN IMMEDIATE` can take the write lock.
            dbapi_connection.isolation_level = None

        @event.listens_for(engine, "begin")
        def _sqlite_begin(connection):
            connection.exec_driver_sql("BEGIN IMMEDIATE")

        return engine
    if url.startswith("postgresql"):
        timeout_ms = max(int(busy_timeout_seconds * 1000), 1)
        return create_engine(url, pool_pre_ping=True, hide_parameters=True, connect_args={
            "connect_timeout": max(int(busy_timeout_seconds), 1),
            "options": f"-c lock_timeout={timeout_ms} -c TimeZone=UTC",
        })
    return create_engine(url, pool_pre_ping=True, hide_parameters=True)


@contextmanager
def session_scope(url: str, busy_timeout_seconds: float = 30.0) -> Iterator[Session]:
    """A session in one transaction: committed on success, rolled back on any error."""
    with Session(engine_for(url, busy_timeout_seconds), expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise


MAX_INTEGER_KEY = 2**31 - 1  # an integer primary key (PostgreSQL's `integer`, SQLite's int64 is wider)


def get_by_number(session: Session, model, key: int):
    """`session.get` for an integer key taken from a request: a number no key can hold names no row
    (the database would raise on it: a 500 found by fuzzing)."""
    return session.get(model, key) if 0 < key <= MAX_INTEGER_KEY else None
