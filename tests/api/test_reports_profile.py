"""R9 → R20 over HTTP: the shared evaluation records the profile at entry (optional fields of its outcome),
an employment its employer's NAF section and size; the report counts them, and every output (JSON, CSV,
XLSX) shows "< 5" for a small cell of a health or profile breakdown (R22, eaflow.small_numbers)."""
from __future__ import annotations

import asyncio
import io
from datetime import date

import pytest
from openpyxl import load_workbook
from sqlmodel import select

from eaflow import indicators
from eaflow.small_numbers import MASK
from eaflow.store.db import session_scope
from eaflow.store.models import SharedEvaluation
from tests.api.test_contacts import admitted_journey
from tests.api.test_journeys_and_inbox import C1, MANAGER

pytestmark = pytest.mark.xdist_group("dev-server")

URL = "/api/v1/reports/indicators"
TODAY = date.today()
PERIOD = {"from": date(TODAY.year, 3 * ((TODAY.month - 1) // 3) + 1, 1).isoformat(), "to": TODAY.isoformat()}
PROFILE = {"disability_nature": "psychique", "months_without_employment": 14, "lifetime_employment_years": 6.5,
           "education_level": "level_4", "status_at_entry": "job_seeker",
           "medico_social_support": ["samsah", "health_follow_up"]}


def evaluation(**changes) -> dict:
    return {"evaluated_on": TODAY.isoformat(), "wishes": "Travailler en cuisine", "needs": "Un employeur patient",
            "resources": "Un CAP de cuisine", **changes}


async def recorded(settings, journey_id: str) -> SharedEvaluation:
    for _ in range(100):
        with session_scope(settings.db_url) as session:
            row = session.exec(select(SharedEvaluation).where(SharedEvaluation.journey_id == journey_id)).first()
            if row is not None:
                return row
        await asyncio.sleep(0.1)
    raise AssertionError("the shared evaluation was not projected")


async def test_r9_r20_r22_the_profile_at_entry_is_counted_and_its_small_numbers_masked(api, settings, platform):
    journey_id = await admitted_journey(api, platform)
    task = await api.wait_task(journey_id, "shared_evaluation", C1)

    bad = await api.request("POST", f"/api/v1/tasks/{task['id']}/complete", C1,
                            json={"outcome": evaluation(disability_nature="inconnue")})
    assert bad.status_code == 422 and bad.headers["content-type"].startswith("application/problem+json"), bad.text
    assert "outcome.disability_nature" in {e["field"] for e in bad.json()["errors"]}
    both = await api.request("POST", f"/api/v1/tasks/{task['id']}/complete", C1,
                             json={"outcome": evaluation(medico_social_support=["none", "savs"])})
    assert both.status_code == 422, both.text

    done = await api.request("POST", f"/api/v1/tasks/{task['id']}/complete", C1, json={"outcome": evaluation(**PROFILE)})
    assert done.status_code == 200, done.text
    row = await recorded(settings, journey_id)
    assert (row.disability_nature, row.months_without_employment, row.lifetime_employment_years,
            row.education_level, row.status_at_entry, row.medico_social_support) == tuple(PROFILE.values())

    job = await api.request("POST", f"/api/v1/journeys/{journey_id}/employment", C1, json={
        "action": "open", "employer": {"name": "Hôpital Nord", "type": "public", "naf_section": "Q",
                                       "size_band": "250_4999"},
        "contract_type": "cdd", "started_on": TODAY.isoformat()})
    assert job.status_code == 201, job.text
    assert job.json()["employer"]["naf_section"] == "Q"
    wrong = await api.request("POST", f"/api/v1/journeys/{journey_id}/employment", C1, json={
        "action": "open", "employer": {"name": "Autre", "type": "private", "naf_section": "Z"},
        "contract_type": "cdd", "started_on": TODAY.isoformat()})
    assert wrong.status_code == 422 and "employer.naf_section" in wrong.text, wrong.text

    # Counted: the report as computed (before the masks) has the person in each breakdown.
    period = indicators.Period(date.fromisoformat(PERIOD["from"]), TODAY)
    with session_scope(settings.db_url) as session:
        computed = indicators.report(session, platform.platform_id, period)
    distance = computed["distance_from_employment"]
    assert distance["disability_nature"]["psychique"] == 1
    assert distance["time_without_employment"]["by_band"]["1_to_2_years"] == 1
    assert distance["lifetime_employment"]["mean_years"] == 6.5
    assert distance["medico_social_support"]["samsah"] == 1 and distance["education_level"]["level_4"] == 1
    assert computed["employment"]["employers"]["by_naf_section"]["Q"] == 1

    # Shown: one person is a small number in every output; the employers are not health data.
    body = (await api.request("GET", URL, MANAGER, params=PERIOD)).json()
    assert body["distance_from_employment"]["disability_nature"]["psychique"] == MASK
    assert body["distance_from_employment"]["status_at_entry"]["job_seeker"] == MASK
    assert list(body["distance_from_employment"]["disability_nature"].values()).count(MASK) == 2
    assert body["employment"]["employers"]["by_naf_section"]["Q"] == 1
    text = (await api.request("GET", URL, MANAGER, params={**PERIOD, "format": "csv"})).content.decode("utf-8-sig")
    assert "distance_from_employment;disability_nature.psychique;" \
           "Nature du handicap des personnes accompagnées : handicap psychique;< 5" in text
    xlsx = await api.request("GET", URL, MANAGER, params={**PERIOD, "format": "xlsx"})
    cells = {}
    for sheet in load_workbook(io.BytesIO(xlsx.content)).worksheets:
        for row in sheet.iter_rows(min_row=3, values_only=True):
            cells[row[0]] = row[-1]
    assert cells["disability_nature.psychique"] == MASK
    assert cells["employers.by_naf_section.Q"] == 1 and isinstance(cells["employers.by_naf_section.Q"], int)
