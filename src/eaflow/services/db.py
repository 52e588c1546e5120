"""Short transactions for the services: a database that does not answer is a 503 refusal."""
from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

from sqlalchemy.exc import OperationalError
from sqlmodel import Session

from eaflow.services.refusals import Refusal
from eaflow.settings import Settings
from eaflow.store.db import session_scope

DATABASE_DOWN = "La base de données ne répond pas ; réessayez dans un instant."


@contextmanager
def db_scope(settings: Settings) -> Iterator[Session]:
    """A short transaction (committed on success); a database that does not answer becomes a 503."""
    try:
        with session_scope(settings.db_url, settings.db_busy_timeout_seconds) as session:
            yield session
    except OperationalError as error:
        raise Refusal(503, DATABASE_DOWN) from error
