"""/personnes: the persons I follow, searchable by name, filterable by state, by next deadline."""
from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request

from eaflow.services import journeys
from eaflow.web.rendering import render_page
from eaflow.web.routing import PageRoute
from eaflow.web.session import Visitor, signed_in
from eaflow.workflows import transitions

router = APIRouter(route_class=PageRoute, include_in_schema=False)


@router.get("/personnes")
def persons_page(request: Request, visitor: Annotated[Visitor, Depends(signed_in)],
                 q: Annotated[str, Query(max_length=100)] = "", etat: str = ""):
    states = {state.value: label for state, label in transitions.LABELS.items()}
    state = etat if etat in states else ""
    items = journeys.caseload(request.app.state.settings, visitor.user, q=q, state=state or None)
    return render_page(request, "persons.html.j2", items=items, q=q, state=state, states=states)
