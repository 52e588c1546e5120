"""Pydantic's errors in French, named by their field: real models, each kind of error."""
from __future__ import annotations

import re
from datetime import date
from enum import StrEnum
from typing import Literal

import pytest
from pydantic import BaseModel, ConfigDict, EmailStr, Field, ValidationError, field_validator, model_validator

from eaflow.workflows.field_errors import field_errors, french_message
from eaflow.workflows.task_kinds import outcome_errors

ENGLISH = re.compile(r"\b(should|field|input|value|valid|required|error|must|at least|characters)\b", re.IGNORECASE)


class Colour(StrEnum):
    red = "red"
    blue = "blue"


class Inner(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1)

    @model_validator(mode="after")
    def _not_anonymous(self):
        if self.name == "anonyme":
            raise ValueError("un nom est attendu, pas « anonyme »")
        return self


class Sample(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: str | None = Field(None, min_length=3, max_length=5)
    short: str | None = Field(None, min_length=1)
    day: date | None = None
    count: int | None = Field(None, ge=1, le=10)
    ratio: float | None = Field(None, gt=0, lt=1)
    choice: Literal["a", "b"] | None = None
    colour: Colour | None = None
    flag: bool | None = None
    email: EmailStr | None = None
    code: str | None = Field(None, pattern=r"^\d{5}$")
    inner: Inner | None = None
    items: list[Inner] = []
    checked: str | None = None
    asserted: str | None = None

    @field_validator("checked")
    @classmethod
    def _checked(cls, value):
        if value == "non":
            raise ValueError("indiquez une réponse")
        return value

    @field_validator("asserted")
    @classmethod
    def _asserted(cls, value):
        if value == "non":  # what `assert` raises (a test module's own asserts are rewritten by pytest)
            raise AssertionError("la réponse doit être oui")
        return value


def errors_of(data: dict, model=Sample, prefix: str | None = "outcome") -> list[dict[str, str]]:
    with pytest.raises(ValidationError) as caught:
        model.model_validate(data)
    return field_errors(caught.value, prefix)


def message_of(data: dict, model=Sample) -> str:
    (error,) = errors_of(data, model)
    return error["message"]


CASES = [
    ({"inner": {}}, "Ce champ est obligatoire."),
    ({"short": ""}, "Ce champ est obligatoire."),
    ({"text": "ab"}, "Au moins 3 caractères."),
    ({"text": "abcdef"}, "Au plus 5 caractères."),
    ({"day": "31/02/2026"}, "Indiquez une date valide (jj/mm/aaaa)."),
    ({"day": "2026-02-31"}, "Indiquez une date valide (jj/mm/aaaa)."),
    ({"day": "2026-02-01T10:30:00"}, "Indiquez une date valide (jj/mm/aaaa)."),
    ({"day": [2026, 2, 1]}, "Indiquez une date valide (jj/mm/aaaa)."),
    ({"count": "douze"}, "Indiquez un nombre entier."),
    ({"count": 2.5}, "Indiquez un nombre entier."),
    ({"ratio": "demi"}, "Indiquez un nombre."),
    ({"count": 0}, "Au moins 1."),
    ({"count": 11}, "Au plus 10."),
    ({"ratio": 0}, "Plus de 0."),
    ({"ratio": 1.5}, "Moins de 1."),
    ({"choice": "c"}, "Choisissez une des valeurs proposées."),
    ({"colour": "green"}, "Choisissez une des valeurs proposées."),
    ({"flag": "peut-être"}, "Répondez par oui ou par non."),
    ({"flag": [1]}, "Répondez par oui ou par non."),
    ({"email": "lea.example.fr"}, "Indiquez une adresse électronique valide (exemple : nom@domaine.fr)."),
    ({"code": "75A01"}, "Le format n'est pas valide."),
    ({"inner": "Léa"}, "Ce groupe de champs est mal formé."),
    ({"unexpected": 1}, "Ce champ n'est pas attendu."),
    ({"checked": "non"}, "Indiquez une réponse."),
    ({"asserted": "non"}, "La réponse doit être oui."),
    ({"inner": {"name": "anonyme"}}, "Un nom est attendu, pas « anonyme »."),
    ({"items": "aucun"}, "Cette liste est mal formée."),
]


@pytest.mark.parametrize(("data", "expected"), CASES, ids=[str(data) for data, _ in CASES])
def test_each_kind_of_error_reads_in_french(data, expected):
    message = message_of(data)
    assert message == expected
    assert not ENGLISH.search(message), message


def test_the_cases_cover_the_error_types_pydantic_raises():
    # A pydantic that renames one of these types fails here, not in a page.
    kinds = {error["type"] for data, _ in CASES for error in _raw(data)}
    assert {"missing", "string_too_short", "string_too_long", "date_from_datetime_parsing",
            "date_from_datetime_inexact", "date_type", "int_parsing", "int_from_float", "float_parsing",
            "greater_than_equal", "less_than_equal", "greater_than", "less_than", "literal_error", "enum",
            "bool_parsing", "bool_type", "value_error", "assertion_error", "extra_forbidden",
            "string_pattern_mismatch", "model_type", "list_type"} <= kinds


def _raw(data: dict) -> list[dict]:
    try:
        Sample.model_validate(data)
    except ValidationError as error:
        return error.errors()
    return []


def test_the_error_types_without_a_model_at_hand():
    choose = "Choisissez une des valeurs proposées."
    assert french_message({"type": "json_invalid", "ctx": {"error": "EOF"}}) == (
        "Le contenu envoyé n'est pas un JSON valide.")
    assert french_message({"type": "union_tag_invalid", "ctx": {"tag": "x"}}) == choose
    assert french_message({"type": "union_tag_not_found"}) == choose
    assert french_message({"type": "date_parsing"}) == "Indiquez une date valide (jj/mm/aaaa)."
    assert french_message({"type": "dict_type"}) == "Ce groupe de champs est mal formé."
    assert french_message({"type": "int_type"}) == "Indiquez un nombre entier."
    assert french_message({"type": "float_type"}) == "Indiquez un nombre."
    assert french_message({"type": "greater_than_equal", "ctx": {"ge": 0.5}}) == "Au moins 0,5."
    assert french_message({"type": "string_too_short", "ctx": {"min_length": 1}}) == "Ce champ est obligatoire."


def test_anything_else_is_a_generic_french_message_never_english():
    assert french_message({"type": "url_parsing", "msg": "Input should be a valid URL"}) == "Valeur non valide."
    assert french_message({"type": "something_new", "msg": "Input should be fine"}) == "Valeur non valide."
    assert french_message({"type": "greater_than_equal", "msg": "Input should be >= 1"}) == "Valeur non valide."
    assert french_message({"type": "value_error", "msg": "Value error, Input should be fine"}) == "Valeur non valide."
    assert french_message({}) == "Valeur non valide."


def test_fields_are_named_by_their_dotted_path_behind_the_prefix():
    errors = errors_of({"count": "x", "inner": {"name": ""}, "items": [{"name": "a"}, {}]})
    assert [error["field"] for error in errors] == ["outcome.count", "outcome.inner.name", "outcome.items.1.name"]
    assert [error["field"] for error in errors_of({"count": "x"}, prefix=None)] == ["count"]


def test_an_error_on_the_whole_model_is_named_by_the_prefix_or_body():
    assert errors_of({"name": "anonyme"}, Inner) == [
        {"field": "outcome", "message": "Un nom est attendu, pas « anonyme »."}]
    assert errors_of({"name": "anonyme"}, Inner, prefix=None)[0]["field"] == "body"


def test_the_task_outcomes_answer_in_french_with_the_same_field_names():
    errors = outcome_errors("draft_convention", {
        "workplace_modalities": "Visites", "rhythm": "",
        "person_signatory": {"name": "Léa Martin", "email": "pas une adresse"},
        "employer": {"name": "Boulangerie"}})
    assert errors == [
        {"field": "outcome.rhythm", "message": "Ce champ est obligatoire."},
        {"field": "outcome.person_signatory.email",
         "message": "Indiquez une adresse électronique valide (exemple : nom@domaine.fr)."},
        {"field": "outcome.employer",
         "message": "L'employeur signe par son représentant : indiquez le signataire."},
    ]
    assert outcome_errors("shared_evaluation", {"evaluated_on": "hier", "needs": "  ", "resources": "x"}) == [
        {"field": "outcome.evaluated_on", "message": "Indiquez une date valide (jj/mm/aaaa)."},
        {"field": "outcome.wishes", "message": "Ce champ est obligatoire."},
        {"field": "outcome.needs", "message": "Ce champ ne peut pas être vide."},
    ]
    # A reason a decision needs is named by its own field (FieldValueError), not by the whole outcome.
    assert outcome_errors("sign_convention", {"decision": "refuse"}) == [
        {"field": "outcome.reason", "message": "Indiquez le motif du refus."}]
    assert outcome_errors("approve_exit", {"decision": "approve"}) == [
        {"field": "outcome.consultation",
         "message": "Indiquez comment la personne ou son représentant a été consultée (R18)."}]
    assert outcome_errors("sign_convention", {"decision": "peut-être", "extra": 1}) == [
        {"field": "outcome.decision", "message": "Choisissez une des valeurs proposées."},
        {"field": "outcome.extra", "message": "Ce champ n'est pas attendu."}]
