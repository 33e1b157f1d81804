"""A serious child safeguarding case, from the Serious Incident Notification Request Form (¶2.5).

The journey, in the protocol's order:
  ¶2.5  the form reaches the partnership; the Business Unit is told       -> receive_form
  ¶2.6  DSP teleconference and decision within 2 working days [dsp_meeting]
  ¶2.7  do not notify: rationale to the referrer; a challenge follows the
        dispute procedure, and a changed decision goes on to notification   -> not_notified
  ¶2.6  notify: the form goes to the LA Serious Incident Notifier, who
  ¶2.4  notifies the National Panel within 5 working days [panel_notification] -> notify_panel
  ¶4.1-4.9  the Rapid Review, governance and the National Panel  -> rapid_review.py, governance.py
A case can be withdrawn at any stage.
"""

from __future__ import annotations

import asyncio
from datetime import date, timedelta
from typing import Any, ClassVar

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from models.case import CaseKind, CaseStatus, Clock, Role, Stage
    from models.decisions import ChallengeRaised, ChallengeResolved, DspDecision, NotificationSubmitted
    from models.forms import SeriousIncidentForm
    from models import messages

from workflows.case_workflow import CaseWorkflow
from workflows.clocks import Watch
from workflows.contributions import AgencyContributions
from workflows.governance import Governance
from workflows.intake import RECORDED_BY_DSPS, RECORDED_BY_NOTIFIERS, Step, Table, Takes, at
from workflows.rapid_review import RapidReview


