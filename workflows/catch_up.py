"""A case entered after the fact: nothing is sent for steps already past, and one summary says so.

Staff often enter a case some time after it began, its decisions all dated in the past. A deadline
that had already ended when its clock was set is not escalated (the next decision entered usually
records the step, met or missed by its own date); a live request whose date has passed (an agency's
contribution "by" a date gone, the Rapid Review details for a meeting held, the copies for a
publication already out) is not sent. Once the entering is done (an hour with nothing new), one
summary tells the Business Unit what was overdue on entry and what was not sent.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import TYPE_CHECKING

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from models.text import Public
    from models.case import FINAL_STAGES, DeadlineRecord, DeadlineStatus, MessageRecord, deadline_key
    from models.messages import EnteredAfterTheFact, Message

if TYPE_CHECKING:
    from workflows.case import Case

QUIET = timedelta(hours=1)  # the entering is taken as done after an hour with nothing new


class CatchUp:
    def __init__(self, case: Case) -> None:
        self.case = case
        self.overdue_records: list[DeadlineRecord] = []  # to summarise
        self.overdue_keys: set[str] = set()  # never escalated
        self.not_sent: list[str] = []
        self.summaries = 0
        self.summary_due = False

    def overdue(self, record: DeadlineRecord) -> None:
        """A deadline already ended when its clock was set: left open, judged by its step, summarised."""
        key = deadline_key(record.key, record.subject)
        self.case.log("deadline_overdue_on_entry", key, f"due {record.due_on}")
        self.overdue_keys.add(key)
        self.overdue_records.append(record)
        self.summarise()

    def holds(self, record: DeadlineRecord) -> bool:
        return deadline_key(record.key, record.subject) in self.overdue_keys

    def skip(self, message: Message, record: MessageRecord) -> None:
        """A live request whose date had passed when it was due to go: recorded, not sent."""
        live_on = message.live_on()
        record.status = "not_sent"
        self.case.log("message_not_sent", message.template, f"{record.key}: its date ({live_on}) had passed")
        self.not_sent.append(f"- {message.describe()} (for {live_on})")
        self.summarise()

    def summarise(self) -> None:
        """One summary once the entering is done: started by the first thing past."""
        if not self.summary_due:
            self.summary_due = True
            self.case.clocks.watchers.append(asyncio.create_task(self.send_summary()))

    def entered(self) -> int:
        return len(self.case.decisions) + len(self.overdue_records) + len(self.not_sent)

    async def send_summary(self) -> None:
        while self.case.stage not in FINAL_STAGES:  # until an hour passes with nothing new, or the case ends
            seen = self.entered()
            try:
                await workflow.wait_condition(
                    lambda: self.entered() != seen or self.case.stage in FINAL_STAGES,
                    timeout=QUIET,
                    timeout_summary=Public("Entered after the fact: summary"),
                )
            except asyncio.TimeoutError:
                break
        overdue = [self.line(record) for record in self.overdue_records]
        not_sent = list(self.not_sent)
        self.overdue_records, self.not_sent, self.summary_due = [], [], False
        self.summaries += 1
        await self.case.send(
            EnteredAfterTheFact(
                number=self.summaries,
                overdue="\n".join(overdue) or "(none)",
                not_sent="\n".join(not_sent) or "(none)",
            )
        )

    @staticmethod
    def line(record: DeadlineRecord) -> str:
        now = {
            DeadlineStatus.OPEN: "still open, overdue",
            DeadlineStatus.MET: f"met (step on {record.step_on})",
            DeadlineStatus.MISSED: f"missed (step on {record.step_on})" if record.step_on else "missed",
            DeadlineStatus.CANCELLED: "cancelled",
        }[record.status]
        return f"- {record.title}: due {record.due_on}; {now}"
