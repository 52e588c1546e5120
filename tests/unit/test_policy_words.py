"""The policy in French words: durations, frequencies, and a French line for every key of the policy."""
from __future__ import annotations

import pytest

from eaflow.policy import NATIONAL_DEFAULTS, Policy
from eaflow.services.policy_words import WORDS, duration_words, every_words, policy_in_words


@pytest.mark.parametrize("iso, words", [
    ("P3M", "3 mois"), ("P1M", "1 mois"), ("PT48H", "48 heures"), ("PT1H", "1 heure"), ("P14D", "14 jours"),
    ("P1D", "1 jour"), ("P1Y", "1 an"), ("P2Y", "2 ans"), ("P2W", "2 semaines"), ("PT30M", "30 minutes"),
    ("PT15M", "15 minutes"), ("PT3S", "3 secondes"), ("PT0.5S", "0,5 seconde"), ("PT1.5S", "1,5 seconde"),
    ("P1Y6M", "1 an et 6 mois"), ("P1DT12H", "1 jour et 12 heures"), ("P1DT2H30M", "1 jour, 2 heures et 30 minutes"),
    ("P0D", "aucun délai"), ("P1M0D", "1 mois"),
])
def test_a_duration_in_french_words_keeps_the_units_the_policy_wrote(iso, words):
    assert duration_words(iso) == words


@pytest.mark.parametrize("iso, words", [
    ("P15D", "tous les 15 jours"), ("P7D", "tous les 7 jours"), ("P1D", "tous les jours"), ("P1M", "tous les mois"),
    ("P3M", "tous les 3 mois"), ("P1Y", "tous les ans"), ("P1W", "toutes les semaines"),
    ("P2W", "toutes les 2 semaines"), ("PT1H", "toutes les heures"), ("PT3S", "toutes les 3 secondes"),
    ("P1DT12H", "à intervalles de 1 jour et 12 heures"),
])
def test_a_frequency_in_french_words_agrees_with_its_unit(iso, words):
    assert every_words(iso) == words


@pytest.mark.parametrize("text", ["", "3M", "P", "PT", "P1.5M", "tous les mois", None])
def test_what_is_not_a_duration_is_refused_as_the_policy_refuses_it(text):
    with pytest.raises(ValueError):
        duration_words(text)


def test_every_key_of_the_policy_has_its_french_line_and_no_more():
    assert list(WORDS) == list(Policy.model_fields)
    for section, (title, lines) in WORDS.items():
        keys = type(getattr(NATIONAL_DEFAULTS, section)).model_fields
        assert set(lines) == set(keys), section
        assert title and all(line.sentence.endswith((".", "…")) for line in lines.values()), section


def test_the_national_policy_reads_in_french():
    sections = {s["name"]: {row["key"]: row for row in s["rows"]} for s in policy_in_words(NATIONAL_DEFAULTS)}
    assert sections["accompaniment"]["interview_every"]["words"] == "tous les 3 mois"
    assert sections["accounts"]["password_link_validity"]["words"] == "48 heures"
    assert sections["intake"]["cdaph_reminder_every"]["words"] == "tous les 7 jours"
    assert sections["rights"]["reminders_before_end"]["words"] == "6 mois, 3 mois et 1 mois avant la fin"
    assert sections["relaunch"]["attempts"]["words"].startswith("au début : téléphone ; après 7 jours : courrier")
    assert sections["accompaniment"]["digest_weekday"]["words"] == "lundi"
    assert sections["accounts"]["sign_in_max_failures"]["words"] == "5 échecs"
    assert all(row["national"] for rows in sections.values() for row in rows.values())
    custom = Policy.model_validate({"veille": {"max_duration": "P4M"}})
    veille = {row["key"]: row for s in policy_in_words(custom) if s["name"] == "veille" for row in s["rows"]}
    assert veille["max_duration"]["words"] == "4 mois" and not veille["max_duration"]["national"]
