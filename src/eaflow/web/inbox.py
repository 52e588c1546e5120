"""/ "Mes tâches": my open tasks by due date, the team's tasks I may take, counts by kind, filters and
the views I saved; "Prendre" and "Rendre"."""
from __future__ import annotations

from datetime import date
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import RedirectResponse

from eaflow.services import inbox, roles, saved_views
from eaflow.services.inbox import TaskFilters
from eaflow.services.refusals import Refusal
from eaflow.web.navigation import home_of
from eaflow.web.rendering import render_page
from eaflow.web.routing import PageRoute, local_path
from eaflow.web.session import Visitor, signed_in
from eaflow.workflows.task_kinds import TASK_KINDS

router = APIRouter(route_class=PageRoute, include_in_schema=False)
VisitorDep = Annotated[Visitor, Depends(signed_in)]
PAGE_SIZE = 25
TEAM_SIZE = 10


def _filters(kind: str | None, avant: str | None, personne: str | None) -> tuple[dict[str, str], list[dict]]:
    """The filters as typed (kept in the form) and the errors of those that do not parse."""
    typed = {"kind": kind or "", "due_before": avant or "", "person": (personne or "").strip()[:100]}
    errors = []
    if typed["kind"] and typed["kind"] not in TASK_KINDS:
        errors.append({"field": "kind", "message": "Choisissez un type de tâche de la liste."})
        typed["kind"] = ""
    if typed["due_before"]:
        try:
            date.fromisoformat(typed["due_before"])
        except ValueError:
            errors.append({"field": "due_before", "message": "Indiquez une date valide (jj/mm/aaaa)."})
            typed["due_before"] = ""
    return typed, errors


@router.get("/")
def inbox_page(request: Request, visitor: VisitorDep, kind: str | None = None, avant: str | None = None,
               personne: str | None = None, curseur: Annotated[str | None, Query(max_length=500)] = None,
               fait: str | None = None):
    settings, user = request.app.state.settings, visitor.user
    if user.role not in roles.STAFF:  # a prescriber's or an administrator's own first page
        return RedirectResponse(home_of(user.role), status_code=303)
    typed, errors = _filters(kind, avant, personne)
    common = dict(kind=typed["kind"] or None, person=typed["person"] or None,
                  due_before=date.fromisoformat(typed["due_before"]) if typed["due_before"] else None)
    mine = TaskFilters(assignee="me", **common)
    team = TaskFilters(assignee="none", role=user.role, **common)
    try:
        page = inbox.list_tasks(settings, user, mine, PAGE_SIZE, curseur, with_person=True)
    except Refusal:  # a stale or edited cursor: back to the first page
        page = inbox.list_tasks(settings, user, mine, PAGE_SIZE, None, with_person=True)
        curseur = None
    query = {k: v for k, v in (("kind", typed["kind"]), ("avant", typed["due_before"]),
                               ("personne", typed["person"])) if v}
    return render_page(
        request, "inbox.html.j2", tasks=page["items"],
        next_url=f"/?{urlencode({**query, 'curseur': page['next_cursor']})}" if page["next_cursor"] else None,
        first_url=f"/?{urlencode(query)}" if curseur else None,
        team=inbox.list_tasks(settings, user, team, TEAM_SIZE, with_person=True)["items"],
        team_counts=inbox.count_by_kind(settings, user, team),
        counts=inbox.count_by_kind(settings, user, mine), kinds=TASK_KINDS, typed=typed, errors=errors,
        views=saved_views.saved_views(settings, user), query=query, done=fait)


def _back(to: str | None, default: str = "/") -> RedirectResponse:
    return RedirectResponse(local_path(to or default), status_code=303)


@router.post("/taches/{task_id}/prendre")
def claim(task_id: str, request: Request, visitor: VisitorDep, retour: Annotated[str, Form()] = ""):
    inbox.claim_task(request.app.state.settings, visitor.user, task_id)
    return _back(retour or f"/taches/{task_id}")


@router.post("/taches/{task_id}/rendre")
def give_back(task_id: str, request: Request, visitor: VisitorDep, retour: Annotated[str, Form()] = ""):
    inbox.unclaim_task(request.app.state.settings, visitor.user, task_id)
    return _back(retour)


@router.post("/vues")
def save_view(request: Request, visitor: VisitorDep, name: Annotated[str, Form(max_length=200)] = "",
              kind: Annotated[str, Form()] = "", avant: Annotated[str, Form()] = "",
              personne: Annotated[str, Form()] = ""):
    typed, _ = _filters(kind, avant, personne)
    saved_views.save_view(request.app.state.settings, visitor.user, name, typed)
    query = {k: v for k, v in (("kind", typed["kind"]), ("avant", typed["due_before"]),
                               ("personne", typed["person"])) if v}
    return _back(f"/?{urlencode({**query, 'fait': 'vue'})}")


@router.post("/vues/{view_id}/supprimer")
def delete_view(view_id: int, request: Request, visitor: VisitorDep):
    saved_views.delete_view(request.app.state.settings, visitor.user, view_id)
    return _back("/?fait=vue-supprimee")
