"""Employment episodes (R16) and what the steering indicators need of them (R20), as pure functions
of the episodes and a date: no database, no clock.

An episode is a job (or an unpaid placement) held while the person is accompanied. Closing one never
ends the accompaniment (R16). What counts, decided here once:

- **Employment** is a work contract or an independent activity. An immersion (PMSMP) or a stage is
  not employment: the cahier des charges counts them apart ("stages, immersions ou autres formes de
  travail non rémunéré"), so they take no part in the three indicators below nor in an avenant.
- **Rupture** (§V.A.6 "ruptures d'emploi signalées pendant l'accompagnement"): an episode ended
  early by one side or both: dismissal, resignation, end of the trial period, mutual agreement
  (rupture conventionnelle). A contract that runs its course (end of fixed term), a retirement and a
  mobility (a transition the person chose, not a break) are normal ends; "other" is not counted,
  since nothing says it was a break.
- **Time in the same firm**: consecutive episodes with the same employer (name compared without case
  or spacing) make one stay when the next starts within `JOIN_GAP_DAYS` days of the previous end
  (a CDD renewed on the Monday after a Friday does not break it). Days are counted inclusively, an
  open stay up to `today`.
- **Retention at 6/12/24 months**: the entry into employment is the start of the first employment
  episode that starts during the accompaniment (on or after the admission). Was the person in
  employment, with any employer, on that date plus 6, 12 and 24 calendar months (31 August + 6
  months is the last day of February)? `None` while that date is still to come. A person already in
  post at admission enters this indicator only with a new job; their stay counts in the time in firm.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Iterable, Optional, Protocol, Sequence

from eaflow.durations import Duration
from eaflow.workflows.types import JourneyState as S


@dataclass(frozen=True)
class EndReason:
    label: str  # French, as the counsellor reads it
    rupture: bool


# One table: every end reason, its French label and whether it is a rupture.
END_REASONS: dict[str, EndReason] = {
    "dismissal": EndReason("licenciement", True),
    "resignation": EndReason("démission", True),
    "trial_period": EndReason("rupture de la période d'essai", True),
    "mutual_agreement": EndReason("rupture conventionnelle", True),
    "end_of_fixed_term": EndReason("fin du contrat à durée déterminée", False),
    "retirement": EndReason("départ à la retraite", False),
    "mobility": EndReason("mobilité", False),
    "other": EndReason("autre motif", False),
}

CONTRACT_LABELS: dict[str, str] = {
    "cdi": "CDI", "cdd": "CDD", "interim": "intérim", "alternance": "alternance",
    "pmsmp": "PMSMP", "stage": "stage", "independent": "activité indépendante",
}
UNPAID_CONTRACTS = frozenset({"pmsmp", "stage"})

# Where an episode may be recorded: from the admission while the person is accompanied (R16).
RECORDED_IN = frozenset({S.admitted, S.convention, S.accompaniment, S.veille, S.relaunch, S.exit_proposed})
# Where a new employer calls for an avenant to the signed convention (R10).
AVENANT_IN = frozenset({S.accompaniment, S.veille})

JOIN_GAP_DAYS = 3
RETENTION_MONTHS = (6, 12, 24)


class Episode(Protocol):
    employer_name: str
    employer_type: str
    contract_type: str
    started_on: date
    ended_on: Optional[date]
    end_reason: Optional[str]


def same_employer_key(name: str) -> str:
    return " ".join(name.split()).casefold()


def is_employment(episode: Episode) -> bool:
    return episode.contract_type not in UNPAID_CONTRACTS


def is_rupture(episode: Episode) -> bool:
    reason = END_REASONS.get(episode.end_reason or "")
    return is_employment(episode) and reason is not None and reason.rupture


def contract_fits_employer(employer_type: str, contract_type: str) -> bool:
    """A self-employed person holds an independent activity, and only they do."""
    return (employer_type == "self_employed") == (contract_type == "independent")


def may_record(state: str) -> bool:
    return state in RECORDED_IN


def current(episodes: Iterable[Episode]):
    """The open episode that started last (the journey's `employment`), or None."""
    open_ones = [e for e in episodes if e.ended_on is None]
    return max(open_ones, key=lambda e: e.started_on) if open_ones else None


# ---------------------------------------------------------------------- R10: the avenant

@dataclass(frozen=True)
class SignedEmployer:
    """The employer of the signed convention: `name` None when it was signed without one."""

    name: Optional[str]
    self_employed: bool = False


def calls_for_avenant(state: str, signed: Optional[SignedEmployer], episode: Episode) -> bool:
    """R10: a new employer (or a person now self-employed) changes the convention's parties."""
    if state not in AVENANT_IN or signed is None or not is_employment(episode):
        return False
    if signed.name is None:
        return True
    return (signed.self_employed != (episode.employer_type == "self_employed")
            or same_employer_key(signed.name) != same_employer_key(episode.employer_name))


def avenant_summary(episode: Episode) -> str:
    contract = CONTRACT_LABELS.get(episode.contract_type, episode.contract_type)
    return f"Nouvel employeur : {episode.employer_name} ({contract}) à partir du {episode.started_on.isoformat()}"


# ---------------------------------------------------------------------- R20: the indicators

@dataclass(frozen=True)
class Stay:
    """A continuous time with one employer; `ended_on` None while it goes on."""

    employer: str
    started_on: date
    ended_on: Optional[date]
    days: int


@dataclass(frozen=True)
class TimeInFirm:
    longest: Optional[Stay]
    current: Optional[Stay]


@dataclass(frozen=True)
class RetentionPoint:
    months: int
    on: date
    employed: Optional[bool]  # None: the date is still to come


@dataclass(frozen=True)
class Retention:
    entry_on: Optional[date]
    points: tuple[RetentionPoint, ...]


@dataclass(frozen=True)
class Ruptures:
    count: int
    by_reason: dict[str, int]


@dataclass(frozen=True)
class Indicators:
    time_in_firm: TimeInFirm
    retention: Retention
    ruptures: Ruptures


def _days(start: date, to: Optional[date], today: date) -> int:
    return max(0, ((to or today) - start).days + 1)


def stays(episodes: Iterable[Episode], today: date) -> list[Stay]:
    """Employment episodes with one employer joined into continuous stays, by start date."""
    by_employer: dict[str, list[Episode]] = {}
    for episode in episodes:
        if is_employment(episode):
            by_employer.setdefault(same_employer_key(episode.employer_name), []).append(episode)
    result: list[Stay] = []
    for group in by_employer.values():
        group.sort(key=lambda e: e.started_on)
        name, start, end = group[0].employer_name, group[0].started_on, group[0].ended_on
        for episode in group[1:]:
            if end is not None and episode.started_on - end > timedelta(days=JOIN_GAP_DAYS):
                result.append(Stay(name, start, end, _days(start, end, today)))
                name, start, end = episode.employer_name, episode.started_on, episode.ended_on
            elif end is not None:
                end = None if episode.ended_on is None else max(end, episode.ended_on)
        result.append(Stay(name, start, end, _days(start, end, today)))
    return sorted(result, key=lambda s: (s.started_on, s.employer))


def time_in_firm(episodes: Sequence[Episode], today: date) -> TimeInFirm:
    all_stays = stays(episodes, today)
    longest = max(all_stays, key=lambda s: s.days, default=None)
    now = current([e for e in episodes if is_employment(e)])
    ongoing = None
    if now is not None:
        key = same_employer_key(now.employer_name)
        ongoing = next(s for s in all_stays if s.ended_on is None and same_employer_key(s.employer) == key)
    return TimeInFirm(longest=longest, current=ongoing)


def employed_on(episodes: Iterable[Episode], day: date) -> bool:
    return any(is_employment(e) and e.started_on <= day and (e.ended_on is None or e.ended_on >= day)
               for e in episodes)


def entry_into_employment(episodes: Iterable[Episode], since: Optional[date]) -> Optional[date]:
    starts = [e.started_on for e in episodes if is_employment(e) and (since is None or e.started_on >= since)]
    return min(starts, default=None)


def retention_start(episodes: Sequence[Episode], since: Optional[date]) -> Optional[date]:
    """R20: where retention is counted from: the admission for a person already in a job then (the
    "maintien dans l'emploi" the scheme exists for), else the first entry into employment after it."""
    if since is not None and employed_on(episodes, since):
        return since
    return entry_into_employment(episodes, since)


def retention(episodes: Sequence[Episode], since: Optional[date], today: date) -> Retention:
    entry = retention_start(episodes, since)
    if entry is None:
        return Retention(entry_on=None, points=())
    points = []
    for months in RETENTION_MONTHS:
        on = Duration(months=months).from_date(entry)
        points.append(RetentionPoint(months, on, None if on > today else employed_on(episodes, on)))
    return Retention(entry_on=entry, points=tuple(points))


def ruptures(episodes: Iterable[Episode], since: Optional[date]) -> Ruptures:
    by_reason: dict[str, int] = {}
    for episode in episodes:
        if is_rupture(episode) and (since is None or episode.ended_on >= since):
            by_reason[episode.end_reason] = by_reason.get(episode.end_reason, 0) + 1
    return Ruptures(count=sum(by_reason.values()), by_reason=by_reason)


def indicators(episodes: Sequence[Episode], *, since: Optional[date], today: date) -> Indicators:
    """Everything R20 needs of one journey's episodes; `since` is the admission date."""
    return Indicators(time_in_firm=time_in_firm(episodes, today), retention=retention(episodes, since, today),
                      ruptures=ruptures(episodes, since))
