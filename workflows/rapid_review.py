"""The Rapid Review, governance and the National Panel (¶4.2-4.9): the serious-incident case after
notification. `SeriousIncidentWorkflow` runs `rapid_review()` once the LA has notified the Panel.

  ¶4.3-4.4  rapid_review_convened: details to the panel, each agency asked for its chronology,
            each agency's due date a clock [agency_contribution]                       -> convene
  ¶4.5      rapid_review_meeting_held: immediate actions to the partnership's leads at once
  ¶4.6      the Rapid Review report to the Executive with the governance invitation  -> to_governance
  ¶4.6      executive_decision: a local review commissioned or not; commissioned starts the
            local review, a child workflow (local_review.py)                         -> commission
  ¶4.9      chair_sign_off: the final decision added, the report dispatched to the National Panel;
            its date closes [rapid_review_submission] and starts [panel_response]   -> submit_to_panel
  ¶4.9      panel_response: a disagreement goes to the Executive                      -> panel_replied
"""

from __future__ import annotations

from datetime import date
from typing import Any

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from activities.reports import render_rapid_review_report
    from models.case import CaseStatus, Clock, LocalReviewCommission, Role, Stage, deadline_key
    from models.decisions import (
        AgencyContributionReceived,
        ChairSignOff,
        Decision,
        DecisionModel,
        DecisionRefused,
        ExecutiveDecision,
        NotificationSubmitted,
        PanelResponse,
        RapidReviewConvened,
        RapidReviewMeetingHeld,
    )
    from models.reports import RapidReviewReportRequest

from workflows.case import ACTIVITY_TIMEOUT, CaseWorkflow, slug
from workflows.contributions import check_contribution, outstanding
from workflows.local_review import LocalReviewWorkflow, local_review_id

RAPID_REVIEW_EXPECTED = {
    Stage.RAPID_REVIEW: frozenset({"rapid_review_convened", "panel_acknowledged"}),
    Stage.RAPID_REVIEW_MEETING: frozenset(
        {"agency_contribution_received", "rapid_review_meeting_held", "panel_acknowledged"}
    ),
    Stage.GOVERNANCE: frozenset({"agency_contribution_received", "panel_acknowledged"}),
    Stage.AWAITING_PANEL_RESPONSE: frozenset({"panel_response", "panel_acknowledged"}),
}
RECOMMENDATION_TEXT = {
    "lcspr": "a local Child Safeguarding Practice Review",
    "national_review": "that a national Child Safeguarding Practice Review be considered",
    "no_review": "no Child Safeguarding Practice Review",
}


