"""A serious child safeguarding case, from the Serious Incident Notification Request Form (¶2.5).

The journey, in the protocol's order:
  ¶2.5  the form reaches the partnership; the Business Unit is told       -> receive_form
  ¶2.6  DSP teleconference and decision within 2 working days [dsp_meeting]
  ¶2.7  do not notify: rationale to the referrer; a challenge follows the
        dispute procedure, and a changed decision goes on to notification   -> not_notified
  ¶2.6  notify: the form goes to the LA Serious Incident Notifier, who
  ¶2.4  notifies the National Panel within 5 working days [panel_notification] -> notify_panel
  ¶4.1-4.9  the Rapid Review, governance and the National Panel  -> rapid_review.py, governance.py
A case can be withdrawn at any stage. Cases from release 0.3 follow the routes of notification.py.
"""

from __future__ import annotations

import asyncio
from datetime import date, timedelta
from typing import Any, ClassVar

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from models.text import Public
    from models.case import CaseKind, CaseStatus, Clock, Deadline, Role, Stage
    from models.decisions import CaseClosed, ChallengeRaised, ChallengeResolved, DecisionRefused, DspDecision
    from models.decisions import LearningRequestOpened, NotificationSubmitted
    from models.forms import SeriousIncidentForm
    from models import messages

from workflows.case_workflow import CaseWorkflow
from workflows.versions import FORM_STEPS_TOGETHER, MESSAGES_TOGETHER, PROTOCOL_ROUTES, changed
from workflows.clocks import Watch
from workflows.contributions import AgencyContributions
from workflows.governance import Governance
from workflows.intake import RECORDED_BY_DSPS, RECORDED_BY_NOTIFIERS, Step, Table, Takes, answered, at
from workflows.notification import NotificationRoutes
from workflows.rapid_review import RapidReview

STATUTORY_PARTNERS = {"local_authority", "police", "integrated_care_board"}


