"""/parcours/{journey_id}/convention/signature-papier: the counsellor records a party's signature (or
refusal) made on paper, with its scan (R10). The same service as the API's paper signatures: the scan
is checked by its first bytes, the date against the version, and the journey accepts it or not."""
from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse
from starlette.datastructures import UploadFile

from eaflow.services import convention, journeys, signatures
from eaflow.services.refusals import Refusal
from eaflow.web.rendering import render_page
from eaflow.web.routing import PageRoute
from eaflow.web.session import Visitor, signed_in

router = APIRouter(route_class=PageRoute, include_in_schema=False)
VisitorDep = Annotated[Visitor, Depends(signed_in)]
PATH = "/parcours/{journey_id}/convention/signature-papier"
FIELDS = ("party_id", "signer_name", "signed_on", "decision", "reason")


def _waiting_parties(file: dict[str, Any]) -> list[dict[str, Any]]:
    """The parties of the version being signed that sign outside the platform and have not answered."""
    if file["status"] != "signing":
        return []
    return [party for party in file["parties"]
            if party["signs_by"] == "link" and not party["signed_at"] and not party["refused_at"]]


def _page(request: Request, visitor: Visitor, journey_id: str, *, values: dict[str, str] | None = None,
          errors: list[dict] | None = None, status: int = 200, party: str | None = None):
    settings = request.app.state.settings
    journey = journeys.read_journey(settings, visitor.user, journey_id)
    file = convention.read_convention(settings, visitor.user, journey_id)
    parties = _waiting_parties(file)
    if not parties:
        raise Refusal(409, "Aucune signature n'est attendue sur cette convention pour le moment.", rule="R10")
    chosen = values or {"party_id": party or parties[0]["id"], "decision": "signed"}
    return render_page(request, "paper_signature.html.j2", status=status, journey=journey, version=file["current_version"],
                       parties=parties, values=chosen, errors={e["field"]: e["message"] for e in errors or []},
                       error_list=errors or [], max_mb=signatures.MAX_SCAN_BYTES // (1024 * 1024))


@router.get(PATH)
def paper_form(journey_id: str, request: Request, visitor: VisitorDep, partie: str | None = None):
    return _page(request, visitor, journey_id, party=partie)


@router.post(PATH, openapi_extra={"x-max-body": signatures.MAX_SCAN_BYTES + 64 * 1024})
async def record(journey_id: str, request: Request, visitor: VisitorDep):
    settings = request.app.state.settings
    form = await request.form()
    fields = {name: str(form.get(name) or "") for name in (*FIELDS, "version")}
    upload = form.get("scan")
    scan = await upload.read() if isinstance(upload, UploadFile) and upload.filename else None
    try:
        await signatures.record_paper_signature(settings, await request.app.state.temporal.client(), visitor.user,
                                                journey_id, fields, scan)
    except Refusal as refusal:
        if refusal.status == 503 or (refusal.status == 404 and not refusal.errors):
            raise  # Temporal or the database away, or a journey this user may not see
        errors = refusal.errors or [{"field": "", "message": refusal.detail}]
        return _page(request, visitor, journey_id, values=fields, errors=errors, status=refusal.status)
    return RedirectResponse(f"/parcours/{journey_id}?fait=signature-papier#convention", status_code=303)
