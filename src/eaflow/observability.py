"""Structured logs (one JSON line per event) and Prometheus metrics.

Logs carry ids (journey, task, user, activity), never a person's name or health data: a record's
message is written by our code, and query strings (which may hold a searched name) are dropped.
"""
from __future__ import annotations

import json
import logging
import sys
import time
import traceback
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from sqlalchemy import func
from sqlmodel import select

# The `extra=` keys copied into the JSON line when a record carries them.
CONTEXT_KEYS = ("component", "journey_id", "task_id", "user_id", "activity", "attempt", "workflow",
                "method", "path", "status", "duration_ms", "error", "kind")


class JsonFormatter(logging.Formatter):
    def __init__(self, component: str) -> None:
        super().__init__()
        self.component = component

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, timezone.utc).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "component": self.component,
            "msg": record.getMessage(),
        }
        for key in CONTEXT_KEYS:
            value = getattr(record, key, None)
            if value is not None:
                line[key] = value
        if record.exc_info:
            line["exception"] = exception_summary(record.exc_info)
        return json.dumps(line, ensure_ascii=False, default=str)


def exception_summary(exc_info) -> str:
    """An exception's type and where it was raised, not its message (R22): a library's message can
    name a person (an SMTP refusal quotes the address, a database error its parameters)."""
    kind, error, trace = exc_info
    if kind is None:
        return ""
    name = kind.__qualname__ if kind.__module__ == "builtins" else f"{kind.__module__}.{kind.__qualname__}"
    frames = traceback.extract_tb(trace)
    return f"{name} at {Path(frames[-1].filename).name}:{frames[-1].lineno} in {frames[-1].name}" if frames else name


def configure_logging(component: str, level: int = logging.INFO) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter(component))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for noisy in ("uvicorn.access", "httpx"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


# ---------------------------------------------------------------------------- metrics

REGISTRY = CollectorRegistry()
HTTP_REQUESTS = Counter("eaflow_http_requests", "HTTP requests answered", ["method", "status"], registry=REGISTRY)
HTTP_LATENCY = Histogram("eaflow_http_request_seconds", "HTTP request latency", ["method"], registry=REGISTRY)
ACTIVITY_FAILURES = Counter("eaflow_activity_failures", "Activity attempts that failed", ["activity"],
                            registry=REGISTRY)
ACTIVITY_COMPLETIONS = Counter("eaflow_activity_completions", "Activity attempts that succeeded", ["activity"],
                               registry=REGISTRY)
JOURNEY_DIFFERENCES = Counter("eaflow_journey_differences", "Differences found between the records and the journeys "
                              "(eaflow/reconcile.py), by kind and whether they were repaired", ["kind", "repaired"],
                              registry=REGISTRY)
UP = Gauge("eaflow_up", "1 while this process runs", ["component"], registry=REGISTRY)


class StoreCollector:
    """Gauges read from the database at scrape time, so every process agrees on them."""

    def __init__(self, db_url: str, busy_timeout: float = 5.0) -> None:
        self.db_url, self.busy_timeout = db_url, busy_timeout

    def collect(self):
        from eaflow.store.accompaniment import ContactNudge
        from eaflow.store.db import session_scope
        from eaflow.store.models import MailOutbox, Task

        open_tasks = GaugeMetricFamily("eaflow_open_tasks", "Open tasks by kind", labels=["kind"])
        overdue = GaugeMetricFamily("eaflow_overdue_tasks", "Open tasks past their due date", labels=["kind"])
        mails = GaugeMetricFamily("eaflow_mails", "Mails in the outbox by status", labels=["status"])
        failed = GaugeMetricFamily("eaflow_mail_failed_attempts", "SMTP attempts that did not deliver")
        nudges = GaugeMetricFamily("eaflow_contact_nudges_pending",
                                   "Journeys not yet told that their contacts changed (the relay delivers them)")
        now = datetime.now(timezone.utc)
        try:
            with session_scope(self.db_url, self.busy_timeout) as session:
                for kind, count in session.exec(select(Task.kind, func.count()).where(Task.status == "open")
                                                .group_by(Task.kind)):
                    open_tasks.add_metric([kind], count)
                for kind, count in session.exec(select(Task.kind, func.count()).where(
                        Task.status == "open", Task.due_at < now).group_by(Task.kind)):
                    overdue.add_metric([kind], count)
                attempts = 0
                for status, count, tries in session.exec(select(MailOutbox.status, func.count(),
                                                                func.sum(MailOutbox.attempts))
                                                         .group_by(MailOutbox.status)):
                    mails.add_metric([status], count)
                    attempts += int(tries or 0) - (count if status == "sent" else 0)
                failed.add_metric([], attempts)
                nudges.add_metric([], session.exec(select(func.count()).select_from(ContactNudge).where(
                    ContactNudge.version > ContactNudge.delivered)).one())
        except Exception:  # noqa: BLE001 - a scrape never fails because the database is down
            return
        yield from (open_tasks, overdue, mails, failed, nudges)


def metrics_payload() -> bytes:
    return generate_latest(REGISTRY)


def register_store_collector(db_url: str) -> None:
    if not getattr(REGISTRY, "_eaflow_store", None):
        REGISTRY.register(StoreCollector(db_url))
        REGISTRY._eaflow_store = True  # type: ignore[attr-defined]


class Timer:
    def __enter__(self) -> "Timer":
        self.start = time.perf_counter()
        return self

    def __exit__(self, *_: object) -> None:
        self.seconds = time.perf_counter() - self.start
