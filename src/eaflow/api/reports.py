"""R20: the quarterly steering indicators of the manager's platform, as JSON or as a CSV a French
spreadsheet opens as it is (`;` separator, decimal comma, UTF-8 with a BOM).

The router parses the period and authorises; what each indicator counts is eaflow.indicators'. The
report holds aggregates only (no person's name or id, R22): reading it is not a read of anyone's file,
so it writes no audit event.
"""
from __future__ import annotations

import csv
import io
from datetime import date, datetime, timezone
from typing import Annotated, Any, Literal, Optional

from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response

from eaflow import indicators
from eaflow.api.deps import SettingsDep, require
from eaflow.api.problems import Problem
from eaflow.services import roles
from eaflow.services.db import db_scope
from eaflow.store.models import Platform, User

router = APIRouter(tags=["reports"])

CSV_COLUMNS = ("group", "indicator", "label", "value")


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


@router.get("/api/v1/reports/indicators", summary="Quarterly steering indicators of the platform (R20)")
def indicators_report(
    settings: SettingsDep,
    user: Annotated[User, Depends(require(*roles.MANAGERS))],
    start: Annotated[Optional[date], Query(alias="from", description="first day (YYYY-MM-DD); "
                                            "default: the last complete calendar quarter")] = None,
    end: Annotated[Optional[date], Query(alias="to", description="last day, included (at most 366 days)")] = None,
    format: Annotated[Literal["json", "csv"], Query(description="json or csv (`;`, UTF-8 with BOM)")] = "json",
):
    errors = indicators.period_errors(start, end)
    if errors:
        raise Problem(422, "La période demandée n'est pas valable.", errors=errors)
    period = indicators.resolve_period(start, end, datetime.now(timezone.utc).date())
    with db_scope(settings) as session:
        platform = session.get(Platform, user.platform_id) if user.platform_id else None
        if platform is None:
            raise Problem(403, "Ce compte n'est rattaché à aucune plateforme.")
        result = indicators.report(session, platform.id, period)
    if format == "json":
        return result
    filename = f"indicateurs-{platform.department}-{period.start.isoformat()}-{period.end.isoformat()}.csv"
    return Response(to_csv(indicators.rows(result, platform.name)), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})
