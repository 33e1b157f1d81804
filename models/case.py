"""What a case keeps and shows: stages, deadlines, decisions and messages (the `status` contract)."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum, auto
from typing import Any

from pydantic import BaseModel, EmailStr, Field

from models.compact import Compact
from models.forms import LocalAuthority


class CaseKind(StrEnum):
    """Which journey a case follows."""

    SERIOUS_INCIDENT = auto()
    LEARNING_REQUEST = auto()
    LOCAL_REVIEW = auto()  # an LCSPR: a child workflow of its serious-incident case


class Stage(StrEnum):
    # serious incident (¶2.6-2.7, ¶4)
    DSP_MEETING = "dsp_meeting"
    CHALLENGE_WINDOW = "challenge_window"
    DISPUTE_RESOLUTION = "dispute_resolution"
    PANEL_NOTIFICATION = "panel_notification"
    RAPID_REVIEW = "rapid_review"  # notified: the Rapid Review is to be convened (¶4.2-4.3)
    RAPID_REVIEW_MEETING = "rapid_review_meeting"  # convened: contributions and the meeting (¶4.3-4.5)
    GOVERNANCE = "governance"  # the Executive's decision and the chair's sign-off (¶4.6-4.9)
    AWAITING_PANEL_RESPONSE = "awaiting_panel_response"  # submitted to the National Panel (¶4.9)
    LOCAL_REVIEW = "local_review"  # an LCSPR is commissioned (¶5)
    MONITORING = "monitoring"  # recommendations monitored to completion (¶5.4)
    # the local review, a child workflow of the case (¶5.1-5.5)
    LCSPR_COMMISSIONING = "lcspr_commissioning"  # a lead reviewer and a methodology (¶5.2)
    LCSPR_TERMS_OF_REFERENCE = "lcspr_terms_of_reference"  # the contributing agencies (¶5.3)
    LCSPR_REVIEW = "lcspr_review"  # contributions and the reviewer's report (¶5.3-5.4)
    LCSPR_PUBLICATION = "lcspr_publication"  # copies, then publication (¶5.5)
    # learning request (¶3.2)
    PARTNERSHIP_DECISION = "partnership_decision"
    LEARNING_REVIEW = "learning_review"
    # both
    CLOSED = "closed"
    WITHDRAWN = "withdrawn"


FINAL_STAGES = frozenset({Stage.CLOSED, Stage.WITHDRAWN})


class Clock(StrEnum):
    """Every clock a case can run: the statutory ones of DESIGN.md and the partnership's own."""

    DSP_MEETING = "dsp_meeting"
    PANEL_NOTIFICATION = "panel_notification"
    RAPID_REVIEW_SUBMISSION = "rapid_review_submission"
    PANEL_RESPONSE = "panel_response"
    LCSPR_PUBLICATION = "lcspr_publication"
    PUBLICATION_COPIES = "publication_copies"
    PUBLIC_UNTIL = "public_until"
    CHALLENGE_WINDOW = "challenge_window"  # not statutory: how long a "do not notify" stays open
    DISPUTE_RESOLUTION = "dispute_resolution"  # not statutory: the dispute procedure's own time (¶2.7)
    AGENCY_CONTRIBUTION = "agency_contribution"  # as set by the people running the review
    RECOMMENDATION = "recommendation"  # each recommendation's due date, as the report sets it (¶5.4)


class DeadlineStatus(StrEnum):
    """Open until the step happens; met or missed by the date it happened; cancelled with the case."""

    OPEN = auto()
    MET = auto()
    MISSED = auto()
    CANCELLED = auto()


class DeadlineRequest(Compact):
    clock: Clock
    starts_on: date
    partnership: str
    due_on: date | None = None  # for a deadline set by people (an agency's contribution), not by statute