@workflow.defn
class SeriousIncidentWorkflow(CaseWorkflow):
    """A serious-incident case from the form to the National Panel's response (¶2, ¶4), with its parts:
    the Rapid Review, its agencies' contributions and governance (the local review is a child workflow)."""

    PARTS = (RapidReview, AgencyContributions, Governance)
    FORM_CLOCKS = {"received_on": Clock.DSP_MEETING, "became_aware_on": Clock.PANEL_NOTIFICATION}
    FORM_TOLD = frozenset({messages.FormToNotifier.template, messages.DspMeetingInvitation.template})
    form: SeriousIncidentForm

    @workflow.init
    def __init__(self, *submitted: Any) -> None:
        if not self.open_case(CaseKind.SERIOUS_INCIDENT, SeriousIncidentForm, submitted, Stage.DSP_MEETING):
            return
        self.dsp_decision: DspDecision | None = None
        self.challenge: ChallengeRaised | None = None
        self.challenge_outcome: ChallengeResolved | None = None
        self.challenge_window_ends_on: date | None = None
        self.notification: NotificationSubmitted | None = None
        self.rapid_review = RapidReview(self.case, notified=lambda: self.notification)
        self.open_intake()

    def parts(self) -> list[Any]:
        return [self.rapid_review, self.rapid_review.contributions, self.rapid_review.governance]

    @workflow.run
    async def run(self, *submitted: Any) -> CaseStatus:
        """Starts from one Serious Incident Notification Request Form (`SeriousIncidentForm`)."""
        return await self.run_case()

    async def withdrawn_case(self) -> None:
        await self.rapid_review.governance.withdraw_local_review()
        await self.case.announce_withdrawal()

    # ---- the journey ------------------------------------------------------------------------------

    async def journey(self) -> None:
        # Handlers move the stage as decisions arrive (several may arrive at once); the journey
        # follows the decisions recorded, so no step is skipped however fast they come.
        await self.receive_form()
        await self.case.until(lambda: self.dsp_decision is not None)
        if not self.decided_to_notify():
            await self.not_notified()
        if self.decided_to_notify():
            await self.notify_panel()
            await self.rapid_review.run()

    async def receive_form(self) -> None:
        """¶2.5-2.6: the Business Unit is told; the DSP clock starts; the Independent Scrutineer is invited."""
        case = self.case
        await case.look_up_partnership()
        dsp = await case.clocks.start(Clock.DSP_MEETING, self.form.received_on, Watch(remind=[Role.BUSINESS_UNIT]))
        facts = {"received_on": self.form.received_on, "dsp_due_on": dsp.due_on, "dsp_rule": dsp.rule}
        await case.send(messages.NewSeriousIncidentForm(**facts))
        await case.send(messages.DspMeetingInvitation(**facts))

    async def not_notified(self) -> None:
        """¶2.7: reply to the referrer; the case stays open for a challenge, then closes."""
        case, decision = self.case, self.dsp_decision
        assert decision is not None
        window = await case.clocks.compute(Clock.CHALLENGE_WINDOW, case.today())
        self.challenge_window_ends_on = window.due_on
        await case.send(
            messages.RationaleToReferrer(
                meeting_held_on=decision.meeting_held_on,
                rationale=decision.rationale,
                challenge_window_ends_on=window.due_on,
            )
        )
        try:
            await case.until(
                lambda: self.challenge is not None,
                timeout=max(window.due_at - workflow.now(), timedelta(seconds=1)),
                timeout_summary=f"¶2.7 Time to challenge ends {window.due_on}",
            )
        except asyncio.TimeoutError:
            case.close(f"Not notified: no challenge by {window.due_on}")
            return
        challenge = self.challenge
        assert challenge is not None
        raised = {"raised_on": challenge.raised_on, "raised_by": challenge.raised_by, "grounds": challenge.grounds}
        await case.send(messages.DisputeRoute(**raised))
        await case.until(lambda: self.challenge_outcome is not None)
        outcome = self.challenge_outcome
        assert outcome is not None
        await case.send(
            messages.ChallengeOutcome(
                resolved_on=outcome.resolved_on,
                outcome="the decision not to notify is upheld"
                if outcome.outcome == "decision_upheld"
                else "the decision is changed: the incident will be notified to the National Panel",
                notes=outcome.notes or "",
            )
        )

    async def notify_panel(self) -> None:
        """¶2.6, ¶2.4: the form goes to the LA Serious Incident Notifier, who has 5 working days."""
        case = self.case
        deadline = await case.clocks.start(
            Clock.PANEL_NOTIFICATION,
            self.form.became_aware_on,
            Watch(remind=[Role.SERIOUS_INCIDENT_NOTIFIER, Role.BUSINESS_UNIT]),
        )
        await case.send(
            messages.FormToNotifier(
                meeting_held_on=self.decided_to_notify_on(),
                notification_due_on=deadline.due_on,
                notification_rule=deadline.rule,
                attachment=self.form.model_dump(mode="json"),
            )
        )
        await case.until(lambda: self.notification is not None)

    def decided_to_notify(self) -> bool:
        """The DSPs decided to notify, or a challenge changed their decision (¶2.6-2.7)."""
        if self.challenge_outcome is not None:
            return self.challenge_outcome.outcome == "decision_changed"
        return self.dsp_decision is not None and self.dsp_decision.decision == "notify"

    def decided_to_notify_on(self) -> date:
        if self.challenge_outcome and self.challenge_outcome.outcome == "decision_changed":
            return self.challenge_outcome.resolved_on
        assert self.dsp_decision is not None
        return self.dsp_decision.meeting_held_on

    # ---- its decisions ----------------------------------------------------------------------------

    def since_decision_to_notify(self) -> Step | None:
        return ("the decision to notify", self.decided_to_notify_on()) if self.dsp_decision else None

    def dsp_decided(self, decision: DspDecision) -> None:
        """¶2.6-2.7: notify goes on to the notifier; do not notify waits for a challenge."""
        self.case.stage = Stage.PANEL_NOTIFICATION if decision.decision == "notify" else Stage.CHALLENGE_WINDOW

    def challenge_resolved(self, decision: ChallengeResolved) -> None:
        """¶2.7: a changed decision goes on to notification; an upheld one closes the case."""
        if decision.outcome == "decision_changed":
            self.case.stage = Stage.PANEL_NOTIFICATION
        else:
            self.case.close(f"Not notified: the decision was upheld on {decision.resolved_on}")

    DECISIONS: ClassVar[Table] = (
        Takes(DspDecision, at(Stage.DSP_MEETING),
              keep="dsp_decision", stops=Clock.DSP_MEETING, then=dsp_decided, by=RECORDED_BY_DSPS,
              tells=(messages.RationaleToReferrer, messages.FormToNotifier)),
        Takes(ChallengeRaised, at(Stage.CHALLENGE_WINDOW),
              keep="challenge", moves_to=Stage.DISPUTE_RESOLUTION, after="dsp_decision", tells=(messages.DisputeRoute,)),
        Takes(ChallengeResolved, at(Stage.DISPUTE_RESOLUTION),
              keep="challenge_outcome", then=challenge_resolved, after="challenge", tells=(messages.ChallengeOutcome,)),
        Takes(NotificationSubmitted, at(Stage.PANEL_NOTIFICATION),
              keep="notification", stops=Clock.PANEL_NOTIFICATION, moves_to=Stage.RAPID_REVIEW,
              after=since_decision_to_notify, by=RECORDED_BY_NOTIFIERS,
              starts=Clock.RAPID_REVIEW_SUBMISSION, tells=(messages.RapidReviewDetails, messages.ReportToNationalPanel)),
    )

    def details(self) -> dict[str, Any]:
        notification = self.notification
        return {
            "dsp_decision": self.dsp_decision.decision if self.dsp_decision else None,
            "challenge_window_ends_on": self.challenge_window_ends_on,
            "challenge_outcome": self.challenge_outcome.outcome if self.challenge_outcome else None,
            "csons_reference": notification.csons_reference if notification else None,
            "notified_on": notification.submitted_on if notification else None,
        } | self.rapid_review.details()
