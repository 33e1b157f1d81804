"""A case sends each message once under its key, and never uses a key twice (workflows/messaging.py):
a second message under a used key is a bug in the journey, and it fails the workflow task loudly
rather than being dropped while the case says "sent"."""

from __future__ import annotations

import asyncio
import uuid
from datetime import date

from temporalio import activity, workflow
from temporalio.client import WorkflowFailureError
from temporalio.exceptions import ApplicationError
from temporalio.api.enums.v1 import EventType
from temporalio.worker import Worker

import worker
from activities.notifications import send_messages
from models.case import MessageOutcome, MessageRequest
from tests.journey import Journey, serious_incident_form
from models.case import CaseKind, CaseStatus, Stage
from models.forms import LocalAuthority
from models.messages import CaseWithdrawnNotice
from workflows.case import Case
from workflows.case_workflow import CaseWorkflow


@workflow.defn(sandboxed=False)
class SendsOneKeyTwice(CaseWorkflow):
    @workflow.init
    def __init__(self, told: str) -> None:
        self.case = Case(
            kind=CaseKind.LEARNING_REQUEST,
            local_authority=LocalAuthority.HARTLEPOOL,
            received_on=date(2026, 1, 5),
            referrer_email=None,
            stage=Stage.PARTNERSHIP_DECISION,
            details=dict,
        )
        self.open_intake()

    @workflow.run
    async def run(self, told: str) -> CaseStatus:
        await self.case.look_up_partnership()
        notice = CaseWithdrawnNotice(withdrawn_on=date(2026, 1, 5), reason=told)
        await self.case.send(notice)
        await self.case.send(notice.model_copy(update={"reason": "a second notice, same step"}))
        return self.case.status()


async def test_a_second_message_under_a_used_key_fails_the_workflow_task(env, outbox):
    task_queue = f"test-{uuid.uuid4()}"
    async with Worker(env.client, task_queue=task_queue, workflows=[SendsOneKeyTwice], activities=worker.ACTIVITIES):
        handle = await env.client.start_workflow(
            SendsOneKeyTwice.run, "first notice", id=f"LR-test-{uuid.uuid4().hex[:8]}", task_queue=task_queue
        )
        failure = None
        for _ in range(200):
            history = await handle.fetch_history()
            failed = [e for e in history.events if e.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED]
            if failed:
                failure = failed[0].workflow_task_failed_event_attributes.failure
                break
            await asyncio.sleep(0.05)
        assert failure is not None, "the second send must fail the workflow task"
        assert failure.message == "Encoded failure"  # the real message is encrypted, read through the codec
        assert "is already used by this case" in str(await env.client.data_converter.decode_failure(failure))
        sends = [
            e for e in history.events
            if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED
            and e.activity_task_scheduled_event_attributes.activity_type.name == "send_message"
        ]
        assert len(sends) == 1  # the first notice went; the second was never scheduled
        assert len(list((outbox / handle.id).glob("*.eml"))) == 1
        await handle.terminate("test over")


async def test_a_message_sent_together_failing_for_a_reason_no_message_error_names_fails_the_case_as_alone(env, outbox):
    """`send` lets an error that is not one of a message's (MESSAGE_ERRORS), e.g. a document outside the
    case's folders, fail the case; a message of the form's, sent together (release 0.5), does the same."""
    @activity.defn(name="send_messages")
    async def second_one_refused(requests: list[MessageRequest]) -> list[MessageOutcome]:
        return [
            MessageOutcome(key=r.key, refused="InvalidCase", reason="not a case id") if i == 1 else MessageOutcome(key=r.key, to=["x@example.org"])
            for i, r in enumerate(requests)
        ]

    task_queue = f"test-{uuid.uuid4()}"
    activities = [second_one_refused if a is send_messages else a for a in worker.ACTIVITIES]
    async with Worker(env.client, task_queue=task_queue, workflows=worker.WORKFLOWS, activities=activities, workflow_runner=worker.RUNNER):
        journey = Journey(env, task_queue, outbox)
        handle = await journey.start_serious_incident(serious_incident_form(await journey.today()))
        try:
            await asyncio.wait_for(handle.result(), timeout=60)  # a case that went on would wait for its DSPs
        except WorkflowFailureError as failure:
            cause = failure.cause
        else:
            raise AssertionError("the case went on")
    assert isinstance(cause, ApplicationError) and cause.type == "InvalidCase" and cause.non_retryable
    assert cause.message == "message dsp_meeting_invitation: InvalidCase"  # no case value in it
