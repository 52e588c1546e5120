"""What the accounts leave behind: every sign-in attempt (the audit trail of sign-ins, and what the
throttle counts), and the inbox views a user saved."""
from __future__ import annotations

from datetime import datetime
from typing import Any, Optional

from sqlalchemy import JSON, Column, Index, UniqueConstraint
from sqlmodel import Field, SQLModel

from eaflow.store.models import utcnow

SIGN_IN_OUTCOMES = ("success", "failure", "throttled")


class SignInAttempt(SQLModel, table=True):
    """One attempt to sign in, through the API or the pages: who (the address typed, the user when it
    names one), from where, and how it ended. Kept as the audit trail of sign-ins."""

    __tablename__ = "sign_in_attempt"
    __table_args__ = (
        Index("ix_sign_in_attempt_email_at", "email", "at"),
        Index("ix_sign_in_attempt_address_at", "address", "at"),
    )

    id: Optional[int] = Field(default=None, primary_key=True)
    at: datetime = Field(default_factory=utcnow)
    email: str
    user_id: Optional[str] = Field(default=None, foreign_key="user.id")
    address: str
    via: str  # api | web
    outcome: str  # success | failure | throttled


class SavedView(SQLModel, table=True):
    """An inbox view a user saved ("Enregistrer cette vue"): a name and the filters it stands for."""

    __tablename__ = "saved_view"
    __table_args__ = (UniqueConstraint("user_id", "name", name="uq_saved_view_user_name"),)

    id: Optional[int] = Field(default=None, primary_key=True)
    user_id: str = Field(foreign_key="user.id", index=True)
    name: str
    filters: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    created_at: datetime = Field(default_factory=utcnow)
