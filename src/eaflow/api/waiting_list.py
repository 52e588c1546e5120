"""The waiting list in R6 order: who gets a counsellor first when one frees up."""
from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends

from eaflow.api.deps import SettingsDep, require
from eaflow.services import roles, team
from eaflow.store.models import User

router = APIRouter(prefix="/api/v1/waiting-list", tags=["journeys"])


@router.get("", summary="Persons waiting for a counsellor, in R6 priority order")
def waiting_list(settings: SettingsDep, user: Annotated[User, Depends(require(*roles.MANAGERS))]):
    return {"items": team.waiting_list(settings, user), "next_cursor": None}
