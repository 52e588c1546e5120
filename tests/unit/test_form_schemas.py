"""The request bodies that pages draw as forms: every field has a French label and help, every choice
the French label of each of its values, every model a French title.

A form reads the JSON Schema the way `eaflow.web.forms` does: a `$ref` is resolved into `$defs` (the
keywords beside it win), `anyOf [X, null]` is an optional X."""
from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

import pytest
from pydantic import BaseModel

from eaflow.intake import EmployerIn, IntakeRequest, LegalRepresentative, PersonIn
from eaflow.services.avenants import AvenantIn
from eaflow.services.employment import CloseEpisode, EpisodeEmployer, OpenEpisode
from eaflow.services.exits import (
    DeathExit,
    ExitIn,
    MoveExit,
    PersonRequestExit,
    ReorientationExit,
)
from eaflow.services.journeys import CounsellorChangeIn
from eaflow.services.rights import (
    AppealDecided,
    AppealFiled,
    Granted,
    Refused,
    RenewalFiled,
)
from eaflow.services.veille import Agreement, ReactivateIn, VeilleIn
from eaflow.workflows.types import Consent, Rights

BODIES: list[type[BaseModel]] = [
    Agreement, VeilleIn, ReactivateIn,
    AvenantIn,
    EpisodeEmployer, OpenEpisode, CloseEpisode,
    RenewalFiled, Granted, Refused, AppealFiled, AppealDecided,
    ExitIn,
    CounsellorChangeIn,
    LegalRepresentative, PersonIn, EmployerIn, IntakeRequest, Rights, Consent,
]
# The exit forms (one per reason) carry field labels; their model title is the page's business.
EXIT_FORMS: list[type[BaseModel]] = [PersonRequestExit, MoveExit, ReorientationExit, DeathExit]

# Clearly English words that have no place in a French label ("date", "on", "or", "information" are French too).
ENGLISH = frozenset({"the", "and", "with", "when", "should", "must", "of", "for", "is", "to", "from",
                     "your", "please", "yes", "no", "not", "end", "start"})


def _resolve(schema: Mapping[str, Any], root: Mapping[str, Any]) -> dict[str, Any]:
    node = dict(schema)
    while "$ref" in node:
        target: Any = root
        for part in node.pop("$ref").removeprefix("#/").split("/"):
            target = target[part]
        node = {**target, **node}
    return node


def _unwrap(schema: Mapping[str, Any], root: Mapping[str, Any]) -> dict[str, Any]:
    """The schema of the value (a `$ref` resolved, `anyOf [X, null]` taken as X), the outer keywords kept."""
    node = _resolve(schema, root)
    kept = [branch for branch in node.get("anyOf", ()) if branch.get("type") != "null"]
    if len(kept) == 1:
        node = {**_resolve(kept[0], root), **{key: value for key, value in node.items() if key != "anyOf"}}
    return node


def _fields(model: type[BaseModel]) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every property, nested objects and array items included, as (dotted path, resolved node)."""
    root = model.model_json_schema()

    def walk(node: Mapping[str, Any], prefix: str) -> Iterator[tuple[str, dict[str, Any]]]:
        for name, child in node.get("properties", {}).items():
            resolved = _unwrap(child, root)
            path = f"{prefix}{name}"
            yield path, resolved
            yield from walk(resolved, f"{path}.")
            if "items" in resolved:
                yield from walk(_unwrap(resolved["items"], root), f"{path}[].")

    yield from walk(root, "")


def _english(text: str) -> set[str]:
    return {word for word in re.findall(r"[a-zà-ÿ]+", text.lower()) if word in ENGLISH}


def test_the_walk_sees_nested_and_optional_fields():
    paths = dict(_fields(IntakeRequest))
    assert {"person.legal_representative.kind", "rights.boe_category", "consent.by", "employer.kind"} <= set(paths)
    assert paths["consent.by"]["enum"] == ["person", "legal_representative"]


@pytest.mark.parametrize("model", BODIES + EXIT_FORMS, ids=lambda model: model.__name__)
def test_every_field_has_a_french_label_and_help(model):
    for path, node in _fields(model):
        title, description = node.get("title"), node.get("description")
        assert isinstance(title, str) and title.strip(), f"{model.__name__}.{path}: no title"
        assert isinstance(description, str) and description.strip(), f"{model.__name__}.{path}: no description"
        assert not _english(title), f"{model.__name__}.{path}: English in its title {title!r}"


@pytest.mark.parametrize("model", BODIES + EXIT_FORMS, ids=lambda model: model.__name__)
def test_every_choice_has_a_french_label_for_each_value(model):
    for path, node in _fields(model):
        values = node.get("enum", ())
        if len(values) < 2:
            continue  # not a choice, or a constant a form does not draw
        titles = {option.get("const"): option.get("title") for option in node.get("oneOf", ())}
        for value in values:
            label = titles.get(value)
            assert isinstance(label, str) and label.strip(), f"{model.__name__}.{path}: no label for {value!r}"
            assert not _english(label), f"{model.__name__}.{path}: English in the label {label!r}"
        assert set(titles) == set(values), f"{model.__name__}.{path}: labels for values it does not take"


@pytest.mark.parametrize("model", BODIES, ids=lambda model: model.__name__)
def test_every_body_has_a_french_title(model):
    title = model.model_json_schema().get("title")
    assert title and title != model.__name__, f"{model.__name__}: no French title"
    assert not _english(title), f"{model.__name__}: English in its title {title!r}"


def test_the_labels_of_the_values_read_as_a_counsellor_reads_them():
    veille = dict(_fields(VeilleIn))["requested_by"]
    assert {o["const"]: o["title"] for o in veille["oneOf"]} == {
        "person": "À la demande explicite de la personne",
        "counsellor_proposal": "Sur proposition du conseiller, avec l'accord formel de la personne"}
    channel = dict(_fields(IntakeRequest))["channel"]
    assert {o["const"]: o["title"] for o in channel["oneOf"]}["cdaph"] == "Décision d'orientation de la CDAPH"
    contract = dict(_fields(OpenEpisode))["contract_type"]
    assert {o["const"]: o["title"] for o in contract["oneOf"]}["cdi"] == "CDI"
