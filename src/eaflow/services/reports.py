"""R20: the quarterly steering indicators of the manager's platform, once for the API and the pages:
the period asked for, the report, and its downloads, a CSV a French spreadsheet opens as it is (`;`
separator, decimal comma, UTF-8 with a BOM) and an XLSX workbook (numbers as numeric cells).

What each indicator counts is eaflow.indicators'. Every output goes through `indicators_report`, which
masks the small numbers of the health and profile breakdowns (eaflow.small_numbers: "< 5", a text cell
in the XLSX). The report holds aggregates only (no person's name
or id, R22): reading it is not a read of anyone's file, so it writes no audit event.
"""
from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import date, datetime, timezone
from typing import Any, Optional

from eaflow import indicators, small_numbers
from eaflow.notifications.registry import date_short
from eaflow.services import roles
from eaflow.services.db import db_scope
from eaflow.services.operators import operator_scope, operators_of
from eaflow.services.refusals import Refusal
from eaflow.settings import Settings
from eaflow.store.models import Platform, User

FORMATS = ("json", "csv", "xlsx")
CSV_MEDIA_TYPE = "text/csv; charset=utf-8"
XLSX_MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
CSV_COLUMNS = ("group", "indicator", "label", "value")
# The XLSX has one sheet per group, the CSV's columns but the group under French headers.
XLSX_HEADERS = ("Indicateur", "Libellé", "Valeur")
XLSX_SHEETS = {
    "activity": "Activité",
    "resources": "Ressources",
    "distance_from_employment": "Éloignement de l'emploi",
    "employment": "Emploi",
}
GROUP_LABELS = {
    "activity": "Activité",
    "resources": "Ressources",
    "distance_from_employment": "Distance à l'emploi",
    "employment": "Emploi",
}
INVALID_PERIOD = "La période demandée n'est pas valable."
NO_PLATFORM = "Ce compte n'est rattaché à aucune plateforme."


@dataclass(frozen=True)
class Report:
    """One platform's indicators over one period, and what its downloads are called."""

    platform_id: str
    platform_name: str
    department: str
    period: indicators.Period
    result: dict[str, Any]

    @property
    def rows(self) -> list[indicators.Row]:
        return indicators.rows(self.result, self.platform_name)

    def filename(self, extension: str) -> str:
        start, end = self.period.start.isoformat(), self.period.end.isoformat()
        return f"indicateurs-{self.department}-{start}-{end}.{extension}"


@dataclass(frozen=True)
class Export:
    content: bytes
    media_type: str
    filename: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Content-Disposition": f'attachment; filename="{self.filename}"'}


def today() -> date:
    return datetime.now(timezone.utc).date()


def quarter(year: int, number: int) -> indicators.Period:
    """Calendar quarter `number` (1–4) of `year`."""
    first = date(year, 3 * (number - 1) + 1, 1)
    following = date(year + 1, 1, 1) if number == 4 else date(year, 3 * number + 1, 1)
    return indicators.Period(first, date.fromordinal(following.toordinal() - 1))


def period_of(start: Optional[date], end: Optional[date], on: Optional[date] = None) -> indicators.Period:
    """The period asked for (default: the last complete calendar quarter); a 422 naming the field."""
    errors = indicators.period_errors(start, end)
    if errors:
        raise Refusal(422, INVALID_PERIOD, errors=errors)
    return indicators.resolve_period(start, end, on or today())


