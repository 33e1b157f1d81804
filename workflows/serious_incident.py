"""A serious child safeguarding case, from the Serious Incident Notification Request Form (¶2.5).

The journey, in the protocol's order:
  ¶2.5  the form reaches the partnership; the Business Unit is told       -> receive_form
  ¶2.6  DSP teleconference and decision within 2 working days [dsp_meeting]
  ¶2.7  do not notify: rationale to the referrer; a challenge follows the
        dispute procedure, and a changed decision goes on to notification   -> not_notified
  ¶2.6  notify: the form goes to the LA Serious Incident Notifier, who
  ¶2.4  notifies the National Panel within 5 working days [panel_notification] -> notify_panel
  ¶4.2-4.9  the Rapid Review, governance and the National Panel            -> rapid_review.py
A case can be withdrawn at any stage.
"""

from __future__ import annotations

import asyncio
from datetime import date, timedelta
from typing import Any

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from models.case import CaseKind, CaseStatus, Clock, Role, Stage
    from models.decisions import (
        ChallengeRaised,
        ChallengeResolved,
        DecisionModel,
        DspDecision,
        NotificationSubmitted,
        PanelAcknowledged,
    )
    from models.forms import SeriousIncidentForm

from workflows.case import CaseEnded
from workflows.rapid_review import RapidReview


