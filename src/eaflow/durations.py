"""ISO 8601 durations (PnYnMnWnDTnHnMnS) with calendar arithmetic.

Pure and deterministic: workflows use it with workflow time. Months and years move the calendar
date (31 January + P1M is 28 or 29 February), days and smaller units are exact.
"""
from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta

_PATTERN = re.compile(
    r"^P(?!$)(?:(?P<years>\d+)Y)?(?:(?P<months>\d+)M)?(?:(?P<weeks>\d+)W)?(?:(?P<days>\d+)D)?"
    r"(?:T(?=\d)(?:(?P<hours>\d+)H)?(?:(?P<minutes>\d+)M)?(?:(?P<seconds>\d+(?:\.\d+)?)S)?)?$"
)


@dataclass(frozen=True)
class Duration:
    years: int = 0
    months: int = 0
    exact: timedelta = timedelta()

    @classmethod
    def parse(cls, text: str) -> "Duration":
        match = _PATTERN.match(text.strip()) if isinstance(text, str) else None
        if not match:
            raise ValueError(f"not an ISO 8601 duration: {text!r} (expected e.g. P7D, P3M, PT5S)")
        g = {k: v for k, v in match.groupdict().items() if v is not None}
        exact = timedelta(
            weeks=int(g.get("weeks", 0)),
            days=int(g.get("days", 0)),
            hours=int(g.get("hours", 0)),
            minutes=int(g.get("minutes", 0)),
            seconds=float(g.get("seconds", 0)),
        )
        return cls(int(g.get("years", 0)), int(g.get("months", 0)), exact)

    def after(self, moment: datetime) -> datetime:
        return _add_months(moment, self.years * 12 + self.months) + self.exact

    def before(self, moment: datetime) -> datetime:
        return _add_months(moment - self.exact, -(self.years * 12 + self.months))

    def from_date(self, day: date) -> date:
        return self.after(datetime(day.year, day.month, day.day)).date()

    def is_zero(self) -> bool:
        return self.years == 0 and self.months == 0 and self.exact == timedelta()


def _add_months(moment: datetime, months: int) -> datetime:
    if months == 0:
        return moment
    index = moment.year * 12 + (moment.month - 1) + months
    year, month = divmod(index, 12)
    month += 1
    day = min(moment.day, calendar.monthrange(year, month)[1])
    return moment.replace(year=year, month=month, day=day)


def after(moment: datetime, iso: str) -> datetime:
    return Duration.parse(iso).after(moment)


# ---------------------------------------------------------------------------------- in French words
# Pure, so that the workflows' refusals (eaflow/workflows/rules.py) and the administrators' pages
# (eaflow/services/policy_words.py) say a duration the same way, keeping the units the policy wrote.
# unit letter → (singular, plural, feminine); "TM" is the minute (M after the T)
UNIT_WORDS: dict[str, tuple[str, str, bool]] = {
    "Y": ("an", "ans", False), "M": ("mois", "mois", False), "W": ("semaine", "semaines", True),
    "D": ("jour", "jours", False), "H": ("heure", "heures", True), "TM": ("minute", "minutes", True),
    "S": ("seconde", "secondes", True),
}
_PART = re.compile(r"(\d+(?:\.\d+)?)([YMWDHS])")


def _number(text: str) -> str:
    value = float(text)
    return str(int(value)) if value.is_integer() else f"{value:g}".replace(".", ",")


def duration_parts(iso: str) -> list[tuple[str, str]]:
    """(number as written in French, unit letter) of each non-zero part, in the order of the text."""
    Duration.parse(iso)  # the same grammar as the policy: anything else is refused here too
    dates, _, times = iso.strip()[1:].partition("T")
    parts = [(n, u) for n, u in _PART.findall(dates)] + [(n, "TM" if u == "M" else u) for n, u in _PART.findall(times)]
    return [(_number(n), unit) for n, unit in parts if float(n) != 0]


def unit_word(number: str, unit: str) -> str:
    singular, plural, _ = UNIT_WORDS[unit]
    return singular if number in ("0", "1") or (number.startswith(("0,", "1,"))) else plural


def join_words(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " et " + items[-1]


def duration_words(iso: str) -> str:
    """'P3M' → '3 mois', 'PT48H' → '48 heures', 'P1Y6M' → '1 an et 6 mois', 'P0D' → 'aucun délai'."""
    parts = duration_parts(iso)
    if not parts:
        return "aucun délai"
    return join_words([f"{number} {unit_word(number, unit)}" for number, unit in parts])
