"""The accompaniment's records (§IV.A, §V.B.3–4): contacts (R13), the news of their changes to the
journey, the intensity they make month by month (R11), and the employment episodes (R16).

Supersede, don't erase: an edited contact keeps who edited it and when, a deleted one is marked
deleted (the audit trail holds the before and after). Imported at the end of store/models.py so
that SQLModel.metadata (and Alembic) see these tables.
"""
from __future__ import annotations

from datetime import date, datetime
from typing import Optional

from sqlalchemy import CheckConstraint, Column, Index, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from eaflow import profile
from eaflow.store.models import utcnow

CONTACT_PLACES = ("service", "workplace", "home", "other")
CONTACT_CHANNELS = ("in_person", "phone", "video", "mail", "letter", "sms", "third_party")
CONTACT_PARTICIPANTS = ("person", "employer", "both", "partner")


def _one_of(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class Contact(SQLModel, table=True):
    """R13: a contact, or an attempt that did not reach the person (`reached` false)."""

    __table_args__ = (
        Index("ix_contact_journey_occurred", "journey_id", "occurred_on"),
        UniqueConstraint("task_id", name="uq_contact_task_id"),
        CheckConstraint(_one_of("place", CONTACT_PLACES), name="ck_contact_place"),
        CheckConstraint(_one_of("channel", CONTACT_CHANNELS), name="ck_contact_channel"),
        CheckConstraint(_one_of("participants", CONTACT_PARTICIPANTS), name="ck_contact_participants"),
        CheckConstraint("duration_minutes >= 0 AND duration_minutes <= 1440", name="ck_contact_duration"),
    )

    id: str = Field(primary_key=True)
    journey_id: str = Field(foreign_key="journey.id")
    occurred_on: date
    duration_minutes: int
    place: str  # service | workplace | home | other (a place the person chose)
    channel: str  # in_person | phone | video | mail | letter | sms | third_party
    participants: str  # person | employer | both | partner
    reached: bool = True  # false: an attempt that did not reach the person (R17 counts them)
    interview: bool = False  # an interview with the counsellor (R12: one per quarter at least)
    note: Optional[str] = Field(default=None, sa_column=Column(Text, nullable=True))
    task_id: Optional[str] = None  # recorded as a task's outcome
    recorded_by: Optional[str] = None
    recorded_at: datetime = Field(default_factory=utcnow)
    updated_by: Optional[str] = None
    updated_at: Optional[datetime] = None
    deleted_by: Optional[str] = None
    deleted_at: Optional[datetime] = None


class ContactNudge(SQLModel, table=True):
    """That a journey's workflow must be told its contacts changed (R12, R17): an outbox row written in
    the same transaction as the change, so that the news survives an API that dies or a Temporal
    that is down before it is delivered (eaflow/nudges.py delivers it, and redelivers it later)."""

    __tablename__ = "contact_nudge"

    journey_id: str = Field(primary_key=True, foreign_key="journey.id")
    version: int = 0  # bumped by each change of the journey's contacts
    delivered: int = 0  # the last version the workflow accepted; pending while version > delivered
    changed_at: datetime = Field(default_factory=utcnow)


class IntensityMonth(SQLModel, table=True):
    """R11: the hours of contact of one person in one calendar month and the level they make,
    kept month by month for the indicators (R20); rewritten whenever a contact of the month changes."""

    __tablename__ = "intensity_month"
    __table_args__ = (
        CheckConstraint("level IN ('intensif', 'regulier', 'suivi', 'allege')", name="ck_intensity_month_level"),
    )

    journey_id: str = Field(primary_key=True, foreign_key="journey.id")
    month: date = Field(primary_key=True)  # the first day of the month
    minutes: int = 0
    workplace_minutes: int = 0  # R13: workplace time, summed for the indicators
    level: str  # intensif | regulier | suivi | allege
    updated_at: datetime = Field(default_factory=utcnow)


EMPLOYER_TYPES = ("private", "public", "self_employed")
CONTRACT_TYPES = ("cdi", "cdd", "interim", "alternance", "pmsmp", "stage", "independent")
EMPLOYMENT_END_REASONS = ("dismissal", "resignation", "end_of_fixed_term", "mobility", "trial_period",
                          "mutual_agreement", "retirement", "other")


class EmploymentEpisode(SQLModel, table=True):
    """R16: a job held during the accompaniment. Closing one never ends the accompaniment."""

    __tablename__ = "employment_episode"
    __table_args__ = (
        Index("ix_employment_episode_journey_started", "journey_id", "started_on"),
        CheckConstraint(_one_of("employer_type", EMPLOYER_TYPES), name="ck_employment_episode_employer_type"),
        CheckConstraint(_one_of("contract_type", CONTRACT_TYPES), name="ck_employment_episode_contract_type"),
        CheckConstraint("ended_on IS NULL OR ended_on >= started_on", name="ck_employment_episode_dates"),
        CheckConstraint("(ended_on IS NULL) = (end_reason IS NULL)", name="ck_employment_episode_end_reason"),
        CheckConstraint(_one_of("employer_naf_section", tuple(profile.NAF_SECTIONS)),
                        name="ck_employment_episode_employer_naf_section"),
        CheckConstraint(_one_of("employer_size_band", tuple(profile.SIZE_BANDS)),
                        name="ck_employment_episode_employer_size_band"),
    )

    id: str = Field(primary_key=True)
    journey_id: str = Field(foreign_key="journey.id")
    employer_name: str
    employer_type: str  # private | public | self_employed
    employer_siret: Optional[str] = None
    employer_naf_section: Optional[str] = None  # A..U (eaflow.profile.NAF_SECTIONS), for the indicators (R20)
    employer_size_band: Optional[str] = None  # eaflow.profile.SIZE_BANDS
    contract_type: str  # cdi | cdd | interim | alternance | pmsmp | stage | independent
    working_hours: Optional[str] = None  # e.g. "24 h / semaine"
    started_on: date
    ended_on: Optional[date] = None
    end_reason: Optional[str] = None
    end_note: Optional[str] = Field(default=None, sa_column=Column(Text, nullable=True))
    opened_by: Optional[str] = None
    opened_at: datetime = Field(default_factory=utcnow)
    closed_by: Optional[str] = None
    closed_at: Optional[datetime] = None
