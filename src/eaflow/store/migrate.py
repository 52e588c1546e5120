"""Database migrations (Alembic), run programmatically: no alembic.ini is needed at runtime.

    from eaflow.store.migrate import upgrade
    upgrade(settings.db_url)          # what `eaflow db upgrade` and `eaflow up` do

How to add a migration when `eaflow/store/models.py` changes
-------------------------------------------------------------
1. Change the SQLModel tables in `models.py`.
2. Run `eaflow db revision -m "add the foo column to journey"`. It builds a throw-away SQLite
   database upgraded to the current head, compares it with `SQLModel.metadata` (Alembic
   autogenerate) and writes `migrations/versions/NNNN_<slug>.py` with the next number.
   It refuses to write an empty revision unless `--empty` is given (for data migrations).
3. Read the generated file. Autogenerate does not see everything (renames look like drop + add,
   server defaults, data moves): edit it. It must run on SQLite *and* PostgreSQL: keep table
   changes inside `op.batch_alter_table(...)`, give new constraints explicit names, and give a
   new NOT NULL column a `server_default` so existing rows can take it.
4. `tests/unit/test_migrations.py` checks, on a SQLite file and on the test session's real
   PostgreSQL server (tests/pg.py), that a database upgraded to head matches the models exactly
   and goes down to base and up again, so a model change without its migration, or a migration
   that only one backend accepts, fails the test suite. A constraint that only some rows must obey
   is a partial index with the same condition for both (`sqlite_where=` and `postgresql_where=`,
   as in 0002).

Alembic's own CLI works too, from src/eaflow/store: `alembic -c alembic.ini -x url=sqlite:///x.db
upgrade head`.
"""
from __future__ import annotations

import re
import tempfile
from pathlib import Path

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, pool
from sqlalchemy.engine import make_url

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
VERSIONS_DIR = MIGRATIONS_DIR / "versions"


def alembic_config(url: str) -> Config:
    """An Alembic Config pointing at the package's migrations, for the database at `url`."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    # ConfigParser interpolation: a literal % must be doubled (URL-encoded passwords).
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    config.set_main_option("file_template", "%%(rev)s_%%(slug)s")
    config.set_main_option("truncate_slug_length", "40")
    config.attributes["url"] = url
    return config


def _ensure_sqlite_dir(url: str) -> None:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database and parsed.database != ":memory:":
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)


def upgrade(url: str, revision: str = "head") -> None:
    """Bring the database at `url` to `revision` (default: the latest). Safe to run again."""
    _ensure_sqlite_dir(url)
    command.upgrade(alembic_config(url), revision)


def downgrade(url: str, revision: str) -> None:
    command.downgrade(alembic_config(url), revision)


def current(url: str) -> str | None:
    """The revision the database at `url` is at, or None if it was never migrated."""
    engine = create_engine(url, poolclass=pool.NullPool)
    try:
        with engine.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()
    finally:
        engine.dispose()


def head() -> str:
    """The latest revision of the migrations shipped with this version of eaflow."""
    heads = ScriptDirectory.from_config(alembic_config("sqlite://")).get_heads()
    if len(heads) != 1:
        raise RuntimeError(f"the migrations have {len(heads)} heads ({', '.join(heads)}); merge them")
    return heads[0]


def pending_changes(url: str) -> list:
    """What differs between the database at `url` and the SQLModel tables (empty when in sync)."""
    from sqlmodel import SQLModel

    import eaflow.store.models  # noqa: F401

    engine = create_engine(url, poolclass=pool.NullPool)
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            return compare_metadata(context, SQLModel.metadata)
    finally:
        engine.dispose()


def _next_rev_id() -> str:
    numbers = [int(m.group(1)) for p in VERSIONS_DIR.glob("*.py") if (m := re.match(r"^(\d{4})_", p.name))]
    return f"{max(numbers, default=0) + 1:04d}"


def revision(message: str, allow_empty: bool = False) -> Path:
    """Autogenerate the next migration from the models (see the module docstring).

    Compares the models with a temporary SQLite database upgraded to head, so the result does not
    depend on any real database. Returns the path of the new file.
    """
    if not message.strip():
        raise ValueError("a revision needs a message (-m)")
    with tempfile.TemporaryDirectory(prefix="eaflow-revision-") as tmp:
        url = f"sqlite:///{Path(tmp) / 'head.db'}"
        upgrade(url)
        if not allow_empty and not pending_changes(url):
            raise ValueError(
                "the models match the latest migration: nothing to generate "
                "(use --empty for a hand-written data migration)"
            )
        script = command.revision(
            alembic_config(url), message=message, autogenerate=True, rev_id=_next_rev_id()
        )
    scripts = script if isinstance(script, list) else [script]
    return Path(scripts[0].path)
