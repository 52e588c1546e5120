"""R20, §V.A.6 2° "Indicateurs relatifs aux ressources mobilisées": what the managers declare
(store/resources.py) as the indicators read it, on a real database (SQLite and PostgreSQL), and the
checks of a declaration (services/resources.py `check`, no database).

The fixture, worked out by hand: the platform declares for 2026
- Q1: 5 FTE in all = accompagnement 3.5 + coordination 0.75 + gestion 0.5 + partenariats 0.25, that is
  70 %, 15 %, 10 %, 5 %; 2 holders of the titre professionnel, 1 preparing it;
- Q2: 6 FTE = 4 + 1 + 0.5 + 0.5; 3 holders;
- funding: État 120 000 €, Agefiph 60 000 €, FIPHP 15 000,50 €, autres 4 999,50 € (Conseil
  départemental): 200 000 € in all, that is 60 %, 30 %, 7.5 % (7.50025), 2.5 % (2.49975);
- trainings: delivered "Job coaching" × 2 and "Méthode IPS" × 1 (3), planned "Accueil TSA" × 4.
2025 has a Q4 of 9 FTE and no year declaration; another platform declares 2026 Q1 with 50 FTE.
"""
from __future__ import annotations

from datetime import date

import pytest
from sqlmodel import Session

from eaflow import accounts, indicators
from eaflow.indicators import Period
from eaflow.services.refusals import Refusal
from eaflow.services.resources import check
from eaflow.store.db import session_scope
from eaflow.store.resources import ResourceQuarter, ResourceTraining, ResourceYear

Q1 = Period(date(2026, 1, 1), date(2026, 3, 31))
H1 = Period(date(2026, 1, 1), date(2026, 6, 30))
Q3 = Period(date(2026, 7, 1), date(2026, 9, 30))
Q4_2025 = Period(date(2025, 10, 1), date(2025, 12, 31))


def quarter(session: Session, platform_id: str, year: int, number: int, total: float, split: tuple, holders: int,
            in_training: int = 0) -> None:
    accompaniment, coordination, management, partnerships = split
    session.add(ResourceQuarter(platform_id=platform_id, year=year, quarter=number, total_fte=total,
                                fte_accompaniment=accompaniment, fte_coordination=coordination,
                                fte_management=management, fte_partnerships=partnerships, title_holders=holders,
                                title_in_training=in_training))


def seed(url: str, platform_id: str) -> None:
    with session_scope(url) as s:
        quarter(s, platform_id, 2026, 1, 5.0, (3.5, 0.75, 0.5, 0.25), 2, 1)
        quarter(s, platform_id, 2026, 2, 6.0, (4.0, 1.0, 0.5, 0.5), 3)
        quarter(s, platform_id, 2025, 4, 9.0, (9.0, 0, 0, 0), 0)
        year = ResourceYear(platform_id=platform_id, year=2026, funding_state_cents=12_000_000,
                            funding_agefiph_cents=6_000_000, funding_fiphp_cents=1_500_050,
                            funding_other_cents=499_950, funding_other_label="Conseil départemental",
                            trainings_declared=True)
        s.add(year)
        s.flush()
        for status, nature, count in (("delivered", "Job coaching", 2), ("planned", "Accueil TSA", 4),
                                      ("delivered", "Méthode IPS", 1)):
            s.add(ResourceTraining(resource_year_id=year.id, status=status, nature=nature, count=count))
        other = accounts.create_platform(s, "22", "Plateforme des Côtes-d'Armor")
        quarter(s, other.id, 2026, 1, 50.0, (50.0, 0, 0, 0), 40)


def resources_of(settings, platform, period: Period) -> dict:
    with session_scope(settings.db_url) as session:
        return indicators.report(session, platform.platform_id, period)["resources"]


def test_r20_an_undeclared_period_is_none_never_zero(settings, platform):
    result = resources_of(settings, platform, Q1)
    assert result["declarations"] == {"staff": False, "funding": False, "trainings": False}
    assert result["total_fte"] is None
    assert result["accompaniment_fte"] == {"declared": None, "counsellors": 1.05}  # c1 1 FTE + c2 0.05 FTE
    assert all(v == {"fte": None, "percent": None} for v in result["time_split"].values())
    assert result["funding"]["amounts"] == {"state": None, "agefiph": None, "fiphp": None, "other": None,
                                            "total": None}
    assert result["trainings"] == {"delivered": {"count": None, "by_nature": []},
                                   "planned": {"count": None, "by_nature": []}}
    assert result["title_holders"] == {"holders": None, "in_training": None}
    # the lines computed from the accounts are as before
    assert result["counsellors"] == {"count": 2, "total_fte": 1.05}
    assert result["caseload"]["persons_per_fte_limit"] == 20


