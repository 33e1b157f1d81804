"""Governance and the National Panel (¶4.6-4.9): the Rapid Review's outcome decided and submitted.

  ¶4.6  executive_decision: a local review commissioned or not; commissioned starts the local review,
        a child workflow (local_review.py)                                            -> commission
  ¶4.9  chair_sign_off: the final decision added, the report dispatched to the National Panel; its
        date closes [rapid_review_submission] and starts [panel_response]          -> submit_to_panel
  ¶4.9  panel_response: a disagreement goes to the Executive                         -> panel_replied
From release 0.3 (`Case.routes`, panel.py): the report is judged by the day it reaches the Panel, the
case waits on the Panel and its local review side by side, the Executive can reconsider after a
disagreement, and a Panel silent beyond its clock lets the Business Unit close the case.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import date
from typing import TYPE_CHECKING, Any

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from models.text import Public
    from models.identity import PersonRole
    from models.case import CaseStatus, Clock, LocalReviewCommission, Role, Stage
    from models.decisions import ChairSignOff, Decision, ExecutiveDecision, ExecutiveReconsidered, NotificationSubmitted
    from models.decisions import PanelResponse
    from models import messages

from workflows.clocks import Watch
from workflows.intake import RECORDED_BY_THE_EXECUTIVE, SIGNED_OFF_BY_THE_CHAIR, Step, Table, Takes, at
from workflows.local_review import LocalReviewWorkflow, local_review_id
from workflows.panel import PanelOutcome
from workflows.versions import EXECUTIVE_CORRECTION_MOVES_REVIEW, changed

if TYPE_CHECKING:
    from workflows.case import Case

GOVERNANCE = at(Stage.GOVERNANCE)  # the Executive decides (¶4.6), then the chair signs off (¶4.9)



class Governance(PanelOutcome):
    def __init__(
        self,
        case: Case,
        answers: Callable[[], Step | None],
        notification: Callable[[], NotificationSubmitted | None],
        render_report: Callable[[], Awaitable[str | None]],
    ) -> None:
        self.case = case
        self.answers = answers  # the step the Executive's decision cannot precede: the meeting
        self.notification = notification
        self.render_report = render_report
        self.executive: ExecutiveDecision | None = None
        self.sign_off: ChairSignOff | None = None
        self.report_sent_to_panel_on: date | None = None
        self.panel_reply: PanelResponse | None = None
        self.reconsidered: ExecutiveReconsidered | None = None
        self.local_review: workflow.ChildWorkflowHandle[LocalReviewWorkflow, CaseStatus] | None = None

    async def run(self) -> None:
        case = self.case
        await case.until(lambda: self.executive is not None)
        assert self.executive is not None
        if self.executive.commission_lcspr:
            await self.commission()
        await case.until(lambda: self.sign_off is not None)
        if case.routes:
            await self.dispatch_to_panel()
            await self.follow_panel()
            return
        await self.submit_to_panel()
        await case.until(lambda: self.panel_reply is not None)
        await self.panel_replied()
        if self.local_review is not None:
            local_review = self.local_review
            await case.until(local_review.done)
            outcome = local_review.result()
            case.close(f"Local review: {outcome.closed_reason}")

    async def commission(self, decided_on: date | None = None) -> None:
        """¶4.6, ¶5.1: the local review runs as a child workflow, its own timeline in the Web UI."""
        case = self.case
        assert self.executive is not None and case.partnership is not None
        self.local_review = await workflow.start_child_workflow(
            LocalReviewWorkflow.run,
            LocalReviewCommission(
                case_id=case.case_id,
                local_authority=case.local_authority,
                partnership=case.partnership,
                decided_on=decided_on or self.executive.decided_on,
                signed_decisions=case.signed_decisions,
            ),
            id=local_review_id(case.case_id),
            static_summary=Public(f"Local Child Safeguarding Practice Review of case {case.case_id}"),
        )

    async def executive_corrected(self, decision: ExecutiveDecision) -> None:
        """The Executive's decision corrected to another date: a running local review counts its 6 months
        from it (cases from 0.3)."""
        review = self.local_review
        if review is None or review.done() or self.reconsidered is not None:
            return
        if changed(EXECUTIVE_CORRECTION_MOVES_REVIEW):
            await review.signal(LocalReviewWorkflow.commission_dated, decision.decided_on)

    async def withdraw_local_review(self) -> None:
        """A withdrawn case withdraws its local review too, which cancels the review's clocks."""
        withdrawal = self.case.withdrawal
        if self.local_review is None or self.local_review.done() or withdrawal is None:
            return
        received = self.case.withdrawal_received
        if self.case.signed_decisions and received is not None:  # the same signed decision, as recorded
            await self.local_review.signal(LocalReviewWorkflow.submit_decision, received)
            await self.local_review
            return
        assert self.executive is not None
        # The review began with the Executive's decision: its withdrawal cannot be dated before it.
        withdrawn_on = max(withdrawal.withdrawn_on, self.executive.decided_on)
        body = withdrawal.model_copy(update={"withdrawn_on": withdrawn_on}).model_dump(mode="json")
        await self.local_review.signal(LocalReviewWorkflow.submit_decision, Decision(name="case_withdrawn", body=body))
        await self.local_review

    async def submit_to_panel(self) -> None:
        """¶4.9: the report with the chair's final decision goes to the National Panel."""
        assert self.sign_off is not None
        await self.send_report_to_panel()
        self.report_sent_to_panel_on = self.case.today()
        await self.case.clocks.start(
            Clock.PANEL_RESPONSE, self.sign_off.signed_on, Watch(remind=[], escalate=[Role.BUSINESS_UNIT])
        )

    async def send_report_to_panel(self) -> None:
        """¶4.9: the report, rendered again with the chair's final decision, to the National Panel."""
        notification = self.notification()
        assert self.sign_off is not None and notification is not None
        final = await self.render_report()
        await self.case.send(
            messages.ReportToNationalPanel(
                notified_on=notification.submitted_on,
                csons_reference=notification.csons_reference,
                final_decision=self.sign_off.final_decision,
                document=final,
            )
        )

    async def panel_replied(self) -> None:
        """¶4.9: a Panel that does not agree is put to the Executive members."""
        notification = self.notification()
        assert self.panel_reply is not None and notification is not None
        if not self.panel_reply.agrees:
            await self.case.send(
                messages.PanelDisagrees(
                    received_on=self.panel_reply.received_on,
                    csons_reference=notification.csons_reference,
                    comments=self.panel_reply.comments or "(none recorded)",
                )
            )

    # ---- its decisions ----------------------------------------------------------------------------------

    def panel_responded(self, decision: PanelResponse) -> None:
        """¶4.9: the Panel's response; without a local review the case closes (from 0.3: panel.py)."""
        assert self.executive is not None
        if self.case.routes:
            return
        if self.executive.commission_lcspr:
            self.case.stage = Stage.LOCAL_REVIEW
        else:
            agreed = "agrees" if decision.agrees else "does not agree"
            self.case.close(
                f"No local review commissioned (Executive, {self.executive.decided_on}); "
                f"the National Panel {agreed} ({decision.received_on})"
            )

    DECISIONS: Table = (
        Takes(ExecutiveDecision, GOVERNANCE,
              keep="executive", after=lambda g: g.answers(), now=lambda g: g.executive is None,
              by=RECORDED_BY_THE_EXECUTIVE, corrected=executive_corrected),
        Takes(ChairSignOff, GOVERNANCE,
              keep="sign_off", stops=Clock.RAPID_REVIEW_SUBMISSION, stops_when=lambda g: not g.case.routes,
              moves_to=Stage.AWAITING_PANEL_RESPONSE,
              after="executive", now=lambda g: g.executive is not None,
              by=SIGNED_OFF_BY_THE_CHAIR, by_with_document=frozenset({PersonRole.BUSINESS_UNIT}), document="written_sign_off",
              starts=Clock.PANEL_RESPONSE, corrected=PanelOutcome.sign_off_corrected, tells=(messages.ReportToNationalPanel,)),
        Takes(PanelResponse, at(Stage.AWAITING_PANEL_RESPONSE, Stage.LOCAL_REVIEW),
              keep="panel_reply", stops=Clock.PANEL_RESPONSE, then=panel_responded, after="sign_off",
              now=lambda g: g.panel_reply is None and (g.case.routes or g.case.stage is Stage.AWAITING_PANEL_RESPONSE),
              tells=(messages.PanelDisagrees,)),
        Takes(ExecutiveReconsidered, at(Stage.AWAITING_PANEL_RESPONSE, Stage.LOCAL_REVIEW),
              keep="reconsidered", after="panel_reply", check=PanelOutcome.check_reconsidered,
              now=PanelOutcome.awaits_reconsideration, by=RECORDED_BY_THE_EXECUTIVE),
    )

    def details(self) -> dict[str, Any]:
        return {
            "commission_lcspr": self.executive.commission_lcspr if self.executive else None,
            "report_sent_to_panel_on": self.report_sent_to_panel_on,
            "panel_agrees": self.panel_reply.agrees if self.panel_reply else None,
            "panel_national_review": self.panel_reply.national_review if self.panel_reply else None,
            "panel_silent_beyond_its_clock": self.may_close() or None,
            "executive_reconsidered": self.reconsidered.commission_lcspr if self.reconsidered else None,
            "local_review_id": self.local_review.id if self.local_review else None,
        }
