"""Plain pydantic models that cross the workflow boundary (inputs, states, messages).

No sqlmodel here (the workflow sandbox re-imports this module), and no names or contact details:
identity stays in the database; workflows carry only the facts the rules need.
"""
from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from eaflow.policy import Policy


class Channel(StrEnum):
    cdaph = "cdaph"
    france_travail = "france_travail"
    cap_emploi = "cap_emploi"
    mission_locale = "mission_locale"

    @property
    def is_spe(self) -> bool:
        return self is not Channel.cdaph


class Situation(StrEnum):
    seeking = "seeking"
    employed = "employed"
    about_to_be_hired = "about_to_be_hired"
    leaving_esat = "leaving_esat"


class ConsentBy(StrEnum):
    person = "person"
    legal_representative = "legal_representative"


class JourneyState(StrEnum):
    prescribed = "prescribed"
    eligibility = "eligibility"
    consent = "consent"
    cdaph_notified = "cdaph_notified"
    waiting_list = "waiting_list"
    admitted = "admitted"
    convention = "convention"
    accompaniment = "accompaniment"
    veille = "veille"
    relaunch = "relaunch"
    exit_proposed = "exit_proposed"
    exited = "exited"
    transferred = "transferred"
    refused = "refused"


class Rights(BaseModel):
    model_config = ConfigDict(extra="forbid", title="Droits de la personne")
    rqth_until: date | None = Field(None, title="Fin de la RQTH",
                                    description="Dernier jour de validité de la RQTH ; à laisser vide si elle est "
                                                "sans limitation de durée ou si la personne n'en a pas (R1)")
    rqth_permanent: bool = Field(False, title="RQTH sans limitation de durée",
                                 description="Oui si la RQTH est attribuée à titre définitif (R1)")
    boe_category: str | None = Field(
        None, title="Catégorie de bénéficiaire de l'obligation d'emploi (BOE)",
        description="À défaut de RQTH en cours de validité : l'alinéa de l'article L. 5212-13 du code du travail "
                    "qui ouvre le statut, du 1° au 4° ou du 9° au 11° (par exemple « 2° »). Le 5° n'ouvre pas "
                    "droit à l'emploi accompagné (R1)")


class Consent(BaseModel):
    model_config = ConfigDict(extra="forbid", title="Consentement")
    given_on: date = Field(title="Date du consentement",
                           description="Jour où la personne, ou son représentant légal, a donné son consentement (R3)")
    by: ConsentBy = Field(
        title="Consentement donné par",
        description="Si c'est le représentant légal, il doit être indiqué avec la personne (R3)",
        json_schema_extra={"oneOf": [{"const": "person", "title": "La personne elle-même"},
                                     {"const": "legal_representative", "title": "Son représentant légal"}]})


class IntakeFacts(BaseModel):
    """What the entry rules (R1–R5) look at, and nothing that identifies the person."""

    birth_date: date
    channel: Channel
    urgent: bool = False
    prescribed_on: date
    situation: Situation
    rights: Rights
    subsidiarity_reason: str | None = None
    other_support: str | None = None
    other_support_justification: str | None = None
    consent: Consent | None = None
    has_legal_representative: bool = False
    has_employer: bool = False


class Refusal(BaseModel):
    rule: str
    detail: str


class TaskView(BaseModel):
    """A human task as the journey knows it (the inbox projection holds the rest)."""

    id: str
    kind: str
    step: str = ""  # the procedure step that opened it: one task per step
    status: str = "open"  # open | completing | done | cancelled
    assignee_id: str | None = None
    candidate_role: str | None = None
    outcome_hash: str | None = None
    outcome: dict[str, Any] | None = None
    result: dict[str, Any] | None = None
    created_at: datetime | None = None
    next_reminder_at: datetime | None = None
    reminders_sent: int = 0


class AvenantRequest(BaseModel):
    """The argument of the `request_avenant` update: a change the convention must follow (R10).

    The API sends it with the update id `avenant:<kind>:<reference>`, so that a repeated request for
    the same change is one avenant.
    """

    kind: str  # employer | legal_representative | veille
    reference: str  # what caused it, e.g. the id of the employment episode that starts
    requested_by: str
    summary: str = ""  # what changes, in French, for the counsellor's draft (no health data)


class PartyRef(BaseModel):
    """A party of a convention version, as the journey knows it: an id and a role, never a name."""

    id: str
    role: str  # platform | person | legal_representative | employer
    signs_by: str = "link"  # link (personal link by mail) | task (a manager's task, for the platform)


