"""The audit trail of the accounts and of the platform's details (ARCHITECTURE.md, decision 9): who
created, changed, disabled an account, sent a password link, set a password, changed the platform or
their mail preferences, turned their second factor on or off, renewed its recovery codes, or reset
someone's (eaflow/services/second_factor.py). These rows concern no journey (`AuditEvent.journey_id`
is None); `detail` names the platform and the account concerned, never a password or a link's token."""
from __future__ import annotations

from typing import Any

from sqlmodel import Session, select

from eaflow.store.models import AuditEvent

ACTIONS = ("user_created", "user_changed", "user_disabled", "user_enabled", "password_link_sent", "password_set",
           "platform_changed", "mail_preferences_changed", "operator_added", "sessions_ended",
           "platform_resources_declared", "second_factor_enabled", "second_factor_disabled", "recovery_codes_renewed",
           "second_factor_reset")


def audit_account(session: Session, action: str, *, actor_id: str | None, platform_id: str | None,
                  user_id: str | None = None, actor_kind: str = "user", **detail: Any) -> None:
    assert action in ACTIONS, action
    session.add(AuditEvent(journey_id=None, actor_kind=actor_kind, actor_id=actor_id, action=action,
                           detail={"platform_id": platform_id, "user_id": user_id, **detail}))


def account_events(session: Session, platform_id: str, limit: int = 50) -> list[AuditEvent]:
    """The latest of these rows for one platform, newest first."""
    return list(session.exec(select(AuditEvent).where(
        AuditEvent.journey_id.is_(None), AuditEvent.action.in_(ACTIONS),
        AuditEvent.detail["platform_id"].as_string() == platform_id,
    ).order_by(AuditEvent.id.desc()).limit(limit)).all())
