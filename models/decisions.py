"""Every decision staff can record on a case: the files in shared/examples/decisions/.

A decision arrives as `Decision(name, body)`: `name` is a key of `DECISIONS`, `body` the JSON the
command line read from the file. `parse_decision` turns it into its model or refuses it with a reason
that names the field. Which decision a case accepts at which stage is the workflows' business.
"""

from __future__ import annotations

from datetime import date
from enum import StrEnum, auto
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, EmailStr, Field, StrictBool, ValidationError, model_validator

from models.dates import HappenedOn, PlannedOn, describe_validation_error
from models.identity import Signature
from models.text import MANY, Identifier, DocumentName, Name, Reference, Text, Url, named_once


class DecisionName(StrEnum):
    """Every decision's one name: the file names in examples/decisions/, the `decide` argument."""

    DSP_DECISION = auto()
    CHALLENGE_RAISED = auto()
    CHALLENGE_RESOLVED = auto()
    NOTIFICATION_SUBMITTED = auto()
    PANEL_ACKNOWLEDGED = auto()
    RAPID_REVIEW_CONVENED = auto()
    AGENCY_CONTRIBUTION_RECEIVED = auto()
    RAPID_REVIEW_MEETING_HELD = auto()
    EXECUTIVE_DECISION = auto()
    CHAIR_SIGN_OFF = auto()
    PANEL_RESPONSE = auto()
    CASE_WITHDRAWN = auto()
    REVIEWER_COMMISSIONED = auto()
    TERMS_OF_REFERENCE_AGREED = auto()
    FINAL_REPORT_RECEIVED = auto()
    PUBLICATION_SCHEDULED = auto()
    PUBLISHED = auto()
    RECOMMENDATION_UPDATED = auto()
    LEARNING_REQUEST_DECISION = auto()
    LEARNING_REVIEW_COMPLETED = auto()
    # added to the contract (issue 14; README, "Decisions added to the contract")
    CASE_CLOSED = auto()
    EXECUTIVE_RECONSIDERED = auto()
    PUBLICATION_WITHDRAWN = auto()
    LEARNING_REQUEST_OPENED = auto()
    # changes practice needs, each with its own record (README, "Decisions added to the contract")
    AGENCY_ADDED = auto()
    CONTRIBUTION_DUE_EXTENDED = auto()
    RAPID_REVIEW_RESCHEDULED = auto()


class DecisionModel(BaseModel):
    """What every decision has: the person who recorded it; its class line names it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    recorded_by: EmailStr
    # whose decision it is, when others than the person recording it (the Executive members, say); a
    # decision that names them in a field of its own (`deciders_field`) need not repeat them here
    decided_by: list[Name] = Field(default_factory=list, max_length=MANY)

    name: ClassVar[DecisionName]
    deciders_field: ClassVar[str | None] = None  # the field naming whose decision it is
    happened_field: ClassVar[str | None] = None  # the field holding the date the step really happened
    step: ClassVar[str] = "the decision"  # the step it records, as a later decision's refusal names it

    def __init_subclass__(cls, name: DecisionName | None = None, happened: str | None = None, **kwargs: Any) -> None:
        """A decision's class line says its name and the field holding the date its step happened."""
        super().__init_subclass__(**kwargs)
        if name is not None:
            cls.name = name
        if happened is not None:
            cls.happened_field = happened

    @property
    def happened_on(self) -> date | None:
        return getattr(self, self.happened_field) if self.happened_field else None

    def deciders(self) -> list[str]:
        """Whose decision it is: `decided_by`, else the field that names them, else nobody named."""
        if self.decided_by or not self.deciders_field:
            return list(self.decided_by)
        named = getattr(self, self.deciders_field)
        return list(named) if isinstance(named, list) else [named]


StatutoryPartner = Literal["local_authority", "police", "integrated_care_board"]
# How an attendee's description names a statutory partner (¶2.4), when `partners` is not given.
PARTNER_WORDS: dict[str, tuple[str, ...]] = {
    "local_authority": ("local authority", "council", "children's services", "childrens services", "social care"),
    "police": ("police", "constabulary"),
    "integrated_care_board": ("integrated care board", "icb", "health"),
}


