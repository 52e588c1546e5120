"""Small numbers protect people (R22, R20): in a report of indicators, a breakdown of persons by their
health, disability or profile shows "< 5" instead of a count from 1 to 4, so that nobody can be
recognised from a line of it ("the one person with a TSA on the platform").

Which breakdowns, decided here once: every breakdown of persons of group 3 ("éloignement à l'emploi",
§V.A.6 3°), the profile the shared evaluation records being health data (nature of the disability,
medico-social support, §VI.A) or close to it (statut, formation, durations): `PROTECTED`. The
intensity's person-months (months, not persons, drawn as a chart), groups 1, 2 and 4 (activity,
staff, employment and employers) are not health data and are shown as counted. The means beside the
bands are shown (a duration, not a count), their number of persons is masked with the bands.

How, for one breakdown (`protect_cells`):

1. every cell from 1 to `THRESHOLD - 1` becomes `MASK`; 0 stays 0 (nobody to recognise);
2. when exactly one cell is masked, the total (the persons accompanied, published in group 1) would
   give it back by subtraction: the next smallest cell is masked too (the smallest non-zero one, a zero
   one when every other cell is 0);
3. a figure that sums cells of the breakdown (`PROTECTED`'s totals: the persons behind a mean) is
   masked as soon as one cell is.

`protect` applies it to a whole report (a copy: the report computed stays as it is), once, in the
service every output goes through (eaflow.services.reports), so that the JSON, the CSV, the XLSX and
the page show the same masks. A masked value is the text "< 5"; every other value keeps its type.
"""
from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

THRESHOLD = 5
MASK = "< 5"

# breakdown path → the paths of the figures that sum some of its cells.
PROTECTED: Mapping[str, tuple[str, ...]] = {
    "distance_from_employment.situation_at_entry": (),
    "distance_from_employment.intensity.persons_by_level": (),
    "distance_from_employment.disability_nature": (),
    "distance_from_employment.time_without_employment.by_band": (
        "distance_from_employment.time_without_employment.persons",),
    "distance_from_employment.lifetime_employment.by_band": (
        "distance_from_employment.lifetime_employment.persons",),
    "distance_from_employment.education_level": (),
    "distance_from_employment.status_at_entry": (),
    "distance_from_employment.medico_social_support": (),
}


def is_small(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 < value < THRESHOLD


def protect_cells(cells: Mapping[str, Any]) -> dict[str, Any]:
    """One breakdown (category → count), its small cells masked (steps 1 and 2 of the docstring)."""
    out = dict(cells)
    masked = [key for key, value in cells.items() if is_small(value)]
    for key in masked:
        out[key] = MASK
    if len(masked) == 1:
        others = [(value, index, key) for index, (key, value) in enumerate(cells.items())
                  if key not in masked and isinstance(value, int)]
        nonzero = [other for other in others if other[0] > 0]
        if nonzero or others:
            out[min(nonzero or others)[2]] = MASK
    return out


def _get(report: Mapping[str, Any], path: str) -> tuple[dict[str, Any] | None, str]:
    """The dict that holds the last key of `path`, and that key (None when the report has no such path)."""
    *parents, last = path.split(".")
    node: Any = report
    for key in parents:
        node = node.get(key) if isinstance(node, dict) else None
    return (node if isinstance(node, dict) and last in node else None), last


def protect(report: Mapping[str, Any]) -> dict[str, Any]:
    """The report with every protected breakdown's small cells masked (see the module's docstring)."""
    out = copy.deepcopy(dict(report))
    for path, totals in PROTECTED.items():
        holder, key = _get(out, path)
        if holder is None:
            continue
        cells = protect_cells(holder[key])
        holder[key] = cells
        if MASK in cells.values():
            for total in totals:
                total_holder, total_key = _get(out, total)
                if total_holder is not None:
                    total_holder[total_key] = MASK
    return out
