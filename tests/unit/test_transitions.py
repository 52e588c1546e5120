"""The journey's transition table, walked state by state (DOMAIN.md, "Journey states")."""
from __future__ import annotations

import itertools

import pytest

from eaflow.workflows import transitions
from eaflow.workflows.types import JourneyState as S

ENDED = {S.exited, S.transferred, S.refused}


def test_every_state_has_a_french_label_and_a_row():
    assert set(transitions.LABELS) == set(S) == set(transitions.TRANSITIONS)


@pytest.mark.parametrize("current,target", list(itertools.product(S, S)))
def test_transition_table(current, target):
    allowed = transitions.allowed(current, target)
    if current in ENDED:
        assert not allowed  # an ended journey never moves again
    elif target is S.refused:
        assert allowed == (current in {S.prescribed, S.eligibility})  # refusal only at intake (R1–R5)
    elif target in {S.exited, S.transferred}:
        assert allowed == (current is S.exit_proposed)  # R18: only a procedure decides an exit
    elif target is S.admitted and current is not S.exit_proposed:
        assert allowed == (current is S.waiting_list)  # R7: admission from the waiting list only
    elif target is S.veille and current is not S.exit_proposed:
        assert allowed == (current is S.accompaniment)  # R14: a veille interrupts an accompaniment


def test_r18_every_exit_goes_through_a_proposal():
    for current, targets in transitions.TRANSITIONS.items():
        if S.exited in targets:
            assert current is S.exit_proposed