class DspDecision(DecisionModel, name=DecisionName.DSP_DECISION, happened="meeting_held_on"):
    """¶2.6: the DSPs' collective decision whether to notify the National Panel."""

    deciders_field = "attendees"  # the DSPs at the teleconference (¶2.6)
    step = "the DSP meeting"

    decision: Literal["notify", "do_not_notify"]
    meeting_held_on: HappenedOn
    rationale: Text
    attendees: list[Name] = Field(min_length=1, max_length=MANY)
    independent_scrutineer_attended: StrictBool
    # ¶2.4: the statutory partners agreeing the decision; when absent, each must be named in `attendees`
    partners: list[StatutoryPartner] | None = Field(default=None, max_length=3)

    def partners_present(self) -> set[str]:
        """The statutory partners the decision names: `partners`, or those recognisable in `attendees`."""
        if self.partners is not None:
            return set(self.partners)
        text = " ".join(self.attendees).lower()
        return {partner for partner, words in PARTNER_WORDS.items() if any(word in text for word in words)}


class ChallengeRaised(DecisionModel, name=DecisionName.CHALLENGE_RAISED, happened="raised_on"):
    """¶2.7: the referrer disagrees with a decision not to notify."""

    step = "the challenge"

    raised_on: HappenedOn
    raised_by: Name
    grounds: Text
    # who raises it: the referrer (when absent; a "do not notify" only), or a safeguarding partner (either)
    party: Literal["referrer", "safeguarding_partner"] | None = None


class ChallengeResolved(DecisionModel, name=DecisionName.CHALLENGE_RESOLVED, happened="resolved_on"):
    """¶2.7: the Professional Challenge, Escalation and Dispute Resolution procedure has ended."""

    step = "the challenge's resolution"

    resolved_on: HappenedOn
    outcome: Literal["decision_upheld", "decision_changed"]
    notes: Text | None = None


class NotificationSubmitted(DecisionModel, name=DecisionName.NOTIFICATION_SUBMITTED, happened="submitted_on"):
    """¶2.4, ¶4.1: the LA has notified the National Panel through CSONS."""

    step = "the notification"

    submitted_on: HappenedOn
    csons_reference: Reference


class PanelAcknowledged(DecisionModel, name=DecisionName.PANEL_ACKNOWLEDGED, happened="received_on"):
    """¶4.1: the National Panel's email saying it has received the notification."""

    step = "the Panel's acknowledgement"

    received_on: HappenedOn


