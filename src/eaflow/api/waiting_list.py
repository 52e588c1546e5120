"""The waiting list in R6 order: who gets a counsellor first when one frees up."""
from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Depends
from sqlmodel import select

from eaflow.activities.notify import SITUATION_LABELS
from eaflow.api.deps import SettingsDep, require
from eaflow.services import roles
from eaflow.services.db import db_scope
from eaflow.store.models import Journey, Person, Task, User
from eaflow.workflows import rules

router = APIRouter(prefix="/api/v1/waiting-list", tags=["journeys"])


@router.get("", summary="Persons waiting for a counsellor, in R6 priority order")
def waiting_list(settings: SettingsDep, user: Annotated[User, Depends(require(*roles.MANAGERS))]):
    with db_scope(settings) as session:
        rows = session.exec(
            select(Journey, Person, Task)
            .join(Person, Person.journey_id == Journey.id)
            .join(Task, (Task.journey_id == Journey.id) & (Task.kind == "assign_counsellor")
                  & (Task.status == "open"), isouter=True)
            .where(Journey.platform_id == user.platform_id, Journey.state == "waiting_list")
            .order_by(Journey.waiting_key, Journey.id)
        ).all()
        today = date.today()
        return {"items": [{
            "rank": rank, "journey_id": journey.id,
            "person": {"first_name": person.first_name, "last_name": person.last_name},
            "situation": journey.situation, "situation_label": SITUATION_LABELS[journey.situation],
            "priority_group": rules.r6_priority_group(journey.situation) + 1, "urgent": journey.urgent,
            "prescribed_on": journey.prescribed_on, "days_waiting": (today - journey.prescribed_on).days,
            "assign_task_id": task.id if task else None,
        } for rank, (journey, person, task) in enumerate(rows, start=1)], "next_cursor": None}