def test_r20_the_declared_resources_of_a_quarter_and_its_year(settings, platform):
    seed(settings.db_url, platform.platform_id)
    result = resources_of(settings, platform, Q1)
    assert result["declarations"] == {"staff": True, "funding": True, "trainings": True}
    assert result["total_fte"] == 5.0
    assert result["accompaniment_fte"] == {"declared": 3.5, "counsellors": 1.05}
    assert result["time_split"] == {"accompaniment": {"fte": 3.5, "percent": 70.0},
                                    "coordination": {"fte": 0.75, "percent": 15.0},
                                    "management": {"fte": 0.5, "percent": 10.0},
                                    "partnerships": {"fte": 0.25, "percent": 5.0}}
    assert result["funding"] == {
        "amounts": {"state": 120000.0, "agefiph": 60000.0, "fiphp": 15000.5, "other": 4999.5, "total": 200000.0},
        "percent": {"state": 60.0, "agefiph": 30.0, "fiphp": 7.5, "other": 2.5},
        "other_label": "Conseil départemental"}
    assert result["trainings"] == {
        "delivered": {"count": 3, "by_nature": [{"nature": "Job coaching", "count": 2},
                                                {"nature": "Méthode IPS", "count": 1}]},
        "planned": {"count": 4, "by_nature": [{"nature": "Accueil TSA", "count": 4}]}}
    assert result["title_holders"] == {"holders": 2, "in_training": 1}


def test_r20_the_staff_is_the_one_of_the_quarter_holding_the_periods_last_day(settings, platform):
    seed(settings.db_url, platform.platform_id)
    half = resources_of(settings, platform, H1)
    assert half["total_fte"] == 6.0 and half["title_holders"]["holders"] == 3
    assert half["funding"]["amounts"]["total"] == 200000.0  # the year of the period's end
    q3 = resources_of(settings, platform, Q3)  # Q3 not declared; the year is
    assert q3["declarations"] == {"staff": False, "funding": True, "trainings": True}
    assert q3["total_fte"] is None and q3["time_split"]["accompaniment"]["percent"] is None
    last_year = resources_of(settings, platform, Q4_2025)  # a quarter, but no year declaration in 2025
    assert last_year["total_fte"] == 9.0 and last_year["funding"]["amounts"]["state"] is None
    assert last_year["trainings"]["delivered"]["count"] is None


def test_r20_an_operators_part_does_not_take_the_platforms_declaration(settings, platform):
    seed(settings.db_url, platform.platform_id)
    with session_scope(settings.db_url) as session:
        facts = indicators.load(session, platform.platform_id, Q1)
        part = indicators.for_operator(session, facts, "op-35")
        assert indicators.resource_indicators(part)["total_fte"] is None
        assert indicators.resource_indicators(facts)["total_fte"] == 5.0


def test_r20_the_rows_say_non_declare_and_carry_the_texts_wording(settings, platform):
    with session_scope(settings.db_url) as session:
        empty = {row.indicator: row for row in indicators.rows(indicators.report(session, platform.platform_id, Q1))
                 if row.group == "resources"}
    assert empty["total_fte"].value is None
    assert empty["total_fte"].label == "Nombre total d'ETP affectés à la plateforme : non déclaré"
    assert empty["funding.percent.agefiph"].label == "Financements mobilisés : Agefiph (%) : non déclaré"
    assert empty["trainings.planned.count"].label == ("Formations prévues pour l'année à suivre : nombre : "
                                                      "non déclaré")
    assert empty["accompaniment_fte.counsellors"].value == 1.05  # from the accounts: always there
    assert "non déclaré" not in empty["accompaniment_fte.counsellors"].label
    assert not any(key.startswith("declarations") for key in empty)
    seed(settings.db_url, platform.platform_id)
    with session_scope(settings.db_url) as session:
        rows = {row.indicator: row for row in indicators.rows(indicators.report(session, platform.platform_id, Q1))
                if row.group == "resources"}
    assert rows["total_fte"].label == "Nombre total d'ETP affectés à la plateforme" and rows["total_fte"].value == 5.0
    assert rows["time_split.management.percent"].label == "Répartition du temps de travail : gestion (%)"
    assert rows["funding.amounts.fiphp"].label == "Financements mobilisés : FIPHP (euros)"
    assert rows["funding.amounts.fiphp"].value == 15000.5
    assert rows["funding.amounts.other"].label == "Financements mobilisés : autres (euros) — Conseil départemental"
    assert rows["trainings.delivered.by_nature.1"].label == "Formations délivrées dans l'année : Méthode IPS"
    assert rows["trainings.planned.count"].label == "Formations prévues pour l'année à suivre : nombre"
    assert rows["title_holders.holders"].label.startswith("Professionnels titulaires du titre professionnel")
    for row in rows.values():  # every line has its label, every cell is a number (or empty)
        assert not row.label.startswith("resources.") and "non déclaré" not in row.label
        assert row.value is None or isinstance(row.value, (int, float)), row


