"""R20: the quarterly steering indicators of the manager's platform, as JSON, as a CSV a French
spreadsheet opens as it is (`;` separator, decimal comma, UTF-8 with a BOM) or as an XLSX workbook.

A thin router: the period, the report and its files are eaflow.services.reports' (the pages call the
same), what each indicator counts eaflow.indicators'.
"""
from __future__ import annotations

from datetime import date
from typing import Annotated, Literal, Optional

from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response

from eaflow.api.deps import SettingsDep, require
from eaflow.services import reports, roles
from eaflow.store.models import User

router = APIRouter(tags=["reports"])


@router.get("/api/v1/reports/indicators", summary="Quarterly steering indicators of the platform (R20)")
def indicators_report(
    settings: SettingsDep,
    user: Annotated[User, Depends(require(*roles.MANAGERS))],
    start: Annotated[Optional[date], Query(alias="from", description="first day (YYYY-MM-DD); "
                                            "default: the last complete calendar quarter")] = None,
    end: Annotated[Optional[date], Query(alias="to", description="last day, included (at most 366 days)")] = None,
    format: Annotated[Literal["json", "csv", "xlsx"],
                      Query(description="json, csv (`;`, UTF-8 with BOM) or xlsx (one sheet, numeric cells)")] = "json",
    operator: Annotated[Optional[str], Query(max_length=64, description="one operator's part (its id); default: "
                                             "the whole platform, or the manager's operator")] = None,
):
    report = reports.indicators_report(settings, user, start, end, operator)
    if format == "json":
        return report.result
    file = reports.export(report, format)
    return Response(file.content, media_type=file.media_type, headers=file.headers)