class Agency(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: Name
    email: EmailStr


class AgencyWithDueDate(Agency):
    contribution_due_on: PlannedOn


class RapidReviewConvened(DecisionModel, name=DecisionName.RAPID_REVIEW_CONVENED):
    """¶4.3-4.4: panel, chair, involved agencies and the dates of the Rapid Review."""

    step = "the convening of the Rapid Review"

    chair: Name
    chair_email: EmailStr | None = None  # the Rapid Review chair's address: invited to governance (¶4.6)
    panel_members: list[Name] = Field(min_length=1, max_length=MANY)
    agencies: list[Agency] = Field(min_length=1, max_length=MANY)
    contributions_due_on: PlannedOn
    meeting_on: PlannedOn

    @model_validator(mode="after")
    def _agencies_once(self) -> RapidReviewConvened:
        named_once([a.name for a in self.agencies], "agencies")
        return self


class AgencyContributionReceived(DecisionModel, name=DecisionName.AGENCY_CONTRIBUTION_RECEIVED, happened="received_on"):
    """¶4.3, ¶5.3: an agency's chronology, summary of involvement or report has arrived."""

    step = "the agency's contribution"

    agency: Name
    kind: Literal["chronology", "summary_of_involvement", "report"]
    received_on: HappenedOn


class AgencyAdded(DecisionModel, name=DecisionName.AGENCY_ADDED, happened="added_on"):
    """¶4.3, ¶5.3: one more agency asked for its contribution, after the review first asked."""

    step = "the agency's addition"

    added_on: HappenedOn
    agency: Agency
    contribution_due_on: PlannedOn


class ContributionDueExtended(DecisionModel, name=DecisionName.CONTRIBUTION_DUE_EXTENDED, happened="extended_on"):
    """¶4.3, ¶5.3: an agency given until a later date for its contribution."""

    step = "the extension"

    extended_on: HappenedOn
    agency: Name
    contribution_due_on: PlannedOn
    reason: Text


class ReviewCriteria(BaseModel):
    """¶4.6: the criteria for a local review."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    improvements_needed: StrictBool
    recurrent_themes: StrictBool
    multi_agency_concerns: StrictBool
    panel_suggested_local_review: StrictBool


class ReviewCircumstances(BaseModel):
    """¶4.7: circumstances the partners should have regard to."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    single_agency_concern: StrictBool
    no_agency_involvement: StrictBool
    cross_boundary: StrictBool
    institutional_setting: StrictBool


class RapidReviewMeetingHeld(DecisionModel, name=DecisionName.RAPID_REVIEW_MEETING_HELD, happened="held_on"):
    """¶4.5: what the Rapid Review panel found and recommends."""

    step = "the Rapid Review meeting"

    held_on: HappenedOn
    facts: Text
    immediate_actions: list[Text] = Field(max_length=MANY)
    improvements: list[Text] = Field(max_length=MANY)
    recommendation: Literal["lcspr", "national_review", "no_review"]
    rationale: Text
    criteria: ReviewCriteria
    circumstances: ReviewCircumstances


class RapidReviewRescheduled(DecisionModel, name=DecisionName.RAPID_REVIEW_RESCHEDULED, happened="rescheduled_on"):
    """¶4.3-4.4: the Rapid Review meeting moved to another date; its panel and agencies are told."""

    step = "the rescheduling"

    rescheduled_on: HappenedOn
    meeting_on: PlannedOn
    reason: Text


class ExecutiveDecision(DecisionModel, name=DecisionName.EXECUTIVE_DECISION, happened="decided_on"):
    """¶4.6: the Executive decides whether a local review is commissioned."""

    step = "the Executive's decision"

    decided_on: HappenedOn
    commission_lcspr: StrictBool
    rationale: Text


class ChairSignOff(DecisionModel, name=DecisionName.CHAIR_SIGN_OFF, happened="signed_on"):
    """¶4.9: the partnership chair adds the final decision to the Rapid Review report."""

    step = "the chair's sign-off"

    signed_on: HappenedOn
    deciders_field = "chair"

    chair: Name
    final_decision: Text
    written_sign_off: DocumentName | None = None  # the chair's written sign-off, when the Business Unit records it
    # the report already reached the National Panel outside the system on this date: it is not sent again
    submitted_to_panel_on: HappenedOn | None = None

    @model_validator(mode="after")
    def _submitted_after_signing(self) -> ChairSignOff:
        if self.submitted_to_panel_on is not None and self.submitted_to_panel_on < self.signed_on:
            raise ValueError("submitted_to_panel_on: cannot be before signed_on")
        return self


class PanelResponse(DecisionModel, name=DecisionName.PANEL_RESPONSE, happened="received_on"):
    """¶4.9: the National Panel says whether it agrees with the outcome."""

    step = "the Panel's response"

    received_on: HappenedOn
    agrees: StrictBool
    comments: Text | None = None
    # ¶4.5, ¶4.9: the Panel's view on a national review, when it gives one
    national_review: Literal["panel_will_undertake", "panel_will_not_undertake", "panel_considering"] | None = None


class CaseWithdrawn(DecisionModel, name=DecisionName.CASE_WITHDRAWN, happened="withdrawn_on"):
    """Ends a case at any stage, for example a form sent in error."""

    step = "the withdrawal"

    withdrawn_on: HappenedOn
    reason: Text


class ReviewerCommissioned(DecisionModel, name=DecisionName.REVIEWER_COMMISSIONED, happened="commissioned_on"):
    """¶5.2: the lead reviewer and the methodology."""

    step = "the reviewer's commissioning"

    commissioned_on: HappenedOn
    lead_reviewer: Name
    methodology: Text


class TermsOfReferenceAgreed(DecisionModel, name=DecisionName.TERMS_OF_REFERENCE_AGREED, happened="agreed_on"):
    """¶5.3: the contributing agencies and their deadlines."""

    step = "the terms of reference"

    agreed_on: HappenedOn
    agencies: list[AgencyWithDueDate] = Field(min_length=1, max_length=MANY)

    @model_validator(mode="after")
    def _agencies_once(self) -> TermsOfReferenceAgreed:
        named_once([a.name for a in self.agencies], "agencies")
        return self


class Recommendation(BaseModel):
    """¶5.4: what is required, of whom, by when."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: Reference
    text: Text
    owner: Name
    due_on: PlannedOn


def _unique_ids(recommendations: list[Recommendation]) -> None:
    named_once([r.id for r in recommendations], "recommendations: id")


class FinalReportReceived(DecisionModel, name=DecisionName.FINAL_REPORT_RECEIVED, happened="received_on"):
    """¶5.4: the reviewer's report and its recommendations; `report_file`, the report (Word or PDF), goes
    with the copies before publication (¶5.5): the command line stores the file it names in the case's
    documents folder, and the case knows it by that stored name only."""

    step = "the final report"

    received_on: HappenedOn
    recommendations: list[Recommendation] = Field(max_length=MANY)
    report_file: DocumentName | None = None

    @model_validator(mode="after")
    def _ids(self) -> FinalReportReceived:
        _unique_ids(self.recommendations)
        return self


class PublicationScheduled(DecisionModel, name=DecisionName.PUBLICATION_SCHEDULED):
    """¶5.5: the planned date of publication; `copies_sent_on` if the copies went outside the system."""

    step = "the publication schedule"

    publication_on: PlannedOn
    copies_sent_on: HappenedOn | None = None


class Published(DecisionModel, name=DecisionName.PUBLISHED, happened="published_on"):
    """¶5.5: the report is public."""

    step = "the publication"

    published_on: HappenedOn
    url: Url


class RecommendationUpdated(DecisionModel, name=DecisionName.RECOMMENDATION_UPDATED, happened="updated_on"):
    """¶5.4: progress on one recommendation."""

    step = "the recommendation's update"

    id: Reference
    status: Literal["in_progress", "completed", "closed"]
    updated_on: HappenedOn
    note: Text | None = None


class LearningRequestDecision(DecisionModel, name=DecisionName.LEARNING_REQUEST_DECISION, happened="decided_on"):
    """¶3.2: convene a learning review, or reply to the referrer with the rationale."""

    step = "the partnership's decision"

    decided_on: HappenedOn
    decision: Literal["learning_review", "no_review"]
    rationale: Text


class LearningReviewCompleted(DecisionModel, name=DecisionName.LEARNING_REVIEW_COMPLETED, happened="completed_on"):
    """¶3.2: the learning review's findings and recommendations."""

    step = "the learning review"

    completed_on: HappenedOn
    findings: Text
    recommendations: list[Recommendation] = Field(max_length=MANY)

    @model_validator(mode="after")
    def _ids(self) -> LearningReviewCompleted:
        _unique_ids(self.recommendations)
        return self


class CaseClosed(DecisionModel, name=DecisionName.CASE_CLOSED, happened="closed_on"):
    """The Business Unit closes a case nothing more can move: a "do not notify" with no challenge, or a
    case the National Panel has not answered beyond its clock (¶4.9)."""

    step = "the closure"

    closed_on: HappenedOn
    reason: Text


class ExecutiveReconsidered(DecisionModel, name=DecisionName.EXECUTIVE_RECONSIDERED, happened="decided_on"):
    """¶4.9: the Executive reconsiders its decision after the National Panel disagreed."""

    step = "the Executive's reconsideration"

    decided_on: HappenedOn
    commission_lcspr: StrictBool
    rationale: Text


class PublicationWithdrawn(DecisionModel, name=DecisionName.PUBLICATION_WITHDRAWN, happened="withdrawn_on"):
    """¶5.5: a published report taken down before its year, and why."""

    step = "the report's withdrawal from publication"

    withdrawn_on: HappenedOn
    reason: Text


class LearningRequestOpened(DecisionModel, name=DecisionName.LEARNING_REQUEST_OPENED, happened="received_on"):
    """¶3.1, ¶3.3: a Learning Request made on a case not notified, opened as a learning request linked to it."""

    step = "the learning request"

    received_on: HappenedOn
    reason: Literal["near_miss", "good_practice", "poor_practice", "multi_agency_working", "other"]
    summary: Text


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
        CaseClosed,
        ExecutiveReconsidered,
        PublicationWithdrawn,
        LearningRequestOpened,
        AgencyAdded,
        ContributionDueExtended,
        RapidReviewRescheduled,
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
    """A decision as it travels to a case: its name and the JSON of its file, unparsed, with the
    signature of the front door that recorded it (signing.py)."""

    name: Identifier
    body: dict[str, Any]
    signature: Signature | None = None


class Correction(BaseModel):
    """A recorded decision's content put right: the decision as it should have been, and why."""

    name: Identifier
    body: dict[str, Any]
    reason: Text
    signature: Signature | None = None  # over the corrected decision, like a decision's

    def decision(self) -> Decision:
        return Decision(name=self.name, body=self.body, signature=self.signature)


FORM = "form"  # `starter.py correct CASE_ID form FILE.json`: the form's dates put right (workflows/form_facts.py)


class FormFacts(BaseModel):
    """The form's dates as they should have been: when it was received and, for a serious incident,
    when the local authority became aware (¶2.4)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    received_on: HappenedOn
    became_aware_on: HappenedOn | None = None
    recorded_by: EmailStr


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
