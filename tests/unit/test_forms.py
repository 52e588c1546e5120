"""The form renderer: fields drawn from a JSON Schema, read back into a value the pydantic model accepts.

The HTML is read with the stdlib parser, and submitted the way a browser would (checked radios, the
selected option, a textarea's text), so that a round trip is the one a person makes."""
from __future__ import annotations

import re
from datetime import date
from enum import StrEnum
from html.parser import HTMLParser

import pytest
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from eaflow.web.forms import field_id, parse_form, render_fields, unplaced_errors
from eaflow.workflows import task_kinds
from eaflow.workflows.field_errors import field_errors
from eaflow.workflows.task_kinds import (
    TASK_KINDS, AnalyseSilenceOutcome, ContactFields, DraftAvenantOutcome, DraftConventionOutcome, InterviewOutcome,
    RelaunchAttemptOutcome, SharedEvaluationOutcome, SignConventionOutcome,
)

# --- a tiny DOM, and a browser's submission -----------------------------------------------------------

VOID = {"input", "br", "hr", "img", "meta", "link"}


class Element:
    def __init__(self, tag: str, attrs: dict[str, str | None], parent: Element | None):
        self.tag, self.attrs, self.parent, self.children = tag, attrs, parent, []

    @property
    def text(self) -> str:
        return "".join(child if isinstance(child, str) else child.text for child in self.children)

    @property
    def classes(self) -> set[str]:
        return set((self.attrs.get("class") or "").split())

    def iter(self):
        for child in self.children:
            if isinstance(child, Element):
                yield child
                yield from child.iter()

    def find_all(self, tag: str | None = None, **attrs: str) -> list[Element]:
        return [element for element in self.iter() if (tag is None or element.tag == tag)
                and all(element.attrs.get(key.rstrip("_").replace("_", "-")) == value for key, value in attrs.items())]

    def find(self, tag: str | None = None, **attrs: str) -> Element:
        (found,) = self.find_all(tag, **attrs)
        return found

    def ancestors(self):
        node = self.parent
        while node is not None:
            yield node
            node = node.parent


