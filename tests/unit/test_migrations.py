"""Alembic migrations: they build the schema of the models, exactly, on a real SQLite file and on a
real PostgreSQL database (tests/pg.py), the same migrations for both.

`test_migrations_match_the_models` fails when models.py changes without its migration: run
`eaflow db revision -m "..."` (see eaflow/store/migrate.py).
"""
from __future__ import annotations

import shutil

import pytest
import sqlalchemy as sa
from sqlmodel import SQLModel

from eaflow.store import migrate


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request, tmp_path):
    """An empty database, never migrated."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'eaflow.db'}"
        return
    server = request.getfixturevalue("postgres_server")
    url = server.new_database(migrated=False)
    yield url
    server.drop_database(url)


def test_upgrade_creates_every_table_and_is_idempotent(url):
    assert migrate.current(url) is None
    migrate.upgrade(url)
    assert migrate.current(url) == migrate.head()
    migrate.upgrade(url)
    assert migrate.current(url) == migrate.head()
    engine = sa.create_engine(url)
    try:
        tables = set(sa.inspect(engine).get_table_names())
    finally:
        engine.dispose()
    assert set(SQLModel.metadata.tables) <= tables
    assert "alembic_version" in tables


def test_migrations_match_the_models(url):
    migrate.upgrade(url)
    assert migrate.pending_changes(url) == []


def test_downgrade_to_base_and_up_again(url):
    migrate.upgrade(url)
    migrate.downgrade(url, "base")
    assert migrate.current(url) is None
    migrate.upgrade(url)
    assert migrate.current(url) == migrate.head()


def test_migrations_never_import_sqlmodel():
    """Migrations outlive the models: they use plain SQLAlchemy types only."""
    for path in migrate.VERSIONS_DIR.glob("*.py"):
        assert "sqlmodel" not in path.read_text(), path.name


def test_revision_refuses_an_empty_change_and_writes_the_next_number(tmp_path, monkeypatch):
    copy = tmp_path / "migrations"
    shutil.copytree(migrate.MIGRATIONS_DIR, copy, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(migrate, "MIGRATIONS_DIR", copy)
    monkeypatch.setattr(migrate, "VERSIONS_DIR", copy / "versions")

    with pytest.raises(ValueError, match="nothing to generate"):
        migrate.revision("nothing changed")

    before = migrate.head()
    probe = sa.Table("zz_probe", SQLModel.metadata, sa.Column("id", sa.Integer, primary_key=True),
                     sa.Column("label", sa.String(), nullable=False))
    try:
        path = migrate.revision("add the probe table")
    finally:
        SQLModel.metadata.remove(probe)
    assert path.parent == copy / "versions"
    assert path.name == f"{int(before) + 1:04d}_add_the_probe_table.py"
    assert migrate.head() == f"{int(before) + 1:04d}"
    text = path.read_text()
    assert "op.create_table('zz_probe'" in text
    assert f"down_revision: Union[str, Sequence[str], None] = {before!r}" in text


def test_0002_fills_task_completion_from_the_tasks_already_closed(url):
    migrate.upgrade(url, "0001")
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    at = "2026-11-02 09:00:00+00:00"
    try:
        with engine.begin() as connection:
            connection.execute(sa.text(
                "INSERT INTO platform (id, department, name, operator, mailbox, created_at) "
                "VALUES ('pf-35', '35', 'P', '', '', :at)"), {"at": at})
            connection.execute(sa.text(
                "INSERT INTO journey (id, platform_id, state, channel, urgent, situation, prescribed_on, "
                "rqth_permanent, created_at, updated_at) "
                "VALUES ('j-1', 'pf-35', 'admitted', 'cdaph', false, 'seeking', '2026-11-02', false, :at, :at)"),
                {"at": at})
            for task_id, status, done_at in (("t-open", "open", None), ("t-done", "done", at),
                                              ("t-cancelled", "cancelled", None)):
                connection.execute(sa.text(
                    "INSERT INTO task (id, journey_id, platform_id, kind, title, status, created_at, "
                    "completed_by, completed_at, reminders_sent) "
                    "VALUES (:id, 'j-1', 'pf-35', 'k', 'T', :status, :at, :by, :done_at, 0)"),
                    {"id": task_id, "status": status, "at": at, "by": "u-1" if done_at else None, "done_at": done_at})
        migrate.upgrade(url)
        with engine.connect() as connection:
            rows = connection.execute(sa.text(
                "SELECT task_id, status, completed_by FROM task_completion ORDER BY task_id")).all()
    finally:
        engine.dispose()
    assert [tuple(r) for r in rows] == [("t-cancelled", "cancelled", None), ("t-done", "done", "u-1")]


def test_0011_gives_each_platform_its_chef_de_file_and_its_staff_an_operator(url):
    migrate.upgrade(url, "0010")
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    at = "2026-11-02 09:00:00+00:00"
    try:
        with engine.begin() as connection:
            for pid, dept, operator in (("pf-35", "35", "Association Emploi 35"), ("pf-2a", "2A", "")):
                connection.execute(sa.text(
                    "INSERT INTO platform (id, department, name, operator, mailbox, created_at) "
                    "VALUES (:id, :dept, :name, :operator, '', :at)"),
                    {"id": pid, "dept": dept, "name": f"Plateforme {dept}", "operator": operator, "at": at})
            for uid, role, pid in (("u-c", "counsellor", "pf-35"), ("u-m", "manager", "pf-2a"),
                                   ("u-p", "prescriber", "pf-35")):
                connection.execute(sa.text(
                    'INSERT INTO "user" (id, email, display_name, role, platform_id, fte, password_hash, active, '
                    "created_at) VALUES (:id, :email, '', :role, :pid, 0.5, 'x', true, :at)"),
                    {"id": uid, "email": f"{uid}@x.fr", "role": role, "pid": pid, "at": at})
                connection.execute(sa.text(
                    "INSERT INTO staffing_period (user_id, since, role, fte, active) "
                    "VALUES (:id, :at, :role, 0.5, true)"), {"id": uid, "role": role, "at": at})
        migrate.upgrade(url)
        with engine.connect() as connection:
            operators = connection.execute(sa.text(
                "SELECT id, platform_id, name, is_lead FROM operator ORDER BY id")).all()
            users = connection.execute(sa.text('SELECT id, operator_id FROM "user" ORDER BY id')).all()
            periods = connection.execute(sa.text(
                "SELECT user_id, operator_id FROM staffing_period ORDER BY user_id")).all()
    finally:
        engine.dispose()
    assert [tuple(r) for r in operators] == [("op-2a", "pf-2a", "Plateforme 2A", True),
                                             ("op-35", "pf-35", "Association Emploi 35", True)]
    # Counsellors and managers join their platform's chef de file; a prescriber works for no operator.
    assert [tuple(r) for r in users] == [("u-c", "op-35"), ("u-m", "op-2a"), ("u-p", None)]
    assert [tuple(r) for r in periods] == [("u-c", "op-35"), ("u-m", "op-2a"), ("u-p", None)]


def test_r20_migration_0013_holds_the_profile_lists_as_eaflow_profile_has_them():
    """The migration copies the closed lists (migrations outlive the code): the copy must match."""
    import importlib.util

    from eaflow import profile

    path = next(migrate.VERSIONS_DIR.glob("0013_*.py"))
    spec = importlib.util.spec_from_file_location("migration_0013", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.DISABILITY_NATURES == tuple(profile.DISABILITY_NATURES)
    assert module.EDUCATION_LEVELS == tuple(profile.EDUCATION_LEVELS)
    assert module.STATUSES_AT_ENTRY == tuple(profile.STATUSES_AT_ENTRY)
    assert module.NAF_SECTIONS == tuple(profile.NAF_SECTIONS)
    assert module.SIZE_BANDS == tuple(profile.SIZE_BANDS)
