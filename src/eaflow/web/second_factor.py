"""The second factor in the pages (eaflow/services/second_factor.py).

Signing in: after a right password, /connexion sends a user with a second factor to /connexion/code
(the 6-digit code or a recovery code), and a user whose role the policy requires one of, and who has
none yet, to /connexion/activation (enrol, then the session opens). Between the two steps the browser
holds a pending token (cookie `eaflow_pending`, HttpOnly, path /connexion, a few minutes long) that is
not a session: no other page opens with it. These pages have no session yet: their forms are
protected like the sign-in form, by the anonymous CSRF cookie repeated in the form.

"Sécurité du compte" (/securite), for every signed-in user: turn the second factor on (a QR code of
the otpauth:// address drawn on the server as inline SVG, the secret for typing by hand, a first code
to confirm), see how many recovery codes are left, renew them, or turn the factor off when the policy
does not require it (both against a current code).
"""
from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Depends, Form, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import RedirectResponse, Response
from fastapi.routing import APIRoute

from eaflow.services import second_factor
from eaflow.services.public import public
from eaflow.services.refusals import Refusal
from eaflow.web.rendering import render_page
from eaflow.web.routing import PageRoute, anonymous_post_refused, error_page, local_path
from eaflow.web.session import (
    SIGN_IN_PATH,
    Visitor,
    anonymous_csrf,
    set_anonymous_csrf,
    set_session,
    signed_in,
)

PENDING_COOKIE = "eaflow_pending"
CODE_PATH = SIGN_IN_PATH + "/code"
ENROL_PATH = SIGN_IN_PATH + "/activation"
SECURITY = "/securite"
DONE = {
    "desactivee": "La double authentification est désactivée : la connexion ne demande plus que votre mot de passe.",
    "secours": "Vous vous êtes connecté avec un code de secours, qui ne servira plus.",
}
CodeField = Annotated[str, Form(max_length=64)]
NextField = Annotated[str, Form(max_length=2000)]


class PendingStepRoute(APIRoute):
    """The route class of the steps between the password and the session: a bounded body, the
    anonymous CSRF cookie checked on every POST (403, nothing written), a refusal as a French page.
    It never reads the session cookie."""

    def get_route_handler(self):
        handler = super().get_route_handler()

        async def route(request: Request) -> Response:
            try:
                if request.method == "POST" and (refused := await anonymous_post_refused(request)) is not None:
                    return refused
                return await handler(request)
            except Refusal as refusal:
                return error_page(request, refusal)
            except RequestValidationError:
                return error_page(request, Refusal(404, "Cette page n'existe pas."))

        return route


steps = APIRouter(route_class=PendingStepRoute, include_in_schema=False)
pages = APIRouter(route_class=PageRoute, include_in_schema=False)
VisitorDep = Annotated[Visitor, Depends(signed_in)]
PENDING = [public("the second step of the sign-in: only a pending token from a right password opens it")]


def _address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def _secure(request: Request) -> bool:
    return request.app.state.settings.public_url.startswith("https://")


# ------------------------------------------------------------------------------- after the password
def to_second_step(request: Request, step: second_factor.SecondStep, next_path: str) -> Response:
    """/connexion's answer to a right password when a second step comes: the pending cookie, and the
    page of that step."""
    path = CODE_PATH if step.kind == second_factor.PENDING_CODE else ENROL_PATH
    response = RedirectResponse(f"{path}?suivant={quote(local_path(next_path), safe='')}", status_code=303)
    response.set_cookie(PENDING_COOKIE, step.token, httponly=True, samesite="strict", secure=_secure(request),
                        path=SIGN_IN_PATH, max_age=int(second_factor.PENDING_FOR[step.kind].total_seconds()))
    return response


def _signed_in(request: Request, response: Response, token: str) -> Response:
    set_session(request, response, token)
    response.delete_cookie(PENDING_COOKIE, path=SIGN_IN_PATH)
    return response


def _back_to_sign_in(next_path: str) -> RedirectResponse:
    return RedirectResponse(f"{SIGN_IN_PATH}?suivant={quote(local_path(next_path), safe='')}", status_code=303)


def _step_page(request: Request, template: str, *, status: int = 200, **context) -> Response:
    anonymous_csrf(request)
    retry = (context.get("error").headers or {}).get("Retry-After") if context.get("error") else None
    response = render_page(request, template, status=status, headers={"Retry-After": retry} if retry else None,
                           **context)
    set_anonymous_csrf(request, response)
    return response


def _field_error(refusal: Refusal | None) -> str | None:
    return refusal.errors[0]["message"] if refusal is not None and refusal.errors else None


@steps.get(CODE_PATH, dependencies=PENDING)
def code_page(request: Request, suivant: str = "/"):
    if second_factor.pending_user(request.app.state.settings, request.cookies.get(PENDING_COOKIE),
                                  second_factor.PENDING_CODE) is None:
        return _back_to_sign_in(suivant)
    return _step_page(request, "second_factor_code.html.j2", next_path=local_path(suivant), error=None)


