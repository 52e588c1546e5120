"""What every router needs: the settings, a database session, the Temporal client, the user."""
from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta, timezone
from contextlib import contextmanager
from typing import Annotated, Iterator

from fastapi import Depends, Request
from fastapi.security import OAuth2PasswordBearer
from sqlalchemy.exc import OperationalError
from sqlmodel import Session
from temporalio.client import Client

from eaflow.api.problems import Problem
from eaflow.settings import Settings
from eaflow.store.db import engine_for, session_scope
from eaflow.store.models import AccessToken, User

oauth2 = OAuth2PasswordBearer(tokenUrl="/api/v1/auth/token", auto_error=False)


def get_settings(request: Request) -> Settings:
    return request.app.state.settings


def get_session(settings: Annotated[Settings, Depends(get_settings)]) -> Iterator[Session]:
    with Session(engine_for(settings.db_url, settings.db_busy_timeout_seconds), expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except OperationalError as error:
            session.rollback()
            raise Problem(503, "La base de données ne répond pas ; réessayez dans un instant.") from error
        except BaseException:
            session.rollback()
            raise


async def get_temporal(request: Request) -> Client:
    client = await request.app.state.temporal.get()
    if client is None:
        raise Problem(503, "Le moteur de parcours (Temporal) ne répond pas ; réessayez dans un instant.")
    return client


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue_token(session: Session, user: User, ttl_hours: int) -> str:
    token = secrets.token_urlsafe(32)
    session.add(AccessToken(token_hash=token_hash(token), user_id=user.id,
                            expires_at=datetime.now(timezone.utc) + timedelta(hours=ttl_hours)))
    return token


def current_user(token: Annotated[str | None, Depends(oauth2)],
                 settings: Annotated[Settings, Depends(get_settings)]) -> User:
    """The signed-in user, read in a short transaction of its own (never held across a request)."""
    unauthorized = Problem(401, "Identifiez-vous : jeton absent, invalide ou expiré.",
                           headers={"WWW-Authenticate": "Bearer"})
    if not token:
        raise unauthorized
    with db_scope(settings) as session:
        row = session.get(AccessToken, token_hash(token))
        user = session.get(User, row.user_id) if row else None
    if row is None or user is None or not user.active:
        raise unauthorized
    expires = row.expires_at if row.expires_at.tzinfo else row.expires_at.replace(tzinfo=timezone.utc)
    if expires < datetime.now(timezone.utc):
        raise unauthorized
    return user


@contextmanager
def db_scope(settings: Settings) -> Iterator[Session]:
    """A short transaction; a database that does not answer becomes a 503 problem."""
    try:
        with session_scope(settings.db_url, settings.db_busy_timeout_seconds) as session:
            yield session
    except OperationalError as error:
        raise Problem(503, "La base de données ne répond pas ; réessayez dans un instant.") from error


def require(*roles: str):
    def check(user: Annotated[User, Depends(current_user)]) -> User:
        if user.role not in roles:
            raise Problem(403, "Votre rôle ne permet pas cette action.")
        return user

    return check


SessionDep = Annotated[Session, Depends(get_session)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
UserDep = Annotated[User, Depends(current_user)]
TemporalDep = Annotated[Client, Depends(get_temporal)]
STAFF = ("counsellor", "manager")
