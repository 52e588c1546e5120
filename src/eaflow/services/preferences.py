""""Mes préférences": which mails a counsellor or a manager receives.

Each kind of mail the staff gets (notifications/registry.py `STAFF_MAILS`) can be turned off, except
those a rule makes mandatory (shown with their rule). A counsellor may also choose to read their tasks
in the weekly digest instead of one mail per task: the mails that announce a task are then not sent
(the digest lists the task), the others still are unless turned off. The journey's mail activity
reads the same row and the same rule (`staff_mail_skipped`) when it resolves the staff recipients
(activities/notify.py).
"""
from __future__ import annotations

from typing import Any, Iterable

from eaflow.notifications.registry import DIGEST_ROLES, STAFF_MAILS
from eaflow.services import roles
from eaflow.services.admin_audit import audit_account
from eaflow.services.db import db_scope
from eaflow.services.refusals import Refusal
from eaflow.settings import Settings
from eaflow.store.accounts import MailPreference
from eaflow.store.models import User, utcnow


def kinds_for(role: str) -> dict[str, Any]:
    """The staff mail kinds this role receives, in the registry's order."""
    return {kind: mail for kind, mail in STAFF_MAILS.items() if role in mail.roles}


def preferences_of(settings: Settings, user: User) -> dict[str, Any]:
    roles.check(user, roles.STAFF)
    with db_scope(settings) as session:
        row = session.get(MailPreference, user.id)
        muted = set(row.muted_kinds) if row else set()
        digest_instead = bool(row and row.digest_instead) and user.role in DIGEST_ROLES
    return {
        "digest_available": user.role in DIGEST_ROLES,
        "digest_instead": digest_instead,
        "kinds": [{"kind": kind, "label": mail.label, "mandatory": mail.mandatory is not None, "rule": mail.mandatory,
                   "in_digest": mail.in_digest, "receive": mail.mandatory is not None or kind not in muted}
                  for kind, mail in kinds_for(user.role).items()],
    }


def save_preferences(settings: Settings, user: User, *, muted_kinds: Iterable[str],
                     digest_instead: bool = False) -> dict[str, Any]:
    """Keep the kinds turned off and the digest choice; a mandatory or unknown kind is refused."""
    roles.check(user, roles.STAFF)
    mine = kinds_for(user.role)
    muted = sorted(set(muted_kinds))
    errors = []
    for kind in muted:
        if kind not in mine:
            errors.append({"field": "muted_kinds", "message": f"« {kind} » n'est pas un courriel que vous recevez."})
        elif mine[kind].mandatory:
            errors.append({"field": "muted_kinds", "message": f"« {mine[kind].label} » est obligatoire "
                                                              f"(règle {mine[kind].mandatory}) : il reste envoyé."})
    if digest_instead and user.role not in DIGEST_ROLES:
        errors.append({"field": "digest_instead", "message": "Le point de la semaine n'est envoyé qu'aux conseillers."})
    if errors:
        rule = next((mine[k].mandatory for k in muted if k in mine and mine[k].mandatory), None)
        raise Refusal(422, "Vos préférences ne sont pas enregistrées.", errors=errors, rule=rule)
    with db_scope(settings) as session:
        row = session.get(MailPreference, user.id) or MailPreference(user_id=user.id)
        before = {"muted_kinds": list(row.muted_kinds or []), "digest_instead": bool(row.digest_instead)}
        row.muted_kinds, row.digest_instead, row.updated_at = muted, bool(digest_instead), utcnow()
        session.add(row)
        after = {"muted_kinds": muted, "digest_instead": bool(digest_instead)}
        if after != before:
            audit_account(session, "mail_preferences_changed", actor_id=user.id, platform_id=user.platform_id,
                          user_id=user.id, **after)
    return preferences_of(settings, user)
