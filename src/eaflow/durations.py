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
