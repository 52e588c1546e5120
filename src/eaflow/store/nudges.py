"""The contact nudges' outbox (store/accompaniment.py `ContactNudge`): written with the change,
read and marked by eaflow/nudges.py, which tells the journey's workflow."""
from __future__ import annotations

from datetime import datetime

from sqlmodel import Session, select

from eaflow.store.accompaniment import ContactNudge
from eaflow.store.models import utcnow


def want_nudge(session: Session, journey_id: str) -> int:
    """In the transaction that changed the journey's contacts (which holds the journey's lock):
    the version the workflow must now be told of."""
    nudge = session.get(ContactNudge, journey_id) or ContactNudge(journey_id=journey_id)
    nudge.version += 1
    nudge.changed_at = utcnow()
    session.add(nudge)
    return nudge.version


def mark_delivered(session: Session, journey_id: str, version: int) -> None:
    """The workflow accepted `version` (a later change stays pending)."""
    nudge = session.exec(select(ContactNudge).where(ContactNudge.journey_id == journey_id)
                         .with_for_update()).first()
    if nudge is not None and nudge.delivered < version:
        nudge.delivered = version
        session.add(nudge)


def pending(session: Session, changed_before: datetime, limit: int) -> list[tuple[str, int]]:
    """Journeys whose workflow has not accepted their last change, oldest change first."""
    rows = session.exec(select(ContactNudge.journey_id, ContactNudge.version)
                        .where(ContactNudge.version > ContactNudge.delivered, ContactNudge.changed_at < changed_before)
                        .order_by(ContactNudge.changed_at).limit(limit)).all()
    return [(journey_id, version) for journey_id, version in rows]
