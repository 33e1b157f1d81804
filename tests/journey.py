"""Helpers that let a test walk a case through the protocol with the example forms and decisions."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import date, datetime, timedelta, timezone
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any, Awaitable, Callable

import pytest

from temporalio.client import WorkflowHandle, WorkflowUpdateFailedError
from temporalio.service import RPCError, RPCStatusCode
from temporalio.testing import WorkflowEnvironment

from models.working_days import add_working_days
from models.case import CaseStatus, Clock, DeadlineRecord, DecisionReceipt
from models.dates import london_today
import signing
from models.decisions import Decision
from models.identity import Person
from models.forms import LearningRequestForm, SeriousIncidentForm
from workflows.case_workflow import CaseWorkflow
from workflows.learning_request import LearningRequestWorkflow
from workflows.serious_incident import SeriousIncidentWorkflow

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def example(name: str) -> dict[str, Any]:
    return json.loads((EXAMPLES / name).read_text())


def example_decision(name: str, **changes: Any) -> Decision:
    """The example file of a decision, with some fields changed (dates may be given as `date`)."""
    body = example(f"decisions/{name}.json")
    body.update({k: v.isoformat() if isinstance(v, date) else v for k, v in changes.items()})
    return Decision(name=name, body=body)


def signed(workflow_id: str, decision: Decision, person: Person = signing.OPERATIONS) -> Decision:
    """A decision signed by the test run's front door as `person`, for the case staff know (a local
    review's decisions name its case's id)."""
    case_id = workflow_id.removesuffix("-lcspr")
    signature = signing.sign(case_id, decision.name, decision.body, person, datetime.now(timezone.utc))
    return decision.model_copy(update={"signature": signature})


def serious_incident_form(received_on: date, became_aware_on: date | None = None) -> SeriousIncidentForm:
    body = example("serious-incident-form.json")
    aware = became_aware_on or received_on
    body["received_on"] = received_on.isoformat()
    body["became_aware_on"] = aware.isoformat()
    body["incident"]["date"] = aware.isoformat()
    return SeriousIncidentForm.model_validate(body)


def learning_request_form(received_on: date) -> LearningRequestForm:
    body = example("learning-request-form.json")
    body["received_on"] = received_on.isoformat()
    return LearningRequestForm.model_validate(body)


class Journey:
    def __init__(self, env: WorkflowEnvironment, task_queue: str, outbox: Path) -> None:
        self.env = env
        self.client = env.client
        self.task_queue = task_queue
        self.outbox = outbox

    async def now(self) -> datetime:
        return await self.env.get_current_time()

    async def today(self) -> date:
        return london_today(await self.now())

    async def start_serious_incident(self, form: SeriousIncidentForm) -> WorkflowHandle:
        return await self._start(SeriousIncidentWorkflow.run, form, "SI")

    async def start_learning_request(self, form: LearningRequestForm) -> WorkflowHandle:
        return await self._start(LearningRequestWorkflow.run, form, "LR")

    async def _start(self, run: Any, form: Any, prefix: str) -> WorkflowHandle:
        return await self.client.start_workflow(
            run, form, id=f"{prefix}-test-{uuid.uuid4().hex[:8]}", task_queue=self.task_queue
        )

    async def notified_case(self, received_on: date | None = None) -> tuple[WorkflowHandle, date]:
        """A serious incident decided and notified on `received_on` (today): its Rapid Review stage,
        with the 15-working-day clock running."""
        day = received_on or await self.today()
        handle = await self.start_serious_incident(serious_incident_form(day))
        await self.decide(handle, "dsp_decision", meeting_held_on=day)
        await self.decide(handle, "notification_submitted", submitted_on=day)
        await self.wait_for(handle, lambda s: deadline(s, Clock.RAPID_REVIEW_SUBMISSION) is not None)
        return handle, day

    async def convene_rapid_review(self, handle: WorkflowHandle, today: date) -> tuple[date, date]:
        """Convene the Rapid Review: the example's two agencies, contributions due in 3 working days,
        the meeting in 5; returns both dates once the agencies are asked and their clocks run."""
        due, meeting = add_working_days(today, 3), add_working_days(today, 5)
        await self.decide(handle, "rapid_review_convened", contributions_due_on=due, meeting_on=meeting)
        await self.wait_for(
            handle,
            lambda s: len([d for d in s.deadlines if d.key == Clock.AGENCY_CONTRIBUTION]) == 2
            and all(m.status == "sent" for m in s.messages),
        )
        return due, meeting

    async def at_governance(self) -> tuple[WorkflowHandle, date]:
        """A case through its Rapid Review meeting today: the Executive's decision comes next (¶4.6)."""
        handle, day = await self.notified_case()
        await self.convene_rapid_review(handle, day)
        await self.decide(handle, "rapid_review_meeting_held", held_on=day, immediate_actions=[])
        return handle, day

    async def decide(self, handle: WorkflowHandle, name: str, **changes: Any) -> DecisionReceipt:
        """Record a decision as an update, signed as the command line signs it: raises
        WorkflowUpdateFailedError if the case refuses it."""
        return await handle.execute_update(CaseWorkflow.decide, signed(handle.id, example_decision(name, **changes)))

    async def signal(self, handle: WorkflowHandle, name: str, **changes: Any) -> None:
        before = len((await self.status(handle)).decisions)
        await handle.signal(CaseWorkflow.submit_decision, signed(handle.id, example_decision(name, **changes)))
        await self.wait_for(handle, lambda s: len(s.decisions) > before)

    async def refused(self, handle: WorkflowHandle, send: Callable[[], Awaitable[Any]], reason: str) -> None:
        """`send` (an update) is refused with `reason` in its cause, and the case is as it was."""
        before = await self.status(handle)
        with pytest.raises(WorkflowUpdateFailedError) as refused:
            await send()
        assert reason in str(refused.value.cause)
        assert (await self.status(handle)).model_dump() == before.model_dump()

    async def status(self, handle: WorkflowHandle) -> CaseStatus:
        return await handle.query(CaseWorkflow.status)

    async def wait_for(
        self, handle: WorkflowHandle, check: Callable[[CaseStatus], bool], attempts: int = 200
    ) -> CaseStatus:
        """Poll the case (without moving the clock) until `check` holds; the activities run meanwhile."""
        status = None
        for _ in range(attempts):
            try:
                status = await self.status(handle)
            except RPCError as error:  # a workflow just started by another (a child, a linked case)
                if error.status is not RPCStatusCode.NOT_FOUND:
                    raise
                await asyncio.sleep(0.05)
                continue
            try:
                if check(status):
                    return status
            except AssertionError:  # e.g. a deadline not set up yet
                pass
            await asyncio.sleep(0.05)
        shown = status.model_dump_json(indent=1) if status else "(never found)"
        raise AssertionError(f"case never reached the expected state: {shown}")

    async def sent(self, handle: WorkflowHandle, *expected: str) -> CaseStatus:
        """The case once messages of each `expected` template have gone, and nothing is still queued."""
        return await self.wait_for(
            handle,
            lambda s: set(expected) <= set(templates(s)) and all(m.status == "sent" for m in s.messages),
        )

    async def skip_to(self, moment: datetime) -> None:
        """Move the time-skipping server's clock to `moment`."""
        delay = moment - await self.now()
        if delay > timedelta(0):
            await self.env.sleep(delay)

    def delivered(self, case_id: str) -> list[EmailMessage]:
        folder = self.outbox / case_id
        return [
            message_from_bytes(path.read_bytes(), policy=policy.default)  # type: ignore[misc]
            for path in sorted(folder.glob("*.eml"))
        ]


def deadline(status: CaseStatus, key: Clock) -> DeadlineRecord:
    found = [d for d in status.deadlines if d.key == key]
    assert found, f"no {key.value} deadline in {[d.key.value for d in status.deadlines]}"
    return found[0]


def templates(status: CaseStatus) -> list[str]:
    return [m.template for m in status.messages]


def messages_to(status: CaseStatus, template: str) -> list[list[str]]:
    """The recipients of each message of one template, in the order sent."""
    return [m.to for m in status.messages if m.template == template]


def local_activities(events: list[Any], activity_type: str) -> list[Any]:
    """The markers of a history's local activities of one type (the register's writes, from the patch
    `register-local-activity`): each keeps the activity's result (`details["result"]`), never its input."""
    markers = []
    for event in events:
        if not event.HasField("marker_recorded_event_attributes"):
            continue
        marker = event.marker_recorded_event_attributes
        if marker.marker_name == "core_local_activity":
            (data,) = marker.details["data"].payloads
            if json.loads(data.data)["activity_type"] == activity_type:
                markers.append(marker)
    return markers
