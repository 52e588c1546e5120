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
from eaflow.services.operators import operator_label, operator_scope, operators_of
from eaflow.services.refusals import Refusal
from eaflow.settings import Settings
from eaflow.store.db import get_by_number
from eaflow.store.models import Platform, User
from eaflow.store.reports import SCHEDULE_AUTHOR, ReportSnapshot

NOT_FOUND = "Ce rapport archivé n'existe pas."
OTHER_OPERATOR = "Vous ne consultez et ne corrigez que les rapports de votre opérateur."
SCHEDULE_LABEL = "envoi trimestriel automatique"


def canonical_json(report: dict[str, Any]) -> str:
    """The report as it is hashed and stored: sorted keys, no spaces, UTF-8 characters kept."""
    return json.dumps(report, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def sha256_of(content: str) -> str:
    return hashlib.sha256(content.encode("utf-8")).hexdigest()


def _of_operator(operator_id: Optional[str]):
    return ReportSnapshot.operator_id.is_(None) if operator_id is None else ReportSnapshot.operator_id == operator_id


def _versions(session: Session, platform_id: str, period: indicators.Period,
              operator_id: Optional[str] = None) -> list[ReportSnapshot]:
    return list(session.exec(select(ReportSnapshot).where(
        ReportSnapshot.platform_id == platform_id, _of_operator(operator_id),
        ReportSnapshot.period_start == period.start, ReportSnapshot.period_end == period.end,
    ).order_by(ReportSnapshot.version)).all())


def _insert(session: Session, platform_id: str, period: indicators.Period, created_by: str,
            previous: Optional[ReportSnapshot], operator_id: Optional[str] = None) -> ReportSnapshot:
    content = canonical_json(reports.published(session, platform_id, period, operator_id))
    snapshot = ReportSnapshot(
        platform_id=platform_id, operator_id=operator_id, period_start=period.start, period_end=period.end,
        version=previous.version + 1 if previous else 1, created_by=created_by, content=content,
        sha256=sha256_of(content), supersedes_id=previous.id if previous else None)
    session.add(snapshot)
    session.flush()
    return snapshot


def store_first_version(session: Session, platform_id: str, period: indicators.Period,
                        operator_id: Optional[str] = None) -> tuple[ReportSnapshot, bool]:
    """Version 1 of the platform's report (or of one operator's part) over `period`, stored by the
    Schedule: (the snapshot, stored now). When any version exists already, the first one is returned
    and nothing is written."""
    existing = _versions(session, platform_id, period, operator_id)
    if existing:
        return existing[0], False
    try:
        with session.begin_nested():
            return _insert(session, platform_id, period, SCHEDULE_AUTHOR, None, operator_id), True
    except IntegrityError:  # a concurrent run stored it first (the unique index on the version)
        return _versions(session, platform_id, period, operator_id)[0], False


@dataclass(frozen=True)
class Scope:
    """Which snapshots a manager reads: the chef de file's, all of the platform's (consolidated and per
    operator); a co-porteur's, their operator's only (services/operators.py)."""

    platform: Platform
    operator_id: Optional[str]

    def allows(self, operator_id: Optional[str]) -> bool:
        return self.operator_id is None or operator_id == self.operator_id


def _scope_of(session: Session, user: User) -> Scope:
    roles.check(user, roles.MANAGERS)
    platform = session.get(Platform, user.platform_id) if user.platform_id else None
    if platform is None:
        raise Refusal(403, reports.NO_PLATFORM)
    return Scope(platform, operator_scope(session, user))


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
        "operator": snapshot.operator_id, "operator_name": operator_label(session, snapshot.operator_id),
        "url": f"/api/v1/reports/{snapshot.id}",
    }


def _iso(moment: datetime) -> str:
    """UTC, as the store keeps timestamps (SQLite hands them back naive)."""
    return (moment.replace(tzinfo=timezone.utc) if moment.tzinfo is None else moment).isoformat()


