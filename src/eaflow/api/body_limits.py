"""Request bodies of the API, bounded before they reach a handler (issue 15, "abuse limits"):

- a body larger than its route needs is refused with 413 problem+json before it is read whole: a
  declared `Content-Length` past the limit at once, a streamed (chunked) body as soon as the bytes
  counted pass it. A JSON body of the API is a few kilobytes: MAX_BODY by default; a route that takes
  a file says how much it takes with `openapi_extra={"x-max-body": n}`, as the pages do
  (web/routing.py), e.g. the paper signatures and their scan;
- a JSON body that is not UTF-8, or nested deeper than MAX_DEPTH, is refused with 422 problem+json
  in French before the JSON parser and pydantic see it (Python's parser would recurse on it, and
  FastAPI would answer in English).

It reads the body only when the handler does (a route that takes none never pays for it), and by
then the router has chosen the route, so its own limit applies. The pages keep theirs
(web/routing.py): this middleware only looks at /api/ addresses.
"""
from __future__ import annotations

import re

from fastapi import FastAPI, Request
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from eaflow.api.problems import problem_response
from eaflow.services.refusals import Refusal, invalid

MAX_BODY = 256 * 1024
MAX_DEPTH = 32
PREFIX = "/api/"

TOO_BIG = "Le corps de la requête dépasse la taille maximale acceptée par cette adresse ({limit} octets) : rien n'a été lu."
NOT_UTF8 = "Le corps de la requête n'est pas un texte UTF-8 valide : envoyez du JSON encodé en UTF-8."
TOO_DEEP = (f"Le JSON envoyé est imbriqué trop profondément : au plus {MAX_DEPTH} niveaux de tableaux et d'objets "
            "l'un dans l'autre.")
_STRUCTURE = re.compile(rb'["\[\]{}]')


class BodyRefused(StarletteHTTPException):
    """Raised from `receive` while a handler reads its body: an HTTPException, so that FastAPI lets it
    through its body reading as is (any other error there becomes an English 400)."""

    def __init__(self, refusal: Refusal) -> None:
        super().__init__(refusal.status, refusal.detail)
        self.refusal = refusal


def too_big(limit: int) -> Refusal:
    return invalid(TOO_BIG.format(limit=limit), "body", "Envoyez moins de données.", status=413)


def route_limit(scope: Scope) -> int:
    route = scope.get("route")
    return int((getattr(route, "openapi_extra", None) or {}).get("x-max-body", MAX_BODY))


def is_json(content_type: str | None) -> bool:
    media_type = (content_type or "").split(";", 1)[0].strip().lower()
    return media_type == "application/json" or (media_type.startswith("application/") and media_type.endswith("+json"))


def nesting_depth(body: bytes, bound: int = MAX_DEPTH) -> int:
    """How deep the arrays and objects of a JSON text nest (strings skipped), counted in one pass
    (no recursion, no backtracking: linear in the body); stops counting once past `bound`."""
    if body.count(b"[") + body.count(b"{") <= bound:  # cannot nest deeper than it opens
        return bound
    depth = deepest = position = 0
    while (found := _STRUCTURE.search(body, position)) is not None:
        char, position = body[found.start()], found.end()
        if char == 0x22:  # a string: to its closing quote, one not escaped by an odd run of backslashes
            while (end := body.find(b'"', position)) >= 0:
                backslashes = end - len(body[position:end].rstrip(b"\\")) - position
                position = end + 1
                if backslashes % 2 == 0:
                    break
            else:
                return deepest  # unterminated: the JSON parser says so
        elif char in b"[{":
            depth += 1
            deepest = max(deepest, depth)
            if deepest > bound:
                return deepest
        else:
            depth -= 1
    return deepest


def check_json(body: bytes) -> None:
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        raise BodyRefused(invalid("La requête contient des champs invalides.", "body", NOT_UTF8)) from None
    if nesting_depth(body) > MAX_DEPTH:
        raise BodyRefused(invalid("La requête contient des champs invalides.", "body", TOO_DEEP))


class BodyLimits:
    """ASGI middleware: the limits above on every request to /api/."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(PREFIX):
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        declared = headers.get("content-length", "")
        json_body = is_json(headers.get("content-type"))
        received: list[bytes] = []
        size = 0

        async def limited() -> Message:
            nonlocal size
            limit = route_limit(scope)  # the route is chosen by the time its handler reads the body
            if declared.strip().isdigit() and int(declared) > limit:
                raise BodyRefused(too_big(limit))
            message = await receive()
            if message["type"] != "http.request":
                return message
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                raise BodyRefused(too_big(limit))
            if json_body:
                received.append(chunk)
                if not message.get("more_body", False):
                    check_json(b"".join(received))
            return message

        await self.app(scope, limited, send)


def install(app: FastAPI) -> None:
    @app.exception_handler(BodyRefused)
    async def _refused(_: Request, exc: BodyRefused):
        return problem_response(exc.refusal)

    app.add_middleware(BodyLimits)
