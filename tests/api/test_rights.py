"""R19 over HTTP with a real worker, a real Temporal dev server, a real SMTP server and the database:
`POST /api/v1/journeys/{id}/rights` refuses with problem+json (naming R19 when the rule refused it)
and writes nothing; an accepted event is applied by the journey, which projects the RQTH's end on
the journey resource; the same body twice is one event."""
from __future__ import annotations

from datetime import date, timedelta

import asyncio

import pytest
from sqlmodel import func, select

from eaflow.store.db import session_scope
from eaflow.store.models import AuditEvent
from tests.api.test_convention import admitted_to_convention
from tests.api.test_journeys_and_inbox import C1, C2, MANAGER, PRESCRIBER, TODAY, intake

pytestmark = pytest.mark.xdist_group("dev-server")

PROBLEM = "application/problem+json"


def rights_events(settings, journey_id: str) -> int:
    with session_scope(settings.db_url) as session:
        return session.exec(select(func.count()).select_from(AuditEvent).where(
            AuditEvent.journey_id == journey_id, AuditEvent.action.like("rights_%"))).one()


async def manager_sees(api, journey_id: str, state: str) -> None:
    for _ in range(300):
        if (await api.request("GET", f"/api/v1/journeys/{journey_id}", MANAGER)).json().get("state") == state:
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"{journey_id} never reached {state}")


async def test_r19_rights_events_refused_as_problems_then_one_accepted(api, settings, smtp_server, platform):
    # A journey still on the waiting list: its rights are followed from the intake on (R19), and a
    # manager records their events there (no counsellor yet); an event out of order is still refused.
    created = await api.request("POST", "/api/v1/journeys", MANAGER, json=intake(channel="cdaph"))
    waiting = created.json()["id"]
    await manager_sees(api, waiting, "waiting_list")
    early = await api.request("POST", f"/api/v1/journeys/{waiting}/rights", MANAGER,
                              json={"event": "appeal_filed", "on": TODAY})
    assert early.status_code == 409 and early.headers["content-type"] == PROBLEM
    assert early.json()["rule"] == "R19"
    early = await api.request("POST", f"/api/v1/journeys/{waiting}/rights", MANAGER,
                              json={"event": "renewal_filed", "on": TODAY})
    assert early.status_code == 200 and early.json()["status"] == "renewal_filed", early.text

    journey_id, _ = await admitted_to_convention(api, platform)
    url = f"/api/v1/journeys/{journey_id}/rights"
    before = rights_events(settings, journey_id)

    forbidden = await api.request("POST", url, PRESCRIBER, json={"event": "renewal_filed", "on": TODAY})
    assert forbidden.status_code == 403 and forbidden.headers["content-type"] == PROBLEM
    hidden = await api.request("POST", url, C2, json={"event": "renewal_filed", "on": TODAY})
    assert hidden.status_code == 404 and hidden.headers["content-type"] == PROBLEM

    unknown = await api.request("POST", url, C1, json={"event": "renewed", "on": TODAY})
    assert unknown.status_code == 422 and [e["field"] for e in unknown.json()["errors"]] == ["event"]
    no_end = await api.request("POST", url, C1, json={"event": "granted"})
    assert no_end.status_code == 422 and [e["field"] for e in no_end.json()["errors"]] == ["until"]
    assert "rule" not in no_end.json()  # malformed, not refused by a rule
    no_date = await api.request("POST", url, C1, json={"event": "refused"})
    assert no_date.status_code == 422 and [e["field"] for e in no_date.json()["errors"]] == ["on"]

    out_of_order = await api.request("POST", url, C1, json={"event": "appeal_filed", "on": TODAY})
    assert out_of_order.status_code == 409 and out_of_order.headers["content-type"] == PROBLEM
    assert out_of_order.json()["rule"] == "R19" and out_of_order.json()["errors"][0]["field"] == "event"
    future = (date.today() + timedelta(days=5)).isoformat()
    in_the_future = await api.request("POST", url, C1, json={"event": "renewal_filed", "on": future})
    assert in_the_future.status_code == 422 and in_the_future.json()["rule"] == "R19"
    assert in_the_future.json()["errors"] == [{"field": "on", "message": "cette date est dans le futur"}]
    assert rights_events(settings, journey_id) == before  # nothing written

    # Accepted: applied by the journey before the answer; the same body twice is one event.
    filed = await api.request("POST", url, C1, json={"event": "renewal_filed", "on": TODAY})
    assert filed.status_code == 200, filed.text
    assert filed.json()["status"] == "renewal_filed" and filed.json()["filed_on"] == TODAY
    again = await api.request("POST", url, C1, json={"event": "renewal_filed", "on": TODAY})
    assert again.status_code == 200 and again.json()["status"] == "renewal_filed"
    assert rights_events(settings, journey_id) == before + 1

    past = (date.today() - timedelta(days=1)).isoformat()
    ended = await api.request("POST", url, MANAGER, json={"event": "granted", "until": past})
    assert ended.status_code == 422 and ended.json()["rule"] == "R19"
    assert ended.json()["errors"][0]["field"] == "until"

    journey = (await api.request("GET", f"/api/v1/journeys/{journey_id}", C1)).json()
    assert journey["rights"]["rqth_until"] == "2030-05-31"
    assert journey["rights"]["renewal"]["status"] == "renewal_filed"
    assert journey["rights"]["cdaph_decision"] is None

    # Granted: the new end reaches the journey resource through the journey's trace.
    granted = await api.request("POST", url, C1, json={"event": "granted", "until": "2033-05-31", "on": TODAY})
    assert granted.status_code == 200, granted.text
    assert granted.json()["status"] == "in_force" and granted.json()["until"] == "2033-05-31"
    journey = (await api.request("GET", f"/api/v1/journeys/{journey_id}", C1)).json()
    assert journey["rights"]["rqth_until"] == "2033-05-31" and journey["rights"]["rqth_permanent"] is False
    assert journey["rights"]["renewal"]["status"] == "in_force"
    assert journey["rights"]["renewal"]["next_reminder_on"] == "2032-11-30"
