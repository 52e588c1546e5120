"""The bounds of workflows/plausibility.py applied to what each write path receives, with the facts of
the file they need (the journey's first day, the person's birth date) and the policy's (issue 18).

Every write path calls one of these before it writes (API and pages alike, through the services): a
value out of its bounds is a 422 naming its field, with the French sentence of what would be
accepted, and nothing is written. `eaflow data check` (`records_out_of_bounds`) runs the same
checks over what is already recorded.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Iterator

from sqlmodel import Session, select

from eaflow.durations import Duration
from eaflow.policy import Policy
from eaflow.services.db import db_scope
from eaflow.services.refusals import Refusal
from eaflow.settings import Settings
from eaflow.store.models import Journey, Person
from eaflow.workflows import plausibility as bounds

REFUSED = "Certaines valeurs ne peuvent pas être vraies : rien n'a été enregistré."

# The dates of task outcomes and action bodies, by the field's name: a past event of the journey, or a
# day of the journey that may lie ahead.
PAST_FIELDS = frozenset({"occurred_on", "evaluated_on", "informed_on", "contacted_on", "acknowledged_on", "filed_on",
                         "signed_on", "choice_on", "decided_on", "on"})
AHEAD_FIELDS = frozenset({"follow_up_on", "until"})


@dataclass(frozen=True)
class FileDates:
    """What a file's bounds are counted from."""

    first_day: date | None  # the prescription: nothing of the journey predates it
    born: date | None


def file_dates(session: Session, journey_id: str) -> FileDates:
    journey, person = session.get(Journey, journey_id), session.get(Person, journey_id)
    return FileDates(journey.prescribed_on if journey else None, person.birth_date if person else None)


def refuse(errors: list[dict[str, str]]) -> None:
    if errors:
        raise Refusal(422, REFUSED, errors=errors)


def _error(field: str, message: str | None) -> list[dict[str, str]]:
    return [{"field": field, "message": message}] if message else []


def _before(iso: str, day: date) -> date:
    return Duration.parse(iso).before(datetime(day.year, day.month, day.day)).date()


def intake_errors(body: Any, policy: Policy, today: date) -> list[dict[str, str]]:
    """An intake (IntakeRequest): the person's age, the prescription's date, the consent's, the RQTH's end."""
    intake = policy.intake
    oldest = _before(intake.prescription_max_age, today)
    errors = _error("person.birth_date", bounds.birth_date(body.person.birth_date, today))
    errors += _error("prescribed_on", bounds.decision_date(
        body.prescribed_on, today, oldest, "La prescription" if body.channel.is_spe else "La décision de la CDAPH"))
    if body.consent is not None:
        earliest = _before(intake.consent_margin, body.prescribed_on)
        errors += _error("consent.given_on", bounds.consent_date(body.consent.given_on, earliest, today))
    if body.rights.rqth_until is not None:
        errors += _error("rights.rqth_until", bounds.rqth_until(body.rights.rqth_until, today))
    return errors


def dates_errors(values: dict[str, Any], dates: FileDates, today: date, prefix: str = "") -> list[dict[str, str]]:
    """The dates of a body or an outcome (flat, by field name): past events of the journey are neither in
    the future nor before its first day; days ahead not before its first day."""
    errors = []
    for name, value in values.items():
        if isinstance(value, str):
            try:
                value = date.fromisoformat(value)
            except ValueError:
                continue
        if not isinstance(value, date):
            continue
        if name in PAST_FIELDS:
            errors += _error(prefix + name, bounds.past_event(value, dates.first_day, today))
        elif name in AHEAD_FIELDS:
            errors += _error(prefix + name, bounds.journey_date(value, dates.first_day))
    return errors


def job_errors(started_on: date, dates: FileDates) -> list[dict[str, str]]:
    return _error("started_on", bounds.job_start(started_on, dates.born, date.today()))


def check_dates(session: Session, journey_id: str, values: dict[str, Any], prefix: str = "") -> None:
    """Refuse (422) the body or outcome `values` of a journey whose dates are out of their bounds."""
    refuse(dates_errors(values, file_dates(session, journey_id), date.today(), prefix))


def check_paths(settings: Settings, journey_id: str, values: dict[str, Any], *, only_first_day: frozenset[str] = frozenset(),
                ) -> None:
    """The same for dates named by their path in the body ("agreement.on": …), in a read of their own;
    a None value is not there to check. `only_first_day`: paths whose future a domain rule answers
    itself, with its rule id (R19's dates): only the journey's first day is checked here."""
    with db_scope(settings) as session:
        dates = file_dates(session, journey_id)
    errors = []
    for path, value in values.items():
        if value is None:
            continue
        if path in only_first_day:
            errors += _error(path, bounds.journey_date(value, dates.first_day))
            continue
        head, _, name = path.rpartition(".")
        errors += dates_errors({name: value}, dates, date.today(), f"{head}." if head else "")
    refuse(errors)


# ------------------------------------------------------------------------------- what is recorded
@dataclass(frozen=True)
class OutOfBounds:
    table: str
    id: str
    field: str
    value: str
    bound: str

    def line(self) -> str:
        return f"{self.table} {self.id} {self.field}={self.value!r}: {self.bound}"


def records_out_of_bounds(session: Session, platform_id: str | None, today: date) -> Iterator[OutOfBounds]:
    """The records of a platform (all without one) that break the bounds: persons, journeys, contacts,
    employment episodes."""
    from eaflow.store.accompaniment import Contact, EmploymentEpisode

    journeys = select(Journey, Person).join(Person, Person.journey_id == Journey.id, isouter=True)
    if platform_id is not None:
        journeys = journeys.where(Journey.platform_id == platform_id)
    files: dict[str, FileDates] = {}
    for journey, person in session.exec(journeys).all():
        files[journey.id] = FileDates(journey.prescribed_on, person.birth_date if person else None)
        checks = [("journey", journey.id, "prescribed_on", journey.prescribed_on,
                   bounds.decision_date(journey.prescribed_on, today, bounds.EARLIEST_DATE))]
        if journey.rqth_until is not None:
            checks.append(("journey", journey.id, "rqth_until", journey.rqth_until,
                           bounds.rqth_until(journey.rqth_until, today)))
        if person is not None and journey.anonymised_at is None:
            checks.append(("person", journey.id, "birth_date", person.birth_date, bounds.birth_date(person.birth_date, today)))
            for field in ("first_name", "last_name"):
                checks.append(("person", journey.id, field, getattr(person, field), bounds.name(getattr(person, field))))
            if person.consent_given_on is not None:
                checks.append(("person", journey.id, "consent_given_on", person.consent_given_on,
                               bounds.consent_date(person.consent_given_on, bounds.EARLIEST_DATE, today)))
        for table, row_id, field, value, bound in checks:
            if bound:
                yield OutOfBounds(table, row_id, field, str(value), bound)
    if not files:
        return
    for contact in session.exec(select(Contact).where(Contact.journey_id.in_(list(files)))).all():
        bound = bounds.past_event(contact.occurred_on, files[contact.journey_id].first_day, today)
        if bound:
            yield OutOfBounds("contact", str(contact.id), "occurred_on", str(contact.occurred_on), bound)
    for episode in session.exec(select(EmploymentEpisode).where(EmploymentEpisode.journey_id.in_(list(files)))).all():
        bound = bounds.job_start(episode.started_on, files[episode.journey_id].born, today)
        if bound:
            yield OutOfBounds("employment_episode", str(episode.id), "started_on", str(episode.started_on), bound)
