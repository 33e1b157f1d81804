"""Form fields generated from the pydantic models the command line validates with (models/forms.py,
models/decisions.py): one place to add a field. A model's fields become GOV.UK inputs – text, textarea
for free text, radios for a choice or yes/no, the date input pattern for a date, a fieldset for a
nested model, a textarea of lines for a list (`name | email` per line for a list of models). The post is
read back into the dict the model validates, and a validation error is put next to its field."""

from __future__ import annotations

import functools
import re
import types
from dataclasses import dataclass, field
from datetime import date
from enum import Enum
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel, ValidationError
from pydantic.fields import FieldInfo
from starlette.datastructures import FormData

from register.report import authority_names

NOT_ON_FORMS = frozenset({"recorded_by"})  # the console's own: the signed-in person
DOCUMENTS = frozenset({"report_file", "written_sign_off"})  # a file sent with the form (starter.DOCUMENT_FIELDS)
TEXTAREA_FROM = 1000  # a string allowed longer than this is free text: a textarea
SEPARATOR = "|"


@dataclass
class FormField:
    """One input of a generated form; `name` is its path in the model ("referrer.email")."""

    name: str
    label: str
    kind: Literal["text", "email", "textarea", "date", "radios", "yesno", "lines", "rows", "fieldset", "file"]
    required: bool
    options: tuple[str, ...] = ()
    columns: tuple[str, ...] = ()
    children: list[FormField] = field(default_factory=list)

    @property
    def id(self) -> str:
        return self.name.replace(".", "-")

    @property
    def hint(self) -> str:
        optional = "" if self.required else " (optional)"
        if self.kind == "date":
            return "For example, 27 3 2026" + optional
        if self.kind == "lines":
            return "One on each line" + optional
        if self.kind == "file":
            return "A Word document (.docx) or a PDF, at most 25 MB" + optional
        if self.kind == "rows":
            return f"One on each line: {' | '.join(c.replace('_', ' ') for c in self.columns)}" + optional
        return optional.strip().capitalize().strip("()")


def label_of(name: str) -> str:
    return name.replace("_", " ").capitalize()


def _plain_type(annotation: Any, metadata: list[Any]) -> tuple[Any, list[Any]]:
    """The type under `X | None` and `Annotated[X, ...]`, with the constraints found on the way."""
    if get_origin(annotation) in (Union, types.UnionType):
        inner = [a for a in get_args(annotation) if a is not type(None)]
        if len(inner) == 1:
            return _plain_type(inner[0], metadata)
    if get_origin(annotation) is Annotated:
        base, *more = get_args(annotation)
        return _plain_type(base, metadata + more)
    return annotation, metadata


def _is_model(annotation: Any) -> bool:
    return isinstance(annotation, type) and issubclass(annotation, BaseModel)


def fields_of(model: type[BaseModel], prefix: str = "") -> list[FormField]:
    """The form fields of a model, in the model's order; the console's own fields left out."""
    fields = []
    for name, info in model.model_fields.items():
        if name in NOT_ON_FORMS:
            continue
        fields.append(_field(prefix + name, info))
    return fields


def _field(name: str, info: FieldInfo) -> FormField:
    annotation, metadata = _plain_type(info.annotation, list(info.metadata))
    required = info.is_required()
    label = label_of(name.rpartition(".")[2])
    if name in DOCUMENTS:
        return FormField(name, label, "file", required)
    if get_origin(annotation) is Literal:
        return FormField(name, label, "radios", required, options=tuple(str(o) for o in get_args(annotation)))
    if isinstance(annotation, type) and issubclass(annotation, Enum):
        return FormField(name, label, "radios", required, options=tuple(str(o.value) for o in annotation))
    if annotation is bool:
        return FormField(name, label, "yesno", required)
    if annotation is date:
        return FormField(name, label, "date", required)
    if get_origin(annotation) is list:
        (item,) = get_args(annotation)
        if _is_model(item):
            return FormField(name, label, "rows", required, columns=tuple(item.model_fields))
        return FormField(name, label, "lines", required)
    if _is_model(annotation):
        return FormField(name, label, "fieldset", required, children=fields_of(annotation, prefix=name + "."))
    if "email" in str(annotation).lower():
        return FormField(name, label, "email", required)
    longest = max((getattr(m, "max_length", None) or 0 for m in metadata), default=0)
    return FormField(name, label, "textarea" if longest > TEXTAREA_FROM else "text", required)


