"""The case register's feed: every event of a case, noted in order and written by an activity in
batches (activities/register.py), each keyed by the case id and its number so nothing is written twice.
A batch carries the new events and what changed since the last one, never the whole case again, so a
case's history grows with what happened to it.

From this release (patch `register-local-activity`) a batch is written by a local activity: run by the
worker within the workflow task, with no round trip to the server, and only its result (a count) is kept
in the history, not the batch. A local activity holds the workflow task while it runs and retries, so it
is given a few seconds (workflows/local_first.py, `HERE`); if the register is away longer, the same batch
goes to the register as an ordinary activity, retried by the server for as long as it takes (`REGISTER`).
Either way the writes are idempotent, so an attempt repeated (a worker killed mid-write, the local attempt
that timed out but wrote) writes nothing twice."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import TYPE_CHECKING

from temporalio import workflow
from temporalio.workflow import ActivityCancellationType

with workflow.unsafe.imports_passed_through():
    from models.text import Public
    from activities.register import record_events
    from models.case import CaseEvent, CaseKind, DeadlineChange, DeadlineStatus, MessageRecord, RegisterBatch

from workflows.local_first import local_first
from workflows.retries import REGISTER
from workflows.versions import LOCAL_ACTIVITY, ONE_BATCH_PER_STEP, changed

if TYPE_CHECKING:
    from workflows.case import Case

REGISTER_TIMEOUT = timedelta(minutes=1)


class RegisterFeed:
    def __init__(self, case: Case) -> None:
        self.case = case
        self.unwritten: list[CaseEvent] = []
        self.logged = 0
        self.writer: asyncio.Task[None] | None = None
        self.ending = False
        self.written_deadlines: dict[str, DeadlineChange] = {}
        self.written_messages: dict[str, MessageRecord] = {}
        self.written_case: object = None
        # A case started before this release writes as soon as an event is new (two to four batches a
        # step); from it, once the step is done and the journey waits (`Case.between_steps`): one batch.
        self.per_step = changed(ONE_BATCH_PER_STEP)
        # A case started before this release schedules every batch as an ordinary activity, as it did.
        self.local = changed(LOCAL_ACTIVITY)

    def log(
        self, kind: str, name: str, detail: str | None = None, write_now: bool = True, actor: str | None = None
    ) -> None:
        """Note an event; `write_now=False` while the case is being set up, before it can run an activity."""
        self.logged += 1
        # key and case id left to the batch's case id (the register derives them: `RegisterBatch.case_id`)
        self.unwritten.append(
            CaseEvent(seq=self.logged, at=workflow.now(), kind=kind, name=name, detail=detail, actor=actor)
        )
        if self.writer is None and write_now:
            self.writer = asyncio.create_task(self.keep_writing())

    def changes(self) -> RegisterBatch:
        """The new events, and the case, deadlines and messages that changed since the last batch."""
        case = self.case
        rows = {key: DeadlineChange.of(d) for key, d in case.deadlines.items()}  # only the register's columns
        deadlines = [row for key, row in rows.items() if self.written_deadlines.get(key) != row]
        messages = [m for m in case.messages if self.written_messages.get(m.key) != m]
        self.written_deadlines.update(rows)
        self.written_messages.update({m.key: m.model_copy() for m in messages})
        summary = case.summary()
        # a local review is its case's; a learning request opened from a case (issue 14) is a case of its own
        parent = workflow.info().parent if case.kind is CaseKind.LOCAL_REVIEW else None
        batch = RegisterBatch(
            events=self.unwritten,
            case_id=case.case_id,
            case=summary if summary != self.written_case else None,
            deadlines=deadlines,
            messages=messages,
            parent_case_id=parent.workflow_id if parent else None,
        )
        self.written_case, self.unwritten = summary, []
        return batch

    def step_done(self) -> bool:
        return not self.per_step or self.case.between_steps()

    async def keep_writing(self) -> None:
        while True:
            await workflow.wait_condition(lambda: (bool(self.unwritten) and self.step_done()) or self.ending)
            if not self.unwritten:
                return
            await self.write(self.changes())

    async def write(self, batch: RegisterBatch) -> None:
        await local_first(
            record_events,
            batch,
            here=self.local,
            summary=Public(f"Case register: {len(batch.events)} event(s)"),
            timeout=REGISTER_TIMEOUT,
            retry_policy=REGISTER,
            cancellation_type=ActivityCancellationType.TRY_CANCEL,  # as before local_first: the SDK's default
        )

    async def drain(self) -> None:
        """Write what is left, then stop: the case is ending."""
        self.ending = True
        if self.writer is not None:
            await self.writer


__all__ = ["DeadlineStatus", "RegisterFeed"]
