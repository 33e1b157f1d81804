"""Recommendations monitored to completion (¶5.4): the same code for a learning review's and an LCSPR's.

Each recommendation's due date is a clock [recommendation], with reminders to the owning agency and an
escalation to the partnership when it is missed; `recommendation_updated` records progress, completion,
or closure with a reason.
"""

from __future__ import annotations

from datetime import date

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from models.case import Clock, DeadlineStatus, RecommendationRecord, Role, deadline_key
    from models.decisions import DecisionRefused, Recommendation, RecommendationUpdated

from workflows.case import CaseWorkflow

FINISHED = frozenset({"completed", "closed"})


class RecommendationsMonitor(CaseWorkflow):
    def init_recommendations(self) -> None:
        self.recommendations: dict[str, RecommendationRecord] = {}

    async def monitor_recommendations(self, recommendations: list[Recommendation], made_on: date) -> None:
        """Set each recommendation's clock running from the day it was made (its record is kept from the
        decision's handler)."""
        for recommendation in recommendations:
            if self.recommendations[recommendation.id].status == "closed":
                continue  # closed with a reason before its clock was set up
            await self.open_deadline(
                Clock.RECOMMENDATION,
                made_on,
                [Role.RECOMMENDATION_OWNER, Role.BUSINESS_UNIT],
                subject=recommendation.id,
                due_on=recommendation.due_on,
                owner=recommendation.owner,
            )

    def record_recommendations(self, recommendations: list[Recommendation]) -> None:
        for r in recommendations:
            self.recommendations[r.id] = RecommendationRecord(id=r.id, text=r.text, owner=r.owner, due_on=r.due_on)

    def recommendations_finished(self) -> bool:
        return all(r.status in FINISHED for r in self.recommendations.values())

    def check_recommendation_update(self, update: RecommendationUpdated) -> None:
        record = self.recommendations.get(update.id)
        if record is None:
            known = ", ".join(self.recommendations) or "none"
            raise DecisionRefused(f"recommendation_updated: no recommendation {update.id} (known: {known})")
        if record.status in FINISHED:
            raise DecisionRefused(f"recommendation_updated: {update.id} is already {record.status}")
        if record.updated_on and update.updated_on < record.updated_on:
            raise DecisionRefused(
                f"recommendation_updated: updated_on ({update.updated_on}) is before its last update "
                f"({record.updated_on})"
            )
        if update.status == "closed" and not update.note:
            raise DecisionRefused("recommendation_updated: note: a recommendation closed without completion needs a reason")

    def apply_recommendation_update(self, update: RecommendationUpdated) -> None:
        record = self.recommendations[update.id]
        record.status, record.updated_on, record.note = update.status, update.updated_on, update.note
        if update.status == "completed":
            self.close_deadline(Clock.RECOMMENDATION, update.updated_on, subject=update.id)
        elif update.status == "closed":
            deadline = self.deadlines.get(deadline_key(Clock.RECOMMENDATION, update.id))
            if deadline is not None and deadline.status is DeadlineStatus.OPEN:
                deadline.status = DeadlineStatus.CANCELLED
