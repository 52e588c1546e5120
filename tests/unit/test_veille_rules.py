"""R14 as a pure rule: the whole veille, its first start and every extension together, lasts at most
the policy's `[veille] max_duration` from its first day (§IV.D: "strictement limitée dans le temps")."""
from __future__ import annotations

from datetime import date

import pytest

from eaflow.workflows.rules import french_date, r14_veille_latest_end, r14_veille_refusals

SINCE = date(2026, 3, 3)


def refusals(until: date, *, today: date, since: date | None, max_duration: str = "P6M") -> list[dict[str, str]]:
    return r14_veille_refusals(agreement_on=today, until=until, reactivation_conditions="À sa demande.",
                               starts_on=today, max_duration=max_duration, veille_since=since)


def test_r14_an_extension_cannot_outlast_the_bound_counted_from_the_first_day():
    today = date(2026, 7, 20)  # four months into the veille: P6M from today would allow January 2027
    assert refusals(date(2026, 10, 1), today=today, since=SINCE) == [{"field": "until", "message": (
        "La veille a commencé le 3 mars 2026 : prolongations comprises, elle ne peut pas dépasser le "
        "3 septembre 2026 (6 mois, R14).")}]
    assert refusals(date(2026, 9, 3), today=today, since=SINCE) == []  # up to the bound itself


def test_r14_a_first_start_is_bounded_from_its_own_day_and_says_so_for_its_extensions():
    assert refusals(date(2026, 9, 3), today=SINCE, since=None) == []
    [error] = refusals(date(2026, 9, 4), today=SINCE, since=None)
    assert error == {"field": "until", "message": (
        "La veille commence le 3 mars 2026 : prolongations comprises, elle ne pourra pas dépasser le "
        "3 septembre 2026 (6 mois, R14).")}


def test_r14_the_bound_speaks_the_policys_units():
    [error] = refusals(date(2026, 4, 10), today=date(2026, 3, 20), since=SINCE, max_duration="P30D")
    assert error["message"].endswith("le 2 avril 2026 (30 jours, R14).")
    assert r14_veille_latest_end(date(2026, 8, 31), "P6M") == date(2027, 2, 28)  # calendar months


@pytest.mark.parametrize("day, words", [(date(2026, 3, 1), "1er mars 2026"), (date(2026, 8, 15), "15 août 2026")])
def test_r14_dates_in_french(day, words):
    assert french_date(day) == words
