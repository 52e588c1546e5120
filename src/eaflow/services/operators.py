"""The operators of a platform (its co-porteurs) under a chef de file, and what each manager answers for.

A platform is run by several organisations; one of them, the chef de file (`Operator.is_lead`), sends
the platform's data to the funders and answers for the whole platform. Counsellors and managers
belong to one operator (`User.operator_id`). A person belongs to the operator of the counsellor who
follows them (R8): a change of counsellor to another operator's counsellor moves the person too.

- The chef de file's managers (and a manager attached to no operator) see the whole platform.
- Another operator's managers see their operator's persons, plus the persons no counsellor follows
  yet (the prescriptions in progress and the waiting list, R6), since any operator may take them in;
  they designate only their own counsellors.
"""
from __future__ import annotations

import uuid
from typing import Any, Optional

from sqlmodel import Session, select

from eaflow.services import roles
from eaflow.services.admin_audit import audit_account
from eaflow.services.db import db_scope
from eaflow.services.refusals import Refusal
from eaflow.settings import Settings
from eaflow.store.models import Operator, User

MAX_NAME = 200
OTHER_OPERATOR = ("Ce conseiller travaille pour un autre opérateur de la plateforme : seuls les responsables du "
                  "chef de file peuvent lui confier une personne d'un autre opérateur.")


def operator_scope(session: Session, user: User) -> Optional[str]:
    """The operator a manager answers for, or None for the whole platform (chef de file, or no operator)."""
    if user.operator_id is None:
        return None
    operator = session.get(Operator, user.operator_id)
    return None if operator is None or operator.is_lead else operator.id


def check_may_designate(session: Session, user: User, counsellor: User, field: str) -> None:
    """A manager of an operator other than the chef de file designates only their operator's counsellors."""
    scope = operator_scope(session, user) if user.role == "manager" else None
    if scope is not None and counsellor.operator_id != scope:
        raise Refusal(422, OTHER_OPERATOR, errors=[{"field": field, "message": "conseiller d'un autre opérateur"}])


def operators_of(session: Session, platform_id: str) -> list[Operator]:
    """The platform's operators, the chef de file first."""
    return list(session.exec(select(Operator).where(Operator.platform_id == platform_id)
                             .order_by(Operator.is_lead.desc(), Operator.name)).all())


def _view(operator: Operator, staff: int = 0) -> dict[str, Any]:
    return {"id": operator.id, "name": operator.name, "is_lead": operator.is_lead, "staff": staff}


def list_operators(settings: Settings, user: User) -> list[dict[str, Any]]:
    """The platform's operators with their number of active staff (any staff member may read them)."""
    roles.check(user, (*roles.STAFF, *roles.ADMINS))
    with db_scope(settings) as session:
        staff: dict[str, int] = {}
        for operator_id in session.exec(select(User.operator_id).where(
                User.platform_id == user.platform_id, User.active == True)).all():  # noqa: E712
            staff[operator_id] = staff.get(operator_id, 0) + 1
        return [_view(operator, staff.get(operator.id, 0)) for operator in operators_of(session, user.platform_id)]


def add_operator(settings: Settings, admin: User, name: str) -> dict[str, Any]:
    """A new co-porteur of the platform (the chef de file exists from the platform's creation)."""
    roles.check(admin, roles.ADMINS)
    name = " ".join((name or "").split())
    error = ("Indiquez le nom de l'opérateur." if not name else
             f"Au plus {MAX_NAME} caractères." if len(name) > MAX_NAME else None)
    with db_scope(settings) as session:
        if error is None and any(o.name.casefold() == name.casefold()
                                 for o in operators_of(session, admin.platform_id)):
            error = "Un opérateur de ce nom existe déjà sur la plateforme."
        if error:
            raise Refusal(422, "L'opérateur n'est pas ajouté : corrigez le champ signalé.",
                          errors=[{"field": "name", "message": error}])
        operator = Operator(id=f"op-{uuid.uuid4().hex[:12]}", platform_id=admin.platform_id, name=name)
        session.add(operator)
        audit_account(session, "operator_added", actor_id=admin.id, platform_id=admin.platform_id,
                      operator_id=operator.id, name=name)
        return _view(operator)


def operator_label(session: Session, operator_id: Optional[str]) -> str:
    operator = session.get(Operator, operator_id) if operator_id else None
    return "" if operator is None else operator.name + (" (chef de file)" if operator.is_lead else "")
