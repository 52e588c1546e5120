"""/mot-de-passe/<token>: the public page where the holder of a one-use link (mailed to a new account,
or on an administrator's reset) chooses their password. No session: the form is protected like the
sign-in form, by a random cookie repeated in the form (double submit), its path this page's. It
carries the pages' security headers, and no referrer ever leaves with the token in it. Every request to
a link counts against the abuse limits of the public links first (services/limits.py): past them, a
429 page with Retry-After, the same whether the link exists or not."""
from __future__ import annotations

import secrets
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import RedirectResponse, Response
from fastapi.routing import APIRoute

from eaflow.password_rule import MIN_LENGTH
from eaflow.services import limits, password_links
from eaflow.services.password_links import PATH
from eaflow.services.public import public
from eaflow.services.refusals import Refusal
from eaflow.web.rendering import render_page
from eaflow.web.routing import anonymous_post_refused, error_page
from eaflow.web.session import ANONYMOUS_CSRF_COOKIE

COOKIE_PATH = PATH + "/"
DONE_PATH = PATH + "/enregistre"


class PublicFormRoute(APIRoute):
    """The pages' route class for a page without session: the abuse limits of a link (429), a bounded
    body, the anonymous CSRF cookie checked on every POST (403, nothing written), a refusal as a French
    page. It never reads the session cookie, so a signed-in visitor's link is handled like anyone's."""

    def get_route_handler(self):
        handler = super().get_route_handler()

        async def route(request: Request) -> Response:
            try:
                if "token" in request.path_params:  # a link, valid or not: counted before anything is read
                    wait = await run_in_threadpool(limits.admit, request.app.state.settings, "password",
                                                   request.client.host if request.client else "unknown",
                                                   request.path_params["token"])
                    if wait is not None:
                        return error_page(request, limits.too_many_requests(wait))
                if request.method == "POST" and (refused := await anonymous_post_refused(request)) is not None:
                    return refused
                return await handler(request)
            except Refusal as refusal:
                return error_page(request, refusal)
            except RequestValidationError:
                return error_page(request, Refusal(404, "Cette page n'existe pas."))

        return route


router = APIRouter(route_class=PublicFormRoute, include_in_schema=False)
PUBLIC_LINK = public("a one-use link to choose a password: its token is the credential")


def _form_page(request: Request, token: str, holder: dict, *, errors: list[dict] | None = None,
               status: int = 200) -> Response:
    csrf = request.cookies.get(ANONYMOUS_CSRF_COOKIE) or secrets.token_urlsafe(24)
    request.state.anonymous_csrf = csrf  # what render_page puts in ui.csrf()
    placed: dict[str, list[str]] = {}
    for error in errors or ():
        placed.setdefault(error["field"], []).append(error["message"])
    response = render_page(request, "password.html.j2", status=status, token=token, holder=holder,
                           errors=errors or [], placed=placed, min_length=MIN_LENGTH)
    response.set_cookie(ANONYMOUS_CSRF_COOKIE, csrf, httponly=True, samesite="strict",
                        secure=request.app.state.settings.public_url.startswith("https://"), path=COOKIE_PATH)
    return response


def _dead_link(request: Request, refusal: Refusal) -> Response:
    return render_page(request, "password_invalid.html.j2", status=refusal.status, refusal=refusal)


@router.get(DONE_PATH, dependencies=[public("says the password was set; shows no one")])
def password_set_page(request: Request):
    return render_page(request, "password_done.html.j2")


@router.get(PATH + "/{token}", dependencies=[PUBLIC_LINK])
def password_page(token: str, request: Request):
    try:
        holder = password_links.link_holder(request.app.state.settings, token)
    except Refusal as refusal:
        if refusal.status not in (404, 410):
            raise
        return _dead_link(request, refusal)
    return _form_page(request, token, holder)


@router.post(PATH + "/{token}", dependencies=[PUBLIC_LINK])
def set_password(token: str, request: Request, password: Annotated[str, Form(max_length=2000)] = "",
                 confirmation: Annotated[str, Form(max_length=2000)] = ""):
    settings = request.app.state.settings
    try:
        password_links.set_password(settings, token, password, confirmation)
    except Refusal as refusal:
        if refusal.status in (404, 410):
            return _dead_link(request, refusal)
        if refusal.status != 422:
            raise
        return _form_page(request, token, password_links.link_holder(settings, token), errors=refusal.errors,
                          status=422)
    response = RedirectResponse(DONE_PATH, status_code=303)
    response.delete_cookie(ANONYMOUS_CSRF_COOKIE, path=COOKIE_PATH)
    return response
