"""What the accounts leave behind: every sign-in attempt (the audit trail of sign-ins, and what the
throttle counts), and the inbox views a user saved."""
from __future__ import annotations

from datetime import datetime
from typing import Any, Optional

from sqlalchemy import JSON, Column, Index, UniqueConstraint
from sqlmodel import Field, SQLModel

from eaflow.store.models import utcnow

# "second_step": the password was right and the second factor is awaited (not a success: it must not
# clear the account's failure count, or the password alone would buy unlimited code guesses).
SIGN_IN_OUTCOMES = ("success", "failure", "throttled", "second_step")


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


PASSWORD_LINK_CLOSINGS = ("used", "replaced", "account_disabled")


class PasswordLink(SQLModel, table=True):
    """A one-use link to set one's password (/mot-de-passe/<token>), mailed to a new user or on an
    administrator's reset: stored as the SHA-256 of its token only, valid until `expires_at`, closed
    once used, replaced by a newer link or when the account is disabled."""

    __tablename__ = "password_link"
    __table_args__ = (UniqueConstraint("token_hash", name="uq_password_link_token_hash"),)

    id: Optional[int] = Field(default=None, primary_key=True)
    token_hash: str
    user_id: str = Field(foreign_key="user.id", index=True)
    created_at: datetime = Field(default_factory=utcnow)
    created_by: Optional[str] = Field(default=None, foreign_key="user.id")  # the administrator; None: the CLI
    expires_at: datetime
    closed_at: Optional[datetime] = None
    closed_how: Optional[str] = None  # used | replaced | account_disabled


class MailPreference(SQLModel, table=True):
    """Which mails a member of the staff does not want ("Mes préférences"): the kinds they turned off,
    and whether they read their tasks in the weekly digest instead of single mails. No row: every
    mail. Mandatory kinds (notifications/registry.py STAFF_MAILS) are sent whatever this says."""

    __tablename__ = "mail_preference"

    user_id: str = Field(primary_key=True, foreign_key="user.id")
    muted_kinds: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    digest_instead: bool = False
    updated_at: datetime = Field(default_factory=utcnow)


class StaffingPeriod(SQLModel, table=True):
    """R7, R20: a user's role, FTE, operator and whether the account is active, from `since` until the
    user's next row. Every creation and every change of an account appends one: the indicators of a past quarter
    read the staff as it stood then, not as it stands today."""

    __tablename__ = "staffing_period"
    __table_args__ = (Index("ix_staffing_period_user_since", "user_id", "since"),)

    id: Optional[int] = Field(default=None, primary_key=True)
    user_id: str = Field(foreign_key="user.id")
    since: datetime = Field(default_factory=utcnow)
    role: str
    fte: float
    active: bool
    operator_id: Optional[str] = None  # the operator they worked for then (issue 13: indicators per operator)


def record_staffing(session, user, at: datetime | None = None) -> None:
    """The account as it stands now opens a staffing period (after a creation or a change)."""
    session.add(StaffingPeriod(user_id=user.id, since=at or utcnow(), role=user.role, fte=user.fte,
                               active=user.active, operator_id=user.operator_id))


class SecondFactor(SQLModel, table=True):
    """A user's TOTP second factor (RFC 6238, eaflow/services/second_factor.py): the secret encrypted
    with a key derived from EAFLOW_SECRET_KEY (never shown again once confirmed), when the user
    confirmed it with a first code (None: enrolment under way, not yet required at sign-in), and the
    30-second step of the last code accepted, so that a code is never accepted twice."""

    __tablename__ = "second_factor"

    user_id: str = Field(primary_key=True, foreign_key="user.id")
    secret_encrypted: str
    created_at: datetime = Field(default_factory=utcnow)
    confirmed_at: Optional[datetime] = None
    last_step: Optional[int] = None


class RecoveryCode(SQLModel, table=True):
    """One of a user's ten recovery codes of the second factor: shown once, stored as a keyed hash
    only, usable once (`used_at`); a new set replaces the old one."""

    __tablename__ = "recovery_code"
    __table_args__ = (UniqueConstraint("code_hash", name="uq_recovery_code_code_hash"),)

    id: Optional[int] = Field(default=None, primary_key=True)
    user_id: str = Field(foreign_key="user.id", index=True)
    code_hash: str
    created_at: datetime = Field(default_factory=utcnow)
    used_at: Optional[datetime] = None
