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
from datetime import datetime, timedelta
from typing import ClassVar, get_origin

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from eaflow.durations import Duration
from eaflow.workflows.task_kinds import RelaunchChannel


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    # Fields typed as strings (or lists of strings) that are not ISO 8601 durations: the section
    # validates them itself.
    not_durations: ClassVar[frozenset[str]] = frozenset()

    @field_validator("*", mode="before")
    @classmethod
    def _iso_durations(cls, value, info):
        field = cls.model_fields[info.field_name]
        if info.field_name in cls.not_durations:
            return value
        if field.annotation is str:
            Duration.parse(value)
        elif get_origin(field.annotation) is list and isinstance(value, (list, tuple)):
            for item in value:  # a schedule (R19): every point is a duration
                Duration.parse(item)
        return value


class IntakePolicy(_Section):
    cdaph_notification_due: str = Field("P7D", description="R2: time to bring a SPE prescription to the CDAPH's knowledge")
    cdaph_reminder_every: str = Field("P7D", description="R2: reminder to the platform staff until the CDAPH is informed")
    prescription_max_age: str = Field(
        "P2Y", description="a prescription or a CDAPH decision dated longer ago than this is refused at intake (a typing "
                           "error, or a decision to renew)")
    consent_margin: str = Field(
        "P6M", description="the person's consent may be dated at most this long before the prescription, and not after "
                           "today")


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
    max_duration: str = Field("P6M", description="R14: the longest a veille may last, from its first day, extensions included")
    ending_lead: str = Field("P14D", description="R14: the counsellor gets a task this long before the veille ends")


class RightsPolicy(_Section):
    reminders_before_end: list[str] = Field(
        ["P6M", "P3M", "P1M"], min_length=1,
        description="R19: the counsellor gets a task to help the person renew this long before the RQTH or the "
                    "CDAPH decision ends, at each point of this schedule")
    renewal_task_due: str = Field("P1M", description="R19: time for the counsellor to help the person renew after a reminder")
    appeal_delay: str = Field("P2M", description="R19: time to appeal a refusal of renewal, from the refusal's date")


# R17: "une période minimale de six mois": a floor no platform's policy may lower.
R17_SILENCE_FLOOR = Duration.parse("P6M")


def at_least(duration: Duration, floor: Duration) -> bool:
    """Whether `duration` is at least `floor` from every day of a leap cycle (calendar months differ)."""
    start = datetime(2024, 1, 1)
    return all(duration.after(day) >= floor.after(day)
               for day in (start + timedelta(days=n) for n in range(4 * 366)))


def relaunch_attempt(item: str) -> tuple[str, str]:
    """R17: one attempt of the relaunch schedule, "P7D letter": (its offset from the start, its channel)."""
    parts = item.split() if isinstance(item, str) else []
    if len(parts) != 2:
        raise ValueError(f"not an attempt: {item!r} (expected an offset and a channel, e.g. \"P7D letter\")")
    offset, channel = parts
    Duration.parse(offset)
    if channel not in RelaunchChannel.__members__:
        raise ValueError(f"unknown channel {channel!r} in {item!r} (R17: {', '.join(RelaunchChannel.__members__)})")
    return offset, channel


class RelaunchPolicy(_Section):
    not_durations: ClassVar[frozenset[str]] = frozenset({"attempts"})

    not_reached_after: str = Field(
        "P1M", description="R17: a relaunch sequence starts when the person has not been reached for this long although "
                           "at least one attempt since the last contact that reached them did not")
    attempts: list[str] = Field(
        ["P0D phone", "P7D letter", "P14D mail", "P1M phone", "P2M third_party", "P3M home_visit", "P4M letter",
         "P5M phone"], min_length=1,
        description="R17: the attempts of a relaunch sequence, each an offset from its start and a channel among "
                    "phone, letter, mail, third_party (trusted third party), home_visit; the counsellor gets a task "
                    "for each")
    silence_minimum: str = Field(
        "P6M", description="R17: the silence examination (analyse_silence) comes only after this long without any "
                           "link; never less than six months")
    minimum_channels: int = Field(
        3, ge=1, le=len(RelaunchChannel),
        description="R17: and only once each of the five channels (phone, letter, mail, third_party, home_visit) "
                    "was tried or recorded as impossible, with why; this count of distinct channels only still "
                    "applies to journeys whose run began before that rule, until their next run")

    @field_validator("attempts")
    @classmethod
    def _schedule(cls, value: list[str]) -> list[str]:
        start = datetime(2024, 1, 31)
        offsets = [Duration.parse(relaunch_attempt(item)[0]).after(start) for item in value]
        if offsets != sorted(offsets):
            raise ValueError("the attempts must be listed in the order of their offsets")
        return value

    @field_validator("silence_minimum")
    @classmethod
    def _six_months_at_least(cls, value: str) -> str:
        if not at_least(Duration.parse(value), R17_SILENCE_FLOOR):
            raise ValueError(f"R17: the silence before an exit may not be shorter than six months (got {value})")
        return value

    @model_validator(mode="after")
    def _enough_channels(self):
        channels = {relaunch_attempt(item)[1] for item in self.attempts}
        if len(channels) < self.minimum_channels:
            raise ValueError(f"the attempts use {len(channels)} distinct channel(s), fewer than minimum_channels "
                             f"({self.minimum_channels}): the silence examination could never come")
        return self


