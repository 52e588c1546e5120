"""R5 (subsidiarity of a CDAPH orientation) and R10 (the employer, a party to the convention of a
person in employment) as pure rules, read against the cahier des charges (§II, §III, §IV.C)."""
from __future__ import annotations

from datetime import date

import pytest

from eaflow.workflows import rules
from eaflow.workflows.types import Channel, Consent, ConsentBy, IntakeFacts, Rights, Situation

TODAY = date(2026, 11, 22)
EMPLOYER = {"name": "Boulangerie Durand", "self_employed": False,
            "signatory": {"name": "Paul Durand", "email": "rh@durand.fr", "quality": "gérant"}}
SELF_EMPLOYED = {"name": "Atelier Martin", "self_employed": True, "signatory": None}


def facts(**changes) -> IntakeFacts:
    values = dict(birth_date=date(1990, 5, 17), channel=Channel.cdaph, prescribed_on=date(2026, 11, 2),
                  situation=Situation.seeking, rights=Rights(rqth_until=date(2030, 1, 31)),
                  subsidiarity_reason=None, consent=Consent(given_on=date(2026, 11, 2), by=ConsentBy.person))
    values.update(changes)
    return IntakeFacts(**values)


# --- R5: the statement of subsidiarity is the prescriber's, not a condition of a CDAPH decision -----

@pytest.mark.parametrize("reason", [None, "", "   "])
def test_r5_a_cdaph_orientation_without_subsidiarity_reason_is_accepted_and_noted(reason):
    orientation = facts(subsidiarity_reason=reason)
    assert rules.r5_subsidiarity(orientation) == []
    assert rules.evaluate_intake(orientation, TODAY) == []
    assert rules.r5_subsidiarity_missing("cdaph", reason) is True


@pytest.mark.parametrize("channel", [Channel.france_travail, Channel.cap_emploi, Channel.mission_locale])
def test_r5_a_spe_prescription_without_subsidiarity_reason_is_still_refused(channel):
    refusals = rules.r5_subsidiarity(facts(channel=channel, subsidiarity_reason="  "))
    assert [r.rule for r in refusals] == ["R5"]
    assert "droit commun" in refusals[0].detail
    assert rules.r5_subsidiarity_missing(channel.value, None) is False  # refused, not noted


def test_r5_a_cdaph_orientation_with_its_reason_is_not_noted_and_other_support_still_needs_a_justification():
    assert rules.r5_subsidiarity_missing("cdaph", "Un suivi sur le poste que le droit commun n'offre pas.") is False
    refusals = rules.r5_subsidiarity(facts(other_support="ESMS"))
    assert [r.rule for r in refusals] == ["R5"] and "ESMS" in refusals[0].detail


# --- R10: the employer of a person in employment signs the convention ----------------------------

@pytest.mark.parametrize("employer", [None, {}, {"name": "  ", "self_employed": False, "signatory": None}])
def test_r10_the_draft_of_an_employed_person_without_employer_is_refused(employer):
    refusal = rules.r10_employer_party_refusal(Situation.employed, None, employer)
    assert refusal is not None and refusal.rule == "R10"
    assert "employeur" in refusal.detail


def test_r10_the_employer_of_an_employed_person_signs_through_a_signatory():
    refusal = rules.r10_employer_party_refusal("employed", None, {"name": "Boulangerie Durand",
                                                                  "self_employed": False, "signatory": None})
    assert refusal is not None and refusal.rule == "R10" and "signataire" in refusal.detail
    assert rules.r10_employer_party_refusal("employed", None, EMPLOYER) is None


def test_r10_a_self_employed_person_signs_as_their_own_employer():
    assert rules.r10_employer_party_refusal(Situation.employed, None, SELF_EMPLOYED) is None
    assert rules.r10_employer_party_refusal(Situation.seeking, True, SELF_EMPLOYED) is None


def test_r10_an_open_employment_episode_makes_the_employer_a_party():
    assert rules.r10_employed_for_convention(Situation.seeking, True)
    assert rules.r10_employer_party_refusal(Situation.seeking, True, None).rule == "R10"
    assert rules.r10_employer_party_refusal(Situation.about_to_be_hired, True, None).rule == "R10"


@pytest.mark.parametrize("situation", [Situation.seeking, Situation.about_to_be_hired, Situation.leaving_esat])
def test_r10_no_employer_party_for_a_person_not_in_employment(situation):
    # "Sur le point d'être embauchée": not yet employed; the employer joins with the job (an open
    # episode) or, once the convention is signed, by an avenant.
    assert not rules.r10_employed_for_convention(situation, None)
    assert rules.r10_employer_party_refusal(situation, None, None) is None


def test_r10_a_job_that_ended_since_intake_no_longer_calls_for_the_employer():
    # R16: every episode recorded has ended; the person employed at intake is now seeking.
    assert not rules.r10_employed_for_convention(Situation.employed, False)
    assert rules.r10_employer_party_refusal(Situation.employed, False, None) is None