@workflow.defn
class SeriousIncidentWorkflow(NotificationRoutes, CaseWorkflow):
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
        self.closure: CaseClosed | None = None
        self.learning_request: LearningRequestOpened | None = None
        self.learning_request_started: str | None = None
        self.form_forwarded = False
        self.notified_before_the_call = False
        self.rapid_review = RapidReview(self.case, notified=lambda: self.notification)
        self.open_intake()
        self.case.routes = changed(PROTOCOL_ROUTES)

    def parts(self) -> list[Any]:
        return [self.rapid_review, self.rapid_review.contributions, self.rapid_review.governance]

    @workflow.run
    async def run(self, *submitted: Any) -> CaseStatus:
        """Starts from one Serious Incident Notification Request Form (`SeriousIncidentForm`)."""
        return await self.run_case()

    async def withdrawn_case(self) -> None:
        await self.rapid_review.governance.withdraw_local_review()
        if not self.case.routes:
            await self.case.announce_withdrawal()
            return
        # From 0.3 everyone the case has involved hears of it: the notifier, the Panel, the agencies asked.
        also = [Role.SERIOUS_INCIDENT_NOTIFIER] if self.form_forwarded or self.notification else []
        also += [Role.NATIONAL_PANEL] if self.notification else []
        convened = self.rapid_review.convened
        also += [Role.RAPID_REVIEW_PANEL] if convened else []
        also += [Role.EXECUTIVE] if self.rapid_review.meeting else []
        await self.case.announce_withdrawal(also, [a.email for a in convened.agencies] if convened else [])

    # ---- the journey ------------------------------------------------------------------------------

    async def journey(self) -> None:
        # Handlers move the stage as decisions arrive (several may arrive at once); the journey
        # follows the decisions recorded, so no step is skipped however fast they come.
        await self.receive_form()
        await self.case.until(lambda: self.dsp_decision is not None)
        if self.case.routes:
            await self.follow_routes()
            return
        if not self.decided_to_notify():
            await self.not_notified()
        if self.decided_to_notify():
            await self.notify_panel()
            await self.rapid_review.run()

    async def receive_form(self) -> None:
        """¶2.5-2.6: the Business Unit is told; the DSP clock starts; the Independent Scrutineer is invited."""
        case = self.case
        await case.look_up_partnership()
        if case.routes and changed(FORM_STEPS_TOGETHER):
            await self.receive_form_together()
            return
        dsp = await case.clocks.start(Clock.DSP_MEETING, self.form.received_on, Watch(remind=[Role.BUSINESS_UNIT]))
        if case.routes:  # ¶2.4: the notification clock runs from the day the LA became aware
            aware = self.form.became_aware_on
            notification = await case.clocks.start(Clock.PANEL_NOTIFICATION, aware, self.panel_notification_watch())
        facts = self.form_facts(dsp)
        await case.send(messages.NewSeriousIncidentForm(**facts))
        await case.send(messages.DspMeetingInvitation(**facts))
        if case.routes:  # ¶2.6: the DSPs themselves are called
            await case.send(messages.DspMeetingCall(**facts, notification_due_on=notification.due_on))

    async def receive_form_together(self) -> None:
        """`receive_form` from release 0.4: the two clocks computed at once, then the three messages sent at
        once (each still once, under its own key; from 0.5 by one activity): fewer tasks, the same steps."""
        case = self.case
        dsp, notification = await case.clocks.start_together(
            (Clock.DSP_MEETING, self.form.received_on, Watch(remind=[Role.BUSINESS_UNIT])),
            (Clock.PANEL_NOTIFICATION, self.form.became_aware_on, self.panel_notification_watch()),
        )
        facts = self.form_facts(dsp)
        told = (
            messages.NewSeriousIncidentForm(**facts),
            messages.DspMeetingInvitation(**facts),
            messages.DspMeetingCall(**facts, notification_due_on=notification.due_on),
        )
        if changed(MESSAGES_TOGETHER):
            await case.send_together(*told)
        else:
            await asyncio.gather(*(case.send(message) for message in told))

    def form_facts(self, dsp: Deadline) -> dict[str, Any]:
        return {"received_on": self.form.received_on, "dsp_due_on": dsp.due_on, "dsp_rule": dsp.rule}

    async def not_notified(self) -> None:
        """¶2.7: reply to the referrer; the case stays open for a challenge, then closes."""
        case = self.case
        window = await self.send_rationale()
        try:
            await case.until(
                lambda: self.challenge is not None,
                timeout=max(window.due_at - workflow.now(), timedelta(seconds=1)),
                timeout_summary=Public(f"¶2.7 Time to challenge ends {window.due_on}"),
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
        """The DSPs decided to notify, and a challenge did not change it, or changed a decision not to
        notify (¶2.6-2.7); or the LA has notified already (¶4.2: the Rapid Review follows)."""
        if self.notification is not None:
            return True
        notify = self.dsp_decision is not None and self.dsp_decision.decision == "notify"
        if self.challenge_outcome is not None:
            return notify != (self.challenge_outcome.outcome == "decision_changed")
        return notify

    def decided_to_notify_on(self) -> date:
        if self.challenge_outcome and self.challenge_outcome.outcome == "decision_changed":
            return self.challenge_outcome.resolved_on
        assert self.dsp_decision is not None
        return self.dsp_decision.meeting_held_on

    # ---- its decisions ----------------------------------------------------------------------------

    def since_decision_to_notify(self) -> Step | None:
        if self.case.routes:  # the LA may notify before the DSP call (it happens), not before it knew
            return "the LA becoming aware", self.form.became_aware_on
        return ("the decision to notify", self.decided_to_notify_on()) if self.dsp_decision else None

    def check_dsp_decision(self, decision: DspDecision) -> None:
        """¶2.4: all three statutory partners agree which incidents are notified."""
        missing = STATUTORY_PARTNERS - decision.partners_present()
        if self.case.routes and missing:
            raise DecisionRefused(
                f"dsp_decision: ¶2.4 needs all three statutory partners; not named: {', '.join(sorted(missing))} "
                "(list them in partners, or name each in attendees)"
            )

    def dsp_decided(self, decision: DspDecision) -> None:
        """¶2.6-2.7: notify goes on to the notifier; do not notify waits for a challenge; a notification
        already made goes on to the Rapid Review (¶4.2)."""
        if self.notification is not None:
            self.case.stage = Stage.RAPID_REVIEW
            return
        self.case.stage = Stage.PANEL_NOTIFICATION if decision.decision == "notify" else Stage.CHALLENGE_WINDOW

    def check_challenge(self, decision: ChallengeRaised) -> None:
        """¶2.7: the referrer challenges a decision not to notify; a safeguarding partner, either."""
        notify = self.dsp_decision is not None and self.dsp_decision.decision == "notify"
        if notify and decision.party != "safeguarding_partner":
            raise DecisionRefused(
                "challenge_raised: a referrer challenges a decision not to notify; a decision to notify is "
                'challenged by a safeguarding partner (party: "safeguarding_partner")'
            )

    def challenge_resolved(self, decision: ChallengeResolved) -> None:
        """¶2.7: the case follows the outcome: notification, or closing (the decision not to notify stands)."""
        if self.decided_to_notify():
            self.case.stage = Stage.PANEL_NOTIFICATION
        elif decision.outcome == "decision_changed":
            self.case.close(f"Not notified: the decision to notify was changed on {decision.resolved_on}")
        else:
            self.case.close(f"Not notified: the decision was upheld on {decision.resolved_on}")

    def notified(self, decision: NotificationSubmitted) -> None:
        """¶4.2: once notified the Rapid Review begins; before the DSP call, the case waits for it."""
        if self.case.stage is Stage.PANEL_NOTIFICATION:
            self.case.stage = Stage.RAPID_REVIEW
        else:
            self.notified_before_the_call = True

    def closed_by_business_unit(self, decision: CaseClosed) -> None:
        self.case.close(f"Closed by the Business Unit on {decision.closed_on}: {decision.reason}")

    def may_close(self) -> bool:
        """Nothing can move the case any more but the silence of others: a decision not to notify with
        no challenge, or a National Panel silent beyond its clock (governance.py)."""
        if not self.case.routes:
            return False
        return self.case.stage is Stage.CHALLENGE_WINDOW or self.rapid_review.governance.may_close()

    DECISIONS: ClassVar[Table] = (
        Takes(DspDecision, at(Stage.DSP_MEETING),
              keep="dsp_decision", stops=Clock.DSP_MEETING, then=dsp_decided, check=check_dsp_decision,
              by=RECORDED_BY_DSPS, tells=(messages.RationaleToReferrer, messages.FormToNotifier)),
        Takes(ChallengeRaised, at(Stage.CHALLENGE_WINDOW, Stage.PANEL_NOTIFICATION),
              keep="challenge", moves_to=Stage.DISPUTE_RESOLUTION, after="dsp_decision", check=check_challenge,
              now=lambda wf: wf.case.routes or wf.case.stage is Stage.CHALLENGE_WINDOW, tells=(messages.DisputeRoute,)),
        Takes(ChallengeResolved, at(Stage.DISPUTE_RESOLUTION),
              keep="challenge_outcome", stops=Clock.DISPUTE_RESOLUTION, then=challenge_resolved, after="challenge",
              tells=(messages.ChallengeOutcome,)),
        Takes(NotificationSubmitted, at(Stage.PANEL_NOTIFICATION, Stage.DSP_MEETING),
              keep="notification", stops=Clock.PANEL_NOTIFICATION, then=notified,
              after=since_decision_to_notify, by=RECORDED_BY_NOTIFIERS,
              now=lambda wf: wf.case.routes or wf.case.stage is Stage.PANEL_NOTIFICATION,
              starts=Clock.RAPID_REVIEW_SUBMISSION, tells=(messages.RapidReviewDetails, messages.ReportToNationalPanel)),
        Takes(CaseClosed, at(Stage.CHALLENGE_WINDOW, Stage.AWAITING_PANEL_RESPONSE),
              keep="closure", then=closed_by_business_unit, after=lambda wf: answered(wf, "dsp_decision"),
              now=may_close),
        Takes(LearningRequestOpened, at(Stage.CHALLENGE_WINDOW),
              keep="learning_request", after="dsp_decision", now=lambda wf: wf.case.routes),
    )

    def details(self) -> dict[str, Any]:
        notification = self.notification
        return {
            "dsp_decision": self.dsp_decision.decision if self.dsp_decision else None,
            "challenge_window_ends_on": self.challenge_window_ends_on,
            "challenge_outcome": self.challenge_outcome.outcome if self.challenge_outcome else None,
            "csons_reference": notification.csons_reference if notification else None,
            "notified_on": notification.submitted_on if notification else None,
            "learning_request_id": self.learning_request_started,
        } | self.rapid_review.details()
