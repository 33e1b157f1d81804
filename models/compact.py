"""Models that travel without the fields left at their defaults.

An activity's input is kept in the case's history for as long as the case runs: a field at its default
(an empty list, a None) costs bytes there and says nothing, since the receiving side validates the
payload with the same model and fills the default in again. Only for models that go from a workflow to
an activity (never for what the `status` query or a person reads).
"""

from __future__ import annotations

import functools
from typing import Any

from pydantic import BaseModel, SerializerFunctionWrapHandler, model_serializer


@functools.cache
def defaults_of(model: type[BaseModel]) -> dict[str, Any]:
    """Each optional field's default, once per model: pydantic works out a default factory's signature
    (parsing its text with `ast`) every time it is asked, a twentieth of the worker's CPU when asked for
    every message a case sends. A factory (`list`, `dict`) makes a fresh empty value: compared, never kept."""
    return {
        name: field.get_default(call_default_factory=True)
        for name, field in model.model_fields.items()
        if not field.is_required()
    }


class Compact(BaseModel):
    @model_serializer(mode="wrap")
    def without_defaults(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        data: dict[str, Any] = handler(self)
        defaults = defaults_of(type(self))
        return {name: value for name, value in data.items() if name not in defaults or getattr(self, name) != defaults[name]}
