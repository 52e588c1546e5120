"""/indicateurs (R20) in the browser: the manager's tables and charts for a period, its downloads
(the CSV of the API, an XLSX with numeric cells), the French errors of a bad period, and the French
404 of everyone else. The quarter is the one seeded by tests/unit/test_indicators.py; no Temporal."""
from __future__ import annotations

import csv
import hashlib
import io
import re
from datetime import datetime, timezone

import pytest
from openpyxl import load_workbook

from eaflow import accounts, indicators
from eaflow.store.db import session_scope
from tests.conftest import PASSWORD
from tests.unit.test_indicators import seed

MANAGER = "manager@test.fr"
API = "/api/v1/reports/indicators"
Q1 = {"from": "2026-01-01", "to": "2026-03-31"}
PAGE_Q1 = "/indicateurs?annee=2026&trimestre=T1"
DOWNLOAD = "/indicateurs/telecharger?format={format}&du=2026-01-01&au=2026-03-31"


def cells_of(html: str) -> dict[str, str]:
    """The report's tables: indicator label → value as shown."""
    rows = re.findall(r'<tr><th scope="row">([^<]*)</th><td class="number">([^<]*)</td></tr>', html)
    return {label.replace("&#39;", "'"): value for label, value in rows}


@pytest.fixture
async def manager(plain_pages, settings, platform):
    seed(settings.db_url, platform)
    await plain_pages.sign_in(MANAGER)
    return plain_pages


async def test_r20_the_manager_sees_the_quarter_as_tables_and_charts(manager, platform):
    page = await manager.get(MANAGER, PAGE_Q1)
    assert page.status_code == 200, page.text
    html = page.text
    assert "<h1>Indicateurs de pilotage</h1>" in html and "Plateforme d&#39;Ille-et-Vilaine" in html
    assert "Indicateurs du <strong>1er janvier 2026</strong> au <strong>31 mars 2026</strong>" in html
    cells = cells_of(html)
    assert cells["Personnes accompagnées pendant la période"] == "8"
    assert cells["Nombre moyen de personnes suivies par ETP"] == "3,8"  # decimal comma
    assert cells["Délai moyen entre la prescription (ou l'orientation) et l'entrée (jours)"] == "31,5"
    assert cells["Sorties : demande explicite de la personne"] == "1"
    assert cells["Maintien dans l'emploi à 24 mois : taux de maintien (%)"] == "—"  # nobody due
    for group in ("1. Activité", "2. Ressources", "3. Distance à l&#39;emploi", "4. Emploi"):
        assert f">{group}</h2>" in html
    # Three charts drawn on the server, each named, each with its figures as a table.
    assert html.count('role="img"') == 3 and html.count("<svg") == 3
    for title in ("Sorties du dispositif par motif", "Personnes suivies en fin de période par conseiller",
                  "Mois-personnes d&#39;accompagnement par niveau d&#39;intensité"):
        assert re.search(rf'<title id="graphique-[a-z]+-titre">{title}', html), title
    assert cells["Allégé"] == "9" and cells["Désengagement manifeste et durable"] == "1"  # the charts' tables
    # R7: counsellor by counsellor, capacity 20 per FTE; Dominique Demi (0,05 FTE) above it, in red.
    assert '<tr><th scope="row">Dominique Demi</th><td class="number">0,05</td><td class="number">2</td>' \
           '<td class="number">1</td></tr>' in html
    assert 'fill="#b3261e"><title>Dominique Demi (0,05 ETP) : 2 personnes (capacité 1)</title>' in html
    # The strict CSP: no inline style, no script but the app's own.
    assert "style=" not in html and "<script" in html and html.count("<script") == 1
    assert page.headers["content-security-policy"].startswith("default-src 'self'")
    # R22: aggregates only.
    assert "j-a" not in html and "Boulangerie" not in html


async def test_r20_two_dates_give_the_same_report_and_nothing_is_the_last_complete_quarter(manager):
    by_dates = await manager.get(MANAGER, "/indicateurs?du=2026-01-01&au=2026-03-31")
    by_quarter = await manager.get(MANAGER, PAGE_Q1)
    assert by_dates.status_code == 200 and cells_of(by_dates.text) == cells_of(by_quarter.text)
    default = await manager.get(MANAGER, "/indicateurs")
    assert default.status_code == 200
    quarter = indicators.last_complete_quarter(datetime.now(timezone.utc).date())
    assert f'value="{quarter.start.isoformat()}"' in default.text
    assert f'value="{quarter.end.isoformat()}"' in default.text
    assert f'<option value="T{(quarter.start.month - 1) // 3 + 1}" selected>' in default.text


async def test_r20_the_csv_download_is_the_apis(manager):
    page = await manager.get(MANAGER, PAGE_Q1)
    assert 'href="/indicateurs/telecharger?format=csv&amp;du=2026-01-01&amp;au=2026-03-31"' in page.text
    response = await manager.get(MANAGER, DOWNLOAD.format(format="csv"))
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    assert response.headers["content-disposition"] == 'attachment; filename="indicateurs-35-2026-01-01-2026-03-31.csv"'
    api = await manager.api.request("GET", API, MANAGER, params={**Q1, "format": "csv"})
    assert response.content == api.content
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig")), delimiter=";"))
    assert rows[0] == ["group", "indicator", "label", "value"]


