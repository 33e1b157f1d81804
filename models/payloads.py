"""How models travel to and from Temporal: pydantic's JSON converter, refusing what is not valid.

A payload that does not validate (a direct start with a malformed form, an update whose argument is
not a decision) is refused with a non-retryable `InvalidInput` error naming the fields and the rules,
never echoing the input: a workflow started with it fails at once instead of retrying its first task
for ever, and nothing of the form reaches a failure message or a log.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from pydantic import ValidationError
from temporalio.api.common.v1 import Payload
from temporalio.contrib.pydantic import PydanticJSONPlainPayloadConverter
from temporalio.converter import CompositePayloadConverter, DataConverter, DefaultPayloadConverter, JSONPlainPayloadConverter
from temporalio.exceptions import ApplicationError

from models.dates import describe_validation_error
from models.text import Public


PUBLIC = "public"  # the metadata of a payload codec.py leaves unencrypted: a `Public` summary


class RefusingJSONPayloadConverter(PydanticJSONPlainPayloadConverter):
    def to_payload(self, value: Any) -> Payload | None:
        payload = super().to_payload(value)
        if payload is not None and type(value) is Public:
            payload.metadata[PUBLIC] = b"1"
        return payload

    def from_payload(self, payload: Payload, type_hint: type | None = None) -> Any:
        try:
            return super().from_payload(payload, type_hint)
        except ValidationError as error:
            raise ApplicationError(
                f"invalid input: {describe_validation_error(error)}", type="InvalidInput", non_retryable=True
            ) from None


class PayloadConverter(CompositePayloadConverter):
    # Made once: the SDK makes a data converter, so a payload converter, for every workflow task, and the
    # converters hold no state but pydantic's type adapters, which are better shared.
    ENCODINGS = tuple(
        RefusingJSONPayloadConverter() if isinstance(c, JSONPlainPayloadConverter) else c
        for c in DefaultPayloadConverter.default_encoding_payload_converters
    )

    def __init__(self) -> None:
        super().__init__(*self.ENCODINGS)


DATA_CONVERTER = dataclasses.replace(DataConverter.default, payload_converter_class=PayloadConverter)
