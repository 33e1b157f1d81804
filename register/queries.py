"""What the Business Unit reads from the register: the open cases, and one case's whole timeline."""

from __future__ import annotations

from sqlmodel import Session, col, or_, select

from register.db import engine
from register.models import CaseRow, EventRow

ENDED = ("closed", "withdrawn")


def open_cases(
    partnership: str | None = None,
    local_authority: str | None = None,
    stage: str | None = None,
    overdue: bool = False,
) -> list[CaseRow]:
    """Open cases, soonest deadline first; `overdue` keeps those with a missed deadline."""
    query = select(CaseRow).where(col(CaseRow.stage).not_in(ENDED))
    if partnership:
        query = query.where(CaseRow.partnership == partnership)
    if local_authority:
        query = query.where(CaseRow.local_authority == local_authority)
    if stage:
        query = query.where(CaseRow.stage == stage)
    if overdue:
        query = query.where(CaseRow.missed > 0)
    query = query.order_by(col(CaseRow.next_due_on).is_(None), CaseRow.next_due_on, CaseRow.case_id)
    with Session(engine()) as session:
        return list(session.exec(query))


def audit_trail(case_id: str) -> list[EventRow]:
    """Every event of a case and of its local review (a child case), in the order they happened."""
    with Session(engine()) as session:
        children = session.exec(select(CaseRow.case_id).where(CaseRow.parent_case_id == case_id)).all()
        query = (
            select(EventRow)
            .where(or_(EventRow.case_id == case_id, col(EventRow.case_id).in_(children)))
            .order_by(EventRow.at, EventRow.case_id, EventRow.seq)
        )
        return list(session.exec(query))


def known_case(case_id: str) -> bool:
    with Session(engine()) as session:
        return session.get(CaseRow, case_id) is not None
