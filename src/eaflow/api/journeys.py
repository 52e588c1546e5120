"""Journeys: intake of a prescription, the file as it stands, its history, the change of counsellor
(eaflow.services.journeys)."""
from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Header, Query
from fastapi.responses import JSONResponse

from eaflow.api.deps import SettingsDep, TemporalDep, UserDep, require
from eaflow.intake import IntakeRequest
from eaflow.services import journeys as service
from eaflow.services import audit, roles
from eaflow.services.journeys import CounsellorChangeIn
from eaflow.store.db import MAX_INTEGER_KEY
from eaflow.store.models import User

router = APIRouter(prefix="/api/v1/journeys", tags=["journeys"])


@router.post("", status_code=201, summary="Intake of a prescription or a CDAPH orientation",
             responses={200: {"description": "The same Idempotency-Key again: the journey it created"}})
async def create_journey(
    body: IntakeRequest, settings: SettingsDep, client: TemporalDep,
    user: Annotated[User, Depends(require(*roles.INTAKE))],
    idempotency_key: Annotated[str | None, Header(max_length=200)] = None,
):
    view, created = await service.intake(settings, client, user, body, idempotency_key)
    return JSONResponse(view, status_code=201 if created else 200)


@router.get("", summary="Journeys visible to me")
def list_journeys(
    settings: SettingsDep, user: Annotated[User, Depends(require(*roles.JOURNEY_READERS))],
    state: str | None = None, counsellor_id: str | None = None,
    q: Annotated[str | None, Query(max_length=100)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50, cursor: str | None = None,
):
    return service.list_journeys(settings, user, state=state, counsellor_id=counsellor_id, q=q, limit=limit,
                                 cursor=cursor)


@router.get("/{journey_id}", summary="The journey as it stands now")
def get_journey(journey_id: str, settings: SettingsDep, user: UserDep):
    return service.read_journey(settings, user, journey_id)


@router.get("/{journey_id}/history", summary="Timeline: every event, who, when, why")
def journey_history(journey_id: str, settings: SettingsDep,
                    user: Annotated[User, Depends(require(*roles.STAFF))]):
    return service.journey_history(settings, user, journey_id)


@router.get("/{journey_id}/audit", summary="The audit journal of the file: every read and change, newest first (R22)")
def audit_journal(journey_id: str, settings: SettingsDep, user: Annotated[User, Depends(require(*roles.MANAGERS))],
                  before: Annotated[int | None, Query(ge=1, le=MAX_INTEGER_KEY,
                                                      description="the previous page's next_cursor")] = None,
                  limit: Annotated[int, Query(ge=1, le=200)] = 50):
    return audit.audit_journal(settings, user, journey_id, before=before, limit=limit)


@router.put("/{journey_id}/counsellor", summary="Change of counsellor (R8, R21)")
async def change_counsellor(journey_id: str, body: CounsellorChangeIn, settings: SettingsDep, client: TemporalDep,
                            user: Annotated[User, Depends(require(*roles.MANAGERS))]):
    return await service.change_counsellor(settings, client, user, journey_id, body)
