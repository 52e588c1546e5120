"""The managers' pages: "Liste d'attente" (R6 order, each counsellor's load against capacity, R7, and
"Attribuer"), "Équipe" (each counsellor's load, what is late, what comes next) and "À valider" (the
tasks only a manager decides). Every figure and every decision comes from the services the API uses."""
from __future__ import annotations

from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import RedirectResponse

from eaflow.services import inbox, roles, team
from eaflow.services.inbox import TaskFilters
from eaflow.services.refusals import Refusal
from eaflow.web.rendering import render_page
from eaflow.web.routing import PageRoute
from eaflow.web.session import Visitor, signed_in
from eaflow.workflows.task_kinds import RULE_SUMMARIES, TASK_KINDS

router = APIRouter(route_class=PageRoute, include_in_schema=False)
PAGE_SIZE = 25
MANAGER_KINDS = {name: kind for name, kind in TASK_KINDS.items() if kind.candidate_role == "manager"}


def manager(visitor: Annotated[Visitor, Depends(signed_in)]) -> Visitor:
    """A manager's page: anyone else is told it does not exist (never that it is someone else's)."""
    if visitor.user.role not in roles.MANAGERS:
        raise Refusal(404, "Cette page n'existe pas.")
    return visitor


ManagerDep = Annotated[Visitor, Depends(manager)]


def _waiting_page(request: Request, visitor: Visitor, *, status: int = 200, refusal: Refusal | None = None,
                  chosen: dict[str, str] | None = None, done: str | None = None):
    settings, user = request.app.state.settings, visitor.user
    items = team.waiting_list(settings, user)
    loads = team.assignable(settings, user)
    return render_page(request, "waiting_list.html.j2", status=status, items=items, loads=loads,
                       load_label=team.load_label, refusal=refusal, chosen=chosen or {}, done=done,
                       rule_summaries=RULE_SUMMARIES)


@router.get("/liste-attente")
def waiting_list_page(request: Request, visitor: ManagerDep, fait: str | None = None):
    return _waiting_page(request, visitor, done=fait)


@router.post("/liste-attente/{journey_id}/attribuer")
async def assign(journey_id: str, request: Request, visitor: ManagerDep,
                 tache: Annotated[str, Form(max_length=100)] = "",
                 counsellor_id: Annotated[str, Form(max_length=64)] = ""):
    settings, user = request.app.state.settings, visitor.user
    chosen = {"journey_id": journey_id, "counsellor_id": counsellor_id}
    if not counsellor_id:
        refusal = Refusal(422, "Choisissez le conseiller qui accompagnera la personne.",
                          errors=[{"field": "counsellor_id", "message": "choisissez un conseiller"}])
        return _waiting_page(request, visitor, status=422, refusal=refusal, chosen=chosen)
    task = inbox.get_task(settings, user, tache)
    if task["kind"] != "assign_counsellor" or task["journey_id"] != journey_id:
        raise Refusal(404, "Cette tâche n'existe pas ou ne vous est pas accessible.")
    try:
        await inbox.complete_task(settings, await request.app.state.temporal.client(), user, tache,
                                  {"counsellor_id": counsellor_id})
    except Refusal as refusal:
        if refusal.status not in (409, 422):
            raise
        return _waiting_page(request, visitor, status=refusal.status, refusal=refusal, chosen=chosen)
    return RedirectResponse(f"/liste-attente?{urlencode({'fait': journey_id})}", status_code=303)


@router.get("/equipe")
def team_page(request: Request, visitor: ManagerDep, conseiller: Annotated[str, Query(max_length=64)] = ""):
    settings, user = request.app.state.settings, visitor.user
    rows = team.team(settings, user)
    selected = next((row for row in rows if row["id"] == conseiller), None)
    persons = team.caseload_of_counsellor(settings, user, selected["id"]) if selected else []
    return render_page(request, "team.html.j2", rows=rows, selected=selected, persons=persons)


@router.get("/validations")
def validations_page(request: Request, visitor: ManagerDep, kind: str = "",
                     curseur: Annotated[str | None, Query(max_length=500)] = None):
    settings, user = request.app.state.settings, visitor.user
    kind = kind if kind in MANAGER_KINDS else ""
    filters = TaskFilters(role="manager", kind=kind or None)
    try:
        page = inbox.list_tasks(settings, user, filters, PAGE_SIZE, curseur, with_person=True)
    except Refusal:  # a stale or edited cursor: back to the first page
        page, curseur = inbox.list_tasks(settings, user, filters, PAGE_SIZE, None, with_person=True), None
    query = {"kind": kind} if kind else {}
    return render_page(
        request, "validations.html.j2", tasks=page["items"], kinds=MANAGER_KINDS, kind=kind,
        counts=inbox.count_by_kind(settings, user, TaskFilters(role="manager")),
        next_url=f"/validations?{urlencode({**query, 'curseur': page['next_cursor']})}" if page["next_cursor"] else None,
        first_url=f"/validations?{urlencode(query)}" if curseur else None)
