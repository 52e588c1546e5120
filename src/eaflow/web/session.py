"""Who is looking at a page: the session cookie (a token of the services' revocable store, kind
"web") and the CSRF token every form carries.

The cookie is HttpOnly, SameSite=Lax, and Secure when EAFLOW_PUBLIC_URL is https. Before sign-in,
the sign-in form is protected by a random cookie repeated in the form (double submit).
"""
from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass

from fastapi import Request
from fastapi.responses import Response

from eaflow.services import sessions
from eaflow.settings import Settings
from eaflow.store.models import User

SESSION_COOKIE = "eaflow_session"
ANONYMOUS_CSRF_COOKIE = "eaflow_csrf"
CSRF_FIELD = "csrf_token"
SIGN_IN_PATH = "/connexion"


class SignInRequired(Exception):
    """No live session: the page sends the visitor to /connexion, and back afterwards."""


@dataclass(frozen=True)
class Visitor:
    user: User
    token: str
    csrf: str

    @property
    def name(self) -> str:
        return self.user.display_name or self.user.email


def visitor_of(request: Request) -> Visitor | None:
    """The signed-in visitor of this request (read once), or None."""
    if not hasattr(request.state, "visitor"):
        settings: Settings = request.app.state.settings
        token = request.cookies.get(SESSION_COOKIE)
        user = sessions.user_for_token(settings, token, "web")
        request.state.visitor = Visitor(user, token, sessions.csrf_token(settings, token)) if user else None
    return request.state.visitor


def signed_in(request: Request) -> Visitor:
    """FastAPI dependency of every page that needs a session."""
    visitor = visitor_of(request)
    if visitor is None:
        raise SignInRequired()
    return visitor


def csrf_ok(request: Request, submitted: str | None) -> bool:
    visitor = visitor_of(request)
    if visitor is not None:
        return sessions.csrf_valid(request.app.state.settings, visitor.token, submitted)
    expected = request.cookies.get(ANONYMOUS_CSRF_COOKIE)
    return bool(expected and submitted and hmac.compare_digest(expected, submitted))


def anonymous_csrf(request: Request) -> str:
    """The pre-session CSRF token (the cookie's value, or a new one set on the response)."""
    token = request.cookies.get(ANONYMOUS_CSRF_COOKIE) or secrets.token_urlsafe(24)
    request.state.anonymous_csrf = token
    return token


def _secure(request: Request) -> bool:
    return request.app.state.settings.public_url.startswith("https://")


def set_anonymous_csrf(request: Request, response: Response) -> None:
    response.set_cookie(ANONYMOUS_CSRF_COOKIE, request.state.anonymous_csrf, httponly=True, samesite="lax",
                        secure=_secure(request), path=SIGN_IN_PATH)


def set_session(request: Request, response: Response, token: str) -> None:
    response.set_cookie(SESSION_COOKIE, token, httponly=True, samesite="lax", secure=_secure(request), path="/")
    response.delete_cookie(ANONYMOUS_CSRF_COOKIE, path=SIGN_IN_PATH)


def end_session(request: Request, response: Response) -> None:
    sessions.revoke(request.app.state.settings, request.cookies.get(SESSION_COOKIE))
    response.delete_cookie(SESSION_COOKIE, path="/")
