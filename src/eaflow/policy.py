"""The platform policy: every duration the workflows use, with the national defaults built in.

A policy file is TOML with ISO 8601 durations, e.g.::

    [intake]
    cdaph_reminder_every = "P7D"

Unknown keys are refused so that a typo never silently falls back to a default. The policy is
passed into each journey at start and refreshed at continue-as-new.
"""
from __future__ import annotations

import json
import tomllib
from pathlib import Path
from typing import get_origin

from pydantic import BaseModel, ConfigDict, Field, field_validator

from eaflow.durations import Duration


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    @field_validator("*", mode="before")
    @classmethod
    def _iso_durations(cls, value, info):
        field = cls.model_fields[info.field_name]
        if field.annotation is str:
            Duration.parse(value)
        elif get_origin(field.annotation) is list and isinstance(value, (list, tuple)):
            for item in value:  # a schedule (R19): every point is a duration
                Duration.parse(item)
        return value


class IntakePolicy(_Section):
    cdaph_notification_due: str = Field("P7D", description="R2: time to bring a SPE prescription to the CDAPH's knowledge")
    cdaph_reminder_every: str = Field("P7D", description="R2: reminder to the platform staff until the CDAPH is informed")


class WaitingListPolicy(_Section):
    assignment_due: str = Field("P14D", description="R6/R7: target delay for a manager to assign a counsellor")
    assignment_reminder_every: str = Field("P14D", description="reminder to the managers while a person waits")


class AdmissionPolicy(_Section):
    shared_evaluation_due: str = Field("P1M", description="R9: time for the shared evaluation after admission")
    shared_evaluation_reminder_every: str = Field("P14D", description="R9: reminder to the counsellor")


class ConventionPolicy(_Section):
    draft_due: str = Field("P1M", description="R10: time for the counsellor to draft the convention after the shared evaluation")
    draft_reminder_every: str = Field("P14D", description="R10: reminder to the counsellor while the convention is not drafted")
    signature_link_valid_for: str = Field("P30D", description="R10: lifetime of a personal signing link sent by mail")
    signature_reminder_every: str = Field("P7D", description="R10: reminder to every party that has not signed yet")
    signature_escalation_after: str = Field(
        "P21D", description="R10: alert to the counsellor when the convention is still unsigned this long after it was sent")


class AccompanimentPolicy(_Section):
    interview_every: str = Field("P3M", description="R12: the next interview is due this long after the last one (at least one per quarter)")
    interview_lead: str = Field("P14D", description="R12: the counsellor gets a task to plan the interview this long before it is due")
    avenant_draft_due: str = Field("P14D", description="R10: time for the counsellor to draft an avenant after the change that calls for it")
    without_contact_after: str = Field("P1M", description="R13: the weekly digest lists the persons reached by no contact for this long")
    digest_weekday: int = Field(1, ge=1, le=7, description="weekly digest to each counsellor: day of the week (1 = Monday), Paris time")
    digest_hour: int = Field(7, ge=0, le=23, description="weekly digest to each counsellor: hour of the day, Paris time")


class VeillePolicy(_Section):
    max_duration: str = Field("P6M", description="R14: the longest veille one agreement may set (from the day it starts)")
    ending_lead: str = Field("P14D", description="R14: the counsellor gets a task this long before the veille ends")


class RightsPolicy(_Section):
    reminders_before_end: list[str] = Field(
        ["P6M", "P3M", "P1M"], min_length=1,
        description="R19: the counsellor gets a task to help the person renew this long before the RQTH or the "
                    "CDAPH decision ends, at each point of this schedule")
    renewal_task_due: str = Field("P1M", description="R19: time for the counsellor to help the person renew after a reminder")
    appeal_delay: str = Field("P2M", description="R19: time to appeal a refusal of renewal, from the refusal's date")


class WorkflowPolicy(_Section):
    history_event_limit: int = Field(
        2000, ge=100, description="continue-as-new once a journey's run history holds this many events"
    )


class Policy(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    intake: IntakePolicy = IntakePolicy()
    waiting_list: WaitingListPolicy = WaitingListPolicy()
    admission: AdmissionPolicy = AdmissionPolicy()
    convention: ConventionPolicy = ConventionPolicy()
    accompaniment: AccompanimentPolicy = AccompanimentPolicy()
    veille: VeillePolicy = VeillePolicy()
    rights: RightsPolicy = RightsPolicy()
    workflow: WorkflowPolicy = WorkflowPolicy()


NATIONAL_DEFAULTS = Policy()


def load_policy(path: str | Path | None) -> Policy:
    if not path:
        return NATIONAL_DEFAULTS
    with open(path, "rb") as handle:
        return Policy.model_validate(tomllib.load(handle))


def policy_as_toml(policy: Policy = NATIONAL_DEFAULTS) -> str:
    """The policy as a documented TOML file (used by the README and `eaflow policy show`)."""
    lines: list[str] = []
    for section_name, section_field in Policy.model_fields.items():
        section = getattr(policy, section_name)
        lines.append(f"[{section_name}]")
        for name, field in type(section).model_fields.items():
            value = getattr(section, name)
            rendered = json.dumps(value) if isinstance(value, (str, list)) else str(value)  # TOML strings, arrays
            lines.append(f"# {field.description}")
            lines.append(f"{name} = {rendered}")
        lines.append("")
    return "\n".join(lines)
