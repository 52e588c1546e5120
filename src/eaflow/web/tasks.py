"""/taches/{task_id}: what the task asks, its context, and the form drawn from its outcome's JSON
Schema. An invalid submission shows each error beside its field (the API's errors, in French) and
records nothing; a valid one leads to the person's file with "Tâche terminée" and the next task."""
from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import RedirectResponse
from markupsafe import Markup

from eaflow.services import convention, inbox, journeys
from eaflow.services.refusals import Refusal
from eaflow.web import forms
from eaflow.web.rendering import render_page
from eaflow.web.routing import PageRoute
from eaflow.web.session import CSRF_FIELD, Visitor, signed_in
from eaflow.workflows.task_kinds import TASK_KINDS

router = APIRouter(route_class=PageRoute, include_in_schema=False)
VisitorDep = Annotated[Visitor, Depends(signed_in)]

# How long the page waits for the journey to open its next task after a completion (it usually
# takes a tenth of a second); past it, the person's file shows the open tasks as they are.
NEXT_TASK_WAIT = timedelta(seconds=1)


def _page(request: Request, visitor: Visitor, task: dict[str, Any], journey: dict[str, Any], *,
          values: dict | None = None, errors: list[dict] | None = None, rows: dict[str, int] | None = None,
          status: int = 200):
    kind = TASK_KINDS.get(task["kind"])
    user = visitor.user
    document = None
    if task["kind"] == "sign_convention" and task["status"] == "open" and (task.get("context") or {}).get("version"):
        # the platform signs what it reads: the document itself, on the page of the decision
        document = convention.convention_document(request.app.state.settings, user, task["journey_id"],
                                                  task["context"]["version"])
    may_complete = task["status"] == "open" and (
        (task["assignee"] or {}).get("id") == user.id
        or (task["assignee"] is None and task["candidate_role"] == user.role))
    return render_page(
        request, "task.html.j2", status=status, task=task, journey=journey, kind=kind,
        may_complete=may_complete, may_claim=task["status"] == "open" and task["assignee"] is None
        and task["candidate_role"] == user.role,
        holds_it=(task["assignee"] or {}).get("id") == user.id,
        values=values if values is not None else task.get("prefill") or {}, errors=errors or [],
        unplaced=forms.unplaced_errors(task["outcome_schema"], errors or []) if task["outcome_schema"] else [],
        rows=rows or {}, document=document, document_body=Markup(document.html) if document else None)


def _read(settings, user, task_id: str) -> tuple[dict, dict]:
    task = inbox.get_task(settings, user, task_id)
    return task, journeys.read_journey(settings, user, task["journey_id"])


@router.get("/taches/{task_id}")
def task_page(task_id: str, request: Request, visitor: VisitorDep):
    task, journey = _read(request.app.state.settings, visitor.user, task_id)
    return _page(request, visitor, task, journey)


@router.post("/taches/{task_id}")
async def complete(task_id: str, request: Request, visitor: VisitorDep):
    settings, user = request.app.state.settings, visitor.user
    task, journey = await run_in_threadpool(_read, settings, user, task_id)
    if task["outcome_schema"] is None:
        raise Refusal(409, "Cette tâche ne se complète pas depuis cette page.")
    submitted = await request.form()
    fields = {key: submitted.getlist(key) for key in submitted.keys() if key != CSRF_FIELD}
    outcome, rows = forms.parse_form(task["outcome_schema"], fields)
    if "__add_row" in fields:  # a row more to fill in: nothing is recorded yet
        return _page(request, visitor, task, journey, values=outcome, rows=rows)
    started = datetime.now(timezone.utc)
    try:
        await inbox.complete_task(settings, await request.app.state.temporal.client(), user, task_id, outcome)
    except Refusal as refusal:
        if refusal.status != 422:
            raise
        return _page(request, visitor, task, journey, values=outcome, rows=rows, status=422,
                     errors=refusal.errors or [{"field": "outcome", "message": refusal.detail}])
    following = await _next_task(settings, user, task["journey_id"], started)
    target = f"/parcours/{task['journey_id']}?fait=tache&tache={task_id}"
    return RedirectResponse(target + (f"&suivante={following['id']}" if following else ""), status_code=303)


async def _next_task(settings, user, journey_id: str, since: datetime) -> dict | None:
    deadline = datetime.now(timezone.utc) + NEXT_TASK_WAIT
    while True:
        found = await run_in_threadpool(inbox.opened_since, settings, user, journey_id, since)
        if found is not None or datetime.now(timezone.utc) >= deadline:
            return found
        await asyncio.sleep(0.05)
