"""R11 intensity and R13 workplace time, as pure functions of the recorded contacts."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timezone
from typing import Optional

import pytest
from hypothesis import given
from hypothesis import strategies as st

from eaflow.workflows.rules import (
    INTENSITY_LABELS,
    month_start,
    monthly_intensity,
    months_from,
    r11_accompaniment_minutes,
    r11_intensity_level,
    r11_label,
)

H = 60


@dataclass
class C:
    """A contact as R11 reads it (the `contact` row has the same attributes)."""

    occurred_on: date
    duration_minutes: int
    place: str = "service"
    reached: bool = True
    deleted_at: Optional[datetime] = None


@pytest.mark.parametrize(("minutes", "level"), [
    (12 * H + 1, "intensif"),  # 12 h 01: more than 12 h
    (12 * H, "regulier"),  # 12 h: "de 8 à 12 h" includes 12 h
    (8 * H, "regulier"),  # 8 h: "de 8 à 12 h" includes 8 h
    (8 * H - 1, "suivi"),  # 7 h 59
    (2 * H, "suivi"),  # 2 h: not "moins de 2 h"
    (2 * H - 1, "allege"),  # 1 h 59
    (0, "allege"),
    (24 * 60 * 31, "intensif"),
])
def test_r11_level_boundaries_exactly(minutes, level):
    assert r11_intensity_level(minutes) == level


def test_r11_labels_in_french():
    assert [r11_label(level) for level in ("intensif", "regulier", "suivi", "allege")] == \
        ["Intensif", "Régulier", "Suivi", "Allégé"]


def test_r11_negative_minutes_are_a_bug():
    with pytest.raises(ValueError):
        r11_intensity_level(-1)


@given(st.integers(min_value=0, max_value=100_000))
def test_r11_level_follows_the_text_for_any_minutes(minutes):
    level = r11_intensity_level(minutes)
    hours = minutes / 60
    expected = ("intensif" if hours > 12 else "regulier" if 8 <= hours <= 12
                else "suivi" if 2 <= hours < 8 else "allege")
    assert level == expected and level in INTENSITY_LABELS


@given(st.integers(min_value=0, max_value=5000), st.integers(min_value=0, max_value=5000))
def test_r11_more_minutes_never_lower_the_level(a, b):
    order = ["allege", "suivi", "regulier", "intensif"]
    low, high = sorted((a, b))
    assert order.index(r11_intensity_level(low)) <= order.index(r11_intensity_level(high))


# ------------------------------------------------------------------------ month by month
DAYS = st.dates(min_value=date(2024, 1, 1), max_value=date(2027, 12, 31))
DELETED = datetime(2027, 1, 1, tzinfo=timezone.utc)
CONTACTS = st.lists(st.builds(
    C, occurred_on=DAYS, duration_minutes=st.integers(min_value=0, max_value=1440),
    place=st.sampled_from(["service", "workplace", "home", "other"]), reached=st.booleans(),
    deleted_at=st.sampled_from([None, None, DELETED]),
), max_size=40)


def _in(contact: C, first: date, last: date) -> bool:
    return month_start(first) <= month_start(contact.occurred_on) <= month_start(last)


@given(CONTACTS, DAYS, DAYS)
def test_r11_every_month_of_the_range_and_the_sum_of_the_contacts(contacts, a, b):
    first, last = min(a, b), max(a, b)
    months = monthly_intensity(contacts, first, last)
    # Every calendar month of the range, in order, once, months without a contact included.
    assert [m.month for m in months] == months_from(first, last)
    assert months[0].month == month_start(first) and months[-1].month == month_start(last)
    assert all(m.month.day == 1 for m in months)
    assert len(months) == (last.year - first.year) * 12 + last.month - first.month + 1
    # The months add up to the contacts of the range: deleted contacts and attempts count nothing.
    counted = [c for c in contacts if _in(c, first, last) and c.deleted_at is None and c.reached]
    assert sum(m.minutes for m in months) == sum(c.duration_minutes for c in counted)
    assert sum(m.workplace_minutes for m in months) == \
        sum(c.duration_minutes for c in counted if c.place == "workplace")
    for month in months:
        assert 0 <= month.workplace_minutes <= month.minutes
        assert month.level == r11_intensity_level(month.minutes) and month.label == r11_label(month.level)
        if not any(month_start(c.occurred_on) == month.month for c in counted):
            assert (month.minutes, month.level, month.hours) == (0, "allege", 0)


@given(CONTACTS, DAYS, DAYS)
def test_r11_deleted_contacts_are_ignored(contacts, a, b):
    first, last = min(a, b), max(a, b)
    deleted = [C(c.occurred_on, c.duration_minutes, c.place, c.reached, DELETED) for c in contacts]
    live = [c for c in contacts if c.deleted_at is None]
    assert monthly_intensity(live + deleted, first, last) == monthly_intensity(live, first, last)
    assert all(m.minutes == 0 for m in monthly_intensity(deleted, first, last))


def test_r11_an_attempt_that_reached_no_one_is_not_accompaniment_time():
    attempt = C(date(2026, 3, 4), 30, reached=False)
    assert r11_accompaniment_minutes(attempt) == 0
    assert r11_accompaniment_minutes(C(date(2026, 3, 4), 30)) == 30


def test_r11_r13_a_year_with_gaps_and_workplace_time():
    contacts = [
        C(date(2026, 1, 31), 8 * H, "workplace"),  # 8 h at the workplace: régulier
        C(date(2026, 3, 1), 12 * H),
        C(date(2026, 3, 31), 1, "workplace"),  # 12 h 01: intensif
        C(date(2026, 4, 15), 119, "home"),  # 1 h 59: allégé
        C(date(2026, 5, 2), 2 * H, "workplace", deleted_at=DELETED),  # deleted: May is empty
        C(date(2026, 6, 2), 45, reached=False),  # an unanswered call
        C(date(2027, 1, 1), 600),  # outside the range
    ]
    months = monthly_intensity(contacts, date(2025, 12, 15), date(2026, 6, 30))
    assert [(f"{m.month:%Y-%m}", m.minutes, m.workplace_minutes, m.level) for m in months] == [
        ("2025-12", 0, 0, "allege"),
        ("2026-01", 480, 480, "regulier"),
        ("2026-02", 0, 0, "allege"),
        ("2026-03", 721, 1, "intensif"),
        ("2026-04", 119, 0, "allege"),
        ("2026-05", 0, 0, "allege"),
        ("2026-06", 0, 0, "allege"),
    ]
    assert months[3].hours == 12.02 and months[1].workplace_hours == 8 and months[3].label == "Intensif"


def test_months_from_crosses_years_and_an_empty_range():
    assert months_from(date(2025, 11, 30), date(2026, 2, 1)) == \
        [date(2025, 11, 1), date(2025, 12, 1), date(2026, 1, 1), date(2026, 2, 1)]
    assert monthly_intensity([], date(2026, 2, 1), date(2026, 1, 31)) == []
