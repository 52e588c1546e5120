"""What every router needs: the settings, a database session, the Temporal client, the user."""
from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import OAuth2PasswordBearer
from temporalio.client import Client

from eaflow.api.problems import Problem
from eaflow.services import sessions
from eaflow.services.roles import NOT_ALLOWED
from eaflow.settings import Settings
from eaflow.store.models import User

oauth2 = OAuth2PasswordBearer(tokenUrl="/api/v1/auth/token", auto_error=False)


def get_settings(request: Request) -> Settings:
    return request.app.state.settings


async def get_temporal(request: Request) -> Client:
    return await request.app.state.temporal.client()


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def current_user(token: Annotated[str | None, Depends(oauth2)],
                 settings: Annotated[Settings, Depends(get_settings)]) -> User:
    """The signed-in user, read in a short transaction of its own (never held across a request)."""
    user = sessions.user_for_token(settings, token, "api")
    if user is None:
        raise Problem(401, "Identifiez-vous : jeton absent, invalide ou expiré.",
                      headers={"WWW-Authenticate": "Bearer"})
    return user


def require(*roles: str):
    def check(user: Annotated[User, Depends(current_user)]) -> User:
        if user.role not in roles:
            raise Problem(403, NOT_ALLOWED)
        return user

    return check


SettingsDep = Annotated[Settings, Depends(get_settings)]
UserDep = Annotated[User, Depends(current_user)]
TemporalDep = Annotated[Client, Depends(get_temporal)]
