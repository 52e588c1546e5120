"""R20 over HTTP as XLSX: `GET /api/v1/reports/indicators?format=xlsx` is one sheet per group (Activité,
Ressources, Éloignement de l'emploi, Emploi) with the CSV's rows of that group under French headers, a
title row naming the platform and the period, and numbers as numeric cells equal to the JSON report's. The quarter is the one seeded by tests/unit/test_indicators.py;
the report needs no Temporal, so neither does this test."""
from __future__ import annotations

import csv
import io

import httpx
import pytest
from openpyxl import load_workbook

from eaflow.app import create_app
from eaflow.services import reports
from tests.api.conftest import Api
from tests.unit.test_indicators import seed

URL = "/api/v1/reports/indicators"
Q1 = {"from": "2026-01-01", "to": "2026-03-31"}
MANAGER, C1 = "manager@test.fr", "c1@test.fr"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@pytest.fixture
async def plain_api(settings, platform):
    app = create_app(settings)  # no Temporal client: reports only read the database
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test", timeout=30) as http:
        yield Api(http)


async def test_r20_the_xlsx_holds_the_csvs_rows_as_numbers(plain_api, settings, platform):
    seed(settings.db_url, platform)
    report = (await plain_api.request("GET", URL, MANAGER, params=Q1)).json()
    response = await plain_api.request("GET", URL, MANAGER, params={**Q1, "format": "xlsx"})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == XLSX
    assert response.headers["content-disposition"] == \
        'attachment; filename="indicateurs-35-2026-01-01-2026-03-31.xlsx"'
    workbook = load_workbook(io.BytesIO(response.content))
    assert workbook.sheetnames == ["Activité", "Ressources", "Éloignement de l'emploi", "Emploi"]
    rows, cells = [], {}
    for group, sheet in zip(reports.XLSX_SHEETS, workbook.worksheets):
        assert sheet["A1"].value == ("Indicateurs de pilotage — Plateforme d'Ille-et-Vilaine — du 01/01/2026 "
                                     f"au 31/03/2026 — {sheet.title}")
        assert [c.value for c in sheet[2]] == list(reports.XLSX_HEADERS)
        for indicator, label, value in sheet.iter_rows(min_row=3):
            rows.append((group, indicator.value, label.value, value.value))
            cells[(group, indicator.value)] = value.value
            # Figures are numbers; text only for a name or a masked small number.
            assert value.data_type == "n" or value.value == "< 5" or indicator.value.startswith("caseload.by_counsellor")
        assert all(sheet.column_dimensions[letter].width >= 10 for letter in "ABC")
    assert cells[("activity", "veille.at_end")] == report["activity"]["veille"]["at_end"] == 1
    assert cells[("activity", "admission_delay.mean_days")] == 31.5
    assert cells[("distance_from_employment", "intensity.person_months_by_level.allege")] == 9
    assert cells[("employment", "retention.6_months.rate_percent")] == 100.0
    assert cells[("employment", "retention.24_months.rate_percent")] is None  # nobody due: an empty cell
    # The same rows as the CSV, in the same order.
    text = (await plain_api.request("GET", URL, MANAGER, params={**Q1, "format": "csv"})).content.decode("utf-8-sig")
    csv_rows = [row for row in list(csv.reader(io.StringIO(text), delimiter=";"))[1:] if row[0] != "report"]
    assert [(g, i, label) for g, i, label, _ in csv_rows] == [(g, i, label) for g, i, label, _ in rows]


async def test_r20_json_and_csv_are_unchanged_and_xlsx_is_managers_only(plain_api, settings, platform):
    seed(settings.db_url, platform)
    assert (await plain_api.request("GET", URL, MANAGER, params=Q1)).headers["content-type"] == "application/json"
    assert (await plain_api.request("GET", URL, MANAGER, params={**Q1, "format": "csv"})).headers["content-type"] \
        == "text/csv; charset=utf-8"
    refused = await plain_api.request("GET", URL, C1, params={**Q1, "format": "xlsx"})
    assert refused.status_code == 403 and refused.headers["content-type"] == "application/problem+json"
    bad = await plain_api.request("GET", URL, MANAGER, params={"from": "2026-03-31", "to": "2026-01-01",
                                                                "format": "xlsx"})
    assert bad.status_code == 422 and [e["field"] for e in bad.json()["errors"]] == ["to"]
