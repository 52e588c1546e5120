"""Employment episodes of a journey (R16): open or close one, list them with what the indicators
need (R20). A new employer calls for an avenant to the signed convention (R10): the episode is
committed first, then the journey is asked for the avenant, with an update id that makes a repeat
harmless."""
from __future__ import annotations

from dataclasses import asdict
from datetime import date
from typing import Annotated, Any, Literal, Optional, Union

from fastapi.concurrency import run_in_threadpool
from fastapi.encoders import jsonable_encoder
from pydantic import ConfigDict, Field, field_validator
from sqlmodel import Session

from eaflow import employment, profile
from eaflow.services import plausible
from eaflow.services.access import audit_read, visible_journey
from eaflow.services.db import db_scope
from eaflow.services.refusals import Refusal
from eaflow.services.temporal import TemporalHolder
from eaflow.services.workflow_calls import call_workflow
from eaflow.settings import Settings
from eaflow.store import employment as store
from eaflow.store.accompaniment import (
    CONTRACT_TYPES,
    EMPLOYER_TYPES,
    EMPLOYMENT_END_REASONS,
    EmploymentEpisode,
)
from eaflow.store.models import User, aware
from eaflow.workflows.journey import JourneyWorkflow
from eaflow.workflows.task_kinds import choice_labels
from eaflow.workflows.types import AvenantRequest
from eaflow.workflows.plausibility import CheckedText

ACTIONS = ("open", "close")


class _Body(CheckedText):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class EpisodeEmployer(_Body):
    model_config = ConfigDict(title="Employeur")

    name: str = Field(min_length=1, max_length=200, title="Nom de l'employeur",
                      description="Raison sociale, ou nom de l'activité indépendante")
    type: Literal[EMPLOYER_TYPES] = Field(
        title="Type d'employeur",
        description="Une activité indépendante va avec le type « travailleur non salarié », et lui seul",
        json_schema_extra=choice_labels({"private": "Employeur privé", "public": "Employeur public",
                                         "self_employed": "Travailleur non salarié (à son compte)"}))
    siret: Optional[str] = Field(None, pattern=r"^\d{14}$", title="SIRET",
                                 description="Les 14 chiffres du SIRET de l'établissement, sans espace")
    naf_section: Optional[Literal[tuple(profile.NAF_SECTIONS)]] = Field(
        None, title="Secteur d'activité (section NAF)",
        description="La section de la nomenclature d'activités française (INSEE), pour les indicateurs",
        json_schema_extra=choice_labels(profile.NAF_SECTIONS))
    size_band: Optional[Literal[tuple(profile.SIZE_BANDS)]] = Field(
        None, title="Taille de l'employeur", description="L'effectif salarié de l'employeur, pour les indicateurs",
        json_schema_extra=choice_labels(profile.SIZE_BANDS))


class OpenEpisode(_Body):
    model_config = ConfigDict(title="Début d'un emploi")

    action: Literal["open"] = Field(title="Action", description="Ouvrir un emploi (R16)")
    employer: EpisodeEmployer = Field(title="Employeur",
                                      description="Pendant l'accompagnement, un nouvel employeur appelle un "
                                                  "avenant à la convention (R10)")
    contract_type: Literal[CONTRACT_TYPES] = Field(
        title="Type de contrat",
        description="Une PMSMP ou un stage est enregistré, mais ne compte pas comme un emploi (ni dans les "
                    "indicateurs, ni pour un avenant)",
        json_schema_extra=choice_labels({value: label[:1].upper() + label[1:]
                                         for value, label in employment.CONTRACT_LABELS.items()}))
    working_hours: Optional[str] = Field(None, max_length=100, title="Temps de travail",
                                         description="Par exemple « 24 h / semaine »")
    started_on: date = Field(title="Date de début", description="Premier jour de l'emploi")

    @field_validator("contract_type")
    @classmethod
    def _fits_employer(cls, value: str, info) -> str:
        employer = info.data.get("employer")
        if employer is not None and not employment.contract_fits_employer(employer.type, value):
            raise ValueError("une activité indépendante (independent) va avec un employeur self_employed, et lui seul")
        return value


class CloseEpisode(_Body):
    model_config = ConfigDict(title="Fin d'un emploi")

    action: Literal["close"] = Field(title="Action",
                                     description="Clôturer un emploi : l'accompagnement continue (R16)")
    episode_id: str = Field(min_length=1, max_length=64, title="Emploi à clôturer",
                            description="L'identifiant de l'emploi en cours, tel que la liste des emplois le donne")
    ended_on: date = Field(title="Date de fin", description="Dernier jour de l'emploi, aujourd'hui au plus tard")
    end_reason: Literal[EMPLOYMENT_END_REASONS] = Field(
        title="Motif de fin",
        description="Un licenciement, une démission, une rupture de la période d'essai ou une rupture "
                    "conventionnelle comptent comme une rupture d'emploi dans les indicateurs (R20)",
        json_schema_extra=choice_labels({value: reason.label[:1].upper() + reason.label[1:]
                                         for value, reason in employment.END_REASONS.items()}))
    note: Optional[str] = Field(None, max_length=2000, title="Remarque",
                                description="Ce qu'il est utile de savoir sur la fin de cet emploi")

    @field_validator("ended_on")
    @classmethod
    def _not_in_future(cls, value: date) -> date:
        if value > date.today():
            raise ValueError("la date de fin ne peut pas être dans le futur : clôturez l'emploi une fois terminé")
        return value


