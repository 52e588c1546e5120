"""Signing in and staying signed in: one revocable token store for the API's bearer tokens and the
pages' sessions, and the sign-in throttle both share.

A token is random, shown once, stored as its SHA-256 (`AccessToken`); deleting its row revokes it,
and a disabled account's tokens stop working at once (the user is read with the token). A web session
ends after the policy's idle timeout (`[accounts] session_idle_timeout`) and in any case at the end of
its lifetime (`session_lifetime`); an API token likewise (`api_token_idle_timeout`, `api_token_lifetime`).

Every attempt to sign in is recorded (`SignInAttempt`: the audit trail of sign-ins). After
`sign_in_max_failures` failures for one account, or from one address, within
`sign_in_failure_window`, sign-in is refused with a 429 and the number of seconds to wait, even with
the right password, until the oldest of those failures leaves the window. A success clears the
account's count (not the address's: one valid account must not unlock an address that guesses
others' passwords). A refused attempt is recorded as "throttled" and does not extend the wait.
"""
from __future__ import annotations

import hashlib
import hmac
import math
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING

from sqlalchemy import delete, func
from sqlmodel import Session, select

from eaflow.accounts import (
    find_user_by_email,
    hash_password,
    password_needs_rehash,
    verify_password,
)
from eaflow.durations import Duration
from eaflow.policy import AccountsPolicy, load_policy
from eaflow.services.db import db_scope
from eaflow.services.refusals import Refusal
from eaflow.settings import Settings
from eaflow.signing import reading_keys
from eaflow.store.accounts import SignInAttempt
from eaflow.store.models import AccessToken, User, aware

WRONG_CREDENTIALS = "Adresse électronique ou mot de passe incorrect."
# A session's last use is written at most this often (not on every page).
TOUCH_EVERY = timedelta(minutes=1)
# The policy's limits of each kind of token: a web session (the pages' cookie), an API bearer token.
IDLE_TIMEOUT = {"web": "session_idle_timeout", "api": "api_token_idle_timeout"}
LIFETIME = {"web": "session_lifetime", "api": "api_token_lifetime"}


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _now() -> datetime:
    return datetime.now(timezone.utc)


def accounts_policy(settings: Settings) -> AccountsPolicy:
    return load_policy(settings.policy_file).accounts


def _window(policy: AccountsPolicy) -> timedelta:
    now = _now()
    return now - Duration.parse(policy.sign_in_failure_window).before(now)


# ------------------------------------------------------------------------------- the throttle
def _failures_since(session: Session, since: datetime, **who: str) -> list[datetime]:
    column = getattr(SignInAttempt, next(iter(who)))
    rows = session.exec(select(SignInAttempt.at).where(
        column == next(iter(who.values())), SignInAttempt.at >= since, SignInAttempt.outcome == "failure")
        .order_by(SignInAttempt.at)).all()
    return [aware(at) for at in rows]


def retry_after(session: Session, policy: AccountsPolicy, email: str, address: str) -> int | None:
    """Seconds to wait before this account or this address may try again, or None."""
    window = _window(policy)
    now = _now()
    since = now - window
    last_success = session.exec(select(func.max(SignInAttempt.at)).where(
        SignInAttempt.email == email, SignInAttempt.outcome == "success")).one()
    account_since = max(since, aware(last_success)) if last_success else since
    waits = []
    for failures in (_failures_since(session, account_since, email=email),
                     _failures_since(session, since, address=address)):
        if len(failures) >= policy.sign_in_max_failures:
            # the oldest failure that keeps the count at the limit leaves the window then
            leaves = failures[len(failures) - policy.sign_in_max_failures] + window
            waits.append(max(1, math.ceil((leaves - now).total_seconds())))
    return max(waits) if waits else None


def too_many_attempts(seconds: int) -> Refusal:
    minutes = max(1, math.ceil(seconds / 60))
    return Refusal(429, f"Trop de tentatives de connexion. Par sécurité, la connexion est suspendue : réessayez dans "
                        f"{minutes} minute{'s' if minutes > 1 else ''}.", headers={"Retry-After": str(seconds)},
                   retry_after=seconds)


# ------------------------------------------------------------------------------- signing in
@dataclass(frozen=True)
class SignedIn:
    user: User
    token: str


if TYPE_CHECKING:
    from eaflow.services.second_factor import SecondStep


