"""No route ships open by accident (issue 15). The test walks every route of the app, API and pages, every
method, and reads its authorisation rule off its dependency graph: a signed-in user (`current_user`, which
every `require(...)` check depends on), a signed-in page visitor (`signed_in`), or the explicit mark
`public("why")` of eaflow.services.public. A route with none of them fails, named; so does a route that is
both public and signed-in (one of the two is a mistake).

What the graph claims is then checked for real: without credentials every API route that is not public
answers 401 problem+json, and every page that is not public sends the visitor to /connexion, before any
handler runs. A throwaway app with one route of each kind shows that the walker does flag an unmarked
route, also one added through an included router.

A few routes are not FastAPI routes and carry no dependency graph; they are the allow-list below, each
with its reason, and the allow-list is checked too (each entry is such a route, and no other is)."""
from __future__ import annotations

import re
from datetime import date

import httpx
import pytest
from fastapi import APIRouter, Depends, FastAPI
from fastapi.routing import APIRoute, iter_route_contexts
from starlette.routing import Mount, Route

from eaflow.api.deps import current_user, require
from eaflow.app import create_app
from eaflow.services.public import Public, public
from eaflow.web.session import SIGN_IN_PATH, signed_in


@pytest.fixture
def db_backend() -> str:
    """The walk reads the routes; the anonymous requests touch no record: SQLite is enough."""
    return "sqlite"


# Routes without a dependency graph (FastAPI's own and the static files), and why they are open.
NOT_FASTAPI_ROUTES = {
    "/openapi.json": "FastAPI's OpenAPI document: the API's description, no data",
    "/docs": "FastAPI's interactive documentation page (Swagger UI), no data",
    "/docs/oauth2-redirect": "the documentation page's sign-in helper, no data",
    "/redoc": "FastAPI's documentation page (ReDoc), no data",
    "/static": "the pages' CSS and images (eaflow/web/static), no data",
}


def _graph(dependant):
    """Every dependency of a route, however deep."""
    for dependency in dependant.dependencies:
        yield dependency.call
        yield from _graph(dependency)


def rule_of(route) -> tuple[str | None, str]:
    """(the route's authorisation rule or None, what is wrong when None)."""
    calls = list(_graph(route.dependant))
    marks = [call.why for call in calls if isinstance(call, Public)]
    signed = [name for call, name in ((current_user, "current_user"), (signed_in, "signed_in")) if call in calls]
    if marks and signed:
        return None, f"both public ({marks[0]}) and signed-in ({signed[0]})"
    if marks:
        return f"public: {marks[0]}", ""
    if signed:
        return signed[0], ""
    return None, "no authorisation rule: depend on current_user / require(...) / signed_in, or mark it public(\"why\")"


def walk(app: FastAPI) -> tuple[dict[str, str], list[str], list[str]]:
    """({"METHOD path": rule}, the routes without a rule, the routes without a dependency graph)."""
    rules, open_routes, graphless = {}, [], []
    for route in iter_route_contexts(app.routes):
        if isinstance(route.original_route, APIRoute):
            rule, wrong = rule_of(route)
            for method in sorted(route.methods):
                name = f"{method} {route.path} ({route.endpoint.__module__}.{route.endpoint.__name__})"
                if rule is None:
                    open_routes.append(f"{name}: {wrong}")
                else:
                    rules[f"{method} {route.path}"] = rule
        else:
            graphless.append(route.path)
    return rules, open_routes, graphless


def test_every_route_has_an_authorisation_rule(settings):
    app = create_app(settings)
    rules, open_routes, graphless = walk(app)
    assert len(rules) > 100 and rules["GET /api/v1/journeys/{journey_id}"] == "current_user"  # the walk works
    assert rules["GET /parcours/{journey_id}"] == "signed_in" and rules["GET /healthz"].startswith("public: ")
    assert open_routes == [], "routes that would ship open:\n" + "\n".join(open_routes)
    assert sorted(graphless) == sorted(NOT_FASTAPI_ROUTES), "routes without a dependency graph changed"
    for path in graphless:
        route = next(r for r in app.routes if getattr(r, "path", None) == path)
        assert isinstance(route, Mount) if path == "/static" else (
            isinstance(route, Route) and route.endpoint.__module__ == "fastapi.applications"), path


