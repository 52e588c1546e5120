"""The platform's details as its administrators see and keep them: name, département, operator and
mailbox (the address the platform's mails go to besides the managers). The département is the
platform's identity (one per département, its id `pf-35`): it does not change here."""
from __future__ import annotations

from typing import Any

from sqlmodel import select

from eaflow import accounts
from eaflow.services import roles
from eaflow.services.admin_audit import audit_account
from eaflow.services.db import db_scope
from eaflow.services.refusals import Refusal
from eaflow.settings import Settings
from eaflow.store.models import Operator, Platform, User

MAX_LENGTH = 200


def _view(platform: Platform) -> dict[str, Any]:
    return {"id": platform.id, "department": platform.department, "name": platform.name,
            "operator": platform.operator, "mailbox": platform.mailbox}


def platform_of(settings: Settings, admin: User) -> dict[str, Any]:
    roles.check(admin, roles.ADMINS)
    with db_scope(settings) as session:
        platform = session.get(Platform, admin.platform_id) if admin.platform_id else None
        if platform is None:
            raise Refusal(404, "Votre compte n'est rattaché à aucune plateforme.")
        return _view(platform)


def change_platform(settings: Settings, admin: User, *, name: str, operator: str, mailbox: str) -> dict[str, Any]:
    roles.check(admin, roles.ADMINS)
    name, operator, mailbox = (" ".join((value or "").split()) for value in (name, operator, mailbox))
    errors = []
    if not name:
        errors.append({"field": "name", "message": "Indiquez le nom de la plateforme."})
    for field, value in (("name", name), ("operator", operator)):
        if len(value) > MAX_LENGTH:
            errors.append({"field": field, "message": f"Au plus {MAX_LENGTH} caractères."})
    if mailbox:
        try:
            mailbox = accounts.check_email(mailbox)
        except ValueError:
            errors.append({"field": "mailbox", "message": "Indiquez une adresse électronique valide, par exemple "
                                                          "contact@plateforme.fr, ou laissez vide."})
    if errors:
        raise Refusal(422, "Les informations de la plateforme ne sont pas enregistrées : corrigez les champs "
                           "signalés.", errors=errors)
    with db_scope(settings) as session:
        platform = session.get(Platform, admin.platform_id) if admin.platform_id else None
        if platform is None:
            raise Refusal(404, "Votre compte n'est rattaché à aucune plateforme.")
        before = _view(platform)
        platform.name, platform.operator, platform.mailbox = name, operator, mailbox
        session.add(platform)
        lead = session.exec(select(Operator).where(Operator.platform_id == platform.id,
                                                   Operator.is_lead == True)).first()  # noqa: E712
        if lead is not None:  # the chef de file is the operator this text names (services/operators.py)
            lead.name = operator or name
            session.add(lead)
        after = _view(platform)
        changes = {key: [before[key], after[key]] for key in before if before[key] != after[key]}
        if changes:
            audit_account(session, "platform_changed", actor_id=admin.id, platform_id=platform.id, changes=changes)
        return after
