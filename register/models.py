"""The register's tables. Schema changes go through Alembic migrations (register/migrations/)."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, Column, UniqueConstraint
from sqlmodel import Field, SQLModel


class CaseRow(SQLModel, table=True):
    __tablename__ = "cases"

    case_id: str = Field(primary_key=True)
    kind: str = Field(index=True)
    local_authority: str = Field(index=True)
    partnership: str | None = Field(default=None, index=True)
    parent_case_id: str | None = Field(default=None, index=True)
    stage: str = Field(index=True)
    received_on: date
    closed_reason: str | None = None
    next_due_on: date | None = None
    missed: int = 0
    updated_at: datetime


class EventRow(SQLModel, table=True):
    """Append-only: one row per thing that happened to a case, in order."""

    __tablename__ = "events"
    __table_args__ = (UniqueConstraint("case_id", "seq"),)

    key: str = Field(primary_key=True)  # case id / sequence number: a retried write is the same row
    case_id: str = Field(index=True)
    seq: int
    at: datetime
    kind: str = Field(index=True)
    name: str
    detail: str | None = None
    actor: str | None = None  # since migration 0003: who recorded the decision


class DeadlineRow(SQLModel, table=True):
    __tablename__ = "deadlines"

    case_id: str = Field(primary_key=True)
    key: str = Field(primary_key=True)  # clock, or clock:subject
    clock: str = Field(index=True)
    subject: str | None = None
    starts_on: date | None = None  # since migration 0002
    due_on: date
    status: str
    step_on: date | None = None
    recorded_late: bool = False


class MessageRow(SQLModel, table=True):
    __tablename__ = "messages"

    key: str = Field(primary_key=True)
    case_id: str = Field(index=True)
    template: str
    to: list[str] = Field(default_factory=list, sa_column=Column(JSON))
    status: str
