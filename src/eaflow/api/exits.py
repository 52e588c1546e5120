"""Proposing an exit (R15, R18): a manager decides (eaflow.services.exits)."""
from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends

from eaflow.api.deps import SettingsDep, TemporalDep, require
from eaflow.services import exits as service
from eaflow.services import roles
from eaflow.services.exits import ExitIn
from eaflow.store.models import User

router = APIRouter(prefix="/api/v1/journeys", tags=["exits"])
StaffDep = Annotated[User, Depends(require(*roles.STAFF))]


@router.post("/{journey_id}/exit", summary="Propose an exit for one of R15's reasons (R18: a manager decides)")
async def propose_exit(journey_id: str, body: ExitIn, settings: SettingsDep, client: TemporalDep, user: StaffDep):
    return await service.propose_exit(settings, client, user, journey_id, body)
