"""Inbox views a user saves by name ("Enregistrer cette vue"): the filters, kept on the server."""
from __future__ import annotations

from typing import Any

from sqlmodel import select

from eaflow.services.db import db_scope
from eaflow.services.refusals import invalid
from eaflow.settings import Settings
from eaflow.store.db import get_by_number
from eaflow.store.accounts import SavedView
from eaflow.store.models import User

MAX_VIEWS = 20
MAX_NAME = 80
FILTER_KEYS = ("kind", "due_before", "person")


def saved_views(settings: Settings, user: User) -> list[dict[str, Any]]:
    with db_scope(settings) as session:
        rows = session.exec(select(SavedView).where(SavedView.user_id == user.id).order_by(SavedView.name)).all()
        return [{"id": row.id, "name": row.name, "filters": row.filters} for row in rows]


def save_view(settings: Settings, user: User, name: str, filters: dict[str, str]) -> dict[str, Any]:
    """Save (or replace, under the same name) the filters of the inbox as a named view."""
    name = " ".join((name or "").split())
    if not name:
        raise invalid("Donnez un nom à cette vue.", "name", "Ce champ est obligatoire.")
    if len(name) > MAX_NAME:
        raise invalid("Ce nom est trop long.", "name", f"Au plus {MAX_NAME} caractères.")
    kept = {key: str(filters[key]) for key in FILTER_KEYS if filters.get(key)}
    with db_scope(settings) as session:
        row = session.exec(select(SavedView).where(SavedView.user_id == user.id, SavedView.name == name)).first()
        if row is None:
            count = len(session.exec(select(SavedView.id).where(SavedView.user_id == user.id)).all())
            if count >= MAX_VIEWS:
                raise invalid(f"Vous avez déjà {MAX_VIEWS} vues enregistrées : supprimez-en une d'abord.", "name",
                              f"Au plus {MAX_VIEWS} vues.")
            row = SavedView(user_id=user.id, name=name, filters=kept)
        else:
            row.filters = kept
        session.add(row)
        session.flush()
        return {"id": row.id, "name": row.name, "filters": row.filters}


def delete_view(settings: Settings, user: User, view_id: int) -> None:
    with db_scope(settings) as session:
        row = get_by_number(session, SavedView, view_id)
        if row is not None and row.user_id == user.id:
            session.delete(row)
