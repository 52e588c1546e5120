"""Alembic environment of eaflow: the target is `SQLModel.metadata` with every table of
`eaflow.store.models`.

Run through `eaflow.store.migrate` (no alembic.ini needed): the database URL comes from
`config.attributes["url"]` (or the `sqlalchemy.url` option when Alembic's own CLI is used with
src/eaflow/store/alembic.ini).

SQLite: migrations run with `render_as_batch=True` (SQLite cannot ALTER most things; Alembic's batch
mode rebuilds the table), with foreign keys switched off while tables are rebuilt, and inside one
real transaction (`BEGIN IMMEDIATE`), so a failing migration leaves the file as it was.
PostgreSQL: plain transactional DDL; the batch blocks become ordinary ALTER TABLE statements.
"""
from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine, event, pool
from sqlmodel import SQLModel
from sqlmodel.sql.sqltypes import AutoString, UTCDateTime

import eaflow.store.models  # noqa: F401  (registers every table on SQLModel.metadata)

config = context.config
if config.config_file_name and not config.attributes.get("url"):
    from logging.config import fileConfig

    fileConfig(config.config_file_name, disable_existing_loggers=False)
target_metadata = SQLModel.metadata


def _url() -> str:
    url = (
        config.attributes.get("url")
        or context.get_x_argument(as_dictionary=True).get("url")
        or config.get_main_option("sqlalchemy.url")
    )
    if not url:
        raise RuntimeError("no database URL given to the migrations (config.attributes['url'])")
    return url


def render_item(type_, obj, autogen_context):
    """Render SQLModel's own column types as plain SQLAlchemy ones, so that migrations never
    import sqlmodel (whose private types may move between versions)."""
    if type_ == "type" and isinstance(obj, AutoString):
        length = getattr(obj.impl, "length", None)
        return f"sa.String(length={length})" if length else "sa.String()"
    if type_ == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    return False


def _configure_kwargs() -> dict:
    return dict(
        target_metadata=target_metadata,
        render_as_batch=True,
        compare_type=True,
        render_item=render_item,
    )


def _engine(url: str):
    if not url.startswith("sqlite"):
        return create_engine(url, poolclass=pool.NullPool)
    engine = create_engine(url, poolclass=pool.NullPool, connect_args={"timeout": 30})

    @event.listens_for(engine, "connect")
    def _sqlite_pragmas(dbapi_connection, _record):
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        # Batch mode drops and re-creates tables: foreign keys must not cascade or refuse meanwhile.
        cursor.execute("PRAGMA foreign_keys=OFF")
        cursor.close()
        # Let SQLAlchemy emit BEGIN itself, so that DDL is transactional on SQLite too.
        dbapi_connection.isolation_level = None

    @event.listens_for(engine, "begin")
    def _sqlite_begin(connection):
        connection.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


def run_migrations_offline() -> None:
    """`alembic upgrade head --sql`: print the SQL instead of running it."""
    context.configure(url=_url(), literal_binds=True, dialect_opts={"paramstyle": "named"}, **_configure_kwargs())
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        context.configure(connection=connection, **_configure_kwargs())
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = _engine(_url())
    try:
        with engine.connect() as connection:
            context.configure(connection=connection, **_configure_kwargs())
            with context.begin_transaction():
                context.run_migrations()
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
