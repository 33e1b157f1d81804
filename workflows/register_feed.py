"""The case register's feed: every event of a case, noted in order and written by an activity in
batches (activities/register.py), each keyed by the case id and its number so nothing is written twice."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import timedelta

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from activities.register import record_events
    from models.case import CaseEvent, CaseStatus, RegisterBatch

REGISTER_TIMEOUT = timedelta(minutes=1)


class RegisterFeed:
    def __init__(self, case_id: str, status: Callable[[], CaseStatus]) -> None:
        self.case_id = case_id
        self.status = status
        self.unwritten: list[CaseEvent] = []
        self.logged = 0
        self.writer: asyncio.Task[None] | None = None
        self.ending = False

    def log(self, kind: str, name: str, detail: str | None = None, write_now: bool = True) -> None:
        """Note an event; `write_now=False` while the case is being set up, before it can run an activity."""
        self.logged += 1
        self.unwritten.append(
            CaseEvent(
                key=f"{self.case_id}/{self.logged}",
                case_id=self.case_id,
                seq=self.logged,
                at=workflow.now(),
                kind=kind,
                name=name,
                detail=detail,
            )
        )
        if self.writer is None and write_now:
            self.writer = asyncio.create_task(self.keep_writing())

    async def keep_writing(self) -> None:
        parent = workflow.info().parent
        while True:
            await workflow.wait_condition(lambda: bool(self.unwritten) or self.ending)
            if not self.unwritten:
                return
            batch, self.unwritten = self.unwritten, []
            await workflow.execute_activity(
                record_events,
                RegisterBatch(
                    events=batch, status=self.status(), parent_case_id=parent.workflow_id if parent else None
                ),
                start_to_close_timeout=REGISTER_TIMEOUT,
                summary=f"Case register: {len(batch)} event(s)",
            )

    async def drain(self) -> None:
        """Write what is left, then stop: the case is ending."""
        self.ending = True
        if self.writer is not None:
            await self.writer
