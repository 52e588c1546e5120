"""Issue 18: only what can be true enters a file. Each case the issue found from the outside, over HTTP
on the real app, worker and database: refused with a 422 naming the field, in French, nothing written;
and `eaflow data check` finds what was recorded before the bounds existed."""
from __future__ import annotations

import copy
import json
from datetime import date, timedelta

import pytest
from sqlmodel import func, select

from eaflow.cli import main
from eaflow.store.accompaniment import Contact, EmploymentEpisode
from eaflow.store.db import session_scope
from eaflow.store.models import AuditEvent, Journey, Person
from tests.api.test_contacts import admitted_journey, contact
from tests.api.test_employment import opening
from tests.api.test_journeys_and_inbox import C1, MANAGER, PRESCRIBER, intake

pytestmark = pytest.mark.xdist_group("dev-server")

TODAY = date.today()


@pytest.fixture
def db_backend() -> str:
    return "sqlite"


def count(settings, model) -> int:
    with session_scope(settings.db_url) as session:
        return session.exec(select(func.count()).select_from(model)).one()


def refused_on(response, field: str) -> str:
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    errors = {e["field"]: e["message"] for e in response.json()["errors"]}
    assert field in errors, errors
    return errors[field]


def body_with(path: str, value) -> dict:
    body = copy.deepcopy(intake())
    *head, last = path.split(".")
    node = body
    for part in head:
        node = node[part]
    node[last] = value
    return body


@pytest.mark.parametrize("path, value, words", [
    ("consent.given_on", (TODAY + timedelta(days=3652)).isoformat(), "futur"),  # a consent ten years ahead
    ("prescribed_on", "0650-03-01", "plus longtemps"),  # a prescription of the seventh century
    ("person.birth_date", "0096-05-17", "120 ans"),  # a person born in year 96
    ("rights.rqth_until", "9999-12-31", "sans limitation de durée"),  # an RQTH until 9999
    ("person.last_name", "Martin\x07\u200f", "invisible"),  # a bell and a right-to-left mark
])
async def test_the_intakes_found_from_the_outside_are_refused_and_write_nothing(api, settings, path, value, words):
    response = await api.request("POST", "/api/v1/journeys", PRESCRIBER, json=body_with(path, value))
    assert words in refused_on(response, path)
    assert response.json()["detail"] and count(settings, Journey) == count(settings, Person) == 0
    assert count(settings, AuditEvent) == 0


async def test_a_prescription_at_the_bounds_of_the_policy_is_taken(api, settings):
    oldest = TODAY.replace(year=TODAY.year - 2) + timedelta(days=1)  # [intake] prescription_max_age = P2Y
    body = body_with("prescribed_on", oldest.isoformat())
    body["consent"]["given_on"] = oldest.isoformat()
    assert (await api.request("POST", "/api/v1/journeys", PRESCRIBER, json=body)).status_code == 201
    too_old = body_with("prescribed_on", (oldest - timedelta(days=2)).isoformat())
    assert "plus longtemps" in refused_on(await api.request("POST", "/api/v1/journeys", PRESCRIBER, json=too_old),
                                          "prescribed_on")


async def test_a_contact_of_1901_and_a_job_of_year_1_are_refused(api, settings, platform):
    journey_id = await admitted_journey(api, platform)
    contacts = f"/api/v1/journeys/{journey_id}/contacts"
    message = refused_on(await api.request("POST", contacts, C1, json=contact(occurred_on="1901-06-01")), "occurred_on")
    assert "précède le début du parcours" in message
    prescribed = date.fromisoformat(intake()["prescribed_on"])
    refused_on(await api.request("POST", contacts, C1, json=contact(occurred_on=(prescribed - timedelta(days=1))
                                                                    .isoformat())), "occurred_on")
    assert (await api.request("POST", contacts, C1, json=contact(occurred_on=prescribed.isoformat()))).status_code == 201
    assert count(settings, Contact) == 1

    job = await api.request("POST", f"/api/v1/journeys/{journey_id}/employment", C1,
                            json=opening(started_on="0001-01-01"))
    assert "16 ans" in refused_on(job, "started_on") and count(settings, EmploymentEpisode) == 0
    before_the_journey = (prescribed - timedelta(days=400)).isoformat()  # people enter already employed
    job = await api.request("POST", f"/api/v1/journeys/{journey_id}/employment", C1,
                            json=opening(started_on=before_the_journey))
    assert job.status_code == 201, job.text


async def test_an_outcome_dated_before_the_prescription_is_refused_beside_its_field(api, settings, platform):
    journey_id = await admitted_journey(api, platform)
    task = await api.wait_task(journey_id, "shared_evaluation", C1)
    outcome = {"evaluated_on": "1999-01-01", "wishes": "Travailler.", "needs": "Un appui.", "resources": "Motivée."}
    response = await api.request("POST", f"/api/v1/tasks/{task['id']}/complete", C1, json={"outcome": outcome})
    refused_on(response, "outcome.evaluated_on")
    assert (await api.request("GET", f"/api/v1/tasks/{task['id']}", C1)).json()["status"] == "open"


async def test_a_month_of_year_0_and_a_body_too_deep_are_french_422s(api, platform):
    journey_id = await admitted_journey(api, platform)
    month = await api.request("GET", f"/api/v1/journeys/{journey_id}/intensity", C1, params={"to": "0000-01"})
    assert "AAAA-MM" in refused_on(month, "to")
    deep = "[" * 100 + "]" * 100
    response = await api.request("POST", "/api/v1/journeys", PRESCRIBER, content=deep,
                                 headers={"Content-Type": "application/json"})
    assert response.status_code == 422 and "imbriqué" in json.dumps(response.json(), ensure_ascii=False)
    report = await api.request("GET", "/api/v1/reports/indicators", MANAGER, params={"from": "9999-12-01",
                                                                                    "to": "9999-12-31"})
    assert "1900" in refused_on(report, "from")


async def test_eaflow_data_check_lists_what_was_recorded_out_of_bounds(api, settings, platform, capsys, monkeypatch):
    created = await api.request("POST", "/api/v1/journeys", PRESCRIBER, json=intake())
    journey_id = created.json()["id"]
    monkeypatch.setenv("EAFLOW_DATABASE_URL", settings.db_url)
    assert main(["data", "check"]) == 0
    assert "0 record(s) out of bounds" in capsys.readouterr().out
    with session_scope(settings.db_url) as session:  # as an import from before the bounds would have written it
        person = session.get(Person, journey_id)
        person.birth_date, person.last_name = date(96, 5, 17), "Mar\x07tin"
        session.add(person)
    assert main(["data", "check", "--platform", "35"]) == 1
    out = capsys.readouterr().out
    assert f"person {journey_id} birth_date='0096-05-17'" in out and f"person {journey_id} last_name=" in out
    assert "2 record(s) out of bounds" in out
    assert main(["data", "check", "--platform", "99"]) == 2
