"""Employment episodes (R16) in the store: open, close, list, the current one. Each write is traced
with who and when (R21), in the same transaction. Closing an episode never touches the journey:
the accompaniment goes on (R16). The rules themselves are in eaflow.employment.

Writers take the journey's row lock first (ignored by SQLite, whose writers are serialised), so two
identical openings at once make one episode.
"""
from __future__ import annotations

import uuid
from datetime import date, datetime, timezone
from typing import Optional

from sqlmodel import Session, select

from eaflow import employment
from eaflow.store.accompaniment import EmploymentEpisode
from eaflow.store.convention import Convention, ConventionParty, ConventionVersion
from eaflow.store.models import AuditEvent, Journey
from eaflow.workflows import transitions


class EmploymentRefused(Exception):
    """What the store refuses: `kind` is not_found, conflict or invalid; `field` names the input at fault."""

    def __init__(self, kind: str, detail: str, *, rule: str | None = None, field: str | None = None) -> None:
        super().__init__(detail)
        self.kind, self.detail, self.rule, self.field = kind, detail, rule, field


def episodes_of(session: Session, journey_id: str) -> list[EmploymentEpisode]:
    return list(session.exec(select(EmploymentEpisode).where(EmploymentEpisode.journey_id == journey_id)
                             .order_by(EmploymentEpisode.started_on, EmploymentEpisode.opened_at,
                                       EmploymentEpisode.id)).all())


def current_episode(session: Session, journey_id: str) -> EmploymentEpisode | None:
    return session.exec(select(EmploymentEpisode).where(
        EmploymentEpisode.journey_id == journey_id, EmploymentEpisode.ended_on.is_(None))
        .order_by(EmploymentEpisode.started_on.desc(), EmploymentEpisode.opened_at.desc())).first()


def _locked_journey(session: Session, journey_id: str) -> Journey:
    journey = session.exec(select(Journey).where(Journey.id == journey_id).with_for_update()).first()
    if journey is None:
        raise EmploymentRefused("not_found", "Ce parcours n'existe pas ou ne vous est pas accessible.")
    if not employment.may_record(journey.state):
        raise EmploymentRefused(
            "conflict", f"Le parcours est à l'état « {transitions.label(journey.state)} » : un emploi "
            "s'enregistre une fois la personne admise, et tant qu'elle est accompagnée.", rule="R16")
    return journey


def _audit(session: Session, episode: EmploymentEpisode, action: str, actor_id: str, detail: dict) -> None:
    session.add(AuditEvent(journey_id=episode.journey_id, actor_kind="user", actor_id=actor_id, action=action,
                           detail={"episode_id": episode.id, "employer_name": episode.employer_name, **detail},
                           step_key=f"{episode.journey_id}/employment/{episode.id}/{action}"))


def open_episode(session: Session, journey_id: str, *, actor_id: str, employer_name: str, employer_type: str,
                 contract_type: str, started_on: date, employer_siret: Optional[str] = None,
                 working_hours: Optional[str] = None, employer_naf_section: Optional[str] = None,
                 employer_size_band: Optional[str] = None) -> tuple[EmploymentEpisode, bool, Journey]:
    """(the episode, whether it was created now, the journey). The same employer and start date as
    an open episode is a repeat of that opening: the existing episode comes back."""
    journey = _locked_journey(session, journey_id)
    key = employment.same_employer_key(employer_name)
    for episode in episodes_of(session, journey_id):
        if employment.same_employer_key(episode.employer_name) != key:
            continue
        if episode.ended_on is None and episode.started_on == started_on:
            return episode, False, journey
        if episode.ended_on is None:
            raise EmploymentRefused(
                "conflict", f"Un emploi chez {episode.employer_name} est déjà ouvert depuis le "
                f"{episode.started_on.isoformat()} : clôturez-le avant d'en ouvrir un autre chez le même employeur.")
        if episode.started_on == started_on:
            raise EmploymentRefused("conflict", "Cet emploi a déjà été enregistré puis clôturé.")
    episode = EmploymentEpisode(
        id=f"emp-{uuid.uuid4().hex[:20]}", journey_id=journey_id, employer_name=employer_name,
        employer_type=employer_type, employer_siret=employer_siret, employer_naf_section=employer_naf_section,
        employer_size_band=employer_size_band, contract_type=contract_type,
        working_hours=working_hours, started_on=started_on, opened_by=actor_id)
    session.add(episode)
    _audit(session, episode, "employment_opened", actor_id, {
        "employer_type": employer_type, "contract_type": contract_type, "started_on": started_on.isoformat()})
    session.flush()
    return episode, True, journey


def close_episode(session: Session, journey_id: str, episode_id: str, *, actor_id: str, ended_on: date,
                  end_reason: str, note: Optional[str] = None) -> EmploymentEpisode:
    """Close an open episode; the journey's state is left as it is (R16)."""
    _locked_journey(session, journey_id)
    episode = session.get(EmploymentEpisode, episode_id)
    if episode is None or episode.journey_id != journey_id:
        raise EmploymentRefused("not_found", "Cet emploi n'existe pas dans ce parcours.", field="episode_id")
    if episode.ended_on is not None:
        raise EmploymentRefused("conflict", f"Cet emploi est déjà clôturé depuis le {episode.ended_on.isoformat()}.")
    if ended_on < episode.started_on:
        raise EmploymentRefused("invalid", "La date de fin ne peut pas précéder le début de l'emploi "
                                f"({episode.started_on.isoformat()}).", field="ended_on")
    episode.ended_on, episode.end_reason, episode.end_note = ended_on, end_reason, note
    episode.closed_by, episode.closed_at = actor_id, datetime.now(timezone.utc)
    session.add(episode)
    _audit(session, episode, "employment_closed", actor_id, {
        "ended_on": ended_on.isoformat(), "end_reason": end_reason, "rupture": employment.is_rupture(episode),
        "note": note})
    session.flush()
    return episode


def signed_employer(session: Session, journey_id: str) -> employment.SignedEmployer | None:
    """The employer of the journey's signed convention (R10), or None when none is signed yet.
    A self-employed person has no employer party: they sign as their own employer."""
    convention = session.exec(select(Convention).where(Convention.journey_id == journey_id)).first()
    if convention is None or not convention.signed_version_id:
        return None
    party = session.exec(select(ConventionParty).where(ConventionParty.version_id == convention.signed_version_id,
                                                       ConventionParty.role == "employer")).first()
    if party is not None:
        return employment.SignedEmployer(party.name)
    content = session.exec(select(ConventionVersion.content)
                           .where(ConventionVersion.id == convention.signed_version_id)).first()
    employer = (content or {}).get("employer")
    if employer and employer.get("self_employed"):
        return employment.SignedEmployer(employer.get("name"), self_employed=True)
    return employment.SignedEmployer(None)