EmploymentAction = Annotated[Union[OpenEpisode, CloseEpisode], Field(discriminator="action")]


def episode_view(episode: EmploymentEpisode) -> dict[str, Any]:
    reason = employment.END_REASONS.get(episode.end_reason or "")
    return {
        "id": episode.id,
        "employer": {"name": episode.employer_name, "type": episode.employer_type, "siret": episode.employer_siret,
                     "naf_section": episode.employer_naf_section, "size_band": episode.employer_size_band},
        "contract_type": episode.contract_type,
        "contract_label": employment.CONTRACT_LABELS.get(episode.contract_type, episode.contract_type),
        "working_hours": episode.working_hours, "started_on": episode.started_on, "ended_on": episode.ended_on,
        "end_reason": episode.end_reason, "end_reason_label": reason.label if reason else None,
        "rupture": employment.is_rupture(episode) if episode.ended_on else None, "note": episode.end_note,
        "opened_by": episode.opened_by, "opened_at": aware(episode.opened_at),
        "closed_by": episode.closed_by, "closed_at": aware(episode.closed_at),
    }


def current_employment(session: Session, journey_id: str) -> dict[str, Any] | None:
    """The journey resource's `employment`: the current open episode, or None."""
    episode = store.current_episode(session, journey_id)
    if episode is None:
        return None
    return {"id": episode.id, "employer": {"name": episode.employer_name, "type": episode.employer_type},
            "contract_type": episode.contract_type, "started_on": episode.started_on}


def _refusal(refused: store.EmploymentRefused) -> Refusal:
    status = {"not_found": 404, "conflict": 409}.get(refused.kind, 422)
    errors = [{"field": refused.field, "message": refused.detail}] if refused.field and status == 422 else None
    return Refusal(status, refused.detail, rule=refused.rule, errors=errors)


def _open(settings, user: User, journey_id: str, body: OpenEpisode) -> tuple[dict, bool, AvenantRequest | None]:
    with db_scope(settings) as session:
        visible_journey(session, user, journey_id)
        plausible.refuse(plausible.job_errors(body.started_on, plausible.file_dates(session, journey_id)))
        try:
            episode, created, journey = store.open_episode(
                session, journey_id, actor_id=user.id, employer_name=body.employer.name,
                employer_type=body.employer.type, employer_siret=body.employer.siret,
                employer_naf_section=body.employer.naf_section, employer_size_band=body.employer.size_band,
                contract_type=body.contract_type, working_hours=body.working_hours, started_on=body.started_on)
        except store.EmploymentRefused as refused:
            raise _refusal(refused) from refused
        avenant = None
        if employment.calls_for_avenant(journey.state, store.signed_employer(session, journey_id), episode):
            avenant = AvenantRequest(kind="employer", reference=episode.id, requested_by=user.id,
                                     summary=employment.avenant_summary(episode))
        return episode_view(episode), created, avenant


def _close(settings, user: User, journey_id: str, body: CloseEpisode) -> dict:
    with db_scope(settings) as session:
        visible_journey(session, user, journey_id)
        try:
            episode = store.close_episode(session, journey_id, body.episode_id, actor_id=user.id,
                                          ended_on=body.ended_on, end_reason=body.end_reason, note=body.note)
        except store.EmploymentRefused as refused:
            raise _refusal(refused) from refused
        return episode_view(episode)


async def record_employment(settings: Settings, temporal: TemporalHolder, user: User, journey_id: str,
                            body: OpenEpisode | CloseEpisode) -> tuple[dict[str, Any], bool]:
    """Open or close an episode: (the episode with `avenant_requested`, whether it was created now)."""
    if isinstance(body, CloseEpisode):
        view = await run_in_threadpool(_close, settings, user, journey_id, body)
        return jsonable_encoder({**view, "avenant_requested": False}), False
    view, created, avenant = await run_in_threadpool(_open, settings, user, journey_id, body)
    if avenant is not None:  # R10, after the commit: a failed update is re-sent by a repeat of the request
        handle = (await temporal.client()).get_workflow_handle(journey_id)
        await call_workflow(lambda: handle.execute_update(
            JourneyWorkflow.request_avenant, avenant, id=f"avenant:employer:{avenant.reference}"))
    return jsonable_encoder({**view, "avenant_requested": avenant is not None}), created


def list_employment(settings: Settings, user: User, journey_id: str) -> dict[str, Any]:
    """The episodes with what the indicators need; the read is traced (R22)."""
    with db_scope(settings) as session:
        journey = visible_journey(session, user, journey_id)
        episodes = store.episodes_of(session, journey.id)
        indicators = employment.indicators(episodes, since=journey.admitted_on, today=date.today())
        audit_read(session, journey.id, user, "employment_read")
        return {"journey_id": journey.id, "items": [episode_view(e) for e in episodes],
                "current": current_employment(session, journey.id), "indicators": asdict(indicators)}
