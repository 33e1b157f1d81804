"""Writes the case register (register/): a case's new events, appended, and its current state.

Each event's key is the case id and its number in the case, so a retried activity, a restarted worker
or a replayed case never writes an event twice. If the database cannot be reached the activity fails
and Temporal retries it, with backoff, until it can: the case goes on meanwhile and nothing is dropped.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timezone

from sqlmodel import Session
from temporalio import activity

from models.case import CaseSummary, DeadlineStatus, RegisterBatch, deadline_key
from register.db import engine
from register.models import CaseRow, DeadlineRow, EventRow, MessageRow


def from_status(batch: RegisterBatch) -> RegisterBatch:
    """A batch scheduled by a release before 0.2, carrying the whole status: the same batch, as now."""
    status = batch.status
    assert status is not None
    open_deadlines = [d.due_on for d in status.deadlines if d.status is DeadlineStatus.OPEN]
    summary = CaseSummary(
        **status.model_dump(include={"case_id", "kind", "local_authority", "partnership", "stage", "received_on", "closed_reason"}),
        next_due_on=min(open_deadlines, default=None),
        missed=sum(d.status is DeadlineStatus.MISSED for d in status.deadlines),
    )
    return RegisterBatch(
        events=batch.events, case=summary, deadlines=status.deadlines, messages=status.messages, parent_case_id=batch.parent_case_id
    )


def write(batch: RegisterBatch) -> int:
    if batch.status is not None:
        batch = from_status(batch)
    written = 0
    case_id = batch.events[0].case_id  # a batch is sent when a case has new events
    with Session(engine()) as session:
        for event in batch.events:
            if session.get(EventRow, event.key) is None:
                session.add(EventRow(**event.model_dump()))
                written += 1
        if batch.case is not None:
            case = batch.case
            session.merge(
                CaseRow(
                    **case.model_dump(exclude={"kind", "local_authority", "stage"}),
                    kind=case.kind.value,
                    local_authority=case.local_authority.value,
                    stage=case.stage.value,
                    parent_case_id=batch.parent_case_id,
                    updated_at=datetime.now(timezone.utc),
                )
            )
        for d in batch.deadlines:
            session.merge(
                DeadlineRow(
                    case_id=case_id,
                    key=deadline_key(d.key, d.subject),
                    clock=d.key.value,
                    subject=d.subject,
                    starts_on=d.starts_on,
                    due_on=d.due_on,
                    status=d.status.value,
                    step_on=d.step_on,
                    recorded_late=d.recorded_late,
                )
            )
        for m in batch.messages:
            session.merge(MessageRow(key=m.key, case_id=case_id, template=m.template, to=m.to, status=m.status))
        session.commit()
    return written


@activity.defn
async def record_events(batch: RegisterBatch) -> int:
    """Append the case's new events to the register and bring its case, deadline and message rows up
    to date; returns how many events were new."""
    return await asyncio.to_thread(write, batch)
