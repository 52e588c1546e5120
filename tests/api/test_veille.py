"""R14 over HTTP: every refusal is a 422 problem+json naming R14 and its field, and writes nothing;
reactivating a journey that is not in veille is a 409; a journey of another caseload is a 404.
(The veille's course — its end date, reactivation, extension — is tested on the time-skipping
server, tests/workflow/test_veille.py.)"""
from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlmodel import select

from eaflow.durations import Duration
from eaflow.store.db import session_scope
from eaflow.store.models import AuditEvent, Journey
from eaflow.workflows.rules import french_date
from tests.api.test_contacts import admitted_journey
from tests.api.test_employment import in_accompaniment
from tests.api.test_journeys_and_inbox import C1, C2

pytestmark = pytest.mark.xdist_group("dev-server")

TODAY = date.today()
GOOD = {"requested_by": "person", "agreement": {"on": TODAY.isoformat(), "how": "écrit signé"},
        "until": (TODAY + timedelta(days=60)).isoformat(),
        "reactivation_conditions": "À la demande de la personne, à tout moment."}


@pytest.mark.parametrize("change, field", [
    ({"agreement": None}, "agreement"),
    ({"until": None}, "until"),
    ({"until": (TODAY + timedelta(days=200)).isoformat()}, "until"),  # beyond the national six months
    ({"until": TODAY.isoformat()}, "until"),
    ({"reactivation_conditions": ""}, "reactivation_conditions"),
    ({"agreement": {"on": (TODAY + timedelta(days=3)).isoformat(), "how": "écrit"}}, "agreement.on"),
])
async def test_r14_refusals_name_the_rule_and_write_nothing(api, settings, platform, change, field):
    journey_id = await admitted_journey(api, platform)
    with session_scope(settings.db_url) as session:
        events = len(session.exec(select(AuditEvent).where(AuditEvent.journey_id == journey_id)).all())
    response = await api.request("POST", f"/api/v1/journeys/{journey_id}/veille", C1, json={**GOOD, **change})
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    problem = response.json()
    assert problem["rule"] == "R14" and [e["field"] for e in problem["errors"]] == [field]
    with session_scope(settings.db_url) as session:
        assert session.get(Journey, journey_id).state == "admitted"
        assert len(session.exec(select(AuditEvent).where(AuditEvent.journey_id == journey_id)).all()) == events


async def test_r14_veille_only_during_the_accompaniment(api, settings, platform):
    journey_id = await admitted_journey(api, platform)
    refused = await api.request("POST", f"/api/v1/journeys/{journey_id}/veille", C1, json=GOOD)
    assert refused.status_code == 409 and refused.json()["rule"] == "R14"
    not_in_veille = await api.request("POST", f"/api/v1/journeys/{journey_id}/reactivate", C1, json={})
    assert not_in_veille.status_code == 409 and not_in_veille.json()["rule"] == "R14"
    hidden = await api.request("POST", f"/api/v1/journeys/{journey_id}/veille", C2, json=GOOD)
    assert hidden.status_code == 404
    journey = (await api.request("GET", f"/api/v1/journeys/{journey_id}", C1)).json()
    assert journey["veille"] is None


async def test_r14_an_extension_is_bounded_from_the_veilles_first_day(api, settings, smtp_server, platform):
    """The service reads the veille's first day from the journey's trace, and refuses beside `until` an
    extension beyond `max_duration` (the national six months) from that day, extensions included."""
    journey_id = await in_accompaniment(api, smtp_server, platform)
    started = await api.request("POST", f"/api/v1/journeys/{journey_id}/veille", C1, json=GOOD)
    assert started.status_code == 200, started.text
    bound = Duration.parse("P6M").from_date(TODAY)
    refused = await api.request("POST", f"/api/v1/journeys/{journey_id}/veille", C1,
                                json={**GOOD, "until": (bound + timedelta(days=1)).isoformat()})
    assert refused.status_code == 422, refused.text
    problem = refused.json()
    assert problem["rule"] == "R14" and problem["errors"] == [{"field": "until", "message": (
        f"La veille a commencé le {french_date(TODAY)} : prolongations comprises, elle ne peut pas dépasser "
        f"le {french_date(bound)} (6 mois, R14).")}]
    extended = await api.request("POST", f"/api/v1/journeys/{journey_id}/veille", C1,
                                 json={**GOOD, "until": bound.isoformat()})
    assert extended.status_code == 200, extended.text
    assert extended.json()["veille"]["until"] == bound.isoformat()
