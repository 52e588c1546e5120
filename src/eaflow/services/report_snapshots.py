"""R20: the quarterly reports archived as immutable snapshots (store/reports.py), once for the
activity the Schedule runs, the API and the pages.

- `store_first_version`: what the Schedule does at each quarter's end: version 1 of a platform's
  report over a period, unless one exists already (a retried or re-run activity stores nothing more).
- `correct`: a manager's correction: the report computed again, stored as version n+1 superseding n;
  version n is left as it was (the database refuses to change it).
- `list_snapshots` and `download`: what the platform archived, and one snapshot exactly as stored.
  The JSON download is the stored canonical text, so its SHA-256 is the one listed.

Snapshots are the consolidated report of the whole platform (`operator_id` None): the chef de file's
managers send it to the funders, so a manager who answers for one operator only sees none of them
(services/operators.py `operator_scope`). A snapshot holds aggregates only (R22): reading it is not a
read of anyone's file.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import date, datetime, timezone
from typing import Any, Optional

from sqlalchemy import func
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from eaflow import indicators
from eaflow.services import reports, roles
from eaflow.services.db import db_scope
from eaflow.services.operators import operator_scope
from eaflow.services.refusals import Refusal
from eaflow.settings import Settings
from eaflow.store.models import Platform, User
from eaflow.store.reports import SCHEDULE_AUTHOR, ReportSnapshot

NOT_FOUND = "Ce rapport archivé n'existe pas."
WHOLE_PLATFORM_ONLY = ("Les rapports trimestriels archivés sont ceux de toute la plateforme : seuls les "
                       "responsables du chef de file les consultent et les corrigent.")
SCHEDULE_LABEL = "envoi trimestriel automatique"


def canonical_json(report: dict[str, Any]) -> str:
    """The report as it is hashed and stored: sorted keys, no spaces, UTF-8 characters kept."""
    return json.dumps(report, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def sha256_of(content: str) -> str:
    return hashlib.sha256(content.encode("utf-8")).hexdigest()


def _versions(session: Session, platform_id: str, period: indicators.Period) -> list[ReportSnapshot]:
    return list(session.exec(select(ReportSnapshot).where(
        ReportSnapshot.platform_id == platform_id, ReportSnapshot.operator_id.is_(None),
        ReportSnapshot.period_start == period.start, ReportSnapshot.period_end == period.end,
    ).order_by(ReportSnapshot.version)).all())


def _insert(session: Session, platform_id: str, period: indicators.Period, created_by: str,
            previous: Optional[ReportSnapshot]) -> ReportSnapshot:
    content = canonical_json(reports.published(session, platform_id, period))
    snapshot = ReportSnapshot(
        platform_id=platform_id, operator_id=None, period_start=period.start, period_end=period.end,
        version=previous.version + 1 if previous else 1, created_by=created_by, content=content,
        sha256=sha256_of(content), supersedes_id=previous.id if previous else None)
    session.add(snapshot)
    session.flush()
    return snapshot


def store_first_version(session: Session, platform_id: str, period: indicators.Period) -> tuple[ReportSnapshot, bool]:
    """Version 1 of the platform's report over `period`, stored by the Schedule: (the snapshot, stored
    now). When any version exists already, the first one is returned and nothing is written."""
    existing = _versions(session, platform_id, period)
    if existing:
        return existing[0], False
    try:
        with session.begin_nested():
            return _insert(session, platform_id, period, SCHEDULE_AUTHOR, None), True
    except IntegrityError:  # a concurrent run stored it first (the unique index on the version)
        return _versions(session, platform_id, period)[0], False


def _platform_of(session: Session, user: User) -> Platform:
    roles.check(user, roles.MANAGERS)
    platform = session.get(Platform, user.platform_id) if user.platform_id else None
    if platform is None:
        raise Refusal(403, reports.NO_PLATFORM)
    if operator_scope(session, user) is not None:
        raise Refusal(403, WHOLE_PLATFORM_ONLY)
    return platform


def _author(session: Session, created_by: str) -> str:
    if created_by == SCHEDULE_AUTHOR:
        return SCHEDULE_LABEL
    user = session.get(User, created_by)
    return (user.display_name or user.email) if user else created_by


def _summary(session: Session, snapshot: ReportSnapshot, latest: bool) -> dict[str, Any]:
    return {
        "id": snapshot.id, "from": snapshot.period_start.isoformat(), "to": snapshot.period_end.isoformat(),
        "version": snapshot.version, "created_at": _iso(snapshot.created_at),
        "created_by": snapshot.created_by, "created_by_label": _author(session, snapshot.created_by),
        "sha256": snapshot.sha256, "supersedes": snapshot.supersedes_id, "latest": latest,
        "url": f"/api/v1/reports/{snapshot.id}",
    }


def _iso(moment: datetime) -> str:
    """UTC, as the store keeps timestamps (SQLite hands them back naive)."""
    return (moment.replace(tzinfo=timezone.utc) if moment.tzinfo is None else moment).isoformat()


def list_snapshots(settings: Settings, user: User) -> list[dict[str, Any]]:
    """Every snapshot of the user's platform, the latest period first, its versions newest first;
    `latest` marks the version in force for its period."""
    with db_scope(settings) as session:
        platform = _platform_of(session, user)
        found = session.exec(select(ReportSnapshot).where(
            ReportSnapshot.platform_id == platform.id, ReportSnapshot.operator_id.is_(None),
        ).order_by(ReportSnapshot.period_end.desc(), ReportSnapshot.period_start.desc(),
                   ReportSnapshot.version.desc())).all()
        newest = session.exec(select(ReportSnapshot.period_start, ReportSnapshot.period_end,
                                     func.max(ReportSnapshot.version)).where(
            ReportSnapshot.platform_id == platform.id, ReportSnapshot.operator_id.is_(None),
        ).group_by(ReportSnapshot.period_start, ReportSnapshot.period_end)).all()
        latest = {(start, end): version for start, end, version in newest}
        return [_summary(session, s, latest[(s.period_start, s.period_end)] == s.version) for s in found]


def correct(settings: Settings, user: User, start: Optional[date], end: Optional[date]) -> dict[str, Any]:
    """A manager's correction: the report of the period computed again and stored as the next version,
    superseding the one in force (version 1 when none was archived yet). 422 on a bad period."""
    period = reports.period_of(start, end)
    with db_scope(settings) as session:
        platform = _platform_of(session, user)
        versions = _versions(session, platform.id, period)
        snapshot = _insert(session, platform.id, period, user.id, versions[-1] if versions else None)
        return _summary(session, snapshot, True)


@dataclass(frozen=True)
class Stored:
    snapshot: ReportSnapshot
    platform: Platform


def _stored(settings: Settings, user: User, snapshot_id: int) -> Stored:
    with db_scope(settings) as session:
        platform = _platform_of(session, user)
        snapshot = session.get(ReportSnapshot, snapshot_id)
        if snapshot is None or snapshot.platform_id != platform.id or snapshot.operator_id is not None:
            raise Refusal(404, NOT_FOUND)  # another platform's snapshot is not to be guessed at either
        session.expunge(snapshot)
        session.expunge(platform)
        return Stored(snapshot, platform)


def download(settings: Settings, user: User, snapshot_id: int, format: str) -> reports.Export:
    """One snapshot as stored: `json` is its canonical text byte for byte (its SHA-256 is the listed
    one); `csv` and `xlsx` lay the same stored figures out (nothing is computed again)."""
    if format not in reports.FORMATS:
        raise Refusal(422, "Format inconnu.", errors=[{"field": "format", "message": "choisissez json, csv ou xlsx"}])
    found = _stored(settings, user, snapshot_id)
    s, platform = found.snapshot, found.platform
    report = reports.Report(platform.id, platform.name, platform.department,
                            indicators.Period(s.period_start, s.period_end), json.loads(s.content))
    if format == "json":
        name = report.filename("json").replace(".json", f"-v{s.version}.json")
        return reports.Export(s.content.encode("utf-8"), "application/json", name)
    file = reports.export(report, format)
    stem, _, extension = file.filename.rpartition(".")
    return reports.Export(file.content, file.media_type, f"{stem}-v{s.version}.{extension}")
