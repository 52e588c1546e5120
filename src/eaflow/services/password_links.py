"""Choosing one's password through a one-use link sent by mail: to a new account, or when an
administrator asks for a reset ("Envoyer un lien de réinitialisation").

The link is `EAFLOW_PUBLIC_URL/mot-de-passe/<token>`: a random token, shown only in the mail and
stored only as its SHA-256 (`PasswordLink`), valid for `[accounts] password_link_validity`. A new link
replaces the user's earlier ones; disabling the account closes them. Using it sets the password and
ends every session and API token of the user (whoever held the old password is out), in one
transaction that closes the link first: two submissions of the same link set one password. Until the
link is used the current password, if any, still works: asking for a reset locks no one out.

The mail goes through the outbox (notifications/outbox.py) keyed by the link, so it leaves once and
carries a stable Message-ID; an SMTP server that does not answer leaves the link unused (the
administrator sends another).
"""
from __future__ import annotations

import hashlib
import logging
import secrets
from dataclasses import dataclass
from datetime import datetime, timezone

from fastapi.concurrency import run_in_threadpool
from sqlalchemy import update
from sqlmodel import Session, select

from eaflow.accounts import hash_password
from eaflow.durations import Duration
from eaflow.notifications.outbox import deliver
from eaflow.password_rule import password_problems
from eaflow.services import sessions
from eaflow.services.admin_audit import audit_account
from eaflow.services.db import db_scope
from eaflow.services.policy_words import duration_words
from eaflow.services.refusals import Refusal
from eaflow.settings import Settings
from eaflow.store.accounts import PasswordLink
from eaflow.store.models import Platform, User, aware

log = logging.getLogger("eaflow.accounts")

PATH = "/mot-de-passe"
MAIL_KIND = "password_link"


def check_new_password(password: str, confirmation: str, *, name: str = "", email: str = "") -> list[dict[str, str]]:
    """Field errors of a new password and its confirmation (empty when both are right); the rule
    itself is eaflow.password_rule's."""
    errors = [{"field": "password", "message": problem}
              for problem in password_problems(password, name=name, email=email)]
    if password and (confirmation or "") != password:
        errors.append({"field": "confirmation", "message": "Les deux saisies ne sont pas identiques : recommencez."})
    return errors


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _now() -> datetime:
    return datetime.now(timezone.utc)


@dataclass(frozen=True)
class Issued:
    link_id: int
    token: str
    expires_at: datetime


def issue(session: Session, settings: Settings, user: User, created_by: str | None) -> Issued:
    """A new link for `user`, in the caller's transaction; their earlier open links are replaced."""
    now = _now()
    close_links(session, user.id, "replaced", now)
    token = secrets.token_urlsafe(32)
    validity = Duration.parse(sessions.accounts_policy(settings).password_link_validity)
    link = PasswordLink(token_hash=_hash(token), user_id=user.id, created_at=now, created_by=created_by,
                        expires_at=validity.after(now))
    session.add(link)
    session.flush()
    return Issued(link.id, token, link.expires_at)


def close_links(session: Session, user_id: str, how: str, now: datetime | None = None) -> None:
    """Close every open link of the user: `replaced` by a new one, or `account_disabled`."""
    session.exec(update(PasswordLink).where(PasswordLink.user_id == user_id, PasswordLink.closed_at.is_(None))
                 .values(closed_at=now or _now(), closed_how=how))


def mail_params(settings: Settings, session: Session, user: User, issued: Issued, welcome: bool) -> dict:
    platform = session.get(Platform, user.platform_id) if user.platform_id else None
    return {
        "recipient_name": user.display_name or user.email, "email": user.email,
        "link_url": f"{settings.public_url}{PATH}/{issued.token}",
        "validity": duration_words(sessions.accounts_policy(settings).password_link_validity),
        "expires_at": issued.expires_at, "welcome": welcome, "sign_in_url": f"{settings.public_url}/connexion",
        **({"platform_name": platform.name} if platform else {}),
    }


