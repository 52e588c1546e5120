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
from eaflow.workflows.field_errors import FieldValueError, french_message

PROBLEM = "application/problem+json"
# The API's name for the services' refusal: raised as is by the routers, answered as problem+json.
Problem = Refusal
TITLES = REFUSAL_TITLES


def problem_response(problem: Problem) -> JSONResponse:
    return JSONResponse(problem.body(), status_code=problem.status, media_type=PROBLEM, headers=problem.headers)


def _field(error: dict) -> str:
    """The dotted path of a validation error's field; a model validator's refusal of one of its fields
    (FieldValueError) names that field."""
    cause = (error.get("ctx") or {}).get("error")
    loc = tuple(error.get("loc", ())) + ((cause.field,) if isinstance(cause, FieldValueError) else ())
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header")]
    return ".".join(parts) or "body"


def install(app: FastAPI) -> None:
    @app.exception_handler(Problem)
    async def _problem(_: Request, exc: Problem):
        return problem_response(exc)

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError):
        errors = [{"field": _field(e), "message": french_message(e)} for e in exc.errors()]
        return problem_response(Problem(422, "La requête contient des champs invalides.", errors=errors))

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException):
        detail = exc.detail if isinstance(exc.detail, str) else TITLES.get(exc.status_code, "Erreur")
        if exc.status_code == 404 and detail == "Not Found":
            detail = "Cette ressource n'existe pas."
        if exc.status_code == 405:
            detail = "Cette méthode n'est pas acceptée sur cette adresse."
        if exc.status_code == 400 and detail == "There was an error parsing the body":  # FastAPI's own words
            detail = "Le corps de la requête est illisible : envoyez du JSON encodé en UTF-8, ou le formulaire attendu."
        problem = Problem(exc.status_code, detail, headers=getattr(exc, "headers", None))
        page = getattr(request.app.state, "page_for_error", None)  # a browser lost outside the API: a page
        return (page and page(request, problem)) or problem_response(problem)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception):
        """A bug: still problem+json (the exception goes on to the server's log), never a bare text/plain."""
        problem = Problem(500, "Erreur inattendue du serveur : elle est consignée dans son journal. Si une "
                               "modification était en cours, vérifiez si elle a été enregistrée avant de recommencer.")
        page = getattr(request.app.state, "page_for_error", None)
        return (page and page(request, problem)) or problem_response(problem)

    document(app)


PROBLEM_SCHEMA = {
    "title": "Problem", "type": "object", "required": ["type", "title", "status", "detail"],
    "description": "RFC 9457 : le refus, en français ; `errors` nomme les champs, `rule` la règle du domaine.",
    "properties": {
        "type": {"type": "string"}, "title": {"type": "string"}, "status": {"type": "integer"},
        "detail": {"type": "string"}, "rule": {"type": "string"},
        "errors": {"type": "array", "items": {"type": "object", "required": ["field", "message"], "properties": {
            "field": {"type": "string"}, "message": {"type": "string"}}}},
    }}
PROBLEM_CONTENT = {PROBLEM: {"schema": {"$ref": "#/components/schemas/Problem"}}}
REFUSAL_DESCRIPTIONS = {
    401: "Jeton absent, invalide ou expiré", 403: "Rôle ou rattachement qui ne permet pas cette action",
    404: "Inconnu, ou hors de ce que cet utilisateur peut voir", 409: "État qui ne permet pas cette action",
    413: "Corps de requête trop volumineux", 422: "Champs invalides, ou refus par une règle du domaine",
}


def page_refusals(*statuses: int) -> dict[int, dict]:
    """`responses=` of a route that answers its refusals as French pages (a person's public link)."""
    return {status: {"description": "Page française qui explique le refus", "content": {"text/html": {}}}
            for status in statuses}


def _refusals(path: str, method: str, operation: dict) -> set[int]:
    """The refusals every operation of this kind can answer, whatever its handler decides."""
    statuses = set()
    if operation.get("security"):
        statuses |= {401, 403}
    if "{" in path:
        statuses.add(404)
    if path.startswith("/api/") and method != "get" and operation.get("security"):
        statuses.add(409)
    if "requestBody" in operation:
        statuses |= {413, 422}
    if operation.get("parameters"):
        statuses.add(422)
    return statuses


def document(app: FastAPI) -> None:
    """The OpenAPI document names the refusals the handlers above answer (a client, and the fuzzing
    of tests/fuzz, read them there): each operation's 401, 403, 404, 409, 413 and 422 where its kind
    can give them, as problem+json with the Problem schema instead of FastAPI's `HTTPValidationError`.
    A refusal a route declared with another content (a French page) is kept as it is, except that a
    422 of a malformed request is always problem+json."""
    build = app.openapi

    def openapi() -> dict:
        if app.openapi_schema is not None:
            return app.openapi_schema
        schema = build()
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        components.pop("HTTPValidationError", None)
        components.pop("ValidationError", None)
        components["Problem"] = PROBLEM_SCHEMA
        for path, operations in schema.get("paths", {}).items():
            for method, operation in operations.items():
                responses = operation.setdefault("responses", {})
                for status in _refusals(path, method, operation):
                    responses.setdefault(str(status), {"description": REFUSAL_DESCRIPTIONS[status]})
                for status, response in responses.items():
                    if status[:1] not in ("4", "5"):
                        continue
                    content = response.get("content") or {}
                    content.pop("application/json", None)  # FastAPI's default: never what is answered
                    if not content or status == "422":
                        content.update(PROBLEM_CONTENT)
                    response["content"] = content
        return schema

    app.openapi = openapi


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
