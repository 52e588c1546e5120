"""The rule a new password must meet, in one place (the password-link pages and `eaflow user add`).

At least 12 characters; not among the most common passwords; not the user's name or e-mail address
in disguise; not guessable by the usual patterns (keyboard runs, repetitions, a common word followed
by a year). The common passwords are the 30,000 of the maintained `zxcvbn` package (PyPI, MIT
licence, `frequency_lists.FREQUENCY_LISTS["passwords"]`), which are mostly English, plus the French
ones of `common_passwords_fr.txt` shipped beside this module; the patterns are zxcvbn's estimate of
the guesses an attacker needs (its score, 0–4: 3 and above passes).

A long sentence of ordinary words passes easily: that is the advice the messages give.
"""
from __future__ import annotations

import functools
import re
import unicodedata
from pathlib import Path

from zxcvbn import zxcvbn
from zxcvbn.frequency_lists import FREQUENCY_LISTS

MIN_LENGTH = 12
MAX_LENGTH = 1000  # what the sign-in form accepts
MIN_SCORE = 3
_ZXCVBN_MAX = 72  # zxcvbn refuses longer input; the first 72 characters are plenty to judge
_MIN_PART = 3  # a name part shorter than this ("Li", "de") is too common to refuse

TOO_SHORT = f"Choisissez un mot de passe d'au moins {MIN_LENGTH} caractères."
TOO_LONG = f"Le mot de passe ne doit pas dépasser {MAX_LENGTH} caractères."
COMMON = ("Ce mot de passe fait partie des plus utilisés : il serait deviné en quelques essais. "
          "Choisissez une phrase de plusieurs mots qui n'appartient qu'à vous.")
PERSONAL = ("Le mot de passe ne doit contenir ni votre nom ni votre adresse électronique : "
            "ce sont les premiers essais d'un attaquant.")
GUESSABLE = ("Ce mot de passe est trop facile à deviner (suite de touches du clavier, répétition, mot courant "
             "suivi d'une date…). Une phrase de plusieurs mots est plus sûre et plus facile à retenir.")


def _folded(text: str) -> str:
    """Lower case without accents, so that "Hélène" and "helene" are the same word."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


@functools.cache
def common_passwords() -> frozenset[str]:
    lines = Path(__file__).with_name("common_passwords_fr.txt").read_text(encoding="utf-8").splitlines()
    french = {_folded(line.strip()) for line in lines if line.strip() and not line.startswith("#")}
    return frozenset(FREQUENCY_LISTS["passwords"]) | frozenset(french)


def _is_common(password: str) -> bool:
    """The password itself, or its letters once the digits and signs around them are taken off
    ("Motdepasse2024!", "password1234"), is a common password."""
    folded = _folded(password)
    core = re.sub(r"^[\W\d_]+|[\W\d_]+$", "", folded)
    squeezed = re.sub(r"[\s._-]+", "", folded)
    return any(candidate in common_passwords() for candidate in {folded, core, squeezed} if candidate)


def personal_words(name: str = "", email: str = "") -> set[str]:
    """The parts of a user's name and e-mail address a password must not contain."""
    local, _, domain = (email or "").partition("@")
    parts = re.split(r"[\W_\d]+", _folded(f"{name} {local}"))
    words = {part for part in parts if len(part) >= _MIN_PART}
    if len(local) >= _MIN_PART:
        words.add(_folded(local))
    return words


def password_problems(password: str, *, name: str = "", email: str = "") -> list[str]:
    """What is wrong with this new password (French sentences), empty when it is acceptable."""
    password = password or ""
    if len(password) < MIN_LENGTH:
        return [TOO_SHORT]
    if len(password) > MAX_LENGTH:
        return [TOO_LONG]
    if _is_common(password):
        return [COMMON]
    squeezed = re.sub(r"[\W_]+", "", _folded(password))
    personal = personal_words(name, email)
    if any(re.sub(r"[\W_]+", "", word) in squeezed for word in personal):
        return [PERSONAL]
    if zxcvbn(password[:_ZXCVBN_MAX], user_inputs=sorted(personal))["score"] < MIN_SCORE:
        return [GUESSABLE]
    return []
