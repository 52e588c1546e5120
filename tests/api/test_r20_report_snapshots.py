"""R20, the report as a durable thing, over HTTP: a manager's correction stores version n+1 superseding
n and leaves n as it was; `GET /api/v1/reports` lists the snapshots with their SHA-256; a download is
exactly what was stored (the JSON bytes hash to the listed SHA-256); the database refuses to change or
remove a snapshot (triggers of migration 0016, SQLite and PostgreSQL). No Temporal needed."""
from __future__ import annotations

import hashlib
import io
import json

import httpx
import pytest
from openpyxl import load_workbook
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlmodel import select

from eaflow.app import create_app
from eaflow.services import reports
from eaflow.services.report_snapshots import canonical_json, sha256_of, store_first_version
from eaflow.store.db import session_scope
from eaflow.store.reports import SCHEDULE_AUTHOR, ReportSnapshot
from tests.api.conftest import Api
from tests.unit.test_indicators import Q1, seed

URL = "/api/v1/reports"
MANAGER, C1 = "manager@test.fr", "c1@test.fr"
PERIOD = {"from": "2026-01-01", "to": "2026-03-31"}


@pytest.fixture
async def plain_api(settings, platform):
    app = create_app(settings)  # no Temporal client: snapshots only read and insert in the database
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test", timeout=30) as http:
        yield Api(http)


def test_r20_the_hash_is_over_the_canonical_json():
    report = {"b": 1, "a": {"é": 2.5, "c": None}}
    content = canonical_json(report)
    assert content == '{"a":{"c":null,"é":2.5},"b":1}'
    assert sha256_of(content) == hashlib.sha256(content.encode("utf-8")).hexdigest()


async def test_r20_a_correction_is_a_new_version_and_the_old_one_is_unchanged(plain_api, settings, platform):
    seed(settings.db_url, platform)
    with session_scope(settings.db_url) as session:
        first, stored = store_first_version(session, platform.platform_id, Q1)
        assert stored and first.version == 1 and first.created_by == SCHEDULE_AUTHOR
        first_id, first_content, first_hash = first.id, first.content, first.sha256
    assert json.loads(first_content) == _report_now(settings, platform)
    # A late record changes the quarter's figures: the correction sees it, version 1 does not.
    with session_scope(settings.db_url) as session:
        session.exec(text("DELETE FROM intensity_month"))
    response = await plain_api.request("POST", URL, MANAGER, json=PERIOD)
    assert response.status_code == 201, response.text
    second = response.json()
    assert (second["version"], second["supersedes"], second["latest"]) == (2, first_id, True)
    assert second["created_by"] == platform.manager and second["created_by_label"] == "Maëlle Manager"
    assert second["sha256"] != first_hash
    third = (await plain_api.request("POST", URL, MANAGER, json=PERIOD)).json()
    assert (third["version"], third["supersedes"]) == (3, second["id"])

    listed = (await plain_api.request("GET", URL, MANAGER)).json()
    assert [(s["version"], s["latest"]) for s in listed] == [(3, True), (2, False), (1, False)]
    assert listed[2]["created_by_label"] == "envoi trimestriel automatique"
    assert {s["from"] for s in listed} == {"2026-01-01"} and {s["to"] for s in listed} == {"2026-03-31"}
    with session_scope(settings.db_url) as session:
        again = session.get(ReportSnapshot, first_id)
        assert (again.content, again.sha256) == (first_content, first_hash)  # version 1 as it was
        # The Schedule's run after a correction stores nothing more.
        existing, stored = store_first_version(session, platform.platform_id, Q1)
        assert (existing.id, stored) == (first_id, False)
        assert len(session.exec(select(ReportSnapshot)).all()) == 3


def _report_now(settings, platform) -> dict:
    """The report as published: its small numbers masked, as every output (eaflow.small_numbers)."""
    with session_scope(settings.db_url) as session:
        return reports.published(session, platform.platform_id, Q1)


