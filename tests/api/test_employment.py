"""R16 employment episodes over HTTP with a real worker, a real Temporal dev server, a real SMTP
server and the database: a contract ends and the accompaniment goes on; refusals are problem+json
that write nothing; a repeated opening is one episode; the history and the journey show them."""
from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlmodel import func, select

from eaflow.store.accompaniment import EmploymentEpisode
from eaflow.store.db import session_scope
from eaflow.store.models import AuditEvent
from eaflow.workflows.journey import JourneyWorkflow
from tests.api.test_convention import (
    EMPLOYER, EMPLOYER_IN, PERSON, admitted_to_convention, draft_outcome, link_in, manager_signs, sign, wait_mails,
    wait_state,
)
from tests.api.test_journeys_and_inbox import C1, C2, MANAGER, PRESCRIBER, TODAY, intake

pytestmark = pytest.mark.xdist_group("dev-server")

STARTED = (date.today() - timedelta(days=60)).isoformat()


def opening(name: str = "Boulangerie Durand", type_: str = "private", contract: str = "cdd",
            started_on: str = STARTED, **extra) -> dict:
    return {"action": "open", "employer": {"name": name, "type": type_, **extra}, "contract_type": contract,
            "working_hours": "24 h / semaine", "started_on": started_on}


def closing(episode_id: str, reason: str = "end_of_fixed_term", ended_on: str = TODAY, **extra) -> dict:
    return {"action": "close", "episode_id": episode_id, "ended_on": ended_on, "end_reason": reason, **extra}


def counts(settings, journey_id: str) -> tuple[int, int]:
    """(episodes, employment audit events) of a journey."""
    with session_scope(settings.db_url) as session:
        episodes = session.exec(select(func.count()).select_from(EmploymentEpisode)
                                .where(EmploymentEpisode.journey_id == journey_id)).one()
        events = session.exec(select(func.count()).select_from(AuditEvent).where(
            AuditEvent.journey_id == journey_id, AuditEvent.action.in_(("employment_opened", "employment_closed")))
        ).one()
    return episodes, events


async def in_accompaniment(api, smtp_server, platform) -> str:
    """A journey whose convention is signed with the Boulangerie Durand as employer (R10)."""
    journey_id, draft = await admitted_to_convention(api, platform, situation="employed", employer=EMPLOYER_IN)
    done = await api.request("POST", f"/api/v1/tasks/{draft['id']}/complete", C1, json={"outcome": draft_outcome()})
    assert done.status_code == 200, done.text
    for to, name in ((PERSON, "Léa Martin"), (EMPLOYER, "Paul Durand")):
        [mail] = await wait_mails(smtp_server, "convention_to_sign", to)
        assert (await sign(api, link_in(mail), name)).status_code == 200
    await manager_signs(api, journey_id)
    await wait_state(api, journey_id, "accompaniment")
    return journey_id


async def test_r16_a_contract_ends_and_the_accompaniment_goes_on(api, settings, smtp_server, platform, local_env):
    journey_id = await in_accompaniment(api, smtp_server, platform)
    url = f"/api/v1/journeys/{journey_id}/employment"

    opened = await api.request("POST", url, C1, json=opening(siret="12345678901234"))
    assert opened.status_code == 201, opened.text
    episode = opened.json()
    assert episode["employer"] == {"name": "Boulangerie Durand", "type": "private", "siret": "12345678901234",
                                   "naf_section": None, "size_band": None}  # optional, for the indicators (R20)
    assert episode["contract_type"] == "cdd" and episode["started_on"] == STARTED and episode["ended_on"] is None
    assert episode["avenant_requested"] is False  # the employer the convention already names (R10)
    journey = (await api.request("GET", f"/api/v1/journeys/{journey_id}", C1)).json()
    assert journey["employment"] == {"id": episode["id"], "employer": {"name": "Boulangerie Durand", "type": "private"},
                                     "contract_type": "cdd", "started_on": STARTED}

    closed = await api.request("POST", url, C1, json=closing(episode["id"], note="Fin du CDD de remplacement."))
    assert closed.status_code == 200, closed.text
    assert closed.json()["ended_on"] == TODAY and closed.json()["end_reason"] == "end_of_fixed_term"
    assert closed.json()["rupture"] is False and closed.json()["avenant_requested"] is False

    # R16: the accompaniment goes on, between two jobs.
    journey = (await api.request("GET", f"/api/v1/journeys/{journey_id}", C1)).json()
    assert journey["state"] == "accompaniment" and journey["employment"] is None
    snapshot = await local_env.client.get_workflow_handle(journey_id).query(JourneyWorkflow.snapshot)
    assert snapshot.state == "accompaniment"

    listed = (await api.request("GET", url, MANAGER)).json()
    assert [e["id"] for e in listed["items"]] == [episode["id"]] and listed["current"] is None
    indicators = listed["indicators"]
    assert indicators["ruptures"] == {"count": 0, "by_reason": {}}
    assert indicators["time_in_firm"]["longest"]["days"] == 61 and indicators["time_in_firm"]["current"] is None
    # The job started before the admission and was held on its day (already in post, the "maintien"
    # case): retention counts from the admission (issue 14, 10), its dates still to come.
    assert indicators["retention"]["entry_on"] == journey["admitted_on"]
    assert [point["employed"] for point in indicators["retention"]["points"]] == [None, None, None]

    history = (await api.request("GET", f"/api/v1/journeys/{journey_id}/history", MANAGER)).json()["items"]
    events = {e["action"]: e for e in history if e["action"].startswith("employment_")}
    assert {"employment_opened", "employment_closed"} <= set(events)
    assert events["employment_opened"]["actor"]["id"] == platform.counsellor
    assert events["employment_closed"]["detail"] == {
        "episode_id": episode["id"], "employer_name": "Boulangerie Durand", "ended_on": TODAY,
        "end_reason": "end_of_fixed_term", "rupture": False, "note": "Fin du CDD de remplacement."}