@workflow.defn
class SeriousIncidentWorkflow(RapidReview):
    kind = CaseKind.SERIOUS_INCIDENT
    EXPECTED = {
        Stage.DSP_MEETING: frozenset({"dsp_decision"}),
        Stage.CHALLENGE_WINDOW: frozenset({"challenge_raised"}),
        Stage.DISPUTE_RESOLUTION: frozenset({"challenge_resolved"}),
        Stage.PANEL_NOTIFICATION: frozenset({"notification_submitted"}),
    }

    @workflow.init
    def __init__(self, form: SeriousIncidentForm) -> None:
        super().__init__(
            local_authority=form.local_authority,
            received_on=form.received_on,
            referrer_email=form.referrer.email,
            stage=Stage.DSP_MEETING,
        )
        self.form = form
        self.dsp_decision: DspDecision | None = None
        self.challenge: ChallengeRaised | None = None
        self.challenge_outcome: ChallengeResolved | None = None
        self.challenge_window_ends_on: date | None = None
        self.notification: NotificationSubmitted | None = None
        self.acknowledgement: PanelAcknowledged | None = None
        self.init_rapid_review()

    @workflow.run
    async def run(self, form: SeriousIncidentForm) -> CaseStatus:
        # Handlers move the stage as decisions arrive (several may arrive at once); the journey
        # below follows the decisions recorded, so no step is skipped however fast they come.
        try:
            await self.receive_form()
            await self.until(lambda: self.dsp_decision is not None)
            if not self.decided_to_notify():
                await self.not_notified()
            if self.decided_to_notify():
                await self.notify_panel()
                await self.rapid_review()
        except CaseEnded:
            await self.withdraw_local_review()
            await self.announce_withdrawal()
        return await self.finish()

    # ---- the journey ------------------------------------------------------------------------------

    async def receive_form(self) -> None:
        """¶2.5-2.6: the Business Unit is told; the DSP clock starts; the Independent Scrutineer is invited."""
        await self.look_up_partnership()
        dsp = await self.open_deadline(Clock.DSP_MEETING, self.form.received_on, [Role.BUSINESS_UNIT])
        context = {
            "received_on": self.form.received_on.isoformat(),
            "dsp_due_on": dsp.due_on.isoformat(),
            "dsp_rule": dsp.rule,
        }
        await self.send(
            "new_serious_incident_form",
            [Role.BUSINESS_UNIT],
            "new-form",
            context,
            summary="¶2.5 Tell the Business Unit of the new form",
        )
        await self.send(
            "dsp_meeting_invitation",
            [Role.INDEPENDENT_SCRUTINEER],
            "dsp-meeting-invitation",
            context,
            summary="¶2.6 Invite the Independent Scrutineer to the DSP teleconference",
        )

    async def not_notified(self) -> None:
        """¶2.7: reply to the referrer; the case stays open for a challenge, then closes."""
        assert self.dsp_decision is not None
        window = await self.compute(Clock.CHALLENGE_WINDOW, self.today())
        self.challenge_window_ends_on = window.due_on
        await self.send(
            "rationale_to_referrer",
            [Role.REFERRER, Role.BUSINESS_UNIT],
            "rationale-to-referrer",
            {
                "meeting_held_on": self.dsp_decision.meeting_held_on.isoformat(),
                "rationale": self.dsp_decision.rationale,
                "challenge_window_ends_on": window.due_on.isoformat(),
            },
            summary="¶2.7 Reply to the referrer with the DSPs' rationale",
        )
        try:
            await self.until(
                lambda: self.challenge is not None,
                timeout=max(window.due_at - workflow.now(), timedelta(seconds=1)),
                timeout_summary=f"¶2.7 Time to challenge ends {window.due_on}",
            )
        except asyncio.TimeoutError:
            self.close(f"Not notified: no challenge by {window.due_on}")
            return
        assert self.challenge is not None
        await self.send(
            "dispute_route",
            [Role.REFERRER, Role.BUSINESS_UNIT, Role.ESCALATION],
            "dispute-route",
            {
                "raised_on": self.challenge.raised_on.isoformat(),
                "raised_by": self.challenge.raised_by,
                "grounds": self.challenge.grounds,
            },
            summary="¶2.7 Professional Challenge, Escalation and Dispute Resolution",
        )
        await self.until(lambda: self.challenge_outcome is not None)
        assert self.challenge_outcome is not None
        await self.send(
            "challenge_outcome",
            [Role.REFERRER, Role.BUSINESS_UNIT],
            "challenge-outcome",
            {
                "resolved_on": self.challenge_outcome.resolved_on.isoformat(),
                "outcome": "the decision not to notify is upheld"
                if self.challenge_outcome.outcome == "decision_upheld"
                else "the decision is changed: the incident will be notified to the National Panel",
                "notes": self.challenge_outcome.notes or "",
            },
            summary="¶2.7 Tell the referrer the outcome of the challenge",
        )

    async def notify_panel(self) -> None:
        """¶2.6, ¶2.4: the form goes to the LA Serious Incident Notifier, who has 5 working days."""
        deadline = await self.open_deadline(
            Clock.PANEL_NOTIFICATION,
            self.form.became_aware_on,
            [Role.SERIOUS_INCIDENT_NOTIFIER, Role.BUSINESS_UNIT],
        )
        await self.send(
            "form_to_notifier",
            [Role.SERIOUS_INCIDENT_NOTIFIER, Role.BUSINESS_UNIT],
            "form-to-notifier",
            {
                "meeting_held_on": self.decided_to_notify_on().isoformat(),
                "notification_due_on": deadline.due_on.isoformat(),
                "notification_rule": deadline.rule,
            },
            attachment=self.form.model_dump(mode="json"),
            summary="¶2.6 Forward the form to the LA Serious Incident Notifier",
        )
        await self.until(lambda: self.notification is not None)

    # ---- decisions --------------------------------------------------------------------------------

    def stage_decisions(self) -> frozenset[str]:
        return super().stage_decisions() | self.rapid_review_expected()

    def check_decision(self, decision: DecisionModel) -> None:
        self.check_rapid_review(decision)

    def step_answered(self, name: str) -> tuple[str, date]:
        rapid_review_step = self.rapid_review_step_answered(name)
        if rapid_review_step is not None:
            return rapid_review_step
        if name == "challenge_raised" and self.dsp_decision:
            return "the DSP meeting", self.dsp_decision.meeting_held_on
        if name == "challenge_resolved" and self.challenge:
            return "the challenge", self.challenge.raised_on
        if name == "notification_submitted" and self.dsp_decision:
            return "the decision to notify", self.decided_to_notify_on()
        if name == "panel_acknowledged" and self.notification:
            return "the notification", self.notification.submitted_on
        return "the form's receipt", self.form.received_on

    def apply(self, name: str, decision: DecisionModel) -> None:
        if isinstance(decision, DspDecision):
            self.dsp_decision = decision
            self.close_deadline(Clock.DSP_MEETING, decision.meeting_held_on)
            notify = decision.decision == "notify"
            self.stage = Stage.PANEL_NOTIFICATION if notify else Stage.CHALLENGE_WINDOW
        elif isinstance(decision, ChallengeRaised):
            self.challenge = decision
            self.stage = Stage.DISPUTE_RESOLUTION
        elif isinstance(decision, ChallengeResolved):
            self.challenge_outcome = decision
            if decision.outcome == "decision_changed":
                self.stage = Stage.PANEL_NOTIFICATION
            else:
                self.close(f"Not notified: the decision was upheld on {decision.resolved_on}")
        elif isinstance(decision, NotificationSubmitted):
            self.notification = decision
            self.close_deadline(Clock.PANEL_NOTIFICATION, decision.submitted_on)
            self.stage = Stage.RAPID_REVIEW
        elif isinstance(decision, PanelAcknowledged):
            self.acknowledgement = decision
        else:
            self.apply_rapid_review(decision)

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

    def details(self) -> dict[str, Any]:
        return {
            "dsp_decision": self.dsp_decision.decision if self.dsp_decision else None,
            "challenge_window_ends_on": self.challenge_window_ends_on,
            "challenge_outcome": self.challenge_outcome.outcome if self.challenge_outcome else None,
            "csons_reference": self.notification.csons_reference if self.notification else None,
            "notified_on": self.notification.submitted_on if self.notification else None,
            "panel_acknowledged_on": self.acknowledgement.received_on if self.acknowledgement else None,
        } | self.rapid_review_details()