def indicators_report(settings: Settings, user: User, start: Optional[date], end: Optional[date],
                      operator: Optional[str] = None) -> Report:
    """R20: the report of the user's platform (managers only) over the period asked for: consolidated,
    or one operator's part (`operator`). A manager of an operator other than the chef de file gets
    their operator's (services/operators.py); the chef de file's may ask for any operator's."""
    roles.check(user, roles.MANAGERS)
    period = period_of(start, end)
    with db_scope(settings) as session:
        platform = session.get(Platform, user.platform_id) if user.platform_id else None
        if platform is None:
            raise Refusal(403, NO_PLATFORM)
        scope = operator_scope(session, user)
        known = {o.id: o for o in operators_of(session, platform.id)}
        if operator and operator not in known:
            raise Refusal(422, "Cet opérateur n'existe pas sur la plateforme.",
                          errors=[{"field": "operator", "message": "choisissez un opérateur de la plateforme"}])
        if scope is not None and operator not in (None, scope):
            raise Refusal(403, "Vous ne voyez que les indicateurs de votre opérateur.",
                          errors=[{"field": "operator", "message": "un autre opérateur"}])
        operator = operator or scope
        name = platform.name + (f" — {known[operator].name}" if operator else "")
        return Report(platform.id, name, platform.department, period,
                      published(session, platform.id, period, operator))


def published(session, platform_id: str, period: indicators.Period, operator: Optional[str] = None) -> dict[str, Any]:
    """The report as it leaves eaflow, to a page, a file or an archived snapshot: its small numbers
    masked (eaflow.small_numbers)."""
    return small_numbers.protect(indicators.report(session, platform_id, period, operator_id=operator))


# ---------------------------------------------------------------------------------------- downloads

def csv_value(value: Any) -> str:
    """A cell as a French spreadsheet reads it: decimal comma, nothing for a missing value."""
    if value is None:
        return ""
    if isinstance(value, float):
        return str(value).replace(".", ",")
    return str(value)


def to_csv(rows: list[indicators.Row]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=";", lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for row in rows:
        writer.writerow((row.group, row.indicator, row.label, csv_value(row.value)))
    return "\ufeff" + buffer.getvalue()


def title_of(report: Report) -> str:
    return (f"Indicateurs de pilotage — {report.platform_name} — du {date_short(report.period.start)} "
            f"au {date_short(report.period.end)}")


def to_xlsx(report: Report) -> bytes:
    """One sheet per group of §V.A.6 (XLSX_SHEETS: Activité, Ressources, Éloignement de l'emploi, Emploi):
    a title row (platform and period), then the indicators of the group under French headers, one row
    each, its figure a numeric cell (a masked small number "< 5" stays text), columns sized to their
    content. The platform and the period are in every title and in the workbook's properties."""
    from openpyxl import Workbook
    from openpyxl.styles import Font

    workbook = Workbook()
    workbook.remove(workbook.active)
    workbook.properties.title = title_of(report)
    workbook.properties.creator = "eaflow"
    rows = report.rows
    for group in indicators.GROUPS:
        sheet = workbook.create_sheet(XLSX_SHEETS[group])
        sheet.append((f"{title_of(report)} — {XLSX_SHEETS[group]}",))
        sheet["A1"].font = Font(bold=True, size=13)
        sheet.append(XLSX_HEADERS)
        for cell in sheet[2]:
            cell.font = Font(bold=True)
        widths = [len(header) for header in XLSX_HEADERS]
        for row in (r for r in rows if r.group == group):
            values = (row.indicator, row.label, row.value)
            sheet.append(values)
            for column, (cell, value) in enumerate(zip(sheet[sheet.max_row], values)):
                if isinstance(value, str):
                    cell.data_type = "s"  # text, never a formula (a counsellor's name may start with "=")
                widths[column] = max(widths[column], len(csv_value(value)))
        for letter, width in zip("ABC", widths):
            sheet.column_dimensions[letter].width = min(max(width + 2, 12), 90)
        sheet.freeze_panes = "A3"
        sheet.auto_filter.ref = f"A2:C{max(sheet.max_row, 2)}"
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def export(report: Report, format: str) -> Export:
    """The report as a file to download: `csv` or `xlsx`."""
    if format == "csv":
        return Export(to_csv(report.rows).encode("utf-8"), CSV_MEDIA_TYPE, report.filename("csv"))
    if format == "xlsx":
        return Export(to_xlsx(report), XLSX_MEDIA_TYPE, report.filename("xlsx"))
    raise Refusal(422, "Format inconnu.", errors=[{"field": "format", "message": "choisissez csv ou xlsx"}])
