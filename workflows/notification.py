"""The routes of a serious incident from the DSPs' decision to the notification, as the protocol has
them (¶2.3-2.7, ¶4.1; issue 14), for cases from release 0.3 (`Case.routes`):

  ¶2.4  the 5-working-day clock [panel_notification] runs from the day the LA became aware, through the
        DSP meeting and any dispute; a decision not to notify sets it aside, a dispute puts it back
  ¶2.6  notify: the form goes to the Serious Incident Notifier (unless the LA notified already)
  ¶2.7  do not notify: the rationale to the referrer; the case stays open to a challenge, however
        late it is recorded, until the Business Unit closes it (case_closed) or a challenge is raised
  ¶2.7  a challenge, by the referrer (of a decision not to notify) or by a safeguarding partner (of
        either decision), follows the dispute procedure with a clock of its own [dispute_resolution];
        the Independent Scrutineer is told
  ¶3.1  a Learning Request made on a case not notified is opened, linked to it (learning_request_opened)
"""

from __future__ import annotations

import asyncio
from datetime import date, timedelta
from typing import TYPE_CHECKING

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from models.text import Public
    from models.case import Clock, Deadline, Role, Stage
    from models.decisions import CaseClosed, ChallengeRaised, ChallengeResolved, DspDecision, LearningRequestOpened
    from models.decisions import NotificationSubmitted
    from models.forms import LearningRequestForm, SeriousIncidentForm
    from models import messages

from workflows.clocks import Watch
from workflows.learning_request import LearningRequestWorkflow

if TYPE_CHECKING:
    from workflows.case import Case
    from workflows.rapid_review import RapidReview

NOT_NOTIFIED = "the DSPs decided not to notify"


def learning_request_id(case_id: str) -> str:
    return f"{case_id}-lr"