class ConventionState(BaseModel):
    """Where the convention individuelle stands (R10); documents and names live in the database."""

    status: str = "none"  # none | drafting | signing | signed
    convention_id: str | None = None
    version: int = 0  # the version being drafted or signed (1, 2, …)
    version_id: str | None = None
    content_hash: str | None = None
    parties: list[PartyRef] = []
    signed: list[str] = []  # ids of the parties that signed the current version
    refusal: dict[str, Any] | None = None  # {party_id, role, signature_id}
    sent_at: datetime | None = None
    next_reminder_at: datetime | None = None
    reminders_sent: int = 0
    escalated: bool = False
    links_sent: bool = False
    signed_on: date | None = None
    changes: int = 0  # bumped by every signature or refusal: what the signing loop waits on
    in_force: int = 0  # the number of the signed version in force (0 before the first signature)
    avenant: AvenantRequest | None = None  # the avenant being drafted or signed, if any
    pending_avenants: list[AvenantRequest] = []  # requested, waiting for the one in progress
    avenant_keys: list[str] = []  # kind:reference of every avenant requested (a repeat is one avenant)


class RhythmState(BaseModel):
    """R12: when the next interview is due, and what has been done about that deadline."""

    started_on: date | None = None  # the accompaniment's first day (the convention signed)
    last_interview_on: date | None = None
    due: date | None = None  # the next interview is due on or before this day
    moves: int = 0  # how many times the deadline moved (keys its projection)
    planned_for: date | None = None  # the deadline for which the counsellor got a plan_interview task
    alerted_for: date | None = None  # the deadline for which the manager was alerted
    stopped_on: date | None = None  # the clock is stopped (veille) since this day
    remaining_days: int | None = None  # days left to the deadline when the clock stopped
    nudges: int = 0  # bumped when contacts change: what the rhythm loop waits on


class VeilleState(BaseModel):
    """R14: the veille in progress, if any (its agreements and avenants live in the database)."""

    since: date | None = None
    until: date | None = None  # the agreed end: the accompaniment resumes on that day
    agreements: int = 0  # every agreement so far (the first, then each extension)
    ending_task_for: date | None = None  # the end for which the counsellor got a veille_ending task
    changes: int = 0  # bumped by every start, extension and end: what the veille loop waits on


class RightTrack(BaseModel):
    """R19: one right the accompaniment rests on (the RQTH, the CDAPH decision), and its renewal."""

    status: str = "none"  # none | in_force | permanent | renewal_filed | refused | appeal_filed | lapsed | final_refusal
    until: date | None = None  # the last day of the right in force
    permanent: bool = False
    reminded: list[date] = []  # points of the reminder schedule already handled for `until`
    filed_on: date | None = None  # the renewal request, filed
    refused_on: date | None = None
    appeal_due: date | None = None  # the last day to appeal the refusal
    appeal_filed_on: date | None = None
    ended: bool = False  # the end of `until` was reached (and traced)
    exit_proposed: bool = False


class RightsExitProposal(BaseModel):
    """R15: the accompaniment lost its legal basis; the exit procedure (R18) takes it from here."""

    reason: str = "non_renewal"
    right: str  # rqth | cdaph_decision
    why: str  # no_renewal (the end reached with no request) | final_refusal
    on: date


class RightsState(BaseModel):
    """R19: the rights' end dates, their reminders, renewals and appeals (rights.py)."""

    started: bool = False  # the tracking began (and was traced)
    tracks: dict[str, RightTrack] = {}
    steps: int = 0  # traced steps so far (keys their records)
    event_keys: list[str] = []  # the recent events applied: a repeat after continue-as-new is one event
    nudges: int = 0  # bumped by every event: what the rights loop waits on
    exit_proposal: RightsExitProposal | None = None


class RightsEvent(BaseModel):
    """The argument of the `rights_event` update (R19): a renewal filed, a decision, an appeal.

    The API sends it with the update id `key`, derived from the request body: the same body twice
    is one event.
    """

    key: str
    right: str = "rqth"  # rqth | cdaph_decision
    event: str  # renewal_filed | granted | refused | appeal_filed | appeal_decided
    on: date | None = None  # the day it was filed, refused or decided
    until: date | None = None  # granted (or an appeal granted): the new last day of the right
    permanent: bool = False  # granted (or an appeal granted) with no end
    decision: str | None = None  # appeal_decided: granted | refused
    actor_id: str


class Handover(BaseModel):
    """R15: a move to a département whose platform is not on this installation: the file goes to that
    platform's address, with the person's consent, and the journey ends once it is acknowledged."""

    department: str
    email: str


