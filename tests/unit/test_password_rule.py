"""The rule a new password must meet (eaflow/password_rule.py)."""
from __future__ import annotations

import pytest

from eaflow.password_rule import COMMON, GUESSABLE, PERSONAL, TOO_LONG, TOO_SHORT, common_passwords, password_problems

NAME, EMAIL = "Hélène Dubois-Martin", "helene.dubois@exemple.fr"


@pytest.mark.parametrize("password", [
    "une phrase assez longue", "Trois petits chats blancs", "le café du lundi matin", "j'aime les tomates vertes",
])
def test_a_sentence_of_ordinary_words_passes(password):
    assert password_problems(password, name=NAME, email=EMAIL) == []


def test_twelve_characters_at_least_and_no_more_than_the_form_takes():
    assert password_problems("Tr0ub4dor&3", name=NAME, email=EMAIL) == [TOO_SHORT]  # 11
    assert password_problems("x" * 1001) == [TOO_LONG]
    assert password_problems("") == [TOO_SHORT]


@pytest.mark.parametrize("password", [
    "password1234", "qwertyuiop12", "azertyuiop123", "Motdepasse2024!", "MARSEILLE2025",
    "mot de passe", "Emploi-Accompagné", "Jetaime-2026",
])
def test_the_most_common_passwords_are_refused_even_dressed_up(password):
    assert password_problems(password) == [COMMON]


def test_the_lists_are_the_packages_and_ours():
    common = common_passwords()
    assert len(common) > 30_000 and {"123456", "dragon", "azerty", "motdepasse", "soleil"} <= common
    assert not any(word.startswith("#") for word in common)  # the file's header is not a password


@pytest.mark.parametrize("password", [
    "helene dubois 2024", "HELENE-la-meilleure", "Mon nom est Dubois!!", "helene.dubois@exemple.fr",
    "martin martin martin",
])
def test_the_users_name_or_address_is_refused(password):
    assert password_problems(password, name=NAME, email=EMAIL) == [PERSONAL]


def test_short_name_parts_are_not_held_against_anyone():
    assert password_problems("le lit de la rivière", name="Li De", email="li@x.fr") == []


@pytest.mark.parametrize("password", ["aaaaaaaaaaaa", "azertyazerty", "123412341234", "abcdefabcdef", "123456789012"])
def test_keyboard_runs_and_repetitions_are_refused(password):
    assert password_problems(password) in ([GUESSABLE], [COMMON])
