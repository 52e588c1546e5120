"""R20: the quarterly reports as durable things. A snapshot is one platform's indicators over one
period, exactly as `eaflow.indicators.report` computed them, frozen with its SHA-256.

Supersede, don't mutate (STYLE.md): a correction is a new row, version n+1, that names the version it
supersedes; the old one stays as it was sent to the funders. The database refuses every UPDATE and
DELETE of a snapshot (triggers of migration 0016 on SQLite and PostgreSQL), so no code path can change
one. Versions count per platform, operator and period: `operator_id` is None for the consolidated
platform report (a per-operator report names its operator). A snapshot holds aggregates only (R22).
"""
from __future__ import annotations

from datetime import date, datetime
from typing import Optional

from sqlalchemy import Column, Index, Text, text
from sqlmodel import Field, SQLModel

from eaflow.store.models import utcnow

SCHEDULE_AUTHOR = "schedule:quarterly-report"  # `created_by` of the snapshots the Schedule stores


class ReportSnapshot(SQLModel, table=True):
    """One version of one report. `content` is the report's canonical JSON (sorted keys, no spaces,
    UTF-8) and `sha256` its hash: the JSON download is `content`, byte for byte."""

    __tablename__ = "report_snapshot"
    __table_args__ = (
        # One version n per platform (and operator) and period; NULL operators are the platform's own
        # report, which a plain unique constraint would not count as equal: two partial indexes.
        Index("uq_report_snapshot_platform_version", "platform_id", "period_start", "period_end", "version",
              unique=True, sqlite_where=text("operator_id IS NULL"), postgresql_where=text("operator_id IS NULL")),
        Index("uq_report_snapshot_operator_version", "platform_id", "operator_id", "period_start", "period_end",
              "version", unique=True, sqlite_where=text("operator_id IS NOT NULL"),
              postgresql_where=text("operator_id IS NOT NULL")),
    )

    id: Optional[int] = Field(default=None, primary_key=True)
    platform_id: str = Field(foreign_key="platform.id", index=True)
    operator_id: Optional[str] = None  # None: the consolidated report of the whole platform
    period_start: date
    period_end: date
    version: int
    created_at: datetime = Field(default_factory=utcnow)
    created_by: str  # a manager's user id, or SCHEDULE_AUTHOR
    content: str = Field(sa_column=Column(Text, nullable=False))
    sha256: str
    supersedes_id: Optional[int] = Field(default=None, foreign_key="report_snapshot.id")
