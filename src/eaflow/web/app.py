"""The pages, mounted on the FastAPI app beside the API: routers, static files, and French HTML for
the errors of addresses that are not the API's."""
from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.staticfiles import StaticFiles

from eaflow.services.refusals import Refusal
from eaflow.web import (actions, admin, inbox, indicators, journey, managers, paper, password_links, persons,
                        preferences, prescriptions, resources, second_factor, signin, tasks)
from eaflow.web.routing import error_page

STATIC_DIR = Path(__file__).parent / "static"
NOT_PAGES = ("/api/", "/signature/", "/healthz", "/metrics", "/dev/", "/docs", "/redoc", "/openapi.json", "/static/")


def wants_page(request: Request) -> bool:
    """A browser asking for a page (not a client of the API)."""
    return not request.url.path.startswith(NOT_PAGES) and "text/html" in request.headers.get("accept", "")


def page_for_error(request: Request, refusal: Refusal):
    return error_page(request, refusal) if wants_page(request) else None


def install(app: FastAPI) -> None:
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    for module in (signin, inbox, tasks, persons, journey, actions, paper, managers, prescriptions, indicators,
                   admin, preferences, password_links, resources, second_factor):
        app.include_router(module.router)
    app.state.page_for_error = page_for_error
