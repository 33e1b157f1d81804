"""The worklist: every open step of the person's partnership's cases, soonest deadline first, with
working days left; the steps their role may record, and what is waiting on others (the agencies, the
National Panel, people of other roles). Open cases come from Temporal's visibility (the `Partnership`
search attribute), each case from its `status` query (a few at a time)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import date

from temporalio.client import Client

from console.cases import authorities_of, may_see, partnership_of, review_stage, steps_now
from models.case import LOCAL_REVIEW_SUFFIX, CaseStatus, Clock, DeadlineRecord, DeadlineStatus, Stage
from models.identity import Person
from models.next_steps import EXPECTED
from models.working_days import working_days_between
import starter

MAX_CASES = 500  # a partnership has tens of open cases; the list stops here rather than grow unbounded
AT_ONCE = 8  # status queries in flight at once
OTHERS_CLOCKS = {Clock.AGENCY_CONTRIBUTION: "the agency", Clock.PANEL_RESPONSE: "the National Panel"}


@dataclass
class Item:
    case_id: str
    local_authority: str
    stage: str
    what: str  # the step ("DSP decision"), or the deadline others must meet
    decision: str | None  # the decision that records it, when there is one
    roles: list[str]  # who may record it
    deadline: str  # the deadline's title ("" when the step has none)
    due_on: date | None
    days_left: int | None  # working days; negative when overdue
    overdue: bool


def days_left(today: date, due_on: date) -> int:
    return working_days_between(today, due_on) if due_on >= today else -working_days_between(due_on, today)


def outstanding(deadline: DeadlineRecord) -> bool:
    """Still to be done: open, or missed with its step not yet recorded (overdue)."""
    return deadline.status in (DeadlineStatus.OPEN, DeadlineStatus.MISSED) and not deadline.step_on


def next_deadline(case: CaseStatus) -> DeadlineRecord | None:
    return min((d for d in case.deadlines if outstanding(d)), key=lambda d: d.due_on, default=None)


def _item(case: CaseStatus, what: str, decision: str | None, roles: list[str], deadline: DeadlineRecord | None, today: date) -> Item:
    stage = case.stage.value
    review = case.details.get("local_review")
    if review:
        stage += f" (local review: {review['stage']})"
    due = deadline.due_on if deadline else None
    return Item(
        case_id=case.case_id,
        local_authority=case.local_authority.value,
        stage=stage,
        what=what,
        decision=decision,
        roles=roles,
        deadline=deadline.title if deadline else "",
        due_on=due,
        days_left=days_left(today, due) if due else None,
        overdue=bool(deadline and (deadline.status == DeadlineStatus.MISSED or (due and due < today))),
    )


def stages_of(case: CaseStatus) -> list[Stage]:
    """The case's stage, and its local review's while it runs."""
    review = review_stage(case)
    return [case.stage] + ([review] if review is not None else [])


def items_of(case: CaseStatus, person: Person, today: date) -> tuple[list[Item], list[Item]]:
    """The case's open steps the person may record, and those waiting on others."""
    open_deadlines = sorted((d for d in case.deadlines if outstanding(d)), key=lambda d: d.due_on)
    statutory = [d for d in open_deadlines if d.key not in (Clock.AGENCY_CONTRIBUTION, Clock.RECOMMENDATION)]
    mine: list[Item] = []
    others: list[Item] = []
    waited_for = {name for stage in stages_of(case) for name, _ in EXPECTED.get(stage, [])}
    for step in steps_now(case):
        # what the case waits for (models/next_steps.py); a withdrawal, a challenge, an agency added and
        # the like are always possible, never due: they are on the case page only
        if step.name not in waited_for:
            continue
        own = next((d for d in open_deadlines if d.key == step.clock), None) if step.clock else None
        deadline = own or (statutory[0] if statutory else None)
        item = _item(case, step.title, step.name.value, sorted(r.value for r in step.roles), deadline, today)
        (mine if step.may_record(person) else others).append(item)
    for deadline in open_deadlines:
        who = OTHERS_CLOCKS.get(deadline.key)
        if who:
            what = f"{deadline.title}" + (f" ({deadline.subject})" if deadline.subject else "")
            others.append(_item(case, what, None, [who], deadline, today))
    return mine, others


async def open_case_ids(client: Client, person: Person) -> list[str]:
    """The open cases of the person's partnership: by the `LocalAuthority` search attribute, which a case
    has from its start (`Partnership` comes a moment later, from the case's routing step)."""
    query = "ExecutionStatus = 'Running'"
    if person.partnership is not None:
        served = authorities_of(person.partnership)  # slugs from the routing file, never text a person typed
        if not served:
            return []
        query += " AND LocalAuthority IN (" + ", ".join(f"'{a}'" for a in served) + ")"
    ids = []
    async for execution in client.list_workflows(query, limit=MAX_CASES):
        if not execution.id.endswith(LOCAL_REVIEW_SUFFIX):
            ids.append(execution.id)
    return ids


async def open_cases(client: Client, person: Person) -> list[CaseStatus]:
    """The person's partnership's open cases as their `status` shows them (a case that cannot answer
    now is left out of this page, not an error)."""
    gate = asyncio.Semaphore(AT_ONCE)

    async def status(case_id: str) -> CaseStatus | None:
        async with gate:
            try:
                return await starter.case_status(client, case_id, starter.QUICK)
            except starter.Refused:
                return None

    found = await asyncio.gather(*(status(case_id) for case_id in await open_case_ids(client, person)))
    return [case for case in found if case is not None and may_see(person, partnership_of(case))]


@dataclass
class Filters:
    authority: str = ""
    stage: str = ""
    role: str = ""

    def keep(self, item: Item) -> bool:
        return (
            (not self.authority or item.local_authority == self.authority)
            and (not self.stage or item.stage.split(" ")[0] == self.stage or f"local review: {self.stage})" in item.stage)
            and (not self.role or self.role in item.roles)
        )


def worklist(cases: list[CaseStatus], person: Person, today: date, filters: Filters) -> tuple[list[Item], list[Item]]:
    """Every case's items, filtered, soonest deadline first (steps with no deadline last)."""
    mine: list[Item] = []
    others: list[Item] = []
    for case in cases:
        case_mine, case_others = items_of(case, person, today)
        mine += case_mine
        others += case_others

    def order(item: Item) -> tuple[bool, date, str]:
        return (item.due_on is None, item.due_on or date.max, item.case_id)

    return sorted(filter(filters.keep, mine), key=order), sorted(filter(filters.keep, others), key=order)