def list_snapshots(settings: Settings, user: User) -> list[dict[str, Any]]:
    """Every snapshot of the user's platform, the latest period first, its versions newest first;
    `latest` marks the version in force for its period."""
    with db_scope(settings) as session:
        scope = _scope_of(session, user)
        mine = [ReportSnapshot.platform_id == scope.platform.id]
        if scope.operator_id is not None:
            mine.append(ReportSnapshot.operator_id == scope.operator_id)
        found = session.exec(select(ReportSnapshot).where(*mine).order_by(
            ReportSnapshot.period_end.desc(), ReportSnapshot.period_start.desc(),
            ReportSnapshot.operator_id.is_not(None), ReportSnapshot.operator_id, ReportSnapshot.version.desc())).all()
        newest = session.exec(select(ReportSnapshot.operator_id, ReportSnapshot.period_start, ReportSnapshot.period_end,
                                     func.max(ReportSnapshot.version)).where(*mine).group_by(
            ReportSnapshot.operator_id, ReportSnapshot.period_start, ReportSnapshot.period_end)).all()
        latest = {(operator, start, end): version for operator, start, end, version in newest}
        return [_summary(session, s, latest[(s.operator_id, s.period_start, s.period_end)] == s.version)
                for s in found]


def correct(settings: Settings, user: User, start: Optional[date], end: Optional[date],
            operator: Optional[str] = None) -> dict[str, Any]:
    """A manager's correction: the report of the period (the platform's, or one operator's part: a
    co-porteur's manager corrects their own) computed again and stored as the next version,
    superseding the one in force (version 1 when none was archived yet). 422 on a bad period."""
    period = reports.period_of(start, end)
    with db_scope(settings) as session:
        scope = _scope_of(session, user)
        operator = operator or scope.operator_id
        if operator is not None and operator not in {o.id for o in operators_of(session, scope.platform.id)}:
            raise Refusal(422, "Cet opérateur n'existe pas sur la plateforme.",
                          errors=[{"field": "operator", "message": "choisissez un opérateur de la plateforme"}])
        if not scope.allows(operator):
            raise Refusal(403, OTHER_OPERATOR, errors=[{"field": "operator", "message": "un autre opérateur"}])
        versions = _versions(session, scope.platform.id, period, operator)
        snapshot = _insert(session, scope.platform.id, period, user.id, versions[-1] if versions else None, operator)
        return _summary(session, snapshot, True)


@dataclass(frozen=True)
class Stored:
    snapshot: ReportSnapshot
    platform: Platform
    name: str  # the platform's, and the operator's for one operator's part


def _stored(settings: Settings, user: User, snapshot_id: int) -> Stored:
    with db_scope(settings) as session:
        scope = _scope_of(session, user)
        snapshot = get_by_number(session, ReportSnapshot, snapshot_id)
        if snapshot is None or snapshot.platform_id != scope.platform.id or not scope.allows(snapshot.operator_id):
            raise Refusal(404, NOT_FOUND)  # another platform's (or operator's) snapshot is not to be guessed at
        name = scope.platform.name + (f" — {operator_label(session, snapshot.operator_id)}"
                                      if snapshot.operator_id else "")
        session.expunge(snapshot)
        session.expunge(scope.platform)
        return Stored(snapshot, scope.platform, name)


def download(settings: Settings, user: User, snapshot_id: int, format: str) -> reports.Export:
    """One snapshot as stored: `json` is its canonical text byte for byte (its SHA-256 is the listed
    one); `csv` and `xlsx` lay the same stored figures out (nothing is computed again)."""
    if format not in reports.FORMATS:
        raise Refusal(422, "Format inconnu.", errors=[{"field": "format", "message": "choisissez json, csv ou xlsx"}])
    found = _stored(settings, user, snapshot_id)
    s, platform = found.snapshot, found.platform
    report = reports.Report(platform.id, found.name, platform.department,
                            indicators.Period(s.period_start, s.period_end), json.loads(s.content))
    if format == "json":
        name = report.filename("json").replace(".json", f"-v{s.version}.json")
        return reports.Export(s.content.encode("utf-8"), "application/json", name)
    file = reports.export(report, format)
    stem, _, extension = file.filename.rpartition(".")
    return reports.Export(file.content, file.media_type, f"{stem}-v{s.version}.{extension}")
