"""The generic form renderer: draws a form's fields from a JSON Schema (pydantic v2's
`model_json_schema()`, e.g. a task kind's outcome) and reads the submitted form back into a JSON value.

One walk of the schema serves both ways. Inputs are named by the dotted path of their value
("employer.signatory.name", rows "people.0.name"); `field_id` gives the id an error links to. The
API's field errors ("outcome.employer.signatory.name") are shown beside their field, an error on a group
at the top of its fieldset, and the rest (`unplaced_errors`) by the page above the form. No JavaScript:
adding a row of a list is a submit button that redraws the form.
"""
from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import date, datetime
from typing import Any

from markupsafe import Markup, escape

__all__ = ["field_id", "parse_form", "render_fields", "unplaced_errors"]

ADD_ROW = "__add_row"  # the name of the "Ajouter une ligne" buttons; their value is the list's path
PRESENT = "__present"  # suffix of the checkbox that says an optional group is filled in
_CHOOSE = "— Choisissez —"
_NOTHING = "Ne pas renseigner"
_REMOVE_ROW = "Pour retirer une ligne, videz ses champs."
_RADIO_MAX = 4  # more choices than this: a <select>
_TEXTAREA_FROM = 300  # a maxLength above this: prose, in a <textarea>
_LEFT_OUT = object()  # a field the submitted value does not mention


def field_id(path: str) -> str:
    """The HTML id of the input for a dotted path: "employer.signatory.name" → "f-employer-signatory-name"."""
    return "f-" + re.sub(r"[^A-Za-z0-9_-]+", "-", path).strip("-") if path else "f-"


# --- the schema, normalised -------------------------------------------------------------------------


def _node(schema: Mapping[str, Any], root: Mapping[str, Any]) -> tuple[dict[str, Any], bool]:
    """A property's schema with `$ref`/`allOf` resolved (sibling keywords win) and `anyOf [X, null]`
    unwrapped; and whether null is allowed."""
    node = _deref(schema, root)
    branches = node.get("anyOf")
    if branches:
        kept = [branch for branch in branches if branch.get("type") != "null"]
        if len(kept) == 1:
            outer = {key: value for key, value in node.items() if key != "anyOf"}
            return {**_deref(kept[0], root), **outer}, len(kept) < len(branches)
    return node, False


def _deref(schema: Mapping[str, Any], root: Mapping[str, Any]) -> dict[str, Any]:
    node = dict(schema)
    while True:
        if "$ref" in node:
            target = root
            for part in node.pop("$ref").removeprefix("#/").split("/"):
                target = target[part]
            node = {**target, **node}
        elif len(node.get("allOf", ())) == 1:
            node = {**_deref(node.pop("allOf")[0], root), **node}
        else:
            return node


def _kind(node: Mapping[str, Any], root: Mapping[str, Any]) -> str:
    if node.get("readOnly") or "const" in node:
        return "hidden"
    if "enum" in node:
        return "choice"
    kind = node.get("type")
    if kind == "object" or "properties" in node:
        return "object"
    if kind == "array":
        items, _ = _node(node.get("items", {}), root)
        if _kind(items, root) == "object":
            return "rows"
        return "multi" if "enum" in items else "lines"
    if kind in ("integer", "number", "boolean"):
        return kind
    return "string"


def _properties(node: Mapping[str, Any], root: Mapping[str, Any]) -> Iterable[tuple[str, dict, bool, bool]]:
    """(name, schema, nullable, required) of an object's properties, in schema order."""
    required = set(node.get("required", ()))
    for name, schema in node.get("properties", {}).items():
        child, nullable = _node(schema, root)
        yield name, child, nullable, name in required


def _optional_group(node: Mapping[str, Any], nullable: bool, required: bool) -> bool:
    return nullable or (not required and node.get("default") is None)


def _join(path: str, name: str | int) -> str:
    return f"{path}.{name}" if path else str(name)


