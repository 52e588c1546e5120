"""The entry rules of DOMAIN.md (R1, R3, R5, R6, R7) as pure functions of facts and a date."""
from __future__ import annotations

from datetime import date, timedelta

import pytest

from eaflow.workflows.rules import (
    PERSONS_PER_FTE,
    age_on,
    evaluate_intake,
    normalise_boe_item,
    r1_eligibility,
    r3_consent,
    r5_subsidiarity,
    r6_priority_group,
    r6_waiting_list_key,
    r7_can_take_one_more,
    r7_capacity,
)
from eaflow.workflows.types import Channel, Consent, ConsentBy, IntakeFacts, Rights, Situation

TODAY = date(2026, 11, 22)


def facts(**changes) -> IntakeFacts:
    """A prescription every rule accepts; each test changes the one fact it is about."""
    values = dict(
        birth_date=date(1990, 5, 17),
        channel=Channel.france_travail,
        prescribed_on=date(2026, 11, 2),
        situation=Situation.seeking,
        rights=Rights(rqth_until=date(2030, 1, 31)),
        subsidiarity_reason="Les services de droit commun ne permettent pas un suivi sur le lieu de travail.",
        consent=Consent(given_on=date(2026, 11, 2), by=ConsentBy.person),
    )
    values.update(changes)
    return IntakeFacts(**values)


def rules_of(refusals) -> list[str]:
    return [r.rule for r in refusals]


def test_a_complete_prescription_passes_every_entry_rule():
    assert evaluate_intake(facts(), TODAY) == []


# --- R1 eligibility -------------------------------------------------------------------------

def test_r1_the_day_before_the_16th_birthday_is_refused():
    refusals = r1_eligibility(facts(birth_date=date(2010, 11, 23)), TODAY)
    assert rules_of(refusals) == ["R1"]
    assert "15 ans" in refusals[0].detail and "16 ans" in refusals[0].detail


def test_r1_the_day_of_the_16th_birthday_is_eligible():
    assert r1_eligibility(facts(birth_date=date(2010, 11, 22)), TODAY) == []


def test_r1_a_29_february_birthday_turns_16_on_29_february():
    born = date(2012, 2, 29)
    assert rules_of(r1_eligibility(facts(birth_date=born), date(2028, 2, 28))) == ["R1"]
    assert r1_eligibility(facts(birth_date=born), date(2028, 2, 29)) == []
    # In a common year, the birthday counts from 1 March (28 February is still the day before).
    assert age_on(born, date(2029, 2, 28)) == 16
    assert age_on(born, date(2029, 3, 1)) == 17


def test_r1_an_rqth_ending_today_is_eligible():
    assert r1_eligibility(facts(rights=Rights(rqth_until=TODAY)), TODAY) == []


def test_r1_an_rqth_ended_yesterday_is_refused():
    refusals = r1_eligibility(facts(rights=Rights(rqth_until=TODAY - timedelta(days=1))), TODAY)
    assert rules_of(refusals) == ["R1"]
    assert "21/11/2026" in refusals[0].detail


def test_r1_a_permanent_rqth_is_eligible():
    assert r1_eligibility(facts(rights=Rights(rqth_permanent=True)), TODAY) == []


@pytest.mark.parametrize("item", ["2°", "11°", "1°", "4°", "9°", "10°", "2", "2º", " 11° "])
def test_r1_a_valid_boe_item_is_eligible_without_rqth(item):
    assert r1_eligibility(facts(rights=Rights(boe_category=item)), TODAY) == []


def test_r1_the_5th_boe_item_is_refused_and_said_so():
    refusals = r1_eligibility(facts(rights=Rights(boe_category="5°")), TODAY)
    assert rules_of(refusals) == ["R1"]
    assert "5°" in refusals[0].detail


@pytest.mark.parametrize("item", ["7°", "6°", "8°"])
def test_r1_a_repealed_boe_item_is_refused(item):
    refusals = r1_eligibility(facts(rights=Rights(boe_category=item)), TODAY)
    assert rules_of(refusals) == ["R1"]
    assert item in refusals[0].detail


def test_r1_no_rqth_nor_boe_is_refused():
    refusals = r1_eligibility(facts(rights=Rights()), TODAY)
    assert rules_of(refusals) == ["R1"]
    assert "RQTH" in refusals[0].detail


def test_r1_too_young_and_without_rights_gives_both_reasons():
    refusals = r1_eligibility(facts(birth_date=date(2012, 1, 1), rights=Rights()), TODAY)
    assert rules_of(refusals) == ["R1", "R1"]


