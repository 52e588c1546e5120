"""What the abuse limits of the public links count (services/limits.py): one row per request to a
public link page (a convention's signature link, a password link), whether the link is valid or not.

The rows live in the database, not in a process's memory, so that the limits hold across every API
process. They are kept only as long as the longest window of the policy (`[limits]`), then pruned:
this is a counter, not an audit trail (sign-ins have theirs, `sign_in_attempt`). A link is kept only
as a SHA-256 of its kind and path, never in clear.
"""
from __future__ import annotations

from datetime import datetime
from typing import Optional

from sqlalchemy import Index
from sqlmodel import Field, SQLModel

from eaflow.store.models import utcnow

PUBLIC_LINK_KINDS = ("signature", "password")


class PublicLinkAttempt(SQLModel, table=True):
    """One request to a public link page: when, from which address, to which link (hashed)."""

    __tablename__ = "public_link_attempt"
    __table_args__ = (
        Index("ix_public_link_attempt_address_at", "address", "at"),
        Index("ix_public_link_attempt_link_at", "link_hash", "at"),
        Index("ix_public_link_attempt_at", "at"),  # the pruning
    )

    id: Optional[int] = Field(default=None, primary_key=True)
    at: datetime = Field(default_factory=utcnow)
    kind: str  # signature | password
    address: str
    link_hash: str  # SHA-256 (hex) of the kind and the link's path: the token never in clear
