"""The FastAPI application: the API (eaflow.api) and the pages (eaflow.web) on one process, over the
same services (eaflow.services)."""
from __future__ import annotations

import gc
import logging
from contextlib import asynccontextmanager

from fastapi import FastAPI
from temporalio.client import Client

from eaflow.api import (
    avenants,
    body_limits,
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
    resources,
    rights,
    signing,
    tasks,
    users,
    veille,
    waiting_list,
)
from eaflow import security_headers
from eaflow.observability import configure_logging
from eaflow.services.temporal import TemporalHolder
from eaflow.web.app import install as install_pages
from eaflow.settings import Settings, load_settings

log = logging.getLogger("eaflow.api")


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
    app.state.temporal = TemporalHolder(settings, client)
    problems.install(app)
    security_headers.install(app, settings.public_url)
    body_limits.install(app)
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
    app.include_router(resources.router)
    app.include_router(users.router)
    install_pages(app)
    return app


def app_from_env() -> FastAPI:
    """uvicorn factory: `uvicorn eaflow.app:app_from_env --factory`."""
    configure_logging("api")
    app = create_app(load_settings())
    # What is loaded now lives as long as the process: full collections need not walk it again
    # (measured in bench/README §5: a 100-170 ms pause on some page views without it).
    gc.freeze()
    return app
