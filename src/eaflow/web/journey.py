"""/parcours/{journey_id}: the person's file as the counsellor works on it (identity and rights,
deadlines, open tasks, convention, contacts and intensity, employment, timeline), and the convention
document itself. Every read is traced by the services (R22); the actions are in web/actions.py."""
from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from markupsafe import Markup

from eaflow.activities.notify import CHANNEL_LABELS, SITUATION_LABELS
from eaflow.services import audit, contacts, convention, employment, journeys, person_export, roles
from eaflow.services.refusals import Refusal
from eaflow.store.db import MAX_INTEGER_KEY
from eaflow.store.models import CLOSED_STATES
from eaflow.web import forms
from eaflow.web.actions import offered_actions
from eaflow.web.charts import intensity_chart, month_label
from eaflow.web.rendering import render_page
from eaflow.web.routing import PageRoute
from eaflow.web.session import Visitor, signed_in
from eaflow.web.timeline import ACTION_LABELS, describe_event
from eaflow.workflows.task_kinds import ContactFields

router = APIRouter(route_class=PageRoute, include_in_schema=False)
VisitorDep = Annotated[Visitor, Depends(signed_in)]
STAFF_ONLY = "Ce dossier est réservé à l'équipe de la plateforme."
CONTACT_SCHEMA = ContactFields.model_json_schema()
CONTACT_LABELS = {name: forms.choice_titles(CONTACT_SCHEMA, name) for name in ("place", "channel", "participants")}


def _staff(visitor: Visitor) -> None:
    if visitor.user.role not in roles.STAFF:
        raise Refusal(404, "Ce parcours n'existe pas ou ne vous est pas accessible.")


@router.get("/parcours/{journey_id}")
def journey_page(journey_id: str, request: Request, visitor: VisitorDep, fait: str | None = None,
                 tache: str | None = None, suivante: str | None = None):
    _staff(visitor)
    settings, user = request.app.state.settings, visitor.user
    journey = journeys.read_journey(settings, user, journey_id)
    history = journeys.journey_history(settings, user, journey_id, with_reads=False)
    file = convention.read_convention(settings, user, journey_id)
    contact_page = contacts.list_contacts(settings, user, journey_id, limit=50)
    intensity = contacts.intensity(settings, user, journey_id)
    jobs = employment.list_employment(settings, user, journey_id)
    following = next((t for t in journey["open_tasks"] if t["id"] == suivante), None) if suivante else None
    return render_page(
        request, "journey.html.j2", journey=journey, timeline=[describe_event(e) for e in reversed(history["items"])],
        convention=file, contacts=contact_page["items"], more_contacts=contact_page["next_cursor"] is not None,
        contact_labels=CONTACT_LABELS, intensity=intensity, chart=intensity_chart(intensity["items"]),
        month_label=month_label, employment=jobs, actions=offered_actions(journey, user),
        closed=journey["state"] in CLOSED_STATES, done=fait, done_task=tache, next_task=following,
        channel_labels=CHANNEL_LABELS, situation_labels=SITUATION_LABELS)


@router.get("/parcours/{journey_id}/convention")
def convention_page(journey_id: str, request: Request, visitor: VisitorDep,
                    version: Annotated[int | None, Query(ge=1, le=MAX_INTEGER_KEY)] = None):
    _staff(visitor)
    settings = request.app.state.settings
    document = convention.convention_document(settings, visitor.user, journey_id, version)
    journey = journeys.read_journey(settings, visitor.user, journey_id)
    return render_page(request, "convention.html.j2", journey=journey, document=document,
                       body=Markup(document.html))  # rendered by our own autoescaped templates


@router.get("/parcours/{journey_id}/convention.pdf")
def convention_pdf(journey_id: str, request: Request, visitor: VisitorDep,
                   version: Annotated[int | None, Query(ge=1, le=MAX_INTEGER_KEY)] = None):
    _staff(visitor)
    document = convention.convention_document(request.app.state.settings, visitor.user, journey_id, version)
    return Response(document.pdf, media_type="application/pdf", headers={
        "Content-Disposition": f'inline; filename="{document.pdf_name}"', "Cache-Control": "no-store",
        "X-Content-Type-Options": "nosniff"})


@router.get("/parcours/{journey_id}/export.{format}")
def export_page(journey_id: str, format: str, request: Request, visitor: VisitorDep):
    """R22, GDPR art. 15: the person's whole file to hand over, for the platform's managers (404 otherwise)."""
    if visitor.user.role not in roles.MANAGERS or format not in person_export.FORMATS:
        raise Refusal(404, "Cette page n'existe pas.")
    export = person_export.export_file(request.app.state.settings, visitor.user, journey_id, format, ACTION_LABELS)
    return Response(export.content, media_type=export.media_type, headers={
        "Content-Disposition": f'attachment; filename="{export.filename}"', "Cache-Control": "no-store",
        "X-Content-Type-Options": "nosniff"})


@router.get("/parcours/{journey_id}/journal")
def journal_page(journey_id: str, request: Request, visitor: VisitorDep,
                 avant: Annotated[int | None, Query(ge=1, le=MAX_INTEGER_KEY)] = None):
    if visitor.user.role not in roles.MANAGERS:
        raise Refusal(404, "Cette page n'existe pas.")
    settings, user = request.app.state.settings, visitor.user
    journal = audit.audit_journal(settings, user, journey_id, before=avant)
    journey = journeys.read_journey(settings, user, journey_id)
    return render_page(request, "journal.html.j2", journey=journey, items=[
        {**event, **describe_event(event)} for event in journal["items"]],
        next_url=f"/parcours/{journey_id}/journal?avant={journal['next_cursor']}" if journal["next_cursor"] else None,
        first_url=f"/parcours/{journey_id}/journal" if avant else None)