class RapidReview(CaseWorkflow):
    notification: NotificationSubmitted | None

    def init_rapid_review(self) -> None:
        self.convened: RapidReviewConvened | None = None
        self.contributions: dict[str, AgencyContributionReceived] = {}
        self.meeting: RapidReviewMeetingHeld | None = None
        self.executive: ExecutiveDecision | None = None
        self.sign_off: ChairSignOff | None = None
        self.report_sent_to_panel_on: date | None = None
        self.panel_reply: PanelResponse | None = None
        self.local_review: workflow.ChildWorkflowHandle[LocalReviewWorkflow, CaseStatus] | None = None

    # ---- the stage ----------------------------------------------------------------------------------

    async def rapid_review(self) -> None:
        assert self.notification is not None
        await self.open_deadline(
            Clock.RAPID_REVIEW_SUBMISSION, self.notification.submitted_on, [Role.BUSINESS_UNIT]
        )
        await self.until(lambda: self.convened is not None)
        await self.convene()
        await self.until(lambda: self.meeting is not None)
        await self.to_governance()
        await self.until(lambda: self.executive is not None)
        assert self.executive is not None
        if self.executive.commission_lcspr:
            await self.commission()
        await self.until(lambda: self.sign_off is not None)
        await self.submit_to_panel()
        await self.until(lambda: self.panel_reply is not None)
        await self.panel_replied()
        if self.local_review is not None:
            local_review = self.local_review
            await self.until(local_review.done)
            outcome = local_review.result()
            self.close(f"Local review: {outcome.closed_reason}")

    async def commission(self) -> None:
        """¶4.6, ¶5.1: the local review runs as a child workflow, its own timeline in the Web UI."""
        assert self.executive is not None and self.partnership is not None
        review_id = local_review_id(self.case_id)
        self.local_review = await workflow.start_child_workflow(
            LocalReviewWorkflow.run,
            LocalReviewCommission(
                case_id=self.case_id,
                local_authority=self.local_authority,
                partnership=self.partnership,
                decided_on=self.executive.decided_on,
            ),
            id=review_id,
            static_summary=f"Local Child Safeguarding Practice Review of case {self.case_id}",
        )

    async def withdraw_local_review(self) -> None:
        """A withdrawn case withdraws its local review too, which cancels the review's clocks."""
        if self.local_review is None or self.local_review.done() or self.withdrawal is None:
            return
        assert self.executive is not None
        # The review began with the Executive's decision: its withdrawal cannot be dated before it.
        withdrawn_on = max(self.withdrawal.withdrawn_on, self.executive.decided_on)
        withdrawal = self.withdrawal.model_copy(update={"withdrawn_on": withdrawn_on})
        await self.local_review.signal(
            "submit_decision", Decision(name="case_withdrawn", body=withdrawal.model_dump(mode="json"))
        )
        await self.local_review

    async def convene(self) -> None:
        """¶4.3-4.4: the case details to the panel members; every agency asked for its chronology."""
        assert self.convened is not None and self.notification is not None
        convened = self.convened
        submission = self.deadlines[deadline_key(Clock.RAPID_REVIEW_SUBMISSION)]
        await self.send(
            "rapid_review_details",
            [Role.RAPID_REVIEW_PANEL, Role.BUSINESS_UNIT],
            "rapid-review-details",
            {
                "notified_on": self.notification.submitted_on.isoformat(),
                "csons_reference": self.notification.csons_reference,
                "chair": convened.chair,
                "panel_members": "; ".join(convened.panel_members),
                "agencies": "; ".join(a.name for a in convened.agencies),
                "contributions_due_on": convened.contributions_due_on.isoformat(),
                "meeting_on": convened.meeting_on.isoformat(),
                "submission_due_on": submission.due_on.isoformat(),
            },
            summary="¶4.3 Share the case details with the Rapid Review panel",
        )
        for agency in convened.agencies:
            await self.send(
                "contribution_request",
                [],
                f"contribution-request/{slug(agency.name)}",
                {
                    "agency": agency.name,
                    "due_on": convened.contributions_due_on.isoformat(),
                    "meeting_on": convened.meeting_on.isoformat(),
                },
                addresses=[agency.email],
                summary=f"¶4.3 Ask {agency.name} for its chronology",
            )
            await self.open_deadline(
                Clock.AGENCY_CONTRIBUTION,
                self.today(),
                [],
                subject=agency.name,
                due_on=convened.contributions_due_on,
                remind_addresses=[agency.email],
                escalate=[Role.BUSINESS_UNIT],
            )

    async def to_governance(self) -> None:
        """¶4.5-4.6: immediate actions to the leads at once; the report to the Executive members."""
        assert self.meeting is not None and self.convened is not None
        meeting = self.meeting
        if meeting.immediate_actions:
            await self.send(
                "immediate_actions",
                [Role.SAFEGUARDING_LEADS, Role.BUSINESS_UNIT],
                "immediate-actions",
                {
                    "held_on": meeting.held_on.isoformat(),
                    "actions": "\n".join(f"- {action}" for action in meeting.immediate_actions),
                },
                summary="¶4.5 Immediate action for children's safety to the partnership's leads",
            )
        draft = await self.render_report()
        await self.send(
            "report_to_executive",
            [Role.EXECUTIVE, Role.BUSINESS_UNIT],
            "report-to-executive",
            {
                "held_on": meeting.held_on.isoformat(),
                "recommendation": RECOMMENDATION_TEXT[meeting.recommendation],
                "chair": self.convened.chair,
                "submission_due_on": self.deadlines[deadline_key(Clock.RAPID_REVIEW_SUBMISSION)].due_on.isoformat(),
            },
            document=draft,
            summary="¶4.6 Rapid Review report to the Executive, with the governance invitation",
        )

    async def submit_to_panel(self) -> None:
        """¶4.9: the report with the chair's final decision goes to the National Panel."""
        assert self.sign_off is not None and self.notification is not None
        final = await self.render_report()
        await self.send(
            "report_to_national_panel",
            [Role.NATIONAL_PANEL, Role.BUSINESS_UNIT],
            "report-to-national-panel",
            {
                "notified_on": self.notification.submitted_on.isoformat(),
                "csons_reference": self.notification.csons_reference,
                "final_decision": self.sign_off.final_decision,
            },
            document=final,
            summary="¶4.9 Submit the Rapid Review report to the National Panel",
        )
        self.report_sent_to_panel_on = self.today()
        await self.open_deadline(
            Clock.PANEL_RESPONSE, self.sign_off.signed_on, [], escalate=[Role.BUSINESS_UNIT]
        )

    async def panel_replied(self) -> None:
        """¶4.9: a Panel that does not agree is put to the Executive members."""
        assert self.panel_reply is not None and self.notification is not None
        if not self.panel_reply.agrees:
            await self.send(
                "panel_disagrees",
                [Role.EXECUTIVE, Role.BUSINESS_UNIT],
                "panel-disagrees",
                {
                    "received_on": self.panel_reply.received_on.isoformat(),
                    "csons_reference": self.notification.csons_reference,
                    "comments": self.panel_reply.comments or "(none recorded)",
                },
                summary="¶4.9 The National Panel disagrees: to the Executive",
            )

    async def render_report(self) -> str:
        assert self.notification and self.convened and self.meeting and self.partnership
        rendered = await workflow.execute_activity(
            render_rapid_review_report,
            RapidReviewReportRequest(
                case_id=self.case_id,
                local_authority=self.local_authority.value,
                partnership=self.partnership,
                csons_reference=self.notification.csons_reference,
                notified_on=self.notification.submitted_on,
                convened=self.convened,
                contributions=list(self.contributions.values()),
                meeting=self.meeting,
                executive=self.executive,
                sign_off=self.sign_off,
            ),
            start_to_close_timeout=ACTIVITY_TIMEOUT,
            summary="¶4.6 Render the Rapid Review report" + (" with the final decision" if self.sign_off else ""),
        )
        return rendered.path

    # ---- its decisions --------------------------------------------------------------------------------

    def rapid_review_expected(self) -> frozenset[str]:
        expected = RAPID_REVIEW_EXPECTED.get(self.stage, frozenset())
        if self.stage is Stage.GOVERNANCE:
            expected |= {"chair_sign_off"} if self.executive else {"executive_decision"}
        return expected

    def rapid_review_step_answered(self, name: str) -> tuple[str, date] | None:
        if name == "executive_decision" and self.meeting:
            return "the Rapid Review meeting", self.meeting.held_on
        if name == "chair_sign_off" and self.executive:
            return "the Executive's decision", self.executive.decided_on
        if name == "panel_response" and self.sign_off:
            return "the chair's sign-off", self.sign_off.signed_on
        if name in {"rapid_review_meeting_held", "agency_contribution_received"} and self.notification:
            return "the notification", self.notification.submitted_on
        return None

    def check_rapid_review(self, decision: DecisionModel) -> None:
        """Content rules that need the case: due dates against the clock, agencies against the review."""
        if isinstance(decision, RapidReviewConvened):
            submission = self.deadlines.get(deadline_key(Clock.RAPID_REVIEW_SUBMISSION))
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
            names = [a.name for a in decision.agencies]
            if len(names) != len(set(names)):
                raise DecisionRefused("rapid_review_convened: agencies: each agency must be named once")
        if isinstance(decision, AgencyContributionReceived):
            asked = [a.name for a in self.convened.agencies] if self.convened else []
            check_contribution(decision, asked, self.contributions)

    def apply_rapid_review(self, decision: DecisionModel) -> None:
        if isinstance(decision, RapidReviewConvened):
            self.convened = decision
            self.stage = Stage.RAPID_REVIEW_MEETING
        elif isinstance(decision, AgencyContributionReceived):
            self.contributions[decision.agency] = decision
            self.close_deadline(Clock.AGENCY_CONTRIBUTION, decision.received_on, subject=decision.agency)
        elif isinstance(decision, RapidReviewMeetingHeld):
            self.meeting = decision
            self.stage = Stage.GOVERNANCE
        elif isinstance(decision, ExecutiveDecision):
            self.executive = decision
        elif isinstance(decision, ChairSignOff):
            self.sign_off = decision
            self.close_deadline(Clock.RAPID_REVIEW_SUBMISSION, decision.signed_on)
            self.stage = Stage.AWAITING_PANEL_RESPONSE
        elif isinstance(decision, PanelResponse):
            self.panel_reply = decision
            self.close_deadline(Clock.PANEL_RESPONSE, decision.received_on)
            assert self.executive is not None
            if self.executive.commission_lcspr:
                self.stage = Stage.LOCAL_REVIEW
            else:
                agreed = "agrees" if decision.agrees else "does not agree"
                self.close(
                    f"No local review commissioned (Executive, {self.executive.decided_on}); "
                    f"the National Panel {agreed} ({decision.received_on})"
                )
        else:
            raise AssertionError(f"no Rapid Review transition for {type(decision).__name__}")

    def rapid_review_details(self) -> dict[str, Any]:
        convened = self.convened
        return {
            "rapid_review_chair": convened.chair if convened else None,
            "rapid_review_meeting_on": convened.meeting_on if convened else None,
            "agency_contributions": outstanding(
                [(a.name, convened.contributions_due_on) for a in convened.agencies] if convened else [],
                self.contributions,
            ),
            "recommendation": self.meeting.recommendation if self.meeting else None,
            "commission_lcspr": self.executive.commission_lcspr if self.executive else None,
            "report_sent_to_panel_on": self.report_sent_to_panel_on,
            "panel_agrees": self.panel_reply.agrees if self.panel_reply else None,
            "local_review_id": self.local_review.id if self.local_review else None,
        }
