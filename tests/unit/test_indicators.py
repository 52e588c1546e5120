"""R20: the quarterly steering indicators of a platform, computed from rows seeded directly on a
real SQLite file and on PostgreSQL (the `settings` fixture runs each test on both).

One platform, the first quarter of 2026, eleven journeys (letters A–K) whose every number below is
worked out by hand in `seed`'s comments; a journey of another platform must count nowhere.
"""
from __future__ import annotations

from datetime import date, datetime, timezone

import pytest
from sqlmodel import Session, select

from eaflow import accounts, indicators
from eaflow.indicators import Period
from eaflow.store.accompaniment import EmploymentEpisode, IntensityMonth
from eaflow.store.db import session_scope
from eaflow.store.accounts import StaffingPeriod, record_staffing
from eaflow.store.models import AuditEvent, CounsellorAssignment, Journey, User
from eaflow.workflows import rules

Q1 = Period(date(2026, 1, 1), date(2026, 3, 31))


def at(day: str, hour: int = 10) -> datetime:
    return datetime.fromisoformat(day).replace(hour=hour, tzinfo=timezone.utc)


def add_journey(session: Session, platform, journey_id: str, *, state: str, channel: str = "cdaph",
                situation: str = "seeking", prescribed: str, admitted: str | None = None,
                counsellor: str | None = None, events: tuple = (), **fields) -> None:
    """A journey, its prescription's audit event, and `events`: (day, hour, action, state) steps as the
    journey records them. Without steps, the indicators fall back on the projection's dates."""
    admitted_on = date.fromisoformat(admitted) if admitted else None
    prescribed_on = date.fromisoformat(prescribed)
    session.add(Journey(id=journey_id, platform_id=getattr(platform, "platform_id", platform), state=state,
                        channel=channel, situation=situation, prescribed_on=prescribed_on, admitted_on=admitted_on,
                        admission_delay_days=(admitted_on - prescribed_on).days if admitted_on else None,
                        counsellor_id=counsellor, **fields))
    session.flush()
    session.add(AuditEvent(journey_id=journey_id, at=at(prescribed, 8), actor_kind="system",
                           action="prescription_received", detail={"channel": channel},
                           step_key=f"{journey_id}/prescription"))
    for n, (day, hour, action, entered) in enumerate(events):
        detail = {"state": entered} if entered else {}
        session.add(AuditEvent(journey_id=journey_id, at=at(day, hour), actor_kind="system", action=action,
                               detail=detail, step_key=f"{journey_id}/{n}"))


def add_months(session: Session, journey_id: str, *months: tuple[str, int, int]) -> None:
    for month, minutes, workplace in months:
        session.add(IntensityMonth(journey_id=journey_id, month=date.fromisoformat(month), minutes=minutes,
                                   workplace_minutes=workplace, level=rules.r11_intensity_level(minutes)))


def add_episode(session: Session, journey_id: str, name: str, contract: str, started: str, ended: str | None = None,
                reason: str | None = None, employer_type: str = "private") -> None:
    session.add(EmploymentEpisode(
        id=f"emp-{journey_id}-{started}", journey_id=journey_id, employer_name=name, employer_type=employer_type,
        contract_type=contract, started_on=date.fromisoformat(started),
        ended_on=date.fromisoformat(ended) if ended else None, end_reason=reason))