def _placement(schema: Mapping[str, Any], path: str) -> str | None:
    """Where the error on `path` is shown: the path of its field or group; None when it has none (the
    whole form, or a field the form does not draw)."""
    if not path:
        return None
    node, shown = dict(schema), ""
    for part in path.split("."):
        kind = _kind(node, schema)
        if kind == "object":
            found = {name: child for name, child, _, _ in _properties(node, schema)}
            if part not in found or _kind(found[part], schema) == "hidden":
                return None
            node = found[part]
        elif kind == "rows" and part.isdigit():
            node, _ = _node(node.get("items", {}), schema)
        elif kind in ("multi", "lines") and part.isdigit():
            return shown  # one item of a list drawn as one field
        else:
            return None
        shown = _join(shown, part)
    return shown


def _error_path(error: Mapping[str, str], prefix: str) -> str:
    field = error.get("field", "")
    if field == prefix:
        return ""
    return field.removeprefix(prefix + ".") if prefix else field


def unplaced_errors(schema: Mapping[str, Any], errors: Iterable[Mapping[str, str]] | None,
                    error_prefix: str = "outcome") -> list[dict]:
    """The errors `render_fields` does not show beside a field or group: the page shows them above the form."""
    return [dict(error) for error in errors or ()
            if _placement(schema, _error_path(error, error_prefix)) is None]


# --- drawing ----------------------------------------------------------------------------------------


def render_fields(schema: dict, values: dict | None = None, errors: list[dict[str, str]] | None = None,
                  *, error_prefix: str = "outcome", extra_rows: dict[str, int] | None = None) -> Markup:
    """The fields of a form for `schema`, filled with `values` (or the schema's defaults), each with its
    label, help, and the French error of the API beside it."""
    placed: dict[str, list[str]] = {}
    for error in errors or ():
        where = _placement(schema, _error_path(error, error_prefix))
        if where is not None:
            placed.setdefault(where, []).append(error.get("message", ""))
    drawer = _Drawer(schema, placed, extra_rows or {})
    return drawer.members(schema, "", values or {}, relaxed=False)


def _tag(name: str, attrs: Mapping[str, Any], content: Any = None) -> Markup:
    """An element; attributes None/False are left out, True is written bare. Everything is escaped."""
    written = []
    for key, value in attrs.items():
        if value is None or value is False:
            continue
        written.append(Markup(" {}").format(key) if value is True else Markup(' {}="{}"').format(key, value))
    opening = Markup("<{}{}>").format(name, Markup("").join(written))
    if content is None:
        return opening
    return opening + escape(content) + Markup("</{}>").format(name)


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def _labels(node: Mapping[str, Any]) -> list[tuple[Any, str]]:
    titles = {option.get("const"): option.get("title") for option in node.get("oneOf", ()) if "const" in option}
    return [(value, titles.get(value) or _text(value)) for value in node.get("enum", ())]


