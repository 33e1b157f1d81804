"""Every kind of message a case sends: one model each, with its template, its recipients, its fields
and the step that makes its idempotency key (`<case id>/<step>`).

A kind is declared in its class line: `template` (activities/templates/<template>.txt), `to` (roles,
addressed from the routing file; the Business Unit by default) and `step` (by default the template's
name with dashes). Its docstring is the summary the Web UI's timeline shows for the send. The template
is filled with the model's fields (dates as YYYY-MM-DD) and the fields every message has
(`COMMON_FIELDS`); fields in `DELIVERY_FIELDS` address or attach rather than fill the template.
`tests/test_notifications_activity.py` renders every kind, so a renamed field or placeholder fails there.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict

from models.case import Role
from models.text import Public

# Filled in by the activity for every message: from the case and the routing file.
COMMON_FIELDS = frozenset({"case_id", "local_authority", "partnership", "partnership_name", "case_url"})
DELIVERY_FIELDS = frozenset({"addresses", "owner", "document", "attachment", "also"})

BUSINESS_UNIT = (Role.BUSINESS_UNIT,)
REFERRER = (Role.REFERRER, Role.BUSINESS_UNIT)
EXECUTIVE = (Role.EXECUTIVE, Role.BUSINESS_UNIT)
NATIONAL_PANEL = (Role.NATIONAL_PANEL, Role.BUSINESS_UNIT)
NAMED_ONLY: tuple[Role, ...] = ()  # to the addresses the message names (an agency), no role


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


class Message(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    template: ClassVar[str]
    to: ClassVar[tuple[Role, ...]]
    step: ClassVar[str]  # the idempotency step; a message sent once per agency says whose in step_key()
    live_by: ClassVar[str | None] = None  # a live request: the date field after which it is not sent (catch_up.py)

    addresses: list[str] = []  # named recipients, e.g. an agency
    owner: str | None = None  # the agency owning a recommendation (Role.RECOMMENDATION_OWNER)
    document: str | None = None  # a rendered report to attach
    attachment: dict[str, Any] | None = None  # the form, as the notifier receives it
    also: list[Role] = []  # roles told besides the kind's own (who else a case has involved)

    def __init_subclass__(
        cls, template: str = "", to: tuple[Role, ...] | None = None, step: str = "", **kwargs: Any
    ) -> None:
        super().__init_subclass__(**kwargs)
        if template:
            cls.template = template
            cls.step = step or template.replace("_", "-")
        elif step:
            cls.step = step
        cls.to = to if to is not None else getattr(cls, "to", BUSINESS_UNIT)

    def step_key(self) -> str:
        return self.step

    def live_on(self) -> date | None:
        """For a live request (`live_by`, a date field): the date after which sending it is pointless."""
        return getattr(self, self.live_by) if self.live_by else None

    def recipients(self) -> list[Role]:
        return list(self.to) + [role for role in self.also if role not in self.to]

    def describe(self) -> str:
        """The send's summary in the Web UI: the docstring, with the message's fields filled in. A
        docstring of fixed words only is `Public` (models/text.py); one with a field may name an agency."""
        text = type(self).__doc__ or self.template
        return Public(text) if "{" not in text else text.format(**dict(self))

    def context(self) -> dict[str, str]:
        values = self.model_dump(mode="json", exclude=set(DELIVERY_FIELDS))
        return {key: value if isinstance(value, str) else str(value) for key, value in values.items()}


# ---- the serious incident (¶2.5-2.7) ----------------------------------------------------------------


class NewSeriousIncidentForm(Message, template="new_serious_incident_form", step="new-form"):
    """¶2.5 Tell the Business Unit of the new form"""

    received_on: date
    dsp_due_on: date
    dsp_rule: str


class DspMeetingInvitation(NewSeriousIncidentForm, template="dsp_meeting_invitation", to=(Role.INDEPENDENT_SCRUTINEER,)):
    """¶2.6 Invite the Independent Scrutineer to the DSP teleconference"""


class DspMeetingCall(NewSeriousIncidentForm, template="dsp_meeting_call", to=(Role.DSPS, Role.BUSINESS_UNIT)):
    """¶2.6 Call the Delegated Safeguarding Partners to the teleconference"""

    notification_due_on: date


class RationaleToReferrer(Message, template="rationale_to_referrer", to=REFERRER):
    """¶2.7 Reply to the referrer with the DSPs' rationale"""

    meeting_held_on: date
    rationale: str
    challenge_window_ends_on: date


