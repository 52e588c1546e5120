"""R22/R20: a health or profile breakdown shows "< 5" for a cell of 1 to 4, and a second cell (or the
total behind a mean) when one masked cell alone could be found again by subtraction."""
from __future__ import annotations

from eaflow import small_numbers
from eaflow.small_numbers import MASK, protect, protect_cells


def test_r22_cells_of_one_to_four_are_masked_zero_stays():
    assert protect_cells({"a": 0, "b": 3, "c": 12, "d": 4}) == {"a": 0, "b": MASK, "c": 12, "d": MASK}


def test_r22_a_lone_masked_cell_takes_the_next_smallest_with_it():
    assert protect_cells({"a": 2, "b": 0, "c": 9, "d": 7}) == {"a": MASK, "b": 0, "c": 9, "d": MASK}


def test_r22_a_lone_masked_cell_among_zeros_masks_a_zero():
    assert protect_cells({"a": 0, "b": 3, "c": 0}) == {"a": MASK, "b": MASK, "c": 0}


def test_r22_nothing_small_nothing_masked():
    assert protect_cells({"a": 0, "b": 5, "c": 40}) == {"a": 0, "b": 5, "c": 40}


def test_r22_the_report_is_masked_in_a_copy_and_the_total_behind_a_mean_too():
    report = {"activity": {"persons_accompanied": 3, "exits": {"by_reason": {"death": 1}}},
              "distance_from_employment": {
                  "disability_nature": {"psychique": 1, "tsa": 0, "not_recorded": 20},
                  "time_without_employment": {"by_band": {"lt_6_months": 6, "2_to_5_years": 2, "not_recorded": 9},
                                              "mean_months": 10.5, "persons": 8}}}
    masked = protect(report)
    distance = masked["distance_from_employment"]
    assert distance["disability_nature"] == {"psychique": MASK, "tsa": 0, "not_recorded": MASK}
    assert distance["time_without_employment"] == {
        "by_band": {"lt_6_months": MASK, "2_to_5_years": MASK, "not_recorded": 9}, "mean_months": 10.5, "persons": MASK}
    assert masked["activity"] == report["activity"]  # not health data: as counted
    assert report["distance_from_employment"]["disability_nature"]["psychique"] == 1  # the original untouched


def test_r22_every_protected_breakdown_is_in_the_report():
    from eaflow import indicators
    from tests.unit.test_indicators_profile import facts
    result = indicators.compute(facts())
    for path, totals in small_numbers.PROTECTED.items():
        for each in (path, *totals):
            holder, _ = small_numbers._get(result, each)
            assert holder is not None, each