class _Drawer:
    def __init__(self, root: Mapping[str, Any], errors: dict[str, list[str]], extra_rows: Mapping[str, int]):
        self.root, self.errors, self.extra_rows = root, errors, extra_rows

    def members(self, node: Mapping[str, Any], path: str, value: Any, *, relaxed: bool) -> Markup:
        """The properties of an object. `relaxed`: inside an optional group or a row, where a required field
        is required only once the group is filled in, so it gets no `required` attribute."""
        value = value if isinstance(value, Mapping) else {}
        return Markup("").join(
            self.field(child, _join(path, name), value.get(name, child.get("default")), name=name,
                       required=required, nullable=nullable, relaxed=relaxed)
            for name, child, nullable, required in _properties(node, self.root))

    def field(self, node: dict, path: str, value: Any, *, name: str, required: bool, nullable: bool,
              relaxed: bool) -> Markup:
        kind = _kind(node, self.root)
        if kind == "hidden":
            return Markup("")
        title = node.get("title") or name
        if kind == "object":
            return self.group(node, path, value, title, optional=_optional_group(node, nullable, required),
                              relaxed=relaxed)
        if kind == "rows":
            return self.rows(node, path, value, title)
        optional = not required and node.get("default") is None
        # "x-required-when": optional for the schema, asked for by one choice of the form (a rule's reason)
        condition = node.get("x-required-when")
        label = title + (f" ({condition})" if condition else " (facultatif)" if optional else "")
        must = required and not relaxed
        if kind in ("boolean", "choice"):
            options = [(True, "Oui"), (False, "Non")] if kind == "boolean" else _labels(node)
            if len(options) > _RADIO_MAX:
                return self.select(node, path, label, options, value, must=must)
            if nullable or optional:  # a radio cannot be unchecked: a way back to "nothing chosen"
                options.append(("", _NOTHING))
            return self.choices(node, path, label, options, value, must=must)
        if kind == "multi":
            items, _ = _node(node.get("items", {}), self.root)
            return self.choices(node, path, label, _labels(items), list(value or ()), must=False, multiple=True)
        attrs: dict[str, Any] = {"id": field_id(path), "name": path, "required": must, **self.described(node, path),
                                 "aria-invalid": "true" if path in self.errors else None}
        if kind == "lines":
            control = _tag("textarea", {**attrs, "rows": 5}, "\n" + "\n".join(_text(item) for item in value or ()))
        elif kind == "string" and (node.get("maxLength") or 0) > _TEXTAREA_FROM:
            control = _tag("textarea", {**attrs, "rows": 5}, "\n" + _text(value))  # a first newline is eaten
        elif kind in ("integer", "number"):
            control = _tag("input", {"type": "number", **attrs, "value": _text(value), "min": node.get("minimum"),
                                     "max": node.get("maximum"), "step": 1 if kind == "integer" else "any"})
        else:
            kind_of_input = {"date": "date", "email": "email"}.get(node.get("format"), "text")
            control = _tag("input", {"type": kind_of_input, **attrs, "value": _text(value),
                                     "autocomplete": "email" if kind_of_input == "email" else None})
        return _tag("div", {"class": self.wrapper_class(path)}, Markup("").join([
            _tag("label", {"for": field_id(path)}, label), self.help(node, path), control]))

    # -- pieces

    def described(self, node: Mapping[str, Any], path: str) -> dict[str, Any]:
        """aria-describedby: the ids of the hint and of the error, those that exist."""
        ident = field_id(path)
        ids = [ident + "-hint"] if node.get("description") else []
        ids += [ident + "-error"] if path in self.errors else []
        return {"aria-describedby": " ".join(ids) or None}

    def help(self, node: Mapping[str, Any], path: str) -> Markup:
        """The hint (description) and the error of a field or group, in this order."""
        ident = field_id(path)
        parts = []
        if node.get("description"):
            parts.append(_tag("p", {"class": "hint", "id": ident + "-hint"}, node["description"]))
        if path in self.errors:
            message = Markup('<span class="visually-hidden">Erreur : </span>') + " ".join(self.errors[path])
            parts.append(_tag("p", {"class": "field-error", "id": ident + "-error"}, message))
        return Markup("").join(parts)

    def wrapper_class(self, path: str, base: str = "field") -> str:
        return f"{base} field--error" if path in self.errors else base

    def choices(self, node: Mapping[str, Any], path: str, label: str, options: list[tuple[Any, str]], value: Any,
                *, must: bool, multiple: bool = False) -> Markup:
        """Radios (checkboxes when `multiple`) in a fieldset whose legend is the label."""
        ident = field_id(path)
        chosen = {_text(item) for item in value} if multiple else {_text(value)}
        boxes = []
        for option, text in options:
            box = f"{ident}-{field_id(_text(option) or '__blank')[2:]}"
            boxes.append(_tag("div", {"class": "choice"}, Markup("").join([
                _tag("input", {"type": "checkbox" if multiple else "radio", "id": box, "name": path,
                               "value": _text(option), "checked": _text(option) in chosen,
                               "required": must}),
                _tag("label", {"for": box}, text)])))
        return _tag("fieldset", {"class": self.wrapper_class(path), "id": ident, **self.described(node, path)},
                    Markup("").join([_tag("legend", {}, label), self.help(node, path),
                                     _tag("div", {"class": "choices"}, Markup("").join(boxes))]))

    def select(self, node: Mapping[str, Any], path: str, label: str, options: list[tuple[Any, str]], value: Any,
               *, must: bool) -> Markup:
        ident = field_id(path)
        entries = [] if node.get("default") is not None else [_tag("option", {"value": ""}, _CHOOSE)]
        entries += [_tag("option", {"value": _text(option), "selected": _text(option) == _text(value)}, text)
                    for option, text in options]
        control = _tag("select", {"id": ident, "name": path, "required": must, **self.described(node, path),
                                  "aria-invalid": "true" if path in self.errors else None}, Markup("").join(entries))
        return _tag("div", {"class": self.wrapper_class(path)}, Markup("").join([
            _tag("label", {"for": ident}, label), self.help(node, path), control]))

    def group(self, node: dict, path: str, value: Any, title: str, *, optional: bool, relaxed: bool) -> Markup:
        """A nested object: a fieldset; an optional one is preceded by the box that says it is filled in."""
        ident = field_id(path)
        fieldset = _tag("fieldset", {"class": self.wrapper_class(path, "group"), "id": ident,
                                     **self.described(node, path)},
                        Markup("").join([_tag("legend", {}, title), self.help(node, path),
                                         self.members(node, path, value, relaxed=relaxed or optional)]))
        if not optional:
            return fieldset
        box = field_id(_join(path, PRESENT))
        presence = _tag("div", {"class": "field"}, _tag("div", {"class": "choice"}, Markup("").join([
            _tag("input", {"type": "checkbox", "id": box, "name": _join(path, PRESENT), "value": "on",
                           "checked": value is not None, "aria-controls": ident}),
            _tag("label", {"for": box}, f"Renseigner : {title}")])))
        return presence + fieldset

    def rows(self, node: dict, path: str, value: Any, title: str) -> Markup:
        """A list of objects: one fieldset per row, blank rows after them, and a button to add one."""
        items, _ = _node(node.get("items", {}), self.root)
        filled = list(value) if isinstance(value, list) else []
        drawn = []
        for index in range(len(filled) + max(0, self.extra_rows.get(path, 1))):
            row_path = _join(path, index)
            drawn.append(_tag("fieldset", {"class": self.wrapper_class(row_path, "group"), "id": field_id(row_path),
                                           **self.described({}, row_path)},
                              Markup("").join([_tag("legend", {}, f"{title} n° {index + 1}"),
                                               self.help({}, row_path),
                                               self.members(items, row_path, filled[index] if index < len(filled)
                                                            else {}, relaxed=True)])))
        button = _tag("button", {"type": "submit", "name": ADD_ROW, "value": path, "formnovalidate": True},
                      "Ajouter une ligne")
        return _tag("fieldset", {"class": self.wrapper_class(path, "rows"), "id": field_id(path),
                                 **self.described(node, path)},
                    Markup("").join([_tag("legend", {}, title), self.help(node, path), *drawn,
                                     _tag("p", {"class": "hint"}, _REMOVE_ROW), button]))


