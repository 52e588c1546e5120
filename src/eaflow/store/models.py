"""SQLModel tables. Records live here; where a journey stands lives in its workflow.

History is superseded, never rewritten: audit events are append-only, a counsellor change closes
the previous assignment row and opens a new one.
"""
from __future__ import annotations

from datetime import date, datetime, timezone
from typing import Any, Optional

from sqlalchemy import JSON, CheckConstraint, Column, Index, UniqueConstraint, text
from sqlmodel import Field, SQLModel

from eaflow import profile


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def aware(moment: datetime | None) -> datetime | None:
    """A timestamp read back from the database, in UTC (SQLite gives them back naive)."""
    if moment is None:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


class Platform(SQLModel, table=True):
    id: str = Field(primary_key=True)
    department: str = Field(index=True, unique=True)
    name: str
    operator: str = ""
    mailbox: str = ""
    created_at: datetime = Field(default_factory=utcnow)


class Operator(SQLModel, table=True):
    """One organisation running the platform (a co-porteur); the chef de file (`is_lead`) answers for
    the whole platform. Counsellors and managers belong to one operator. One chef de file per platform
    (a partial unique index)."""

    __table_args__ = (
        Index("uq_operator_lead_per_platform", "platform_id", unique=True,
              sqlite_where=text("is_lead"), postgresql_where=text("is_lead")),
    )

    id: str = Field(primary_key=True)
    platform_id: str = Field(foreign_key="platform.id", index=True)
    name: str
    is_lead: bool = False
    created_at: datetime = Field(default_factory=utcnow)


class User(SQLModel, table=True):
    id: str = Field(primary_key=True)
    email: str = Field(index=True, unique=True)
    display_name: str = ""
    role: str  # counsellor | manager | admin | prescriber
    platform_id: Optional[str] = Field(default=None, foreign_key="platform.id", index=True)
    fte: float = 0.0
    operator_id: Optional[str] = Field(default=None, foreign_key="operator.id", index=True)
    password_hash: str
    active: bool = True
    created_at: datetime = Field(default_factory=utcnow)


class AccessToken(SQLModel, table=True):
    """A signed-in session: an API bearer token or a web page session (`kind`), stored hashed.
    Deleting the row revokes it (eaflow/services/sessions.py)."""

    token_hash: str = Field(primary_key=True)
    user_id: str = Field(foreign_key="user.id", index=True)
    kind: str = Field(default="api", sa_column_kwargs={"server_default": "api"})  # api | web
    created_at: datetime = Field(default_factory=utcnow)
    expires_at: datetime  # the absolute expiry
    last_used_at: Optional[datetime] = None  # for the idle expiry of web sessions


# The states of a journey whose file is closed: it takes no more contacts nor signatures.
CLOSED_STATES = frozenset({"refused", "exited", "transferred"})


class Journey(SQLModel, table=True):
    """The projection of a journey: what the inbox and lists read. The workflow is the truth."""

    id: str = Field(primary_key=True)
    platform_id: str = Field(foreign_key="platform.id", index=True)
    state: str = Field(index=True)
    channel: str
    urgent: bool = False
    situation: str
    prescribed_on: date
    prescriber_id: Optional[str] = Field(default=None, foreign_key="user.id", index=True)
    counsellor_id: Optional[str] = Field(default=None, foreign_key="user.id", index=True)
    waiting_key: Optional[str] = Field(default=None, index=True)
    admitted_on: Optional[date] = None
    admission_delay_days: Optional[int] = None
    rqth_until: Optional[date] = None
    rqth_permanent: bool = False
    boe_category: Optional[str] = None
    subsidiarity_reason: Optional[str] = None
    other_support: Optional[str] = None
    other_support_justification: Optional[str] = None
    refusal: Optional[list[dict[str, Any]]] = Field(default=None, sa_column=Column(JSON))
    cdaph_informed_on: Optional[date] = None
    cdaph_informed_how: Optional[str] = None
    next_interview_due: Optional[date] = Field(default=None, index=True)  # R12, written by the journey
    last_contact_on: Optional[date] = None  # R13: the last contact that reached the person
    veille_until: Optional[date] = None  # R14: the agreed end of the veille in progress
    exit_reason: Optional[str] = None  # R15: why the journey ended (written by the journey)
    exited_on: Optional[date] = None
    transferred_from: Optional[str] = None  # R15: the journey of the sending platform, after a move
    anonymised_at: Optional[datetime] = None  # R22: when its personal data went, after the retention
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)


