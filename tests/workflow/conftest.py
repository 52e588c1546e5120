"""Workflow tests run on the time-skipping server with SQLite only: PostgreSQL is covered by the
store, API and end-to-end tests, which run the same activities on both backends."""
from __future__ import annotations

import pytest


@pytest.fixture
def db_backend() -> str:
    return "sqlite"