# --- reading the form back --------------------------------------------------------------------------


def asking_for(schema: dict[str, Any], required: Iterable[str] = (), *, hidden: Iterable[str] = ()) -> dict[str, Any]:
    """The schema of a page's form: `required` top-level properties asked for even where the API takes
    them as optional (it names the rule that wants them), `hidden` ones left out (the address gives them)."""
    required, hidden = tuple(required), tuple(hidden)
    properties = {name: _not_null(prop) if name in required else prop
                  for name, prop in schema["properties"].items() if name not in hidden}
    kept = [name for name in schema.get("required", ()) if name not in hidden]
    return {**schema, "properties": properties, "required": kept + [name for name in required if name not in kept]}


def _not_null(prop: dict[str, Any]) -> dict[str, Any]:
    """A property's schema without its `null` branch and null default: the form asks for it."""
    branches = [branch for branch in prop.get("anyOf", ()) if branch.get("type") != "null"]
    kept = {key: value for key, value in prop.items() if key not in ("anyOf", "default")}
    return {**kept, **branches[0]} if len(branches) == 1 else kept


def parse_form(schema: dict, form: Mapping[str, str | list[str]]) -> tuple[dict, dict[str, int]]:
    """The JSON value a submitted form means for `schema`, and for each list of rows the number of blank
    rows to draw next time (one more for the list whose "Ajouter une ligne" was pressed).

    A blank text, date or number is left out, so that pydantic says "missing" for a required field and
    applies the default of an optional one; what does not parse is kept as typed, for pydantic to refuse
    and the page to draw again."""
    reader = _Reader(schema, form)
    value, _ = reader.members(schema, "")
    return value, reader.rows


