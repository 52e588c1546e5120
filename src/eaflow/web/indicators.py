"""/indicateurs "Indicateurs" (managers only): the quarterly steering indicators of the platform (R20)
as tables grouped as the report is, three charts drawn on the server, a period picker (a calendar
quarter or two dates), and the report as CSV or XLSX (`/indicateurs/telecharger`); below, the archived
quarterly reports (R20 snapshots) with their hash, each downloadable as stored (`/indicateurs/archives/<id>`).

The period, the report and its files are eaflow.services.reports' (the API's too); this module only
reads the form and lays the figures out. Anyone but a manager gets the French 404 page.
"""
from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Optional
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response

from eaflow import indicators
from eaflow.services import operators, report_snapshots, reports, roles
from eaflow.services.refusals import Refusal
from eaflow.web.indicator_charts import Bar, bar_chart, caseload_chart, number_fr
from eaflow.web.rendering import render_page
from eaflow.web.routing import PageRoute
from eaflow.web.session import Visitor, signed_in

router = APIRouter(route_class=PageRoute, include_in_schema=False)
VisitorDep = Annotated[Visitor, Depends(signed_in)]

QUARTERS = {"T1": 1, "T2": 2, "T3": 3, "T4": 4}
FIRST_YEAR = 2000
# The fields of the period in the services' errors → the page's fields.
PAGE_FIELDS = {"from": "du", "to": "au"}
API_NAMES = (" (from)", " (to)")
KEY_FIGURES = ("activity.persons_accompanied", "activity.new_entries.total", "activity.exits.total",
               "activity.waiting_list_at_end", "resources.caseload.per_fte",
               "employment.persons_in_employment.at_end")
NOT_FOUND = "Cette page n'existe pas."


def _managers_only(visitor: Visitor) -> None:
    if visitor.user.role not in roles.MANAGERS:
        raise Refusal(404, NOT_FOUND)


def _sentence(message: str) -> str:
    for name in API_NAMES:  # the API's parameter names mean nothing beside the page's fields
        message = message.replace(name, "")
    return message[:1].upper() + message[1:] + ("" if message.endswith(".") else ".")


def _day(text: str, field: str, errors: list[dict[str, str]]) -> Optional[date]:
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        errors.append({"field": field, "message": "Indiquez une date valide (jj/mm/aaaa)."})
        return None


def asked_period(annee: Optional[str], trimestre: Optional[str], du: Optional[str], au: Optional[str],
                 today: date) -> tuple[dict[str, str], Optional[date], Optional[date], list[dict[str, str]]]:
    """The form as typed, the period it asks for (two dates, or none for the default) and the errors
    of its fields. Two dates win over a quarter; nothing at all is the last complete quarter."""
    typed = {"annee": (annee or "").strip()[:10], "trimestre": (trimestre or "").strip()[:10],
             "du": (du or "").strip()[:20], "au": (au or "").strip()[:20]}
    errors: list[dict[str, str]] = []
    if typed["du"] or typed["au"]:
        start, end = _day(typed["du"], "du", errors), _day(typed["au"], "au", errors)
        if not errors:
            errors = [{"field": PAGE_FIELDS[e["field"]], "message": _sentence(e["message"])}
                      for e in indicators.period_errors(start, end)]
        return typed, start, end, errors
    if typed["annee"] or typed["trimestre"]:
        last_year = today.year + 1
        year = int(typed["annee"]) if typed["annee"].isdigit() else None
        if year is None or not FIRST_YEAR <= year <= last_year:
            errors.append({"field": "annee", "message": f"Indiquez une année entre {FIRST_YEAR} et {last_year}."})
        if typed["trimestre"] not in QUARTERS:
            errors.append({"field": "trimestre", "message": "Choisissez un trimestre de la liste (T1 à T4)."})
        if errors:
            return typed, None, None, errors
        period = reports.quarter(year, QUARTERS[typed["trimestre"]])
        return typed, period.start, period.end, errors
    return typed, None, None, errors


def _shown(period: indicators.Period) -> dict[str, str]:
    """The form as it stands for the period shown: its quarter (or the one it ends in), its two dates."""
    number = (period.end.month - 1) // 3 + 1
    return {"annee": str(period.end.year), "trimestre": f"T{number}",
            "du": period.start.isoformat(), "au": period.end.isoformat()}


def _value(value: Any) -> str:
    return number_fr(value) if isinstance(value, (int, float)) or value is None else str(value)


def _short(path: str) -> str:
    """The part of an indicator's French label after its family ("Sorties : décès…" → "décès…")."""
    text = indicators.label(path).split(" : ", 1)[-1]
    return text[:1].upper() + text[1:]


def _leaf(result: dict[str, Any], path: str) -> Any:
    value: Any = result
    for key in path.split("."):
        value = value[key]
    return value


def _groups(report: reports.Report) -> list[dict[str, Any]]:
    """One table per group of the report, in its order (the counsellors apart: a table of their own)."""
    groups = []
    for key in indicators.GROUPS:
        rows = [(row.label, _value(row.value)) for row in report.rows
                if row.group == key and not row.indicator.startswith("caseload.by_counsellor.")]
        groups.append({"key": key, "label": reports.GROUP_LABELS[key], "rows": rows})
    return groups


