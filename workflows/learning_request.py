"""A Learning Request (¶3.1-3.3): standalone, or after a decision not to notify.

  ¶3.1  the form reaches the Business Unit, which is told                      -> receive_form
  ¶3.2  the partnership decides: a learning review is convened, or the referrer
        gets the rationale                                                     -> partnership_decision
  ¶3.2  the learning review's findings and recommendations are recorded        -> share_learning
  ¶5.4  its recommendations are monitored to completion                        -> recommendations.py
A case can be withdrawn at any stage.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from models.case import CaseKind, CaseStatus, Role, Stage
    from models.decisions import (
        DecisionModel,
        LearningRequestDecision,
        LearningReviewCompleted,
        RecommendationUpdated,
    )
    from models.forms import LearningRequestForm

from workflows.case import CaseEnded
from workflows.recommendations import RecommendationsMonitor


@workflow.defn
class LearningRequestWorkflow(RecommendationsMonitor):
    kind = CaseKind.LEARNING_REQUEST
    EXPECTED = {
        Stage.PARTNERSHIP_DECISION: frozenset({"learning_request_decision"}),
        Stage.LEARNING_REVIEW: frozenset({"learning_review_completed"}),
        Stage.MONITORING: frozenset({"recommendation_updated"}),
    }

    @workflow.init
    def __init__(self, form: LearningRequestForm) -> None:
        super().__init__(
            local_authority=form.local_authority,
            received_on=form.received_on,
            referrer_email=form.referrer.email,
            stage=Stage.PARTNERSHIP_DECISION,
        )
        self.form = form
        self.decision: LearningRequestDecision | None = None
        self.review: LearningReviewCompleted | None = None
        self.init_recommendations()

    @workflow.run
    async def run(self, form: LearningRequestForm) -> CaseStatus:
        try:
            await self.receive_form()
            await self.until(lambda: self.decision is not None)
            await self.tell_referrer()
            if self.decision and self.decision.decision == "learning_review":
                await self.until(lambda: self.review is not None)
                await self.share_learning()
                assert self.review is not None
                await self.monitor_recommendations(self.review.recommendations, self.review.completed_on)
                await self.until(self.recommendations_finished)
                if self.stage is Stage.MONITORING:
                    self.close(
                        f"Learning review completed on {self.review.completed_on}; "
                        "every recommendation completed or closed"
                    )
        except CaseEnded:
            await self.announce_withdrawal()
        return await self.finish()

    # ---- the journey ------------------------------------------------------------------------------

    async def receive_form(self) -> None:
        """¶3.1: the Business Unit of the partnership is told of the request."""
        await self.look_up_partnership()
        await self.send(
            "new_learning_request",
            [Role.BUSINESS_UNIT],
            "new-form",
            {"received_on": self.form.received_on.isoformat(), "reason": self.form.reason.replace("_", " ")},
            summary="¶3.1 Tell the Business Unit of the new Learning Request",
        )

    async def tell_referrer(self) -> None:
        """¶3.2: the referrer hears that a review is convened, or why it is not."""
        assert self.decision is not None
        convened = self.decision.decision == "learning_review"
        await self.send(
            "learning_review_convened" if convened else "learning_request_rationale",
            [Role.REFERRER, Role.BUSINESS_UNIT],
            "partnership-decision",
            {"decided_on": self.decision.decided_on.isoformat(), "rationale": self.decision.rationale},
            summary="¶3.2 Learning review convened" if convened else "¶3.2 Rationale to the referrer",
        )

    async def share_learning(self) -> None:
        """¶3.2: the review's findings and recommendations go to the referrer and the Business Unit."""
        assert self.review is not None
        await self.send(
            "learning_review_completed",
            [Role.REFERRER, Role.BUSINESS_UNIT],
            "learning-review-completed",
            {
                "completed_on": self.review.completed_on.isoformat(),
                "findings": self.review.findings,
                "recommendations": "\n".join(
                    f"- {r.id}: {r.text} (owner: {r.owner}; due {r.due_on})"
                    for r in self.review.recommendations
                )
                or "- none",
            },
            summary="¶3.2 Share the learning review's findings",
        )

    # ---- decisions --------------------------------------------------------------------------------

    def check_decision(self, decision: DecisionModel) -> None:
        if isinstance(decision, RecommendationUpdated):
            self.check_recommendation_update(decision)

    def step_answered(self, name: str) -> tuple[str, date]:
        if name == "learning_review_completed" and self.decision:
            return "the partnership's decision", self.decision.decided_on
        if name == "recommendation_updated" and self.review:
            return "the learning review", self.review.completed_on
        return "the form's receipt", self.form.received_on

    def apply(self, name: str, decision: DecisionModel) -> None:
        if isinstance(decision, LearningRequestDecision):
            self.decision = decision
            if decision.decision == "learning_review":
                self.stage = Stage.LEARNING_REVIEW
            else:
                self.close(f"No learning review: decided on {decision.decided_on}")
        elif isinstance(decision, LearningReviewCompleted):
            self.review = decision
            self.record_recommendations(decision.recommendations)
            if decision.recommendations:
                self.stage = Stage.MONITORING
            else:
                self.close(f"Learning review completed on {decision.completed_on}, with no recommendations")
        elif isinstance(decision, RecommendationUpdated):
            self.apply_recommendation_update(decision)
        else:
            raise AssertionError(f"no transition for {name}")

    def details(self) -> dict[str, Any]:
        return {
            "decision": self.decision.decision if self.decision else None,
            "related_case": self.form.related_case,
            "recommendations": [r.model_dump(mode="json") for r in self.recommendations.values()],
        }