def test_r1_boe_items_are_normalised():
    assert normalise_boe_item("2") == "2°"
    assert normalise_boe_item("11º") == "11°"
    assert normalise_boe_item(" 5° ") == "5°"


# --- R3 consent -----------------------------------------------------------------------------

def test_r3_no_consent_is_refused():
    assert rules_of(r3_consent(facts(consent=None))) == ["R3"]
    assert rules_of(evaluate_intake(facts(consent=None), TODAY)) == ["R3"]


def test_r3_a_legal_representative_consent_needs_a_legal_representative():
    by_representative = Consent(given_on=date(2026, 11, 2), by=ConsentBy.legal_representative)
    refusals = r3_consent(facts(consent=by_representative, has_legal_representative=False))
    assert rules_of(refusals) == ["R3"]
    assert "représentant légal" in refusals[0].detail
    assert r3_consent(facts(consent=by_representative, has_legal_representative=True)) == []


def test_r3_the_person_consent_is_enough():
    assert r3_consent(facts()) == []


# --- R5 subsidiarity ------------------------------------------------------------------------

@pytest.mark.parametrize("reason", [None, "", "   "])
def test_r5_a_missing_subsidiarity_reason_is_refused(reason):
    assert rules_of(r5_subsidiarity(facts(subsidiarity_reason=reason))) == ["R5"]


def test_r5_other_support_without_justification_is_refused():
    refusals = r5_subsidiarity(facts(other_support="SIAE", other_support_justification="  "))
    assert rules_of(refusals) == ["R5"]
    assert "SIAE" in refusals[0].detail


def test_r5_other_support_with_justification_is_accepted():
    assert r5_subsidiarity(facts(
        other_support="SIAE",
        other_support_justification="Le suivi dans l'entreprise après la sortie de la SIAE.",
    )) == []


def test_r5_without_reason_and_without_justification_gives_two_reasons():
    refusals = r5_subsidiarity(facts(subsidiarity_reason=None, other_support="ESMS"))
    assert rules_of(refusals) == ["R5", "R5"]


# --- R6 priority ----------------------------------------------------------------------------

def test_r6_the_four_groups_in_order():
    order = [Situation.employed, Situation.about_to_be_hired, Situation.leaving_esat, Situation.seeking]
    assert [r6_priority_group(s) for s in order] == [0, 1, 2, 3]
    assert r6_priority_group("employed") == 0  # a plain string, as it crosses JSON


def test_r6_earliest_prescription_first_within_a_group():
    earlier = r6_waiting_list_key(Situation.seeking, date(2026, 1, 5))
    later = r6_waiting_list_key(Situation.seeking, date(2026, 10, 1))
    assert earlier < later


def test_r6_sorting_keys_puts_the_group_before_the_date():
    waiting = {
        "seeking, early": (Situation.seeking, date(2025, 1, 1)),
        "employed, late": (Situation.employed, date(2026, 11, 1)),
        "esat": (Situation.leaving_esat, date(2026, 2, 1)),
        "employed, early": (Situation.employed, date(2026, 3, 1)),
        "hired": (Situation.about_to_be_hired, date(2026, 12, 1)),
        "seeking, late": (Situation.seeking, date(2026, 6, 1)),
    }
    ordered = sorted(waiting, key=lambda name: r6_waiting_list_key(*waiting[name]))
    assert ordered == ["employed, early", "employed, late", "hired", "esat", "seeking, early",
                       "seeking, late"]


# --- R7 capacity ----------------------------------------------------------------------------

def test_r7_capacity_is_20_per_fte():
    assert PERSONS_PER_FTE == 20
    assert r7_capacity(1.0) == 20.0
    assert r7_capacity(0.8) == 16
    assert r7_capacity(0.5) == 10


def test_r7_a_full_time_counsellor_takes_a_20th_person_but_not_a_21st():
    assert r7_can_take_one_more(19, 1.0) is None
    refusal = r7_can_take_one_more(20, 1.0)
    assert refusal is not None and refusal.rule == "R7"
    assert "20" in refusal.detail


@pytest.mark.parametrize("fte, capacity", [(0.8, 16), (0.5, 10)])
def test_r7_part_time_capacity(fte, capacity):
    assert r7_can_take_one_more(capacity - 1, fte) is None
    refusal = r7_can_take_one_more(capacity, fte)
    assert refusal is not None and refusal.rule == "R7"


def test_r7_no_fte_refuses():
    refusal = r7_can_take_one_more(0, 0.0)
    assert refusal is not None and refusal.rule == "R7"
