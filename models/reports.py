"""What the Rapid Review report (¶4.6, ¶4.8) is made from, passed whole to the activity that renders it."""

from __future__ import annotations

from datetime import date

from pydantic import BaseModel

from models.decisions import (
    AgencyContributionReceived,
    ChairSignOff,
    ExecutiveDecision,
    RapidReviewConvened,
    RapidReviewMeetingHeld,
)


class RapidReviewReportRequest(BaseModel):
    case_id: str
    local_authority: str
    partnership: str
    csons_reference: str
    notified_on: date
    convened: RapidReviewConvened
    contributions: list[AgencyContributionReceived]
    meeting: RapidReviewMeetingHeld
    executive: ExecutiveDecision | None = None
    sign_off: ChairSignOff | None = None


class RenderedReport(BaseModel):
    path: str
