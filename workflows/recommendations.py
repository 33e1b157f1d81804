"""Recommendations monitored to completion (¶5.4): the same part for a learning review's and an LCSPR's.

Each recommendation's due date is a clock [recommendation], with reminders to the owning agency and an
escalation to the partnership when it is missed; `recommendation_updated` records progress, completion,
or closure with a reason.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import TYPE_CHECKING, Any

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from models.case import Clock, RecommendationRecord, Role, Stage, deadline_key
    from models.decisions import DecisionRefused, Recommendation, RecommendationUpdated

from workflows.clocks import Watch
from workflows.versions import MOVES_STARTED_CLOCKS, changed
from workflows.intake import Step, Table, Takes, at

if TYPE_CHECKING:
    from workflows.case import Case

FINISHED = frozenset({"completed", "closed"})



async def recommendations_redated(owner: Any, decision: Any) -> None:
    """`Takes.corrected` of the final report (from 0.3): each recommendation's clock from the corrected
    day of the report to its corrected due date."""
    if changed(MOVES_STARTED_CLOCKS):
        await owner.recommendations.redate(decision.recommendations, decision.received_on)

class Recommendations:
    def __init__(self, case: Case, answers: Callable[[], Step | None]) -> None:
        self.case = case
        self.answers = answers  # the step an update cannot precede: the report that made them
        self.records: dict[str, RecommendationRecord] = {}

    def made(self, recommendations: list[Recommendation]) -> None:
        """Keep each recommendation as the decision that made it says (from its handler)."""
        for r in recommendations:
            self.records[r.id] = RecommendationRecord(id=r.id, text=r.text, owner=r.owner, due_on=r.due_on)

    async def monitor(self, recommendations: list[Recommendation], made_on: date) -> None:
        """Set each recommendation's clock running from the day it was made."""
        for recommendation in recommendations:
            if self.records[recommendation.id].status == "closed":
                continue  # closed with a reason before its clock was set up
            await self.case.clocks.start(
                Clock.RECOMMENDATION,
                made_on,
                Watch(remind=[Role.RECOMMENDATION_OWNER, Role.BUSINESS_UNIT], owner=recommendation.owner),
                subject=recommendation.id,
                due_on=recommendation.due_on,
            )

    async def redate(self, recommendations: list[Recommendation], made_on: date) -> None:
        """A report corrected: each recommendation's clock from the corrected day to its corrected date."""
        for recommendation in recommendations:
            record = self.case.deadlines.get(deadline_key(Clock.RECOMMENDATION, recommendation.id))
            if record is not None and (record.starts_on, record.due_on) != (made_on, recommendation.due_on):
                await self.case.clocks.move(Clock.RECOMMENDATION, made_on, subject=recommendation.id, due_on=recommendation.due_on)

    def finished(self) -> bool:
        return all(r.status in FINISHED for r in self.records.values())

    def listed(self) -> list[dict[str, Any]]:
        return [r.model_dump(mode="json") for r in self.records.values()]

    # ---- recommendation_updated ------------------------------------------------------------------------

    def check_update(self, update: RecommendationUpdated) -> None:
        record = self.records.get(update.id)
        if record is None:
            known = ", ".join(self.records) or "none"
            raise DecisionRefused(f"recommendation_updated: no recommendation {update.id} (known: {known})")
        if record.status in FINISHED:
            raise DecisionRefused(f"recommendation_updated: {update.id} is already {record.status}")
        if record.updated_on and update.updated_on < record.updated_on:
            raise DecisionRefused(
                f"recommendation_updated: updated_on ({update.updated_on}) is before its last update "
                f"({record.updated_on})"
            )
        if update.status == "closed" and not update.note:
            raise DecisionRefused(
                "recommendation_updated: note: a recommendation closed without completion needs a reason"
            )

    def updated(self, update: RecommendationUpdated) -> None:
        record = self.records[update.id]
        record.status, record.updated_on, record.note = update.status, update.updated_on, update.note
        if update.status == "completed":
            self.case.clocks.stop(Clock.RECOMMENDATION, update.updated_on, subject=update.id)
        elif update.status == "closed":
            self.case.clocks.cancel(Clock.RECOMMENDATION, subject=update.id)

    def since(self) -> Step | None:
        return self.answers()

    # An LCSPR's from its final report on (¶5.4); a learning review's once it is completed (¶3.2).
    DECISIONS: Table = (
        Takes(RecommendationUpdated, at(Stage.LCSPR_PUBLICATION, Stage.MONITORING),
              then=updated, after=since, check=check_update, repeats=True),
    )
