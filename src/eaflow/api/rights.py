"""Rights renewal (R19): the events of the RQTH and of the CDAPH decision (eaflow.services.rights)."""
from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse

from eaflow.api.deps import SettingsDep, TemporalDep, require
from eaflow.api.problems import tagged_union_route
from eaflow.services import rights as service
from eaflow.services import roles
from eaflow.services.rights import RightsEventIn
from eaflow.store.models import User
from eaflow.workflows import rights

# The model's own check of an event is about its end date.
router = APIRouter(prefix="/api/v1/journeys", tags=["rights"],
                   route_class=tagged_union_route("event", rights.EVENTS, model_error_field="until"))
StaffDep = Annotated[User, Depends(require(*roles.STAFF))]


@router.post("/{journey_id}/rights", summary="Record a rights event: renewal filed, granted, refused, appeal (R19)",
             responses={409: {"description": "Event out of order (rule R19), or the journey does not follow rights now"},
                        422: {"description": "Malformed body, or dates that do not fit (rule R19)"}})
async def record_rights_event(journey_id: str, body: RightsEventIn, settings: SettingsDep, client: TemporalDep,
                              user: StaffDep):
    return JSONResponse(await service.record_rights_event(settings, client, user, journey_id, body))
