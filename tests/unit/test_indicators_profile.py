"""R20 §V.A.6 3° and 4°, §VI.A: the profile at entry recorded at the shared evaluation (R9) and the
employers' sector and size, counted over a hand-built set of facts (no database, no clock), with
"non renseigné" for the persons evaluated before the profile existed or not evaluated yet."""
from __future__ import annotations

from datetime import date, datetime, timezone

from eaflow import indicators, profile
from eaflow.indicators import Facts, JourneyFacts, Period
from eaflow.store.accompaniment import EmploymentEpisode
from eaflow.store.models import Journey, Platform, SharedEvaluation

Q1 = Period(date(2026, 1, 1), date(2026, 3, 31))
BEFORE = datetime(2025, 6, 1, 10, tzinfo=timezone.utc)


def evaluation(journey_id: str, **profile_fields) -> SharedEvaluation:
    return SharedEvaluation(journey_id=journey_id, evaluated_on=date(2025, 6, 15), wishes="w", needs="n",
                            resources="r", recorded_by="u-c1", **profile_fields)


def person(journey_id: str, state: str = "accompaniment", evaluated: SharedEvaluation | None = None,
           episodes: tuple[EmploymentEpisode, ...] = ()) -> JourneyFacts:
    journey = Journey(id=journey_id, platform_id="p1", state=state, channel="cdaph", situation="seeking",
                      prescribed_on=date(2025, 5, 1), admitted_on=date(2025, 6, 1) if state != "waiting_list" else None)
    return JourneyFacts(journey=journey, timeline=[(BEFORE, state)], evaluation=evaluated, episodes=list(episodes))


def job(journey_id: str, started: str, naf: str | None, size: str | None, ended: str | None = None) -> EmploymentEpisode:
    return EmploymentEpisode(id=f"e-{journey_id}-{started}", journey_id=journey_id, employer_name=f"E {started}",
                             employer_type="private", contract_type="cdi", started_on=date.fromisoformat(started),
                             ended_on=date.fromisoformat(ended) if ended else None,
                             end_reason="resignation" if ended else None,
                             employer_naf_section=naf, employer_size_band=size)


def facts() -> Facts:
    return Facts(platform=Platform(id="p1", name="P", department="75"), period=Q1, counsellors=[], journeys=[
        person("j1", evaluated=evaluation("j1", disability_nature="psychique", months_without_employment=3,
                                          lifetime_employment_years=10, education_level="level_3",
                                          status_at_entry="job_seeker", medico_social_support=["samsah", "health_follow_up"]),
               episodes=(job("j1", "2024-01-01", "C", "5000_plus", ended="2024-12-31"),
                         job("j1", "2025-09-01", "Q", "10_49"))),
        person("j2", evaluated=evaluation("j2", disability_nature="psychique", months_without_employment=30,
                                          lifetime_employment_years=2, education_level="level_4",
                                          status_at_entry="esat_worker", medico_social_support=["none"]),
               episodes=(job("j2", "2025-10-01", None, None),)),
        person("j3", evaluated=evaluation("j3", disability_nature="tsa", lifetime_employment_years=0,
                                          education_level="below_3", status_at_entry="student",
                                          medico_social_support=["savs"])),
        person("j4", evaluated=evaluation("j4", disability_nature="moteur", months_without_employment=8,
                                          lifetime_employment_years=0.5, education_level="level_5",
                                          status_at_entry="job_seeker")),
        person("j5"),  # admitted, not evaluated yet
        person("j6", evaluated=evaluation("j6")),  # evaluated before the profile existed
        person("j7", state="waiting_list", evaluated=evaluation("j7", disability_nature="psychique")),  # not accompanied
    ])


def test_r20_disability_nature_of_the_persons_accompanied():
    assert indicators.disability_nature(facts()) == {
        "psychique": 2, "tsa": 1, "tdi": 0, "cognitif": 0, "sensoriel": 0, "moteur": 1, "multiple": 0, "autre": 0,
        "not_recorded": 2}


def test_r20_time_without_employment_before_entry_by_band_and_mean():
    assert indicators.time_without_employment(facts()) == {
        "by_band": {"lt_6_months": 1, "6_to_12_months": 1, "1_to_2_years": 0, "2_to_5_years": 1,
                    "5_years_or_more": 0, "never_worked": 1, "not_recorded": 2},
        "mean_months": 13.7, "persons": 3}  # (3 + 30 + 8) / 3, the person who never worked left out


def test_r20_lifetime_in_employment_by_band_and_mean():
    assert indicators.lifetime_employment(facts()) == {
        "by_band": {"none": 1, "lt_1_year": 1, "1_to_5_years": 1, "5_to_10_years": 0, "10_to_20_years": 1,
                    "20_years_or_more": 0, "not_recorded": 2},
        "mean_years": 3.1, "persons": 4}  # (10 + 2 + 0 + 0.5) / 4


def test_r20_initial_education_level_and_status_at_entry():
    f = facts()
    assert indicators.education_level(f) == {"below_3": 1, "level_3": 1, "level_4": 1, "level_5": 1, "level_6": 0,
                                             "level_7": 0, "level_8": 0, "not_recorded": 2}
    assert indicators.status_at_entry(f) == {"job_seeker": 2, "esat_worker": 1, "employee": 0, "self_employed": 0,
                                             "student": 1, "inactive": 0, "other": 0, "not_recorded": 2}


def test_r20_medico_social_support_counts_a_person_under_each_of_theirs():
    assert indicators.medico_social_support(facts()) == {"none": 1, "samsah": 1, "savs": 1, "health_follow_up": 1,
                                                         "other": 0, "not_recorded": 3}


def test_r20_employers_of_the_persons_in_employment_by_naf_section_and_size():
    employers = indicators.employers(facts())
    assert employers["by_naf_section"] == {**dict.fromkeys(profile.NAF_SECTIONS, 0), "Q": 1, "not_recorded": 1}
    assert employers["by_size_band"] == {"0_9": 0, "10_49": 1, "50_249": 0, "250_4999": 0, "5000_plus": 0,
                                         "not_recorded": 1}


def test_r20_the_report_and_its_rows_carry_the_profile_in_french():
    result = indicators.compute(facts())
    assert result["distance_from_employment"]["disability_nature"]["psychique"] == 2
    assert result["employment"]["employers"]["by_size_band"]["10_49"] == 1
    by_key = {(row.group, row.indicator): row for row in indicators.rows(result)}
    row = by_key[("distance_from_employment", "disability_nature.not_recorded")]
    assert row.label == "Nature du handicap des personnes accompagnées : non renseigné" and row.value == 2
    assert by_key[("employment", "employers.by_naf_section.Q")].label.endswith("Q — Santé humaine et action sociale")
    assert all(not row.label.startswith(("distance_from_employment", "employment.")) for row in by_key.values())


def test_r20_bands_hold_their_lower_bound():
    assert profile.band_of(6, profile.MONTHS_WITHOUT_EMPLOYMENT_BANDS) == "6_to_12_months"
    assert profile.band_of(60, profile.MONTHS_WITHOUT_EMPLOYMENT_BANDS) == "5_years_or_more"
    assert profile.band_of(0, profile.EMPLOYMENT_YEARS_BANDS) == "none"
    assert profile.band_of(0.01, profile.EMPLOYMENT_YEARS_BANDS) == "lt_1_year"
