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

from models.case import DeadlineStatus, RegisterBatch, deadline_key
from register.db import engine
from register.models import CaseRow, DeadlineRow, EventRow, MessageRow


def write(batch: RegisterBatch) -> int:
    case = batch.status
    written = 0
    with Session(engine()) as session:
        for event in batch.events:
            if session.get(EventRow, event.key) is None:
                session.add(EventRow(**event.model_dump()))
                written += 1
        open_deadlines = [d.due_on for d in case.deadlines if d.status is DeadlineStatus.OPEN]
        session.merge(
            CaseRow(
                case_id=case.case_id,
                kind=case.kind.value,
                local_authority=case.local_authority.value,
                partnership=case.partnership,
                parent_case_id=batch.parent_case_id,
                stage=case.stage.value,
                received_on=case.received_on,
                closed_reason=case.closed_reason,
                next_due_on=min(open_deadlines, default=None),
                missed=sum(d.status is DeadlineStatus.MISSED for d in case.deadlines),
                updated_at=datetime.now(timezone.utc),
            )
        )
        for d in case.deadlines:
            session.merge(
                DeadlineRow(
                    case_id=case.case_id,
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
        for m in case.messages:
            session.merge(MessageRow(key=m.key, case_id=case.case_id, template=m.template, to=m.to, status=m.status))
        session.commit()
    return written


@activity.defn
async def record_events(batch: RegisterBatch) -> int:
    """Append the case's new events to the register and bring its case, deadline and message rows up
    to date; returns how many events were new."""
    return await asyncio.to_thread(write, batch)