async def test_r20_the_xlsx_download_holds_numbers(manager):
    report = (await manager.api.request("GET", API, MANAGER, params=Q1)).json()
    response = await manager.get(MANAGER, DOWNLOAD.format(format="xlsx"))
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    assert response.headers["content-disposition"] == \
        'attachment; filename="indicateurs-35-2026-01-01-2026-03-31.xlsx"'
    workbook = load_workbook(io.BytesIO(response.content))
    assert workbook.sheetnames == ["Activité", "Ressources", "Éloignement de l'emploi", "Emploi"]
    title = workbook["Activité"]["A1"].value
    assert "Plateforme d'Ille-et-Vilaine" in title and "01/01/2026" in title and "31/03/2026" in title
    values = {}
    for group, sheet in zip(("activity", "resources", "distance_from_employment", "employment"), workbook.worksheets):
        assert [c.value for c in sheet[2]] == ["Indicateur", "Libellé", "Valeur"]
        values.update({(group, row[0].value): row[2] for row in sheet.iter_rows(min_row=3)})
    per_fte = values[("resources", "caseload.per_fte")]
    assert per_fte.data_type == "n" and per_fte.value == report["resources"]["caseload"]["per_fte"] == 3.8
    accompanied = values[("activity", "persons_accompanied")]
    assert accompanied.data_type == "n" and accompanied.value == report["activity"]["persons_accompanied"] == 8
    assert values[("employment", "retention.24_months.rate_percent")].value is None
    sheet = workbook["Activité"]
    assert sheet.column_dimensions["B"].width > 40  # sized to the labels


async def test_r20_only_managers_see_the_page_the_others_get_the_french_404(plain_pages, settings, platform):
    with session_scope(settings.db_url) as session:
        accounts.create_user(session, "admin@test.fr", "admin", PASSWORD, platform_id=platform.platform_id)
    for email in ("c1@test.fr", "prescripteur@test.fr", "admin@test.fr"):
        await plain_pages.sign_in(email)
        for url in (PAGE_Q1, DOWNLOAD.format(format="csv"), DOWNLOAD.format(format="xlsx")):
            response = await plain_pages.get(email, url)
            assert response.status_code == 404, (email, url)
            assert "Page introuvable" in response.text and "Cette page n&#39;existe pas." in response.text
    anonymous = await plain_pages.get("nobody", PAGE_Q1)
    assert anonymous.status_code == 303 and anonymous.headers["location"].startswith("/connexion?suivant=")


@pytest.mark.parametrize("query, field, message", [
    ("du=2026-03-31&au=2026-01-01", "au", "La fin de la période ne peut pas précéder son début."),
    ("du=2025-01-01&au=2026-06-30", "au", "La période ne peut pas dépasser 366 jours."),
    ("du=2026-02-30&au=2026-03-31", "du", "Indiquez une date valide (jj/mm/aaaa)."),
    ("du=2026-01-01", "au", "Indiquez aussi la fin de la période, ou ni l&#39;un ni l&#39;autre"),
    ("annee=deux&trimestre=T1", "annee", "Indiquez une année entre 2000"),
    ("annee=2026&trimestre=T5", "trimestre", "Choisissez un trimestre de la liste (T1 à T4)."),
])
async def test_r20_a_bad_period_is_a_french_error_beside_its_field(manager, query, field, message):
    page = await manager.get(MANAGER, f"/indicateurs?{query}")
    assert page.status_code == 422, page.text
    error = re.search(rf'<p class="field-error" id="f-{field}-error">(.*?)</p>', page.text)
    assert error and message in error.group(1), page.text
    assert f'id="f-{field}" ' in page.text
    assert f'aria-describedby="f-{field}-error" aria-invalid="true"' in page.text
    assert f'<a href="#f-{field}">' in page.text  # the summary links to the field
    assert "<svg" not in page.text and "Corrigez la période" in page.text
    download = await manager.get(MANAGER, f"/indicateurs/telecharger?format=xlsx&{query}")
    assert download.status_code == 422 and "La période demandée n&#39;est pas valable." in download.text


async def test_an_unknown_download_format_is_the_french_404(manager):
    response = await manager.get(MANAGER, DOWNLOAD.format(format="pdf"))
    assert response.status_code == 404 and "Page introuvable" in response.text


async def test_r20_the_archived_quarterly_reports_are_listed_with_their_hash_and_download_as_stored(manager):
    created = (await manager.api.request("POST", "/api/v1/reports", MANAGER, json=Q1)).json()
    page = await manager.get(MANAGER, PAGE_Q1)
    assert "Rapports trimestriels archivés" in page.text and created["sha256"] in page.text
    assert f'/indicateurs/archives/{created["id"]}?format=xlsx' in page.text
    stored = await manager.get(MANAGER, f'/indicateurs/archives/{created["id"]}?format=json')
    assert stored.status_code == 200
    assert hashlib.sha256(stored.content).hexdigest() == created["sha256"]
    assert (await manager.get(MANAGER, "/indicateurs/archives/999999")).status_code == 404
