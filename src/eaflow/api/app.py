"""The FastAPI application."""
from __future__ import annotations

import asyncio
import logging
from contextlib import asynccontextmanager

from fastapi import FastAPI
from temporalio.client import Client

from eaflow.api import (
    avenants,
    contacts,
    convention,
    employment,
    exits,
    journeys,
    misc,
    monitoring,
    paper_signatures,
    problems,
    reports,
    rights,
    signing,
    tasks,
    veille,
    waiting_list,
)
from eaflow.observability import configure_logging
from eaflow.settings import Settings, load_settings
from eaflow.temporal_client import connect

log = logging.getLogger("eaflow.api")


class TemporalHolder:
    """Connects lazily and again after a failure, so the API starts (and says 503) without Temporal."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.client: Client | None = None
        self._lock = asyncio.Lock()

    async def get(self) -> Client | None:
        if self.client is not None:
            return self.client
        async with self._lock:
            if self.client is None:
                try:
                    self.client = await asyncio.wait_for(connect(self.settings), timeout=5)
                except Exception as error:  # noqa: BLE001 - reported as 503 by the callers
                    log.warning("temporal unavailable at %s: %s", self.settings.temporal_address, error)
        return self.client


def create_app(settings: Settings | None = None, client: Client | None = None) -> FastAPI:
    settings = settings or load_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        await app.state.temporal.get()
        yield

    app = FastAPI(
        title="eaflow",
        description="Plateforme départementale d'emploi accompagné : parcours, tâches, courriels.",
        version="0.1.0",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.temporal = TemporalHolder(settings)
    app.state.temporal.client = client
    problems.install(app)
    monitoring.install(app)
    app.include_router(misc.router)
    app.include_router(journeys.router)
    app.include_router(convention.router)
    app.include_router(avenants.router)
    app.include_router(paper_signatures.router)
    app.include_router(signing.router)
    app.include_router(tasks.router)
    app.include_router(waiting_list.router)
    app.include_router(employment.router)
    app.include_router(contacts.router)
    app.include_router(veille.router)
    app.include_router(exits.router)
    app.include_router(rights.router)
    app.include_router(reports.router)
    return app


def app_from_env() -> FastAPI:
    """uvicorn factory: `uvicorn eaflow.api.app:app_from_env --factory`."""
    configure_logging("api")
    return create_app(load_settings())
