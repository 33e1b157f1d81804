"""People, roles and the signature a front door puts on a decision (signing.py holds the keys)."""

from __future__ import annotations

import json
from datetime import datetime
from enum import StrEnum, auto
from typing import Any

from pydantic import BaseModel, Field


class PersonRole(StrEnum):
    """The roles people hold in a partnership (the command-line contract's `users add --role`)."""

    BUSINESS_UNIT = auto()
    DSP = auto()
    NOTIFIER = auto()
    SCRUTINEER = auto()
    RAPID_REVIEW_CHAIR = auto()
    EXECUTIVE = auto()
    PARTNERSHIP_CHAIR = auto()
    VIEWER = auto()
    OPERATIONS = auto()


class Person(BaseModel):
    """Someone the Business Unit has set up: their address, partnership and roles."""

    email: str = Field(pattern=r"^[^@\s]{1,64}@[^@\s]{1,190}$")
    name: str = ""
    partnership: str | None = Field(default=None, description="None: operations for every partnership")
    roles: list[PersonRole]


class Signature(BaseModel):
    """A front door's word for who recorded a decision, over the case id, the decision and itself."""

    key_id: str
    signed_at: datetime
    recorded_by: Person
    value: str = ""  # base64 Ed25519 signature of `signed_bytes`


def signed_bytes(case_id: str, name: str, body: dict[str, Any], signature: Signature) -> bytes:
    unsigned = signature.model_dump(mode="json", exclude={"value"})
    return json.dumps([case_id, name, body, unsigned], sort_keys=True, separators=(",", ":")).encode()
