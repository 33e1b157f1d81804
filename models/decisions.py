"""Every decision staff can record on a case: the files in shared/examples/decisions/.

A decision arrives as `Decision(name, body)`: `name` is a key of `DECISIONS`, `body` the JSON the
command line read from the file. `parse_decision` turns it into its model or refuses it with a reason
that names the field. Which decision a case accepts at which stage is the workflows' business.
"""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, EmailStr, Field, ValidationError, model_validator

from models.dates import HappenedOn, PlannedOn, describe_validation_error


class DecisionName(StrEnum):
    """Every decision's one name: the file names in examples/decisions/, the `decide` argument."""

    DSP_DECISION = "dsp_decision"
    CHALLENGE_RAISED = "challenge_raised"
    CHALLENGE_RESOLVED = "challenge_resolved"
    NOTIFICATION_SUBMITTED = "notification_submitted"
    PANEL_ACKNOWLEDGED = "panel_acknowledged"
    RAPID_REVIEW_CONVENED = "rapid_review_convened"
    AGENCY_CONTRIBUTION_RECEIVED = "agency_contribution_received"
    RAPID_REVIEW_MEETING_HELD = "rapid_review_meeting_held"
    EXECUTIVE_DECISION = "executive_decision"
    CHAIR_SIGN_OFF = "chair_sign_off"
    PANEL_RESPONSE = "panel_response"
    CASE_WITHDRAWN = "case_withdrawn"
    REVIEWER_COMMISSIONED = "reviewer_commissioned"
    TERMS_OF_REFERENCE_AGREED = "terms_of_reference_agreed"
    FINAL_REPORT_RECEIVED = "final_report_received"
    PUBLICATION_SCHEDULED = "publication_scheduled"
    PUBLISHED = "published"
    RECOMMENDATION_UPDATED = "recommendation_updated"
    LEARNING_REQUEST_DECISION = "learning_request_decision"
    LEARNING_REVIEW_COMPLETED = "learning_review_completed"


class DecisionModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    recorded_by: EmailStr

    name: ClassVar[DecisionName]
    happened_field: ClassVar[str | None] = None  # the field holding the date the step really happened

    @property
    def happened_on(self) -> date | None:
        return getattr(self, self.happened_field) if self.happened_field else None


class DspDecision(DecisionModel):
    """¶2.6: the DSPs' collective decision whether to notify the National Panel."""

    name: ClassVar[DecisionName] = DecisionName.DSP_DECISION

    decision: Literal["notify", "do_not_notify"]
    meeting_held_on: HappenedOn
    rationale: str = Field(min_length=1)
    attendees: list[str] = Field(min_length=1)
    independent_scrutineer_attended: bool

    happened_field: ClassVar[str] = "meeting_held_on"


class ChallengeRaised(DecisionModel):
    """¶2.7: the referrer disagrees with a decision not to notify."""

    name: ClassVar[DecisionName] = DecisionName.CHALLENGE_RAISED

    raised_on: HappenedOn
    raised_by: str = Field(min_length=1)
    grounds: str = Field(min_length=1)

    happened_field: ClassVar[str] = "raised_on"


class ChallengeResolved(DecisionModel):
    """¶2.7: the Professional Challenge, Escalation and Dispute Resolution procedure has ended."""

    name: ClassVar[DecisionName] = DecisionName.CHALLENGE_RESOLVED

    resolved_on: HappenedOn
    outcome: Literal["decision_upheld", "decision_changed"]
    notes: str | None = None

    happened_field: ClassVar[str] = "resolved_on"


class NotificationSubmitted(DecisionModel):
    """¶2.4, ¶4.1: the LA has notified the National Panel through CSONS."""

    name: ClassVar[DecisionName] = DecisionName.NOTIFICATION_SUBMITTED

    submitted_on: HappenedOn
    csons_reference: str = Field(min_length=1)

    happened_field: ClassVar[str] = "submitted_on"


class PanelAcknowledged(DecisionModel):
    """¶4.1: the National Panel's email saying it has received the notification."""

    name: ClassVar[DecisionName] = DecisionName.PANEL_ACKNOWLEDGED

    received_on: HappenedOn

    happened_field: ClassVar[str] = "received_on"


class Agency(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1)
    email: EmailStr


class AgencyWithDueDate(Agency):
    contribution_due_on: PlannedOn


