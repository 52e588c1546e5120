""""Ressources de la plateforme" (/ressources), for managers: the declaration of one year's resources
(R20 group 2: FTE and time split, titre professionnel per quarter; funding and trainings per year) and
its summary. The form hands what was typed to services/resources.py, the same service as
`GET/PUT /api/v1/platform-resources/{year}`: its refusals come back beside their fields.

A quarter, the funding or the trainings left wholly blank are "non déclaré". The trainings are rows of
the form (the declared ones, then blank ones); a blank row is skipped, and the box "formations déclarées"
says that an empty list means none this year rather than not declared."""
from __future__ import annotations

from typing import Any, Optional

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse

from eaflow.services import resources
from eaflow.services.refusals import Refusal
from eaflow.store.resources import (
    FUNDING_LABELS,
    FUNDING_SOURCES,
    MISSION_LABELS,
    MISSIONS,
    TRAINING_LABELS,
)
from eaflow.web.managers import ManagerDep
from eaflow.web.rendering import render_page
from eaflow.web.routing import PageRoute
from eaflow.web.session import CSRF_FIELD

router = APIRouter(route_class=PageRoute, include_in_schema=False)
PATH = "/ressources"
BLANK_TRAININGS = 3
STAFF_FIELDS = ("total_fte", *(f"fte_by_mission.{m}" for m in MISSIONS), "title_holders", "title_in_training")
FUNDING_FIELDS = (*FUNDING_SOURCES, "other_label")
TRAINING_FIELDS = ("status", "nature", "count")


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:g}".replace(".", ",")
    return str(value)


def _values_of(view: dict[str, Any]) -> dict[str, str]:
    """The form's fields filled with a declaration as it stands."""
    values: dict[str, str] = {}
    for number, staff in view["quarters"].items():
        for name in STAFF_FIELDS:
            value = None
            if staff is not None:
                value = staff["fte_by_mission"][name.split(".")[1]] if "." in name else staff[name]
            values[f"quarters.{number}.{name}"] = _text(value)
    for name in FUNDING_FIELDS:
        values[f"funding.{name}"] = _text((view["funding"] or {}).get(name))
    for index, training in enumerate(view["trainings"] or []):
        for name in TRAINING_FIELDS:
            values[f"trainings.{index}.{name}"] = _text(training[name])
    values["trainings_declared"] = "oui" if view["trainings"] is not None else ""
    return values


def _training_rows(values: dict[str, str]) -> list[int]:
    filled = sorted({int(key.split(".")[1]) for key, value in values.items() if key.startswith("trainings.")
                     and key.split(".")[1].isdigit() and key.rsplit(".", 1)[1] in ("nature", "count") and value})
    last = filled[-1] if filled else -1
    return list(range(last + 1 + BLANK_TRAININGS))


def _payload(values: dict[str, str]) -> tuple[dict[str, Any], dict[int, int]]:
    """What was typed, as the service reads it; and which form row each training of the list came from."""
    quarters: dict[str, Any] = {}
    for number in resources.QUARTERS:
        typed = {name: values.get(f"quarters.{number}.{name}", "").strip() for name in STAFF_FIELDS}
        if not any(typed.values()):
            quarters[number] = None
            continue
        quarters[number] = {"total_fte": typed["total_fte"], "title_holders": typed["title_holders"],
                            "title_in_training": typed["title_in_training"] or "0",
                            "fte_by_mission": {m: typed[f"fte_by_mission.{m}"] for m in MISSIONS}}
    funding: Optional[dict[str, str]] = {name: values.get(f"funding.{name}", "").strip() for name in FUNDING_FIELDS}
    if not any(funding.values()):
        funding = None
    trainings, rows = [], {}
    for row in _training_rows(values):
        typed = {name: values.get(f"trainings.{row}.{name}", "").strip() for name in TRAINING_FIELDS}
        if typed["nature"] or typed["count"]:
            rows[len(trainings)] = row
            trainings.append(typed)
    declared = trainings or values.get("trainings_declared") == "oui"
    return {"quarters": quarters, "funding": funding, "trainings": trainings if declared else None}, rows


def _on_form(errors: list[dict[str, str]], rows: dict[int, int]) -> list[dict[str, str]]:
    """The service names a training by its place in the list; the page by its row."""
    placed = []
    for error in errors:
        parts = error["field"].split(".")
        if parts[0] == "trainings" and len(parts) > 2 and parts[1].isdigit():
            parts[1] = str(rows.get(int(parts[1]), parts[1]))
        placed.append({**error, "field": ".".join(parts)})
    return placed


def _year(annee: Optional[str]) -> int:
    if annee and annee.isdigit():
        return int(annee)
    return resources.today().year


def _page(request: Request, user, year: int, *, values: Optional[dict[str, str]] = None,
          errors: Optional[list[dict[str, str]]] = None, status: int = 200, done: bool = False):
    settings = request.app.state.settings
    view = resources.declaration_of(settings, user, year)
    values = values if values is not None else _values_of(view)
    placed: dict[str, list[str]] = {}
    for error in errors or []:
        placed.setdefault(error["field"], []).append(error["message"])
    this_year = resources.today().year
    return render_page(
        request, "resources.html.j2", status=status, year=year, view=view, values=values, errors=errors or [],
        placed=placed, done=done, may_declare=resources.may_declare(settings, user),
        years=list(range(this_year + 1, resources.FIRST_YEAR - 1, -1)), training_rows=_training_rows(values),
        mission_labels=MISSION_LABELS, funding_labels=FUNDING_LABELS, training_labels=TRAINING_LABELS,
        missions=MISSIONS, funding_sources=FUNDING_SOURCES, staff_of=_staff_summary)


def _staff_summary(staff: dict[str, Any]) -> list[tuple[str, float, Optional[float]]]:
    """(mission, FTE, share of the total in %) of a declared quarter."""
    total = staff["total_fte"]
    return [(MISSION_LABELS[m], staff["fte_by_mission"][m],
             round(100 * staff["fte_by_mission"][m] / total, 1) if total else None) for m in MISSIONS]


@router.get(PATH)
def resources_page(request: Request, visitor: ManagerDep, annee: Optional[str] = None, fait: Optional[str] = None):
    return _page(request, visitor.user, _year(annee), done=fait == "1")


@router.post(PATH)
async def declare(request: Request, visitor: ManagerDep):
    form = await request.form()
    values = {key: str(form.get(key) or "") for key in form.keys() if key not in (CSRF_FIELD, "annee")}
    year = _year(str(form.get("annee") or ""))
    payload, rows = _payload(values)
    try:
        resources.declare(request.app.state.settings, visitor.user, year, payload)
    except Refusal as refusal:
        if refusal.status != 422:
            raise
        errors = _on_form(refusal.errors or [{"field": "", "message": refusal.detail}], rows)
        return _page(request, visitor.user, year, values=values, errors=errors, status=422)
    return RedirectResponse(f"{PATH}?annee={year}&fait=1", status_code=303)