class Deadline(BaseModel):
    """A clock as the calendar activity computed it; kept in the case history, never recomputed."""

    clock: Clock
    title: str
    needed: str
    starts_on: date
    due_on: date
    due_at: datetime = Field(description="the instant the last day ends, Europe/London, in UTC")
    reminders_at: list[datetime] = Field(default_factory=list)
    rule: str = Field(description="how due_on was reached, for people: '2 working days after ...'")


class DeadlineRecord(BaseModel):
    """A deadline as the case shows it."""

    key: Clock
    subject: str | None = None  # whose deadline, when a clock runs once per agency
    title: str
    starts_on: date | None = None
    due_on: date
    status: DeadlineStatus = DeadlineStatus.OPEN
    rule: str
    due_at: datetime
    step_on: date | None = None
    recorded_late: bool = False
    reminders_sent: int = 0
    escalated: bool = False


class DeadlineChange(Compact):
    """A deadline as the register keeps it (register/models.py, `DeadlineRow`): what a register batch
    carries of a deadline that changed. A batch from before carried the whole `DeadlineRecord`; its
    other fields are ignored."""

    key: Clock
    subject: str | None = None
    starts_on: date | None = None
    due_on: date
    status: DeadlineStatus = DeadlineStatus.OPEN
    step_on: date | None = None
    recorded_late: bool = False

    @classmethod
    def of(cls, record: DeadlineRecord) -> DeadlineChange:
        return cls(**record.model_dump(include=set(cls.model_fields)))


class DecisionRecord(BaseModel):
    name: str
    accepted: bool
    reason: str | None = None
    received_at: datetime
    via: str
    recorded_by: str | None = Field(default=None, description="who recorded it, as the decision says")
    decided_by: list[str] = Field(default_factory=list, description="whose decision it is, as the decision names them")
    replaces: int | None = Field(default=None, description="a correction: the index of the decision it replaces")


class Role(StrEnum):
    """Who a message goes to; the addresses come from the routing file (config/routing.json)."""

    BUSINESS_UNIT = "business_unit"
    SERIOUS_INCIDENT_NOTIFIER = "serious_incident_notifier"
    REFERRER = "referrer"
    ESCALATION = "escalation"
    INDEPENDENT_SCRUTINEER = "independent_scrutineer"
    RAPID_REVIEW_PANEL = "rapid_review_panel"
    EXECUTIVE = "executive"
    SAFEGUARDING_LEADS = "safeguarding_leads"
    NATIONAL_PANEL = "national_panel"
    RECOMMENDATION_OWNER = "recommendation_owner"  # the owning agency's address, from the routing file
    SECRETARY_OF_STATE = "secretary_of_state"
    OFSTED = "ofsted"
    DSPS = "dsps"  # the Delegated Safeguarding Partners (¶2.6)
    PARTNERSHIP_CHAIR = "partnership_chair"  # invited to governance with the Rapid Review chair (¶4.6)
    LOCAL_AUTHORITY = "local_authority"  # the authority holding the ¶2.4 duty: its escalation, or its notifier


class MessageRequest(Compact):
    """One message a case sends; `key` makes its delivery happen once. Its fields at their defaults
    are left out of the history (`Compact`)."""

    key: str
    case_id: str
    local_authority: LocalAuthority
    template: str
    to: list[Role]
    context: dict[str, str] = Field(default_factory=dict)
    referrer_email: EmailStr | None = None
    addresses: list[EmailStr] = Field(default_factory=list, description="named recipients, e.g. an agency")
    owner: str | None = Field(default=None, description="the agency owning a recommendation")
    attachment: dict[str, Any] | None = None
    document: str | None = Field(default=None, description="path of a rendered report to attach")


class RecommendationRecord(BaseModel):
    """A recommendation as the case monitors it (¶5.4): what, who, by when, and how far it has got."""

    id: str
    text: str
    owner: str
    due_on: date
    status: str = "open"  # open, in_progress, completed, closed
    updated_on: date | None = None
    note: str | None = None


