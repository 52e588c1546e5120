"""The convention individuelle of a journey (R10): status, parties, signatures and every version,
as JSON, as an HTML page and as a PDF (eaflow.services.convention)."""
from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query
from fastapi.responses import HTMLResponse, Response

from eaflow.api.deps import SettingsDep, require
from eaflow.services import convention as service
from eaflow.services import roles
from eaflow.store.db import MAX_INTEGER_KEY
from eaflow.store.models import User

router = APIRouter(prefix="/api/v1/journeys", tags=["convention"])
StaffDep = Annotated[User, Depends(require(*roles.STAFF))]


@router.get("/{journey_id}/convention", summary="The convention: status, parties, signatures, every version (R10)")
def get_convention(journey_id: str, settings: SettingsDep, user: StaffDep):
    return service.read_convention(settings, user, journey_id)


@router.get("/{journey_id}/convention.html", response_class=HTMLResponse, summary="The convention as a page")
def convention_html(journey_id: str, settings: SettingsDep, user: StaffDep,
                    version: Annotated[int | None, Query(ge=1, le=MAX_INTEGER_KEY)] = None):
    return HTMLResponse(service.convention_document(settings, user, journey_id, version).page)


@router.get("/{journey_id}/convention.pdf", summary="The convention as a PDF (the signed copy once signed)",
            response_class=Response, responses={200: {"content": {"application/pdf": {}}}})
def convention_pdf(journey_id: str, settings: SettingsDep, user: StaffDep,
                   version: Annotated[int | None, Query(ge=1, le=MAX_INTEGER_KEY)] = None):
    document = service.convention_document(settings, user, journey_id, version)
    return Response(document.pdf, media_type="application/pdf",
                    headers={"Content-Disposition": f'inline; filename="{document.pdf_name}"'})
