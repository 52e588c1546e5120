"""R17 without a server: the policy (a schedule of attempts over R17's channels, a silence that no
platform may bring under six months), the channels of recorded contacts, and the examination's outcome."""
from __future__ import annotations

import tomllib
from datetime import date

import pytest
from pydantic import ValidationError

from eaflow.policy import NATIONAL_DEFAULTS, Policy, policy_as_toml, relaunch_attempt
from eaflow.workflows import rules
from eaflow.workflows.task_kinds import TASK_KINDS, ContactFields
from eaflow.workflows.types import ContactAttempt


def relaunch(**values) -> Policy:
    return Policy.model_validate({"relaunch": values})


def test_r17_policy_defaults_are_shown_as_toml_that_loads_back():
    p = NATIONAL_DEFAULTS.relaunch
    assert (p.not_reached_after, p.silence_minimum, p.minimum_channels) == ("P1M", "P6M", 3)
    assert [relaunch_attempt(a) for a in p.attempts][:3] == [("P0D", "phone"), ("P7D", "letter"), ("P14D", "mail")]
    assert {relaunch_attempt(a)[1] for a in p.attempts} == {"phone", "letter", "mail", "third_party", "home_visit"}
    shown = policy_as_toml()
    assert '[relaunch]\n' in shown and 'silence_minimum = "P6M"' in shown
    assert 'attempts = ["P0D phone", "P7D letter", "P14D mail", ' in shown
    assert Policy.model_validate(tomllib.loads(shown)) == NATIONAL_DEFAULTS
    custom = relaunch(not_reached_after="P20D", attempts=["P0D phone", "P5D mail", "P12D letter"], silence_minimum="P1Y")
    assert Policy.model_validate(tomllib.loads(policy_as_toml(custom))) == custom


@pytest.mark.parametrize("silence", ["P5M", "P180D", "P5M29D", "PT1S", "P0D"])
def test_r17_a_silence_minimum_under_six_months_is_refused(silence):
    with pytest.raises(ValidationError) as refused:
        relaunch(silence_minimum=silence)
    assert "six months" in str(refused.value)


@pytest.mark.parametrize("silence", ["P6M", "P184D", "P26W2D", "P1Y", "P6M1D"])
def test_r17_six_months_or_more_is_accepted(silence):
    assert relaunch(silence_minimum=silence).relaunch.silence_minimum == silence


@pytest.mark.parametrize("attempts", [
    [], ["P0D"], ["phone"], ["P0D fax"], ["sept jours letter"], ["P0D phone extra"],
    ["P7D letter", "P0D phone", "P14D mail"],  # out of order
    ["P0D phone", "P7D phone"],  # two channels, fewer than minimum_channels (3)
])
def test_r17_a_bad_schedule_is_refused(attempts):
    with pytest.raises(ValidationError):
        relaunch(attempts=attempts)


def test_r17_minimum_channels_is_bounded_by_r17s_five_channels():
    for bad in (0, 6):
        with pytest.raises(ValidationError):
            relaunch(minimum_channels=bad)
    assert relaunch(minimum_channels=2, attempts=["P0D phone", "P1M home_visit"]).relaunch.minimum_channels == 2


def test_r17_channels_of_recorded_contacts():
    def contact(channel, place="service"):
        return ContactAttempt(on=date(2027, 1, 4), channel=channel, place=place, participants="person")

    assert rules.r17_channel_of("sms", "service") == "phone"
    assert rules.r17_channel_of("in_person", "home") == "home_visit"
    assert rules.r17_channel_of("in_person", "workplace") is None
    assert rules.r17_channel_of("video", "service") is None
    assert rules.r17_channels([contact("phone"), contact("sms"), contact("letter"), contact("in_person", "home"),
                               contact("video")]) == ["home_visit", "letter", "phone"]
    # Each of R17's channels is recorded as a valid contact (R13), and read back as itself.
    for channel in ("phone", "letter", "mail", "third_party", "home_visit"):
        for reached in (True, False):
            fields = rules.r17_contact_fields(channel, reached)
            ContactFields(occurred_on=date(2027, 1, 4), duration_minutes=0, reached=reached, **fields)
            assert rules.r17_channel_of(fields["channel"], fields["place"]) == channel
    assert rules.r17_contact_fields("third_party", False)["participants"] == "partner"
    assert rules.r17_contact_fields("third_party", True)["participants"] == "person"