class RapidReviewConvened(DecisionModel):
    """¶4.3-4.4: panel, chair, involved agencies and the dates of the Rapid Review."""

    name: ClassVar[DecisionName] = DecisionName.RAPID_REVIEW_CONVENED

    chair: str = Field(min_length=1)
    panel_members: list[str] = Field(min_length=1)
    agencies: list[Agency] = Field(min_length=1)
    contributions_due_on: PlannedOn
    meeting_on: PlannedOn


class AgencyContributionReceived(DecisionModel):
    """¶4.3, ¶5.3: an agency's chronology, summary of involvement or report has arrived."""

    name: ClassVar[DecisionName] = DecisionName.AGENCY_CONTRIBUTION_RECEIVED

    agency: str = Field(min_length=1)
    kind: Literal["chronology", "summary_of_involvement", "report"]
    received_on: HappenedOn

    happened_field: ClassVar[str] = "received_on"


class ReviewCriteria(BaseModel):
    """¶4.6: the criteria for a local review."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    improvements_needed: bool
    recurrent_themes: bool
    multi_agency_concerns: bool
    panel_suggested_local_review: bool


class ReviewCircumstances(BaseModel):
    """¶4.7: circumstances the partners should have regard to."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    single_agency_concern: bool
    no_agency_involvement: bool
    cross_boundary: bool
    institutional_setting: bool


class RapidReviewMeetingHeld(DecisionModel):
    """¶4.5: what the Rapid Review panel found and recommends."""

    name: ClassVar[DecisionName] = DecisionName.RAPID_REVIEW_MEETING_HELD

    held_on: HappenedOn
    facts: str = Field(min_length=1)
    immediate_actions: list[str]
    improvements: list[str]
    recommendation: Literal["lcspr", "national_review", "no_review"]
    rationale: str = Field(min_length=1)
    criteria: ReviewCriteria
    circumstances: ReviewCircumstances

    happened_field: ClassVar[str] = "held_on"


class ExecutiveDecision(DecisionModel):
    """¶4.6: the Executive decides whether a local review is commissioned."""

    name: ClassVar[DecisionName] = DecisionName.EXECUTIVE_DECISION

    decided_on: HappenedOn
    commission_lcspr: bool
    rationale: str = Field(min_length=1)

    happened_field: ClassVar[str] = "decided_on"


class ChairSignOff(DecisionModel):
    """¶4.9: the partnership chair adds the final decision to the Rapid Review report."""

    name: ClassVar[DecisionName] = DecisionName.CHAIR_SIGN_OFF

    signed_on: HappenedOn
    chair: str = Field(min_length=1)
    final_decision: str = Field(min_length=1)

    happened_field: ClassVar[str] = "signed_on"


class PanelResponse(DecisionModel):
    """¶4.9: the National Panel says whether it agrees with the outcome."""

    name: ClassVar[DecisionName] = DecisionName.PANEL_RESPONSE

    received_on: HappenedOn
    agrees: bool
    comments: str | None = None

    happened_field: ClassVar[str] = "received_on"


class CaseWithdrawn(DecisionModel):
    """Ends a case at any stage, for example a form sent in error."""

    name: ClassVar[DecisionName] = DecisionName.CASE_WITHDRAWN

    withdrawn_on: HappenedOn
    reason: str = Field(min_length=1)

    happened_field: ClassVar[str] = "withdrawn_on"


class ReviewerCommissioned(DecisionModel):
    """¶5.2: the lead reviewer and the methodology."""

    name: ClassVar[DecisionName] = DecisionName.REVIEWER_COMMISSIONED

    commissioned_on: HappenedOn
    lead_reviewer: str = Field(min_length=1)
    methodology: str = Field(min_length=1)

    happened_field: ClassVar[str] = "commissioned_on"


class TermsOfReferenceAgreed(DecisionModel):
    """¶5.3: the contributing agencies and their deadlines."""

    name: ClassVar[DecisionName] = DecisionName.TERMS_OF_REFERENCE_AGREED

    agreed_on: HappenedOn
    agencies: list[AgencyWithDueDate] = Field(min_length=1)

    happened_field: ClassVar[str] = "agreed_on"