class _Reader:
    def __init__(self, root: Mapping[str, Any], form: Mapping[str, str | list[str]]):
        self.root, self.form, self.rows = root, form, {}
        self.add_row = self.one(ADD_ROW)

    def all(self, name: str) -> list[str]:
        found = self.form.get(name, [])
        return [found] if isinstance(found, str) else list(found)

    def one(self, name: str) -> str:
        found = self.all(name)
        return found[-1] if found else ""

    def members(self, node: Mapping[str, Any], path: str) -> tuple[dict, bool]:
        """(value, blank): blank when nothing but defaults was submitted."""
        value, blank = {}, True
        for name, child, nullable, required in _properties(node, self.root):
            found = self.field(child, _join(path, name), nullable=nullable, required=required)
            if found is not _LEFT_OUT:
                value[name], is_blank = found
                blank = blank and is_blank
        return value, blank

    def field(self, node: dict, path: str, *, nullable: bool, required: bool) -> Any:
        """(value, blank), or _LEFT_OUT when the key is to be left out."""
        kind = _kind(node, self.root)
        if kind == "hidden":
            return (node["const"], True) if "const" in node and required else _LEFT_OUT
        if kind == "object":
            if _optional_group(node, nullable, required) and not self.one(_join(path, PRESENT)):
                return None, True
            return self.members(node, path)
        if kind == "rows":
            return self.read_rows(node, path)
        if kind == "multi":
            items, _ = _node(node.get("items", {}), self.root)
            chosen = [_choice(items, raw) for raw in self.all(path) if raw != ""]
            if not chosen and nullable and not required:
                return _LEFT_OUT  # an optional list of choices, none ticked: not recorded
            return chosen, chosen == (node.get("default") or [])
        if kind == "lines":
            lines = [line.strip() for raw in self.all(path) for line in raw.splitlines() if line.strip()]
            return lines, lines == (node.get("default") or [])
        raw = self.one(path)
        if not raw.strip():
            # left out: pydantic says "missing" or applies the default; null is an answer when allowed
            return (None, True) if nullable and required else _LEFT_OUT
        if kind == "string" and node.get("format") != "date":
            value: Any = raw.replace("\r\n", "\n")
        elif kind == "string":
            value = _iso_date(raw.strip())
        elif kind == "boolean":
            value = {"true": True, "false": False}.get(raw.strip(), raw)
        elif kind == "choice":
            value = _choice(node, raw)
        else:
            value = _number(raw.strip(), integer=kind == "integer")
        return value, "default" in node and value == node["default"]

    def read_rows(self, node: dict, path: str) -> tuple[list, bool]:
        items, _ = _node(node.get("items", {}), self.root)
        indices = sorted({int(match.group(1)) for key in self.form
                          if (match := re.fullmatch(re.escape(path) + r"\.(\d+)\..+", key))})
        kept, blanks = [], 0
        for index in indices:
            row, blank = self.members(items, _join(path, index))
            if blank:
                blanks += 1
            else:
                kept.append(row)
        self.rows[path] = max(1, blanks + (1 if self.add_row == path else 0))
        return kept, not kept


