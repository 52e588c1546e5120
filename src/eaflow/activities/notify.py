"""Resolve a notification's recipients and parameters from the database, then deliver each mail once."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlmodel import Session, select

from eaflow.notifications.registry import STAFF_MAILS, staff_mail_skipped
from eaflow.settings import Settings
from eaflow.store.accounts import MailPreference
from eaflow.store.convention import ConventionParty, Signature
from eaflow.store.models import AuditEvent, Journey, Person, Platform, Task, User
from eaflow.workflows.types import Notification

CHANNEL_LABELS = {
    "cdaph": "orientation de la CDAPH",
    "france_travail": "prescription de France Travail",
    "cap_emploi": "prescription de Cap emploi",
    "mission_locale": "prescription de la Mission locale",
}
SITUATION_LABELS = {
    "employed": "en emploi et en difficulté dans son poste",
    "about_to_be_hired": "sur le point d'être embauchée",
    "leaving_esat": "sortant d'un ESAT",
    "seeking": "en recherche d'emploi",
}


@dataclass
class Mail:
    to: str
    recipient_name: str


def _name(user: User | None) -> str:
    return (user.display_name or user.email) if user else ""


# The mail preferences of the staff ("Mes préférences", services/preferences.py) apply to the mail
# `kind` that `recipients()` is given. The roles whose only recipients were left out by a preference are
# noted on the session, so that `note_missing_address` does not record a missing address that is not missing.
_SKIPPED = "eaflow.notify.skipped_roles"
STAFF_ROLES = ("counsellor", "manager")


def _staff_wanted(session: Session, users: list[User], role: str, kind: str | None) -> list[User]:
    """The users among `users` who get this mail: a counsellor or a manager who turned a kind off, or
    who reads their tasks in the weekly digest instead, does not get the single mail (unless a rule
    makes the kind mandatory: registry.STAFF_MAILS). The weekly digest lists every open task of the
    counsellor that is due this week or overdue, so the task such a mail announces reaches them there;
    a kind that announces no task (an exit proposal rejected) is still sent in digest mode. Persons,
    employers, prescribers and convention parties are never filtered: they are not users of the staff."""
    if kind not in STAFF_MAILS:
        return users
    kept = []
    for user in users:
        preference = session.get(MailPreference, user.id) if user.role in STAFF_ROLES else None
        if preference is not None and staff_mail_skipped(kind, user.role, preference.muted_kinds,
                                                         preference.digest_instead):
            continue
        kept.append(user)
    if users and not kept:
        session.info.setdefault(_SKIPPED, set()).add(role)
    return kept


def recipients(session: Session, journey: Journey, person: Person | None, role: str,
               platform_mailbox: str = "", kind: str | None = None) -> list[Mail]:
    if role == "person":
        mails = [Mail(person.email, f"{person.first_name} {person.last_name}")] if person and person.email else []
        representative = (person.legal_representative or {}) if person else {}
        if representative.get("email"):
            mails.append(Mail(representative["email"], representative.get("name", "")))
        return mails
    if role == "employer":
        employer = (person.employer or {}) if person else {}
        return [Mail(employer["email"], employer.get("name", ""))] if employer.get("email") else []
    if role == "prescriber":
        user = session.get(User, journey.prescriber_id) if journey.prescriber_id else None
        return [Mail(user.email, _name(user))] if user else []
    if role == "counsellor" or role.startswith("user:"):
        user_id = journey.counsellor_id if role == "counsellor" else role.removeprefix("user:")
        user = session.get(User, user_id) if user_id else None
        return [Mail(u.email, _name(u)) for u in _staff_wanted(session, [user] if user else [], role, kind)]
    if role.startswith("address:"):  # an address outside the installation, e.g. another platform's (R15)
        return [Mail(role.removeprefix("address:"), "")]
    if role.startswith("party:"):  # a party to a convention version (R10)
        party = session.get(ConventionParty, role.removeprefix("party:"))
        return [Mail(party.email, party.signatory_name or party.name)] if party and party.email else []
    if role == "platform":
        platform = session.get(Platform, journey.platform_id)
        managers = session.exec(select(User).where(
            User.platform_id == journey.platform_id, User.role == "manager", User.active == True  # noqa: E712
        )).all()
        mailbox = (platform.mailbox if platform else "") or platform_mailbox
        mails = [Mail(mailbox, platform.name if platform else "")] if mailbox else []
        return mails + [Mail(m.email, _name(m)) for m in _staff_wanted(session, list(managers), role, kind)]
    raise ValueError(f"unknown recipient role {role!r}")


def context(session: Session, settings: Settings, notification: Notification) -> tuple[Journey, Person | None, dict[str, Any]]:
    journey = session.get(Journey, notification.journey_id)
    if journey is None:
        raise LookupError(f"journey {notification.journey_id} is not in the database")
    session.info.pop(_SKIPPED, None)
    person = session.get(Person, journey.id)
    platform = session.get(Platform, journey.platform_id)
    counsellor = session.get(User, journey.counsellor_id) if journey.counsellor_id else None
    params: dict[str, Any] = {
        "journey_id": journey.id,
        "journey_url": f"{settings.public_url}/api/v1/journeys/{journey.id}",
        "platform_name": platform.name if platform else "la plateforme emploi accompagné",
        "channel_label": CHANNEL_LABELS.get(journey.channel, journey.channel),
        "situation_label": SITUATION_LABELS.get(journey.situation, journey.situation),
        "prescribed_on": journey.prescribed_on,
        "waiting_since": journey.prescribed_on,
        "since": journey.prescribed_on,
        "counsellor_name": _name(counsellor),
        "counsellor_email": counsellor.email if counsellor else "",
        "first_name": person.first_name if person else "",
        "last_name": person.last_name if person else "",
        "person_name": f"{person.first_name} {person.last_name}" if person else "",
        "person_display": f"{person.first_name[:1]}. {person.last_name[:1]}." if person else "",
        "employer_name": ((person.employer or {}).get("name", "") if person else ""),
        "waiting": False,
        "refusals": journey.refusal or [],
    }
    task_id = notification.params.get("task_id")
    if task_id:
        task = session.get(Task, task_id)
        params["task_url"] = f"{settings.public_url}/api/v1/tasks/{task_id}"
        params["task_title"] = task.title if task else ""
        params["due_on"] = task.due_at.date() if task and task.due_at else None
        params["since"] = task.created_at.date() if task else journey.prescribed_on
    signature_id = notification.params.get("signature_id")
    if signature_id:  # a party's answer to the convention: its reason, for the counsellor
        signature = session.get(Signature, signature_id)
        params["reason"] = (signature.reason or "") if signature else ""
    params.update(notification.params)
    return journey, person, params


def note_missing_address(session: Session, notification: Notification, role: str) -> None:
    if role in session.info.get(_SKIPPED, ()):  # not missing: left out by their preferences
        return
    key = f"{notification.key}/{role}/no-address"
    if session.exec(select(AuditEvent).where(AuditEvent.step_key == key)).first():
        return
    session.add(AuditEvent(
        journey_id=notification.journey_id, actor_kind="system", action="mail_not_sent",
        detail={"kind": notification.kind, "recipient": role, "why": "aucune adresse électronique connue"},
        step_key=key,
    ))