class Recommendation(BaseModel):
    """¶5.4: what is required, of whom, by when."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(min_length=1)
    text: str = Field(min_length=1)
    owner: str = Field(min_length=1)
    due_on: PlannedOn


def _unique_ids(recommendations: list[Recommendation]) -> None:
    ids = [r.id for r in recommendations]
    if len(ids) != len(set(ids)):
        raise ValueError("recommendations: each id must be used once")


class FinalReportReceived(DecisionModel):
    """¶5.4: the reviewer's report and its recommendations; `report_file`, where the Business Unit saved
    the report (a path the worker can read), sends it with the copies before publication (¶5.5)."""

    name: ClassVar[DecisionName] = DecisionName.FINAL_REPORT_RECEIVED

    received_on: HappenedOn
    recommendations: list[Recommendation]
    report_file: str | None = None

    @model_validator(mode="after")
    def _ids(self) -> FinalReportReceived:
        _unique_ids(self.recommendations)
        return self

    happened_field: ClassVar[str] = "received_on"


class PublicationScheduled(DecisionModel):
    """¶5.5: the planned date of publication; `copies_sent_on` if the copies went outside the system."""

    name: ClassVar[DecisionName] = DecisionName.PUBLICATION_SCHEDULED

    publication_on: PlannedOn
    copies_sent_on: HappenedOn | None = None


class Published(DecisionModel):
    """¶5.5: the report is public."""

    name: ClassVar[DecisionName] = DecisionName.PUBLISHED

    published_on: HappenedOn
    url: str = Field(min_length=1)

    happened_field: ClassVar[str] = "published_on"


class RecommendationUpdated(DecisionModel):
    """¶5.4: progress on one recommendation."""

    name: ClassVar[DecisionName] = DecisionName.RECOMMENDATION_UPDATED

    id: str = Field(min_length=1)
    status: Literal["in_progress", "completed", "closed"]
    updated_on: HappenedOn
    note: str | None = None

    happened_field: ClassVar[str] = "updated_on"


class LearningRequestDecision(DecisionModel):
    """¶3.2: convene a learning review, or reply to the referrer with the rationale."""

    name: ClassVar[DecisionName] = DecisionName.LEARNING_REQUEST_DECISION

    decided_on: HappenedOn
    decision: Literal["learning_review", "no_review"]
    rationale: str = Field(min_length=1)

    happened_field: ClassVar[str] = "decided_on"


class LearningReviewCompleted(DecisionModel):
    """¶3.2: the learning review's findings and recommendations."""

    name: ClassVar[DecisionName] = DecisionName.LEARNING_REVIEW_COMPLETED

    completed_on: HappenedOn
    findings: str = Field(min_length=1)
    recommendations: list[Recommendation]

    @model_validator(mode="after")
    def _ids(self) -> LearningReviewCompleted:
        _unique_ids(self.recommendations)
        return self

    happened_field: ClassVar[str] = "completed_on"


DECISIONS: dict[DecisionName, type[DecisionModel]] = {
    model.name: model
    for model in (
        DspDecision,
        ChallengeRaised,
        ChallengeResolved,
        NotificationSubmitted,
        PanelAcknowledged,
        RapidReviewConvened,
        AgencyContributionReceived,
        RapidReviewMeetingHeld,
        ExecutiveDecision,
        ChairSignOff,
        PanelResponse,
        CaseWithdrawn,
        ReviewerCommissioned,
        TermsOfReferenceAgreed,
        FinalReportReceived,
        PublicationScheduled,
        Published,
        RecommendationUpdated,
        LearningRequestDecision,
        LearningReviewCompleted,
    )
}


OUTCOME_FIELDS = ("decision", "outcome", "recommendation", "commission_lcspr", "agrees", "status")


def outcome_of(decision: DecisionModel) -> str | None:
    """The decision's outcome in a word, for the register ("notify", "decision_upheld", "True" ...)."""
    for field in OUTCOME_FIELDS:
        if field in type(decision).model_fields:
            return f"{field}={getattr(decision, field)}"
    return None


class Decision(BaseModel):
    """A decision as it travels to a case: its name and the JSON of its file, unparsed."""

    name: str
    body: dict[str, Any]


class DecisionRefused(ValueError):
    """A decision the case will not accept; the message says why and carries no personal data."""


def parse_decision(decision: Decision, today: date | None = None) -> DecisionModel:
    try:
        model = DECISIONS[DecisionName(decision.name)]
    except ValueError:
        raise DecisionRefused(
            f"unknown decision '{decision.name}'; known decisions: {', '.join(DECISIONS)}"
        ) from None
    try:
        return model.model_validate(decision.body, context={"today": today})
    except ValidationError as error:
        raise DecisionRefused(f"{decision.name}: {describe_validation_error(error)}") from None
