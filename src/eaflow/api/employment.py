"""Employment episodes of a journey (R16): open or close one, list them with what the indicators
need (R20). A new employer calls for an avenant to the signed convention (R10): the episode is
committed first, then the journey is asked for the avenant, with an update id that makes a repeat
harmless."""
from __future__ import annotations

from dataclasses import asdict
from datetime import date
from typing import Annotated, Any, Literal, Optional, Union

from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, field_validator
from sqlmodel import Session

from eaflow import employment
from eaflow.api.deps import SettingsDep, db_scope, get_temporal, require
from eaflow.api.journeys import audit_read
from eaflow.api.problems import Problem, tagged_union_route
from eaflow.api.views import aware, visible_journey
from eaflow.api.workflow_calls import call_workflow
from eaflow.store import employment as store
from eaflow.store.accompaniment import CONTRACT_TYPES, EMPLOYER_TYPES, EMPLOYMENT_END_REASONS, EmploymentEpisode
from eaflow.store.models import User
from eaflow.workflows.journey import JourneyWorkflow
from eaflow.workflows.types import AvenantRequest

ACTIONS = ("open", "close")


router = APIRouter(prefix="/api/v1/journeys", tags=["employment"],
                   route_class=tagged_union_route("action", ACTIONS))
StaffDep = Annotated[User, Depends(require("counsellor", "manager"))]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class EpisodeEmployer(_Body):
    name: str = Field(min_length=1, max_length=200, description="Raison sociale, ou nom de l'activité indépendante")
    type: Literal[EMPLOYER_TYPES] = Field(description="private, public ou self_employed (travailleur non salarié)")
    siret: Optional[str] = Field(None, pattern=r"^\d{14}$", description="SIRET (14 chiffres)")


class OpenEpisode(_Body):
    action: Literal["open"]
    employer: EpisodeEmployer
    contract_type: Literal[CONTRACT_TYPES]
    working_hours: Optional[str] = Field(None, max_length=100, description="Temps de travail, p. ex. « 24 h / semaine »")
    started_on: date

    @field_validator("contract_type")
    @classmethod
    def _fits_employer(cls, value: str, info) -> str:
        employer = info.data.get("employer")
        if employer is not None and not employment.contract_fits_employer(employer.type, value):
            raise ValueError("une activité indépendante (independent) va avec un employeur self_employed, et lui seul")
        return value


class CloseEpisode(_Body):
    action: Literal["close"]
    episode_id: str = Field(min_length=1, max_length=64)
    ended_on: date
    end_reason: Literal[EMPLOYMENT_END_REASONS]
    note: Optional[str] = Field(None, max_length=2000)

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
        "employer": {"name": episode.employer_name, "type": episode.employer_type, "siret": episode.employer_siret},
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


def _problem(refused: store.EmploymentRefused) -> Problem:
    status = {"not_found": 404, "conflict": 409}.get(refused.kind, 422)
    errors = [{"field": refused.field, "message": refused.detail}] if refused.field and status == 422 else None
    return Problem(status, refused.detail, rule=refused.rule, errors=errors)


def _open(settings, user: User, journey_id: str, body: OpenEpisode) -> tuple[dict, bool, AvenantRequest | None]:
    with db_scope(settings) as session:
        visible_journey(session, user, journey_id)
        try:
            episode, created, journey = store.open_episode(
                session, journey_id, actor_id=user.id, employer_name=body.employer.name,
                employer_type=body.employer.type, employer_siret=body.employer.siret,
                contract_type=body.contract_type, working_hours=body.working_hours, started_on=body.started_on)
        except store.EmploymentRefused as refused:
            raise _problem(refused) from refused
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
            raise _problem(refused) from refused
        return episode_view(episode)


@router.post("/{journey_id}/employment", summary="Open or close an employment episode (R16)",
             status_code=201, responses={200: {"description": "A repeated opening, or a closing"}})
async def record_employment(journey_id: str, body: EmploymentAction, request: Request, settings: SettingsDep,
                            user: StaffDep):
    if isinstance(body, CloseEpisode):
        view = await run_in_threadpool(_close, settings, user, journey_id, body)
        return JSONResponse(jsonable_encoder({**view, "avenant_requested": False}), status_code=200)
    view, created, avenant = await run_in_threadpool(_open, settings, user, journey_id, body)
    if avenant is not None:  # R10, after the commit: a failed update is re-sent by a repeat of the request
        handle = (await get_temporal(request)).get_workflow_handle(journey_id)
        await call_workflow(lambda: handle.execute_update(
            JourneyWorkflow.request_avenant, avenant, id=f"avenant:employer:{avenant.reference}"))
    return JSONResponse(jsonable_encoder({**view, "avenant_requested": avenant is not None}),
                        status_code=201 if created else 200)


@router.get("/{journey_id}/employment", summary="The employment episodes, with what the indicators need (R20)")
def list_employment(journey_id: str, settings: SettingsDep, user: StaffDep):
    with db_scope(settings) as session:
        journey = visible_journey(session, user, journey_id)
        episodes = store.episodes_of(session, journey.id)
        indicators = employment.indicators(episodes, since=journey.admitted_on, today=date.today())
        audit_read(session, journey.id, user, "employment_read")
        return {"journey_id": journey.id, "items": [episode_view(e) for e in episodes],
                "current": current_employment(session, journey.id), "indicators": asdict(indicators)}