def test_the_public_routes_are_the_ones_meant_to_be(settings):
    """The list of open routes is short and reads like the README's: a change to it is a visible diff."""
    rules, _, _ = walk(create_app(settings))
    assert sorted(route for route, rule in rules.items() if rule.startswith("public: ")) == sorted([
        "POST /api/v1/auth/token", "GET /healthz", "GET /metrics", "GET /dev/mail", "GET /dev/mail.json",
        "GET /signature/{convention_id}/{token}", "POST /signature/{convention_id}/{token}",
        "GET /signature/{convention_id}/{token}/convention.pdf",
        "GET /connexion", "POST /connexion",
        "GET /connexion/code", "POST /connexion/code", "GET /connexion/activation", "POST /connexion/activation",
        "GET /mot-de-passe/enregistre", "GET /mot-de-passe/{token}", "POST /mot-de-passe/{token}",
    ])


def _url(path: str) -> str:
    values = {"snapshot_id": "1", "year": str(date.today().year), "format": "pdf"}
    return re.sub(r"{(\w+)(:\w+)?}", lambda m: values.get(m.group(1), "inconnu"), path)


@pytest.mark.xdist_group("dev-server")
async def test_without_credentials_every_route_that_is_not_public_refuses_before_its_handler(settings, platform,
                                                                                             local_env):
    # With a Temporal client: a write route resolves it before the user (parameter order), and without
    # one it would answer 503 where this test wants to see the 401.
    app = create_app(settings, client=local_env.client)
    rules, _, _ = walk(app)
    refused = []
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as http:
        for route, rule in rules.items():
            if rule.startswith("public: "):
                continue
            method, path = route.split(" ", 1)
            response = await http.request(method, _url(path), headers={"Content-Length": "0"} if method != "GET" else {})
            if rule == "current_user":
                ok = response.status_code == 401 and response.headers["content-type"] == "application/problem+json"
            else:
                ok = response.status_code == 303 and response.headers["location"].startswith(SIGN_IN_PATH + "?")
            if not ok:
                refused.append(f"{route} ({rule}) answered {response.status_code} {response.headers.get('location', '')}")
    assert refused == [], "routes that did not refuse an anonymous request:\n" + "\n".join(refused)


def test_the_walker_flags_an_unmarked_route():
    """Proof that the test above can fail: a throwaway app with one route of each kind."""
    app = FastAPI()

    @app.get("/guarded")
    def guarded(user=Depends(require("manager"))):
        return {}

    @app.get("/signed-in")
    def signed(user=Depends(current_user)):
        return {}

    @app.get("/open", dependencies=[public("a test of the mark")])
    def open_on_purpose():
        return {}

    @app.get("/forgotten")
    def forgotten():
        return {}

    @app.post("/confused", dependencies=[public("says public")])
    def confused(user=Depends(current_user)):
        return {}

    router = APIRouter()

    @router.delete("/included/{item_id}")
    def forgotten_too(item_id: str):
        return {}

    @router.put("/included/{item_id}")
    def guarded_by_the_include(item_id: str):
        return {}

    app.include_router(router)
    guarded_router = APIRouter()
    guarded_router.add_api_route("/by-include", guarded_by_the_include, methods=["PATCH"])
    app.include_router(guarded_router, dependencies=[Depends(current_user)])

    rules, open_routes, _ = walk(app)
    assert [line.split(" (")[0] for line in open_routes] == [
        "GET /forgotten", "POST /confused", "DELETE /included/{item_id}", "PUT /included/{item_id}"]
    assert "both public" in open_routes[1]
    assert rules == {"GET /guarded": "current_user", "GET /signed-in": "current_user",
                     "GET /open": "public: a test of the mark", "PATCH /by-include": "current_user"}


def test_a_public_mark_says_why():
    with pytest.raises(ValueError):
        Public(" ")
