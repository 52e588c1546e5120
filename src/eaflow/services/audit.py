"""The audit journal of a person's file (R22), for the platform's managers: every read and every
change, who made it (name and role) and when, newest first, a page at a time."""
from __future__ import annotations

from typing import Any

from sqlmodel import select

from eaflow.services import roles
from eaflow.services.access import READ_ACTIONS, audit_read, visible_journey
from eaflow.services.db import db_scope
from eaflow.services.refusals import Refusal
from eaflow.settings import Settings
from eaflow.store.models import AuditEvent, User, aware

PAGE_SIZE = 50


def audit_journal(settings: Settings, user: User, journey_id: str, *, before: int | None = None,
                  limit: int = PAGE_SIZE) -> dict[str, Any]:
    """A page of the journal: events older than the event id `before` (the previous page's cursor)."""
    roles.check(user, roles.MANAGERS)
    if before is not None and before < 1:
        raise Refusal(422, "Curseur de pagination invalide.", errors=[{"field": "before", "message": "invalide"}])
    with db_scope(settings) as session:
        journey = visible_journey(session, user, journey_id)
        query = select(AuditEvent).where(AuditEvent.journey_id == journey.id)
        if before is not None:
            query = query.where(AuditEvent.id < before)
        events = session.exec(query.order_by(AuditEvent.id.desc()).limit(limit + 1)).all()
        page = events[:limit]
        actors = {u.id: u for u in session.exec(select(User).where(
            User.id.in_({e.actor_id for e in page if e.actor_id}))).all()}
        items = [{
            "id": e.id, "at": aware(e.at), "action": e.action, "actor_kind": e.actor_kind,
            "kind": "read" if e.action in READ_ACTIONS else "change",
            "actor": ({"id": e.actor_id, "name": actors[e.actor_id].display_name or actors[e.actor_id].email,
                       "role": actors[e.actor_id].role} if e.actor_id in actors else None),
            "detail": e.detail,
        } for e in page]
        audit_read(session, journey.id, user, "journal_read")
        return {"journey_id": journey.id, "items": items,
                "next_cursor": page[-1].id if len(events) > limit else None}
