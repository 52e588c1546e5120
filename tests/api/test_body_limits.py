"""Request bodies of the API (api/body_limits.py, issue 15): larger than the route needs, refused with
413 problem+json before they are read whole; JSON nested too deep, or not UTF-8, refused with 422
problem+json in French before the parser and pydantic see it; a route that takes a file keeps its
own larger limit. On both databases (the `settings` fixture); the paper signature on a real
Temporal dev server (its route needs the client), the others without one."""
from __future__ import annotations

import json

import httpx
import pytest
from fastapi.routing import iter_route_contexts

from eaflow.api import body_limits
from eaflow.api.body_limits import MAX_BODY, MAX_DEPTH, NOT_UTF8, TOO_DEEP, nesting_depth
from eaflow.api.paper_signatures import FORM_OVERHEAD
from eaflow.app import create_app
from eaflow.services.signatures import MAX_SCAN_BYTES
from tests.api.conftest import Api
from tests.store.test_rules_in_the_database import add_journey

MANAGER = "manager@test.fr"
PROBLEM = "application/problem+json"
PREFERENCES = "/api/v1/me/preferences"
JSON = {"Content-Type": "application/json"}


class Body:
    """A request body sent chunk by chunk, which counts how many chunks the app asked for."""

    def __init__(self, chunk: bytes, chunks: int):
        self.chunk, self.chunks, self.pulled = chunk, chunks, 0

    async def __aiter__(self):
        for _ in range(self.chunks):
            self.pulled += 1
            yield self.chunk


@pytest.fixture
async def api(settings, platform):
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=create_app(settings)), base_url="http://test",
                                 timeout=30) as http:
        yield Api(http)


def refused(response: httpx.Response, status: int) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM
    problem = response.json()
    assert problem["status"] == status and problem["errors"][0]["field"] == "body"
    return problem


async def test_a_declared_length_past_the_limit_is_refused_413_before_a_byte_is_read(api):
    body = Body(b" " * 65536, 64)
    response = await api.request("PUT", PREFERENCES, MANAGER, content=body,
                                 headers={**JSON, "Content-Length": str(MAX_BODY + 1)})
    problem = refused(response, 413)
    assert f"{MAX_BODY} octets" in problem["detail"] and "rien n'a été lu" in problem["detail"]
    assert body.pulled == 0


async def test_a_streamed_body_is_cut_as_soon_as_it_passes_the_limit(api):
    body = Body(b" " * 65536, 1000)  # 64 MiB offered, chunked (no Content-Length)
    refused(await api.request("PUT", PREFERENCES, MANAGER, content=body, headers=JSON), 413)
    assert body.pulled == MAX_BODY // 65536 + 1


async def test_a_body_within_the_limit_reaches_the_route(api):
    saved = await api.request("PUT", PREFERENCES, MANAGER, json={"muted_kinds": []})
    assert saved.status_code == 200, saved.text
    padded = json.dumps({"muted_kinds": []}).encode() + b" " * (MAX_BODY - 100)
    assert (await api.request("PUT", PREFERENCES, MANAGER, content=padded, headers=JSON)).status_code == 200


async def test_json_nested_deeper_than_the_bound_is_refused_422_in_french(api):
    too_deep = "[" * (MAX_DEPTH + 1) + "]" * (MAX_DEPTH + 1)
    problem = refused(await api.request("PUT", PREFERENCES, MANAGER, content=too_deep, headers=JSON), 422)
    assert problem["errors"][0]["message"] == TOO_DEEP
    # At the bound, the body goes on to the route's model, which names what is wrong with it.
    at_bound = {"muted_kinds": json.loads("[" * (MAX_DEPTH - 1) + "]" * (MAX_DEPTH - 1))}
    response = await api.request("PUT", PREFERENCES, MANAGER, json=at_bound)
    assert response.status_code == 422 and response.json()["errors"][0]["message"] != TOO_DEEP


async def test_a_hundred_thousand_levels_get_the_same_french_refusal_not_an_english_400(api):
    bomb = "[" * 100_000 + "]" * 100_000
    problem = refused(await api.request("PUT", PREFERENCES, MANAGER, content=bomb, headers=JSON), 422)
    assert problem["errors"][0]["message"] == TOO_DEEP


