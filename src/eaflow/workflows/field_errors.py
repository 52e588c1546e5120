"""French messages for pydantic's validation errors, and the field errors the API and the pages show.

Pydantic speaks English ("Field required"); a person reads French. `french_message` turns one error
of `ValidationError.errors()` into plain French from its `type` and `ctx`, never falling back on the
English text; `field_errors` names each error's field by its dotted path. Pure (stdlib and pydantic
only): the workflows' update validators use it too.
"""
from __future__ import annotations

from typing import Any

from pydantic import ValidationError

REQUIRED = "Ce champ est obligatoire."
INVALID = "Valeur non valide."
_DATE = "Indiquez une date valide (jj/mm/aaaa)."
_CHOICE = "Choisissez une des valeurs proposées."
_EMAIL = "Indiquez une adresse électronique valide (exemple : nom@domaine.fr)."

# Messages that depend on the error type only, or on one value of its context ({name} in `ctx`).
_MESSAGES: dict[str, str] = {
    "missing": REQUIRED,
    "string_too_long": "Au plus {max_length} caractères.",
    "string_type": "Indiquez un texte.",
    "string_pattern_mismatch": "Le format n'est pas valide.",
    "date_parsing": _DATE, "date_from_datetime_parsing": _DATE, "date_from_datetime_inexact": _DATE,
    "date_type": _DATE,
    "date_past": "Indiquez une date passée.", "date_future": "Indiquez une date à venir.",
    "datetime_parsing": "Indiquez une date et une heure valides.",
    "datetime_type": "Indiquez une date et une heure valides.",
    "int_parsing": "Indiquez un nombre entier.", "int_type": "Indiquez un nombre entier.",
    "int_from_float": "Indiquez un nombre entier.",
    "float_parsing": "Indiquez un nombre.", "float_type": "Indiquez un nombre.",
    "greater_than_equal": "Au moins {ge}.", "greater_than": "Plus de {gt}.",
    "less_than_equal": "Au plus {le}.", "less_than": "Moins de {lt}.",
    "multiple_of": "Indiquez un multiple de {multiple_of}.",
    "literal_error": _CHOICE, "enum": _CHOICE, "union_tag_invalid": _CHOICE, "union_tag_not_found": _CHOICE,
    "bool_parsing": "Répondez par oui ou par non.", "bool_type": "Répondez par oui ou par non.",
    "extra_forbidden": "Ce champ n'est pas attendu.",
    "model_type": "Ce groupe de champs est mal formé.", "dict_type": "Ce groupe de champs est mal formé.",
    "model_attributes_type": "Ce groupe de champs est mal formé.",
    "list_type": "Cette liste est mal formée.",
    "too_short": "Au moins {min_length} éléments.", "too_long": "Au plus {max_length} éléments.",
    "json_invalid": "Le contenu envoyé n'est pas un JSON valide.",
}


class FieldValueError(ValueError):
    """A model validator's refusal that belongs to one field (a reason a decision needs, say): raised
    from `@model_validator`, it is shown beside that field instead of above the whole form."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field


def french_message(error: dict[str, Any]) -> str:
    """The French message for one pydantic error dict (from `ValidationError.errors()`)."""
    kind, ctx = error.get("type", ""), error.get("ctx") or {}
    if kind == "string_too_short":
        minimum = ctx.get("min_length", 1)
        return REQUIRED if minimum <= 1 else f"Au moins {minimum} caractères."
    if kind in ("value_error", "assertion_error"):
        return _own_message(error, ctx)
    template = _MESSAGES.get(kind)
    if template is None:
        return INVALID
    try:
        return template.format(**{name: _number(value) for name, value in ctx.items()})
    except (KeyError, IndexError, ValueError):
        return INVALID


def field_errors(error: ValidationError, prefix: str | None = None) -> list[dict[str, str]]:
    """`[{"field": "prefix.loc.parts", "message": french}]`; an error on the whole model is named
    by the prefix alone, or "body"."""
    found = []
    for detail in error.errors():
        parts = [prefix] if prefix else []
        parts += [str(part) for part in detail["loc"]]
        cause = (detail.get("ctx") or {}).get("error")
        if isinstance(cause, FieldValueError):
            parts.append(cause.field)
        found.append({"field": ".".join(parts) or "body", "message": french_message(detail)})
    return found


def _own_message(error: dict[str, Any], ctx: dict[str, Any]) -> str:
    """A validator's own message (written in French here), without pydantic's English prefix."""
    cause = ctx.get("error")
    text = str(cause) if cause is not None and str(cause) else error.get("msg", "")
    for prefix in ("Value error, ", "Assertion failed, "):
        text = text.removeprefix(prefix)
    if "email address" in text:  # email-validator's reasons, in English
        return _EMAIL
    text = text.strip()
    if not text or text.isascii() and _looks_english(text):
        return INVALID
    text = text[0].upper() + text[1:]
    return text if text.endswith((".", "!", "?", "…")) else text + "."


def _looks_english(text: str) -> bool:
    # Our validators write French; a library's English message must not reach a person.
    words = set(text.lower().replace(",", " ").split())
    return bool(words & {"should", "must", "is", "not", "the", "value", "input", "field", "invalid", "failed"})


def _number(value: Any) -> Any:
    """12 rather than 12.0, and a decimal comma: "Au moins 0,5."."""
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else str(value).replace(".", ",")
    return value