@steps.post(CODE_PATH, dependencies=PENDING)
def submit_code(request: Request, code: CodeField = "", suivant: NextField = "/"):
    next_path = local_path(suivant)
    try:
        done = second_factor.complete_sign_in(request.app.state.settings, request.cookies.get(PENDING_COOKIE), code,
                                              address=_address(request))
    except Refusal as refusal:
        if refusal.extra.get("expired"):
            return _back_to_sign_in(next_path)
        return _step_page(request, "second_factor_code.html.j2", status=refusal.status, next_path=next_path,
                          error=refusal)
    target = f"{SECURITY}?fait=secours" if done.used == "recovery" else next_path
    return _signed_in(request, RedirectResponse(target, status_code=303), done.signed_in.token)


@steps.get(ENROL_PATH, dependencies=PENDING)
def required_enrolment_page(request: Request, suivant: str = "/"):
    found = second_factor.enrolment_for_pending(request.app.state.settings, request.cookies.get(PENDING_COOKIE))
    if found is None:
        return _back_to_sign_in(suivant)
    user, enrolment = found
    return _step_page(request, "second_factor_enrol.html.j2", enrolment=enrolment, action=ENROL_PATH, required=True,
                      next_path=local_path(suivant), error=None, field_error=None)


@steps.post(ENROL_PATH, dependencies=PENDING)
def confirm_required_enrolment(request: Request, code: CodeField = "", suivant: NextField = "/"):
    settings, token, next_path = request.app.state.settings, request.cookies.get(PENDING_COOKIE), local_path(suivant)
    try:
        done = second_factor.complete_enrolment(settings, token, code, address=_address(request))
    except Refusal as refusal:
        found = second_factor.enrolment_for_pending(settings, token)
        if refusal.extra.get("expired") or found is None:
            return _back_to_sign_in(next_path)
        return _step_page(request, "second_factor_enrol.html.j2", status=refusal.status, enrolment=found[1],
                          action=ENROL_PATH, required=True, next_path=next_path, error=refusal,
                          field_error=_field_error(refusal))
    response = render_page(request, "second_factor_codes.html.j2", codes=done.recovery_codes, first=True,
                           continue_to=next_path)
    return _signed_in(request, response, done.signed_in.token)


# ------------------------------------------------------------------------------- "Sécurité du compte"
def _security_page(request: Request, visitor: Visitor, *, status: int = 200, error: Refusal | None = None,
                   form: str | None = None, fait: str | None = None) -> Response:
    return render_page(request, "security.html.j2", status=status,
                       headers={k: v for k, v in (error.headers or {}).items() if k == "Retry-After"} if error else None,
                       factor=second_factor.status_of(request.app.state.settings, visitor.user),
                       error=error, field_error=_field_error(error), form=form, banner=DONE.get(fait or ""))


@pages.get(SECURITY)
def security_page(request: Request, visitor: VisitorDep, fait: str | None = None):
    return _security_page(request, visitor, fait=fait)


@pages.get(SECURITY + "/activation")
def enrolment_page(request: Request, visitor: VisitorDep):
    try:
        enrolment = second_factor.start_enrolment(request.app.state.settings, visitor.user)
    except Refusal as refusal:
        if refusal.status != 409:
            raise
        return RedirectResponse(SECURITY, status_code=303)  # already on: the secret is never shown again
    return render_page(request, "second_factor_enrol.html.j2", enrolment=enrolment, action=SECURITY + "/activation",
                       required=False, next_path=SECURITY, error=None, field_error=None)


@pages.post(SECURITY + "/activation")
def confirm_enrolment(request: Request, visitor: VisitorDep, code: CodeField = ""):
    settings = request.app.state.settings
    try:
        codes = second_factor.confirm_enrolment(settings, visitor.user, code, address=_address(request))
    except Refusal as refusal:
        if refusal.status not in (422, 429):
            raise
        return render_page(request, "second_factor_enrol.html.j2", status=refusal.status,
                           headers={k: v for k, v in (refusal.headers or {}).items() if k == "Retry-After"},
                           enrolment=second_factor.start_enrolment(settings, visitor.user),
                           action=SECURITY + "/activation", required=False, next_path=SECURITY, error=refusal,
                           field_error=_field_error(refusal))
    return render_page(request, "second_factor_codes.html.j2", codes=codes, first=True, continue_to=SECURITY)


@pages.post(SECURITY + "/codes-de-secours")
def renew_recovery_codes(request: Request, visitor: VisitorDep, code: CodeField = ""):
    try:
        codes = second_factor.regenerate_recovery_codes(request.app.state.settings, visitor.user, code,
                                                        address=_address(request))
    except Refusal as refusal:
        if refusal.status not in (422, 429):
            raise
        return _security_page(request, visitor, status=refusal.status, error=refusal, form="codes")
    return render_page(request, "second_factor_codes.html.j2", codes=codes, first=False, continue_to=SECURITY)


@pages.post(SECURITY + "/desactivation")
def turn_off(request: Request, visitor: VisitorDep, code: CodeField = ""):
    try:
        second_factor.disable(request.app.state.settings, visitor.user, code, address=_address(request))
    except Refusal as refusal:
        if refusal.status not in (409, 422, 429):
            raise
        return _security_page(request, visitor, status=refusal.status, error=refusal, form="desactivation")
    return RedirectResponse(f"{SECURITY}?fait=desactivee", status_code=303)


router = APIRouter()
router.include_router(steps)
router.include_router(pages)
