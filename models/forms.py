"""The two forms a professional sends to the partnership (¶2.5, ¶3.1)."""

from __future__ import annotations

from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, EmailStr, Field, model_validator

from models.dates import HappenedOn


class LocalAuthority(StrEnum):
    """The four Tees Valley authorities (¶1); the routing file says which partnership serves each."""

    HARTLEPOOL = "hartlepool"
    STOCKTON_ON_TEES = "stockton-on-tees"
    MIDDLESBROUGH = "middlesbrough"
    REDCAR_AND_CLEVELAND = "redcar-and-cleveland"


class FormModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Referrer(FormModel):
    name: str = Field(min_length=1)
    agency: str = Field(min_length=1)
    email: EmailStr
    phone: str | None = None


class Child(FormModel):
    reference: str = Field(min_length=1)
    date_of_birth: HappenedOn | None = None
    sex: str | None = None
    known_to_childrens_social_care: bool | None = None


class Incident(FormModel):
    date: HappenedOn
    outcome: Literal["death", "serious_harm"]
    abuse_or_neglect: Literal["known", "suspected"]
    summary: str = Field(min_length=1)


class SeriousIncidentForm(FormModel):
    """Serious Incident Notification Request Form (¶2.5)."""

    local_authority: LocalAuthority
    received_on: HappenedOn
    became_aware_on: HappenedOn
    referrer: Referrer
    child: Child
    incident: Incident
    agencies_involved: list[str] = Field(min_length=1)

    @model_validator(mode="after")
    def _dates_in_order(self) -> SeriousIncidentForm:
        if self.became_aware_on > self.received_on:
            raise ValueError("became_aware_on: cannot be after received_on")
        if self.incident.date > self.became_aware_on:
            raise ValueError("incident.date: cannot be after became_aware_on")
        return self


class LearningRequestForm(FormModel):
    """Learning Request Form (¶3.1-3.3): near misses, good or poor practice, multi-agency learning."""

    local_authority: LocalAuthority
    received_on: HappenedOn
    referrer: Referrer
    child: Child
    reason: Literal["near_miss", "good_practice", "poor_practice", "multi_agency_working", "other"]
    summary: str = Field(min_length=1)
    agencies_involved: list[str] = Field(min_length=1)
    related_case: str | None = None
