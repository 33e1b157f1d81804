"""What the Temporal Web UI shows of a case without opening it (search attributes) and inside it
(current details): stage, next deadline, anything missed. Nothing personal."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from temporalio import workflow
from temporalio.common import SearchAttributeUpdate

with workflow.unsafe.imports_passed_through():
    from models.case import DeadlineStatus

from workflows import search_attributes
from workflows.versions import ONLY_CHANGES, changed

if TYPE_CHECKING:
    from workflows.case import Case




class WebUI:
    def __init__(self) -> None:
        self.published: tuple[Any, ...] | None = None
        self.values: dict[str, Any] = {}  # the search attributes as last upserted
        # Cases started before this release upsert every attribute each time; from it, those that changed.
        self.only_changes = changed(ONLY_CHANGES)

    def publish(self, case: Case) -> None:
        deadlines = case.deadlines.values()
        next_due: datetime | None = min(
            (d.due_at for d in deadlines if d.status is DeadlineStatus.OPEN), default=None
        )
        missed = any(d.status is DeadlineStatus.MISSED for d in deadlines)
        attention = bool(case.attention)
        snapshot = (case.stage, next_due, missed, case.partnership, attention)
        if snapshot != self.published:
            self.published = snapshot
            updates: list[SearchAttributeUpdate[Any]] = [
                search_attributes.CASE_KIND.value_set(case.kind.value),
                search_attributes.CASE_STAGE.value_set(case.stage.value),
                search_attributes.LOCAL_AUTHORITY.value_set(case.local_authority.value),
                search_attributes.DEADLINE_MISSED.value_set(missed),
                search_attributes.NEXT_DEADLINE.value_set(next_due)
                if next_due
                else search_attributes.NEXT_DEADLINE.value_unset(),
            ]
            if case.partnership:
                updates.append(search_attributes.PARTNERSHIP.value_set(case.partnership))
            if attention:
                updates.append(search_attributes.NEEDS_ATTENTION.value_set(True))
            updates = self.changed(updates) if self.only_changes else updates
            if updates:
                workflow.upsert_search_attributes(updates)
        lines = [f"**Stage:** {case.stage.value}"]
        lines += [
            f"- {d.title}: due {d.due_on} — {d.status.value}" + (" (recorded late)" if d.recorded_late else "")
            for d in deadlines
        ]
        workflow.set_current_details("\n".join(lines))

    def changed(self, updates: list[SearchAttributeUpdate[Any]]) -> list[SearchAttributeUpdate[Any]]:
        """The updates whose value differs from the one last upserted (upserts merge: the rest stay)."""
        changed = [u for u in updates if u.key.name not in self.values or self.values[u.key.name] != u.value]
        self.values.update({u.key.name: u.value for u in updates})
        return changed
