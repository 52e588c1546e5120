"""The veille (R14): start or extend it with the person's agreement, and reactivate the accompaniment
(eaflow.services.veille)."""
from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends

from eaflow.api.deps import SettingsDep, TemporalDep, require
from eaflow.services import roles
from eaflow.services import veille as service
from eaflow.services.veille import ReactivateIn, VeilleIn
from eaflow.store.models import User

router = APIRouter(prefix="/api/v1/journeys", tags=["veille"])
StaffDep = Annotated[User, Depends(require(*roles.STAFF))]


@router.post("/{journey_id}/veille", summary="Start a veille, or extend it by a new agreement (R14)")
async def start_veille(journey_id: str, body: VeilleIn, settings: SettingsDep, client: TemporalDep, user: StaffDep):
    return await service.start_veille(settings, client, user, journey_id, body)


@router.post("/{journey_id}/reactivate",
             summary="End the veille (R14) or the relaunch sequence (R17) now: the accompaniment resumes")
async def reactivate(journey_id: str, body: ReactivateIn, settings: SettingsDep, client: TemporalDep,
                     user: StaffDep):
    return await service.reactivate(settings, client, user, journey_id, body)
