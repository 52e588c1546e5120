"""The PostgreSQL side of the store: the test server itself (tests/pg.py), and what eaflow's engine
does when that server goes away and comes back, or when a row lock is held too long."""
from __future__ import annotations

import threading
import time

import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError
from sqlmodel import select

from eaflow.store.db import engine_for, session_scope
from eaflow.store.migrate import current, head
from eaflow.store.models import Platform
from tests.pg import PostgresServer


@pytest.fixture
def own_server(tmp_path):
    """A server of this test's own: it is stopped and started, which the shared one must not be."""
    server = PostgresServer().start()
    yield server
    server.close()


def test_the_server_stops_and_starts_again_on_its_port_with_its_data(own_server):
    url = own_server.new_database()
    assert url.startswith("postgresql+psycopg://") and current(url) == head()
    with session_scope(url) as session:
        session.add(Platform(id="pf-35", department="35", name="Plateforme 35"))
    port = own_server.port

    own_server.stop()
    assert not own_server.running
    with pytest.raises(OperationalError):  # what the API turns into a 503, and activities retry
        with session_scope(url) as session:
            session.exec(text("SELECT 1"))

    own_server.start()
    assert own_server.port == port
    # The engine's pool held connections to the old server process: pre-ping replaces them.
    with session_scope(url) as session:
        assert session.exec(select(Platform.name)).all() == ["Plateforme 35"]
    engine_for(url).dispose()


def test_a_crash_stop_recovers_committed_data(own_server):
    url = own_server.new_database(migrated=False)
    with session_scope(url) as session:
        session.exec(text("CREATE TABLE probe (n integer)"))
        session.exec(text("INSERT INTO probe VALUES (1), (2)"))
    engine_for(url).dispose()
    own_server.stop(mode="immediate")
    own_server.start()
    with session_scope(url) as session:
        assert session.exec(text("SELECT count(*) FROM probe")).one()[0] == 2
    engine_for(url).dispose()


def test_a_row_lock_held_past_the_busy_timeout_is_an_operational_error(postgres_server):
    """EAFLOW_DB_BUSY_TIMEOUT bounds a wait for a row lock on PostgreSQL as it does on SQLite."""
    url = postgres_server.new_database()
    try:
        with session_scope(url) as session:
            session.add(Platform(id="pf-35", department="35", name="Plateforme 35"))
        locked, release = threading.Event(), threading.Event()

        def holder() -> None:
            with session_scope(url) as session:
                session.exec(select(Platform).where(Platform.id == "pf-35").with_for_update()).one()
                locked.set()
                release.wait(30)

        thread = threading.Thread(target=holder)
        thread.start()
        try:
            assert locked.wait(30)
            started = time.monotonic()
            with pytest.raises(OperationalError, match="lock timeout"):
                with session_scope(url, busy_timeout_seconds=0.5) as session:
                    session.exec(select(Platform).where(Platform.id == "pf-35").with_for_update()).one()
            assert 0.4 < time.monotonic() - started < 10
        finally:
            release.set()
            thread.join(30)
    finally:
        engine_for(url).dispose()
        engine_for(url, 0.5).dispose()
        postgres_server.drop_database(url)


def test_r22_database_errors_never_carry_values(settings):
    """A failed statement's message names the SQL, not the values (a name, health data)."""
    import pytest
    from sqlalchemy.exc import IntegrityError

    from eaflow.store.db import session_scope
    from eaflow.store.models import Platform

    with pytest.raises(IntegrityError) as failed:
        with session_scope(settings.db_url) as session:
            session.add(Platform(id="pf-x", department="35", name="Nom Très Personnel"))
            session.add(Platform(id="pf-x", department="36", name="Nom Très Personnel"))
    assert "Nom Très Personnel" not in str(failed.value)
