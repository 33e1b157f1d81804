"""Models that travel without the fields left at their defaults.

An activity's input is kept in the case's history for as long as the case runs: a field at its default
(an empty list, a None) costs bytes there and says nothing, since the receiving side validates the
payload with the same model and fills the default in again. Only for models that go from a workflow to
an activity (never for what the `status` query or a person reads).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, SerializerFunctionWrapHandler, model_serializer


class Compact(BaseModel):
    @model_serializer(mode="wrap")
    def without_defaults(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        data: dict[str, Any] = handler(self)
        fields = type(self).model_fields
        return {
            name: value
            for name, value in data.items()
            if name not in fields
            or fields[name].is_required()
            or getattr(self, name) != fields[name].get_default(call_default_factory=True)
        }
