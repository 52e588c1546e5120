"""R16/R20: what the indicators need of a journey's employment episodes, and R10's avenant on a new
employer, as pure functions of the episodes and a date."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Optional

import pytest

from eaflow import employment as e
from eaflow.store.accompaniment import CONTRACT_TYPES, EMPLOYMENT_END_REASONS
from eaflow.workflows.types import JourneyState

TODAY = date(2027, 6, 15)


@dataclass
class Ep:
    employer_name: str
    started_on: date
    ended_on: Optional[date] = None
    end_reason: Optional[str] = None
    contract_type: str = "cdd"
    employer_type: str = "private"


def test_r16_every_end_reason_and_contract_has_a_label_and_a_side():
    assert set(e.END_REASONS) == set(EMPLOYMENT_END_REASONS)
    assert set(e.CONTRACT_LABELS) == set(CONTRACT_TYPES)
    assert {r for r, reason in e.END_REASONS.items() if reason.rupture} == {
        "dismissal", "resignation", "trial_period", "mutual_agreement"}


def test_r16_episodes_recorded_from_admission_while_accompanied():
    allowed = {s for s in JourneyState if e.may_record(s)}
    assert allowed == {JourneyState.admitted, JourneyState.convention, JourneyState.accompaniment,
                       JourneyState.veille, JourneyState.relaunch, JourneyState.exit_proposed}
    assert not e.may_record("exited") and not e.may_record("waiting_list") and e.may_record("veille")


@pytest.mark.parametrize("entry, months, on", [
    (date(2026, 8, 31), 6, date(2027, 2, 28)),
    (date(2027, 8, 31), 6, date(2028, 2, 29)),  # leap year
    (date(2026, 8, 31), 12, date(2027, 8, 31)),
    (date(2026, 8, 31), 24, date(2028, 8, 31)),
    (date(2026, 1, 31), 6, date(2026, 7, 31)),
    (date(2026, 3, 31), 6, date(2026, 9, 30)),
])
def test_r20_retention_dates_are_calendar_months(entry, months, on):
    result = e.retention([Ep("Boulangerie Durand", entry)], since=None, today=date(2030, 1, 1))
    assert result.entry_on == entry
    assert next(p for p in result.points if p.months == months).on == on


def test_r20_retention_at_6_months_on_the_last_day_of_february():
    """Entry on 31 August 2026: six months later is 28 February 2027, the last day counted."""
    left_the_day_before = [Ep("Boulangerie Durand", date(2026, 8, 31), date(2027, 2, 27), "resignation")]
    left_that_day = [Ep("Boulangerie Durand", date(2026, 8, 31), date(2027, 2, 28), "end_of_fixed_term")]
    for episodes, employed in ((left_the_day_before, False), (left_that_day, True)):
        six = e.retention(episodes, since=date(2026, 6, 1), today=TODAY).points[0]
        assert (six.months, six.on, six.employed) == (6, date(2027, 2, 28), employed)


def test_r20_retention_with_any_employer_and_unknown_until_the_date_comes():
    episodes = [
        Ep("Boulangerie Durand", date(2026, 8, 31), date(2026, 12, 31), "end_of_fixed_term"),
        Ep("Mairie de Rennes", date(2027, 1, 4), contract_type="cdi", employer_type="public"),
    ]
    result = e.retention(episodes, since=date(2026, 6, 1), today=date(2027, 8, 30))
    assert [(p.months, p.on, p.employed) for p in result.points] == [
        (6, date(2027, 2, 28), True),  # with another employer
        (12, date(2027, 8, 31), None),  # tomorrow: unknown yet
        (24, date(2028, 8, 31), None),
    ]
    on_the_day = e.retention(episodes, since=date(2026, 6, 1), today=date(2027, 8, 31)).points[1]
    assert on_the_day.employed is True


def test_r20_retention_between_two_jobs_is_not_employed():
    episodes = [
        Ep("Boulangerie Durand", date(2026, 1, 5), date(2026, 6, 30), "trial_period"),
        Ep("Garage Lemoine", date(2026, 7, 20)),
    ]
    six = e.retention(episodes, since=None, today=TODAY).points[0]
    assert (six.on, six.employed) == (date(2026, 7, 5), False)


def test_r20_entry_is_the_first_job_started_during_the_accompaniment():
    already_in_post = Ep("Boulangerie Durand", date(2019, 3, 1), date(2026, 9, 30), "dismissal")
    immersion = Ep("Jardins de Cocagne", date(2026, 10, 5), date(2026, 10, 16), "other", contract_type="pmsmp")
    new_job = Ep("Garage Lemoine", date(2026, 11, 2), contract_type="cdi")
    seeking = e.retention([immersion, new_job], since=date(2026, 9, 1), today=TODAY)
    assert seeking.entry_on == date(2026, 11, 2)  # an immersion is not a job
    assert [p.employed for p in seeking.points] == [True, None, None]
    # A job held at admission: retention runs from the admission (issue 14, 10), whatever comes next.
    held = e.retention([already_in_post, immersion, new_job], since=date(2026, 9, 1), today=TODAY)
    assert held.entry_on == date(2026, 9, 1)
    assert [p.employed for p in held.points] == [True, None, None]
    assert e.retention([], since=None, today=TODAY) == e.Retention(None, ())


def test_r20_time_in_the_same_firm_joins_consecutive_episodes_with_one_employer():
    episodes = [
        Ep("Boulangerie Durand", date(2026, 1, 5), date(2026, 3, 31), "end_of_fixed_term"),
        Ep("boulangerie  DURAND", date(2026, 4, 1), date(2026, 6, 26), "end_of_fixed_term"),  # a Friday
        Ep("Boulangerie Durand", date(2026, 6, 29), date(2026, 8, 31), "end_of_fixed_term"),  # the Monday after
        Ep("Mairie de Rennes", date(2026, 10, 1), date(2027, 3, 31), "end_of_fixed_term", employer_type="public"),
        Ep("Boulangerie Durand", date(2027, 4, 1), contract_type="cdi"),  # back, after another employer
    ]
    stays = e.stays(episodes, TODAY)
    assert [(s.employer, s.started_on, s.ended_on, s.days) for s in stays] == [
        ("Boulangerie Durand", date(2026, 1, 5), date(2026, 8, 31), 239),
        ("Mairie de Rennes", date(2026, 10, 1), date(2027, 3, 31), 182),
        ("Boulangerie Durand", date(2027, 4, 1), None, 76),
    ]
    result = e.time_in_firm(episodes, TODAY)
    assert result.longest == stays[0] and result.current == stays[2]


def test_r20_a_gap_of_more_than_a_weekend_breaks_the_stay():
    episodes = [
        Ep("Boulangerie Durand", date(2026, 1, 5), date(2026, 1, 30), "end_of_fixed_term"),
        Ep("Boulangerie Durand", date(2026, 2, 3), date(2026, 2, 27), "end_of_fixed_term"),  # 4 days later
    ]
    assert [s.days for s in e.stays(episodes, TODAY)] == [26, 25]
    result = e.time_in_firm(episodes, TODAY)
    assert result.current is None and result.longest.started_on == date(2026, 1, 5)


def test_r20_overlapping_jobs_and_unpaid_placements():
    episodes = [
        Ep("Boulangerie Durand", date(2026, 1, 5), contract_type="cdi"),
        Ep("Ménage Services", date(2027, 5, 3), contract_type="cdd"),  # a second part-time job, started last
        Ep("Jardins de Cocagne", date(2027, 6, 1), contract_type="stage"),  # not employment
    ]
    result = e.time_in_firm(episodes, TODAY)
    assert result.current.employer == "Ménage Services" and result.current.days == 44
    assert result.longest.employer == "Boulangerie Durand" and result.longest.days == 527
    assert e.current(episodes).employer_name == "Jardins de Cocagne"  # the journey's current episode
    assert e.time_in_firm([], TODAY) == e.TimeInFirm(None, None)


def test_r20_ruptures_during_the_accompaniment():
    episodes = [
        Ep("Ancienne entreprise", date(2015, 1, 1), date(2026, 5, 31), "dismissal"),  # before admission
        Ep("Boulangerie Durand", date(2026, 7, 1), date(2026, 7, 20), "trial_period"),
        Ep("Garage Lemoine", date(2026, 8, 1), date(2026, 12, 31), "end_of_fixed_term"),
        Ep("Mairie de Rennes", date(2027, 1, 4), date(2027, 3, 31), "mutual_agreement"),
        Ep("Fromagerie Leroux", date(2027, 4, 1), date(2027, 4, 30), "resignation"),
        Ep("Jardins de Cocagne", date(2027, 5, 2), date(2027, 5, 5), "resignation", contract_type="pmsmp"),
        Ep("Atelier Léa", date(2027, 5, 10), date(2027, 6, 1), "mobility", "independent", "self_employed"),
    ]
    result = e.ruptures(episodes, since=date(2026, 6, 1))
    assert result.count == 3
    assert result.by_reason == {"trial_period": 1, "mutual_agreement": 1, "resignation": 1}
    assert e.ruptures(episodes, since=None).count == 4


def test_r20_indicators_of_a_journey():
    episodes = [Ep("Boulangerie Durand", date(2026, 8, 31), date(2026, 12, 31), "end_of_fixed_term")]
    result = e.indicators(episodes, since=date(2026, 8, 1), today=TODAY)
    assert result.retention.entry_on == date(2026, 8, 31)
    assert [p.employed for p in result.retention.points] == [False, None, None]
    assert result.time_in_firm.longest.days == 123 and result.time_in_firm.current is None
    assert result.ruptures.count == 0


def test_contract_fits_employer():
    assert e.contract_fits_employer("self_employed", "independent")
    assert e.contract_fits_employer("public", "cdd")
    assert not e.contract_fits_employer("private", "independent")
    assert not e.contract_fits_employer("self_employed", "cdi")


SIGNED_DURAND = e.SignedEmployer("Boulangerie Durand")


@pytest.mark.parametrize("state, signed, episode, expected", [
    ("accompaniment", SIGNED_DURAND, Ep("Mairie de Rennes", date(2027, 1, 4), employer_type="public"), True),
    ("veille", SIGNED_DURAND, Ep("Mairie de Rennes", date(2027, 1, 4)), True),
    ("accompaniment", SIGNED_DURAND, Ep(" boulangerie durand ", date(2027, 1, 4)), False),  # same employer
    ("accompaniment", e.SignedEmployer(None), Ep("Garage Lemoine", date(2027, 1, 4)), True),  # first employer
    ("accompaniment", SIGNED_DURAND, Ep("Atelier Léa", date(2027, 1, 4), None, None, "independent",
                                        "self_employed"), True),
    ("accompaniment", e.SignedEmployer("Atelier Léa", self_employed=True),
     Ep("Atelier Léa", date(2027, 1, 4), None, None, "independent", "self_employed"), False),
    ("accompaniment", SIGNED_DURAND, Ep("Jardins de Cocagne", date(2027, 1, 4), contract_type="pmsmp"), False),
    ("admitted", SIGNED_DURAND, Ep("Mairie de Rennes", date(2027, 1, 4)), False),
    ("relaunch", SIGNED_DURAND, Ep("Mairie de Rennes", date(2027, 1, 4)), False),
    ("accompaniment", None, Ep("Mairie de Rennes", date(2027, 1, 4)), False),  # nothing signed to amend
])
def test_r10_a_new_employer_calls_for_an_avenant(state, signed, episode, expected):
    assert e.calls_for_avenant(state, signed, episode) is expected


def test_r10_avenant_summary_in_french():
    episode = Ep("Mairie de Rennes", date(2027, 1, 4), contract_type="cdd")
    assert e.avenant_summary(episode) == "Nouvel employeur : Mairie de Rennes (CDD) à partir du 2027-01-04"


def test_r20_retention_of_a_person_already_in_a_job_counts_from_the_admission():
    """Issue 14 (10): the "maintien" case: employed before admission, retention runs from admission."""
    already = [Ep("Boulangerie Durand", date(2024, 3, 1), contract_type="cdi")]
    result = e.retention(already, since=date(2026, 6, 1), today=TODAY)
    assert result.entry_on == date(2026, 6, 1)
    assert [(p.months, p.on, p.employed) for p in result.points] == [
        (6, date(2026, 12, 1), True), (12, date(2027, 6, 1), True), (24, date(2028, 6, 1), None)]
    lost = [Ep("Boulangerie Durand", date(2024, 3, 1), date(2026, 9, 30), "dismissal", contract_type="cdi")]
    assert e.retention(lost, since=date(2026, 6, 1), today=TODAY).points[0].employed is False
    # and it is not an entry into employment: that one counts the jobs found after admission
    assert e.entry_into_employment(already, date(2026, 6, 1)) is None