def seed(url: str, platform) -> None:
    """The first quarter of 2026 of the platform (see each journey's comment)."""
    c1, c2 = platform.counsellor, platform.counsellor2  # 1 FTE and 0.05 FTE
    with session_scope(url) as s:
        # A: accompanied all quarter; its counsellor was c2 until 15 April (c1 since): c2's at the end of
        # March. Months: January 10 h (régulier), February 2 h 30 (suivi), March nothing (allégé).
        # In a CDI since 20 August 2025: 6 months on 20 February 2026, still in post (retained).
        add_journey(s, platform, "j-a", state="accompaniment", prescribed="2025-05-10", admitted="2025-06-02",
                    counsellor=c1, events=(("2025-06-02", 10, "admitted", "admitted"),
                                           ("2025-06-20", 10, "convention_signed", "accompaniment"),
                                           ("2026-01-12", 9, "interview_due", "accompaniment")))
        s.add(CounsellorAssignment(journey_id="j-a", counsellor_id=c2, started_at=at("2025-06-02"),
                                   ended_at=at("2026-04-15"), step_key="j-a/c2"))
        s.add(CounsellorAssignment(journey_id="j-a", counsellor_id=c1, started_at=at("2026-04-15"), step_key="j-a/c1"))
        add_months(s, "j-a", ("2025-12-01", 300, 100), ("2026-01-01", 600, 120), ("2026-02-01", 150, 0))
        add_episode(s, "j-a", "Boulangerie Durand", "cdi", "2025-08-20")
        # B: France Travail, employed, admitted 15 January (26 days after the prescription), in veille
        # since 27 February: in veille at the end, out of the caseload, March not an accompaniment month.
        # Her CDD at the town hall (held before admission) ended by a dismissal on 10 February.
        add_journey(s, platform, "j-b", state="veille", channel="france_travail", situation="employed",
                    prescribed="2025-12-20", admitted="2026-01-15", counsellor=c1, veille_until=date(2026, 6, 30),
                    events=(("2026-01-15", 10, "admitted", "admitted"),
                            ("2026-02-01", 10, "convention_signed", "accompaniment"),
                            ("2026-02-27", 9, "veille_started", "veille")))
        add_months(s, "j-b", ("2026-01-01", 800, 0), ("2026-02-01", 130, 60))
        add_episode(s, "j-b", "Mairie de Rennes", "cdd", "2025-10-01", "2026-02-10", "dismissal", "public")
        # C: Cap emploi, exited on 15 February at her request. January 1 h, February nothing (allégé).
        # An immersion (PMSMP) in January: an unpaid placement, not employment.
        add_journey(s, platform, "j-c", state="exited", channel="cap_emploi", prescribed="2025-09-01",
                    admitted="2025-10-01", counsellor=c2, exit_reason="person_request", exited_on=date(2026, 2, 15),
                    events=(("2025-10-01", 10, "admitted", "admitted"),
                            ("2025-10-20", 10, "convention_signed", "accompaniment"),
                            ("2026-02-10", 10, "exit_proposed", "exit_proposed"),
                            ("2026-02-15", 11, "journey_exited", "exited")))
        add_months(s, "j-c", ("2026-01-01", 60, 0))
        add_episode(s, "j-c", "Jardins du Parc", "pmsmp", "2026-01-12", "2026-01-23", "other")
        # D: CDAPH, leaving an ESAT, admitted 10 March (37 days), no recorded step (the projection's dates
        # stand in). March 3 h 20 (suivi), 30 min of it at the workplace. A CDD from 16 March.
        add_journey(s, platform, "j-d", state="accompaniment", situation="leaving_esat", prescribed="2026-02-01",
                    admitted="2026-03-10", counsellor=c2)
        add_months(s, "j-d", ("2026-03-01", 200, 30))
        add_episode(s, "j-d", "Restaurant Le Phare", "cdd", "2026-03-16")
        # E: Mission locale, on the waiting list since 20 February.
        add_journey(s, platform, "j-e", state="waiting_list", channel="mission_locale", prescribed="2026-02-20",
                    events=(("2026-02-20", 9, "intake_accepted", "consent"),
                            ("2026-02-20", 10, "waiting_list_entered", "waiting_list")))
        # F: France Travail, refused under R1 and R5.
        add_journey(s, platform, "j-f", state="refused", channel="france_travail", prescribed="2026-01-05",
                    refusal=[{"rule": "R1", "detail": "RQTH échue"}, {"rule": "R5", "detail": "subsidiarité"}],
                    events=(("2026-01-05", 9, "intake_refused", "refused"),))
        # G: moved to a département with a platform: transferred on 20 March. January 2 h (suivi), February
        # 0 h (a row), March 30 min. An interim mission in February–April 2025: 12 months on 1 February
        # 2026, not in employment then.
        add_journey(s, platform, "j-g", state="transferred", prescribed="2024-12-01", admitted="2025-01-10",
                    counsellor=c1, exit_reason="move", exited_on=date(2026, 3, 20),
                    events=(("2025-01-10", 10, "admitted", "admitted"),
                            ("2025-01-25", 10, "convention_signed", "accompaniment"),
                            ("2026-03-10", 10, "exit_proposed", "exit_proposed"),
                            ("2026-03-20", 10, "journey_transferred", "transferred")))
        add_months(s, "j-g", ("2026-01-01", 120, 0), ("2026-02-01", 0, 0), ("2026-03-01", 30, 0))
        add_episode(s, "j-g", "Intérim Ouest", "interim", "2025-02-01", "2025-04-30", "end_of_fixed_term")
        # H: received from another platform on 22 March, admitted here on 25 March (a new entry, left out
        # of the mean delay), no contact in March (allégé). Self-employed from 28 March.
        add_journey(s, platform, "j-h", state="admitted", prescribed="2025-04-01", admitted="2026-03-25",
                    counsellor=c1, transferred_from="j-elsewhere",
                    events=(("2026-03-22", 10, "journey_transferred_in", None),
                            ("2026-03-25", 10, "admitted", "admitted")))
        add_episode(s, "j-h", "H. conseil", "independent", "2026-03-28", employer_type="self_employed")
        # I: exited in December 2025 (no recorded step): counts nowhere this quarter.
        add_journey(s, platform, "j-i", state="exited", prescribed="2025-02-01", admitted="2025-03-01",
                    exit_reason="disengagement", exited_on=date(2025, 12, 20))
        # J: employed, exited on 10 January for disengagement (no recorded step). January: allégé. A CDD
        # since 20 July 2025: its 6 months fall on 20 January, after the exit: unknown.
        add_journey(s, platform, "j-j", state="exited", situation="employed", prescribed="2024-12-01",
                    admitted="2025-01-05", counsellor=c2, exit_reason="disengagement", exited_on=date(2026, 1, 10))
        add_episode(s, "j-j", "Garage Martin", "cdd", "2025-07-20")
        # K: in veille from 1 December 2025 to 20 January 2026: in veille during the quarter, not at its
        # end. January 1 h 30 (allégé), February 8 h (régulier), March nothing.
        add_journey(s, platform, "j-k", state="accompaniment", prescribed="2025-02-01", admitted="2025-03-01",
                    counsellor=c1, events=(("2025-03-01", 10, "admitted", "admitted"),
                                           ("2025-03-20", 10, "convention_signed", "accompaniment"),
                                           ("2025-12-01", 10, "veille_started", "veille"),
                                           ("2026-01-20", 10, "veille_ended", "accompaniment")))
        add_months(s, "j-k", ("2026-01-01", 90, 0), ("2026-02-01", 480, 0))
        # Another platform's person, accompanied all quarter, in a job, at the workplace: never counted here.
        other = accounts.create_platform(s, "56", "Plateforme du Morbihan")
        add_journey(s, other.id, "j-other", state="accompaniment", prescribed="2025-01-02", admitted="2025-02-01",
                    events=(("2025-02-01", 10, "admitted", "accompaniment"),))
        add_months(s, "j-other", ("2026-01-01", 900, 600))
        add_episode(s, "j-other", "Ailleurs SA", "cdi", "2025-03-01")