class NotificationRoutes:
    """The serious-incident workflow's routes to notification (a mixin of `SeriousIncidentWorkflow`)."""

    case: Case
    form: SeriousIncidentForm
    dsp_decision: DspDecision | None
    challenge: ChallengeRaised | None
    challenge_outcome: ChallengeResolved | None
    challenge_window_ends_on: date | None
    notification: NotificationSubmitted | None
    closure: CaseClosed | None
    learning_request: LearningRequestOpened | None
    learning_request_started: str | None
    form_forwarded: bool
    notified_before_the_call: bool
    rapid_review: RapidReview

    def decided_to_notify(self) -> bool:
        raise NotImplementedError

    def decided_to_notify_on(self) -> date:
        raise NotImplementedError

    def panel_notification_watch(self) -> Watch:
        """¶2.4: the notifier and the Business Unit reminded; a miss escalated to the local authority
        that holds the duty, and to the partnership."""
        return Watch(
            remind=[Role.SERIOUS_INCIDENT_NOTIFIER, Role.BUSINESS_UNIT],
            escalate=[Role.LOCAL_AUTHORITY, Role.ESCALATION, Role.BUSINESS_UNIT],
        )

    async def follow_routes(self) -> None:
        """From the DSPs' decision to the Rapid Review, or to the case's closing."""
        case = self.case
        if self.decided_to_notify():
            await self.forward_form()
        else:
            case.clocks.set_aside(Clock.PANEL_NOTIFICATION, NOT_NOTIFIED)
            await self.reply_not_notified()
        await case.until(lambda: self.notification is not None or self.challenge is not None or self.closed())
        if self.challenge is not None and self.notification is None:
            await self.dispute()
            if self.closed():
                return
            await self.forward_form()
            await case.until(lambda: self.notification is not None)
        if self.notification is not None:
            await self.rapid_review.run()

    def closed(self) -> bool:
        return self.case.stage is Stage.CLOSED

    async def forward_form(self) -> None:
        """¶2.6: the form to the notifier, once, unless the LA has notified the Panel already (it happens)."""
        if self.form_forwarded or self.notified_before_the_call:
            return
        self.form_forwarded = True
        deadline = self.case.deadlines[Clock.PANEL_NOTIFICATION.value]
        await self.case.send(
            messages.FormToNotifier(
                meeting_held_on=self.decided_to_notify_on(),
                notification_due_on=deadline.due_on,
                notification_rule=deadline.rule,
                attachment=self.form.model_dump(mode="json"),
            )
        )

    async def reply_not_notified(self) -> None:
        """¶2.7: the rationale to the referrer. The protocol sets no time to challenge: when the
        partnership's usual time has passed the Business Unit is told, and the case waits on."""
        case = self.case
        window = await self.send_rationale()
        try:
            await self.while_not_notified(max(window.due_at - workflow.now(), timedelta(seconds=1)), window.due_on)
        except asyncio.TimeoutError:
            await case.send(messages.ChallengeWindowEnded(ends_on=window.due_on))
            await self.while_not_notified(None, window.due_on)

    async def send_rationale(self) -> Deadline:
        """¶2.7: the DSPs' rationale to the referrer, with the partnership's usual time to challenge."""
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
        return window

    async def while_not_notified(self, timeout: timedelta | None, ends_on: date) -> None:
        """Wait for a challenge or the closing, opening any Learning Request recorded meanwhile (¶3.1)."""
        moved_on = lambda: self.challenge is not None or self.closed()  # noqa: E731
        while True:
            await self.case.until(
                lambda: moved_on() or self.learning_request_waiting(),
                timeout=timeout,
                timeout_summary=Public(f"¶2.7 Usual time to challenge ends {ends_on}"),
            )
            if not self.learning_request_waiting():
                return
            await self.open_learning_request()

    def learning_request_waiting(self) -> bool:
        return self.learning_request is not None and self.learning_request_started is None

    async def open_learning_request(self) -> None:
        """¶3.1, ¶3.3: the Learning Request runs as a case of its own, linked to this one, and outlives it."""
        case, request = self.case, self.learning_request
        assert request is not None
        form = LearningRequestForm(
            local_authority=self.form.local_authority,
            received_on=request.received_on,
            referrer=self.form.referrer,
            child=self.form.child,
            reason=request.reason,
            summary=request.summary,
            agencies_involved=self.form.agencies_involved,
            related_case=case.case_id,
        )
        child_id = learning_request_id(case.case_id)
        self.learning_request_started = child_id
        await workflow.start_child_workflow(
            LearningRequestWorkflow.run,
            form,
            id=child_id,
            parent_close_policy=workflow.ParentClosePolicy.ABANDON,
            static_summary=Public(f"Learning Request opened from case {case.case_id}"),
        )
        case.log("learning_request_opened", child_id)
        case.publish()

    async def dispute(self) -> None:
        """¶2.7: the dispute procedure, with its clock; the ¶2.4 clock runs meanwhile."""
        case, challenge = self.case, self.challenge
        assert challenge is not None and self.dsp_decision is not None
        case.clocks.reopen(Clock.PANEL_NOTIFICATION, "a challenge may yet lead to a notification")
        watch = Watch(
            remind=[Role.BUSINESS_UNIT], escalate=[Role.ESCALATION, Role.INDEPENDENT_SCRUTINEER, Role.BUSINESS_UNIT]
        )
        await case.clocks.start(Clock.DISPUTE_RESOLUTION, challenge.raised_on, watch)
        challenged = self.challenged()
        await case.send(
            messages.DisputeRoute(
                raised_on=challenge.raised_on,
                raised_by=challenge.raised_by,
                grounds=challenge.grounds,
                decision_challenged=challenged,
                also=[Role.INDEPENDENT_SCRUTINEER],
            )
        )
        await case.until(lambda: self.challenge_outcome is not None)
        outcome = self.challenge_outcome
        assert outcome is not None
        notify = self.decided_to_notify()
        if not notify:
            case.clocks.set_aside(Clock.PANEL_NOTIFICATION, f"{challenged}: no notification after the dispute")
        await case.send(
            messages.ChallengeOutcome(
                resolved_on=outcome.resolved_on,
                outcome=f"{challenged} is {'upheld' if outcome.outcome == 'decision_upheld' else 'changed'}: "
                + ("the incident will be notified to the National Panel" if notify else "no notification is made"),
                notes=outcome.notes or "",
                decision_challenged=challenged,
                also=[Role.INDEPENDENT_SCRUTINEER],
            )
        )

    def challenged(self) -> str:
        assert self.dsp_decision is not None
        return "the decision to notify" if self.dsp_decision.decision == "notify" else "the decision not to notify"
