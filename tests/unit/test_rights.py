"""R19's pure parts: the transition table of a right's renewal, the dates an event must respect, and
the policy's schedule of reminders (a list of ISO 8601 durations)."""
from __future__ import annotations

import tomllib
from datetime import date

import pytest
from pydantic import ValidationError

from eaflow.policy import NATIONAL_DEFAULTS, Policy, policy_as_toml
from eaflow.workflows.rights import ALLOWED_FROM, EVENTS, STATUS_LABELS, date_errors, possible_events
from eaflow.workflows.types import RightTrack

TODAY = date(2027, 3, 15)


def test_r19_every_status_against_every_event():
    expected = {
        "none": {"renewal_filed", "granted"},
        "in_force": {"renewal_filed"},
        "permanent": set(),  # nothing to renew
        "renewal_filed": {"granted", "refused"},
        "refused": {"appeal_filed"},
        "appeal_filed": {"appeal_decided"},
        "lapsed": {"renewal_filed"},  # a late request: a grant withdraws the exit proposal
        "final_refusal": {"renewal_filed"},  # a new request
    }
    assert set(expected) == set(STATUS_LABELS)
    for status, allowed in expected.items():
        assert set(possible_events(status)) == allowed, status
        for event in EVENTS:
            assert (status in ALLOWED_FROM[event]) == (event in allowed), (status, event)


def test_r19_dates_an_event_must_respect():
    filed = RightTrack(status="renewal_filed", until=date(2027, 5, 31), filed_on=date(2027, 2, 1))
    assert date_errors(filed, "refused", on=None, today=TODAY) == [{"field": "on", "message": "date obligatoire"}]
    assert date_errors(filed, "refused", on=date(2027, 3, 16), today=TODAY)[0]["message"] == "cette date est dans le futur"
    assert "précéder le dépôt" in date_errors(filed, "refused", on=date(2027, 1, 31), today=TODAY)[0]["message"]
    assert date_errors(filed, "refused", on=TODAY, today=TODAY) == []
    # granted: a new end in the future, after the current one, or permanent (never both, never neither)
    assert date_errors(filed, "granted", on=None, today=TODAY, grants=True, until=date(2037, 5, 31)) == []
    assert date_errors(filed, "granted", on=None, today=TODAY, grants=True, permanent=True) == []
    for until, permanent in ((None, False), (date(2037, 5, 31), True), (TODAY, False), (date(2027, 5, 1), False)):
        [error] = date_errors(filed, "granted", on=None, today=TODAY, grants=True, until=until, permanent=permanent)
        assert error["field"] == "until", (until, permanent)
    refused = RightTrack(status="refused", until=date(2027, 5, 31), refused_on=date(2027, 3, 1),
                         appeal_due=date(2027, 5, 1))
    assert date_errors(refused, "appeal_filed", on=date(2027, 3, 10), today=TODAY) == []
    assert "hors délai" in date_errors(refused, "appeal_filed", on=date(2027, 5, 2), today=date(2027, 6, 1))[0]["message"]
    assert "précéder le refus" in date_errors(refused, "appeal_filed", on=date(2027, 2, 1), today=TODAY)[0]["message"]


def test_r19_policy_schedule_is_a_list_of_durations_shown_as_toml():
    assert NATIONAL_DEFAULTS.rights.reminders_before_end == ["P6M", "P3M", "P1M"]
    assert NATIONAL_DEFAULTS.rights.appeal_delay == "P2M"
    shown = policy_as_toml()
    assert 'reminders_before_end = ["P6M", "P3M", "P1M"]' in shown
    assert Policy.model_validate(tomllib.loads(shown)) == NATIONAL_DEFAULTS
    for bad in (["P6M", "six mois"], [], "P6M"):
        with pytest.raises(ValidationError):
            Policy.model_validate({"rights": {"reminders_before_end": bad}})
    with pytest.raises(ValidationError):
        Policy.model_validate({"rights": {"appeal_delay": "2 mois"}})
