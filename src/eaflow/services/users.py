"""The accounts of a platform, kept by its administrators: list them, create one (no password: a
one-use link to choose it is mailed), change a role or an FTE, disable and re-enable.

The rules of an account are those of eaflow/accounts.py (roles, address, FTE: the CLI's), with French
messages beside their fields. Disabling ends every session and API token of the account at once and
closes its password links; an administrator can neither disable their own account nor give up their
own role. Every change is in the audit trail (services/admin_audit.py).
"""
from __future__ import annotations

import secrets
from datetime import datetime
from typing import Any

from fastapi.concurrency import run_in_threadpool
from sqlalchemy import func
from sqlmodel import Session, select

from eaflow import accounts
from eaflow.services import password_links, roles, sessions
from eaflow.services.admin_audit import audit_account
from eaflow.services.db import db_scope
from eaflow.services.refusals import Refusal
from eaflow.settings import Settings
from eaflow.store.accounts import SignInAttempt, record_staffing
from eaflow.store.models import CLOSED_STATES, Journey, User, aware

# An account that never chose its password: no password verifies against an empty hash.
NO_PASSWORD = ""
MAX_NAME = 200
INVALID = "Le compte n'est pas enregistré : corrigez les champs signalés."
NOT_FOUND = "Ce compte n'existe pas."


def _fte(value: Any) -> Any:
    """An FTE as typed in French ("0,8") or sent as a number."""
    return value.strip().replace(",", ".") if isinstance(value, str) else value


def _checked_role_and_fte(role: str, fte: Any, errors: list[dict[str, str]]) -> float | None:
    if role not in accounts.ROLES:
        errors.append({"field": "role", "message": "Choisissez un rôle de la liste."})
        return None
    try:
        return accounts.check_role_and_fte(role, _fte(fte))
    except ValueError:
        message = ("Pour un conseiller, indiquez un temps de travail (ETP) supérieur à 0 et d'au plus 1, par "
                   "exemple 0,8 : il fixe sa capacité d'accompagnement (R7)." if role == "counsellor"
                   else "Indiquez un temps de travail (ETP) entre 0 et 1, par exemple 0,5, ou laissez vide.")
        errors.append({"field": "fte", "message": message})
        return None


def _view(user: User, last_sign_in: datetime | None = None) -> dict[str, Any]:
    return {"id": user.id, "email": user.email, "name": user.display_name, "role": user.role, "fte": user.fte,
            "operator": user.operator_id, "active": user.active, "platform": user.platform_id, "password_set": user.password_hash != NO_PASSWORD,
            "last_sign_in": aware(last_sign_in), "created_at": aware(user.created_at)}


def _last_sign_ins(session: Session, user_ids: list[str]) -> dict[str, datetime]:
    if not user_ids:
        return {}
    return dict(session.exec(select(SignInAttempt.user_id, func.max(SignInAttempt.at)).where(
        SignInAttempt.user_id.in_(user_ids), SignInAttempt.outcome == "success").group_by(SignInAttempt.user_id)).all())


def _of_platform(session: Session, admin: User, user_id: str) -> User:
    user = session.get(User, user_id)
    if user is None or user.platform_id != admin.platform_id:
        raise Refusal(404, NOT_FOUND)
    return user


def followed_persons(session: Session, user: User) -> int:
    """R8: the persons whose counsellor this account is, in journeys not closed (veille included)."""
    return session.exec(select(func.count()).select_from(Journey).where(
        Journey.counsellor_id == user.id, Journey.state.not_in(tuple(CLOSED_STATES)))).one()


def list_users(settings: Settings, admin: User) -> list[dict[str, Any]]:
    """The accounts of the administrator's platform: active first, then by role and name."""
    roles.check(admin, roles.ADMINS)
    with db_scope(settings) as session:
        users = session.exec(select(User).where(User.platform_id == admin.platform_id)).all()
        last = _last_sign_ins(session, [u.id for u in users])
        order = {role: n for n, role in enumerate(("admin", "manager", "counsellor", "prescriber"))}
        users = sorted(users, key=lambda u: (not u.active, order.get(u.role, 9), (u.display_name or u.email).lower()))
        return [_view(user, last.get(user.id)) for user in users]


def get_user(settings: Settings, admin: User, user_id: str) -> dict[str, Any]:
    roles.check(admin, roles.ADMINS)
    with db_scope(settings) as session:
        user = _of_platform(session, admin, user_id)
        view = _view(user, _last_sign_ins(session, [user.id]).get(user.id))
        view["followed_persons"] = followed_persons(session, user) if user.role == "counsellor" else 0
        return view


def _checked_operator(session: Session, admin: User, role: str, operator: str | None,
                      errors: list[dict[str, str]]) -> str | None:
    """The operator of a counsellor or manager (the chef de file when none is chosen); None for others."""
    if role not in accounts.OPERATOR_ROLES:
        return None
    try:
        return accounts.find_operator(session, admin.platform_id, operator).id
    except ValueError:
        errors.append({"field": "operator", "message": "Choisissez un opérateur de la plateforme."})
        return None