async def test_r20_a_download_is_exactly_what_was_stored(plain_api, settings, platform):
    seed(settings.db_url, platform)
    created = (await plain_api.request("POST", URL, MANAGER, json=PERIOD)).json()
    [listed] = (await plain_api.request("GET", URL, MANAGER)).json()
    response = await plain_api.request("GET", f"{URL}/{created['id']}", MANAGER)
    assert response.status_code == 200 and response.headers["content-type"].startswith("application/json")
    assert hashlib.sha256(response.content).hexdigest() == listed["sha256"] == created["sha256"]
    assert response.headers["content-disposition"] == \
        'attachment; filename="indicateurs-35-2026-01-01-2026-03-31-v1.json"'
    stored = json.loads(response.content)
    csv_text = (await plain_api.request("GET", f"{URL}/{created['id']}", MANAGER,
                                        params={"format": "csv"})).content.decode("utf-8-sig")
    assert "Plateforme d'Ille-et-Vilaine" in csv_text and csv_text.startswith("group;indicator;label;value")
    xlsx = await plain_api.request("GET", f"{URL}/{created['id']}", MANAGER, params={"format": "xlsx"})
    assert xlsx.status_code == 200
    workbook = load_workbook(io.BytesIO(xlsx.content))
    assert workbook.worksheets  # the same figures as the stored JSON, laid out
    # What is downloaded is what was stored, not a new computation: change the data, same bytes.
    with session_scope(settings.db_url) as session:
        session.exec(text("DELETE FROM intensity_month"))
    assert (await plain_api.request("GET", f"{URL}/{created['id']}", MANAGER)).content == response.content
    assert stored["from"] == "2026-01-01"


async def test_r20_bad_requests_are_refused_with_the_field(plain_api, settings, platform):
    response = await plain_api.request("GET", f"{URL}/999999", MANAGER)
    assert response.status_code == 404 and response.headers["content-type"] == "application/problem+json"
    response = await plain_api.request("POST", URL, MANAGER, json={"from": "2026-03-31", "to": "2026-01-01"})
    assert response.status_code == 422 and response.headers["content-type"] == "application/problem+json"
    assert [e["field"] for e in response.json()["errors"]] == ["to"]
    response = await plain_api.request("POST", URL, MANAGER, json={"from": "2026-01-01"})
    assert response.status_code == 422 and [e["field"] for e in response.json()["errors"]] == ["to"]
    response = await plain_api.request("GET", f"{URL}/1", MANAGER, params={"format": "pdf"})
    assert response.status_code == 422
    for method in ("GET", "POST"):  # managers only
        assert (await plain_api.request(method, URL, C1, json=PERIOD)).status_code == 403
    with session_scope(settings.db_url) as session:
        assert session.exec(select(ReportSnapshot)).all() == []  # nothing was written


def test_r20_the_database_refuses_to_change_or_remove_a_snapshot(settings, platform):
    seed(settings.db_url, platform)
    with session_scope(settings.db_url) as session:
        snapshot, _ = store_first_version(session, platform.platform_id, Q1)
        snapshot_id = snapshot.id
    for statement in (f"UPDATE report_snapshot SET sha256 = 'x' WHERE id = {snapshot_id}",
                      f"UPDATE report_snapshot SET content = '{{}}' WHERE id = {snapshot_id}",
                      f"DELETE FROM report_snapshot WHERE id = {snapshot_id}"):
        with pytest.raises(DBAPIError, match="immutable"):
            with session_scope(settings.db_url) as session:
                session.exec(text(statement))
    with session_scope(settings.db_url) as session:
        assert session.get(ReportSnapshot, snapshot_id).sha256 == snapshot.sha256


async def test_r20_a_co_porteurs_manager_archives_and_reads_their_operators_part_only(plain_api, settings, platform):
    from tests.api.test_operators import MANAGER_B, add_operator

    operator_b = await add_operator(plain_api, settings, platform)
    whole = (await plain_api.request("POST", URL, MANAGER, json=PERIOD)).json()
    assert whole["operator"] is None
    # The co-porteur's manager corrects their operator's part, never the platform's nor another's.
    own = await plain_api.request("POST", URL, MANAGER_B, json=PERIOD)
    assert own.status_code == 201, own.text
    assert own.json()["operator"] == operator_b and own.json()["version"] == 1
    other = await plain_api.request("POST", URL, MANAGER_B, json={**PERIOD, "operator": "op-35"})
    assert other.status_code == 403 and other.headers["content-type"] == "application/problem+json"
    assert [s["operator"] for s in (await plain_api.request("GET", URL, MANAGER_B)).json()] == [operator_b]
    assert (await plain_api.request("GET", f"{URL}/{whole['id']}", MANAGER_B)).status_code == 404
    part = await plain_api.request("GET", f"{URL}/{own.json()['id']}", MANAGER_B)
    assert part.status_code == 200 and part.json()["operator"] == operator_b
    # The chef de file's manager reads both, the platform's first.
    assert [s["operator"] for s in (await plain_api.request("GET", URL, MANAGER)).json()] == [None, operator_b]
    unknown = await plain_api.request("POST", URL, MANAGER, json={**PERIOD, "operator": "op-x"})
    assert unknown.status_code == 422 and unknown.json()["errors"][0]["field"] == "operator"
    with session_scope(settings.db_url) as session:
        assert len(session.exec(select(ReportSnapshot)).all()) == 2
