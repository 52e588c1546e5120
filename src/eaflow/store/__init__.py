"""The one place the database lives: SQLModel tables, engine and sessions, Alembic migrations."""
