"""The route class of every page: a refusal of the services becomes a French page (the same status
as the API would give), a page without session sends the visitor to /connexion and back, and no POST
runs without its form's CSRF token (403, nothing written)."""
from __future__ import annotations

import hmac
import logging
from urllib.parse import quote

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import RedirectResponse, Response
from fastapi.routing import APIRoute

from eaflow.services.refusals import Refusal
from eaflow.web.rendering import render_page
from eaflow.web.session import (
    ANONYMOUS_CSRF_COOKIE,
    CSRF_FIELD,
    SIGN_IN_PATH,
    SignInRequired,
    csrf_ok,
    visitor_of,
)

log = logging.getLogger("eaflow.web")

HEADINGS = {
    400: "Demande incorrecte", 403: "Action non autorisée", 404: "Page introuvable", 409: "Action impossible pour l'instant",
    411: "Demande incomplète", 413: "Fichier trop volumineux", 415: "Type de fichier refusé", 422: "Demande refusée", 429: "Trop de tentatives",
    503: "Service momentanément indisponible",
}
# A page's form is small; a route that takes a file says how much it takes (openapi_extra "x-max-body").
MAX_BODY = 256 * 1024
TOO_BIG = ("Ce que vous avez envoyé est trop volumineux : rien n'a été enregistré. Pour un scan, réduisez sa "
           "résolution ou envoyez-le en PDF compressé.")
CSRF_REFUSED = ("Ce formulaire a expiré ou ne provient pas de cette application : rien n'a été enregistré. "
                "Rechargez la page et recommencez.")


def error_page(request: Request, refusal: Refusal) -> Response:
    return render_page(request, "error.html.j2", status=refusal.status,
                       headers={k: v for k, v in (refusal.headers or {}).items() if k == "Retry-After"},
                       heading=HEADINGS.get(refusal.status, "Erreur"), refusal=refusal)


def sign_in_redirect(request: Request) -> RedirectResponse:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    if request.method != "GET":  # back to the page the form was on, not to the form's action
        target = request.headers.get("referer", "/") if _same_origin(request) else "/"
    return RedirectResponse(f"/connexion?suivant={quote(local_path(target), safe='')}", status_code=303)


def _same_origin(request: Request) -> bool:
    referer = request.headers.get("referer", "")
    return referer.startswith(str(request.base_url))


def local_path(target: str) -> str:
    """Only a path of this site: never an open redirect to another one."""
    if "://" in target:
        target = "/" + target.split("://", 1)[1].partition("/")[2]
    return target if target.startswith("/") and not target.startswith("//") else "/"


async def anonymous_post_refused(request: Request) -> Response | None:
    """The checks of a POST by someone not signed in yet (a password link, the steps of the sign-in):
    a body no larger than a page's, refused before it is read, and the anonymous CSRF cookie repeated
    in the form (403, nothing written). The refusal's page, or None when the request may go on."""
    declared = request.headers.get("content-length", "")
    if not declared.isdigit() or int(declared) > MAX_BODY:
        return error_page(request, Refusal(413 if declared.isdigit() else 411, TOO_BIG))
    form = await request.form()  # cached: the handler reads the same form
    expected, submitted = request.cookies.get(ANONYMOUS_CSRF_COOKIE), form.get(CSRF_FIELD)
    if not (expected and isinstance(submitted, str) and hmac.compare_digest(expected, submitted)):
        return error_page(request, Refusal(403, CSRF_REFUSED))
    return None


class PageRoute(APIRoute):
    def get_route_handler(self):
        handler = super().get_route_handler()
        limit = (self.openapi_extra or {}).get("x-max-body", MAX_BODY)

        async def route(request: Request) -> Response:
            try:
                if request.method == "POST":
                    declared = request.headers.get("content-length", "")
                    if not declared.isdigit() or int(declared) > limit:  # refused before a byte is read
                        return error_page(request, Refusal(413 if declared.isdigit() else 411, TOO_BIG))
                    if visitor_of(request) is None and request.url.path != SIGN_IN_PATH:
                        return sign_in_redirect(request)  # the session ended: nothing is written
                    form = await request.form()  # cached: the handler reads the same form
                    if not csrf_ok(request, form.get(CSRF_FIELD)):
                        return error_page(request, Refusal(403, CSRF_REFUSED))
                return await handler(request)
            except SignInRequired:
                return sign_in_redirect(request)
            except Refusal as refusal:
                return error_page(request, refusal)
            except RequestValidationError:
                # a malformed address (path or query): nothing here by that name
                return error_page(request, Refusal(404, "Cette page n'existe pas."))

        return route
