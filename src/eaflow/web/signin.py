"""/connexion and /deconnexion: signing in to the pages (throttled like the API, every attempt
traced) and out (the session is revoked at once)."""
from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse

from eaflow.services import second_factor, sessions
from eaflow.services.public import public
from eaflow.services.refusals import Refusal
from eaflow.web.rendering import render_page
from eaflow.web import second_factor as second_factor_pages
from eaflow.web.routing import PageRoute, local_path
from eaflow.web.session import (
    SIGN_IN_PATH,
    Visitor,
    anonymous_csrf,
    end_session,
    set_anonymous_csrf,
    set_session,
    signed_in,
    visitor_of,
)

router = APIRouter(route_class=PageRoute, include_in_schema=False)


def _form(request: Request, *, next_path: str, email: str = "", error: Refusal | None = None,
          signed_out: bool = False):
    anonymous_csrf(request)
    status = error.status if error else 200
    response = render_page(request, "signin.html.j2", status=status, next_path=next_path, email=email, error=error,
                           signed_out=signed_out,
                           headers={"Retry-After": error.headers["Retry-After"]}
                           if error is not None and error.headers and "Retry-After" in error.headers else None)
    set_anonymous_csrf(request, response)
    return response


@router.get(SIGN_IN_PATH, dependencies=[public("the sign-in form")])
def sign_in_page(request: Request, suivant: str = "/", deconnecte: str | None = None):
    if visitor_of(request) is not None:
        return RedirectResponse(local_path(suivant), status_code=303)
    return _form(request, next_path=local_path(suivant), signed_out=deconnecte is not None)


@router.post(SIGN_IN_PATH, dependencies=[public("the sign-in itself: address and password")])
def sign_in(request: Request, email: Annotated[str, Form(max_length=320)] = "",
            password: Annotated[str, Form(max_length=1000)] = "", suivant: Annotated[str, Form()] = "/"):
    address = request.client.host if request.client else "unknown"
    try:
        signed = sessions.sign_in(request.app.state.settings, email, password, address=address, via="web")
    except Refusal as refusal:
        return _form(request, next_path=local_path(suivant), email=email, error=refusal)
    if isinstance(signed, second_factor.SecondStep):  # the code, or the enrolment the policy requires
        return second_factor_pages.to_second_step(request, signed, local_path(suivant))
    response = RedirectResponse(local_path(suivant), status_code=303)
    set_session(request, response, signed.token)
    return response


@router.post("/deconnexion")
def sign_out(request: Request, visitor: Annotated[Visitor, Depends(signed_in)]):
    response = RedirectResponse(f"{SIGN_IN_PATH}?deconnecte=1", status_code=303)
    end_session(request, response)
    return response
