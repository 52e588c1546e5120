"""RFC 9457 problem+json for every error: the field that failed and, for a domain rule, its id."""
from __future__ import annotations

from typing import Iterable

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException as StarletteHTTPException

from eaflow.services.refusals import TITLES as REFUSAL_TITLES
from eaflow.services.refusals import Refusal
from eaflow.workflows.field_errors import french_message

PROBLEM = "application/problem+json"
# The API's name for the services' refusal: raised as is by the routers, answered as problem+json.
Problem = Refusal
TITLES = REFUSAL_TITLES


def problem_response(problem: Problem) -> JSONResponse:
    return JSONResponse(problem.body(), status_code=problem.status, media_type=PROBLEM, headers=problem.headers)


def _field(loc: tuple) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header")]
    return ".".join(parts) or "body"


def install(app: FastAPI) -> None:
    @app.exception_handler(Problem)
    async def _problem(_: Request, exc: Problem):
        return problem_response(exc)

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError):
        errors = [{"field": _field(tuple(e.get("loc", ()))), "message": french_message(e)} for e in exc.errors()]
        return problem_response(Problem(422, "La requête contient des champs invalides.", errors=errors))

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException):
        detail = exc.detail if isinstance(exc.detail, str) else TITLES.get(exc.status_code, "Erreur")
        if exc.status_code == 404 and detail == "Not Found":
            detail = "Cette ressource n'existe pas."
        if exc.status_code == 405:
            detail = "Cette méthode n'est pas acceptée sur cette adresse."
        problem = Problem(exc.status_code, detail, headers=getattr(exc, "headers", None))
        page = getattr(request.app.state, "page_for_error", None)  # a browser lost outside the API: a page
        return (page and page(request, problem)) or problem_response(problem)


def tagged_union_route(tag: str, members: Iterable[str], model_error_field: str | None = None) -> type[APIRoute]:
    """A route class for bodies that are a union discriminated on `tag` (`action`, `event`…): its
    validation errors name the fields as the client wrote them (`employer.name`, not
    `open.employer.name`); a missing or unknown tag is reported on `tag`, and an error of a member's
    own model check on `model_error_field` (the body itself when None)."""
    members = frozenset(members)

    def untagged(error: dict) -> dict:
        loc = tuple(error.get("loc", ()))
        if loc[:1] == ("body",) and str(error.get("type", "")).startswith("union_tag"):
            loc = ("body", tag)
        elif loc[:1] == ("body",) and len(loc) > 1 and loc[1] in members:
            loc = ("body",) + (loc[2:] or ((model_error_field,) if model_error_field else ()))
        return {**error, "loc": loc}

    class TaggedUnionRoute(APIRoute):
        def get_route_handler(self):
            handler = super().get_route_handler()

            async def route(request: Request):
                try:
                    return await handler(request)
                except RequestValidationError as error:
                    raise RequestValidationError([untagged(e) for e in error.errors()], body=error.body) from None

            return route

    return TaggedUnionRoute
