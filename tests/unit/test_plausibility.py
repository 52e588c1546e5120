"""Issue 18: the bounds of what can be true, each at its boundary and one past it
(eaflow/workflows/plausibility.py)."""
from __future__ import annotations

from datetime import date, timedelta

import pytest
from pydantic import ValidationError

from eaflow.workflows import plausibility as bounds
from eaflow.workflows.field_errors import field_errors
from eaflow.workflows.plausibility import CheckedText

TODAY = date(2026, 12, 6)
DAY = timedelta(days=1)


def test_a_birth_date_gives_an_age_of_at_most_120_years():
    assert bounds.birth_date(date(1906, 12, 6), TODAY) is None  # 120 years today
    refused = bounds.birth_date(date(1906, 12, 5), TODAY)
    assert "plus de 120 ans" in refused and "06/12/1906" in refused
    assert bounds.birth_date(date(96, 1, 1), TODAY)  # year 96
    assert bounds.birth_date(TODAY, TODAY) is None and "futur" in bounds.birth_date(TODAY + DAY, TODAY)


def test_a_prescription_is_neither_in_the_future_nor_older_than_the_policy_allows():
    oldest = date(2024, 12, 6)
    assert bounds.decision_date(TODAY, TODAY, oldest) is None
    assert "futur" in bounds.decision_date(TODAY + DAY, TODAY, oldest)
    assert bounds.decision_date(oldest, TODAY, oldest) is None
    assert "06/12/2024" in bounds.decision_date(oldest - DAY, TODAY, oldest)
    assert bounds.decision_date(date(650, 3, 1), TODAY, oldest)  # the seventh century
    assert bounds.decision_date(TODAY + DAY, TODAY, oldest, "La décision de la CDAPH").startswith("La décision")


def test_a_consent_is_given_between_the_prescription_less_its_margin_and_today():
    earliest = date(2026, 5, 6)
    assert bounds.consent_date(earliest, earliest, TODAY) is None and bounds.consent_date(TODAY, earliest, TODAY) is None
    assert bounds.consent_date(earliest - DAY, earliest, TODAY)
    assert "futur" in bounds.consent_date(TODAY + DAY, earliest, TODAY)
    assert bounds.consent_date(date(2036, 12, 6), earliest, TODAY)  # ten years ahead


def test_an_rqth_ends_within_ten_years_or_is_permanent():
    assert bounds.rqth_until(date(2036, 12, 6), TODAY) is None
    beyond = bounds.rqth_until(date(2036, 12, 7), TODAY)
    assert "sans limitation de durée" in beyond and "06/12/2036" in beyond
    assert bounds.rqth_until(date(9999, 12, 31), TODAY)


def test_a_past_event_of_the_journey_lies_between_its_first_day_and_today():
    first = date(2026, 3, 2)
    assert bounds.past_event(first, first, TODAY) is None and bounds.past_event(TODAY, first, TODAY) is None
    assert "précède le début du parcours" in bounds.past_event(first - DAY, first, TODAY)
    assert "futur" in bounds.past_event(TODAY + DAY, first, TODAY, "Le contact")
    assert bounds.past_event(date(1901, 1, 1), first, TODAY)  # a contact in 1901
    assert bounds.past_event(date(1899, 12, 31), None, TODAY)  # before 1900, without a journey to count from


def test_a_day_of_the_journey_ahead_is_not_before_its_first_day():
    first = date(2026, 3, 2)
    assert bounds.journey_date(date(2027, 6, 1), first) is None and bounds.journey_date(first, first) is None
    assert bounds.journey_date(first - DAY, first)


def test_an_employment_starts_after_the_persons_16th_birthday():
    born = date(2000, 6, 15)
    assert bounds.job_start(date(2016, 6, 15), born, TODAY) is None
    assert "15/06/2016" in bounds.job_start(date(2016, 6, 14), born, TODAY)
    assert bounds.job_start(date(1, 1, 1), None, TODAY)  # year 1
    assert bounds.job_start(date(2010, 1, 1), None, TODAY) is None  # it may predate the journey


def test_names_hold_nothing_invisible_and_free_text_only_line_breaks_and_tabs():
    assert bounds.name("Léa Martin-Le Goff, d'Arvor") is None
    assert "U+0007" in bounds.name("Mar\x07tin") and "U+200F" in bounds.name("Martin\u200f")
    assert bounds.name("Martin\ud800") and bounds.name("Martin\n")
    assert bounds.free_text("Première ligne.\n\tSeconde.\r\n") is None
    assert "U+001B" in bounds.free_text("esc\x1b[0m") and bounds.free_text("\x7f") and bounds.free_text("\ud83d")
    assert bounds.free_text("emoji 👩‍💻 et RLM \u200f") is None  # format characters are text's business


class Person(CheckedText):
    last_name: str
    note: str | None = None


def test_bodies_keep_text_in_nfc_and_refuse_it_beside_its_field():
    assert Person(last_name="Le\u0301a").last_name == "Léa"
    with pytest.raises(ValidationError) as refused:
        Person(last_name="Martin\u202e", note="ok")
    [error] = field_errors(refused.value, "person")
    assert error["field"] == "person.last_name" and "invisible" in error["message"]
    with pytest.raises(ValidationError) as refused:
        Person(last_name="Martin", note="\x00")
    assert field_errors(refused.value)[0]["field"] == "note"
