"""What a prescriber follows of the persons they sent in: the outcome only (under examination, on
the waiting list, admitted, not retained and why, exited), never the counsellor's notes, the contacts
or health details (R22)."""
from __future__ import annotations

from typing import Any

from sqlmodel import select

from eaflow.services import roles
from eaflow.services.access import audit_read, audit_reads
from eaflow.services.db import db_scope
from eaflow.services.refusals import Refusal
from eaflow.settings import Settings
from eaflow.store.models import Journey, Person, User

# The journey's states as a prescriber's outcomes: (outcome, short label, what it means).
_EXAMINED = ("examination", "En cours d'examen", "La plateforme vérifie les conditions d'entrée.")
_ADMITTED = ("admitted", "Admise", "La personne est accompagnée par un conseiller de la plateforme.")
OUTCOMES: dict[str, tuple[str, str, str]] = {
    **{state: _EXAMINED for state in ("prescribed", "eligibility", "consent", "cdaph_notified")},
    "waiting_list": ("waiting", "En liste d'attente",
                     "Un conseiller sera désigné dès qu'une place se libère, par ordre de priorité."),
    **{state: _ADMITTED for state in ("admitted", "convention", "accompaniment", "veille", "relaunch",
                                      "exit_proposed")},
    "exited": ("exited", "Sortie du dispositif", "L'accompagnement a pris fin."),
    "transferred": ("transferred", "Transmise", "Le dossier a été transmis à la plateforme d'un autre département."),
    "refused": ("refused", "Non retenue", "La prescription ne remplit pas une condition d'entrée."),
}
LIST_LIMIT = 200


def outcome_view(journey: Journey, person: Person | None) -> dict[str, Any]:
    outcome, label, meaning = OUTCOMES[journey.state]
    return {
        "id": journey.id, "outcome": outcome, "outcome_label": label, "outcome_meaning": meaning,
        "person": {"first_name": person.first_name, "last_name": person.last_name} if person else None,
        "channel": journey.channel, "prescribed_on": journey.prescribed_on, "admitted_on": journey.admitted_on,
        "exited_on": journey.exited_on if outcome == "exited" else None,
        "refusal": [{"rule": r.get("rule"), "detail": r.get("detail")} for r in journey.refusal or ()]
        if outcome == "refused" else [],
    }


def my_prescriptions(settings: Settings, user: User) -> list[dict[str, Any]]:
    """The persons this user sent in, newest prescription first, each with its outcome."""
    roles.check(user, roles.INTAKE)
    with db_scope(settings) as session:
        rows = session.exec(select(Journey, Person).join(Person, Person.journey_id == Journey.id, isouter=True)
                            .where(Journey.prescriber_id == user.id)
                            .order_by(Journey.prescribed_on.desc(), Journey.created_at.desc())
                            .limit(LIST_LIMIT)).all()
        audit_reads(session, [journey.id for journey, _ in rows], user, "journey_listed")  # R22: names listed
    return [outcome_view(journey, person) for journey, person in rows]


def prescription(settings: Settings, user: User, journey_id: str) -> dict[str, Any]:
    """One prescription's outcome; the read is traced (R22)."""
    roles.check(user, roles.INTAKE)
    with db_scope(settings) as session:
        journey = session.exec(select(Journey).where(Journey.id == journey_id,
                                                     Journey.prescriber_id == user.id)).first()
        if journey is None:
            raise Refusal(404, "Cette prescription n'existe pas ou ne vous est pas accessible.")
        audit_read(session, journey.id, user, "prescription_read")
        return outcome_view(journey, session.get(Person, journey.id))