@pytest.fixture
def q1(settings, platform) -> dict:
    seed(settings.db_url, platform)
    with session_scope(settings.db_url) as session:
        return indicators.report(session, platform.platform_id, Q1)


# ------------------------------------------------------------------------------------------- activity

def test_r20_activity_persons_entries_prescriptions_and_waiting_list(q1, platform):
    assert (q1["platform"], q1["from"], q1["to"]) == (platform.platform_id, "2026-01-01", "2026-03-31")
    activity = q1["activity"]
    # A, B, C, D, G, H, J, K during the quarter; at its end A, B (veille), D, H, K.
    assert activity["persons_accompanied"] == 8
    assert activity["persons_accompanied_at_end"] == 5
    assert activity["new_entries"] == {
        "total": 3, "by_channel": {"cdaph": 2, "spe": 1},
        "by_prescriber": {"france_travail": 1, "cap_emploi": 0, "mission_locale": 0},
        "by_situation": {"seeking": 1, "employed": 1, "about_to_be_hired": 0, "leaving_esat": 1},
        "transfers_in": 1}
    assert activity["prescriptions"] == {"received": 3, "by_channel": {"cdaph": 1, "spe": 2}, "refused": 1,
                                         "refused_by_rule": {"R1": 1, "R3": 0, "R5": 1}}
    assert activity["waiting_list_at_end"] == 1
    # B 26 days, D 37 days; H (transferred in) left out.
    assert activity["admission_delay"] == {"mean_days": 31.5, "persons": 2}