def all_fields(fields: list[FormField]) -> list[FormField]:
    """Every input, nested fieldsets' included."""
    return [f for top in fields for f in ([top] if top.kind != "fieldset" else all_fields(top.children))]


# ---- the post, read back into what the model validates ---------------------------------------------


def _text(form: FormData, key: str) -> str:
    value = form.get(key)
    return value.strip() if isinstance(value, str) else ""


def _date(form: FormData, name: str) -> str | None:
    parts = [_text(form, f"{name}-{part}") for part in ("day", "month", "year")]
    if not any(parts):
        return None
    day, month, year = parts
    if not (day.isdigit() and month.isdigit() and year.isdigit() and len(year) == 4):
        return "not-a-date"  # the model says "must be a real date"
    return f"{int(year):04d}-{int(month):02d}-{int(day):02d}"


def _rows(text: str, columns: tuple[str, ...]) -> list[dict[str, str]]:
    rows = []
    for line in text.splitlines():
        if line.strip():
            cells = [cell.strip() for cell in line.split(SEPARATOR)]
            rows.append({column: value for column, value in zip(columns, cells) if value})
    return rows


def values_of(form: FormData, fields: list[FormField]) -> dict[str, Any]:
    """The model's input from a post: an empty field is left out (the model says if it is required)."""
    values: dict[str, Any] = {}
    for f in fields:
        key = f.name.rpartition(".")[2]
        if f.kind == "fieldset":
            nested = values_of(form, f.children)
            if nested or f.required:
                values[key] = nested
            continue
        if f.kind == "file":  # stored by the route, which puts the stored name in
            continue
        if f.kind == "date":
            value: Any = _date(form, f.name)
        elif f.kind == "yesno":
            value = {"yes": True, "no": False}.get(_text(form, f.name))
        elif f.kind == "lines":
            value = [line.strip() for line in _text(form, f.name).splitlines() if line.strip()]
        elif f.kind == "rows":
            value = _rows(_text(form, f.name), f.columns)
        else:
            value = _text(form, f.name) or None
        if value is None or (value == [] and not f.required):
            continue
        values[key] = value
    return values


def shown_values(form: FormData) -> dict[str, str]:
    """What the person typed, to show again with the errors (every field is text in a post)."""
    return {key: value for key, value in form.multi_items() if isinstance(value, str) and key != "csrf_token"}


# ---- errors next to their fields --------------------------------------------------------------------


@dataclass
class FieldError:
    field_id: str  # the input the error summary links to ("" for the form as a whole)
    text: str


_LEADING_FIELD = re.compile(r"^([a-z_]+(?:\.[a-z_]+)*): (.*)$", re.S)