class _Builder(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.root = self.current = Element("root", {}, None)

    def handle_starttag(self, tag, attrs):
        element = Element(tag, dict(attrs), self.current)
        self.current.children.append(element)
        if tag not in VOID:
            self.current = element

    def handle_endtag(self, tag):
        if tag in VOID:
            return
        assert self.current.tag == tag, f"</{tag}> closes <{self.current.tag}>"
        self.current = self.current.parent

    def handle_data(self, data):
        self.current.children.append(data)


def dom(html: str) -> Element:
    builder = _Builder()
    builder.feed(str(html))
    builder.close()
    assert builder.current is builder.root, "an element is left open"
    return builder.root


def submitted(page: Element, **changes: str | list[str]) -> dict[str, list[str]]:
    """What a browser sends for the form as drawn, with some fields changed (as typed or chosen)."""
    sent: dict[str, list[str]] = {}
    for element in page.iter():
        name = element.attrs.get("name")
        if not name or element.tag == "button":
            continue
        if element.tag == "input" and element.attrs.get("type") in ("radio", "checkbox"):
            if "checked" in element.attrs:
                value = element.attrs.get("value")
                sent.setdefault(name, []).append("on" if value is None else value)
        elif element.tag == "input":
            sent.setdefault(name, []).append(element.attrs.get("value") or "")
        elif element.tag == "textarea":
            sent.setdefault(name, []).append(element.text.removeprefix("\n"))
        elif element.tag == "select":
            options = element.find_all("option")
            chosen = [o for o in options if "selected" in o.attrs] or options[:1]
            sent.setdefault(name, []).append(chosen[0].attrs.get("value", ""))
    for name, value in changes.items():
        if value is None:
            sent.pop(name, None)
        else:
            sent[name] = [value] if isinstance(value, str) else value
    return sent


def controls(page: Element) -> list[Element]:
    return [e for e in page.iter() if e.tag in ("input", "select", "textarea") and e.attrs.get("type") != "hidden"]


def round_trip(model: type[BaseModel], instance: BaseModel) -> tuple[BaseModel, Element]:
    """Draw the form filled with `instance`, submit it as is, read it back, validate it."""
    schema = model.model_json_schema()
    page = dom(render_fields(schema, instance.model_dump(mode="json")))
    value, _ = parse_form(schema, submitted(page))
    return model.model_validate(value), page


def field_wrapper(page: Element, path: str) -> Element:
    """The div.field (or fieldset) that holds the control of `path`."""
    control = page.find(id=field_id(path))
    if control.tag == "fieldset":
        return control
    return next(node for node in control.ancestors() if "field" in node.classes)


# --- a synthetic model: what the task outcomes do not have yet ------------------------------------------


class Level(StrEnum):
    a = "a"
    b = "b"
    c = "c"
    d = "d"
    e = "e"
    f = "f"


class Tag(StrEnum):
    urgent = "urgent"
    follow_up = "follow_up"
    closed = "closed"


class Member(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, title="Nom")
    age: int | None = Field(None, ge=0, le=120, title="Âge")
    role: Tag = Field(Tag.urgent, title="Rôle")


class Address(BaseModel):
    model_config = ConfigDict(extra="forbid")

    street: str = Field(min_length=1, title="Rue")
    city: str = Field(min_length=1, title="Ville", description="Commune de résidence")


class Synthetic(BaseModel):
    model_config = ConfigDict(extra="forbid")

    members: list[Member] = Field(default_factory=list, title="Membres")
    address: Address | None = Field(None, title="Adresse")
    level: Level = Field(title="Niveau")
    score: int = Field(ge=1, le=5, title="Note", description="De 1 à 5")
    tags: list[Tag] = Field(default_factory=list, title="Étiquettes")
    words: list[str] = Field(default_factory=list, title="Mots-clés")
    ratio: float | None = Field(None, title="Part")
    optional_level: Level | None = Field(None, title="Autre niveau")


SYNTHETIC = Synthetic.model_json_schema()


# --- labels, hints, errors -----------------------------------------------------------------------------


def test_field_ids_follow_the_dotted_path():
    assert field_id("employer.signatory.name") == "f-employer-signatory-name"
    assert field_id("people.0.name") == "f-people-0-name"
    assert field_id("wishes") == "f-wishes"


@pytest.mark.parametrize("kind", sorted(TASK_KINDS))
def test_every_control_of_every_task_form_has_a_label_and_its_hints(kind):
    schema = TASK_KINDS[kind].outcome_schema()
    page = dom(render_fields(schema, {}))
    ids = [element.attrs["id"] for element in page.iter() if "id" in element.attrs]
    assert len(ids) == len(set(ids)), "ids are unique"
    labels = {label.attrs.get("for"): label.text for label in page.find_all("label")}
    assert controls(page)
    for control in controls(page):
        assert labels.get(control.attrs["id"], "").strip(), f"{control.attrs['id']} has a label"
    for fieldset in page.find_all("fieldset"):
        assert fieldset.children and fieldset.children[0].tag == "legend" and fieldset.children[0].text.strip()
    for hint in page.find_all("p"):
        if "hint" in hint.classes and "id" in hint.attrs:
            owner = page.find(id=hint.attrs["id"].removesuffix("-hint"))
            assert hint.attrs["id"] in owner.attrs["aria-describedby"].split()
    for element in page.iter():
        for described_by in (element.attrs.get("aria-describedby") or "").split():
            assert page.find(id=described_by)


def test_a_label_says_optional_and_a_required_input_is_required():
    page = dom(render_fields(SharedEvaluationOutcome.model_json_schema()))
    label = page.find("label", for_="f-wishes")
    assert label.text == "Souhaits de la personne"
    assert "required" in page.find(id="f-wishes").attrs
    assert page.find("label", for_="f-employer_expectations").text == "Attentes de l'employeur (facultatif)"
    assert "required" not in page.find(id="f-employer_expectations").attrs
    assert page.find(id="f-wishes").tag == "textarea" and page.find(id="f-wishes").attrs["rows"] == "5"
    assert page.find(id="f-evaluated_on").attrs["type"] == "date"
    assert page.find(id="f-wishes-hint").text == "Ce que la personne souhaite, dans ses mots"


def test_an_error_lands_beside_its_field_and_is_announced():
    schema = DraftConventionOutcome.model_json_schema()
    errors = [{"field": "outcome.person_signatory.email", "message": "Indiquez une adresse électronique valide."}]
    page = dom(render_fields(schema, {"person_signatory": {"email": "lea"}}, errors))
    wrapper = field_wrapper(page, "person_signatory.email")
    assert wrapper.classes == {"field", "field--error"}
    error = wrapper.find("p", id="f-person_signatory-email-error")
    assert "field-error" in error.classes
    assert error.text == "Erreur : Indiquez une adresse électronique valide."
    assert "visually-hidden" in error.find("span").classes and error.find("span").text == "Erreur : "
    control = page.find(id="f-person_signatory-email")
    assert control.attrs["aria-invalid"] == "true" and control.attrs["type"] == "email"
    assert control.attrs["aria-describedby"].split() == [
        "f-person_signatory-email-hint", "f-person_signatory-email-error"]
    assert control.attrs["value"] == "lea"
    others = [e for e in page.iter() if "field--error" in e.classes]
    assert others == [wrapper]
    assert unplaced_errors(schema, errors) == []


def test_an_error_on_a_group_shows_at_the_top_of_its_fieldset_and_one_on_the_form_is_left_to_the_page():
    schema = DraftConventionOutcome.model_json_schema()
    errors = [{"field": "outcome.employer", "message": "Indiquez le signataire."},
              {"field": "outcome", "message": "Le formulaire est incomplet."}]
    page = dom(render_fields(schema, {"employer": {"name": "Boulangerie"}}, errors))
    group = page.find("fieldset", id="f-employer")
    assert "field--error" in group.classes
    tags = [child.tag for child in group.children]
    assert tags[:3] == ["legend", "p", "p"]
    assert group.find(id="f-employer-error").text.endswith("Indiquez le signataire.")
    assert "Le formulaire est incomplet." not in page.text
    assert unplaced_errors(schema, errors) == [{"field": "outcome", "message": "Le formulaire est incomplet."}]


def test_errors_the_form_cannot_place_are_left_to_the_page():
    schema = InterviewOutcome.model_json_schema()
    errors = [{"field": "outcome.interview", "message": "Toujours vrai."},
              {"field": "outcome.unknown", "message": "Ce champ n'est pas attendu."},
              {"field": "outcome.note", "message": "Au plus 5000 caractères."},
              {"field": "body", "message": "Le contenu envoyé n'est pas un JSON valide."}]
    assert [e["field"] for e in unplaced_errors(schema, errors)] == ["outcome.interview", "outcome.unknown", "body"]
    assert [e["field"] for e in unplaced_errors(schema, errors, error_prefix="")] == [
        "outcome.interview", "outcome.unknown", "outcome.note", "body"]


def test_values_are_kept_and_escaped():
    schema = SharedEvaluationOutcome.model_json_schema()
    hostile = '<script>alert("x")</script> & « guillemets »'
    html = str(render_fields(schema, {"wishes": hostile, "evaluated_on": date(2026, 3, 2),
                                      "employer_expectations": hostile},
                             [{"field": "outcome.needs", "message": "<b>gras</b>"}]))
    assert "<script>" not in html and "<b>" not in html
    page = dom(html)
    assert page.find(id="f-wishes").text == "\n" + hostile
    assert page.find(id="f-evaluated_on").attrs["value"] == "2026-03-02"
    assert page.find(id="f-needs-error").text == "Erreur : <b>gras</b>"


def test_an_attribute_value_cannot_break_out_of_its_quotes():
    page = dom(render_fields(ContactFields.model_json_schema(), {"duration_minutes": '1" onfocus="alert(1)'}))
    control = page.find(id="f-duration_minutes")
    assert control.attrs["value"] == '1" onfocus="alert(1)' and "onfocus" not in control.attrs


# --- choices ---------------------------------------------------------------------------------------------


def test_few_choices_are_radios_many_are_a_select_both_with_the_french_labels():
    page = dom(render_fields(ContactFields.model_json_schema(), {"place": "home"}))
    place = page.find("fieldset", id="f-place")
    assert place.find("legend").text == "Lieu du contact"
    radios = place.find_all("input", type="radio")
    assert [r.attrs["value"] for r in radios] == ["service", "workplace", "home", "other"]
    assert [r.attrs["id"] for r in radios] == ["f-place-service", "f-place-workplace", "f-place-home", "f-place-other"]
    assert [page.find("label", for_=r.attrs["id"]).text for r in radios] == [
        "Dans les locaux du service", "Sur le lieu de travail", "Au domicile", "Autre lieu choisi par la personne"]
    assert ["checked" in r.attrs for r in radios] == [False, False, True, False]
    assert all("required" in r.attrs for r in radios)
    assert "choices" in place.find_all("div")[0].classes and all("choice" in r.parent.classes for r in radios)

    channel = page.find(id="f-channel")
    assert channel.tag == "select" and page.find("label", for_="f-channel").text == "Moyen de contact"
    options = channel.find_all("option")
    assert [(o.attrs["value"], o.text) for o in options[:3]] == [
        ("", "— Choisissez —"), ("in_person", "En présence"), ("phone", "Par téléphone")]
    assert len(options) == 8


def test_a_choice_without_labels_shows_its_values_and_a_select_with_a_default_has_no_empty_option():
    schema = {"type": "object", "required": ["size"], "properties": {
        "size": {"type": "string", "enum": ["s", "m", "l", "xl", "xxl"], "default": "m", "title": "Taille"}}}
    page = dom(render_fields(schema))
    options = page.find(id="f-size").find_all("option")
    assert [(o.attrs["value"], o.text, "selected" in o.attrs) for o in options] == [
        ("s", "s", False), ("m", "m", True), ("l", "l", False), ("xl", "xl", False), ("xxl", "xxl", False)]
    page = dom(render_fields(SYNTHETIC))
    assert [o.text for o in page.find(id="f-level").find_all("option")] == [
        "— Choisissez —", "a", "b", "c", "d", "e", "f"]


def test_a_literal_choice_has_its_labels_and_its_default_checked():
    page = dom(render_fields(SignConventionOutcome.model_json_schema()))
    assert page.find("label", for_="f-decision-sign").text == "Signer pour la plateforme"
    assert page.find("label", for_="f-decision-refuse").text == "Refuser et renvoyer au conseiller"
    assert not any("checked" in r.attrs for r in page.find_all("input", name="decision"))
    page = dom(render_fields(DraftConventionOutcome.model_json_schema()))
    assert "checked" in page.find(id="f-signs_for_person-person").attrs


def test_an_optional_choice_can_be_left_unanswered():
    schema = DraftAvenantOutcome.model_json_schema()
    page = dom(render_fields(schema))
    radios = page.find("fieldset", id="f-signs_for_person").find_all("input")
    assert [(r.attrs["value"], "checked" in r.attrs) for r in radios] == [
        ("person", False), ("legal_representative", False), ("", True)]
    assert page.find("label", for_=radios[-1].attrs["id"]).text == "Ne pas renseigner"
    value, _ = parse_form(schema, submitted(page, changes="Nouveau rythme"))
    assert "signs_for_person" not in value and DraftAvenantOutcome.model_validate(value).signs_for_person is None


def test_a_boolean_is_a_yes_no_radio_group_with_its_default_checked():
    page = dom(render_fields(ContactFields.model_json_schema()))
    group = page.find("fieldset", id="f-reached")
    assert group.find("legend").text == "Personne jointe"
    assert [(r.attrs["value"], page.find("label", for_=r.attrs["id"]).text, "checked" in r.attrs)
            for r in group.find_all("input")] == [("true", "Oui", True), ("false", "Non", False)]
    assert group.attrs["aria-describedby"] == "f-reached-hint"


def test_an_optional_boolean_can_be_left_unanswered_and_a_required_one_has_nothing_checked():
    schema = {"type": "object", "required": ["agreed"], "properties": {
        "agreed": {"type": "boolean", "title": "D'accord"},
        "maybe": {"anyOf": [{"type": "boolean"}, {"type": "null"}], "default": None, "title": "Peut-être"}}}
    page = dom(render_fields(schema))
    assert [(r.attrs["value"], "checked" in r.attrs, "required" in r.attrs)
            for r in page.find_all("input", name="agreed")] == [("true", False, True), ("false", False, True)]
    assert [(r.attrs["value"], "checked" in r.attrs) for r in page.find_all("input", name="maybe")] == [
        ("true", False), ("false", False), ("", True)]
    assert page.find("fieldset", id="f-maybe").children[0].text == "Peut-être (facultatif)"
    assert parse_form(schema, submitted(page))[0] == {}
    assert parse_form(schema, {"agreed": "false", "maybe": "true"})[0] == {"agreed": False, "maybe": True}


def test_read_only_fields_are_not_drawn_and_their_default_applies():
    drawn = {e.attrs["name"] for e in controls(dom(render_fields(InterviewOutcome.model_json_schema())))}
    assert "interview" not in drawn and "reached" not in drawn and "place" in drawn
    drawn = {e.attrs["name"] for e in controls(dom(render_fields(ContactFields.model_json_schema())))}
    assert {"interview", "reached"} <= drawn
    value, _ = parse_form(InterviewOutcome.model_json_schema(), {"interview": "false", "reached": "false"})
    assert value == {}


def test_a_const_field_is_not_drawn_and_a_required_one_is_sent():
    schema = {"type": "object", "required": ["kind"], "properties": {"kind": {"const": "contact", "type": "string"}}}
    assert str(render_fields(schema)) == ""
    assert parse_form(schema, {"kind": "autre"}) == ({"kind": "contact"}, {})


# --- groups and rows ---------------------------------------------------------------------------------------


def test_an_optional_group_has_a_box_that_says_it_is_filled_in():
    schema = DraftConventionOutcome.model_json_schema()
    page = dom(render_fields(schema))
    box = page.find("input", name="employer.__present")
    assert box.attrs["type"] == "checkbox" and "checked" not in box.attrs
    assert page.find("label", for_=box.attrs["id"]).text == "Renseigner : Employeur"
    group = page.find("fieldset", id="f-employer")
    assert "group" in group.classes and group.children[0].text == "Employeur"
    assert [e.tag for e in group.parent.children].index("fieldset") > 0  # the box comes before the group
    # inside an optional group, a required field is required only once the group is filled in
    assert "required" not in page.find(id="f-employer-name").attrs
    assert page.find("label", for_="f-employer-name").text == "Nom de l'employeur"
    assert "required" in page.find(id="f-person_signatory-name").attrs

    page = dom(render_fields(schema, {"employer": {"name": "Boulangerie", "signatory": None}}))
    assert "checked" in page.find("input", name="employer.__present").attrs
    assert "checked" not in page.find("input", name="employer.signatory.__present").attrs
    assert page.find(id="f-employer-name").attrs["value"] == "Boulangerie"


def test_a_list_of_objects_has_a_row_each_blank_rows_and_a_button_to_add_one():
    page = dom(render_fields(SYNTHETIC, {"members": [{"name": "Léa"}, {"name": "Noé", "age": 7}]}))
    rows = page.find("fieldset", id="f-members")
    assert "rows" in rows.classes and rows.children[0].text == "Membres"
    legends = [f.find_all("legend")[0].text for f in rows.find_all("fieldset") if "group" in f.classes]
    assert legends == ["Membres n° 1", "Membres n° 2", "Membres n° 3"]
    assert page.find(id="f-members-1-age").attrs["value"] == "7"
    assert page.find(id="f-members-2-name").attrs["value"] == ""
    assert "required" not in page.find(id="f-members-2-name").attrs
    button = rows.find("button")
    assert button.attrs == {"type": "submit", "name": "__add_row", "value": "members", "formnovalidate": None}
    assert button.text == "Ajouter une ligne"

    page = dom(render_fields(SYNTHETIC, {}, extra_rows={"members": 3}))
    assert [f.attrs["id"] for f in page.find("fieldset", id="f-members").find_all("fieldset")
            if "group" in f.classes] == ["f-members-0", "f-members-1", "f-members-2"]


def test_adding_a_row_keeps_what_was_typed_and_draws_one_more():
    page = dom(render_fields(SYNTHETIC, {}))
    sent = submitted(page, **{"members.0.name": "Léa", "members.0.age": "30", "__add_row": "members"})
    value, rows = parse_form(SYNTHETIC, sent)
    assert value["members"] == [{"name": "Léa", "age": 30, "role": "urgent"}]
    assert rows == {"members": 1}
    page = dom(render_fields(SYNTHETIC, value, extra_rows=rows))
    assert page.find(id="f-members-0-name").attrs["value"] == "Léa"
    sent = submitted(page, __add_row="members")
    assert parse_form(SYNTHETIC, sent)[1] == {"members": 2}  # the blank row stays, and one more
    assert parse_form(SYNTHETIC, submitted(page))[1] == {"members": 1}


def test_errors_in_a_row_land_in_that_row():
    errors = [{"field": "outcome.members.1.age", "message": "Au plus 120."},
              {"field": "outcome.members.0", "message": "Ligne incohérente."},
              {"field": "outcome.tags.1", "message": "Choisissez une des valeurs proposées."}]
    page = dom(render_fields(SYNTHETIC, {"members": [{"name": "A"}, {"name": "B", "age": 200}]}, errors))
    assert page.find(id="f-members-1-age-error").text == "Erreur : Au plus 120."
    assert "field--error" in page.find("fieldset", id="f-members-0").classes
    assert page.find(id="f-tags-error").text.endswith("Choisissez une des valeurs proposées.")
    assert unplaced_errors(SYNTHETIC, errors) == []


def test_a_list_of_choices_is_checkboxes_and_a_list_of_words_a_textarea():
    page = dom(render_fields(SYNTHETIC, {"tags": ["closed"], "words": ["un", "deux"]}))
    boxes = page.find("fieldset", id="f-tags").find_all("input")
    assert [(b.attrs["type"], b.attrs["value"], "checked" in b.attrs) for b in boxes] == [
        ("checkbox", "urgent", False), ("checkbox", "follow_up", False), ("checkbox", "closed", True)]
    assert page.find(id="f-words").tag == "textarea" and page.find(id="f-words").text == "\nun\ndeux"


def test_a_number_has_its_bounds():
    page = dom(render_fields(SYNTHETIC))
    score = page.find(id="f-score")
    assert [score.attrs[key] for key in ("type", "min", "max", "step")] == ["number", "1", "5", "1"]
    assert page.find(id="f-ratio").attrs["step"] == "any" and "min" not in page.find(id="f-ratio").attrs


# --- reading the form back -------------------------------------------------------------------------------


def test_blank_fields_are_left_out_so_that_pydantic_says_what_is_missing():
    schema = SharedEvaluationOutcome.model_json_schema()
    value, rows = parse_form(schema, {"evaluated_on": "", "wishes": "  ", "needs": "Un emploi", "resources": [""],
                                      "employer_expectations": ""})
    assert (value, rows) == ({"needs": "Un emploi"}, {})
    with pytest.raises(ValidationError) as caught:
        SharedEvaluationOutcome.model_validate(value)
    assert field_errors(caught.value, "outcome") == [
        {"field": "outcome.evaluated_on", "message": "Ce champ est obligatoire."},
        {"field": "outcome.wishes", "message": "Ce champ est obligatoire."},
        {"field": "outcome.resources", "message": "Ce champ est obligatoire."}]


def test_what_does_not_parse_is_kept_as_typed_for_pydantic_to_refuse():
    value, _ = parse_form(ContactFields.model_json_schema(), {
        "duration_minutes": "une heure", "reached": "false", "interview": "true", "occurred_on": "02/03/2026",
        "note": "Ligne 1\r\nLigne 2"})
    assert value == {"duration_minutes": "une heure", "reached": False, "interview": True,
                     "occurred_on": "2026-03-02", "note": "Ligne 1\nLigne 2"}
    value, _ = parse_form(SYNTHETIC, {"score": "4", "ratio": "0,5", "level": "z"})
    assert (value["score"], value["ratio"], value["level"]) == (4, 0.5, "z")


def test_an_optional_group_is_null_unless_its_box_is_checked():
    schema = DraftConventionOutcome.model_json_schema()
    form = {"employer.name": "Boulangerie", "employer.self_employed": "true"}
    assert parse_form(schema, form)[0]["employer"] is None
    assert parse_form(schema, form | {"employer.__present": "on"})[0]["employer"] == {
        "name": "Boulangerie", "self_employed": True, "signatory": None}


def test_a_synthetic_model_round_trips_as_a_person_fills_it_in():
    page = dom(render_fields(SYNTHETIC))
    sent = submitted(page, **{
        "members.0.name": "Léa", "members.0.age": "", "members.0.role": "closed",
        "address.__present": "on", "address.street": "1 rue des Lilas", "address.city": "Lyon",
        "level": "e", "score": "3", "tags": ["urgent", "closed"], "words": "un\r\n\r\n deux \r\n", "ratio": "",
        "optional_level": "f"})
    value, rows = parse_form(SYNTHETIC, sent)
    assert rows == {"members": 1}
    assert Synthetic.model_validate(value) == Synthetic(
        members=[Member(name="Léa", role=Tag.closed)], address=Address(street="1 rue des Lilas", city="Lyon"),
        level=Level.e, score=3, tags=[Tag.urgent, Tag.closed], words=["un", "deux"], optional_level=Level.f)
    again, _ = round_trip(Synthetic, Synthetic.model_validate(value))
    assert again == Synthetic.model_validate(value)


def test_blank_rows_are_dropped_even_with_their_defaults_checked():
    sent = submitted(dom(render_fields(SYNTHETIC, {}, extra_rows={"members": 2})), level="a", score="1")
    assert [key for key in sent if key.startswith("members.")] == [
        "members.0.name", "members.0.age", "members.0.role", "members.1.name", "members.1.age", "members.1.role"]
    value, rows = parse_form(SYNTHETIC, sent)
    assert value["members"] == [] and rows == {"members": 2}
    assert Synthetic.model_validate(value).members == []


TODAY = date(2026, 3, 2)
SIGNATORY = {"name": "Léa Martin", "email": "lea@example.fr"}
OUTCOMES = [
    SharedEvaluationOutcome(evaluated_on=TODAY, wishes="Travailler « au calme »\nà mi-temps", needs="Un tuteur",
                            resources="Permis B", employer_expectations=None),
    DraftConventionOutcome(workplace_modalities="Visites", rhythm="Mensuel", person_signatory=SIGNATORY),
    DraftConventionOutcome(workplace_modalities="Visites", rhythm="Mensuel", objectives="Garder l'emploi",
                           signs_for_person="legal_representative",
                           person_signatory=SIGNATORY | {"quality": "tutrice"},
                           employer={"name": "Boulangerie", "signatory": {"name": "Noé", "email": "noe@example.fr"}}),
    DraftConventionOutcome(workplace_modalities="Visites", rhythm="Mensuel", person_signatory=SIGNATORY,
                           employer={"name": "Atelier", "self_employed": True}),
    ContactFields(occurred_on=TODAY, duration_minutes=0, place="home", channel="third_party", participants="partner",
                  reached=False, note="Message laissé"),
    InterviewOutcome(occurred_on=TODAY, duration_minutes=45, place="workplace", channel="in_person",
                     participants="both"),
    SignConventionOutcome(decision="refuse", reason="Le rythme manque"),
    SignConventionOutcome(decision="sign"),
    AnalyseSilenceOutcome(causes_examined="Santé", fragility_identified=True, consultation="Appel à la sœur",
                          relaunch_history_acknowledged=True, conclusion="keep_link"),
    RelaunchAttemptOutcome(occurred_on=TODAY, channel="home_visit", reached=False),
    RelaunchAttemptOutcome(occurred_on=TODAY, channel="phone", reached=True, duration_minutes=20, note="Jointe"),
    DraftAvenantOutcome(changes="Nouvel employeur", employer={"name": "Garage", "signatory": SIGNATORY}),
]


@pytest.mark.parametrize("outcome", OUTCOMES, ids=lambda outcome: type(outcome).__name__)
def test_a_task_outcome_survives_the_form(outcome):
    again, _ = round_trip(type(outcome), outcome)
    assert again == outcome


def test_a_task_outcome_filled_in_from_a_blank_form():
    schema = ContactFields.model_json_schema()
    sent = submitted(dom(render_fields(schema)), occurred_on="2026-03-02", duration_minutes="30", place="service",
                     channel="video", participants="person", interview="true")
    value, _ = parse_form(schema, sent)
    assert ContactFields.model_validate(value) == ContactFields(
        occurred_on=TODAY, duration_minutes=30, place="service", channel="video", participants="person",
        reached=True, interview=True)

    schema = DraftConventionOutcome.model_json_schema()
    sent = submitted(dom(render_fields(schema)), **{
        "workplace_modalities": "Visites", "rhythm": "Mensuel", "person_signatory.name": "Léa Martin",
        "person_signatory.email": "lea@example.fr", "employer.__present": "on", "employer.name": "Boulangerie",
        "employer.signatory.__present": "on", "employer.signatory.name": "Noé", "employer.signatory.email": "n@ex.fr"})
    outcome = DraftConventionOutcome.model_validate(parse_form(schema, sent)[0])
    assert outcome.employer.signatory.name == "Noé" and outcome.person_signatory.quality is None


# --- the published schemas, in French -------------------------------------------------------------------


def _nodes(schema: dict):
    """Every property schema (merged with what it refers to), with its path."""
    defs = schema.get("$defs", {})

    def resolve(node):
        branches = [b for b in node.get("anyOf", [node]) if b.get("type") != "null"]
        inner = branches[0] if len(branches) == 1 else node
        return {**defs.get(inner.get("$ref", "").rsplit("/", 1)[-1], {}), **inner}, node

    def walk(node, path):
        for name, child in node.get("properties", {}).items():
            merged, outer = resolve(child)
            yield f"{path}{name}", name, {**merged, **{k: v for k, v in outer.items() if k != "anyOf"}}
            yield from walk(merged, f"{path}{name}.")
    yield from walk(schema, "")


@pytest.mark.parametrize("kind", sorted(TASK_KINDS))
def test_every_outcome_field_has_a_french_title_help_and_labelled_choices(kind):
    schema = TASK_KINDS[kind].outcome_schema()
    assert not re.fullmatch(r"[A-Za-z]+", schema["title"]), schema["title"]
    for name, definition in schema.get("$defs", {}).items():
        assert definition["title"] != name, f"$defs {name} has a French title"
    for path, name, node in _nodes(schema):
        assert node.get("title") and node.get("description"), path
        if "enum" in node:
            assert [option["const"] for option in node["oneOf"]] == node["enum"], path
            assert all(option["title"] for option in node["oneOf"]), path


def test_every_title_is_written_not_made_up_from_the_name():
    models = [obj for obj in vars(task_kinds).values()
              if isinstance(obj, type) and issubclass(obj, BaseModel) and obj.__module__ == task_kinds.__name__
              and not obj.__name__.startswith("_")]
    assert len(models) >= len(TASK_KINDS) + 2
    for model in models:
        assert "title" in model.__dict__["model_config"], model.__name__
        for name, field in model.model_fields.items():
            assert field.title and field.description, f"{model.__name__}.{name}"


def test_the_labels_do_not_change_what_is_accepted():
    place = ContactFields.model_json_schema()["$defs"]["ContactPlace"]
    assert place["enum"] == ["service", "workplace", "home", "other"] and place["type"] == "string"
    with pytest.raises(ValidationError):
        SignConventionOutcome.model_validate({"decision": "Signer pour la plateforme"})
    with pytest.raises(ValidationError):
        SignConventionOutcome.model_validate({"decision": "sign", "unexpected": 1})
    with pytest.raises(ValidationError):
        InterviewOutcome.model_validate({"occurred_on": "2026-03-02", "duration_minutes": 1, "place": "home",
                                         "channel": "phone", "participants": "person", "interview": False})
    assert DraftAvenantOutcome.model_validate({"changes": "x", "signs_for_person": None}).signs_for_person is None