def test_r20_r14_a_person_in_veille_is_counted_in_veille_and_out_of_the_caseload(q1, platform):
    assert q1["activity"]["veille"] == {"at_end": 1, "during_period": 2}  # B at the end; B and K during
    caseload = q1["resources"]["caseload"]
    # At the end of March: A (c2, by its assignment then), D (c2), H and K (c1); B in veille is not counted.
    assert caseload["persons"] == 4
    by_counsellor = {c["id"]: c["caseload"] for c in caseload["by_counsellor"]}
    assert by_counsellor == {platform.counsellor: 2, platform.counsellor2: 2}


def test_r20_r15_exits_by_reason_and_transfers(q1):
    exits = q1["activity"]["exits"]
    assert exits["total"] == 2
    assert exits["by_reason"] == {"person_request": 1, "move": 0, "non_renewal": 0, "disengagement": 1,
                                  "reorientation": 0, "death": 0}
    assert q1["activity"]["transfers"] == {"out": 1, "in": 1}  # G left on 20 March; H came on 22 March


# ------------------------------------------------------------------------------------------- resources

def test_r20_r7_resources_caseload_per_counsellor_and_per_fte(q1, platform):
    resources = q1["resources"]
    assert resources["counsellors"] == {"count": 2, "total_fte": 1.05}
    caseload = resources["caseload"]
    assert caseload["per_counsellor"] == 2.0
    assert caseload["per_fte"] == 3.8  # 4 / 1.05
    assert caseload["capacity"] == 21.0  # 20 per FTE
    assert caseload["persons_per_fte_limit"] == 20
    assert [c["name"] for c in caseload["by_counsellor"]] == ["Camille Conseil", "Dominique Demi"]


# ------------------------------------------------------------------------------------------- distance

def test_r20_r11_a_month_without_contact_is_allege_and_veille_months_are_left_out(q1):
    distance = q1["distance_from_employment"]
    assert distance["situation_at_entry"] == {"seeking": 5, "employed": 2, "about_to_be_hired": 0, "leaving_esat": 1}
    intensity = distance["intensity"]
    # A 3 months (régulier, suivi, allégé: March has no row), B 2 (March in veille), C 2, D 1 (March),
    # G 3, H 1, J 1, K 3 (January counts: the veille ended on the 20th).
    assert intensity["person_months"] == 16
    assert intensity["person_months_by_level"] == {"intensif": 1, "regulier": 2, "suivi": 4, "allege": 9}
    assert intensity["persons"] == 8
    # Mean of each person's months: A 250 min, B 465, D 200, K 190 (suivi); C, G, H, J allégé.
    assert intensity["persons_by_level"] == {"intensif": 0, "regulier": 0, "suivi": 4, "allege": 4}
    assert intensity["hours"] == 44.33  # 2 660 min
    assert intensity["mean_hours_per_month"] == 2.77  # 2 660 min / 16 months
    # R13: A 2 h in January, B 1 h in February, D 30 min in March (A's December is another quarter).
    assert distance["workplace_time"] == {"hours": 3.5}


