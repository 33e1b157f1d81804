"""What the Business Unit reads from the register: the open cases, and one case's whole timeline."""

from __future__ import annotations

from datetime import date

from pydantic import BaseModel
from sqlmodel import Session, col, or_, select

from register.db import engine
from register.models import CaseRow, EventRow, MessageRow

ENDED = ("closed", "withdrawn")


class CaseListing(BaseModel):
    """One open case as the Business Unit's list shows it: a case and its local review are one row."""

    case_id: str
    kind: str
    local_authority: str
    partnership: str | None
    stage: str
    received_on: date
    next_due_on: date | None = None  # the soonest open deadline of the case or its local review
    missed: int = 0  # missed deadlines of the case and its local review together
    local_review_id: str | None = None
    local_review_stage: str | None = None


CASE_COLUMNS = {"case_id", "kind", "local_authority", "partnership", "stage", "received_on"}  # as the case's row has them


def open_cases(
    partnership: str | None = None,
    local_authority: str | None = None,
    stage: str | None = None,
    overdue: bool = False,
) -> list[CaseListing]:
    """Open cases, soonest deadline first; `overdue` keeps those with a missed deadline. A local review
    (a child case) is listed under its case, its deadlines counted with the case's; `stage` finds a case
    by its own stage or its local review's."""
    with Session(engine()) as session:
        open_rows = session.exec(select(CaseRow).where(col(CaseRow.stage).not_in(ENDED))).all()
        parent_ids = {row.parent_case_id or row.case_id for row in open_rows}
        parents = session.exec(select(CaseRow).where(col(CaseRow.case_id).in_(parent_ids))).all()
        children = session.exec(select(CaseRow).where(col(CaseRow.parent_case_id).in_(parent_ids))).all()
    review_of = {child.parent_case_id: child for child in children}
    listed = []
    for case in parents:
        if case.parent_case_id is not None:
            continue
        review = review_of.get(case.case_id)
        if case.stage in ENDED and (review is None or review.stage in ENDED):
            continue
        due = [d for d in (case.next_due_on, review.next_due_on if review else None) if d is not None]
        listed.append(
            CaseListing(
                **case.model_dump(include=CASE_COLUMNS),
                next_due_on=min(due, default=None),
                missed=case.missed + (review.missed if review else 0),
                local_review_id=review.case_id if review else None,
                local_review_stage=review.stage if review else None,
            )
        )
    listed = [
        c
        for c in listed
        if (not partnership or c.partnership == partnership)
        and (not local_authority or c.local_authority == local_authority)
        and (not stage or stage in (c.stage, c.local_review_stage))
        and (not overdue or c.missed > 0)
    ]
    return sorted(listed, key=lambda c: (c.next_due_on is None, c.next_due_on or date.max, c.case_id))


def messages_to(keys: list[str]) -> dict[str, list[str]]:
    """Who each message (by its key) went to, from the register's messages table."""
    if not keys:
        return {}
    with Session(engine()) as session:
        rows = session.exec(select(MessageRow).where(col(MessageRow.key).in_(keys))).all()
    return {row.key: list(row.to) for row in rows}


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


def case_partnership(case_id: str) -> str | None:
    """The partnership a case (or its local review) belongs to, as the register has it."""
    with Session(engine()) as session:
        row = session.get(CaseRow, case_id)
        return row.partnership if row is not None else None


def known_case(case_id: str) -> bool:
    with Session(engine()) as session:
        return session.get(CaseRow, case_id) is not None