def sign_in(settings: Settings, email: str, password: str, *, address: str, via: str,
            otp: str | None = None) -> SignedIn | SecondStep:
    """Check the password, throttled; open a session of kind `via` ("api" or "web") and return its
    token. Every attempt is recorded. A 401 never says whether the account exists. With a second
    factor (eaflow/services/second_factor.py) the API needs `otp` too, and the pages get a
    `SecondStep` (a pending token, not a session) instead."""
    from eaflow.services import second_factor  # it builds on this module
    email = (email or "").strip().lower()[:320]
    policy = accounts_policy(settings)
    with db_scope(settings) as session:
        wait = retry_after(session, policy, email, address)
        user = find_user_by_email(session, email) if email else None
        if wait is not None:
            session.add(SignInAttempt(email=email, user_id=user.id if user else None, address=address, via=via,
                                      outcome="throttled"))
            refusal = too_many_attempts(wait)
        elif user is None or not user.active or not verify_password(user.password_hash, password):
            session.add(SignInAttempt(email=email, user_id=user.id if user else None, address=address, via=via,
                                      outcome="failure"))
            refusal = Refusal(401, WRONG_CREDENTIALS, headers={"WWW-Authenticate": "Bearer"} if via == "api" else None)
        else:
            if password_needs_rehash(user.password_hash):
                user.password_hash = hash_password(password)
                session.add(user)
            step = second_factor.after_password(session, settings, user, otp=otp, via=via, address=address)
            if isinstance(step, second_factor.SecondStep):
                return step
            if step is None:
                session.add(SignInAttempt(email=email, user_id=user.id, address=address, via=via, outcome="success"))
                return SignedIn(user, issue_token(session, user, via, settings))
            refusal = step
    raise refusal  # after the commit: the attempt is recorded


def issue_token(session: Session, user: User, kind: str, settings: Settings) -> str:
    now = _now()
    expires = Duration.parse(getattr(accounts_policy(settings), LIFETIME[kind])).after(now)
    token = secrets.token_urlsafe(32)
    session.add(AccessToken(token_hash=token_hash(token), user_id=user.id, kind=kind, created_at=now,
                            expires_at=expires, last_used_at=now))
    return token


def user_for_token(settings: Settings, token: str | None, kind: str) -> User | None:
    """The active user a live token of this kind belongs to, or None. Its last use is recorded (at
    most once a minute) for its idle expiry."""
    if not token:
        return None
    now = _now()
    with db_scope(settings) as session:
        row = session.get(AccessToken, token_hash(token))
        if row is None or row.kind != kind or aware(row.expires_at) <= now:
            return None
        idle = Duration.parse(getattr(accounts_policy(settings), IDLE_TIMEOUT[kind]))
        last = aware(row.last_used_at or row.created_at)
        if idle.after(last) <= now:
            session.delete(row)
            return None
        if now - last >= TOUCH_EVERY:
            row.last_used_at = now
            session.add(row)
        user = session.get(User, row.user_id)
        if user is None or not user.active:
            return None
        if user.role in accounts_policy(settings).second_factor_roles:
            from eaflow.services import second_factor  # it builds on this module

            if not second_factor.confirmed_in(session, user.id):  # opened before the policy required one
                session.delete(row)
                return None
        return user


def revoke(settings: Settings, token: str | None) -> None:
    """End this session (or API token) now."""
    if token:
        with db_scope(settings) as session:
            session.exec(delete(AccessToken).where(AccessToken.token_hash == token_hash(token)))


def revoke_all(session: Session, user_id: str) -> int:
    """End every session and API token of this user now, in the caller's transaction (a disabled
    account, a new password set through a link). Returns how many ended."""
    return session.exec(delete(AccessToken).where(AccessToken.user_id == user_id)).rowcount or 0


def _csrf(key: bytes, session_token: str) -> str:
    return hmac.new(key, b"csrf:" + session_token.encode(), hashlib.sha256).hexdigest()


def csrf_token(settings: Settings, session_token: str) -> str:
    """The CSRF token of a web session: bound to it, never stored, unguessable without the key."""
    return _csrf(reading_keys(settings)[0], session_token)


def csrf_valid(settings: Settings, session_token: str, candidate: str | None) -> bool:
    """Whether `candidate` is this session's CSRF token (under the current key or one it replaced)."""
    return bool(candidate) and any(hmac.compare_digest(_csrf(key, session_token), candidate)
                                   for key in reading_keys(settings))