class DisputeRoute(Message, template="dispute_route", to=(*REFERRER, Role.ESCALATION)):
    """¶2.7 Professional Challenge, Escalation and Dispute Resolution"""

    raised_on: date
    raised_by: str
    grounds: str
    decision_challenged: str = "the decision not to notify"


class ChallengeOutcome(Message, template="challenge_outcome", to=REFERRER):
    """¶2.7 Tell the referrer the outcome of the challenge"""

    resolved_on: date
    outcome: str
    notes: str
    decision_challenged: str = "the decision not to notify"


class ChallengeWindowEnded(Message, template="challenge_window_ended"):
    """¶2.7 No challenge recorded by {ends_on}: the case stays open until the Business Unit closes it"""

    ends_on: date


class FormToNotifier(Message, template="form_to_notifier", to=(Role.SERIOUS_INCIDENT_NOTIFIER, Role.BUSINESS_UNIT)):
    """¶2.6 Forward the form to the LA Serious Incident Notifier"""

    meeting_held_on: date
    notification_due_on: date
    notification_rule: str


# ---- the Rapid Review (¶4.3-4.9) ------------------------------------------------------------------------


class RapidReviewDetails(Message, template="rapid_review_details", to=(Role.RAPID_REVIEW_PANEL, Role.BUSINESS_UNIT)):
    """¶4.3 Share the case details with the Rapid Review panel"""

    live_by = "meeting_on"

    notified_on: date
    csons_reference: str
    chair: str
    panel_members: str
    agencies: str
    contributions_due_on: date
    meeting_on: date
    submission_due_on: date


class AgencyRequest(Message):
    """An agency asked for its contribution: one request, and one key, per agency."""

    live_by = "due_on"

    agency: str
    due_on: date

    def step_key(self) -> str:
        return f"{self.step}/{slug(self.agency)}"


class ContributionRequest(AgencyRequest, template="contribution_request", to=NAMED_ONLY):
    """¶4.3 Ask {agency} for its chronology"""

    meeting_on: date


class LcsprContributionRequest(AgencyRequest, template="lcspr_contribution_request", to=NAMED_ONLY):
    """¶5.3 Ask {agency} for its contribution"""

    publication_due_on: date


class Numbered(Message):
    """A message a case may send more than once (each rescheduling, each summary): its number is in its key."""

    number: int

    def step_key(self) -> str:
        return f"{super().step_key()}/{self.number}"


class ContributionDueExtendedNotice(Numbered, AgencyRequest, template="contribution_due_extended", to=NAMED_ONLY):
    """¶4.3, ¶5.3 Tell {agency} its contribution is now due {due_on}"""

    reason: str


class RapidReviewRescheduledNotice(
    Numbered, template="rapid_review_rescheduled", to=(Role.RAPID_REVIEW_PANEL, Role.BUSINESS_UNIT)
):
    """¶4.3 Tell the Rapid Review panel and the agencies the meeting is now on {meeting_on}"""

    live_by = "meeting_on"

    meeting_on: date
    was_on: date
    reason: str


class ImmediateActions(Message, template="immediate_actions", to=(Role.SAFEGUARDING_LEADS, Role.BUSINESS_UNIT)):
    """¶4.5 Immediate action for children's safety to the partnership's leads"""

    held_on: date
    actions: str


class ReportToExecutive(Message, template="report_to_executive", to=EXECUTIVE):
    """¶4.6 Rapid Review report to the Executive, with the governance invitation"""

    held_on: date
    recommendation: str
    chair: str
    submission_due_on: date


class ReportToNationalPanel(Message, template="report_to_national_panel", to=NATIONAL_PANEL):
    """¶4.9 Submit the Rapid Review report to the National Panel"""

    notified_on: date
    csons_reference: str
    final_decision: str


class PanelDisagrees(Message, template="panel_disagrees", to=EXECUTIVE):
    """¶4.9 The National Panel disagrees: to the Executive"""

    received_on: date
    csons_reference: str
    comments: str


class ReconsiderationToPanel(Message, template="reconsideration_to_panel", to=NATIONAL_PANEL):
    """¶4.9 The Executive's reconsidered decision to the National Panel"""

    decided_on: date
    csons_reference: str
    outcome: str
    rationale: str


# ---- the local review (¶5) ----------------------------------------------------------------------------


class PublicationCopies(
    Message, template="publication_copies", to=(Role.NATIONAL_PANEL, Role.SECRETARY_OF_STATE, Role.OFSTED, Role.BUSINESS_UNIT)
):
    """¶5.5 Copies to the National Panel, the Secretary of State and Ofsted"""

    live_by = "publication_on"

    publication_on: date
    copies_due_on: date
    report_note: str


# ---- the learning request (¶3) -------------------------------------------------------------------------


