"""The Rapid Review (¶4.1-4.6): the part of a serious-incident case after notification.
`SeriousIncidentWorkflow` runs `RapidReview.run()` once the LA has notified the Panel.

  ¶4.2      [rapid_review_submission] 15 working days from the notification
  ¶4.3-4.4  rapid_review_convened: details to the panel, each agency asked for its chronology
            (contributions.py, a clock per agency [agency_contribution])               -> convene
  ¶4.5      rapid_review_meeting_held: immediate actions to the partnership's leads at once
  ¶4.6      the Rapid Review report to the Executive with the governance invitation  -> to_governance
  ¶4.6-4.9  the Executive's decision, the chair's sign-off and the National Panel   -> governance.py
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from models.text import Public
    from activities.reports import render_rapid_review_report
    from models.case import Clock, Role, Stage, deadline_key
    from models.decisions import (
        DecisionRefused,
        NotificationSubmitted,
        PanelAcknowledged,
        RapidReviewConvened,
        RapidReviewMeetingHeld,
        RapidReviewRescheduled,
    )
    from models import messages
    from models.reports import RapidReviewReportRequest

from workflows.clocks import Watch
from workflows.contributions import AgencyContributions, agencies_redated
from workflows.governance import Governance
from workflows.retries import ABANDONED_WHEN_WITHDRAWN, REPORTS
from workflows.intake import RECORDED_BY_NOTIFIERS, RECORDED_BY_RAPID_REVIEW_CHAIRS, Table, Takes, answered, at

if TYPE_CHECKING:
    from workflows.case import Case

RENDER_TIMEOUT = timedelta(minutes=1)
RECOMMENDATION_TEXT = {
    "lcspr": "a local Child Safeguarding Practice Review",
    "national_review": "that a national Child Safeguarding Practice Review be considered",
    "no_review": "no Child Safeguarding Practice Review",
}
NOTIFIED = frozenset({Stage.RAPID_REVIEW, Stage.RAPID_REVIEW_MEETING, Stage.GOVERNANCE, Stage.AWAITING_PANEL_RESPONSE})


class RapidReview:
    def __init__(self, case: Case, notified: Callable[[], NotificationSubmitted | None]) -> None:
        self.case = case
        self.notified = notified  # the LA's notification (¶2.4), recorded by the serious-incident case
        self.acknowledgement: PanelAcknowledged | None = None
        self.convened: RapidReviewConvened | None = None
        self.contributions = AgencyContributions(case, answers=lambda: answered(self, "notification"))
        self.meeting: RapidReviewMeetingHeld | None = None
        self.reschedules: list[RapidReviewRescheduled] = []  # recorded; the first `told` have been told
        self.told = 0
        self.governance = Governance(
            case,
            answers=lambda: answered(self, "meeting"),
            notification=notified,
            render_report=self.render_report,
        )

    # ---- the stage ----------------------------------------------------------------------------------

    async def run(self) -> None:
        case = self.case
        assert self.notification is not None
        await case.clocks.start(
            Clock.RAPID_REVIEW_SUBMISSION, self.notification.submitted_on, Watch(remind=[Role.BUSINESS_UNIT])
        )
        await case.until(lambda: self.convened is not None)
        await self.convene()
        while self.meeting is None:  # a meeting moved meanwhile: its panel and agencies are told
            await case.until(lambda: self.meeting is not None or self.told < len(self.reschedules))
            if self.told < len(self.reschedules):
                await self.tell_rescheduled()
        await self.to_governance()
        await self.governance.run()

    async def convene(self) -> None:
        """¶4.3-4.4: the case details to the panel members; every agency asked for its chronology."""
        assert self.convened is not None and self.notification is not None
        convened, notification = self.convened, self.notification
        await self.case.send(
            messages.RapidReviewDetails(
                notified_on=notification.submitted_on,
                csons_reference=notification.csons_reference,
                chair=convened.chair,
                panel_members="; ".join(convened.panel_members),
                agencies="; ".join(a.name for a in convened.agencies),
                contributions_due_on=convened.contributions_due_on,
                meeting_on=convened.meeting_on,
                submission_due_on=self.submission_due_on(),
            )
        )
        due_on, meeting_on = convened.contributions_due_on, convened.meeting_on
        requests = [
            (agency, due_on, messages.ContributionRequest(agency=agency.name, due_on=due_on, meeting_on=meeting_on))
            for agency in convened.agencies
        ]
        # Convening is not dated: the agencies are asked on the day it is recorded.
        await self.contributions.ask(requests, asked_on=self.case.today())

    async def to_governance(self) -> None:
        """¶4.5-4.6: immediate actions to the leads at once; the report to the Executive members."""
        assert self.meeting is not None and self.convened is not None
        meeting = self.meeting
        if meeting.immediate_actions:
            actions = "\n".join(f"- {action}" for action in meeting.immediate_actions)
            await self.case.send(messages.ImmediateActions(held_on=meeting.held_on, actions=actions))
        draft = await self.render_report()
        invitation = messages.ReportToExecutive(
            held_on=meeting.held_on,
            recommendation=RECOMMENDATION_TEXT[meeting.recommendation],
            chair=self.convened.chair,
            submission_due_on=self.submission_due_on(),
            document=draft,
        )
        if self.case.routes:  # ¶4.6: the partnership chair and the Rapid Review chair are invited too
            chair = [self.convened.chair_email] if self.convened.chair_email else []
            invitation = invitation.model_copy(update={"also": [Role.PARTNERSHIP_CHAIR], "addresses": chair})
        await self.case.send(invitation)

    async def render_report(self) -> str | None:
        """The report as a Word document (activities/reports.py); None, shown on the case, if it cannot be."""
        case, signed = self.case, self.governance.sign_off is not None
        assert self.notification and self.convened and self.meeting and case.partnership
        try:
            rendered = await workflow.execute_activity(
                render_rapid_review_report,
                RapidReviewReportRequest(
                    case_id=case.case_id,
                    local_authority=case.local_authority.value,
                    partnership=case.partnership,
                    csons_reference=self.notification.csons_reference,
                    notified_on=self.notification.submitted_on,
                    convened=self.convened,
                    contributions=list(self.contributions.received.values()),
                    meeting=self.meeting,
                    executive=self.governance.executive,
                    sign_off=self.governance.sign_off,
                ),
                start_to_close_timeout=RENDER_TIMEOUT,
                retry_policy=REPORTS,
                cancellation_type=ABANDONED_WHEN_WITHDRAWN,
                summary=Public("¶4.6 Render the Rapid Review report" + (" with the final decision" if signed else "")),
            )
        except ActivityError as error:
            if not (isinstance(error.cause, ApplicationError) and error.cause.type == "ReportInvalid"):
                raise
            case.needs_attention("the Rapid Review report", error.cause.message)
            return None
        return rendered.path

    @property
    def notification(self) -> NotificationSubmitted | None:
        return self.notified()

    def submission_due_on(self) -> date:
        return self.case.deadlines[deadline_key(Clock.RAPID_REVIEW_SUBMISSION)].due_on

    # ---- its decisions ----------------------------------------------------------------------------------

    def check_convened(self, decision: RapidReviewConvened) -> None:
        """Contributions are due before the meeting and before the Rapid Review is due; agencies once."""
        submission = self.case.deadlines.get(deadline_key(Clock.RAPID_REVIEW_SUBMISSION))
        if submission is None:
            raise DecisionRefused("rapid_review_convened: the Rapid Review clock is still being set; send it again")
        if decision.contributions_due_on > decision.meeting_on:
            raise DecisionRefused(
                f"rapid_review_convened: contributions_due_on ({decision.contributions_due_on}) "
                f"is after meeting_on ({decision.meeting_on})"
            )
        if decision.contributions_due_on > submission.due_on:
            raise DecisionRefused(
                f"rapid_review_convened: contributions_due_on ({decision.contributions_due_on}) is after "
                f"the rapid_review_submission deadline ({submission.due_on})"
            )
        if self.case.routes and decision.meeting_on > submission.due_on:
            raise DecisionRefused(
                f"rapid_review_convened: meeting_on ({decision.meeting_on}) is after the rapid_review_submission "
                f"deadline ({submission.due_on}): the decision must reach the Panel by then (¶4.2, ¶4.9)"
            )

    def name_agencies(self, decision: RapidReviewConvened) -> None:
        self.contributions.name([(a.name, decision.contributions_due_on) for a in decision.agencies])

    def convened_on(self) -> date:
        assert self.convened is not None
        return self.convened.meeting_on

    def meeting_on(self) -> date | None:
        """The meeting's date: as convened, or as last rescheduled."""
        if self.reschedules:
            return self.reschedules[-1].meeting_on
        return self.convened.meeting_on if self.convened else None

    async def tell_rescheduled(self) -> None:
        change = self.reschedules[self.told]
        was_on = self.reschedules[self.told - 1].meeting_on if self.told else self.convened_on()
        self.told += 1
        await self.case.send(
            messages.RapidReviewRescheduledNotice(
                meeting_on=change.meeting_on,
                was_on=was_on,
                reason=change.reason,
                number=self.told,
                addresses=sorted(self.contributions.emails.values()),
            )
        )

    def check_rescheduled(self, decision: RapidReviewRescheduled) -> None:
        """¶4.2: a meeting moved within the Rapid Review's 15 working days, to a date it does not have."""
        submission = self.case.deadlines.get(deadline_key(Clock.RAPID_REVIEW_SUBMISSION))
        if decision.meeting_on == self.meeting_on():
            raise DecisionRefused(f"rapid_review_rescheduled: the meeting is already on {decision.meeting_on}")
        if submission is not None and decision.meeting_on > submission.due_on:
            raise DecisionRefused(
                f"rapid_review_rescheduled: meeting_on ({decision.meeting_on}) is after the "
                f"rapid_review_submission deadline ({submission.due_on}); the Rapid Review must reach the Panel by then"
            )

    def rescheduled(self, decision: RapidReviewRescheduled) -> None:
        self.reschedules.append(decision)

    DECISIONS: Table = (
        Takes(PanelAcknowledged, NOTIFIED, keep="acknowledgement", after="notification", by=RECORDED_BY_NOTIFIERS),
        Takes(RapidReviewConvened, at(Stage.RAPID_REVIEW),
              keep="convened", then=name_agencies, moves_to=Stage.RAPID_REVIEW_MEETING,
              check=check_convened, by=RECORDED_BY_RAPID_REVIEW_CHAIRS, corrected=agencies_redated,
              tells=(messages.RapidReviewDetails, messages.ContributionRequest)),
        Takes(RapidReviewRescheduled, at(Stage.RAPID_REVIEW_MEETING),
              then=rescheduled, after="notification", check=check_rescheduled, repeats=True,
              by=RECORDED_BY_RAPID_REVIEW_CHAIRS),
        Takes(RapidReviewMeetingHeld, at(Stage.RAPID_REVIEW_MEETING),
              keep="meeting", moves_to=Stage.GOVERNANCE,
              after="notification", by=RECORDED_BY_RAPID_REVIEW_CHAIRS,
              tells=(messages.ImmediateActions, messages.ReportToExecutive)),
    )

    def details(self) -> dict[str, Any]:
        convened = self.convened
        return {
            "panel_acknowledged_on": self.acknowledgement.received_on if self.acknowledgement else None,
            "rapid_review_chair": convened.chair if convened else None,
            "rapid_review_meeting_on": self.meeting_on(),
            "agency_contributions": self.contributions.outstanding(),
            "recommendation": self.meeting.recommendation if self.meeting else None,
        } | self.governance.details()