async def create_user(settings: Settings, admin: User, *, email: str, name: str, role: str,
                      fte: Any = None, operator: str | None = None) -> dict[str, Any]:
    """A new account of the administrator's platform, without a password: a link to choose it is
    mailed at once. The answer says whether the mail left (`password_link_sent`)."""
    roles.check(admin, roles.ADMINS)
    errors: list[dict[str, str]] = []
    name = " ".join((name or "").split())
    if not name:
        errors.append({"field": "name", "message": "Indiquez le prénom et le nom de la personne."})
    elif len(name) > MAX_NAME:
        errors.append({"field": "name", "message": f"Au plus {MAX_NAME} caractères."})
    try:
        email = accounts.check_email(email)
    except ValueError:
        errors.append({"field": "email", "message": "Indiquez une adresse électronique valide, par exemple "
                                                     "prenom.nom@plateforme.fr."})
    fte_value = _checked_role_and_fte(role, fte, errors)
    with db_scope(settings) as session:
        _checked_operator(session, admin, role, operator, errors)
    if errors:
        raise Refusal(422, INVALID, errors=errors)

    def write():
        with db_scope(settings) as session:
            if accounts.find_user_by_email(session, email) is not None:
                raise Refusal(409, INVALID, errors=[{"field": "email",
                                                     "message": "Un compte existe déjà avec cette adresse."}])
            # accounts.create_user wants a password: a random one nobody knows, replaced at once by none.
            user = accounts.create_user(session, email, role, secrets.token_urlsafe(32),
                                        platform_id=admin.platform_id, fte=fte_value, display_name=name,
                                        operator=operator)
            user.password_hash = NO_PASSWORD
            session.add(user)
            audit_account(session, "user_created", actor_id=admin.id, platform_id=user.platform_id, user_id=user.id,
                          role=user.role, fte=user.fte)
            issued = password_links.issue(session, settings, user, admin.id)
            audit_account(session, "password_link_sent", actor_id=admin.id, platform_id=user.platform_id,
                          user_id=user.id, link_id=issued.link_id, welcome=True)
            params = password_links.mail_params(settings, session, user, issued, welcome=True)
            session.flush()
            return _view(user), issued, params

    view, issued, params = await run_in_threadpool(write)
    view["password_link_sent"] = await password_links.send(settings, issued, view["email"], params)
    return view


def change_user(settings: Settings, admin: User, user_id: str, *, role: str | None = None, fte: Any = None,
                active: bool | None = None, operator: str | None = None) -> dict[str, Any]:
    """Change the role, the FTE, the operator or whether the account is active; what is None stays as it
    is. A counsellor who moves to another operator takes the persons they follow along (R8: one
    counsellor, and the person belongs to that counsellor's operator)."""
    roles.check(admin, roles.ADMINS)
    with db_scope(settings) as session:
        user = _of_platform(session, admin, user_id)
        before = {"role": user.role, "fte": user.fte, "active": user.active, "operator": user.operator_id}
        new_role = role if role is not None else user.role
        errors: list[dict[str, str]] = []
        new_fte = _checked_role_and_fte(new_role, fte if fte is not None else user.fte, errors)
        new_operator = _checked_operator(session, admin, new_role, operator or user.operator_id, errors)
        if errors:
            raise Refusal(422, INVALID, errors=errors)
        if user.id == admin.id and new_role != user.role:
            own = "Vous ne pouvez pas changer votre propre rôle : demandez-le à un autre administrateur."
            raise Refusal(409, own, errors=[{"field": "role", "message": own}])
        if user.id == admin.id and active is False:
            raise Refusal(409, "Vous ne pouvez pas désactiver votre propre compte : demandez-le à un autre "
                               "administrateur.")
        if user.role == "counsellor" and new_role != "counsellor":
            followed = followed_persons(session, user)
            if followed:
                why = (f"Ce conseiller accompagne encore {followed} personne{'s' if followed > 1 else ''} : un "
                       "responsable doit d'abord leur désigner un autre conseiller (R8), puis son rôle pourra changer.")
                raise Refusal(409, why, rule="R8", errors=[{"field": "role", "message": why}])
        user.role, user.fte, user.operator_id = new_role, new_fte, new_operator
        ended = 0
        if active is not None and active != user.active:
            user.active = active
            if not active:
                ended = sessions.revoke_all(session, user.id)
                password_links.close_links(session, user.id, "account_disabled")
        session.add(user)
        after = {"role": user.role, "fte": user.fte, "active": user.active, "operator": user.operator_id}
        if after != before:
            record_staffing(session, user)  # R20: the quarters to come read the new staffing
            changed = {key: [before[key], after[key]] for key in before if before[key] != after[key]}
            if set(changed) - {"active"}:
                audit_account(session, "user_changed", actor_id=admin.id, platform_id=user.platform_id,
                              user_id=user.id, changes={k: v for k, v in changed.items() if k != "active"})
            if "active" in changed:
                audit_account(session, "user_enabled" if user.active else "user_disabled", actor_id=admin.id,
                              platform_id=user.platform_id, user_id=user.id,
                              **({} if user.active else {"sessions_ended": ended}))
        view = _view(user, _last_sign_ins(session, [user.id]).get(user.id))
        view["followed_persons"] = followed_persons(session, user) if user.role == "counsellor" else 0
        return view


def end_sessions(settings: Settings, admin: User, user_id: str) -> dict[str, Any]:
    """End every session (pages) and API token of one account of the platform now, e.g. a lost
    laptop or a phone left signed in; the account stays active and its password unchanged."""
    roles.check(admin, roles.ADMINS)
    with db_scope(settings) as session:
        user = _of_platform(session, admin, user_id)
        ended = sessions.revoke_all(session, user.id)
        audit_account(session, "sessions_ended", actor_id=admin.id, platform_id=user.platform_id, user_id=user.id,
                      sessions_ended=ended)
        return {"id": user.id, "sessions_ended": ended}