# eaflow/accounts.py ROLES (a test checks they agree): the policy module is imported by the workflows,
# which must not import the store.
ACCOUNT_ROLES = ("counsellor", "manager", "admin", "prescriber")


class AccountsPolicy(_Section):
    not_durations: ClassVar[frozenset[str]] = frozenset({"second_factor_roles"})

    session_idle_timeout: str = Field("PT30M", description="a web session ends after this long without a request")
    session_lifetime: str = Field("PT12H", description="and in any case this long after sign-in")
    api_token_idle_timeout: str = Field(
        "PT1H", description="an API token (POST /api/v1/auth/token) stops working after this long without a request…")
    api_token_lifetime: str = Field("PT12H", description="…and in any case this long after it was issued")
    sign_in_max_failures: int = Field(
        5, ge=1, description="sign-in is refused (429) after this many failures for one account or one address…")
    sign_in_failure_window: str = Field("PT15M", description="…within this long (API and pages alike)")
    password_link_validity: str = Field(
        "PT48H", description="a link to set one's password (mailed to a new user, or on an administrator's reset) "
                             "works once, within this long")
    second_factor_roles: list[str] = Field(
        [], description="the roles (among counsellor, manager, admin, prescriber) whose accounts must sign in with a "
                        "second factor (TOTP, RFC 6238): enrolled at their next sign-in, before any other page; "
                        "anyone else may enrol on their own")

    @field_validator("second_factor_roles", mode="before")
    @classmethod
    def _known_roles(cls, value):
        unknown = [role for role in value or () if role not in ACCOUNT_ROLES]
        if unknown:
            raise ValueError(f"unknown role(s) {', '.join(map(repr, unknown))} (roles: {', '.join(ACCOUNT_ROLES)})")
        return value


class LimitsPolicy(_Section):
    public_link_max_per_address: int = Field(
        30, ge=1, description="the public link pages (signature, password) answer 429 to an address after this many "
                              "requests…")
    public_link_address_window: str = Field("PT10M", description="…within this long, valid links or not")
    public_link_max_per_link: int = Field(
        20, ge=1, description="and to one link, from any address, after this many requests…")
    public_link_link_window: str = Field("PT10M", description="…within this long")


class PersonalDataPolicy(_Section):
    retention_after_exit: str = Field(
        "P2Y", description="R22: a closed file's personal data (identity, contact details, notes, documents, scans) is "
                           "kept this long after the exit or the transfer, then anonymised; what the indicators count "
                           "is kept without naming anyone")


class ReportsPolicy(_Section):
    snapshot_delay_days: int = Field(
        5, ge=0, le=27, description="R20: the quarterly report is computed, archived and mailed to the managers this many "
                                    "days after the quarter's end (at 6 h, Paris time), once late records are in")


class WorkflowPolicy(_Section):
    history_event_limit: int = Field(
        2000, ge=100, description="continue-as-new once a journey's run history holds this many events"
    )
    run_at_most: str = Field(
        "P1Y", description="and at least this often during the accompaniment, so that a quiet journey takes up the "
                           "policy and the code in force")


class Policy(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    intake: IntakePolicy = IntakePolicy()
    waiting_list: WaitingListPolicy = WaitingListPolicy()
    admission: AdmissionPolicy = AdmissionPolicy()
    convention: ConventionPolicy = ConventionPolicy()
    accompaniment: AccompanimentPolicy = AccompanimentPolicy()
    veille: VeillePolicy = VeillePolicy()
    rights: RightsPolicy = RightsPolicy()
    relaunch: RelaunchPolicy = RelaunchPolicy()
    accounts: AccountsPolicy = AccountsPolicy()
    limits: LimitsPolicy = LimitsPolicy()
    personal_data: PersonalDataPolicy = PersonalDataPolicy()
    reports: ReportsPolicy = ReportsPolicy()
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
