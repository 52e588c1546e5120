"""The inbox's order and pages are the same on SQLite and PostgreSQL, tasks without a due date included
(SQLite sorts NULLs first, PostgreSQL last: the query says NULLS LAST)."""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest

from eaflow.store.db import session_scope
from eaflow.store.models import Journey, Task

pytestmark = pytest.mark.xdist_group("dev-server")

MANAGER = "manager@test.fr"


async def test_inbox_pages_put_tasks_without_due_date_last(api, settings, platform):
    start = datetime(2026, 11, 2, 9, 0, tzinfo=timezone.utc)
    dues = [start + timedelta(days=3), None, start + timedelta(days=1), None, start + timedelta(days=1), start]
    with session_scope(settings.db_url) as session:
        session.add(Journey(id="j-order", platform_id=platform.platform_id, state="waiting_list", channel="cdaph",
                            situation="seeking", prescribed_on=date(2026, 11, 2)))
        session.flush()
        for n, due in enumerate(dues):
            session.add(Task(id=f"j-order/t{n}", journey_id="j-order", platform_id=platform.platform_id,
                             kind="assign_counsellor", title="Désigner", candidate_role="manager",
                             created_at=start, due_at=due))

    everything = (await api.request("GET", "/api/v1/tasks", MANAGER, params={"journey_id": "j-order"})).json()
    expected = ["j-order/t5", "j-order/t2", "j-order/t4", "j-order/t0", "j-order/t1", "j-order/t3"]
    assert [t["id"] for t in everything["items"]] == expected
    assert everything["next_cursor"] is None

    for limit in (1, 2, 4):
        seen, cursor = [], None
        while True:
            params = {"journey_id": "j-order", "limit": limit, **({"cursor": cursor} if cursor else {})}
            response = await api.request("GET", "/api/v1/tasks", MANAGER, params=params)
            assert response.status_code == 200, response.text
            page = response.json()
            seen += [t["id"] for t in page["items"]]
            cursor = page["next_cursor"]
            if not cursor:
                break
        assert seen == expected, limit
