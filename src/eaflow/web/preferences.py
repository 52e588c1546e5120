""""Mes préférences" (/preferences), for counsellors and managers: which mails they receive, kind by
kind, except those a rule makes mandatory, and — counsellors — whether they read their tasks in the
weekly digest instead of single mails. The same service as `GET/PUT /api/v1/me/preferences`."""
from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse

from eaflow.services import preferences, roles
from eaflow.services.refusals import Refusal
from eaflow.web.rendering import render_page
from eaflow.web.routing import PageRoute
from eaflow.web.session import Visitor, signed_in

router = APIRouter(route_class=PageRoute, include_in_schema=False)
VisitorDep = Annotated[Visitor, Depends(signed_in)]
PATH = "/preferences"


def _staff(visitor: Visitor):
    if visitor.user.role not in roles.STAFF:
        raise Refusal(404, "Cette page n'existe pas.")
    return visitor.user


def _page(request: Request, current: dict, *, errors: list[dict] | None = None, status: int = 200,
          done: bool = False):
    return render_page(request, "preferences.html.j2", status=status, prefs=current, errors=errors or [],
                       done=done)


@router.get(PATH)
def preferences_page(request: Request, visitor: VisitorDep, fait: str | None = None):
    user = _staff(visitor)
    return _page(request, preferences.preferences_of(request.app.state.settings, user), done=fait == "1")


@router.post(PATH)
async def save(request: Request, visitor: VisitorDep):
    user = _staff(visitor)
    settings = request.app.state.settings
    form = await request.form()
    received = set(form.getlist("receive"))
    current = preferences.preferences_of(settings, user)
    muted = [item["kind"] for item in current["kinds"] if not item["mandatory"] and item["kind"] not in received]
    try:
        preferences.save_preferences(settings, user, muted_kinds=muted,
                                     digest_instead=form.get("digest_instead") == "oui")
    except Refusal as refusal:
        if refusal.status != 422:
            raise
        return _page(request, current, errors=refusal.errors, status=422)
    return RedirectResponse(f"{PATH}?fait=1", status_code=303)
