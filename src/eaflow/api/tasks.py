"""The inbox: list, claim, assign and complete the human tasks of the journeys (eaflow.services.inbox)."""
from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, ConfigDict, Field

from eaflow.api.deps import SettingsDep, TemporalDep, require
from eaflow.services import inbox as service
from eaflow.services import roles
from eaflow.services.inbox import TaskFilters
from eaflow.store.models import User

router = APIRouter(prefix="/api/v1/tasks", tags=["tasks"])
StaffDep = Annotated[User, Depends(require(*roles.STAFF))]


@router.get("", summary="My inbox, sorted by due date")
def list_tasks(
    settings: SettingsDep, user: StaffDep,
    assignee: Annotated[str | None, Query(description="me, none, or a user id")] = None,
    role: str | None = None, kind: str | None = None, journey_id: str | None = None,
    status: Literal["open", "done", "cancelled"] = "open", overdue: bool | None = None,
    due_before: Annotated[date | None, Query(description="only tasks due before this day")] = None,
    q: Annotated[str | None, Query(max_length=100, description="part of the person's name")] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50, cursor: str | None = None,
):
    filters = TaskFilters(assignee=assignee, role=role, kind=kind, journey_id=journey_id, status=status,
                          overdue=overdue, due_before=due_before, person=q)
    return service.list_tasks(settings, user, filters, limit, cursor)


@router.get("/kinds", summary="Every task kind with the JSON Schema of its outcome")
def task_kinds(user: StaffDep):
    return service.task_kinds()


@router.get("/{task_id}", summary="A task, with the JSON Schema of the outcome it takes")
def get_task(task_id: str, settings: SettingsDep, user: StaffDep):
    return service.get_task(settings, user, task_id)


@router.post("/{task_id}/claim", summary="Take a team task")
def claim_task(task_id: str, settings: SettingsDep, user: StaffDep):
    return service.claim_task(settings, user, task_id)


@router.post("/{task_id}/unclaim", summary="Give a task back to the team")
def unclaim_task(task_id: str, settings: SettingsDep, user: StaffDep):
    return service.unclaim_task(settings, user, task_id)


class AssignIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    assignee_id: str = Field(min_length=1, max_length=64)


@router.post("/{task_id}/assign", summary="Give the task to someone (manager)")
def assign_task(task_id: str, body: AssignIn, settings: SettingsDep,
                user: Annotated[User, Depends(require(*roles.MANAGERS))]):
    return service.assign_task(settings, user, task_id, body.assignee_id)


class CompleteIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    outcome: dict


@router.post("/{task_id}/complete", summary="Complete a task with an outcome valid against its schema")
async def complete_task(task_id: str, body: CompleteIn, settings: SettingsDep, client: TemporalDep, user: StaffDep):
    return await service.complete_task(settings, client, user, task_id, body.outcome)