class MessageRecord(BaseModel):
    key: str
    template: str
    to: list[str] = Field(default_factory=list)
    status: str = "queued"


class SentMessage(BaseModel):
    key: str
    to: list[str]
    path: str


class MessageOutcome(Compact):
    """How one message of those sent together went (activities.notifications.send_messages): sent (`to`,
    `path`), or not sent for a reason a retry cannot mend (`refused`: the error's type, and its `reason`)."""

    key: str
    to: list[str] = Field(default_factory=list)
    path: str | None = None
    refused: str | None = None
    reason: str | None = None


class Routing(BaseModel):
    """What a case needs to know of its partnership, read from the routing file by an activity."""

    partnership: str
    partnership_name: str


class LocalReviewCommission(BaseModel):
    """What a local review (LCSPR) starts from: the case and the Executive's decision (¶4.6, ¶5.1)."""

    case_id: str
    local_authority: LocalAuthority
    partnership: str
    decided_on: date
    signed_decisions: bool = False  # the review takes only signed decisions, as its case does (from 0.2)


class Attention(BaseModel):
    """Something a retry cannot mend (a message that cannot be sent as it is, a report that cannot be
    rendered): recorded on the case for the Business Unit to put right; the case goes on."""

    at: datetime
    step: str
    reason: str


class CaseStatus(BaseModel):
    """What `starter.py status --json` prints and the `status` query returns."""

    case_id: str
    kind: CaseKind
    stage: Stage
    local_authority: LocalAuthority
    partnership: str | None
    received_on: date
    deadlines: list[DeadlineRecord]
    decisions: list[DecisionRecord]
    messages: list[MessageRecord]
    closed_reason: str | None = None
    details: dict[str, Any] = Field(default_factory=dict)
    attention: list[Attention] = Field(default_factory=list, description="what the Business Unit must put right")
    refused_not_kept: int = Field(default=0, description="refused signals counted but not kept one by one")


class DecisionReceipt(BaseModel):
    """The answer to an accepted decision sent as an update."""

    case_id: str
    name: str
    stage: Stage


LOCAL_REVIEW_SUFFIX = "-lcspr"  # a local review's workflow id is its case's id with this suffix


def staff_case_id(workflow_id: str) -> str:
    """The case id staff know: a local review (`<case id>-lcspr`, a child workflow) is its case's."""
    return workflow_id.removesuffix(LOCAL_REVIEW_SUFFIX)


def deadline_key(clock: Clock, subject: str | None = None) -> str:
    """How a case names one of its deadlines: the clock, with whose it is when it runs per agency."""
    return f"{clock.value}:{subject}" if subject else clock.value


class CaseEvent(Compact):
    """One thing that happened to a case, for the register's append-only audit trail. In a batch that
    names its case (`RegisterBatch.case_id`) the key and the case id are left out (empty): the register
    derives them (activities/register.py); fields at their defaults are left out too (`Compact`)."""

    key: str = ""  # case id / seq
    case_id: str = ""
    seq: int
    at: datetime
    kind: str
    name: str
    detail: str | None = None
    actor: str | None = None  # who recorded the decision the event is about


class CaseSummary(BaseModel):
    """A case's row in the register."""

    case_id: str
    kind: CaseKind
    local_authority: LocalAuthority
    partnership: str | None
    stage: Stage
    received_on: date
    closed_reason: str | None = None
    next_due_on: date | None = None
    missed: int = 0


class RegisterBatch(Compact):
    """A case's new events and what changed since its last batch, written to the register together."""

    events: list[CaseEvent]
    case_id: str | None = None  # from issue 17: the events' case, which they then leave out
    case: CaseSummary | None = None
    deadlines: list[DeadlineChange] = Field(default_factory=list, description="new or changed since the last batch")
    messages: list[MessageRecord] = Field(default_factory=list, description="new or changed since the last batch")
    parent_case_id: str | None = None
    status: CaseStatus | None = None  # batches scheduled by releases before 0.2 carried the whole status
