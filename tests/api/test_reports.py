"""R20 over HTTP: `GET /api/v1/reports/indicators` for the manager's platform, as JSON and as a CSV a
French spreadsheet opens (`;`, decimal comma, UTF-8 with BOM); counsellors are refused, bad periods are
problem+json naming the field. The quarter is the one seeded by tests/unit/test_indicators.py."""
from __future__ import annotations

import csv
import io
from datetime import datetime, timezone

import pytest

from eaflow import indicators
from tests.api.test_journeys_and_inbox import C1, MANAGER
from tests.unit.test_indicators import seed

pytestmark = pytest.mark.xdist_group("dev-server")

URL = "/api/v1/reports/indicators"
Q1 = {"from": "2026-01-01", "to": "2026-03-31"}


async def test_r20_the_manager_reads_the_quarter_as_json(api, settings, platform):
    seed(settings.db_url, platform)
    response = await api.request("GET", URL, MANAGER, params=Q1)
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {"platform", "operator", "from", "to", "activity", "resources", "distance_from_employment", "employment"}
    assert (body["platform"], body["from"], body["to"]) == (platform.platform_id, "2026-01-01", "2026-03-31")
    assert body["activity"]["persons_accompanied"] == 8
    assert body["activity"]["veille"] == {"at_end": 1, "during_period": 2}
    assert body["activity"]["exits"]["by_reason"]["person_request"] == 1
    assert body["resources"]["caseload"]["per_fte"] == 3.8
    assert body["distance_from_employment"]["intensity"]["person_months_by_level"]["allege"] == 9
    assert body["employment"]["retention"]["6_months"]["rate_percent"] == 100.0
    # R22: aggregates only; reading them is not a read of anyone's file.
    assert "j-a" not in response.text and "Boulangerie" not in response.text


async def test_r20_the_csv_opens_in_a_french_spreadsheet(api, settings, platform):
    seed(settings.db_url, platform)
    response = await api.request("GET", URL, MANAGER, params={**Q1, "format": "csv"})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    assert response.headers["content-disposition"] == \
        'attachment; filename="indicateurs-35-2026-01-01-2026-03-31.csv"'
    assert response.content.startswith("\ufeff".encode())  # the BOM
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig")), delimiter=";"))
    assert rows[0] == ["group", "indicator", "label", "value"]
    cells = {(group, indicator): (label, value) for group, indicator, label, value in rows[1:]}
    assert len(cells) == len(rows) - 1
    assert cells[("report", "platform")] == ("Plateforme", "Plateforme d'Ille-et-Vilaine")
    assert cells[("report", "from")][1] == "2026-01-01"
    assert cells[("activity", "exits.by_reason.person_request")] == ("Sorties : demande explicite de la personne", "1")
    assert cells[("activity", "admission_delay.mean_days")][1] == "31,5"  # decimal comma
    assert cells[("resources", "caseload.per_fte")] == ("Nombre moyen de personnes suivies par ETP", "3,8")
    assert cells[("resources", f"caseload.by_counsellor.{platform.counsellor}.caseload")][0] == \
        "Camille Conseil : personnes suivies en fin de période (hors veille)"
    assert cells[("distance_from_employment", "intensity.person_months_by_level.allege")][1] == "9"
    assert cells[("employment", "retention.24_months.rate_percent")][1] == ""  # nobody due
    assert cells[("activity", "veille.at_end")] == ("Personnes en veille en fin de période", "1")


async def test_r20_without_a_period_the_last_complete_quarter(api):
    response = await api.request("GET", URL, MANAGER)
    assert response.status_code == 200, response.text
    quarter = indicators.last_complete_quarter(datetime.now(timezone.utc).date())
    assert (response.json()["from"], response.json()["to"]) == (quarter.start.isoformat(), quarter.end.isoformat())


async def test_r20_managers_only(api):
    counsellor = await api.request("GET", URL, C1, params=Q1)
    assert counsellor.status_code == 403
    assert counsellor.headers["content-type"] == "application/problem+json"
    anonymous = await api.http.get(URL, params=Q1)
    assert anonymous.status_code == 401


@pytest.mark.parametrize("params, field", [
    ({"from": "2026-03-31", "to": "2026-01-01"}, "to"),  # the end before the start
    ({"from": "2025-01-01", "to": "2026-06-30"}, "to"),  # more than 366 days
    ({"from": "2026-02-30", "to": "2026-03-31"}, "from"),  # not a date
    ({"from": "2026-01-01"}, "to"),  # one end without the other
    ({**Q1, "format": "pdf"}, "format"),  # json, csv or xlsx only
])
async def test_r20_a_bad_period_or_format_is_a_422_naming_the_field(api, params, field):
    response = await api.request("GET", URL, MANAGER, params=params)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert [e["field"] for e in response.json()["errors"]] == [field]
