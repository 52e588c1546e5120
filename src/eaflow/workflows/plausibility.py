"""Only what can be true enters a file (issue 18): the bounds of every date and text a person types,
in one place, pure (no database, no Temporal), beside the domain rules (rules.py).

The domain rules decide what the scheme allows (R1: 16 years old at least, a valid RQTH…); these
bounds decide what can be true at all: nobody is 300 years old, a contact does not predate the
journey, a job does not start before its holder turned 16, a name holds no invisible character.
Each check returns None or the French sentence that says what would be accepted; the services call
them on every write path (API and pages alike) and refuse with a 422 naming the field, writing
nothing. `eaflow data check` runs the same checks over what is already recorded.
"""
from __future__ import annotations

import unicodedata
from datetime import date
from typing import Any, ClassVar

from pydantic import BaseModel, model_validator

from eaflow.workflows.field_errors import FieldValueError

MAX_AGE_YEARS = 120  # the oldest person alive was 122: a birth date beyond this is a typing error
EMPLOYMENT_MIN_AGE = 16  # code du travail, L. 4153-1: no job before 16 (apprentices from 15 aside)
RQTH_MAX_YEARS = 10  # code du travail, R. 5213-1-1: an RQTH is granted for 1 to 10 years, or without limit
EARLIEST_DATE = date(1900, 1, 1)  # no date of a file predates this: year 96 or 0001 is a typing error
FREE_TEXT_CONTROLS = frozenset("\t\n\r")  # what free text may hold below U+0020


def _fr(day: date) -> str:
    return day.strftime("%d/%m/%Y")


def _years_after(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February
        return day.replace(year=day.year + years, day=28)


def too_early(value: date) -> str | None:
    if value < EARLIEST_DATE:
        return f"Cette date est antérieure à 1900 : vérifiez l'année (attendu : une date après le {_fr(EARLIEST_DATE)})."
    return None


def birth_date(value: date, today: date) -> str | None:
    """A birth date gives an age of at most MAX_AGE_YEARS (R1 decides the lower bound: 16)."""
    if value > today:
        return "La date de naissance ne peut pas être dans le futur."
    oldest = _years_after(today, -MAX_AGE_YEARS)
    if value < oldest:
        return (f"Cette date de naissance donne plus de {MAX_AGE_YEARS} ans : vérifiez l'année "
                f"(attendu : une date après le {_fr(oldest)}).")
    return None


def decision_date(value: date, today: date, oldest: date, what: str = "La prescription") -> str | None:
    """A prescription or a CDAPH decision is not in the future, nor older than the policy allows
    (`oldest`: today less `[intake] prescription_max_age`)."""
    if value > today:
        return f"{what} ne peut pas être datée dans le futur (au plus tard aujourd'hui, le {_fr(today)})."
    if value < oldest:
        return (f"{what} date de plus longtemps que la plateforme ne l'accepte : attendu une date à partir du "
                f"{_fr(oldest)} (une orientation plus ancienne doit être renouvelée).")
    return None


def consent_date(value: date, earliest: date, today: date) -> str | None:
    """The consent is given between the prescription (less the policy's margin: `earliest`) and today."""
    if value > today:
        return f"Le consentement ne peut pas être daté dans le futur (au plus tard le {_fr(today)})."
    if value < earliest:
        return (f"Le consentement est trop antérieur à la prescription : attendu une date entre le {_fr(earliest)} "
                f"et le {_fr(today)}.")
    return None


def rqth_until(value: date, today: date) -> str | None:
    """An RQTH lasts at most RQTH_MAX_YEARS; beyond, it is granted without limit."""
    latest = _years_after(today, RQTH_MAX_YEARS)
    if value > latest:
        return (f"Une RQTH est attribuée pour {RQTH_MAX_YEARS} ans au plus (attendu une fin au plus tard le "
                f"{_fr(latest)}) ; au-delà, elle est sans limitation de durée : cochez « RQTH sans limitation "
                "de durée » et laissez la date vide.")
    return too_early(value)


def past_event(value: date, first_day: date | None, today: date, what: str = "Cette date") -> str | None:
    """A past event of the journey (a contact, an interview, a signature, a decision, an exit): not in the
    future, not before the journey's first day (its prescription)."""
    if value > today:
        return f"{what} ne peut pas être dans le futur (au plus tard aujourd'hui, le {_fr(today)})."
    if first_day is not None and value < first_day:
        return (f"{what} précède le début du parcours : attendu une date entre le {_fr(first_day)} (la prescription) "
                f"et le {_fr(today)}.")
    return too_early(value)


def journey_date(value: date, first_day: date | None, what: str = "Cette date") -> str | None:
    """A date of the journey that may lie ahead (a veille's end, a renewed right's end): not before its first day."""
    if first_day is not None and value < first_day:
        return f"{what} précède le début du parcours : attendu une date à partir du {_fr(first_day)} (la prescription)."
    return too_early(value)


def job_start(value: date, born: date | None, today: date) -> str | None:
    """An employment episode starts after its holder's 16th birthday (it may predate the journey:
    people enter already employed)."""
    if born is not None:
        sixteen = _years_after(born, EMPLOYMENT_MIN_AGE)
        if value < sixteen:
            return (f"Un emploi ne peut pas commencer avant les {EMPLOYMENT_MIN_AGE} ans de la personne : attendu une "
                    f"date à partir du {_fr(sixteen)}.")
    return too_early(value)


def _forbidden(text: str, allowed: frozenset[str], formats: bool) -> str | None:
    for char in text:
        category = unicodedata.category(char)
        if category == "Cs":
            return "un caractère invalide (une moitié de paire de substitution)"
        if category == "Cc" and char not in allowed:
            return f"un caractère de contrôle invisible (U+{ord(char):04X})"
        if formats and category == "Cf":
            return f"un caractère de mise en forme invisible (U+{ord(char):04X})"
    return None


def name(text: str) -> str | None:
    """A name (of a person, an employer, a signatory): printable characters only, none invisible."""
    found = _forbidden(text, frozenset(), formats=True)
    if found:
        return f"Ce nom contient {found} : saisissez-le à nouveau, en lettres, chiffres, espaces et ponctuation."
    return None


def free_text(text: str) -> str | None:
    """Free text (notes, reasons): line breaks and tabs, but no other control character."""
    found = _forbidden(text, FREE_TEXT_CONTROLS, formats=False)
    if found:
        return f"Ce texte contient {found} : retirez-le (les retours à la ligne et les tabulations sont acceptés)."
    return None


def normal(text: str) -> str:
    """Text as it is kept: Unicode NFC (an accent typed as two characters becomes one)."""
    return unicodedata.normalize("NFC", text)


class CheckedText(BaseModel):
    """The base of every body a person sends (API and pages): each of its text fields is kept in NFC,
    a name holds no invisible character, free text no control character but line breaks and tabs.
    Nested bodies check their own fields, so the refusal names the field wherever it is."""

    NAME_FIELDS: ClassVar[frozenset[str]] = frozenset({
        "first_name", "last_name", "name", "contact_name", "signer_name", "display_name", "signatory_name"})

    @model_validator(mode="before")
    @classmethod
    def _checked_text(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        checked = dict(data)
        for key, value in data.items():
            if isinstance(value, str):
                refusal = (name if key in cls.NAME_FIELDS else free_text)(value)
                if refusal:
                    raise FieldValueError(str(key), refusal)
                checked[key] = normal(value)
        return checked