def errors_of(error: ValidationError, fields: list[FormField]) -> dict[str, FieldError]:
    """A ValidationError as one message per field name (the first error of each), in the form's order."""
    names = {f.name: f for f in all_fields(fields)}
    found: dict[str, FieldError] = {}
    for item in error.errors(include_url=False, include_input=False):
        location = [str(part) for part in item["loc"]]
        message = re.sub(r"^(Value|Assertion) error, ", "", item["msg"])
        name, rest = _owner(location, names)
        if name is None:  # a rule across fields: "became_aware_on: cannot be after received_on"
            match = _LEADING_FIELD.match(message)
            if match and match.group(1) in names:
                name, message = match.group(1), match.group(2)
        if name is not None and rest:
            message = f"line {int(rest[0]) + 1}" + (f", {rest[1].replace('_', ' ')}" if len(rest) > 1 else "") + f": {message}"
        key = name or ""
        if key not in found:
            target = names[name] if name else None
            label = target.label if target else "This form"
            field_id = (target.id + ("-day" if target.kind == "date" else "")) if target else ""
            found[key] = FieldError(field_id=field_id, text=f"{label}: {message}")
    order = [f.name for f in all_fields(fields)]
    return dict(sorted(found.items(), key=lambda kv: order.index(kv[0]) if kv[0] in order else -1))


def _owner(location: list[str], names: dict[str, FormField]) -> tuple[str | None, list[str]]:
    """The form field a location belongs to, and what is left of it (a list's line, a column)."""
    for cut in range(len(location), 0, -1):
        name = ".".join(location[:cut])
        if name in names:
            return name, location[cut:]
    return None, []


# ---- what the GOV.UK macros are given -------------------------------------------------------------



AUTHORITY_NAMES = functools.cache(authority_names)  # read once: a partnership renames an authority rarely
ACRONYMS = {"dsp": "DSP", "lcspr": "LCSPR", "la": "LA", "csons": "CSONS"}


def option_text(value: str) -> str:
    """A slug as people read it: "dsp_decision" is "DSP decision"; an authority by its name in the routing
    file ("stockton-on-tees" is "Stockton-on-Tees")."""
    named = AUTHORITY_NAMES().get(value)
    if named:
        return named
    words = value.replace("_", " ").replace("-", " ").capitalize().split(" ")
    return " ".join(ACRONYMS.get(word.lower(), word) for word in words)


def params_of(f: FormField, values: dict[str, str], errors: dict[str, FieldError]) -> dict[str, Any]:
    """The parameters of the field's GOV.UK macro (govukInput, govukTextarea, govukRadios, govukDateInput)."""
    error = errors.get(f.name)
    common: dict[str, Any] = {"hint": {"text": f.hint} if f.hint else None, "errorMessage": {"text": error.text} if error else None}
    legend = {"legend": {"text": f.label, "classes": "govuk-fieldset__legend--s"}}
    if f.kind in ("radios", "yesno"):
        options = [("yes", "Yes"), ("no", "No")] if f.kind == "yesno" else [(o, option_text(o)) for o in f.options]
        items = [{"value": v, "text": t, "checked": values.get(f.name) == v} for v, t in options]
        return common | {"idPrefix": f.id, "name": f.name, "fieldset": legend, "items": items,
                         "classes": "govuk-radios--inline" if f.kind == "yesno" else ""}
    if f.kind == "date":
        items = [
            {"name": part, "label": part.capitalize(), "value": values.get(f"{f.name}-{part}", ""),
             "classes": f"govuk-input--width-{4 if part == 'year' else 2}" + (" govuk-input--error" if error else "")}
            for part in ("day", "month", "year")
        ]
        return common | {"id": f.id, "namePrefix": f.name, "fieldset": legend, "items": items}
    base = common | {"label": {"text": f.label, "classes": "govuk-label--s"}, "id": f.id, "name": f.name, "value": values.get(f.name, "")}
    if f.kind == "email":
        return base | {"type": "email", "autocomplete": "email", "spellcheck": False}
    if f.kind == "file":
        return base | {"value": None, "attributes": {"accept": ".pdf,.docx"}}
    if f.kind in ("textarea", "lines", "rows"):
        return base | {"rows": 3 if f.kind == "lines" else 5}
    return base


def error_list(errors: dict[str, FieldError]) -> list[dict[str, str]]:
    """The GOV.UK error summary's list: each error linking to its field."""
    return [{"text": e.text, "href": f"#{e.field_id}"} if e.field_id else {"text": e.text} for e in errors.values()]
