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
from functools import partial
from typing import Annotated, Any, Literal, Optional, Union

from fastapi.concurrency import run_in_threadpool
from fastapi.encoders import jsonable_encoder
from pydantic import ConfigDict, Field, model_validator
from sqlmodel import Session, select
from temporalio.client import Client

from eaflow.services.access import visible_journey
from eaflow.services.db import db_scope
from eaflow.services.workflow_calls import call_workflow
from eaflow.settings import Settings
from eaflow.store.models import AuditEvent, Journey, User
from eaflow.workflows import rights
from eaflow.workflows.journey import JourneyWorkflow
from eaflow.workflows.task_kinds import choice_labels
from eaflow.workflows.types import RightsEvent
from eaflow.services import plausible
from eaflow.workflows import plausibility
from eaflow.workflows.plausibility import CheckedText

Right = Literal["rqth", "cdaph_decision"]


class _Event(CheckedText):
    model_config = ConfigDict(extra="forbid")
    right: Right = Field("rqth", title="Droit concerné",
                         description="Le droit dont le renouvellement est suivi (R19) : la RQTH, ou la décision "
                                     "d'orientation de la CDAPH",
                         json_schema_extra=choice_labels({"rqth": "RQTH",
                                                          "cdaph_decision": "Décision d'orientation de la CDAPH"}))


def _one_end(until: date | None, permanent: bool) -> None:
    if permanent == (until is not None):
        raise ValueError("indiquez la nouvelle date de fin (until), ou permanent = true")


class RenewalFiled(_Event):
    model_config = ConfigDict(title="Demande de renouvellement déposée")

    event: Literal["renewal_filed"] = Field(title="Événement",
                                            description="La demande de renouvellement est déposée : les rappels "
                                                        "s'arrêtent (R19)")
    on: date = Field(title="Date de dépôt",
                     description="Date de dépôt de la demande de renouvellement auprès de la MDPH")


class Granted(_Event):
    model_config = ConfigDict(title="Droit accordé")

    event: Literal["granted"] = Field(title="Événement",
                                      description="Le droit est accordé ou renouvelé (R19)")
    until: Optional[date] = Field(None, title="Nouvelle date de fin",
                                  description="Dernier jour du droit ; à laisser vide si le droit est accordé sans "
                                              "limitation de durée")
    permanent: bool = Field(False, title="Sans limitation de durée",
                            description="Oui si le droit est accordé à titre définitif : il n'y a alors pas de date "
                                        "de fin")
    on: Optional[date] = Field(None, title="Date de la décision",
                               description="Jour de la décision qui accorde le droit")

    @model_validator(mode="after")
    def _end(self):
        _one_end(self.until, self.permanent)
        return self


class Refused(_Event):
    model_config = ConfigDict(title="Droit refusé")

    event: Literal["refused"] = Field(title="Événement",
                                      description="Le renouvellement est refusé : un recours reste possible (R19)")
    on: date = Field(title="Date de la décision de refus",
                     description="Le délai de recours court à partir de cette date")


class AppealFiled(_Event):
    model_config = ConfigDict(title="Recours déposé")

    event: Literal["appeal_filed"] = Field(title="Événement",
                                           description="Un recours contre le refus est déposé (R19)")
    on: date = Field(title="Date de dépôt du recours", description="Jour où le recours a été déposé")


class AppealDecided(_Event):
    model_config = ConfigDict(title="Décision sur le recours")

    event: Literal["appeal_decided"] = Field(title="Événement",
                                             description="La décision sur le recours est connue (R19)")
    decision: Literal["granted", "refused"] = Field(
        title="Décision sur le recours",
        description="Le droit est accordé au terme du recours, ou le refus est confirmé",
        json_schema_extra=choice_labels({"granted": "Droit accordé", "refused": "Refus confirmé"}))
    on: date = Field(title="Date de la décision sur le recours", description="Jour de la décision sur le recours")
    until: Optional[date] = Field(None, title="Nouvelle date de fin",
                                  description="Si le droit est accordé : son dernier jour ; à laisser vide s'il est "
                                              "accordé sans limitation de durée ou si le refus est confirmé")
    permanent: bool = Field(False, title="Sans limitation de durée",
                            description="Oui si le droit est accordé à titre définitif ; non si le refus est "
                                        "confirmé")

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


def _visible(settings: Settings, user: User, journey_id: str) -> None:
    with db_scope(settings) as session:
        visible_journey(session, user, journey_id)


async def record_rights_event(settings: Settings, client: Client, user: User, journey_id: str,
                              body: RenewalFiled | Granted | Refused | AppealFiled | AppealDecided) -> dict[str, Any]:
    """Send one event to the journey, which decides (R19); the same body twice is one event."""
    await run_in_threadpool(_visible, settings, user, journey_id)
    until = getattr(body, "until", None)
    await run_in_threadpool(partial(plausible.check_paths, settings, journey_id, {"on": getattr(body, "on", None),
                                                                                 "until": until},
                                    only_first_day=frozenset({"on"})))  # a future date is R19's refusal
    if until is not None:  # a right is granted for ten years at most: beyond, it is without limit
        plausible.refuse([{"field": "until", "message": message}
                          for message in [plausibility.rqth_until(until, date.today())] if message])
    fields = body.model_dump(mode="json")
    digest = hashlib.sha256(json.dumps(fields, sort_keys=True).encode()).hexdigest()
    key = f"rights:{journey_id}:{digest[:24]}"
    event = RightsEvent(key=key, actor_id=user.id, right=body.right, event=body.event, on=getattr(body, "on", None),
                        until=getattr(body, "until", None), permanent=getattr(body, "permanent", False),
                        decision=getattr(body, "decision", None))
    handle = client.get_workflow_handle(journey_id)
    result = await call_workflow(lambda: handle.execute_update(JourneyWorkflow.rights_event, event, id=key))
    return jsonable_encoder({"journey_id": journey_id, **result})