async def test_brackets_inside_strings_do_not_count_as_nesting(api):
    text = '"[[[{{{\\"' + "[" * 100 + '"'  # an escaped quote inside, then a hundred brackets, still the string
    response = await api.request("PUT", PREFERENCES, MANAGER, content='{"muted_kinds": [' + text + "]}",
                                 headers=JSON)
    assert response.status_code == 422 and response.json()["errors"][0]["message"] != TOO_DEEP
    assert response.json()["errors"][0]["field"].startswith("muted_kinds")  # the model read it: an unknown kind


async def test_a_json_body_that_is_not_utf8_is_refused_422_in_french(api):
    problem = refused(await api.request("PUT", PREFERENCES, MANAGER, content=b'{"muted_kinds": ["\xff\xfe"]}',
                                        headers=JSON), 422)
    assert problem["errors"][0]["message"] == NOT_UTF8


async def test_malformed_json_is_refused_in_french(api):
    response = await api.request("PUT", PREFERENCES, MANAGER, content=b'{"muted_kinds": [', headers=JSON)
    assert response.status_code == 422 and response.headers["content-type"] == PROBLEM
    assert response.json()["errors"][0]["message"] == "Le contenu envoyé n'est pas un JSON valide."


async def test_the_pages_keep_their_own_limit(api):
    # Not an API address: the page's route class answers (a French page), not this middleware.
    response = await api.http.post("/connexion", content=b"x" * (MAX_BODY + 1),
                                   headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert response.status_code == 413 and response.headers["content-type"].startswith("text/html")


def test_the_nesting_is_counted_in_one_pass_strings_and_escapes_skipped():
    assert nesting_depth(b"[]") == MAX_DEPTH  # few brackets: not even counted
    deep = b"[" * 40 + b"]" * 40
    assert nesting_depth(deep) == MAX_DEPTH + 1  # stops counting past the bound
    assert nesting_depth(b'["' + b"[" * 40 + b'"]') == 1
    assert nesting_depth(b'["\\\\", ' + deep + b"]") > MAX_DEPTH  # an escaped backslash ends its string
    assert nesting_depth(b'["\\"' + b"[" * 40 + b'"]') == 1  # an escaped quote does not
    assert nesting_depth(b'"' + b'\\"' * 100_000 + b"[" * 40) == 0  # unterminated: the parser's to say


def test_the_paper_signature_route_declares_room_for_its_scan(settings):
    app = create_app(settings)
    [route] = [context.original_route for context in iter_route_contexts(app.routes)
               if context.path.endswith("/convention/paper-signatures")]
    assert body_limits.route_limit({"route": route}) == MAX_SCAN_BYTES + FORM_OVERHEAD > MAX_BODY
    assert body_limits.route_limit({}) == MAX_BODY


@pytest.mark.xdist_group("dev-server")
async def test_a_scan_larger_than_the_default_limit_reaches_the_paper_signature_route(settings, platform, local_env):
    add_journey(settings.db_url, platform, "j-scan")
    app = create_app(settings, client=local_env.client)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test", timeout=30) as http:
        api = Api(http)
        scan = b"%PDF-1.4\n" + b"0" * (2 * MAX_BODY)
        response = await api.request("POST", "/api/v1/journeys/j-scan/convention/paper-signatures", MANAGER,
                                     files={"scan": ("scan.pdf", scan, "application/pdf")}, data={"version": "1"})
        # Past the middleware: the route itself reads the form and names the missing fields.
        assert response.status_code == 422, response.text
        assert {e["field"] for e in response.json()["errors"]} >= {"party_id", "signer_name", "signed_on"}
        too_big = await api.request("POST", "/api/v1/journeys/j-scan/convention/paper-signatures", MANAGER,
                                    files={"scan": ("scan.pdf", b"%PDF" + b"0" * MAX_SCAN_BYTES, "application/pdf")})
        assert too_big.status_code == 413 and too_big.headers["content-type"] == PROBLEM