class ExitState(BaseModel):
    """R15, R18: the exit procedure in progress, if any, and how the journey ended."""

    procedure_id: str | None = None  # the open procedure (one at a time)
    reason: str | None = None
    return_to: JourneyState | None = None  # where a rejected proposal sends the journey back
    transfer_to: str | None = None  # the receiving platform of a proposed move (R15: a transfer)
    handover_to: Handover | None = None  # the platform elsewhere a proposed move hands the file to (R15)
    handover_sent: bool = False  # the file left; the journey waits for its acknowledgement
    proposals: int = 0
    rights_proposal_on: date | None = None  # the non-renewal proposal of R19 already taken up
    closed_reason: str | None = None
    closed_on: date | None = None
    transferred_to: str | None = None  # the journey that goes on at the receiving platform


class RelaunchState(BaseModel):
    """R17: what the contacts say about the link, and the relaunch sequence in progress, if any."""

    began: bool = False  # the contacts were read once (the loop began)
    read_at: datetime | None = None  # when the contacts were last read
    last_link_on: date | None = None  # the last contact that reached the person
    unreached: int = 0  # attempts recorded as not reaching the person since that link
    channels: list[str] = []  # R17 channels of those attempts (since the last examination, if later)
    impossible: dict[str, str] = {}  # R17 channels recorded as impossible in this sequence, and why
    sequences: int = 0  # relaunch sequences started so far (keys their steps)
    started_at: datetime | None = None  # the sequence in progress began then
    link_at_start: date | None = None  # the last link known when it began: a later one stops it
    schedule: list[str] = []  # its attempts ("P7D letter"), frozen when it began
    opened: int = 0  # attempts of that schedule handled so far (opened, or skipped when overtaken)
    analyses: int = 0  # silence examinations opened so far (keys their steps)
    analysis_step: str | None = None  # the analyse_silence task waiting, if any
    analysed_on: date | None = None  # the last examination concluded (the next one waits the silence again)
    ended_on: date | None = None  # the last sequence ended (its silence counts from then)
    resumed_on: date | None = None  # the accompaniment resumed after a veille (no silence counts during one)
    seen_state: str | None = None  # the journey's state when the loop last looked (to see a veille end)
    nudges: int = 0  # bumped when the contacts may have changed: what the relaunch loop waits on


class JourneySnapshot(BaseModel):
    """The compact state carried across continue-as-new."""

    state: JourneyState = JourneyState.prescribed
    transitions: int = 0  # bumped by every change of state: loops that depend on the state wait on it
    refusal: list[Refusal] = []
    counsellor_id: str | None = None
    admitted_at: datetime | None = None
    tasks: dict[str, TaskView] = {}
    task_seq: int = 0
    evaluation_done: bool = False
    cdaph_informed: bool = False
    entry_notified: bool = False
    counsellor_changes: int = 0
    continued_runs: int = 0
    convention: ConventionState = ConventionState()
    rhythm: RhythmState = RhythmState()
    veille: VeilleState = VeilleState()
    exit: ExitState = ExitState()
    rights: RightsState = RightsState()
    relaunch: RelaunchState = RelaunchState()


class JourneyInput(BaseModel):
    journey_id: str
    platform_id: str
    facts: IntakeFacts
    policy: Policy = Policy()
    snapshot: JourneySnapshot | None = None


class TaskCompletion(BaseModel):
    """The argument of the `complete_task` update (its update id derives from task id + outcome)."""

    task_id: str
    outcome: dict[str, Any]
    outcome_hash: str
    actor_id: str
    facts: dict[str, Any] = {}


class ExitProposal(BaseModel):
    """The argument of the `propose_exit` update, and what the procedures that end in an exit
    proposal (R17 disengagement, R19 non-renewal) hand to the exit procedure (R15, R18)."""

    reason: str  # person_request | move | reorientation | death | disengagement | non_renewal
    proposed_by: str | None = None  # a user, or None when the journey itself proposes it
    details: dict[str, Any] = {}  # what the reason requires (R15, R18): see rules.r15_r18_exit_refusal
    analysis: str = ""  # the circumstantial analysis (R18)
    consultation: str = ""  # how the person (or representative) was consulted, when already done (R18)
    transfer_to_platform_id: str | None = None  # a move to a département with a platform here
    handover_to: Handover | None = None  # a move to a département whose platform is elsewhere


class ExitDecision(BaseModel):
    """Open or close an exit procedure in the database (activities/exits.py)."""

    journey_id: str
    procedure_id: str
    status: str  # open | approved | rejected
    reason: str
    actor_id: str | None = None
    decision_reason: str | None = None
    detail: dict[str, Any] = {}
    at: datetime


class TransferRequest(BaseModel):
    """Copy a journey to the receiving platform's (R15: a move to a département with a platform)."""

    journey_id: str
    new_journey_id: str
    to_platform_id: str
    at: datetime


class VeilleRequest(BaseModel):
    """The argument of the `start_veille` update (R14): the first agreement, or an extension."""

    requested_by: str  # person | counsellor_proposal
    agreement_on: date | None = None
    agreement_how: str | None = None
    until: date | None = None
    reactivation_conditions: str = ""
    actor_id: str


