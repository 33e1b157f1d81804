"""A Learning Request (¶3.1-3.3): standalone, or after a decision not to notify.

  ¶3.1  the form reaches the Business Unit, which is told                      -> receive_form
  ¶3.2  the partnership decides: a learning review is convened, or the referrer
        gets the rationale                                                     -> tell_referrer
  ¶3.2  the learning review's findings and recommendations are recorded        -> share_learning
  ¶5.4  its recommendations are monitored to completion                        -> recommendations.py
A case can be withdrawn at any stage.
"""

from __future__ import annotations

from typing import Any, ClassVar

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from models.case import CaseKind, CaseStatus, Stage
    from models.decisions import LearningRequestDecision, LearningReviewCompleted
    from models.forms import LearningRequestForm
    from models import messages

from workflows.case_workflow import CaseWorkflow
from workflows.intake import Table, Takes, answered, at
from workflows.recommendations import Recommendations


@workflow.defn
class LearningRequestWorkflow(CaseWorkflow):
    """A learning request from the form to its review's last recommendation (¶3, ¶5.4)."""

    PARTS = (Recommendations,)
    form: LearningRequestForm

    @workflow.init
    def __init__(self, *submitted: Any) -> None:
        if not self.open_case(CaseKind.LEARNING_REQUEST, LearningRequestForm, submitted, Stage.PARTNERSHIP_DECISION):
            return
        self.decision: LearningRequestDecision | None = None
        self.review: LearningReviewCompleted | None = None
        self.recommendations = Recommendations(self.case, answers=lambda: answered(self, "review"))
        self.open_intake()

    def parts(self) -> list[Any]:
        return [self.recommendations]

    @workflow.run
    async def run(self, *submitted: Any) -> CaseStatus:
        """Starts from one Learning Request Form (`LearningRequestForm`)."""
        return await self.run_case()

    # ---- the journey ------------------------------------------------------------------------------

    async def journey(self) -> None:
        case = self.case
        await self.receive_form()
        await case.until(lambda: self.decision is not None)
        await self.tell_referrer()
        if self.decision and self.decision.decision == "learning_review":
            await case.until(lambda: self.review is not None)
            await self.share_learning()
            assert self.review is not None
            await self.recommendations.monitor(self.review.recommendations, self.review.completed_on)
            await case.until(self.recommendations.finished)
            if case.stage is Stage.MONITORING:
                case.close(
                    f"Learning review completed on {self.review.completed_on}; every recommendation completed or closed"
                )

    async def receive_form(self) -> None:
        """¶3.1: the Business Unit of the partnership is told of the request."""
        await self.case.look_up_partnership()
        await self.case.send(
            messages.NewLearningRequest(received_on=self.form.received_on, reason=self.form.reason.replace("_", " "))
        )

    async def tell_referrer(self) -> None:
        """¶3.2: the referrer hears that a review is convened, or why it is not."""
        decision = self.decision
        assert decision is not None
        convened = decision.decision == "learning_review"
        told = messages.LearningReviewConvened if convened else messages.LearningRequestRationale
        await self.case.send(told(decided_on=decision.decided_on, rationale=decision.rationale))

    async def share_learning(self) -> None:
        """¶3.2: the review's findings and recommendations go to the referrer and the Business Unit."""
        review = self.review
        assert review is not None
        listed = "\n".join(f"- {r.id}: {r.text} (owner: {r.owner}; due {r.due_on})" for r in review.recommendations)
        await self.case.send(
            messages.LearningReviewFindings(
                completed_on=review.completed_on, findings=review.findings, recommendations=listed or "- none"
            )
        )

    # ---- its decisions ----------------------------------------------------------------------------

    def decided(self, decision: LearningRequestDecision) -> None:
        """¶3.2: a learning review is convened, or the request closes with the rationale."""
        if decision.decision == "no_review":
            self.case.close(f"No learning review: decided on {decision.decided_on}")

    def review_completed(self, decision: LearningReviewCompleted) -> None:
        """¶3.2: the findings; any recommendations are monitored (¶5.4)."""
        self.recommendations.made(decision.recommendations)
        if not decision.recommendations:
            self.case.close(f"Learning review completed on {decision.completed_on}, with no recommendations")

    DECISIONS: ClassVar[Table] = (
        Takes(LearningRequestDecision, at(Stage.PARTNERSHIP_DECISION),
              keep="decision", moves_to=Stage.LEARNING_REVIEW, then=decided,
              tells=(messages.LearningReviewConvened, messages.LearningRequestRationale)),
        Takes(LearningReviewCompleted, at(Stage.LEARNING_REVIEW),
              keep="review", then=review_completed, moves_to=Stage.MONITORING, after="decision",
              tells=(messages.LearningReviewFindings,)),
    )

    def details(self) -> dict[str, Any]:
        return {
            "decision": self.decision.decision if self.decision else None,
            "related_case": self.form.related_case,
            "recommendations": self.recommendations.listed(),
        }