# ------------------------------------------------------------------------------------------- employment

def test_r20_r16_employment_at_the_end_contracts_and_ruptures(q1):
    employment = q1["employment"]
    assert employment["persons_in_employment"] == {
        "at_end": 3,  # A (CDI), D (CDD), H (self-employed); B's contract ended
        "at_end_by_contract": {"cdi": 1, "cdd": 1, "interim": 0, "alternance": 0, "independent": 1},
        "at_end_by_employer_type": {"private": 2, "public": 0, "self_employed": 1},
        "during_period": 5}  # A, B, D, H, J (C's immersion is not employment)
    assert employment["contracts"] == {"ongoing_or_started": 5, "started": 2, "unpaid_placements": 1}
    assert employment["entries_into_employment"] == 2  # D and H
    # A 224 days (20 August – 31 March), D 16, H 4.
    assert employment["time_in_same_firm"] == {"mean_days": 81.3, "persons": 3}
    assert employment["ruptures"] == {"total": 1, "by_reason": {"dismissal": 1, "resignation": 0, "trial_period": 0,
                                                                "mutual_agreement": 0}}


def test_r20_retention_at_6_months_of_those_whose_date_falls_in_the_period(q1):
    retention = q1["employment"]["retention"]
    # A: 20 February, in post. J: 20 January, exited on 10 January: unknown, out of the rate.
    assert retention["6_months"] == {"due": 2, "retained": 1, "unknown": 1, "rate_percent": 100.0}
    # G: 1 February 2026, a year after the start of a mission that ended in April 2025.
    assert retention["12_months"] == {"due": 1, "retained": 0, "unknown": 0, "rate_percent": 0.0}
    assert retention["24_months"] == {"due": 0, "retained": 0, "unknown": 0, "rate_percent": None}


# ------------------------------------------------------------------------------------------- the report

def test_r20_r22_the_report_names_no_person(q1):
    text = repr(q1)
    for journey_id in ("j-a", "j-b", "j-c", "j-d", "j-e", "j-f", "j-g", "j-h", "j-i", "j-j", "j-k", "j-elsewhere"):
        assert journey_id not in text
    assert "Boulangerie" not in text and "Garage" not in text


def test_r20_every_row_has_a_french_label(q1):
    rows = indicators.rows(q1, "Plateforme d'Ille-et-Vilaine")
    assert rows[0] == indicators.Row("report", "platform", "Plateforme", "Plateforme d'Ille-et-Vilaine")
    for row in rows:
        assert row.label and row.label != f"{row.group}.{row.indicator}", row
    keys = [(r.group, r.indicator) for r in rows]
    assert len(keys) == len(set(keys))
    by_key = {(r.group, r.indicator): r for r in rows}
    assert by_key[("activity", "exits.by_reason.person_request")].label == \
        "Sorties : demande explicite de la personne"
    assert by_key[("distance_from_employment", "intensity.person_months_by_level.allege")].value == 9


def test_r20_an_empty_platform_gives_zeros_not_errors(settings, platform):
    with session_scope(settings.db_url) as session:
        result = indicators.report(session, platform.platform_id, Q1)
    assert result["activity"]["persons_accompanied"] == 0
    assert result["activity"]["admission_delay"] == {"mean_days": None, "persons": 0}
    assert result["resources"]["caseload"]["persons"] == 0
    assert result["distance_from_employment"]["intensity"]["mean_hours_per_month"] is None
    assert result["employment"]["retention"]["6_months"]["rate_percent"] is None


# ------------------------------------------------------------------------------------------- the period