class Reactivation(BaseModel):
    """The argument of the `reactivate` update: the accompaniment resumes now."""

    actor_id: str
    reason: str = ""


class IntakeAnswer(BaseModel):
    state: JourneyState
    refusal: list[Refusal] = []


class CounsellorChange(BaseModel):
    counsellor_id: str
    reason: str
    actor_id: str
    caseload: int
    fte: float


# ---- activity contracts (the workflow calls activities by name with these arguments) ----


class StepRecord(BaseModel):
    """A traced step: the journey projection's new fields and one audit event (idempotent by key)."""

    journey_id: str
    step_key: str
    action: str
    state: str | None = None
    fields: dict[str, Any] = {}
    actor_kind: str = "system"  # user | timer | system | link
    actor_id: str | None = None
    detail: dict[str, Any] = {}
    at: datetime


class TaskSpec(BaseModel):
    id: str
    journey_id: str
    platform_id: str
    kind: str
    title: str
    assignee_id: str | None = None
    candidate_role: str | None = None
    created_at: datetime
    due_at: datetime | None = None
    sort_key: str | None = None
    context: dict[str, Any] = {}


class TaskClosure(BaseModel):
    task_id: str
    journey_id: str
    status: str  # done | cancelled
    outcome: dict[str, Any] | None = None
    outcome_hash: str | None = None
    completed_by: str | None = None
    completed_at: datetime


class Notification(BaseModel):
    """A mail to send: recipients are roles resolved from the database (no address in workflows)."""

    key: str
    kind: str
    journey_id: str
    recipients: list[str]  # person | prescriber | platform | employer | counsellor | user:<id> | party:<id>
    params: dict[str, Any] = {}
    attachments: list[str] = []  # documents resolved from the database, e.g. "convention:<version id>"


class AssignmentRequest(BaseModel):
    journey_id: str
    counsellor_id: str
    actor_id: str
    step_key: str
    reason: str
    at: datetime


class EvaluationRecord(BaseModel):
    journey_id: str
    outcome: dict[str, Any]
    recorded_by: str


class SignatureIn(BaseModel):
    """The argument of the `record_signature` update: a party's answer through its personal link.

    The API has consumed the link and written the evidence (name, time, IP, user agent) as a pending
    signature row; the journey checks it is for the current version and a party that has not
    answered, then accepts it.
    """

    signature_id: str
    convention_id: str
    version: int
    party_id: str
    decision: str  # signed | refused


class ConventionDraft(BaseModel):
    journey_id: str
    platform_id: str
    number: int
    outcome: dict[str, Any]
    avenant: AvenantRequest | None = None  # an avenant to the version in force, not a (re-)draft
    drafted_by: str | None = None
    task_id: str
    at: datetime


class ConventionVersionRef(BaseModel):
    convention_id: str
    version_id: str
    number: int
    content_hash: str
    parties: list[PartyRef]


class SigningLinkRequest(BaseModel):
    """Mail one party its personal signing link (a new single-use token, keyed by `key`)."""

    key: str
    kind: str  # convention_to_sign | convention_sign_reminder
    journey_id: str
    version_id: str
    party_id: str
    issued_at: datetime
    expires_at: datetime
    reminder_number: int = 0


class SignatureAcceptance(BaseModel):
    journey_id: str
    signature_id: str
    at: datetime


class PlatformSignature(BaseModel):
    journey_id: str
    signature_id: str
    version_id: str
    party_id: str
    decision: str  # signed | refused
    reason: str | None = None
    user_id: str
    task_id: str
    at: datetime


class ContactFromTask(BaseModel):
    """A contact recorded as a task's outcome (R13): written once per task."""

    journey_id: str
    task_id: str
    fields: dict[str, Any]
    recorded_by: str


class ContactAttempt(BaseModel):
    """R17: a contact that did not reach the person (a solicitation): when, and by which means."""

    on: date
    channel: str  # the contact's channel (in_person | phone | video | mail | letter | sms | third_party)
    place: str  # service | workplace | home | other
    participants: str  # who was reached instead, if anyone (partner: a trusted third party)


class ContactFacts(BaseModel):
    """What the journey's deadlines need from its contacts (read from the database)."""

    last_interview_on: date | None = None
    last_reached_on: date | None = None
    last_contact_on: date | None = None
    # R17: the attempts recorded as not reaching the person since `last_reached_on` (all of them when
    # it is None), oldest first, at most the last 100 (no note: big data stays in the database).
    attempts: list[ContactAttempt] = []


class ConventionFinal(BaseModel):
    journey_id: str
    version_id: str
    at: datetime
