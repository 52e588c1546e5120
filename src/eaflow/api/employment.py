"""Employment episodes of a journey (R16): open or close one, list them (eaflow.services.employment)."""
from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse

from eaflow.api.deps import SettingsDep, require
from eaflow.api.problems import tagged_union_route
from eaflow.services import employment as service
from eaflow.services import roles
from eaflow.services.employment import ACTIONS, EmploymentAction
from eaflow.store.models import User

router = APIRouter(prefix="/api/v1/journeys", tags=["employment"],
                   route_class=tagged_union_route("action", ACTIONS))
StaffDep = Annotated[User, Depends(require(*roles.STAFF))]


@router.post("/{journey_id}/employment", summary="Open or close an employment episode (R16)",
             status_code=201, responses={200: {"description": "A repeated opening, or a closing"}})
async def record_employment(journey_id: str, body: EmploymentAction, request: Request, settings: SettingsDep,
                            user: StaffDep):
    view, created = await service.record_employment(settings, request.app.state.temporal, user, journey_id, body)
    return JSONResponse(view, status_code=201 if created else 200)


@router.get("/{journey_id}/employment", summary="The employment episodes, with what the indicators need (R20)")
def list_employment(journey_id: str, settings: SettingsDep, user: StaffDep):
    return service.list_employment(settings, user, journey_id)