def test_r17_the_examination_is_documented_and_a_fragility_keeps_the_link():
    kind = TASK_KINDS["analyse_silence"]
    good = {"causes_examined": "Hospitalisation possible.", "fragility_identified": False,
            "consultation": "Appel à la tutrice.", "relaunch_history_acknowledged": True, "conclusion": "propose_exit"}
    assert kind.validate(good).conclusion == "propose_exit"
    for bad in ({"causes_examined": "  "}, {"consultation": ""}, {"relaunch_history_acknowledged": False},
                {"fragility_identified": True}, {"conclusion": "exit"}):
        with pytest.raises(ValidationError):
            kind.validate({**good, **bad})
    assert kind.validate({**good, "fragility_identified": True, "conclusion": "keep_link"}).conclusion == "keep_link"
    assert "channel" in TASK_KINDS["relaunch_attempt"].outcome_schema()["properties"]


def test_r17_every_one_of_the_five_channels_is_owed_until_tried_or_recorded_impossible():
    assert rules.R17_CHANNELS == ("phone", "letter", "mail", "third_party", "home_visit")
    assert rules.r17_channels_owed([]) == list(rules.R17_CHANNELS)
    # Three channels tried are no longer enough (the text lists five) …
    assert rules.r17_channels_owed(["letter", "mail", "phone"]) == ["third_party", "home_visit"]
    # … each of the others must be tried, or recorded as impossible with why.
    assert rules.r17_channels_owed(["letter", "mail", "phone"], {"third_party": "Aucun tiers de confiance"}) == [
        "home_visit"]
    assert rules.r17_channels_owed(["letter", "mail", "phone"], ["third_party", "home_visit"]) == []
    assert rules.r17_channels_owed(["phone", "letter", "mail", "third_party", "home_visit"]) == []
    assert rules.r17_channels_owed(["phone", "letter", "mail", "third_party", "home_visit"], ["mail"]) == []


def test_r17_a_channel_recorded_impossible_needs_its_reason_and_old_outcomes_stay_valid():
    kind = TASK_KINDS["relaunch_attempt"]
    old = kind.validate({"occurred_on": "2027-01-04", "channel": "phone", "reached": False})  # recorded before
    assert (old.impossible, old.impossible_reason) == (False, None)
    done = kind.validate({"occurred_on": "2027-01-04", "channel": "mail", "reached": False, "impossible": True,
                          "impossible_reason": " Aucune adresse électronique connue. "})
    assert done.impossible and done.impossible_reason == "Aucune adresse électronique connue."
    for bad in ({"impossible": True}, {"impossible": True, "impossible_reason": "  "},
                {"impossible": True, "impossible_reason": "Pas de courriel", "reached": True},
                {"impossible": False, "impossible_reason": "Pas de courriel"}):
        with pytest.raises(ValidationError):
            kind.validate({"occurred_on": "2027-01-04", "channel": "mail", "reached": False, **bad})


def test_r17_the_exit_file_shows_the_channels_recorded_impossible_and_why():
    from eaflow.services.decisions import exit_dossier

    file = {"rule": "R17", "silence_since": "2027-01-04", "channels": ["letter", "mail", "phone"],
            "attempts": [{"on": "2027-01-04", "channel": "phone", "result": "not_reached"}],
            "impossible": [{"channel": "third_party", "reason": "Aucun tiers de confiance désigné."},
                           {"channel": "home_visit", "reason": "La personne réside à l'étranger."}]}
    relaunch = exit_dossier({"exit": {"reason": "disengagement", "details": file}}, date(2027, 8, 1))["relaunch"]
    assert relaunch["impossible"] == [{"channel": "tiers de confiance", "reason": "Aucun tiers de confiance désigné."},
                                      {"channel": "déplacement au domicile",
                                       "reason": "La personne réside à l'étranger."}]
    # A file written before carries none.
    del file["impossible"]
    assert exit_dossier({"exit": {"reason": "disengagement", "details": file}}, date(2027, 8, 1))[
        "relaunch"]["impossible"] == []
