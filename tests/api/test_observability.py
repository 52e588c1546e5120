"""Structured logs without personal data, and the metrics Prometheus scrapes."""
from __future__ import annotations

import asyncio
import json
import logging

import pytest

from eaflow.observability import JsonFormatter, metrics_payload
from tests.api.test_journeys_and_inbox import MANAGER, intake

pytestmark = pytest.mark.xdist_group("dev-server")


def test_json_log_line_carries_ids():
    record = logging.LogRecord("eaflow.activity", logging.WARNING, __file__, 1, "activity failed", None, None)
    record.journey_id, record.activity, record.attempt = "j-123", "send_notification", 3
    line = json.loads(JsonFormatter("worker").format(record))
    assert line["journey_id"] == "j-123" and line["activity"] == "send_notification" and line["attempt"] == 3
    assert line["level"] == "warning" and line["component"] == "worker" and line["ts"].endswith("+00:00")


async def test_metrics_and_request_logs(api, caplog):
    created = await api.request("POST", "/api/v1/journeys", MANAGER, json=intake(channel="cdaph"))
    journey_id = created.json()["id"]
    await api.wait_task(journey_id, "assign_counsellor", MANAGER)
    with caplog.at_level(logging.INFO, logger="eaflow.http"):
        await api.request("GET", "/api/v1/journeys", MANAGER, params={"q": "Martin"})
    [line] = [r for r in caplog.records if r.name == "eaflow.http" and r.path == "/api/v1/journeys"]
    assert line.status == 200 and "Martin" not in JsonFormatter("api").format(line)  # R22: no name in logs

    for _ in range(100):  # the R4 and assignment mails go out beside the task: wait for one of them
        scraped = (await api.http.get("/metrics")).text
        if 'eaflow_mails{status="sent"}' in scraped:
            break
        await asyncio.sleep(0.1)
    assert 'eaflow_open_tasks{kind="assign_counsellor"} 1.0' in scraped
    assert 'eaflow_mails{status="sent"}' in scraped
    assert "eaflow_contact_nudges_pending 0.0" in scraped
    assert "eaflow_http_requests_total" in scraped
    worker_side = metrics_payload().decode()  # the worker runs in this process in the tests
    assert 'eaflow_activity_completions_total{activity="open_task"}' in worker_side