def _charts(result: dict[str, Any]) -> list[dict[str, Any]]:
    exits = [Bar(_short(f"activity.exits.by_reason.{reason}"), count)
             for reason, count in result["activity"]["exits"]["by_reason"].items()]
    levels = [Bar(_short(f"distance_from_employment.intensity.person_months_by_level.{level}"), count)
              for level, count in result["distance_from_employment"]["intensity"]["person_months_by_level"].items()]
    counsellors = result["resources"]["caseload"]["by_counsellor"]
    caseload = [Bar(f"{c['name']} ({number_fr(c['fte'])} ETP)", c["caseload"], c["capacity"]) for c in counsellors]
    return [
        {"id": "graphique-sorties", "heading": "Sorties du dispositif par motif (R15)",
         "svg": bar_chart(exits, title="Sorties du dispositif par motif", chart_id="graphique-sorties"),
         "columns": ("Motif de sortie", "Sorties"),
         "rows": [(bar.label, number_fr(bar.value)) for bar in exits]},
        {"id": "graphique-charge", "heading": "Personnes suivies par conseiller et capacité (R7)",
         "svg": caseload_chart(caseload, title="Personnes suivies en fin de période par conseiller, et capacité",
                               chart_id="graphique-charge") if caseload else None,
         "columns": ("Conseiller", "ETP", "Personnes suivies (hors veille)", "Capacité"),
         "rows": [(c["name"], number_fr(c["fte"]), number_fr(c["caseload"]), number_fr(c["capacity"]))
                  for c in counsellors]},
        {"id": "graphique-intensite", "heading": "Intensité de l'accompagnement : mois-personnes par niveau (R11)",
         "svg": bar_chart(levels, title="Mois-personnes d'accompagnement par niveau d'intensité",
                          chart_id="graphique-intensite"),
         "columns": ("Niveau d'intensité", "Mois-personnes"),
         "rows": [(bar.label, number_fr(bar.value)) for bar in levels]},
    ]


def _download_url(format: str, period: indicators.Period, operator: str = "") -> str:
    return "/indicateurs/telecharger?" + urlencode({"format": format, "du": period.start.isoformat(),
                                                     "au": period.end.isoformat(),
                                                     **({"operateur": operator} if operator else {})})


def _operator_choices(settings, user) -> list[tuple[str, str]]:
    """The perimeters a chef de file's manager may choose when the platform has several operators
    (none to choose otherwise: one operator, or a manager who sees only theirs)."""
    found = operators.list_operators(settings, user)
    whole_platform = user.operator_id is None or any(o["is_lead"] and o["id"] == user.operator_id for o in found)
    if len(found) < 2 or not whole_platform:
        return []
    return [("", "Toute la plateforme (consolidé)"),
            *((o["id"], o["name"] + (" (chef de file)" if o["is_lead"] else "")) for o in found)]


@router.get("/indicateurs")
def indicators_page(request: Request, visitor: VisitorDep, annee: Optional[str] = None,
                    trimestre: Optional[str] = None, du: Optional[str] = None, au: Optional[str] = None,
                    operateur: Annotated[str, Query(max_length=64)] = ""):
    _managers_only(visitor)
    settings, today = request.app.state.settings, reports.today()
    typed, start, end, errors = asked_period(annee, trimestre, du, au, today)
    context: dict[str, Any] = dict(quarters=tuple(QUARTERS), first_year=FIRST_YEAR, last_year=today.year + 1,
                                   errors=errors, messages={e["field"]: e["message"] for e in errors},
                                   operator_choices=_operator_choices(settings, visitor.user), operator=operateur)
    if errors:
        default = _shown(indicators.last_complete_quarter(today))  # the quarter picker keeps a choice
        typed = {**typed, **{k: default[k] for k in ("annee", "trimestre") if not typed[k]}}
        return render_page(request, "indicators.html.j2", status=422, typed=typed, report=None, **context)
    report = reports.indicators_report(settings, visitor.user, start, end, operateur or None)
    result = report.result
    charts = _charts(result)
    limit = f'plafond : {result["resources"]["caseload"]["persons_per_fte_limit"]}'
    return render_page(
        request, "indicators.html.j2", typed=_shown(report.period), report=report,
        key_figures=[(indicators.label(path), _value(_leaf(result, path)), limit if path.endswith("per_fte") else "")
                     for path in KEY_FIGURES],
        groups=_groups(report), charts=charts,
        counsellor_columns=charts[1]["columns"], counsellor_rows=charts[1]["rows"],
        downloads={"csv": _download_url("csv", report.period, operateur),
                   "xlsx": _download_url("xlsx", report.period, operateur)},
        archives=_archives(settings, visitor.user), **context)


def _archives(settings, user) -> list[dict[str, Any]]:
    """The archived quarterly reports (R20): the platform's and every operator's for the chef de file's
    managers, their operator's for a co-porteur's."""
    return report_snapshots.list_snapshots(settings, user)


@router.get("/indicateurs/archives/{snapshot_id:int}")
def download_archive(request: Request, visitor: VisitorDep, snapshot_id: int, format: str = "xlsx"):
    """One archived report, exactly as stored (the link of the quarterly mail)."""
    _managers_only(visitor)
    if format not in reports.FORMATS:
        raise Refusal(404, NOT_FOUND)
    file = report_snapshots.download(request.app.state.settings, visitor.user, snapshot_id, format)
    return Response(file.content, media_type=file.media_type, headers=file.headers)


@router.get("/indicateurs/telecharger")
def download(request: Request, visitor: VisitorDep, format: str = "", annee: Optional[str] = None,
             trimestre: Optional[str] = None, du: Optional[str] = None, au: Optional[str] = None,
             operateur: Annotated[str, Query(max_length=64)] = ""):
    _managers_only(visitor)
    if format not in ("csv", "xlsx"):
        raise Refusal(404, NOT_FOUND)
    _, start, end, errors = asked_period(annee, trimestre, du, au, reports.today())
    if errors:
        raise Refusal(422, reports.INVALID_PERIOD, errors=errors)
    report = reports.indicators_report(request.app.state.settings, visitor.user, start, end, operateur or None)
    file = reports.export(report, format)
    return Response(file.content, media_type=file.media_type, headers=file.headers)
