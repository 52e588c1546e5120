"""Asking for an avenant to the convention in force (R10) (eaflow.services.avenants)."""
from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Header

from eaflow.api.deps import SettingsDep, TemporalDep, require
from eaflow.services import avenants as service
from eaflow.services import roles
from eaflow.services.avenants import AvenantIn
from eaflow.store.models import User

router = APIRouter(prefix="/api/v1/journeys", tags=["convention"])
StaffDep = Annotated[User, Depends(require(*roles.STAFF))]


@router.post("/{journey_id}/convention/avenants", status_code=202,
             summary="Ask for an avenant to the convention in force (R10)")
async def request_avenant(journey_id: str, body: AvenantIn, settings: SettingsDep, client: TemporalDep,
                          user: StaffDep, idempotency_key: Annotated[str | None, Header(max_length=200)] = None):
    return await service.request_avenant(settings, client, user, journey_id, body, idempotency_key)