@pytest.mark.parametrize("today, start, end", [
    (date(2026, 4, 1), date(2026, 1, 1), date(2026, 3, 31)),
    (date(2026, 6, 30), date(2026, 1, 1), date(2026, 3, 31)),
    (date(2026, 2, 14), date(2025, 10, 1), date(2025, 12, 31)),
    (date(2026, 12, 31), date(2026, 7, 1), date(2026, 9, 30)),
])
def test_r20_the_default_period_is_the_last_complete_quarter(today, start, end):
    assert indicators.last_complete_quarter(today) == Period(start, end)
    assert indicators.resolve_period(None, None, today) == Period(start, end)


def test_r20_a_period_is_at_most_366_days_and_ends_after_it_starts():
    assert indicators.period_errors(date(2024, 1, 1), date(2024, 12, 31)) == []  # 366 days (leap year)
    assert indicators.period_errors(date(2026, 3, 1), date(2026, 3, 1)) == []
    assert indicators.period_errors(date(2025, 1, 1), date(2026, 1, 1)) == []  # 365 + 1 days
    [error] = indicators.period_errors(date(2025, 1, 1), date(2026, 1, 2))  # 367 days
    assert error["field"] == "to"
    [error] = indicators.period_errors(date(2026, 3, 1), date(2026, 2, 28))
    assert error["field"] == "to"
    [error] = indicators.period_errors(None, date(2026, 2, 28))
    assert error["field"] == "from"


def test_r20_contracts_in_progress_do_not_grow_quarter_after_quarter(settings, platform):
    """Issue 14 (1): the contracts of the persons accompanied in the quarter only, each followed until
    the exit: J's CDD, still open in the file after J's exit on 10 January, counts in Q1, not after."""
    seed(settings.db_url, platform)
    counted = {}
    with session_scope(settings.db_url) as session:
        for name, period in (("Q1", Q1), ("Q2", Period(date(2026, 4, 1), date(2026, 6, 30))),
                             ("Q3", Period(date(2026, 7, 1), date(2026, 9, 30))),
                             ("Q4", Period(date(2026, 10, 1), date(2026, 12, 31)))):
            counted[name] = indicators.report(session, platform.platform_id, period)["employment"]["contracts"]
    assert counted["Q1"]["ongoing_or_started"] == 5  # A's CDI, B's CDD, D's CDD, H's activity, J's CDD
    for later in ("Q2", "Q3", "Q4"):  # A, D, H: the three still accompanied and in a job
        assert counted[later] == {"ongoing_or_started": 3, "started": 0, "unpaid_placements": 0}, later


def test_r7_r20_the_staffing_of_a_past_quarter_is_the_one_it_had(settings, platform):
    """Issue 14 (4): c1 goes part time (0.5) on 1 May, c2 leaves on 15 May: Q1 keeps 1 + 0.05 FTE and two
    counsellors; Q3 reads one counsellor at 0.5 FTE, and c1's capacity of then."""
    seed(settings.db_url, platform)
    with session_scope(settings.db_url) as session:
        for created in session.exec(select(StaffingPeriod)).all():  # the accounts were opened long ago
            created.since = at("2025-01-01")
        c1, c2 = session.get(User, platform.counsellor), session.get(User, platform.counsellor2)
        c1.fte, c2.active = 0.5, False
        record_staffing(session, c1, at=at("2026-05-01"))
        record_staffing(session, c2, at=at("2026-05-15"))
    q3 = Period(date(2026, 7, 1), date(2026, 9, 30))
    with session_scope(settings.db_url) as session:
        first, third = (indicators.report(session, platform.platform_id, p)["resources"] for p in (Q1, q3))
    assert first["counsellors"] == {"count": 2, "total_fte": 1.05}
    assert {c["id"]: c["fte"] for c in first["caseload"]["by_counsellor"]} == {
        platform.counsellor: 1.0, platform.counsellor2: 0.05}
    assert third["counsellors"] == {"count": 1, "total_fte": 0.5}
    assert [(c["id"], c["capacity"]) for c in third["caseload"]["by_counsellor"]] == [(platform.counsellor, 10.0)]