# ------------------------------------------------------------------------- the checks of a declaration

ON = date(2026, 5, 15)
STAFF = {"total_fte": "5,5", "fte_by_mission": {"accompaniment": "4", "coordination": 0.5, "management": "0,5",
                                                 "partnerships": 0.5}, "title_holders": 2}


def fields_of(year: int, payload) -> dict[str, str]:
    with pytest.raises(Refusal) as refused:
        check(year, payload, ON)
    assert refused.value.status == 422
    return {e["field"]: e["message"] for e in refused.value.errors}


def test_r20_french_numbers_are_read_and_blank_parts_are_not_declared():
    declaration = check(2026, {"quarters": {"1": STAFF, "2": None},
                               "funding": {"state": "120 000", "agefiph": 0, "fiphp": "0", "other": "0"},
                               "trainings": []}, ON)
    assert declaration.quarters[1].total_fte == 5.5 and declaration.quarters[1].title_in_training == 0
    assert declaration.quarters[1].fte_by_mission == {"accompaniment": 4.0, "coordination": 0.5,
                                                      "management": 0.5, "partnerships": 0.5}
    assert 2 not in declaration.quarters
    assert declaration.funding["state"] == 12_000_000 and declaration.funding["other_label"] == ""
    assert declaration.trainings == []  # declared: none this year
    assert check(2026, {}, ON).funding is None and check(2026, {}, ON).trainings is None


def test_r20_the_missions_must_add_up_to_the_total_fte():
    wrong = {**STAFF, "total_fte": 6}
    errors = fields_of(2026, {"quarters": {"1": wrong}})
    assert list(errors) == ["quarters.1.fte_by_mission"]
    assert errors["quarters.1.fte_by_mission"] == ("Les ETP par mission du trimestre 1 (4 + 0,5 + 0,5 + 0,5 = 5,5) "
                                                   "doivent faire l'ETP total (6).")


def test_r20_each_bad_field_is_named():
    errors = fields_of(2026, {
        "quarters": {"1": {"total_fte": "abc", "fte_by_mission": {"accompaniment": -1}, "title_holders": 1.5},
                     "3": STAFF, "5": STAFF},
        "funding": {"state": 1, "agefiph": "0,001", "fiphp": 0, "other": 10},
        "trainings": [{"status": "done", "nature": "", "count": 0},
                      {"status": "planned", "nature": "IPS", "count": 1},
                      {"status": "planned", "nature": "ips", "count": 2}],
        "comment": "x"})
    assert set(errors) == {
        "quarters.1.total_fte", "quarters.1.fte_by_mission.accompaniment", "quarters.1.fte_by_mission.coordination",
        "quarters.1.fte_by_mission.management", "quarters.1.fte_by_mission.partnerships", "quarters.1.title_holders",
        "quarters.3",  # not begun on 15 May 2026
        "quarters.5", "funding.agefiph", "funding.other_label", "trainings.0.status", "trainings.0.nature",
        "trainings.0.count", "trainings.2.nature", "comment"}
    assert errors["quarters.3"].startswith("Ce trimestre n'a pas commencé")
    assert errors["funding.other_label"] == "Indiquez qui apporte les autres financements."


def test_r20_the_year_is_one_of_the_dispositif():
    assert list(fields_of(2016, {})) == ["year"]
    assert list(fields_of(2028, {})) == ["year"]
    assert list(fields_of(2026, {"year": 2025})) == ["year"]
