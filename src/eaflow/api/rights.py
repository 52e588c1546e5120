"""Rights renewal (R19): the events of the RQTH and of the CDAPH decision, as the counsellor learns them.

Who: the journey's counsellor and the platform's managers (a journey they may not see is a 404).
The body is one event, discriminated on `event`: a renewal filed, granted (a new end date, or
permanent), refused, an appeal filed, an appeal decided. The API checks the body's shape only;
the journey decides (its update validator refuses an event out of order, or dates that do not fit,
naming R19) and writes everything itself: the trace, the journey projection (`rqth_until`,
`rqth_permanent`), the tasks and the mails. The update id derives from the body, so the same body
sent twice is one event.
"""
from __future__ import annotations

import hashlib
import json
from datetime import date
from typing import Annotated, Any, Literal, Optional, Union

from fastapi import APIRouter, Depends
from fastapi.concurrency import run_in_threadpool
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, model_validator
from sqlmodel import Session, select

from eaflow.api.deps import SettingsDep, TemporalDep, db_scope, require
from eaflow.api.problems import tagged_union_route
from eaflow.api.views import visible_journey
from eaflow.api.workflow_calls import call_workflow
from eaflow.store.models import AuditEvent, Journey, User
from eaflow.workflows import rights
from eaflow.workflows.journey import JourneyWorkflow
from eaflow.workflows.types import RightsEvent

# The model's own check of an event is about its end date.
router = APIRouter(prefix="/api/v1/journeys", tags=["rights"],
                   route_class=tagged_union_route("event", rights.EVENTS, model_error_field="until"))
StaffDep = Annotated[User, Depends(require("counsellor", "manager"))]

Right = Literal["rqth", "cdaph_decision"]


class _Event(BaseModel):
    model_config = ConfigDict(extra="forbid")
    right: Right = Field("rqth", description="rqth : la RQTH ; cdaph_decision : la décision d'orientation de la CDAPH")


def _one_end(until: date | None, permanent: bool) -> None:
    if permanent == (until is not None):
        raise ValueError("indiquez la nouvelle date de fin (until), ou permanent = true")


class RenewalFiled(_Event):
    event: Literal["renewal_filed"]
    on: date = Field(description="Date de dépôt de la demande de renouvellement auprès de la MDPH")


class Granted(_Event):
    event: Literal["granted"]
    until: Optional[date] = Field(None, description="Nouvelle date de fin du droit (dernier jour)")
    permanent: bool = Field(False, description="Droit accordé sans limitation de durée")
    on: Optional[date] = Field(None, description="Date de la décision")

    @model_validator(mode="after")
    def _end(self):
        _one_end(self.until, self.permanent)
        return self


class Refused(_Event):
    event: Literal["refused"]
    on: date = Field(description="Date de la décision de refus (le délai de recours court à partir de cette date)")


class AppealFiled(_Event):
    event: Literal["appeal_filed"]
    on: date = Field(description="Date de dépôt du recours")


class AppealDecided(_Event):
    event: Literal["appeal_decided"]
    decision: Literal["granted", "refused"] = Field(description="granted : droit accordé ; refused : refus définitif")
    on: date = Field(description="Date de la décision sur le recours")
    until: Optional[date] = Field(None, description="Accordé : nouvelle date de fin du droit")
    permanent: bool = Field(False, description="Accordé sans limitation de durée")

    @model_validator(mode="after")
    def _end(self):
        if self.decision == "granted":
            _one_end(self.until, self.permanent)
        elif self.until is not None or self.permanent:
            raise ValueError("un recours rejeté ne donne pas de nouvelle date de fin")
        return self


RightsEventIn = Annotated[Union[RenewalFiled, Granted, Refused, AppealFiled, AppealDecided],
                          Field(discriminator="event")]


def journey_rights(session: Session, journey: Journey) -> dict[str, Any]:
    """The journey resource's `rights`: the RQTH as projected, and the renewal as the journey last traced it."""
    last = session.exec(select(AuditEvent).where(AuditEvent.journey_id == journey.id,
                                                 AuditEvent.action.in_(rights.ACTIONS))
                        .order_by(AuditEvent.id.desc())).first()
    tracks = (last.detail or {}).get("rights", {}) if last else {}
    decision = tracks.get("cdaph_decision")
    return {"rqth_until": journey.rqth_until, "rqth_permanent": journey.rqth_permanent,
            "boe_category": journey.boe_category, "renewal": tracks.get("rqth"),
            "cdaph_decision": decision if decision and decision.get("status") != "none" else None}


def _visible(settings, user: User, journey_id: str) -> None:
    with db_scope(settings) as session:
        visible_journey(session, user, journey_id)


@router.post("/{journey_id}/rights", summary="Record a rights event: renewal filed, granted, refused, appeal (R19)",
             responses={409: {"description": "Event out of order (rule R19), or the journey does not follow rights now"},
                        422: {"description": "Malformed body, or dates that do not fit (rule R19)"}})
async def record_rights_event(journey_id: str, body: RightsEventIn, settings: SettingsDep, client: TemporalDep,
                              user: StaffDep):
    await run_in_threadpool(_visible, settings, user, journey_id)
    fields = body.model_dump(mode="json")
    digest = hashlib.sha256(json.dumps(fields, sort_keys=True).encode()).hexdigest()
    key = f"rights:{journey_id}:{digest[:24]}"
    event = RightsEvent(key=key, actor_id=user.id, right=body.right, event=body.event, on=getattr(body, "on", None),
                        until=getattr(body, "until", None), permanent=getattr(body, "permanent", False),
                        decision=getattr(body, "decision", None))
    handle = client.get_workflow_handle(journey_id)
    result = await call_workflow(lambda: handle.execute_update(JourneyWorkflow.rights_event, event, id=key))
    return JSONResponse(jsonable_encoder({"journey_id": journey_id, **result}))