async def test_r16_refusals_write_nothing_and_a_repeat_is_one_episode(api, settings, platform):
    created = await api.request("POST", "/api/v1/journeys", MANAGER, json=intake(channel="cdaph"))
    journey_id = created.json()["id"]
    url = f"/api/v1/journeys/{journey_id}/employment"
    await api.wait_task(journey_id, "assign_counsellor", MANAGER)

    # Not admitted yet: refused with the rule.
    early = await api.request("POST", url, MANAGER, json=opening())
    assert early.status_code == 409 and early.json()["rule"] == "R16", early.text
    assert early.headers["content-type"] == "application/problem+json"

    assign = await api.wait_task(journey_id, "assign_counsellor", MANAGER)
    await api.request("POST", f"/api/v1/tasks/{assign['id']}/complete", MANAGER,
                      json={"outcome": {"counsellor_id": platform.counsellor}})
    await wait_state(api, journey_id, "admitted")

    bad = opening(name=" ", type_="shop", started_on="pas une date")
    bad["employer"]["siret"] = "123"
    invalid = await api.request("POST", url, C1, json=bad)
    assert invalid.status_code == 422 and invalid.headers["content-type"] == "application/problem+json"
    assert {e["field"] for e in invalid.json()["errors"]} == {"employer.name", "employer.type", "employer.siret",
                                                              "started_on"}
    mismatch = await api.request("POST", url, C1, json=opening(type_="self_employed", contract="cdi"))
    assert [e["field"] for e in mismatch.json()["errors"]] == ["contract_type"]
    no_action = await api.request("POST", url, C1, json={"employer": {"name": "X", "type": "private"}})
    assert no_action.status_code == 422 and [e["field"] for e in no_action.json()["errors"]] == ["action"]
    future_end = await api.request("POST", url, C1, json=closing("emp-x", ended_on="2999-01-01", reason="fired"))
    assert {e["field"] for e in future_end.json()["errors"]} == {"ended_on", "end_reason"}
    assert counts(settings, journey_id) == (0, 0)

    # Who: the journey's counsellor and the platform's managers.
    assert (await api.request("POST", url, C2, json=opening())).status_code == 404
    assert (await api.request("GET", url, C2)).status_code == 404
    assert (await api.request("POST", url, PRESCRIBER, json=opening())).status_code == 403

    # A repeated opening returns the episode already open.
    first = await api.request("POST", url, MANAGER, json=opening(name="Mairie de Rennes", type_="public"))
    again = await api.request("POST", url, C1, json=opening(name="mairie de  Rennes", type_="public"))
    assert first.status_code == 201 and again.status_code == 200, (first.text, again.text)
    episode = first.json()
    assert again.json()["id"] == episode["id"] and episode["avenant_requested"] is False  # no convention yet
    assert counts(settings, journey_id) == (1, 1)
    other_start = await api.request("POST", url, C1, json=opening(name="Mairie de Rennes", type_="public",
                                                                   started_on=TODAY))
    assert other_start.status_code == 409  # one open episode per employer

    before = await api.request("POST", url, C1, json=closing(episode["id"], ended_on="2000-01-01"))
    assert before.status_code == 422 and before.json()["errors"][0]["field"] == "ended_on"
    unknown = await api.request("POST", url, C1, json=closing("emp-inconnu"))
    assert unknown.status_code == 404
    closed = await api.request("POST", url, C1, json=closing(episode["id"], reason="resignation"))
    assert closed.status_code == 200 and closed.json()["rupture"] is True, closed.text
    twice = await api.request("POST", url, C1, json=closing(episode["id"], reason="resignation"))
    assert twice.status_code == 409 and twice.headers["content-type"] == "application/problem+json"
    assert counts(settings, journey_id) == (1, 2)

    journey = (await api.request("GET", f"/api/v1/journeys/{journey_id}", C1)).json()
    assert journey["state"] == "admitted" and journey["employment"] is None  # R16: nothing else changes
    listed = (await api.request("GET", url, C1)).json()
    assert listed["indicators"]["ruptures"] == {"count": 1, "by_reason": {"resignation": 1}}
    assert listed["indicators"]["retention"]["entry_on"] == journey["admitted_on"]  # held at the admission
    history = (await api.request("GET", f"/api/v1/journeys/{journey_id}/history", C1)).json()["items"]
    assert [e["action"] for e in history if e["action"] in ("employment_opened", "employment_closed")] == [
        "employment_opened", "employment_closed"]


async def test_r10_a_new_employer_requests_an_avenant(api, settings, smtp_server, platform):
    journey_id = await in_accompaniment(api, smtp_server, platform)
    url = f"/api/v1/journeys/{journey_id}/employment"
    body = opening(name="Mairie de Rennes", type_="public", started_on=TODAY)
    opened = await api.request("POST", url, C1, json=body)
    assert opened.status_code == 201 and opened.json()["avenant_requested"] is True, opened.text
    again = await api.request("POST", url, C1, json=body)  # re-sends the same update: one avenant
    assert again.status_code == 200 and again.json()["id"] == opened.json()["id"]
    assert again.json()["avenant_requested"] is True
    assert counts(settings, journey_id) == (1, 1)
    await api.wait_task(journey_id, "draft_avenant", C1)  # the journey drafts the avenant (R10)
    history = (await api.request("GET", f"/api/v1/journeys/{journey_id}/history", C1)).json()["items"]
    requested = [e for e in history if e["action"] == "avenant_requested"]
    assert [e["detail"]["reference"] for e in requested] == [opened.json()["id"]]
