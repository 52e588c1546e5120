"""R20: the quarterly steering indicators of the manager's platform, as JSON, as a CSV a French
spreadsheet opens as it is (`;` separator, decimal comma, UTF-8 with a BOM) or as an XLSX workbook.

A thin router: the period, the report and its files are eaflow.services.reports' (the pages call the
same), what each indicator counts eaflow.indicators'.

The archived quarterly reports (immutable snapshots, R20): `GET /api/v1/reports` lists them,
`POST /api/v1/reports` stores a corrected version, `GET /api/v1/reports/{id}` downloads one as stored
(eaflow.services.report_snapshots).
"""
from __future__ import annotations

from datetime import date
from typing import Annotated, Literal, Optional

from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response
from pydantic import ConfigDict, Field

from eaflow.api.deps import SettingsDep, require
from eaflow.services import report_snapshots, reports, roles
from eaflow.store.models import User
from eaflow.workflows.plausibility import CheckedText

router = APIRouter(tags=["reports"])
# What `format` chooses: the report as JSON, CSV or XLSX (the OpenAPI document names all three).
REPORT_FILES = {200: {"description": "The report in the format asked", "content": {
    "application/json": {}, "text/csv": {"schema": {"type": "string"}},
    reports.XLSX_MEDIA_TYPE: {"schema": {"type": "string", "format": "binary"}}}}}


@router.get("/api/v1/reports/indicators", summary="Quarterly steering indicators of the platform (R20)",
            responses=REPORT_FILES)
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


ManagerDep = Annotated[User, Depends(require(*roles.MANAGERS))]


class CorrectionIn(CheckedText):
    """The period of the report to archive again (both absent: the last complete calendar quarter)."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    start: Optional[date] = Field(None, alias="from", description="first day (YYYY-MM-DD)")
    end: Optional[date] = Field(None, alias="to", description="last day, included")
    operator: Optional[str] = Field(None, max_length=64, description="one operator's part (its id); default: the "
                                                                     "whole platform, or the manager's operator")


@router.get("/api/v1/reports", summary="The platform's archived quarterly reports (R20)")
def list_reports(settings: SettingsDep, user: ManagerDep):
    return report_snapshots.list_snapshots(settings, user)


@router.post("/api/v1/reports", status_code=201, summary="Archive a corrected version of a period's report (R20)")
def correct_report(settings: SettingsDep, user: ManagerDep, body: CorrectionIn):
    return report_snapshots.correct(settings, user, body.start, body.end, body.operator)


@router.get("/api/v1/reports/{snapshot_id:int}", summary="One archived report, exactly as stored (R20)",
            responses=REPORT_FILES)
def download_report(
    snapshot_id: int, settings: SettingsDep, user: ManagerDep,
    format: Annotated[Literal["json", "csv", "xlsx"],
                      Query(description="json (the stored bytes: their SHA-256 is the listed one), csv or xlsx")] = "json",
):
    file = report_snapshots.download(settings, user, snapshot_id, format)
    return Response(file.content, media_type=file.media_type, headers=file.headers)
