"""The prescribers' pages: "Nouvelle prescription" (the intake form, drawn from the very model the API
validates: R1–R5) and "Mes prescriptions" (the persons they sent, with the outcome only, R22)."""
from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse
from pydantic import ValidationError

from eaflow.intake import IntakeRequest
from eaflow.services import journeys, prescriptions, roles
from eaflow.services.refusals import Refusal
from eaflow.web import forms
from eaflow.web.rendering import render_page
from eaflow.web.routing import PageRoute
from eaflow.web.session import CSRF_FIELD, Visitor, signed_in
from eaflow.workflows.field_errors import field_errors
from eaflow.workflows.task_kinds import RULE_SUMMARIES

router = APIRouter(route_class=PageRoute, include_in_schema=False)
KEY_FIELD = "cle"  # the form's idempotency key: sending it twice starts one journey
# R3: the API records a prescription without consent as refused (a traced answer); the form asks. R5's
# subsidiarity statement is asked for a SPE prescription only ("x-required-when"): a CDAPH orientation
# without it is accepted and noted as missing.
SCHEMA = forms.asking_for(IntakeRequest.model_json_schema(), ("consent",))


def prescriber(visitor: Annotated[Visitor, Depends(signed_in)]) -> Visitor:
    if visitor.user.role not in roles.INTAKE:
        raise Refusal(404, "Cette page n'existe pas.")
    return visitor


PrescriberDep = Annotated[Visitor, Depends(prescriber)]


@router.get("/prescriptions")
def prescriptions_page(request: Request, visitor: PrescriberDep):
    items = prescriptions.my_prescriptions(request.app.state.settings, visitor.user)
    return render_page(request, "prescriptions.html.j2", items=items)


def _form(request: Request, *, values: dict, key: str, errors: list[dict] | None = None, status: int = 200,
          rows: dict[str, int] | None = None):
    return render_page(request, "prescription_form.html.j2", status=status, schema=SCHEMA, values=values,
                       errors=errors or [], rows=rows or {}, key=key,
                       unplaced=forms.unplaced_errors(SCHEMA, errors or [], error_prefix=""))


@router.get("/prescriptions/nouvelle")
def new_prescription(request: Request, visitor: PrescriberDep):
    return _form(request, values={}, key=uuid.uuid4().hex)


@router.post("/prescriptions/nouvelle")
async def send_prescription(request: Request, visitor: PrescriberDep):
    submitted = await request.form()
    fields = {key: submitted.getlist(key) for key in submitted.keys() if key not in (CSRF_FIELD, KEY_FIELD)}
    key = str(submitted.get(KEY_FIELD) or "")[:64] or uuid.uuid4().hex
    values, rows = forms.parse_form(SCHEMA, fields)
    if forms.ADD_ROW in fields:
        return _form(request, values=values, key=key, rows=rows)
    try:
        body = IntakeRequest.model_validate(values)
    except ValidationError as error:
        return _form(request, values=values, key=key, rows=rows, status=422, errors=field_errors(error))
    settings = request.app.state.settings
    try:
        journey, _ = await journeys.intake(settings, await request.app.state.temporal.client(), visitor.user, body,
                                          idempotency_key=f"page:{key}")
    except Refusal as refusal:
        if refusal.status != 422 or not refusal.errors:
            raise
        return _form(request, values=values, key=key, rows=rows, status=422, errors=refusal.errors)
    return RedirectResponse(f"/prescriptions/{journey['id']}?fait=envoyee", status_code=303)


@router.get("/prescriptions/{journey_id}")
def prescription_page(journey_id: str, request: Request, visitor: PrescriberDep, fait: str | None = None):
    item = prescriptions.prescription(request.app.state.settings, visitor.user, journey_id)
    return render_page(request, "prescription.html.j2", item=item, done=fait, rule_summaries=RULE_SUMMARIES)