class NewLearningRequest(Message, template="new_learning_request", step="new-form"):
    """¶3.1 Tell the Business Unit of the new Learning Request"""

    received_on: date
    reason: str


class LearningReviewConvened(Message, template="learning_review_convened", to=REFERRER, step="partnership-decision"):
    """¶3.2 Learning review convened"""

    decided_on: date
    rationale: str


class LearningRequestRationale(LearningReviewConvened, template="learning_request_rationale", step="partnership-decision"):
    """¶3.2 Rationale to the referrer"""


class LearningReviewFindings(Message, template="learning_review_completed", to=REFERRER):
    """¶3.2 Share the learning review's findings"""

    completed_on: date
    findings: str
    recommendations: str


# ---- deadlines -----------------------------------------------------------------------------------------


class DeadlineMessage(Message):
    """What every message about a deadline says; `deadline_step` names the deadline in its key."""

    deadline_step: str
    deadline_title: str
    due_on: date
    deadline_rule: str
    needed: str
    moves: int = 0  # how often the deadline was moved before this message (a correction, a changed date)

    def step_key(self) -> str:
        moved = f"/moved-{self.moves}" if self.moves else ""
        return f"{self.step}/{self.deadline_step}{moved}"

    def context(self) -> dict[str, str]:
        return {key: value for key, value in super().context().items() if key in TEMPLATE_OF_DEADLINE}


TEMPLATE_OF_DEADLINE = frozenset({"deadline_title", "due_on", "deadline_rule", "needed", "published_on", "url"})


class DeadlineReminder(DeadlineMessage, template="deadline_reminder", step="reminder"):
    """Reminder {number}: {deadline_title} due {due_on}"""

    remind: list[Role]
    number: int

    def step_key(self) -> str:
        return f"{super().step_key()}/{self.number}"

    def recipients(self) -> list[Role]:
        return list(self.remind)


class DeadlineEscalation(DeadlineMessage, template="deadline_escalation", step="escalation"):
    """Escalation: {deadline_title} missed"""

    escalate: list[Role]

    def recipients(self) -> list[Role]:
        return list(self.escalate)


class PublicUntilReached(DeadlineMessage, template="public_until_reached", step="reached"):
    """{deadline_title}: {due_on} reached"""

    published_on: date
    url: str


# ---- the case itself -------------------------------------------------------------------------------------


class CaseWithdrawnNotice(Message, template="case_withdrawn", step="withdrawn"):
    """Tell the Business Unit the case is withdrawn"""

    withdrawn_on: date
    reason: str


class ReviewWithdrawnToAgencies(Message, template="review_withdrawn_to_agencies", to=NAMED_ONLY, step="withdrawn-agencies"):
    """Tell the agencies asked to contribute that the review is withdrawn"""

    withdrawn_on: date


class DecisionCorrected(Message, template="decision_corrected"):
    """Tell those who heard of it that a recorded {decision} was corrected"""

    decision: str
    number: int
    reason: str
    corrected_by: str
    was: str
    now: str

    def step_key(self) -> str:
        return f"{self.step}/{self.decision}/{self.number}"


class EnteredAfterTheFact(Numbered, template="entered_after_the_fact"):
    """Tell the Business Unit what was already past when the case was entered"""

    overdue: str
    not_sent: str


class DeliveryRefused(Message, template="delivery_refused"):
    """Tell the Business Unit the mail server refused {refused_template}"""

    refused_template: str
    refused_key: str
    reason: str = "The mail server refused it permanently."

    def step_key(self) -> str:
        return f"{self.step}/{self.refused_key.partition('/')[2]}"


MESSAGES: tuple[type[Message], ...] = (
    NewSeriousIncidentForm,
    DspMeetingInvitation,
    DspMeetingCall,
    RationaleToReferrer,
    DisputeRoute,
    ChallengeOutcome,
    ChallengeWindowEnded,
    FormToNotifier,
    RapidReviewDetails,
    ContributionRequest,
    LcsprContributionRequest,
    ContributionDueExtendedNotice,
    RapidReviewRescheduledNotice,
    ImmediateActions,
    ReportToExecutive,
    ReportToNationalPanel,
    PanelDisagrees,
    ReconsiderationToPanel,
    PublicationCopies,
    NewLearningRequest,
    LearningReviewConvened,
    LearningRequestRationale,
    LearningReviewFindings,
    DeadlineReminder,
    DeadlineEscalation,
    PublicUntilReached,
    CaseWithdrawnNotice,
    ReviewWithdrawnToAgencies,
    DecisionCorrected,
    EnteredAfterTheFact,
    DeliveryRefused,
)
