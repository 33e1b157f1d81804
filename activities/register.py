"""Writes the case register (register/): a case's new events, appended, and its current state.

Each event's key is the case id and its number in the case, so a retried activity, a restarted worker
or a replayed case never writes an event twice. If the database cannot be reached the activity fails
and Temporal retries it, with backoff, until it can: the case goes on meanwhile and nothing is dropped.
"""

from __future__ import annotations

import asyncio
import functools
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import Connection, Executable, Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import SQLModel
from temporalio import activity

from models.case import CaseEvent, CaseSummary, DeadlineChange, DeadlineStatus, RegisterBatch, deadline_key
from register.db import engine
from register.models import CaseRow, DeadlineRow, EventRow, MessageRow

CASES, EVENTS, DEADLINES, MESSAGES = (
    SQLModel.metadata.tables[row.__tablename__] for row in (CaseRow, EventRow, DeadlineRow, MessageRow)
)


def insert(dialect: str, table: Table) -> sqlite.Insert | postgresql.Insert:
    """The dialect's INSERT, which takes ON CONFLICT (both registers' dialects have it)."""
    return postgresql.insert(table) if dialect == "postgresql" else sqlite.insert(table)


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
        events=batch.events,
        case=summary,
        deadlines=[DeadlineChange.of(d) for d in status.deadlines],
        messages=status.messages,
        parent_case_id=batch.parent_case_id,
    )


@functools.lru_cache(maxsize=64)
def upsert_statement(dialect: str, table: Table, columns: tuple[str, ...], keys: tuple[str, ...]) -> Executable:
    """Insert the rows, or bring those already there up to date: one statement, no SELECT first. Built
    once for each table, dialect and set of columns and kept (a statement is immutable): building it
    again for every batch cost more than running it."""
    statement = insert(dialect, table)
    changed = {column: statement.excluded[column] for column in columns if column not in keys}
    return statement.on_conflict_do_update(index_elements=list(keys), set_=changed)


@functools.lru_cache(maxsize=4)
def new_events_statement(dialect: str) -> Executable:
    """Insert the events not there yet (their key), returning the keys of those inserted."""
    return insert(dialect, EVENTS).on_conflict_do_nothing(index_elements=["key"]).returning(EVENTS.c.key)


def upsert(connection: Connection, table: Table, rows: list[dict[str, Any]], keys: list[str]) -> None:
    """`upsert_statement`, run for all the rows at once (executemany), so SQLAlchemy compiles it once and
    reuses it for every batch (a statement with the rows as its VALUES was compiled anew for each number
    of rows)."""
    if not rows:
        return
    connection.execute(upsert_statement(connection.dialect.name, table, tuple(rows[0]), tuple(keys)), rows)


def case_row(batch: RegisterBatch) -> dict[str, Any]:
    assert batch.case is not None
    case = batch.case
    return case.model_dump(exclude={"kind", "local_authority", "stage"}) | {
        "kind": case.kind.value,
        "local_authority": case.local_authority.value,
        "stage": case.stage.value,
        "parent_case_id": batch.parent_case_id,
        "updated_at": datetime.now(timezone.utc),
    }


def deadline_row(case_id: str, d: DeadlineChange) -> dict[str, Any]:
    return {
        "case_id": case_id,
        "key": deadline_key(d.key, d.subject),
        "clock": d.key.value,
        "subject": d.subject,
        "starts_on": d.starts_on,
        "due_on": d.due_on,
        "status": d.status.value,
        "step_on": d.step_on,
        "recorded_late": d.recorded_late,
    }


def event_row(case_id: str, event: CaseEvent) -> dict[str, Any]:
    """An event's row; a batch that names its case leaves the key and the case id out of its events."""
    return dict(event) | {"case_id": event.case_id or case_id, "key": event.key or f"{case_id}/{event.seq}"}


def write(batch: RegisterBatch) -> int:
    """One transaction: the new events inserted (those already there skipped), the rows upserted."""
    if batch.status is not None:
        batch = from_status(batch)
    case_id = batch.case_id or batch.events[0].case_id  # a batch is sent when a case has new events
    with engine().begin() as connection:
        rows = [event_row(case_id, e) for e in batch.events]
        # no rows: nothing to insert (executed without rows, the statement would insert one of defaults)
        written = len(connection.execute(new_events_statement(connection.dialect.name), rows).all()) if rows else 0
        if batch.case is not None:
            upsert(connection, CASES, [case_row(batch)], ["case_id"])
        upsert(connection, DEADLINES, [deadline_row(case_id, d) for d in batch.deadlines], ["case_id", "key"])
        messages = [m.model_dump() | {"case_id": case_id} for m in batch.messages]
        upsert(connection, MESSAGES, messages, ["key"])
    return written


@activity.defn
async def record_events(batch: RegisterBatch) -> int:
    """Append the case's new events to the register and bring its case, deadline and message rows up
    to date; returns how many events were new."""
    return await asyncio.to_thread(write, batch)
