"""The National Panel's part of governance (¶4.9), for cases from release 0.3 (`Case.routes`):

  - the Rapid Review is judged by the day the report reaches the Panel [rapid_review_submission]: the
    day the case sends it, or the day the chair's sign-off says it went outside the system; the
    Panel's 15 working days [panel_response] run from that day
  - the case waits on the Panel's response and on its local review side by side, at stage
    `local_review` while the review runs
  - a Panel that does not agree is put to the Executive, who may reconsider (executive_reconsidered);
    the reconsidered outcome goes to the Panel, and a local review newly decided is commissioned
  - a Panel silent beyond its clock is escalated (the clock's escalation) and the Business Unit may
    close the case with its reason (case_closed) once nothing else is running
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import TYPE_CHECKING

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from models.case import CaseStatus, Clock, DeadlineStatus, Role, Stage, deadline_key
    from models.decisions import ChairSignOff, DecisionRefused, ExecutiveDecision, ExecutiveReconsidered
    from models.decisions import NotificationSubmitted, PanelResponse
    from models import messages

from workflows.clocks import Watch

if TYPE_CHECKING:
    from workflows.case import Case
    from workflows.local_review import LocalReviewWorkflow

COMMISSIONED = {True: "a local Child Safeguarding Practice Review is commissioned", False: "no local review"}


class PanelOutcome:
    """What governance does with the National Panel from 0.3 (a mixin of `Governance`)."""

    case: Case
    executive: ExecutiveDecision | None
    sign_off: ChairSignOff | None
    report_sent_to_panel_on: date | None
    panel_reply: PanelResponse | None
    reconsidered: ExecutiveReconsidered | None
    local_review: workflow.ChildWorkflowHandle[LocalReviewWorkflow, CaseStatus] | None
    notification: Callable[[], NotificationSubmitted | None]

    async def commission(self, decided_on: date | None = None) -> None:
        raise NotImplementedError

    async def panel_replied(self) -> None:
        raise NotImplementedError

    async def send_report_to_panel(self) -> None:
        raise NotImplementedError

    async def dispatch_to_panel(self) -> None:
        """¶4.9: the report with the final decision to the Panel, unless it went already; the day it
        reaches the Panel judges the Rapid Review and starts the Panel's clock."""
        case, sign_off = self.case, self.sign_off
        assert sign_off is not None
        reached_on = sign_off.submitted_to_panel_on
        if reached_on is None:
            await self.send_report_to_panel()
            sent = case.messages[-1] if case.messages else None
            reached_on = case.today() if sent and sent.template == "report_to_national_panel" and sent.status == "sent" else None
        self.report_sent_to_panel_on = reached_on
        if reached_on is not None:
            case.clocks.stop(Clock.RAPID_REVIEW_SUBMISSION, reached_on)
        case.publish()
        # A report the mail server refused is shown on the case (needs attention); the Panel's clock runs
        # from today all the same, so that the case cannot wait on it for ever.
        await case.clocks.start(
            Clock.PANEL_RESPONSE, reached_on or case.today(), Watch(remind=[], escalate=[Role.BUSINESS_UNIT, Role.ESCALATION])
        )

    async def sign_off_corrected(self, sign_off: ChairSignOff) -> None:
        """A sign-off corrected to say when the report reached the Panel (`submitted_to_panel_on`, since
        0.3): the Rapid Review judged again by that day and the Panel's clock moved to run from it."""
        reached_on = sign_off.submitted_to_panel_on
        if not self.case.routes or reached_on is None or reached_on == self.report_sent_to_panel_on:
            return
        self.report_sent_to_panel_on = reached_on
        self.case.clocks.rejudge(Clock.RAPID_REVIEW_SUBMISSION, reached_on)
        await self.case.clocks.move(Clock.PANEL_RESPONSE, reached_on)

    async def follow_panel(self) -> None:
        """Wait on the Panel and the local review side by side; close the case when both are settled."""
        case, done = self.case, set[str]()
        while case.stage is not Stage.CLOSED:
            case.stage = self.wanted_stage()
            case.publish()
            await case.until(
                lambda: case.stage is Stage.CLOSED
                or self.next_step(done) is not None
                or case.stage is not self.wanted_stage()
                or self.settled()
            )
            step = self.next_step(done) if case.stage is not Stage.CLOSED else None
            if step == "reply":
                done.add(step)
                await self.panel_replied()
            elif step == "reconsidered":
                done.add(step)
                await self.reconsider()
            elif self.settled() and case.stage is not Stage.CLOSED:
                case.close(self.outcome())

    def wanted_stage(self) -> Stage:
        """Listed at `local_review` while the review runs; awaiting the Panel otherwise."""
        if self.case.stage is Stage.CLOSED:
            return Stage.CLOSED
        running = self.local_review is not None and not self.local_review.done()
        return Stage.LOCAL_REVIEW if running else Stage.AWAITING_PANEL_RESPONSE

    def next_step(self, done: set[str]) -> str | None:
        if self.panel_reply is not None and "reply" not in done:
            return "reply"
        if self.reconsidered is not None and "reconsidered" not in done:
            return "reconsidered"
        return None

    def settled(self) -> bool:
        """The Panel agrees (or the Executive has reconsidered), and no local review is running."""
        reply = self.panel_reply
        panel = reply is not None and (reply.agrees or self.reconsidered is not None)
        return panel and (self.local_review is None or self.local_review.done())

    def outcome(self) -> str:
        assert self.executive is not None and self.panel_reply is not None
        reply = self.panel_reply
        said = f"the National Panel {'agrees' if reply.agrees else 'does not agree'} ({reply.received_on})"
        if self.reconsidered is not None:
            said += f"; the Executive reconsidered ({self.reconsidered.decided_on})"
        if self.local_review is not None:
            return f"Local review: {self.local_review.result().closed_reason}; {said}"
        return f"No local review commissioned (Executive, {self.executive.decided_on}); {said}"

    async def reconsider(self) -> None:
        """¶4.9: the Executive's reconsidered outcome goes to the Panel; a review newly decided starts."""
        decision, notification = self.reconsidered, self.notification()
        assert decision is not None and notification is not None
        if decision.commission_lcspr and self.local_review is None:
            await self.commission(decided_on=decision.decided_on)
        await self.case.send(
            messages.ReconsiderationToPanel(
                decided_on=decision.decided_on,
                csons_reference=notification.csons_reference,
                outcome=COMMISSIONED[decision.commission_lcspr],
                rationale=decision.rationale,
            )
        )

    # ---- its decisions ----------------------------------------------------------------------------------

    def awaits_reconsideration(self) -> bool:
        reply = self.panel_reply
        return self.case.routes and reply is not None and not reply.agrees and self.reconsidered is None

    def check_reconsidered(self, decision: ExecutiveReconsidered) -> None:
        if not decision.commission_lcspr and self.local_review is not None:
            raise DecisionRefused(
                "executive_reconsidered: the commissioned local review is running and a reconsideration does "
                "not stop it (commission_lcspr: true); the review is ended only by withdrawing the case"
            )

    def may_close(self) -> bool:
        """The Panel is silent beyond its clock, and nothing else is running or awaited."""
        clock = self.case.deadlines.get(deadline_key(Clock.PANEL_RESPONSE))
        silent = clock is not None and clock.status is DeadlineStatus.MISSED and self.panel_reply is None
        running = self.local_review is not None and not self.local_review.done()
        return self.case.stage is Stage.AWAITING_PANEL_RESPONSE and silent and not running