def _choice(node: Mapping[str, Any], raw: str) -> Any:
    """The enum value whose text was submitted (so that 3 stays a number), else the raw text."""
    return next((value for value in node.get("enum", ()) if _text(value) == raw), raw)


def _number(raw: str, *, integer: bool) -> Any:
    try:
        return int(raw) if integer else float(raw.replace(",", "."))
    except ValueError:
        return raw


def _iso_date(raw: str) -> str:
    """A date typed as jj/mm/aaaa (a browser without a date picker) becomes ISO; anything else stays."""
    match = re.fullmatch(r"(\d{1,2})/(\d{1,2})/(\d{4})", raw)
    return f"{match[3]}-{int(match[2]):02d}-{int(match[1]):02d}" if match else raw


# --- a recorded value, read back ----------------------------------------------------------------


def describe(schema: Mapping[str, Any], value: Mapping[str, Any] | None) -> list[tuple[str, str]]:
    """(label, French text) of each field of a recorded value, in schema order, nested groups
    flattened as "Employeur — Nom"; empty fields left out."""
    rows: list[tuple[str, str]] = []

    def walk(node: Mapping[str, Any], current: Any, prefix: str) -> None:
        for name, child, _, _ in _properties(node, schema):
            label = f"{prefix}{child.get('title') or name}"
            item = (current or {}).get(name)
            if item is None or item == "" or item == []:
                continue
            kind = _kind(child, schema)
            if kind == "object":
                walk(child, item, f"{label} — ")
            elif kind == "rows":
                entry, _ = _node(child.get("items", {}), schema)
                for index, element in enumerate(item, start=1):
                    walk(entry, element, f"{label} n° {index} — ")
            elif kind in ("choice", "multi"):
                labels = dict(_labels(child if kind == "choice" else _node(child.get("items", {}), schema)[0]))
                values = item if isinstance(item, list) else [item]
                rows.append((label, ", ".join(labels.get(v, _text(v)) for v in values)))
            elif kind == "boolean":
                rows.append((label, "Oui" if item else "Non"))
            elif child.get("format") == "date":
                rows.append((label, _date_fr(item)))
            else:
                rows.append((label, "\n".join(map(_text, item)) if isinstance(item, list) else _text(item)))

    walk(_deref(schema, schema), value, "")
    return rows


def _date_fr(value: Any) -> str:
    try:
        return date.fromisoformat(_text(value)).strftime("%d/%m/%Y")
    except ValueError:
        return _text(value)


def choice_titles(schema: Mapping[str, Any], name: str) -> dict[Any, str]:
    """The French label of each value of the choice field `name` (a top-level property)."""
    for prop, child, _, _ in _properties(_deref(schema, schema), schema):
        if prop == name:
            node = child if "enum" in child else _node(child.get("items", {}), schema)[0]
            return dict(_labels(node))
    raise KeyError(name)


def label_of(schema: Mapping[str, Any], path: str) -> str | None:
    """The label of the field or group at a dotted path ("Employeur — Signataire — Nom"), or None."""
    node, labels = _deref(schema, schema), []
    for part in path.split(".") if path else ():
        if _kind(node, schema) == "rows" and part.isdigit():
            node, _ = _node(node.get("items", {}), schema)
            labels[-1] = f"{labels[-1]} n° {int(part) + 1}"
            continue
        found = {name: child for name, child, _, _ in _properties(node, schema)}
        if part not in found:
            return None
        node = found[part]
        labels.append(node.get("title") or part)
    return " — ".join(labels) or None
