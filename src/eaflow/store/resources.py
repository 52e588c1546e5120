"""R20, §V.A.6 2° "Indicateurs relatifs aux ressources mobilisées": what the platform's managers declare
because no journey records it (services/resources.py validates and writes it, eaflow.indicators reads it).

Two grains, as the text implies:

- **per quarter** (`ResourceQuarter`): the staff. "Nombre total d'ETP affectés à la plateforme" (every
  professional, counsellors or not, with or without an account here), its split by mission
  (accompagnement, coordination, gestion, partenariats: the FTE of each, which add up to the total, so
  that "ETP dédiés à l'accompagnement" and "répartition du temps de travail" are one declaration), and
  the professionals holding the titre professionnel « conseiller en emploi accompagné » (RNCP37779) or
  preparing it. Staff change within a year and the data go to the funders every quarter.
  The title is a declared count, not an attribute of the accounts: the platform's professionals are not
  all users of eaflow (a job coach of a co-porteur, a director), and the total FTE is declared for the
  same reason; a count beside the FTE it belongs to is what the quarterly return needs.
- **per calendar year** (`ResourceYear`, `ResourceTraining`): the funding by source (État, Agefiph,
  FIPHP, autres, in euros, kept in cents) — conventions of funding are annual — and the trainings: "nature
  et nombre de formations délivrées dans l'année, nature et nombre de formations prévues pour l'année à
  suivre" (a `planned` training of year Y is planned for Y + 1).

No row means "non déclaré", never 0. Funding amounts NULL: funding not declared; `trainings_declared`
false: trainings not declared (true without any training row: none this year).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Optional

from sqlalchemy import BigInteger, CheckConstraint, Column, UniqueConstraint
from sqlmodel import Field, Session, SQLModel, select

from eaflow.store.models import utcnow

MISSIONS = ("accompaniment", "coordination", "management", "partnerships")
MISSION_LABELS = {"accompaniment": "accompagnement", "coordination": "coordination", "management": "gestion",
                  "partnerships": "partenariats"}
FUNDING_SOURCES = ("state", "agefiph", "fiphp", "other")
FUNDING_LABELS = {"state": "État", "agefiph": "Agefiph", "fiphp": "FIPHP", "other": "autres"}
TRAINING_STATUSES = ("delivered", "planned")
TRAINING_LABELS = {"delivered": "délivrées dans l'année", "planned": "prévues pour l'année à suivre"}


class ResourceQuarter(SQLModel, table=True):
    """One quarter's staff of a platform, as its managers declared it (see the module's docstring)."""

    __tablename__ = "resource_quarter"
    __table_args__ = (
        UniqueConstraint("platform_id", "year", "quarter", name="uq_resource_quarter_platform_year_quarter"),
        CheckConstraint("quarter >= 1 AND quarter <= 4", name="ck_resource_quarter_quarter"),
    )

    id: Optional[int] = Field(default=None, primary_key=True)
    platform_id: str = Field(foreign_key="platform.id")
    year: int
    quarter: int
    total_fte: float
    fte_accompaniment: float
    fte_coordination: float
    fte_management: float
    fte_partnerships: float
    title_holders: int
    title_in_training: int = 0
    declared_at: datetime = Field(default_factory=utcnow)
    declared_by: Optional[str] = Field(default=None, foreign_key="user.id")

    def fte_of(self, mission: str) -> float:
        return getattr(self, f"fte_{mission}")


class ResourceYear(SQLModel, table=True):
    """One calendar year's funding and trainings of a platform (see the module's docstring)."""

    __tablename__ = "resource_year"
    __table_args__ = (UniqueConstraint("platform_id", "year", name="uq_resource_year_platform_year"),)

    id: Optional[int] = Field(default=None, primary_key=True)
    platform_id: str = Field(foreign_key="platform.id")
    year: int
    funding_state_cents: Optional[int] = Field(default=None, sa_column=Column(BigInteger, nullable=True))
    funding_agefiph_cents: Optional[int] = Field(default=None, sa_column=Column(BigInteger, nullable=True))
    funding_fiphp_cents: Optional[int] = Field(default=None, sa_column=Column(BigInteger, nullable=True))
    funding_other_cents: Optional[int] = Field(default=None, sa_column=Column(BigInteger, nullable=True))
    funding_other_label: str = ""
    trainings_declared: bool = False
    declared_at: datetime = Field(default_factory=utcnow)
    declared_by: Optional[str] = Field(default=None, foreign_key="user.id")

    @property
    def funding_declared(self) -> bool:
        return self.funding_state_cents is not None

    def cents_of(self, source: str) -> Optional[int]:
        return getattr(self, f"funding_{source}_cents")


class ResourceTraining(SQLModel, table=True):
    """One kind of training of a year: delivered that year, or planned for the next one."""

    __tablename__ = "resource_training"
    __table_args__ = (
        CheckConstraint("status IN ('delivered', 'planned')", name="ck_resource_training_status"),
        CheckConstraint("count >= 1", name="ck_resource_training_count"),
    )

    id: Optional[int] = Field(default=None, primary_key=True)
    resource_year_id: int = Field(foreign_key="resource_year.id", index=True)
    status: str  # delivered | planned
    nature: str
    count: int


def quarter_of(day: date) -> int:
    return (day.month - 1) // 3 + 1


@dataclass(frozen=True)
class DeclaredResources:
    """What the indicators read for a period: the declaration of the quarter holding its last day, and
    of that day's calendar year (None where nothing was declared)."""

    year: int
    quarter: int
    staff: Optional[ResourceQuarter]
    funding_and_trainings: Optional[ResourceYear]
    trainings: tuple[ResourceTraining, ...] = ()


def declared_at(session: Session, platform_id: str, day: date) -> DeclaredResources:
    """The declarations that hold for a period ending on `day`."""
    staff = session.exec(select(ResourceQuarter).where(
        ResourceQuarter.platform_id == platform_id, ResourceQuarter.year == day.year,
        ResourceQuarter.quarter == quarter_of(day))).first()
    year = session.exec(select(ResourceYear).where(ResourceYear.platform_id == platform_id,
                                                   ResourceYear.year == day.year)).first()
    trainings = () if year is None else tuple(session.exec(
        select(ResourceTraining).where(ResourceTraining.resource_year_id == year.id)
        .order_by(ResourceTraining.id)).all())
    return DeclaredResources(day.year, quarter_of(day), staff, year, trainings)