class Person(SQLModel, table=True):
    """Identity and contact details (R22: personal data, read only by those who need it)."""

    journey_id: str = Field(primary_key=True, foreign_key="journey.id")
    first_name: str
    last_name: str
    birth_date: date
    email: Optional[str] = None
    phone: Optional[str] = None
    legal_representative: Optional[dict[str, Any]] = Field(default=None, sa_column=Column(JSON))
    employer: Optional[dict[str, Any]] = Field(default=None, sa_column=Column(JSON))
    consent_given_on: Optional[date] = None
    consent_by: Optional[str] = None
    search_name: str = Field(default="", index=True)


def _where(condition: str) -> dict[str, Any]:
    """A partial index's condition, for SQLite and PostgreSQL alike."""
    return {"sqlite_where": text(condition), "postgresql_where": text(condition)}


class CounsellorAssignment(SQLModel, table=True):
    """R8: one counsellor at a time; a change closes the row and opens another (R21).

    The database holds the rule too: at most one row without `ended_at` per journey.
    """

    __table_args__ = (
        Index("uq_counsellorassignment_active_journey", "journey_id", unique=True, **_where("ended_at IS NULL")),
    )

    id: Optional[int] = Field(default=None, primary_key=True)
    journey_id: str = Field(foreign_key="journey.id", index=True)
    counsellor_id: str = Field(foreign_key="user.id", index=True)
    started_at: datetime
    ended_at: Optional[datetime] = None
    reason: str = ""
    assigned_by: Optional[str] = None
    step_key: str = Field(unique=True)


class SharedEvaluation(SQLModel, table=True):
    """R9: the shared evaluation of the situation after admission."""

    __table_args__ = tuple(
        CheckConstraint(f"{column} IN ({', '.join(repr(v) for v in values)})", name=f"ck_sharedevaluation_{column}")
        for column, values in (("disability_nature", profile.DISABILITY_NATURES),
                               ("education_level", profile.EDUCATION_LEVELS),
                               ("status_at_entry", profile.STATUSES_AT_ENTRY))) + (
        CheckConstraint("months_without_employment >= 0", name="ck_sharedevaluation_months_without_employment"),
        CheckConstraint("lifetime_employment_years >= 0", name="ck_sharedevaluation_lifetime_employment_years"))

    journey_id: str = Field(primary_key=True, foreign_key="journey.id")
    evaluated_on: date
    wishes: str
    needs: str
    resources: str
    employer_expectations: Optional[str] = None
    # The profile at entry for the indicators (eaflow.profile, R20 §V.A.6 3°): optional, null = not recorded.
    disability_nature: Optional[str] = None
    months_without_employment: Optional[int] = None
    lifetime_employment_years: Optional[float] = None
    education_level: Optional[str] = None
    status_at_entry: Optional[str] = None
    medico_social_support: Optional[list[str]] = Field(default=None, sa_column=Column(JSON))
    recorded_by: str
    recorded_at: datetime = Field(default_factory=utcnow)


class Task(SQLModel, table=True):
    __table_args__ = (
        Index("ix_task_assignee_status_due", "assignee_id", "status", "due_at"),
        Index("ix_task_platform_status_due", "platform_id", "status", "due_at"),
    )

    id: str = Field(primary_key=True)
    journey_id: str = Field(foreign_key="journey.id", index=True)
    platform_id: str = Field(foreign_key="platform.id")
    kind: str = Field(index=True)
    title: str
    status: str = "open"  # open | done | cancelled
    assignee_id: Optional[str] = Field(default=None, foreign_key="user.id")
    candidate_role: Optional[str] = None
    created_at: datetime = Field(default_factory=utcnow)
    due_at: Optional[datetime] = None
    sort_key: Optional[str] = None
    context: Optional[dict[str, Any]] = Field(default=None, sa_column=Column(JSON))
    outcome: Optional[dict[str, Any]] = Field(default=None, sa_column=Column(JSON))
    outcome_hash: Optional[str] = None
    completed_by: Optional[str] = None
    completed_at: Optional[datetime] = None
    reminders_sent: int = 0


