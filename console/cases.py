"""The console's way to the cases: a case as `status` shows it (only to its own partnership), the
decisions it takes now and who may record them (read from the journeys' `Takes` tables, intake.py),
and decisions and corrections sent signed with the console's own key, as starter.py sends them."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from temporalio.client import Client

import signing
import starter
from activities.files import store_document
from console.forms import option_text
from models.case import FINAL_STAGES, LOCAL_REVIEW_SUFFIX, CaseKind, CaseStatus, Clock, DecisionReceipt, Stage
from models.decisions import DECISIONS, Correction, Decision, DecisionModel, DecisionName
from models.identity import Person, PersonRole
from workflows.case_workflow import CaseWorkflow
from workflows.learning_request import LearningRequestWorkflow
from workflows.local_review import LocalReviewWorkflow
from workflows.serious_incident import SeriousIncidentWorkflow

CASE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")
JOURNEY_OF: dict[CaseKind, type[CaseWorkflow]] = {
    CaseKind.SERIOUS_INCIDENT: SeriousIncidentWorkflow,
    CaseKind.LEARNING_REQUEST: LearningRequestWorkflow,
}


def may_see(person: Person, partnership: str | None) -> bool:
    """A person sees their own partnership's cases; operations (no partnership) sees every one."""
    return person.partnership is None or person.partnership == partnership


def partnership_of(case: CaseStatus) -> str | None:
    """The case's partnership; for a case just started, before its routing step has said, the one the
    routing file gives its local authority (the same file the case reads)."""
    if case.partnership is not None:
        return case.partnership
    from activities.routing import load_routing

    return load_routing().partnership_of(case.local_authority)[0]


def authorities_of(partnership: str) -> list[str]:
    """The local authorities a partnership serves (config/routing.json)."""
    from activities.routing import load_routing

    routing = load_routing()
    return sorted(a.value for a in routing.local_authorities if routing.partnership_of(a)[0] == partnership)


async def case_for(client: Client, case_id: str, person: Person) -> CaseStatus | None:
    """The case with its local review's deadlines, decisions and messages; None (shown as 'not found')
    for an unknown case, a case that cannot answer, or another partnership's case."""
    if not CASE_ID.fullmatch(case_id) or case_id.endswith(LOCAL_REVIEW_SUFFIX):
        return None
    try:
        case = await starter.case_status(client, case_id, starter.QUICK)
    except starter.Refused:
        return None
    return case if may_see(person, partnership_of(case)) else None


@dataclass(frozen=True)
class Step:
    """A decision the case takes now, and the roles that may record it (operations may record any)."""

    name: DecisionName
    model: type[DecisionModel]
    roles: frozenset[PersonRole]
    clock: Clock | None

    @property
    def title(self) -> str:
        return option_text(self.name.value)

    def may_record(self, person: Person) -> bool:
        return PersonRole.OPERATIONS in person.roles or bool(self.roles & set(person.roles))


def review_stage(case: CaseStatus) -> Stage | None:
    review = case.details.get("local_review")
    return Stage(review["stage"]) if review else None


def steps_now(case: CaseStatus) -> list[Step]:
    """What the case (and its local review) takes at its stage now, from the journeys' tables; a decision
    taken once and already recorded is left out. A journey's `now` conditions are the case's to judge:
    a step listed here may still be refused, and the refusal is shown."""
    if case.stage in FINAL_STAGES or case.kind not in JOURNEY_OF:
        return []
    accepted = {d.name for d in case.decisions if d.accepted}
    journeys: list[tuple[type[CaseWorkflow], Stage]] = [(JOURNEY_OF[case.kind], case.stage)]
    stage_of_review = review_stage(case)
    if stage_of_review is not None and stage_of_review not in FINAL_STAGES:
        journeys.append((LocalReviewWorkflow, stage_of_review))
    steps: dict[DecisionName, Step] = {}
    for journey, stage in journeys:
        for table in journey.tables():
            for row in table:
                if stage in row.at and (row.repeats or row.name not in accepted) and row.name not in steps:
                    steps[row.name] = Step(row.name, row.model, frozenset(row.by | row.by_with_document), row.stops)
    withdrawal = steps.pop(DecisionName.CASE_WITHDRAWN, None)  # last: it ends the case
    return list(steps.values()) + ([withdrawal] if withdrawal else [])


def step_for(case: CaseStatus, name: str, person: Person) -> Step | None:
    """The step if the case takes it now and the person may record it."""
    return next((s for s in steps_now(case) if s.name == name and s.may_record(person)), None)


JOURNEYS: tuple[type[CaseWorkflow], ...] = (*JOURNEY_OF.values(), LocalReviewWorkflow)


def may_record_anything(person: Person, name: str | None = None) -> bool:
    """Whether any row of the journeys' decision tables (for the decision `name`, if given) names one
    of the person's roles: a viewer's never does; operations may record any."""
    roles = set(person.roles)
    if PersonRole.OPERATIONS in roles:
        return True
    rows = [row for journey in JOURNEYS for table in journey.tables() for row in table]
    return any(roles & (row.by | row.by_with_document) for row in rows if name is None or row.name == name)


def decision_model(name: str) -> type[DecisionModel] | None:
    try:
        return DECISIONS[DecisionName(name)]
    except ValueError:
        return None


def _signed(case_id: str, name: str, body: dict[str, Any], person: Person) -> Any:
    now = datetime.now(timezone.utc)
    return signing.sign(case_id, name, body, person, now, key_file=signing.console_key_file())


async def record(
    client: Client, case_id: str, name: str, body: dict[str, Any], person: Person, documents: dict[str, Path] | None = None
) -> DecisionReceipt:
    """Send the decision, signed for the signed-in person; starter.Refused with the case's reason. Its
    `documents` (field: uploaded file) are stored in the case's documents folder first, as starter.py
    `decide` stores them, and the decision carries their stored names."""
    target = await starter.decision_target(client, case_id, name)
    body = dict(body)
    for field, path in (documents or {}).items():
        try:
            body[field] = store_document(path, target)
        except ValueError as error:
            raise starter.Refused(f"{field}: {str(error).replace(str(path), path.name)}") from None
    decision = Decision(name=name, body=body, signature=_signed(case_id, name, body, person))
    return await starter.send_update(client, case_id, target, CaseWorkflow.decide, decision)


async def correct(client: Client, case_id: str, name: str, body: dict[str, Any], reason: str, person: Person) -> DecisionReceipt:
    correction = Correction(name=name, body=body, reason=reason, signature=_signed(case_id, name, body, person))
    target = await starter.decision_target(client, case_id, name)
    return await starter.send_update(client, case_id, target, CaseWorkflow.correct, correction)
