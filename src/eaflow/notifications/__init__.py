"""Notifications: a registry of mail kinds (templates, parameters), idempotent delivery through an
outbox table, and a local mail catcher for the embedded stack.

Import `eaflow.notifications.outbox.deliver` to send; this package only re-exports the registry,
which has no database or network dependency.
"""
from eaflow.notifications.registry import (
    KINDS,
    MailKind,
    MailParamsError,
    check_templates,
    get_kind,
    render,
)

__all__ = ["KINDS", "MailKind", "MailParamsError", "check_templates", "get_kind", "render"]