class TaskCompletion(SQLModel, table=True):
    """One closing per task (done or cancelled), written in the transaction that closes the task:
    its primary key makes a second completion of the same task impossible, whoever writes it."""

    __tablename__ = "task_completion"

    task_id: str = Field(primary_key=True, foreign_key="task.id")
    journey_id: str = Field(foreign_key="journey.id", index=True)
    status: str  # done | cancelled
    outcome_hash: Optional[str] = None
    completed_by: Optional[str] = None
    completed_at: datetime


EXIT_PROCEDURE_STATUSES = ("open", "approved", "rejected", "withdrawn")


class ExitProcedure(SQLModel, table=True):
    """R18: an exit goes through a procedure (proposal, then a decision); one open at a time per
    journey, held by a partial unique index; the journey opens and closes it (workflows/exits.py)."""

    __tablename__ = "exit_procedure"
    __table_args__ = (
        Index("uq_exit_procedure_open_journey", "journey_id", unique=True, **_where("status = 'open'")),
        CheckConstraint("status IN ('open', 'approved', 'rejected', 'withdrawn')", name="ck_exit_procedure_status"),
        CheckConstraint("(status = 'open') = (closed_at IS NULL)", name="ck_exit_procedure_closed_at"),
    )

    id: str = Field(primary_key=True)
    journey_id: str = Field(foreign_key="journey.id", index=True)
    reason: str
    status: str = "open"  # open | approved | rejected | withdrawn
    opened_at: datetime
    opened_by: Optional[str] = None
    closed_at: Optional[datetime] = None
    closed_by: Optional[str] = None
    decision_reason: Optional[str] = None
    detail: Optional[dict[str, Any]] = Field(default=None, sa_column=Column(JSON))  # the file (R18)


class AuditEvent(SQLModel, table=True):
    """R21/R22: every decision, task completion and read of a person's file, with who and when.

    An administrator's action (accounts, the platform's details) concerns no journey: its
    `journey_id` is None and its `detail` names the platform and the user it concerns."""

    id: Optional[int] = Field(default=None, primary_key=True)
    journey_id: Optional[str] = Field(default=None, index=True)
    at: datetime = Field(default_factory=utcnow, index=True)
    actor_kind: str  # user | timer | system | link
    actor_id: Optional[str] = None
    action: str
    detail: Optional[dict[str, Any]] = Field(default=None, sa_column=Column(JSON))
    step_key: Optional[str] = Field(default=None, unique=True)
    # R22: when the anonymisation of a closed file struck the free texts out of `detail`: the one
    # change the database lets through, once, leaving who did what and when (migration 0017).
    redacted_at: Optional[datetime] = None


class MailOutbox(SQLModel, table=True):
    """One row per notification: its idempotency key makes a retried activity send it once."""

    __table_args__ = (UniqueConstraint("idempotency_key"),)

    id: Optional[int] = Field(default=None, primary_key=True)
    idempotency_key: str
    kind: str
    journey_id: Optional[str] = Field(default=None, index=True)
    recipient: str
    subject: str
    message_id: str
    status: str = "pending"  # pending | sent
    attempts: int = 0
    created_at: datetime = Field(default_factory=utcnow)
    sent_at: Optional[datetime] = None


import eaflow.store.accompaniment  # noqa: E402,F401  (contacts, intensity, employment: R11, R13, R16)
import eaflow.store.accounts  # noqa: E402,F401  (sign-in attempts, saved inbox views)
import eaflow.store.convention  # noqa: E402,F401  (registers the convention tables, R10)
import eaflow.store.resources  # noqa: E402,F401  (the platform's declared resources, R20 group 2)
import eaflow.store.reports  # noqa: E402,F401  (the quarterly reports' immutable snapshots, R20)
import eaflow.store.limits  # noqa: E402,F401  (the requests to public links the abuse limits count)