async def send(settings: Settings, issued: Issued, to: str, params: dict) -> bool:
    """Mail the link once (outbox key `password-link/<link id>`); False when the SMTP server did not
    take it (logged; the link stays unused and the administrator may send another)."""
    try:
        await deliver(settings, key=f"password-link/{issued.link_id}", kind=MAIL_KIND, to=to, params=params)
        return True
    except Exception:  # noqa: BLE001 - any SMTP or network failure: the caller says so in French
        log.warning("password link %s: the mail could not be sent", issued.link_id, exc_info=True)
        return False


async def send_new_link(settings: Settings, admin: User, user_id: str, *, welcome: bool = False) -> bool:
    """An administrator sends `user_id` (of their platform, active) a new link. False: mail not sent."""
    def prepare():
        with db_scope(settings) as session:
            user = session.get(User, user_id)
            if user is None or user.platform_id != admin.platform_id:
                raise Refusal(404, "Ce compte n'existe pas.")
            if not user.active:
                raise Refusal(409, "Ce compte est désactivé : réactivez-le avant d'envoyer un lien.")
            issued = issue(session, settings, user, admin.id)
            audit_account(session, "password_link_sent", actor_id=admin.id, platform_id=user.platform_id,
                          user_id=user.id, link_id=issued.link_id, welcome=welcome)
            return issued, user.email, mail_params(settings, session, user, issued, welcome)

    issued, to, params = await run_in_threadpool(prepare)
    return await send(settings, issued, to, params)


# ------------------------------------------------------------------------------- the link's page
INVALID = {
    "unknown": (404, "Ce lien n'est pas valable. Vérifiez qu'il est complet, ou demandez-en un nouveau à "
                     "l'administrateur de la plateforme."),
    "used": (410, "Ce lien a déjà servi : votre mot de passe est enregistré. Connectez-vous avec lui, ou demandez "
                  "un nouveau lien à l'administrateur de la plateforme si vous l'avez oublié."),
    "replaced": (410, "Ce lien a été remplacé par un lien plus récent : utilisez le dernier courriel reçu."),
    "account_disabled": (410, "Ce compte est désactivé : ce lien ne sert plus."),
    "expired": (410, "Ce lien a expiré. Demandez-en un nouveau à l'administrateur de la plateforme."),
}


def _refusal(why: str) -> Refusal:
    status, detail = INVALID[why]
    return Refusal(status, detail, reason=why)


def _open_link(session: Session, token: str, now: datetime) -> tuple[PasswordLink, User]:
    link = session.exec(select(PasswordLink).where(PasswordLink.token_hash == _hash(token or ""))).first()
    if link is None:
        raise _refusal("unknown")
    if link.closed_at is not None:
        raise _refusal(link.closed_how if link.closed_how in INVALID else "used")
    user = session.get(User, link.user_id)
    if user is None or not user.active:
        raise _refusal("account_disabled")
    if aware(link.expires_at) <= now:
        raise _refusal("expired")
    return link, user


def link_holder(settings: Settings, token: str) -> dict:
    """Whose link this is (the address it was sent to), or the refusal that says why it does not work."""
    with db_scope(settings) as session:
        link, user = _open_link(session, token, _now())
        return {"email": user.email, "name": user.display_name, "expires_at": aware(link.expires_at)}


def set_password(settings: Settings, token: str, password: str, confirmation: str) -> None:
    """Set the password of the link's user, once; end every session and API token they had."""
    holder = link_holder(settings, token)  # a dead link says so before the form's errors, and before argon2
    errors = check_new_password(password, confirmation, name=holder["name"], email=holder["email"])
    if errors:
        raise Refusal(422, "Le mot de passe n'est pas enregistré.", errors=errors)
    password_hash = hash_password(password)
    with db_scope(settings) as session:
        now = _now()
        link, user = _open_link(session, token, now)
        closed = session.exec(update(PasswordLink).where(PasswordLink.id == link.id, PasswordLink.closed_at.is_(None))
                              .values(closed_at=now, closed_how="used")).rowcount
        if closed != 1:  # another submission of the same link won the race
            raise _refusal("used")
        user.password_hash = password_hash
        session.add(user)
        ended = sessions.revoke_all(session, user.id)
        audit_account(session, "password_set", actor_id=None, actor_kind="link", platform_id=user.platform_id,
                      user_id=user.id, link_id=link.id, sessions_ended=ended)
