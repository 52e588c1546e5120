"""Two requests at once through the API, on SQLite and PostgreSQL: one effect."""
from __future__ import annotations

import asyncio
from datetime import date

import pytest
from sqlmodel import func, select

from eaflow.store.db import session_scope
from eaflow.store.models import AuditEvent, Journey, Person

pytestmark = pytest.mark.xdist_group("dev-server")

PRESCRIBER = "prescripteur@test.fr"
TODAY = date.today().isoformat()


async def test_the_same_idempotency_key_twice_at_once_makes_one_journey(api, settings):
    body = {
        "person": {"first_name": "Léa", "last_name": "Martin", "birth_date": "1995-04-12"},
        "channel": "cdaph", "urgent": False, "prescribed_on": TODAY, "situation": "seeking",
        "rights": {"rqth_until": "2030-05-31"},
        "subsidiarity_reason": "Un appui durable dans l'emploi que le droit commun n'offre pas.",
        "consent": {"given_on": TODAY, "by": "person"},
    }
    headers = {"Idempotency-Key": "intake-race-1"}
    await api.login(PRESCRIBER)
    responses = await asyncio.gather(*(
        api.request("POST", "/api/v1/journeys", PRESCRIBER, json=body, headers=headers) for _ in range(6)))

    assert {r.status_code for r in responses} <= {200, 201}, [r.text for r in responses]
    assert len({r.json()["id"] for r in responses}) == 1
    with session_scope(settings.db_url) as session:
        for model in (Journey, Person):
            assert session.exec(select(func.count()).select_from(model)).one() == 1
        received = select(func.count()).select_from(AuditEvent).where(AuditEvent.action == "prescription_received")
        assert session.exec(received).one() == 1
