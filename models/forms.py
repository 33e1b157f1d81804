"""The two forms a professional sends to the partnership (¶2.5, ¶3.1)."""

from __future__ import annotations

from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, EmailStr, Field, StrictBool, model_validator

from models.dates import HappenedOn
from models.text import MANY, Name, Reference, Text


class LocalAuthority(StrEnum):
    """The four Tees Valley authorities (¶1); the routing file says which partnership serves each."""

    HARTLEPOOL = "hartlepool"
    STOCKTON_ON_TEES = "stockton-on-tees"
    MIDDLESBROUGH = "middlesbrough"
    REDCAR_AND_CLEVELAND = "redcar-and-cleveland"


class FormModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Referrer(FormModel):
    name: Name
    agency: Name
    email: EmailStr
    phone: Reference | None = None


class Child(FormModel):
    reference: Reference
    date_of_birth: HappenedOn | None = None
    sex: Reference | None = None
    known_to_childrens_social_care: StrictBool | None = None


class Incident(FormModel):
    date: HappenedOn
    outcome: Literal["death", "serious_harm"]
    # "not_suspected": ¶2.3, a death or serious harm in a family known to Children's Social Care
    abuse_or_neglect: Literal["known", "suspected", "not_suspected"]
    summary: Text


class SeriousIncidentForm(FormModel):
    """Serious Incident Notification Request Form (¶2.5)."""

    local_authority: LocalAuthority
    received_on: HappenedOn
    became_aware_on: HappenedOn
    referrer: Referrer
    child: Child
    incident: Incident
    agencies_involved: list[Name] = Field(min_length=1, max_length=MANY)

    @model_validator(mode="after")
    def _dates_in_order(self) -> SeriousIncidentForm:
        if self.became_aware_on > self.received_on:
            raise ValueError("became_aware_on: cannot be after received_on")
        if self.incident.date > self.became_aware_on:
            raise ValueError("incident.date: cannot be after became_aware_on")
        if self.child.date_of_birth and self.child.date_of_birth > self.incident.date:
            raise ValueError("child.date_of_birth: cannot be after incident.date")
        return self

    @model_validator(mode="after")
    def _paragraph_2_3(self) -> SeriousIncidentForm:
        """¶2.3: with abuse or neglect not suspected, a case is serious when the family is known to
        Children's Social Care (a recent incident or a current concern)."""
        if self.incident.abuse_or_neglect == "not_suspected" and not self.child.known_to_childrens_social_care:
            raise ValueError(
                "incident.abuse_or_neglect: 'not_suspected' is a ¶2.3 case: the family must be known to "
                "Children's Social Care (child.known_to_childrens_social_care: true)"
            )
        return self


class LearningRequestForm(FormModel):
    """Learning Request Form (¶3.1-3.3): near misses, good or poor practice, multi-agency learning."""

    local_authority: LocalAuthority
    received_on: HappenedOn
    referrer: Referrer
    child: Child
    reason: Literal["near_miss", "good_practice", "poor_practice", "multi_agency_working", "other"]
    summary: Text
    agencies_involved: list[Name] = Field(min_length=1, max_length=MANY)
    related_case: Reference | None = None
