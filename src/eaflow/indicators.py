"""R20: the quarterly steering indicators of one platform (§V.A.6 of the cahier des charges), computed
from the database: the projections the journeys write, their audit trail, the accompaniment's records.

`load` reads what one platform's report needs in a few small queries; each indicator is then a named
function of those facts (no database, no clock), grouped as in §V.A.6: `activity_indicators`,
`resource_indicators`, `distance_indicators`, `employment_indicators`; `report` puts them together and
`rows` flattens a report into one labelled row per indicator (the CSV). The output holds aggregates
only: no name, no id of a person (R22); reading it is not a read of anyone's file.

What counts, decided here once:

- **Period.** Two dates, both included (default: the last complete calendar quarter, `last_complete_quarter`),
  at most 366 days. Instants are compared in UTC days, as the journeys write their dates
  (`admitted_on`, `exited_on` are the UTC date of the step). "At the end of the period" means at the end
  of its last day.
- **A person** is a journey of the platform. A person who moved here from another platform is a new
  journey here (`transferred_from`); the platform left counts a transfer out.
- **Who was in which state when** comes from the audit trail: every step of a journey records its
  state (`detail.state`); a journey received by transfer starts on the waiting list
  (`journey_transferred_in`). A journey without any recorded state in its whole history (rows written
  by hand, an import) falls back on its projection's dates: on the waiting list from its prescription,
  admitted on `admitted_on` and in its present state from then on, exited or transferred on
  `exited_on` (each at noon UTC). "Accompanied" is any of admitted, convention, accompaniment, veille, relaunch,
  exit_proposed (`ACCOMPANIED`, the states where R16 records employment too).

1. Activity (§V.A.6 1°; R2, R6, R7, R14, R15):
   `persons_accompanied` (at some point of the period) and `persons_accompanied_at_end` (the file
   active "à date", veille included); `new_entries` (admitted in the period) by channel (CDAPH or SPE, R2),
   by SPE prescriber and by situation at entry (R6's groups), with the transfers in among them;
   `prescriptions` received in the period (dated by `prescribed_on`; a transfer in is not a prescription)
   and those of them refused, by rule (R1, R3, R5; a prescription refused under two rules counts once in
   the total, once under each rule); `waiting_list_at_end`; `admission_delay`: the mean delay
   prescription → entry of those admitted in the period (R7), transfers in left out since their
   prescription was the other platform's; `veille`: at the end, and at some point of the period (R14);
   `exits` in the period by reason (R15, every reason listed, 0 included); `transfers` out (a move to a
   département with a platform, R15) and in.
2. Resources (§V.A.6 2°; R7): the platform's active counsellors and their FTE as they stood at the end
   of the period (`counsellors_at`, from the accounts' staffing periods); `caseload`: the persons with
   a counsellor at the end of the period whose state counts under R7 (`rules.r7_counts_in_caseload`: veille excluded), per counsellor,
   per FTE, against the capacity (`rules.r7_capacity`, 20 per FTE), and counsellor by counsellor (staff
   are named; persons never). The counsellor of a journey at a date comes from its assignments (R8).
   The rest of 2° is declared by the managers (store/resources.py, services/resources.py): `total_fte`,
   `accompaniment_fte`, `time_split` and `title_holders` of the quarter holding the period's last day,
   `funding` and `trainings` of its year; a declaration missing is None ("non déclaré"), never 0.
3. Distance from employment (§V.A.6 3°; R6, R11, R13): `situation_at_entry` of the persons accompanied
   during the period (the "statut à l'entrée" the prescription states); `intensity`: for each person and
   each calendar month of the period in which they were accompanied outside veille at some point, the
   R11 level of that month's hours (`rules.r11_intensity_level`; a month without an `intensity_month`
   row is 0 h, allégé), as a distribution of person-months, the persons by the level of their mean
   monthly hours, and the mean hours a month; `workplace_time`: the hours spent at the workplace (R13)
   on every journey of the platform in the months of the period. The cahier lists workplace time under
   activity and employment too: it is given once, here, beside the hours it is part of. Monthly figures
   take whole calendar months: a month counts when it overlaps the period (a quarter is whole months).
   The profile at entry recorded at the shared evaluation (R9, eaflow.profile), of the persons
   accompanied during the period, each breakdown with its "non renseigné" line (not evaluated yet, or
   evaluated before the profile existed): `disability_nature`, `time_without_employment` (bands and
   mean), `lifetime_employment` (bands and mean), `education_level`, `status_at_entry` and, from §VI.A,
   `medico_social_support`. Their small numbers are masked by eaflow.small_numbers, in the service every
   output goes through, not here.
4. Employment (§V.A.6 4°; R16, eaflow.employment): employment is a work contract or an independent
   activity (a PMSMP or a stage is an unpaid placement, counted apart). `persons_in_employment` at the
   end of the period (among the persons accompanied then, veille included) by contract and employer
   type (the job that started last when they hold two), and at some point of the period; `employers`:
   those same jobs by the employer's NAF section and size band; `contracts`
   ongoing or started in the period, and the unpaid placements; `entries_into_employment`: persons
   whose first job since admission started in the period; `time_in_same_firm`: the mean length of the
   current stay with one employer of those in employment at the end (`employment.time_in_firm`);
   `retention` at 6/12/24 months (`employment.retention`, counted from the admission for a person
   already in a job then, the "maintien" case, else from the first job after it) of those whose date
   falls in the period: a
   person whose journey ended before that date is "unknown" (the platform no longer follows their
   employment) and left out of the rate; `ruptures` in the period by reason (`employment.is_rupture`).
   Episodes are read as they stood at the end of the period: one that ended later is still running.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta, timezone
from typing import Any, Iterable, Optional

from sqlalchemy import or_
from sqlmodel import Session, select

from eaflow import employment as jobs
from eaflow import profile
from eaflow.activities.notify import CHANNEL_LABELS, SITUATION_LABELS
from eaflow.store.accompaniment import CONTRACT_TYPES, EMPLOYER_TYPES, EmploymentEpisode, IntensityMonth
from eaflow.store.accounts import StaffingPeriod
from eaflow.store import resources as declared_resources
from eaflow.store.models import AuditEvent, CounsellorAssignment, Journey, Platform, SharedEvaluation, User
from eaflow.workflows import rules
from eaflow.workflows.types import Channel, JourneyState as S, Situation

MAX_PERIOD_DAYS = 366
ACCOMPANIED = frozenset({S.admitted, S.convention, S.accompaniment, S.veille, S.relaunch, S.exit_proposed})
ACCOMPANIED_OUTSIDE_VEILLE = ACCOMPANIED - {S.veille}
ENDED = frozenset({S.exited, S.transferred})
# An action that starts a journey in a state without writing `detail.state`.
STATE_OF_ACTION = {"journey_transferred_in": S.waiting_list.value}
REFUSAL_RULES = ("R1", "R3", "R5")
INTENSITY_LEVELS = tuple(rules.INTENSITY_LABELS)  # intensif, regulier, suivi, allege
RETENTION_KEYS = {months: f"{months}_months" for months in jobs.RETENTION_MONTHS}
RUPTURE_REASONS = tuple(reason for reason, end in jobs.END_REASONS.items() if end.rupture)
PAID_CONTRACTS = tuple(c for c in CONTRACT_TYPES if c not in jobs.UNPAID_CONTRACTS)
SPE_CHANNELS = tuple(c.value for c in Channel if c.is_spe)
SITUATIONS = tuple(s.value for s in Situation)


# ---------------------------------------------------------------------------------------- the period

@dataclass(frozen=True)
class Period:
    """From `start` to `end`, both included."""

    start: date
    end: date

    @property
    def opens(self) -> datetime:
        return datetime.combine(self.start, time.min, tzinfo=timezone.utc)

    @property
    def closes(self) -> datetime:
        """The first instant after the period."""
        return datetime.combine(self.end + timedelta(days=1), time.min, tzinfo=timezone.utc)

    def holds(self, day: Optional[date]) -> bool:
        return day is not None and self.start <= day <= self.end

    def overlaps(self, start: date, end: Optional[date]) -> bool:
        return start <= self.end and (end is None or end >= self.start)

    @property
    def months(self) -> list[date]:
        return rules.months_from(self.start, self.end)


def last_complete_quarter(today: date) -> Period:
    """The default period: the last calendar quarter that ended before `today`."""
    this_quarter = date(today.year, 3 * ((today.month - 1) // 3) + 1, 1)
    end = this_quarter - timedelta(days=1)
    return Period(date(end.year, 3 * ((end.month - 1) // 3) + 1, 1), end)


PERIOD_YEARS = (1900, 2200)


def period_errors(start: Optional[date], end: Optional[date]) -> list[dict[str, str]]:
    """Field errors of a requested period (empty when it is valid; both absent means the default)."""
    if start is None and end is None:
        return []
    if start is None:
        return [{"field": "from", "message": "indiquez aussi le début de la période (from), ou ni l'un ni l'autre "
                                             "pour le dernier trimestre civil achevé"}]
    if end is None:
        return [{"field": "to", "message": "indiquez aussi la fin de la période (to), ou ni l'un ni l'autre "
                                           "pour le dernier trimestre civil achevé"}]
    for field, day in (("from", start), ("to", end)):  # the arithmetic of a period (24 months on) stays in the calendar
        if not PERIOD_YEARS[0] <= day.year <= PERIOD_YEARS[1]:
            return [{"field": field, "message": f"indiquez une date entre {PERIOD_YEARS[0]} et {PERIOD_YEARS[1]}"}]
    if end < start:
        return [{"field": "to", "message": "la fin de la période ne peut pas précéder son début"}]
    if (end - start).days + 1 > MAX_PERIOD_DAYS:
        return [{"field": "to", "message": f"la période ne peut pas dépasser {MAX_PERIOD_DAYS} jours"}]
    return []


def resolve_period(start: Optional[date], end: Optional[date], today: date) -> Period:
    """The period asked for (checked by `period_errors` first), or the last complete quarter."""
    if start is None and end is None:
        return last_complete_quarter(today)
    if period_errors(start, end):
        raise ValueError(period_errors(start, end)[0]["message"])
    return Period(start, end)


# ---------------------------------------------------------------------------------------- the facts

def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=timezone.utc) if moment.tzinfo is None else moment.astimezone(timezone.utc)


def _noon(day: date) -> datetime:
    return datetime.combine(day, time(12), tzinfo=timezone.utc)


@dataclass(frozen=True)
class EpisodeAsOf:
    """An employment episode as it stood on a day: one that ended that day or later is still running."""

    employer_name: str
    employer_type: str
    contract_type: str
    started_on: date
    ended_on: Optional[date]
    end_reason: Optional[str]
    employer_naf_section: Optional[str] = None
    employer_size_band: Optional[str] = None

    @classmethod
    def of(cls, episode: EmploymentEpisode, day: date) -> Optional["EpisodeAsOf"]:
        if episode.started_on > day:
            return None
        running = episode.ended_on is None or episode.ended_on >= day
        return cls(episode.employer_name, episode.employer_type, episode.contract_type, episode.started_on,
                   None if running else episode.ended_on, None if running else episode.end_reason,
                   episode.employer_naf_section, episode.employer_size_band)


@dataclass
class JourneyFacts:
    """One journey (one person) as the indicators read it. Never leaves this module."""

    journey: Journey
    timeline: list[tuple[datetime, str]]  # (since when, state), in order
    transferred_in_at: Optional[datetime] = None
    counsellor_at_end: Optional[str] = None
    minutes: dict[date, tuple[int, int]] = field(default_factory=dict)  # month → (minutes, workplace minutes)
    episodes: list[EmploymentEpisode] = field(default_factory=list)
    evaluation: Optional[SharedEvaluation] = None  # R9, with the profile at entry (eaflow.profile)

    def state_at(self, moment: datetime) -> Optional[str]:
        """The state the journey was in at `moment` (None before it had one)."""
        state = None
        for at, entered in self.timeline:
            if at > moment:
                break
            state = entered
        return state

    def state_before(self, moment: datetime) -> Optional[str]:
        """The state just before `moment`: at the end of a period, `moment` being the instant after it."""
        state = None
        for at, entered in self.timeline:
            if at >= moment:
                break
            state = entered
        return state

    def states_during(self, opens: datetime, closes: datetime) -> set[str]:
        """Every state the journey was in at some instant of [opens, closes)."""
        states = {entered for at, entered in self.timeline if opens < at < closes}
        states.add(self.state_at(opens))
        states.discard(None)
        return states


def projected_timeline(journey: Journey) -> list[tuple[datetime, str]]:
    """The fallback timeline of a journey with no recorded state (see the module's docstring)."""
    if journey.admitted_on is None:
        return [(_noon(journey.prescribed_on), journey.state)]
    after_admission = journey.state if journey.state in ACCOMPANIED else S.accompaniment.value
    timeline = [(_noon(journey.prescribed_on), S.waiting_list.value), (_noon(journey.admitted_on), after_admission)]
    if journey.state in ENDED:
        timeline.append((_noon(journey.exited_on or journey.admitted_on), journey.state))
    return timeline


@dataclass(frozen=True)
class CounsellorAsOf:
    """A counsellor as the platform's staff stood at the end of the period (R7, R20)."""

    id: str
    display_name: str
    email: str
    fte: float
    operator_id: Optional[str] = None


@dataclass(frozen=True)
class StaffAsOf:
    """One account's role, FTE, operator and activity at a moment (its staffing period then)."""

    role: str
    fte: float
    active: bool
    operator_id: Optional[str]


_NO_STAFF = StaffAsOf("", 0.0, False, None)


@dataclass
class Facts:
    platform: Platform
    period: Period
    journeys: list[JourneyFacts]
    counsellors: list[CounsellorAsOf]  # the platform's active counsellors at the end of the period
    # R20 2°: what the managers declared for the period's last quarter and year (store/resources.py)
    declared: Optional[declared_resources.DeclaredResources] = None


def counsellors_at(session: Session, platform_id: str, moment: datetime) -> list[CounsellorAsOf]:
    """The platform's active counsellors and their FTE at `moment`, from each account's staffing periods
    (`StaffingPeriod`, issue 14 item 4): a change of FTE, of role or a disabling applies from its day on,
    never to the quarters before it. Before an account's first period, that first one holds (what it was
    when it was created, or when the history began); an account without any period stands as it is."""
    users = session.exec(select(User).where(User.platform_id == platform_id)).all()
    staff = staff_at(session, platform_id, moment, users)
    found = [CounsellorAsOf(user.id, user.display_name, user.email, staff[user.id].fte, staff[user.id].operator_id)
             for user in users if staff[user.id].role == "counsellor" and staff[user.id].active]
    return sorted(found, key=lambda c: (c.display_name, c.id))


def staff_at(session: Session, platform_id: str, moment: datetime,
             users: Optional[list[User]] = None) -> dict[str, StaffAsOf]:
    """Every account of the platform as it stood at `moment` (see `counsellors_at`)."""
    if users is None:
        users = session.exec(select(User).where(User.platform_id == platform_id)).all()
    periods: dict[str, list[StaffingPeriod]] = {}
    for row in session.exec(select(StaffingPeriod).where(StaffingPeriod.user_id.in_([u.id for u in users]))
                            .order_by(StaffingPeriod.since, StaffingPeriod.id)).all():
        periods.setdefault(row.user_id, []).append(row)
    staff = {}
    for user in users:
        rows = periods.get(user.id)
        if rows:
            before = [row for row in rows if _utc(row.since) < moment]
            state = before[-1] if before else rows[0]
            staff[user.id] = StaffAsOf(state.role, state.fte, state.active, state.operator_id)
        else:
            staff[user.id] = StaffAsOf(user.role, user.fte, user.active, user.operator_id)
    return staff


def load(session: Session, platform_id: str, period: Period) -> Facts:
    """What the indicators of one platform and period read, in a few queries."""
    platform = session.get(Platform, platform_id)
    if platform is None:
        raise LookupError(f"no platform {platform_id}")
    journeys = session.exec(select(Journey).where(Journey.platform_id == platform_id)).all()
    mine = select(Journey.id).where(Journey.platform_id == platform_id)

    state = AuditEvent.detail["state"].as_string()
    events = session.exec(
        select(AuditEvent.journey_id, AuditEvent.at, AuditEvent.action, state)
        .where(AuditEvent.journey_id.in_(mine),
               or_(state.is_not(None), AuditEvent.action.in_(tuple(STATE_OF_ACTION))))
        .order_by(AuditEvent.at, AuditEvent.id)).all()
    timelines: dict[str, list[tuple[datetime, str]]] = {}
    transferred_in: dict[str, datetime] = {}
    for journey_id, at, action, entered in events:
        at = _utc(at)
        if action in STATE_OF_ACTION:
            transferred_in.setdefault(journey_id, at)
            entered = entered or STATE_OF_ACTION[action]
        timelines.setdefault(journey_id, []).append((at, entered))

    counsellor_at_end: dict[str, Optional[str]] = {}
    for row in session.exec(select(CounsellorAssignment).where(CounsellorAssignment.journey_id.in_(mine))
                            .order_by(CounsellorAssignment.started_at, CounsellorAssignment.id)).all():
        counsellor_at_end.setdefault(row.journey_id, None)
        if _utc(row.started_at) < period.closes and (row.ended_at is None or _utc(row.ended_at) >= period.closes):
            counsellor_at_end[row.journey_id] = row.counsellor_id

    minutes: dict[str, dict[date, tuple[int, int]]] = {}
    months = period.months
    for row in session.exec(select(IntensityMonth).where(
            IntensityMonth.journey_id.in_(mine), IntensityMonth.month >= months[0],
            IntensityMonth.month <= months[-1])):
        minutes.setdefault(row.journey_id, {})[row.month] = (row.minutes, row.workplace_minutes)

    episodes: dict[str, list[EmploymentEpisode]] = {}
    for row in session.exec(select(EmploymentEpisode).where(
            EmploymentEpisode.journey_id.in_(mine), EmploymentEpisode.started_on <= period.end)
            .order_by(EmploymentEpisode.started_on, EmploymentEpisode.id)):
        episodes.setdefault(row.journey_id, []).append(row)

    evaluations = {row.journey_id: row for row in session.exec(
        select(SharedEvaluation).where(SharedEvaluation.journey_id.in_(mine)))}

    counsellors = counsellors_at(session, platform_id, period.closes)

    facts = []
    for journey in journeys:
        transferred_at = transferred_in.get(journey.id)
        if journey.transferred_from and transferred_at is None:
            transferred_at = _utc(journey.created_at)
        facts.append(JourneyFacts(
            journey=journey, timeline=timelines.get(journey.id) or projected_timeline(journey),
            transferred_in_at=transferred_at,
            counsellor_at_end=counsellor_at_end.get(journey.id, journey.counsellor_id),
            minutes=minutes.get(journey.id, {}), episodes=episodes.get(journey.id, []),
            evaluation=evaluations.get(journey.id)))
    return Facts(platform=platform, period=period, journeys=facts, counsellors=list(counsellors),
                 declared=declared_resources.declared_at(session, platform_id, period.end))


# ---------------------------------------------------------------------------------------- helpers

def _zeros(keys: Iterable[str]) -> dict[str, int]:
    return dict.fromkeys(keys, 0)


def _mean(values: list[float], digits: int = 1) -> Optional[float]:
    return round(sum(values) / len(values), digits) if values else None


def _ratio(numerator: float, denominator: float, digits: int = 1) -> Optional[float]:
    return round(numerator / denominator, digits) if denominator else None


def _accompanied_during(f: Facts) -> list[JourneyFacts]:
    return [j for j in f.journeys if j.states_during(f.period.opens, f.period.closes) & ACCOMPANIED]


def _accompanied_at_end(f: Facts) -> list[JourneyFacts]:
    return [j for j in f.journeys if j.state_before(f.period.closes) in ACCOMPANIED]


def _admitted_in_period(f: Facts) -> list[JourneyFacts]:
    return [j for j in f.journeys if f.period.holds(j.journey.admitted_on)]


def _episodes_at_end(f: Facts, j: JourneyFacts) -> list[EpisodeAsOf]:
    return [e for e in (EpisodeAsOf.of(row, f.period.end) for row in j.episodes) if e is not None]


# ---------------------------------------------------------------------------------------- 1. activity

def persons_accompanied(f: Facts) -> int:
    """§V.A.6 1° "nombre total de personnes accompagnées": persons accompanied (admitted, convention,
    accompaniment, veille, relaunch, exit proposed) at some point of the period."""
    return len(_accompanied_during(f))


def persons_accompanied_at_end(f: Facts) -> int:
    """The same "à date": the file active at the end of the period, persons in veille included."""
    return len(_accompanied_at_end(f))


def new_entries(f: Facts) -> dict[str, Any]:
    """§V.A.6 1° "nouvelles admissions sur la période": persons admitted in the period, by channel (R2:
    CDAPH orientation or SPE prescription), by SPE prescriber, by situation at entry (R6); how many of
    them came by transfer from another platform."""
    admitted = _admitted_in_period(f)
    by_channel, by_prescriber, by_situation = _zeros(("cdaph", "spe")), _zeros(SPE_CHANNELS), _zeros(SITUATIONS)
    for j in admitted:
        channel = j.journey.channel
        by_channel["cdaph" if channel == Channel.cdaph else "spe"] += 1
        if channel in by_prescriber:
            by_prescriber[channel] += 1
        by_situation[j.journey.situation] = by_situation.get(j.journey.situation, 0) + 1
    return {"total": len(admitted), "by_channel": by_channel, "by_prescriber": by_prescriber,
            "by_situation": by_situation, "transfers_in": sum(1 for j in admitted if j.journey.transferred_from)}


def prescriptions(f: Facts) -> dict[str, Any]:
    """R1–R5: prescriptions and orientations dated in the period (`prescribed_on`; transfers in are the
    other platform's prescriptions), by channel, and those of them refused, by rule."""
    received = [j.journey for j in f.journeys
                if f.period.holds(j.journey.prescribed_on) and not j.journey.transferred_from]
    by_channel = _zeros(("cdaph", "spe"))
    for journey in received:
        by_channel["cdaph" if journey.channel == Channel.cdaph else "spe"] += 1
    refused = [journey for journey in received if journey.state == S.refused]
    by_rule = _zeros(REFUSAL_RULES)
    for journey in refused:
        for rule in sorted({r.get("rule") for r in journey.refusal or [] if r.get("rule")}):
            by_rule[rule] = by_rule.get(rule, 0) + 1
    return {"received": len(received), "by_channel": by_channel, "refused": len(refused), "refused_by_rule": by_rule}


def waiting_list_at_end(f: Facts) -> int:
    """R7, §V.A.6 1° "personnes en liste d'attente": persons on the waiting list at the end of the period."""
    return sum(1 for j in f.journeys if j.state_before(f.period.closes) == S.waiting_list)


def admission_delay(f: Facts) -> dict[str, Any]:
    """R7, §V.A.6 1° "délai moyen entre la prescription (ou orientation) et l'entrée effective": the mean,
    in days, over the persons admitted in the period (transfers in left out: their prescription was
    made to another platform)."""
    delays = [j.journey.admission_delay_days if j.journey.admission_delay_days is not None
              else (j.journey.admitted_on - j.journey.prescribed_on).days
              for j in _admitted_in_period(f) if not j.journey.transferred_from]
    return {"mean_days": _mean(delays), "persons": len(delays)}


def persons_in_veille(f: Facts) -> dict[str, int]:
    """R14, §V.A.6 1° "bénéficiaires en situation de veille": at the end of the period, and at some
    point of it."""
    return {"at_end": sum(1 for j in f.journeys if j.state_before(f.period.closes) == S.veille),
            "during_period": sum(1 for j in f.journeys if S.veille in j.states_during(f.period.opens, f.period.closes))}


def exits(f: Facts) -> dict[str, Any]:
    """R15, §V.A.6 1° "sorties sur la période, avec ventilation des motifs": journeys exited in the
    period, by reason (every valid reason listed). A transfer is counted apart (`transfers`)."""
    by_reason = _zeros(rules.EXIT_REASONS)
    for j in f.journeys:
        if j.journey.state == S.exited and f.period.holds(j.journey.exited_on):
            reason = j.journey.exit_reason or "unknown"
            by_reason[reason] = by_reason.get(reason, 0) + 1
    return {"total": sum(by_reason.values()), "by_reason": by_reason}


def transfers(f: Facts) -> dict[str, int]:
    """R15: persons who moved to a département with a platform (transferred out in the period), and
    persons received from another platform in the period."""
    return {"out": sum(1 for j in f.journeys
                       if j.journey.state == S.transferred and f.period.holds(j.journey.exited_on)),
            "in": sum(1 for j in f.journeys if j.transferred_in_at is not None
                      and f.period.opens <= j.transferred_in_at < f.period.closes)}


def activity_indicators(f: Facts) -> dict[str, Any]:
    return {
        "persons_accompanied": persons_accompanied(f),
        "persons_accompanied_at_end": persons_accompanied_at_end(f),
        "new_entries": new_entries(f),
        "prescriptions": prescriptions(f),
        "waiting_list_at_end": waiting_list_at_end(f),
        "admission_delay": admission_delay(f),
        "veille": persons_in_veille(f),
        "exits": exits(f),
        "transfers": transfers(f),
    }


# ---------------------------------------------------------------------------------------- 2. resources

def counsellors(f: Facts) -> dict[str, Any]:
    """§V.A.6 2° "ETP dédiés à l'accompagnement": the active counsellors and their FTE at the end of the
    period (`counsellors_at`)."""
    return {"count": len(f.counsellors), "total_fte": round(sum(c.fte for c in f.counsellors), 2)}


def caseload_at_end(f: Facts) -> dict[str, int]:
    """R7: counsellor → persons they accompany at the end of the period, veille not counted
    (`rules.r7_counts_in_caseload`); `None` collects those whose counsellor is not set."""
    caseload: Counter = Counter()
    for j in f.journeys:
        state = j.state_before(f.period.closes)
        if state in ACCOMPANIED and rules.r7_counts_in_caseload(state):
            caseload[j.counsellor_at_end] += 1
    return dict(caseload)


def caseload(f: Facts) -> dict[str, Any]:
    """R7, §V.A.6 2° "nombre moyen de personnes suivies par conseiller (ETP)": the caseload at the end of
    the period (veille excluded), per counsellor, per FTE, against the capacity (20 per FTE)."""
    per_counsellor = caseload_at_end(f)
    total = sum(per_counsellor.values())
    fte = sum(c.fte for c in f.counsellors)
    return {
        "persons": total,
        "per_counsellor": _ratio(total, len(f.counsellors)),
        "per_fte": _ratio(total, fte),
        "capacity": round(sum(rules.r7_capacity(c.fte) for c in f.counsellors), 2),
        "persons_per_fte_limit": rules.PERSONS_PER_FTE,
        "by_counsellor": [
            {"id": c.id, "name": c.display_name or c.email, "fte": c.fte, "caseload": per_counsellor.get(c.id, 0),
             "capacity": rules.r7_capacity(c.fte)} for c in f.counsellors],
    }


def _declared_staff(f: Facts) -> Optional[declared_resources.ResourceQuarter]:
    return f.declared.staff if f.declared else None


def _declared_year(f: Facts) -> Optional[declared_resources.ResourceYear]:
    return f.declared.funding_and_trainings if f.declared else None


def declarations(f: Facts) -> dict[str, bool]:
    """Which declarations of the managers (store/resources.py) the period has: the staff of the quarter
    holding its last day, the funding and the trainings of that day's year. What is not declared is
    reported as None ("non déclaré"), never as 0."""
    year = _declared_year(f)
    return {"staff": _declared_staff(f) is not None, "funding": year is not None and year.funding_declared,
            "trainings": year is not None and year.trainings_declared}


def total_fte(f: Facts) -> Optional[float]:
    """§V.A.6 2° "Nombre total d'ETP affectés à la plateforme": every professional's FTE (counsellors or
    not), as declared for the quarter holding the period's last day."""
    staff = _declared_staff(f)
    return None if staff is None else staff.total_fte


def accompaniment_fte(f: Facts) -> dict[str, Optional[float]]:
    """§V.A.6 2° "Nombre d'ETP dédiés à l'accompagnement (référé emploi accompagné)": as declared (the
    mission "accompagnement" of the time split), beside the FTE of the counsellors' accounts active at the
    end of the period (`counsellors`, from the staffing periods): two sources the funders may compare."""
    staff = _declared_staff(f)
    return {"declared": None if staff is None else staff.fte_accompaniment,
            "counsellors": counsellors(f)["total_fte"]}


def time_split(f: Facts) -> dict[str, dict[str, Optional[float]]]:
    """§V.A.6 2° "Répartition du temps de travail des professionnels (accompagnement, coordination,
    gestion, partenariats)": the declared FTE of each mission and its share of the total FTE (%)."""
    staff = _declared_staff(f)
    return {mission: {"fte": None if staff is None else staff.fte_of(mission),
                      "percent": None if staff is None else _ratio(100 * staff.fte_of(mission), staff.total_fte)}
            for mission in declared_resources.MISSIONS}


def funding(f: Facts) -> dict[str, Any]:
    """§V.A.6 2° "Répartition des financements mobilisés (Etat, AGEFIPH, FIPHP, autres)": the amounts of
    the year holding the period's last day (euros), their total and each source's share of it (%)."""
    year = _declared_year(f)
    sources = declared_resources.FUNDING_SOURCES
    if year is None or not year.funding_declared:
        return {"amounts": dict.fromkeys((*sources, "total")), "percent": dict.fromkeys(sources), "other_label": None}
    cents = {source: year.cents_of(source) for source in sources}
    total = sum(cents.values())
    return {"amounts": {**{source: cents[source] / 100 for source in sources}, "total": total / 100},
            "percent": {source: _ratio(100 * cents[source], total) for source in sources},
            "other_label": year.funding_other_label or None}


def trainings(f: Facts) -> dict[str, dict[str, Any]]:
    """§V.A.6 2° "Formation : nature et nombre de formations délivrées dans l'année, nature et nombre de
    formations prévues pour l'année à suivre": of the year holding the period's last day, the number of
    each (`count`) and, nature by nature, their number (`by_nature`, in the order declared)."""
    year = _declared_year(f)
    declared = year is not None and year.trainings_declared
    result = {}
    for status in declared_resources.TRAINING_STATUSES:
        found = [t for t in (f.declared.trainings if declared else ()) if t.status == status]
        result[status] = {"count": sum(t.count for t in found) if declared else None,
                          "by_nature": [{"nature": t.nature, "count": t.count} for t in found]}
    return result


def title_holders(f: Facts) -> dict[str, Optional[int]]:
    """§V.A.6 2° "Nombre de professionnels titulaire du titre professionnel « conseiller en emploi
    accompagné »" (RNCP37779), as declared for the quarter holding the period's last day, and those
    preparing it."""
    staff = _declared_staff(f)
    return {"holders": None if staff is None else staff.title_holders,
            "in_training": None if staff is None else staff.title_in_training}


def resource_indicators(f: Facts) -> dict[str, Any]:
    """§V.A.6 2°, line by line: `total_fte`, `accompaniment_fte` (and `counsellors`, the staffing
    periods' count and FTE), `caseload` (persons per counsellor and per FTE), `time_split`, `funding`,
    `trainings`, `title_holders`; `declarations` says which of the declared ones the period has."""
    return {"counsellors": counsellors(f), "caseload": caseload(f), "declarations": declarations(f),
            "total_fte": total_fte(f), "accompaniment_fte": accompaniment_fte(f), "time_split": time_split(f),
            "funding": funding(f), "trainings": trainings(f), "title_holders": title_holders(f)}


# ---------------------------------------------------------------------------------------- 3. distance

def situation_at_entry(f: Facts) -> dict[str, int]:
    """§V.A.6 3° "statut administratif à l'entrée": the situation the prescription stated (R1, R6), of
    the persons accompanied during the period."""
    counts = _zeros(SITUATIONS)
    for j in _accompanied_during(f):
        counts[j.journey.situation] = counts.get(j.journey.situation, 0) + 1
    return counts


def person_months(f: Facts) -> dict[int, list[int]]:
    """R11: for each person (by position), the minutes of each month of the period in which they were
    accompanied outside veille at some point (a month without a row: 0 minutes)."""
    result: dict[int, list[int]] = {}
    for index, j in enumerate(f.journeys):
        for month in f.period.months:
            first = max(month, f.period.start)
            last = min(rules.next_month(month) - timedelta(days=1), f.period.end)
            window = Period(first, last)
            if j.states_during(window.opens, window.closes) & ACCOMPANIED_OUTSIDE_VEILLE:
                result.setdefault(index, []).append(j.minutes.get(month, (0, 0))[0])
    return result


def intensity(f: Facts) -> dict[str, Any]:
    """R11, §V.A.6 1° "intensités d'accompagnement de chaque personne accompagnée": the levels of the
    person-months of the period, the persons by the level of their mean monthly hours, the mean hours
    a month and the hours in all."""
    months = person_months(f)
    by_month, by_person = _zeros(INTENSITY_LEVELS), _zeros(INTENSITY_LEVELS)
    for minutes in months.values():
        for value in minutes:
            by_month[rules.r11_intensity_level(value)] += 1
        by_person[rules.r11_intensity_level(round(sum(minutes) / len(minutes)))] += 1
    every = [value for minutes in months.values() for value in minutes]
    return {"person_months": len(every), "person_months_by_level": by_month, "persons": len(months),
            "persons_by_level": by_person, "mean_hours_per_month": _mean([m / 60 for m in every], 2),
            "hours": round(sum(every) / 60, 2)}


def workplace_time(f: Facts) -> dict[str, float]:
    """R13, §V.A.6 1° and 4° "temps total consacré aux interventions sur le lieu de travail": hours at
    the workplace on every journey of the platform, in the months of the period."""
    minutes = sum(workplace for j in f.journeys for _, workplace in j.minutes.values())
    return {"hours": round(minutes / 60, 2)}


def _profiles(f: Facts) -> list[Optional[SharedEvaluation]]:
    """The shared evaluation (with the profile at entry) of each person accompanied during the period;
    None for a person not evaluated yet."""
    return [j.evaluation for j in _accompanied_during(f)]


def _by_choice(values: Iterable[Optional[str]], choices: Iterable[str]) -> dict[str, int]:
    """Persons by a closed-list answer, every choice listed (0 included), "not recorded" last."""
    counts = _zeros([*choices, profile.NOT_RECORDED])
    for value in values:
        key = value if value in counts else profile.NOT_RECORDED
        counts[key] += 1
    return counts


def disability_nature(f: Facts) -> dict[str, int]:
    """§V.A.6 3° "nature du handicap (catégorisation selon référentiel : psychique, TSA, trouble du
    développement intellectuel, cognitif, sensoriel, moteur, multiple...)": the persons accompanied
    during the period by the nature recorded at their shared evaluation (R9)."""
    return _by_choice((e.disability_nature if e else None for e in _profiles(f)), profile.DISABILITY_NATURES)


def time_without_employment(f: Facts) -> dict[str, Any]:
    """§V.A.6 3° "durée de la période sans emploi avant l'entrée dans le dispositif (en mois ou
    années)": the persons accompanied during the period by band of months without employment before
    entry (`profile.MONTHS_WITHOUT_EMPLOYMENT_BANDS`; a person with no lifetime in employment "n'a jamais
    travaillé"), and the mean in months of those who had worked."""
    bands = _zeros([*profile.MONTHS_WITHOUT_EMPLOYMENT_BANDS, profile.NEVER_WORKED, profile.NOT_RECORDED])
    months = []
    for e in _profiles(f):
        if e is None or e.months_without_employment is None:
            bands[profile.NEVER_WORKED if e is not None and e.lifetime_employment_years == 0
                  else profile.NOT_RECORDED] += 1
            continue
        band = profile.months_without_employment_band(e.months_without_employment, e.lifetime_employment_years)
        bands[band] += 1
        if band != profile.NEVER_WORKED:
            months.append(e.months_without_employment)
    return {"by_band": bands, "mean_months": _mean(months), "persons": len(months)}


def lifetime_employment(f: Facts) -> dict[str, Any]:
    """§V.A.6 3° "durée totale en emploi sur l'ensemble de la vie professionnelle (estimée en ETP ou en
    années)": the persons accompanied during the period by band of the years in employment estimated at
    their shared evaluation (`profile.EMPLOYMENT_YEARS_BANDS`), and the mean in years."""
    bands = _zeros([*profile.EMPLOYMENT_YEARS_BANDS, profile.NOT_RECORDED])
    years = []
    for e in _profiles(f):
        if e is None or e.lifetime_employment_years is None:
            bands[profile.NOT_RECORDED] += 1
            continue
        bands[profile.band_of(e.lifetime_employment_years, profile.EMPLOYMENT_YEARS_BANDS)] += 1
        years.append(e.lifetime_employment_years)
    return {"by_band": bands, "mean_years": _mean(years), "persons": len(years)}


def education_level(f: Facts) -> dict[str, int]:
    """§V.A.6 3° "niveau de formation initiale (niveau CAP, Bac, Bac + 2, etc.)": the persons
    accompanied during the period by the level of their highest diploma (nomenclature of the décret
    n° 2019-14)."""
    return _by_choice((e.education_level if e else None for e in _profiles(f)), profile.EDUCATION_LEVELS)


def status_at_entry(f: Facts) -> dict[str, int]:
    """§V.A.6 3° "statut administratif à l'entrée (demandeur d'emploi, ESAT, salarié, inactif...)": the
    persons accompanied during the period by the status recorded at their shared evaluation (finer than
    the prescription's situation, `situation_at_entry`)."""
    return _by_choice((e.status_at_entry if e else None for e in _profiles(f)), profile.STATUSES_AT_ENTRY)


def medico_social_support(f: Facts) -> dict[str, int]:
    """§VI.A "accompagnement médico-social complémentaire": the persons accompanied during the period
    by the support they have beside the accompaniment; a person with several counts under each, so the
    lines add up to more than the persons."""
    counts = _zeros([*profile.MEDICO_SOCIAL_SUPPORTS, profile.NOT_RECORDED])
    for e in _profiles(f):
        for support in (e.medico_social_support if e else None) or [profile.NOT_RECORDED]:
            counts[support if support in counts else profile.NOT_RECORDED] += 1
    return counts


def distance_indicators(f: Facts) -> dict[str, Any]:
    return {"situation_at_entry": situation_at_entry(f), "intensity": intensity(f), "workplace_time": workplace_time(f),
            "disability_nature": disability_nature(f), "time_without_employment": time_without_employment(f),
            "lifetime_employment": lifetime_employment(f), "education_level": education_level(f),
            "status_at_entry": status_at_entry(f), "medico_social_support": medico_social_support(f)}


# ---------------------------------------------------------------------------------------- 4. employment

def persons_in_employment(f: Facts) -> dict[str, Any]:
    """§V.A.6 4° "bénéficiaires en emploi pendant la période", "répartition des employeurs": persons
    accompanied at the end of the period and in employment on its last day, by contract and employer
    type of the job that started last; and persons in employment at some point of the period."""
    by_contract, by_employer = _zeros(PAID_CONTRACTS), _zeros(EMPLOYER_TYPES)
    at_end = 0
    for job in _jobs_at_end(f):
        at_end += 1
        by_contract[job.contract_type] += 1
        by_employer[job.employer_type] += 1
    during = sum(1 for j in _accompanied_during(f)
                 if any(jobs.is_employment(e) and f.period.overlaps(e.started_on, e.ended_on) for e in j.episodes))
    return {"at_end": at_end, "at_end_by_contract": by_contract, "at_end_by_employer_type": by_employer,
            "during_period": during}


def _jobs_at_end(f: Facts) -> list[EpisodeAsOf]:
    """The job of each person accompanied and in employment at the end of the period: the one that
    started last when they hold two."""
    found = []
    for j in _accompanied_at_end(f):
        holding = [e for e in _episodes_at_end(f, j) if jobs.is_employment(e) and e.ended_on is None]
        if holding:
            found.append(max(holding, key=lambda e: e.started_on))
    return found


def employers(f: Facts) -> dict[str, Any]:
    """§V.A.6 4° "répartition des employeurs" and "profils [...] des employeurs accompagnés" (§V.A.6):
    the employers of the persons in employment at the end of the period (one per person, as
    `persons_in_employment` counts them, whose `at_end_by_employer_type` gives the text's split
    "entreprise privée/fonction publique/travailleur non salarié") by NAF section and by size band."""
    found = _jobs_at_end(f)
    return {"by_naf_section": _by_choice((job.employer_naf_section for job in found), profile.NAF_SECTIONS),
            "by_size_band": _by_choice((job.employer_size_band for job in found), profile.SIZE_BANDS)}


def _followed_until(j: JourneyFacts, episode) -> Optional[date]:
    """An episode as the platform followed it: it ends, for the indicators, when the journey did (a job
    still held at the exit is no longer the platform's to count), or when it ended, whichever is first."""
    exited = j.journey.exited_on
    if exited is None or (episode.ended_on is not None and episode.ended_on <= exited):
        return episode.ended_on
    return exited


def contracts(f: Facts) -> dict[str, int]:
    """§V.A.6 4° "contrats de travail en cours ou débutés pendant le trimestre" and "stages, immersions
    ou autres formes de travail non rémunéré": episodes, not persons, of the persons accompanied during
    the period (issue 14, 1: not of every journey the platform ever held), each followed until the exit."""
    episodes = [(e, _followed_until(j, e)) for j in _accompanied_during(f) for e in j.episodes]
    return {
        "ongoing_or_started": sum(1 for e, end in episodes
                                  if jobs.is_employment(e) and f.period.overlaps(e.started_on, end)),
        "started": sum(1 for e, _ in episodes if jobs.is_employment(e) and f.period.holds(e.started_on)),
        "unpaid_placements": sum(1 for e, end in episodes if not jobs.is_employment(e)
                                 and f.period.overlaps(e.started_on, end)),
    }


def entries_into_employment(f: Facts) -> int:
    """R16: persons whose first job since their admission (`employment.entry_into_employment`) started
    in the period."""
    return sum(1 for j in f.journeys if j.journey.admitted_on is not None
               and f.period.holds(jobs.entry_into_employment(j.episodes, j.journey.admitted_on)))


def time_in_same_firm(f: Facts) -> dict[str, Any]:
    """§V.A.6 4° "durée moyenne de maintien dans la même entreprise (pour les personnes en emploi)": the
    mean length, in days, of the current stay with one employer (`employment.time_in_firm`) of the
    persons accompanied and in employment at the end of the period."""
    days = []
    for j in _accompanied_at_end(f):
        current = jobs.time_in_firm(_episodes_at_end(f, j), f.period.end).current
        if current is not None:
            days.append(current.days)
    return {"mean_days": _mean(days), "persons": len(days)}


def retention(f: Facts) -> dict[str, Any]:
    """§V.A.6 4° "taux de maintien à 6 mois/12 mois/24 mois après l'entrée dans l'emploi": for each
    delay, the persons whose date (entry into employment, or the admission of a person already in a job,
    + the delay: `employment.retention_start`) falls in
    the period, those in employment on that date, and those whose journey had ended before it
    (unknown, left out of the rate)."""
    result = {key: {"due": 0, "retained": 0, "unknown": 0, "rate_percent": None} for key in RETENTION_KEYS.values()}
    for j in f.journeys:
        if j.journey.admitted_on is None:
            continue
        for point in jobs.retention(_episodes_at_end(f, j), j.journey.admitted_on, f.period.end).points:
            if not f.period.holds(point.on):
                continue
            row = result[RETENTION_KEYS[point.months]]
            row["due"] += 1
            if j.journey.exited_on is not None and j.journey.exited_on < point.on:
                row["unknown"] += 1
            elif point.employed:
                row["retained"] += 1
    for row in result.values():
        row["rate_percent"] = _ratio(100 * row["retained"], row["due"] - row["unknown"])
    return result


def ruptures(f: Facts) -> dict[str, Any]:
    """§V.A.6 4° "ruptures d'emploi signalées pendant l'accompagnement": employment episodes ended early
    (`employment.is_rupture`) in the period, by reason."""
    by_reason = _zeros(RUPTURE_REASONS)
    for j in f.journeys:
        for episode in j.episodes:
            if jobs.is_rupture(episode) and f.period.holds(episode.ended_on):
                by_reason[episode.end_reason] += 1
    return {"total": sum(by_reason.values()), "by_reason": by_reason}


def employment_indicators(f: Facts) -> dict[str, Any]:
    return {
        "persons_in_employment": persons_in_employment(f),
        "employers": employers(f),
        "contracts": contracts(f),
        "entries_into_employment": entries_into_employment(f),
        "time_in_same_firm": time_in_same_firm(f),
        "retention": retention(f),
        "ruptures": ruptures(f),
    }


# ---------------------------------------------------------------------------------------- the report

GROUPS = ("activity", "resources", "distance_from_employment", "employment")


def compute(f: Facts) -> dict[str, Any]:
    return {
        "platform": f.platform.id,
        "from": f.period.start.isoformat(),
        "to": f.period.end.isoformat(),
        "activity": activity_indicators(f),
        "resources": resource_indicators(f),
        "distance_from_employment": distance_indicators(f),
        "employment": employment_indicators(f),
    }


def report(session: Session, platform_id: str, period: Period, operator_id: Optional[str] = None) -> dict[str, Any]:
    """R20: the four groups of indicators of one platform over one period: consolidated for the whole
    platform, or the part one of its operators answers for (`for_operator`)."""
    facts = load(session, platform_id, period)
    if operator_id is None:
        return {**compute(facts), "operator": None}
    return {**compute(for_operator(session, facts, operator_id)), "operator": operator_id}


def for_operator(session: Session, facts: Facts, operator_id: str) -> Facts:
    """The facts one operator (co-porteur) answers for: the persons whose last counsellor designated
    before the end of the period worked for it then, and its counsellors. The persons no counsellor
    had followed by then (prescriptions, waiting list) are the platform's: they appear only in the
    consolidated report, which is why the operators' figures add up to the platform's but for them."""
    last_counsellor: dict[str, str] = {}
    for journey_id, counsellor_id in session.exec(
            select(CounsellorAssignment.journey_id, CounsellorAssignment.counsellor_id)
            .where(CounsellorAssignment.journey_id.in_([j.journey.id for j in facts.journeys]),
                   CounsellorAssignment.started_at < facts.period.closes)
            .order_by(CounsellorAssignment.started_at, CounsellorAssignment.id)).all():
        last_counsellor[journey_id] = counsellor_id
    staff = staff_at(session, facts.platform.id, facts.period.closes)
    journeys = [j for j in facts.journeys
                if staff.get(last_counsellor.get(j.journey.id), _NO_STAFF).operator_id == operator_id]
    counsellors = [c for c in facts.counsellors if c.operator_id == operator_id]
    # the resources are declared for the whole platform (services/resources.py): not one operator's part
    return replace(facts, journeys=journeys, counsellors=counsellors, declared=None)


# ---------------------------------------------------------------------------------------- French labels

CHANNEL_GROUPS = {"cdaph": "orientation de la CDAPH", "spe": "prescription du service public de l'emploi"}
REFUSAL_RULE_LABELS = {"R1": "R1 (âge, RQTH ou BOE)", "R3": "R3 (consentement)", "R5": "R5 (subsidiarité)"}
EMPLOYER_TYPE_LABELS = {"private": "entreprise privée", "public": "fonction publique",
                        "self_employed": "travailleur non salarié"}
RETENTION_FIELDS = {
    "due": "personnes dont l'échéance tombe dans la période",
    "retained": "personnes en emploi à l'échéance",
    "unknown": "personnes sorties avant l'échéance (non comptées dans le taux)",
    "rate_percent": "taux de maintien (%)",
}


# The profile's breakdowns (eaflow.profile): path, title, the choices' labels ("non renseigné" added).
PROFILE_BREAKDOWNS = (
    ("distance_from_employment.disability_nature", "Nature du handicap des personnes accompagnées",
     profile.DISABILITY_NATURES),
    ("distance_from_employment.time_without_employment.by_band", "Durée sans emploi avant l'entrée",
     profile.MONTHS_WITHOUT_EMPLOYMENT_LABELS),
    ("distance_from_employment.lifetime_employment.by_band", "Durée totale en emploi sur la vie professionnelle",
     profile.EMPLOYMENT_YEARS_LABELS),
    ("distance_from_employment.education_level", "Niveau de formation initiale", profile.EDUCATION_LEVELS),
    ("distance_from_employment.status_at_entry", "Statut administratif à l'entrée", profile.STATUSES_AT_ENTRY),
    ("distance_from_employment.medico_social_support", "Accompagnement médico-social complémentaire",
     profile.MEDICO_SOCIAL_SUPPORTS),
    ("employment.employers.by_naf_section", "Employeurs des personnes en emploi en fin de période, par secteur",
     profile.NAF_SECTIONS),
    ("employment.employers.by_size_band", "Employeurs des personnes en emploi en fin de période, par taille",
     profile.SIZE_BANDS),
)
PROFILE_FIGURES = {
    "distance_from_employment.time_without_employment.mean_months":
        "Durée moyenne sans emploi avant l'entrée (mois, hors personnes n'ayant jamais travaillé)",
    "distance_from_employment.time_without_employment.persons": "Personnes prises en compte dans cette durée moyenne",
    "distance_from_employment.lifetime_employment.mean_years":
        "Durée totale moyenne en emploi sur la vie professionnelle (années)",
    "distance_from_employment.lifetime_employment.persons": "Personnes prises en compte dans cette durée moyenne",
}


def _lower_first(text: str) -> str:
    """A label after a colon: "Handicap psychique" → "handicap psychique"; an acronym or a NAF letter stays."""
    first = text.split(" ", 1)[0]
    return text if first.isupper() else text[:1].lower() + text[1:]


def _build_labels() -> dict[str, str]:
    labels = {
        "activity.persons_accompanied": "Personnes accompagnées pendant la période",
        "activity.persons_accompanied_at_end": "Personnes accompagnées en fin de période (veille comprise)",
        "activity.new_entries.total": "Nouvelles admissions sur la période",
        "activity.new_entries.transfers_in": "Nouvelles admissions : dont personnes venues d'une autre plateforme",
        "activity.prescriptions.received": "Prescriptions et orientations reçues sur la période",
        "activity.prescriptions.refused": "Prescriptions reçues sur la période et non retenues",
        "activity.waiting_list_at_end": "Personnes en liste d'attente en fin de période",
        "activity.admission_delay.mean_days":
            "Délai moyen entre la prescription (ou l'orientation) et l'entrée (jours)",
        "activity.admission_delay.persons": "Personnes admises prises en compte dans le délai moyen",
        "activity.veille.at_end": "Personnes en veille en fin de période",
        "activity.veille.during_period": "Personnes en veille à un moment de la période",
        "activity.exits.total": "Sorties du dispositif sur la période",
        "activity.transfers.out": "Transferts vers la plateforme d'un autre département",
        "activity.transfers.in": "Transferts reçus d'une autre plateforme",
        "resources.counsellors.count": "Conseillers en emploi accompagné",
        "resources.counsellors.total_fte": "ETP dédiés à l'accompagnement",
        "resources.caseload.persons": "Personnes suivies en fin de période (hors veille)",
        "resources.caseload.per_counsellor": "Nombre moyen de personnes suivies par conseiller",
        "resources.caseload.per_fte": "Nombre moyen de personnes suivies par ETP",
        "resources.caseload.capacity": "Capacité d'accompagnement (personnes)",
        "resources.caseload.persons_per_fte_limit": "Plafond de personnes suivies par ETP",
        "resources.total_fte": "Nombre total d'ETP affectés à la plateforme",
        "resources.accompaniment_fte.declared":
            "Nombre d'ETP dédiés à l'accompagnement (référé emploi accompagné)",
        "resources.accompaniment_fte.counsellors":
            "ETP des conseillers en emploi accompagné (comptes actifs en fin de période)",
        "resources.funding.amounts.total": "Financements mobilisés : total (euros)",
        "resources.title_holders.holders":
            "Professionnels titulaires du titre professionnel « conseiller en emploi accompagné »",
        "resources.title_holders.in_training": "Professionnels préparant le titre professionnel « conseiller en "
                                               "emploi accompagné »",
        "distance_from_employment.intensity.person_months": "Mois-personnes d'accompagnement (hors veille)",
        "distance_from_employment.intensity.persons": "Personnes dont l'intensité est mesurée",
        "distance_from_employment.intensity.mean_hours_per_month":
            "Heures d'accompagnement par personne et par mois (moyenne)",
        "distance_from_employment.intensity.hours": "Heures d'accompagnement sur la période",
        "distance_from_employment.workplace_time.hours":
            "Temps consacré aux interventions sur le lieu de travail (heures)",
        "employment.persons_in_employment.at_end": "Personnes en emploi en fin de période",
        "employment.persons_in_employment.during_period": "Personnes en emploi à un moment de la période",
        "employment.contracts.ongoing_or_started": "Contrats de travail en cours ou débutés sur la période",
        "employment.contracts.started": "Contrats de travail débutés sur la période",
        "employment.contracts.unpaid_placements": "Stages, immersions et autres formes de travail non rémunéré",
        "employment.entries_into_employment": "Entrées en emploi sur la période",
        "employment.time_in_same_firm.mean_days": "Durée moyenne de maintien dans la même entreprise (jours)",
        "employment.time_in_same_firm.persons": "Personnes en emploi prises en compte dans cette durée",
        "employment.ruptures.total": "Ruptures d'emploi sur la période",
    }

    def each(prefix: str, title: str, values: dict[str, str]) -> None:
        for key, text in values.items():
            labels[f"{prefix}.{key}"] = f"{title} : {text}"

    each("activity.new_entries.by_channel", "Nouvelles admissions", CHANNEL_GROUPS)
    each("activity.new_entries.by_prescriber", "Nouvelles admissions",
         {c: CHANNEL_LABELS[c] for c in SPE_CHANNELS})
    each("activity.new_entries.by_situation", "Nouvelles admissions", SITUATION_LABELS)
    each("activity.prescriptions.by_channel", "Prescriptions et orientations reçues", CHANNEL_GROUPS)
    each("activity.prescriptions.refused_by_rule", "Prescriptions non retenues", REFUSAL_RULE_LABELS)
    each("activity.exits.by_reason", "Sorties", {**rules.EXIT_REASONS, "unknown": "motif non renseigné"})
    each("distance_from_employment.situation_at_entry", "Situation à l'entrée des personnes accompagnées",
         SITUATION_LABELS)
    each("distance_from_employment.intensity.person_months_by_level", "Mois-personnes d'intensité",
         {level: text.lower() for level, text in rules.INTENSITY_LABELS.items()})
    each("distance_from_employment.intensity.persons_by_level", "Personnes d'intensité moyenne",
         {level: text.lower() for level, text in rules.INTENSITY_LABELS.items()})
    each("employment.persons_in_employment.at_end_by_contract", "Personnes en emploi en fin de période",
         {c: jobs.CONTRACT_LABELS[c] for c in PAID_CONTRACTS})
    each("employment.persons_in_employment.at_end_by_employer_type", "Personnes en emploi en fin de période",
         EMPLOYER_TYPE_LABELS)
    for months, key in RETENTION_KEYS.items():
        each(f"employment.retention.{key}", f"Maintien dans l'emploi à {months} mois", RETENTION_FIELDS)
    for path, title, values in PROFILE_BREAKDOWNS:
        each(path, title, {**{key: _lower_first(text) for key, text in values.items()},
                           profile.NOT_RECORDED: profile.NOT_RECORDED_LABEL})
    labels.update(PROFILE_FIGURES)
    each("employment.ruptures.by_reason", "Ruptures d'emploi", {r: jobs.END_REASONS[r].label for r in RUPTURE_REASONS})
    for mission, text in declared_resources.MISSION_LABELS.items():
        labels[f"resources.time_split.{mission}.fte"] = f"Répartition du temps de travail : {text} (ETP)"
        labels[f"resources.time_split.{mission}.percent"] = f"Répartition du temps de travail : {text} (%)"
    for source, text in declared_resources.FUNDING_LABELS.items():
        labels[f"resources.funding.amounts.{source}"] = f"Financements mobilisés : {text} (euros)"
        labels[f"resources.funding.percent.{source}"] = f"Financements mobilisés : {text} (%)"
    for status, text in declared_resources.TRAINING_LABELS.items():
        labels[f"resources.trainings.{status}.count"] = f"Formations {text} : nombre"
    return labels


LABELS = _build_labels()


def label(path: str) -> str:
    """The French label of an indicator (`group.indicator`); its path if it has none (a value the
    tables do not know yet: shown rather than dropped)."""
    return LABELS.get(path, path)

COUNSELLOR_FIELDS = {"fte": "ETP", "caseload": "personnes suivies en fin de période (hors veille)",
                     "capacity": "capacité (personnes)"}


@dataclass(frozen=True)
class Row:
    group: str
    indicator: str
    label: str
    value: Any


def _walk(prefix: str, value: Any) -> Iterable[tuple[str, Any]]:
    if isinstance(value, dict):
        for key, inner in value.items():
            yield from _walk(f"{prefix}.{key}", inner)
    else:
        yield prefix, value


# the declaration (resources.declarations) each declared line of group 2 comes from
DECLARED_BY = {"total_fte": "staff", "accompaniment_fte": "staff", "time_split": "staff", "title_holders": "staff",
               "funding": "funding", "trainings": "trainings"}


def _training_rows(value: dict[str, dict[str, Any]]) -> list[Row]:
    """The number of trainings delivered and planned, then one row per nature (free text, in its label)."""
    out = []
    for status, text in declared_resources.TRAINING_LABELS.items():
        out.append(Row("resources", f"trainings.{status}.count", label(f"resources.trainings.{status}.count"),
                       value[status]["count"]))
        for index, item in enumerate(value[status]["by_nature"]):
            out.append(Row("resources", f"trainings.{status}.by_nature.{index}", f"Formations {text} : "
                           f"{item['nature']}", item["count"]))
    return out


def _declared_rows(key: str, value: Any, declarations: dict[str, bool]) -> list[Row]:
    """The rows of a declared line of group 2. Cells stay numbers (or empty): the words go in the label,
    the origin of the "autres" funding, and "non déclaré" beside every value a missing declaration leaves
    empty."""
    if key == "trainings":
        out = _training_rows(value)
    else:
        leaves = {k: v for k, v in value.items() if k != "other_label"} if key == "funding" else value
        out = [Row("resources", path.split(".", 1)[1], label(path), leaf) for path, leaf in _walk(f"resources.{key}",
                                                                                                  leaves)]
    if key == "funding" and value["other_label"]:
        out = [replace(row, label=f"{row.label} — {value['other_label']}") if row.indicator.endswith(".other")
               else row for row in out]
    if not declarations.get(DECLARED_BY[key], False):
        out = [replace(row, label=f"{row.label} : non déclaré") if row.value is None else row for row in out]
    return out


def rows(result: dict[str, Any], platform_name: str = "") -> list[Row]:
    """One row per indicator, with its French label (the CSV): the period first, then the four groups."""
    out = [Row("report", "platform", "Plateforme", platform_name or result["platform"]),
           Row("report", "from", "Début de la période", result["from"]),
           Row("report", "to", "Fin de la période", result["to"])]
    for group in GROUPS:
        for key, value in result[group].items():
            if group == "resources" and key == "declarations":
                continue  # said in the labels of the lines they leave empty (_declared_rows)
            if group == "resources" and key in DECLARED_BY:
                out.extend(_declared_rows(key, value, result[group]["declarations"]))
                continue
            if group == "resources" and key == "caseload":
                members = {k: v for k, v in value.items() if k != "by_counsellor"}
                for path, leaf in _walk(f"{group}.{key}", members):
                    out.append(Row(group, path.split(".", 1)[1], label(path), leaf))
                for c in value["by_counsellor"]:
                    for name, text in COUNSELLOR_FIELDS.items():
                        out.append(Row(group, f"caseload.by_counsellor.{c['id']}.{name}", f"{c['name']} : {text}",
                                       c[name]))
                continue
            for path, leaf in _walk(f"{group}.{key}", value):
                out.append(Row(group, path.split(".", 1)[1], label(path), leaf))
    return out
