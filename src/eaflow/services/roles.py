"""Who may do what, by role (ARCHITECTURE.md, decision 9): one table, read by the API's route guards
and by the services themselves (so that a page asks the same question)."""
from __future__ import annotations

from eaflow.services.refusals import Refusal
from eaflow.store.models import User

STAFF = ("counsellor", "manager")  # the platform's team: inboxes and persons' files
MANAGERS = ("manager",)  # assignments, approvals, the platform's figures
INTAKE = ("prescriber", "manager")  # who sends a person in
JOURNEY_READERS = ("counsellor", "manager", "prescriber")  # a prescriber follows the outcome only (R22)
ADMINS = ("admin",)  # the platform's accounts, its details, the policy in force
NOT_ALLOWED = "Votre rôle ne permet pas cette action."


def check(user: User, roles: tuple[str, ...]) -> None:
    if user.role not in roles:
        raise Refusal(403, NOT_ALLOWED)
