"""Contacts of a journey (R13) and the intensity they make month by month (R11)
(eaflow.services.contacts).

Who: the journey's counsellor and the platform's managers (a journey they may not see is a 404).
"""
from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Header, Query, Request, Response
from fastapi.responses import JSONResponse

from eaflow.api.deps import SettingsDep, require
from eaflow.services import contacts as service
from eaflow.services import roles
from eaflow.services.contacts import MONTH, ContactPatch
from eaflow.store.models import User
from eaflow.workflows.task_kinds import ContactFields

router = APIRouter(prefix="/api/v1/journeys", tags=["contacts"])
StaffDep = Annotated[User, Depends(require(*roles.STAFF))]


@router.post("/{journey_id}/contacts", status_code=201, summary="Record a contact or a contact attempt (R13)",
             responses={200: {"description": "The same Idempotency-Key again: the contact it recorded"}})
async def create_contact(journey_id: str, body: ContactFields, request: Request, settings: SettingsDep,
                         user: StaffDep, idempotency_key: Annotated[str | None, Header(max_length=200)] = None):
    view, created = await service.add_contact(settings, request.app.state.temporal, user, journey_id, body,
                                              idempotency_key)
    return JSONResponse(view, status_code=201 if created else 200)


@router.get("/{journey_id}/contacts", summary="The journey's contacts, newest first")
def list_contacts(journey_id: str, settings: SettingsDep, user: StaffDep,
                  limit: Annotated[int, Query(ge=1, le=200)] = 50, cursor: str | None = None):
    return service.list_contacts(settings, user, journey_id, limit, cursor)


@router.patch("/{journey_id}/contacts/{contact_id}", summary="Correct a contact (traced)")
async def edit_contact(journey_id: str, contact_id: str, body: ContactPatch,  # type: ignore[valid-type]
                       request: Request, settings: SettingsDep, user: StaffDep):
    return JSONResponse(await service.edit_contact(settings, request.app.state.temporal, user, journey_id,
                                                   contact_id, body.model_dump(exclude_unset=True)))


@router.delete("/{journey_id}/contacts/{contact_id}", status_code=204, summary="Delete a contact (kept, traced)")
async def delete_contact(journey_id: str, contact_id: str, request: Request, settings: SettingsDep, user: StaffDep,
                         reason: Annotated[str | None, Query(max_length=2000, description="Pourquoi ce contact "
                                                             "est supprimé (tracé)")] = None):
    await service.delete_contact(settings, request.app.state.temporal, user, journey_id, contact_id, reason)
    return Response(status_code=204)


@router.get("/{journey_id}/intensity", summary="Intensity month by month (R11), workplace time (R13)")
def get_intensity(
    journey_id: str, settings: SettingsDep, user: StaffDep,
    from_: Annotated[str | None, Query(alias="from", pattern=MONTH,
                                       description="YYYY-MM; by default 11 months before `to`")] = None,
    to: Annotated[str | None, Query(pattern=MONTH, description="YYYY-MM; by default the current month")] = None,
):
    return service.intensity(settings, user, journey_id, from_, to)
