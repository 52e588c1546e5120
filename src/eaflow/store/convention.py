"""The convention individuelle d'accompagnement (R10): the convention of a journey, its versions
(drafts, re-drafts, later avenants), their parties, the signatures and the personal signing links.

Supersede, don't mutate: a re-draft is a new version row that closes the previous one; a signed
version is frozen with the hash of its signed PDF. Imported at the end of store/models.py so that
SQLModel.metadata (and Alembic) see these tables.
"""
from __future__ import annotations

from datetime import date, datetime
from typing import Any, Optional

from sqlalchemy import JSON, CheckConstraint, Column, Index, LargeBinary, Text, UniqueConstraint, text
from sqlmodel import Field, SQLModel

from eaflow.store.models import utcnow


def _where(condition: str) -> dict[str, Any]:
    return {"sqlite_where": text(condition), "postgresql_where": text(condition)}


class Convention(SQLModel, table=True):
    """One per journey: where its convention stands, and which version is current and which signed."""

    id: str = Field(primary_key=True)
    journey_id: str = Field(foreign_key="journey.id", unique=True)
    status: str = "drafting"  # drafting | signing | refused | signed
    current_version_id: Optional[str] = None
    signed_version_id: Optional[str] = None
    signed_on: Optional[date] = None
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)


class ConventionVersion(SQLModel, table=True):
    """A version of the document: its content (the counsellor's draft), its rendering and its hash."""

    __tablename__ = "convention_version"
    __table_args__ = (
        UniqueConstraint("convention_id", "number", name="uq_convention_version_number"),
        CheckConstraint("status IN ('signing', 'refused', 'superseded', 'signed')", name="ck_convention_version_status"),
    )

    id: str = Field(primary_key=True)
    convention_id: str = Field(foreign_key="convention.id", index=True)
    number: int
    kind: str = "initial"  # initial | redraft | avenant
    status: str = "signing"  # signing | refused | superseded | signed
    content: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    html: str = Field(sa_column=Column(Text, nullable=False))
    pdf: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    content_hash: str  # sha256 of `html`: what every party is shown and signs
    drafted_by: Optional[str] = None
    created_at: datetime = Field(default_factory=utcnow)
    superseded_at: Optional[datetime] = None
    signed_at: Optional[datetime] = None
    signed_pdf: Optional[bytes] = Field(default=None, sa_column=Column(LargeBinary, nullable=True))
    signed_pdf_hash: Optional[str] = None  # sha256 of the frozen signed PDF


class ConventionParty(SQLModel, table=True):
    """A party to one version, with who signs for it and where its personal link goes."""

    __tablename__ = "convention_party"
    __table_args__ = (UniqueConstraint("version_id", "role", name="uq_convention_party_role"),)

    id: str = Field(primary_key=True)
    version_id: str = Field(foreign_key="convention_version.id", index=True)
    convention_id: str = Field(foreign_key="convention.id", index=True)
    role: str  # platform | person | legal_representative | employer
    label: str  # its capacity, in French, as the document names it
    name: str  # the organisation or the person
    signatory_name: str = ""
    signatory_quality: Optional[str] = None
    email: Optional[str] = None
    signs_by: str = "link"  # link | task
    signed_at: Optional[datetime] = None
    refused_at: Optional[datetime] = None


class Signature(SQLModel, table=True):
    """A party's answer (signed or refused) with its evidence: name, time, IP, user agent.

    Written `pending` by the public signing page in the transaction that consumes the link, then
    `accepted` by the journey (or `rejected` when the journey refused it: nothing else changes).
    The database holds the rule too: at most one accepted answer per party.
    """

    __table_args__ = (
        Index("uq_signature_accepted_party", "party_id", unique=True, **_where("status = 'accepted'")),
        CheckConstraint("decision IN ('signed', 'refused')", name="ck_signature_decision"),
        CheckConstraint("status IN ('pending', 'accepted', 'rejected')", name="ck_signature_status"),
    )

    id: str = Field(primary_key=True)
    convention_id: str = Field(foreign_key="convention.id", index=True)
    version_id: str = Field(foreign_key="convention_version.id", index=True)
    party_id: str = Field(foreign_key="convention_party.id", index=True)
    decision: str  # signed | refused
    status: str = "pending"  # pending | accepted | rejected
    reason: Optional[str] = None
    signer_name: str
    via: str  # link | task | paper
    user_id: Optional[str] = None
    token_id: Optional[str] = None
    ip: Optional[str] = None
    user_agent: Optional[str] = None
    at: datetime = Field(default_factory=utcnow)


class SignatureScan(SQLModel, table=True):
    """A paper signature's scan, uploaded by the counsellor (size and type checked on upload)."""

    __tablename__ = "signature_scan"

    signature_id: str = Field(primary_key=True, foreign_key="signature.id")
    content_type: str  # application/pdf | image/jpeg | image/png
    size: int
    sha256: str
    data: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    uploaded_by: str
    uploaded_at: datetime = Field(default_factory=utcnow)


class SigningToken(SQLModel, table=True):
    """A personal signing link: single use (`used_at`), expiring; the URL carries its HMAC."""

    __tablename__ = "signing_token"

    id: str = Field(primary_key=True)
    key: str = Field(unique=True)  # the mail's idempotency key: a retried activity finds its token
    convention_id: str = Field(foreign_key="convention.id", index=True)
    version_id: str = Field(foreign_key="convention_version.id", index=True)
    party_id: str = Field(foreign_key="convention_party.id", index=True)
    issued_at: datetime
    expires_at: datetime
    used_at: Optional[datetime] = None
