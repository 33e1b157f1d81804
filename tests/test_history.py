"""What a case's event history guarantees, read from the history itself.

  - replay: every journey's history replays against today's workflow code (and a changed order of
    steps is caught as nondeterminism, so a careless edit cannot reach a running case unnoticed);
  - monitoring: every timer and activity in the history carries a summary, so the Web UI's
    timeline reads like the protocol;
  - no personal data: nothing from the form reaches the case id, search attributes, event
    summaries, current details, refusal reasons, failures or logs;
  - a refused signal never fails a workflow task, and the case goes on taking decisions.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Awaitable, Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest
from google.protobuf.message import Message
from temporalio import workflow
from temporalio.api.common.v1 import Payload
from temporalio.api.enums.v1 import EventType
from temporalio.api.failure.v1 import Failure
from temporalio.api.history.v1 import HistoryEvent
from temporalio.api.sdk.v1 import WorkflowMetadata
from temporalio.client import WorkflowHandle, WorkflowHistory, WorkflowUpdateFailedError
from temporalio.common import HeaderCodecBehavior
from temporalio.worker import Replayer, UnsandboxedWorkflowRunner

import settings
import starter
from codec import ENCODING, EncryptionCodec
import worker
from models.working_days import add_working_days, end_of_day
from models.case import CaseStatus, Clock, DeadlineStatus, Role, Stage
from models.decisions import Decision
from tests.test_local_review import commissioned_case, to_final_report
from tests.journey import (
    Journey,
    deadline,
    example_decision,
    learning_request_form,
    serious_incident_form,
    signed,
    templates,
)
from models.messages import NewSeriousIncidentForm
from workflows.case_workflow import CaseWorkflow
from workflows.clocks import Watch
from workflows.serious_incident import SeriousIncidentWorkflow

MINUTE = timedelta(minutes=1)

E = EventType


# ---- reading a history ------------------------------------------------------------------------------


def events(history: WorkflowHistory, *types: int) -> list[HistoryEvent]:
    return [e for e in history.events if e.event_type in types]


# The session's converter: payloads in a history are encrypted, and read here as the Web UI reads
# them, through the codec (its codec server runs the same code).
CONVERTER = settings.data_converter()
CODEC = CONVERTER.payload_codec
assert isinstance(CODEC, EncryptionCodec)


def decrypted(payload: Payload) -> Payload:
    return CODEC.decrypt(payload)


def text(payload: Payload) -> str:
    """A payload as the Web UI shows it (decoded by the codec server): JSON decoded to text when it
    is a JSON string."""
    payload = decrypted(payload)
    raw = payload.data.decode("utf-8")
    if payload.metadata.get("encoding") == b"json/plain":
        value = json.loads(raw)
        return value if isinstance(value, str) else raw
    return raw


def summary(event: HistoryEvent) -> str:
    assert event.HasField("user_metadata") and event.user_metadata.HasField("summary"), (
        f"event {event.event_id} ({E.Name(event.event_type)}) has no summary"
    )
    return text(event.user_metadata.summary)


def activity_type(event: HistoryEvent) -> str:
    return event.activity_task_scheduled_event_attributes.activity_type.name


def activity_input(event: HistoryEvent) -> Any:
    (payload,) = event.activity_task_scheduled_event_attributes.input.payloads
    return json.loads(decrypted(payload).data)


def failures(message: Message) -> Iterator[Failure]:
    """Every Failure anywhere in a proto message (activity, workflow task, update, workflow failures)."""
    if isinstance(message, Failure):
        yield message
        return
    for field, value in message.ListFields():
        if field.message_type is None:
            continue
        if isinstance(value, Message):
            yield from failures(value)
            continue
        items = value.values() if field.message_type.GetOptions().map_entry else value
        for item in items:
            if isinstance(item, Message):
                yield from failures(item)


async def current_details(handle: WorkflowHandle) -> str:
    """What `workflow.set_current_details` last set: the Web UI reads it through this built-in query."""
    metadata = await handle.query("__temporal_workflow_metadata", result_type=WorkflowMetadata)
    return metadata.current_details


# Replayed under the strict sandbox, which re-imports every module of workflows/ and so refuses a clock,
# file or environment read in any of them, the parts the worker shares between runs included (worker.py).
REPLAYER = Replayer(
    workflows=worker.WORKFLOWS,
    data_converter=CONVERTER,
    workflow_runner=worker.STRICT_SANDBOX,
    header_codec_behavior=HeaderCodecBehavior.CODEC,
)


def test_the_replays_check_the_workflows_which_the_worker_runs_unsandboxed():
    passed_through = {m for m in worker.STRICT_SANDBOX.restrictions.passthrough_modules if m.split(".")[0] == "workflows"}
    assert isinstance(worker.RUNNER, UnsandboxedWorkflowRunner), "the worker runs workflows/ unsandboxed (worker.py)"
    assert not passed_through, "the replays re-import workflows/, so the sandbox checks its every call"
    assert REPLAYER.config()["workflow_runner"] is worker.STRICT_SANDBOX


# ---- journeys, each ending in a history worth replaying ----------------------------------------------


async def notify_with_a_missed_deadline_escalated(journey: Journey) -> WorkflowHandle:
    """Notify path to panel_acknowledged; the DSP clock runs out first (reminders, escalation)."""
    today = await journey.today()
    handle = await journey.start_serious_incident(serious_incident_form(today))
    await journey.sent(handle, "new_serious_incident_form", "dsp_meeting_invitation")
    await journey.skip_to(end_of_day(add_working_days(today, 2)) + MINUTE)
    await journey.wait_for(handle, lambda s: deadline(s, Clock.DSP_MEETING).escalated)
    await journey.sent(handle, "deadline_reminder", "deadline_escalation")
    await journey.decide(handle, "dsp_decision", meeting_held_on=today)
    await journey.sent(handle, "form_to_notifier")
    await journey.decide(handle, "notification_submitted", submitted_on=await journey.today())
    await journey.wait_for(
        handle, lambda s: deadline(s, Clock.RAPID_REVIEW_SUBMISSION).status is DeadlineStatus.OPEN
    )
    await journey.decide(handle, "panel_acknowledged", received_on=await journey.today())
    status = await journey.sent(handle)
    assert status.stage is Stage.RAPID_REVIEW and status.details["panel_acknowledged_on"]
    assert deadline(status, Clock.DSP_MEETING).escalated
    return handle


async def do_not_notify_challenged_and_changed(journey: Journey) -> WorkflowHandle:
    """Do not notify, challenged (by signal), the decision changed, then notified (¶2.7)."""
    today = await journey.today()
    handle = await journey.start_serious_incident(serious_incident_form(today))
    await journey.decide(handle, "dsp_decision", decision="do_not_notify", meeting_held_on=today)
    await journey.sent(handle, "rationale_to_referrer")
    await journey.signal(handle, "challenge_raised", raised_on=today)
    await journey.sent(handle, "dispute_route")
    await journey.decide(handle, "challenge_resolved", resolved_on=today, outcome="decision_changed")
    await journey.sent(handle, "challenge_outcome", "form_to_notifier")
    await journey.decide(handle, "notification_submitted", submitted_on=today)
    status = await journey.wait_for(
        handle, lambda s: deadline(s, Clock.RAPID_REVIEW_SUBMISSION).status is DeadlineStatus.OPEN
    )
    assert status.stage is Stage.RAPID_REVIEW
    return handle


async def withdrawn(journey: Journey) -> WorkflowHandle:
    today = await journey.today()
    handle = await journey.start_serious_incident(serious_incident_form(today))
    await journey.decide(handle, "dsp_decision", meeting_held_on=today)
    await journey.sent(handle, "form_to_notifier")
    await journey.decide(handle, "case_withdrawn", withdrawn_on=today)
    assert (await handle.result()).stage is Stage.WITHDRAWN
    return handle


async def learning_review_held(journey: Journey) -> WorkflowHandle:
    today = await journey.today()
    handle = await journey.start_learning_request(learning_request_form(today))
    await journey.decide(handle, "learning_request_decision", decided_on=today)
    await journey.sent(handle, "learning_review_convened")
    await journey.decide(handle, "learning_review_completed", completed_on=today)
    await journey.sent(handle, "learning_review_completed")
    await journey.decide(handle, "recommendation_updated", id="L1", updated_on=today)
    final = await handle.result()
    assert final.stage is Stage.CLOSED and "learning_review_completed" in templates(final)
    return handle


async def no_learning_review(journey: Journey) -> WorkflowHandle:
    today = await journey.today()
    handle = await journey.start_learning_request(learning_request_form(today))
    await journey.signal(handle, "learning_request_decision", decided_on=today, decision="no_review")
    final = await handle.result()
    assert final.stage is Stage.CLOSED and "learning_request_rationale" in templates(final)
    return handle


async def rapid_review_to_the_panels_response(journey: Journey) -> WorkflowHandle:
    """Notified, the Rapid Review convened and held, no local review, the Panel disagrees (¶4)."""
    handle, today = await journey.notified_case()
    await journey.convene_rapid_review(handle, today)
    await journey.decide(handle, "agency_contribution_received", agency="Cleveland Police", received_on=today)
    await journey.skip_to(end_of_day(add_working_days(today, 3)) + MINUTE)  # the trust's contribution is missed
    held_on = await journey.today()
    await journey.decide(handle, "rapid_review_meeting_held", held_on=held_on, recommendation="no_review")
    await journey.decide(handle, "executive_decision", decided_on=held_on, commission_lcspr=False)
    await journey.decide(handle, "chair_sign_off", signed_on=held_on)
    await journey.wait_for(handle, lambda s: deadline(s, Clock.PANEL_RESPONSE) is not None)
    await journey.decide(handle, "panel_response", received_on=held_on, agrees=False)
    await journey.sent(handle, "panel_disagrees")
    await journey.decide(handle, "executive_reconsidered", decided_on=held_on, commission_lcspr=False)
    final = await handle.result()
    assert final.stage is Stage.CLOSED and "panel_disagrees" in templates(final)
    return handle


async def local_review_published(journey: Journey) -> WorkflowHandle:
    """A local review (the child workflow) from commissioning to published (¶5)."""
    _, review, today = await commissioned_case(journey)
    await to_final_report(journey, review, today, today + timedelta(days=400))
    publication_on = add_working_days(today, 10)
    await journey.decide(review, "publication_scheduled", publication_on=publication_on)
    await journey.sent(review, "publication_copies")
    await journey.skip_to(end_of_day(publication_on) - timedelta(hours=6))
    await journey.decide(review, "published", published_on=publication_on)
    await journey.wait_for(review, lambda s: deadline(s, Clock.PUBLIC_UNTIL) is not None)
    await journey.decide(review, "recommendation_updated", id="R1", status="completed", updated_on=publication_on)
    return review


async def case_closed_through_its_local_review(journey: Journey) -> tuple[WorkflowHandle, WorkflowHandle]:
    """A case whose local review is published and public for a year: both close (¶4.9, ¶5)."""
    case, review, today = await commissioned_case(journey)
    await journey.decide(case, "chair_sign_off", signed_on=today)
    await journey.wait_for(case, lambda s: deadline(s, Clock.PANEL_RESPONSE) is not None)
    await journey.decide(case, "panel_response", received_on=today)
    await to_final_report(journey, review, today, today + timedelta(days=30))
    publication_on = add_working_days(today, 10)
    await journey.decide(review, "publication_scheduled", publication_on=publication_on)
    await journey.sent(review, "publication_copies")
    await journey.skip_to(end_of_day(publication_on) - timedelta(hours=6))
    await journey.decide(review, "published", published_on=publication_on)
    await journey.wait_for(review, lambda s: deadline(s, Clock.PUBLIC_UNTIL) is not None)
    await journey.decide(review, "recommendation_updated", id="R1", status="completed", updated_on=publication_on)
    await journey.skip_to(end_of_day(publication_on + timedelta(days=370)))
    final = await case.result()
    assert final.stage is Stage.CLOSED and (await review.result()).stage is Stage.CLOSED
    return case, review


JOURNEYS: dict[str, Callable[[Journey], Awaitable[WorkflowHandle]]] = {
    "local review published": local_review_published,
    "rapid review to the Panel's response": rapid_review_to_the_panels_response,
    "notify, DSP deadline missed and escalated, panel acknowledged": notify_with_a_missed_deadline_escalated,
    "do not notify, challenged, decision changed": do_not_notify_challenged_and_changed,
    "withdrawn": withdrawn,
    "learning request: learning review held": learning_review_held,
    "learning request: no learning review": no_learning_review,
}


# ---- 1. replay --------------------------------------------------------------------------------------


@pytest.mark.parametrize("walk", JOURNEYS.values(), ids=JOURNEYS.keys())
async def test_every_journey_replays_against_the_current_code(journey, walk):
    handle = await walk(journey)
    history = await handle.fetch_history()
    # The history has what makes replay worth doing: activities, a workflow task per decision.
    assert events(history, E.EVENT_TYPE_ACTIVITY_TASK_COMPLETED)
    assert events(history, E.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_COMPLETED, E.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED)
    assert not events(history, E.EVENT_TYPE_WORKFLOW_TASK_FAILED)

    result = await REPLAYER.replay_workflow(history, raise_on_replay_failure=True)
    assert result.replay_failure is None


async def test_the_missed_deadline_history_replays_its_fired_timers(journey):
    handle = await notify_with_a_missed_deadline_escalated(journey)
    history = await handle.fetch_history()
    fired = events(history, E.EVENT_TYPE_TIMER_FIRED)
    assert len(fired) == 3  # two reminders and the deadline itself
    await REPLAYER.replay_workflow(history)


# A careless edit: the Business Unit is told of the form before the DSP clock is computed. Same
# activities, other order: a case started before the edit must not silently replay onto it.
# Not sandboxed: the sandbox would re-import this test module (and pytest's world) for it; the
# nondeterminism check is the SDK core's, sandbox or not.
@workflow.defn(name="SeriousIncidentWorkflow", sandboxed=False)
class TellsTheBusinessUnitFirst(SeriousIncidentWorkflow):
    @workflow.run
    async def run(self, *submitted: Any) -> CaseStatus:
        return await super().run(*submitted)

    async def receive_form(self) -> None:
        await self.case.look_up_partnership()
        await self.case.send(NewSeriousIncidentForm(received_on=self.form.received_on, dsp_due_on=self.form.received_on, dsp_rule="-"))
        await self.case.clocks.start(Clock.DSP_MEETING, self.form.received_on, Watch(remind=[Role.BUSINESS_UNIT]))


async def test_replay_catches_steps_taken_in_another_order(journey):
    handle = await do_not_notify_challenged_and_changed(journey)
    history = await handle.fetch_history()
    await REPLAYER.replay_workflow(history)  # today's code: fine

    altered = Replayer(
        workflows=[TellsTheBusinessUnitFirst],
        data_converter=CONVERTER,
        workflow_runner=worker.STRICT_SANDBOX,
    )
    with pytest.raises(workflow.NondeterminismError):
        await altered.replay_workflow(history, raise_on_replay_failure=True)
    result = await altered.replay_workflow(history, raise_on_replay_failure=False)
    assert isinstance(result.replay_failure, workflow.NondeterminismError)


# ---- 2. monitoring ------------------------------------------------------------------------------------

# What the summary of each message must name: the protocol paragraph, or the clock behind it.
MESSAGE_SUMMARIES = {
    "new_serious_incident_form": "¶2.5",
    "dsp_meeting_invitation": "¶2.6",
    "form_to_notifier": "¶2.6",
    "rationale_to_referrer": "¶2.7",
    "dispute_route": "¶2.7",
    "challenge_outcome": "¶2.7",
    "new_learning_request": "¶3.1",
    "learning_review_convened": "¶3.2",
    "learning_request_rationale": "¶3.2",
    "learning_review_completed": "¶3.2",
    "deadline_reminder": "Reminder",
    "deadline_escalation": "Escalation",
    "case_withdrawn": "withdrawn",
    "rapid_review_details": "¶4.3",
    "contribution_request": "¶4.3",
    "immediate_actions": "¶4.5",
    "report_to_executive": "¶4.6",
    "report_to_national_panel": "¶4.9",
    "panel_disagrees": "¶4.9",
    "lcspr_contribution_request": "¶5.3",
    "publication_copies": "¶5.5",
    "public_until_reached": "reached",
    "entered_after_the_fact": "already past",
}
# A deadline's timers say which reminder or the deadline itself; the summary of a case entered after
# the fact says so; any other timer names its paragraph.
TIMER_SUMMARY = re.compile(r"^(Reminder \d+|Deadline): \S|^Entered after the fact: \S|^¶\d+\.\d+ \S")


async def missed_then_withdrawn(journey: Journey) -> WorkflowHandle:
    handle = await notify_with_a_missed_deadline_escalated(journey)
    await journey.decide(handle, "case_withdrawn", withdrawn_on=await journey.today())
    await handle.result()
    return handle


async def challenge_window_runs_out(journey: Journey) -> WorkflowHandle:
    today = await journey.today()
    handle = await journey.start_serious_incident(serious_incident_form(today))
    await journey.decide(handle, "dsp_decision", decision="do_not_notify", meeting_held_on=today)
    await journey.sent(handle, "rationale_to_referrer")
    await journey.skip_to(end_of_day(add_working_days(today, 10)) + MINUTE)
    await journey.sent(handle, "challenge_window_ended")  # the Business Unit closes it (issue 14, point 2)
    await journey.decide(handle, "case_closed", closed_on=await journey.today())
    assert (await handle.result()).stage is Stage.CLOSED
    return handle


# The same journeys, less two the others cover, plus the ones whose timers only a clock running out shows.
MONITORED = {
    name: walk for name, walk in JOURNEYS.items()
    if name not in ("notify, DSP deadline missed and escalated, panel acknowledged", "withdrawn")
} | {
    "notify, missed, escalated, withdrawn": missed_then_withdrawn,
    "do not notify, no challenge": challenge_window_runs_out,
}


@pytest.mark.parametrize("walk", MONITORED.values(), ids=MONITORED.keys())
async def test_every_timer_and_activity_has_a_summary_naming_the_protocol(journey, walk):
    handle = await walk(journey)
    history = await handle.fetch_history()
    scheduled = events(history, E.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED)
    timers = events(history, E.EVENT_TYPE_TIMER_STARTED)
    assert scheduled
    for event in scheduled + timers:
        assert summary(event).strip(), f"event {event.event_id} has an empty summary"

    for event in scheduled:
        kind, said = activity_type(event), summary(event)
        if kind == "send_message":
            template = activity_input(event)["template"]
            # A message not in the table (a later stage's) names its paragraph at least.
            assert MESSAGE_SUMMARIES.get(template, "¶") in said, f"{template}: {said!r}"
        elif kind == "send_messages":  # a step's messages together (release 0.5): each one's summary, in order
            templates = [request["template"] for request in activity_input(event)]
            parts = said.split("; ")
            assert len(parts) == len(templates) > 1, said
            assert all(MESSAGE_SUMMARIES.get(t, "¶") in part for t, part in zip(templates, parts)), said
        elif kind == "compute_deadline":
            clock = activity_input(event)["clock"]
            assert said.startswith("Calendar: ") and clock in said, said
        elif kind == "look_up_partnership":
            assert "¶2.5" in said, said
        elif kind == "record_events":
            assert re.fullmatch(r"Case register: \d+ event\(s\)", said), said
        else:
            assert "¶" in said, f"{kind}: {said!r}"

    for event in timers:
        assert TIMER_SUMMARY.match(summary(event)), summary(event)


async def test_the_statutory_steps_read_like_the_protocol_in_the_timeline(journey):
    handle = await missed_then_withdrawn(journey)
    history = await handle.fetch_history()
    # the activities the server runs, and those the worker runs in its workflow tasks (a marker each)
    # (the messages of one step sent together, from release 0.5, are one activity: each its own step here)
    activities = [
        step
        for e in events(history, E.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED, E.EVENT_TYPE_MARKER_RECORDED)
        if e.event_type == E.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED
        or e.marker_recorded_event_attributes.marker_name == "core_local_activity"
        for step in summary(e).split("; ")
    ]
    timers = [summary(e) for e in events(history, E.EVENT_TYPE_TIMER_STARTED)]
    assert "¶2.6 Forward the form to the LA Serious Incident Notifier" in activities
    assert "¶2.5 Tell the Business Unit of the new form" in activities
    assert "Escalation: DSP teleconference and decision missed" in activities
    assert any(s.startswith("Reminder 1: DSP teleconference and decision due ") for s in activities)
    assert {
        "Reminder 1: DSP teleconference and decision",
        "Reminder 2: DSP teleconference and decision",
        "Deadline: DSP teleconference and decision",
        "Reminder 1: LA notification to the National Panel",
        "Reminder 1: Rapid Review submitted to the National Panel",
    } <= set(timers)
    # The order in the timeline is the protocol's.
    first = {s: i for i, s in reversed(list(enumerate(activities)))}
    assert (
        first["Routing: the partnership serving this authority (¶2.5)"]
        < first["¶2.5 Tell the Business Unit of the new form"]
        < first["¶2.6 Invite the Independent Scrutineer to the DSP teleconference"]
        < first["Escalation: DSP teleconference and decision missed"]
        < first["¶2.6 Forward the form to the LA Serious Incident Notifier"]
        < first["Tell the Business Unit the case is withdrawn"]
    )


# ---- 3. no personal data -----------------------------------------------------------------------------


def personal_values(form) -> list[str]:
    values = [
        form.child.reference,
        form.child.date_of_birth.isoformat(),
        form.referrer.name,
        form.referrer.email,
        form.referrer.phone,
        form.incident.summary,
    ]
    assert all(values) and "Child A" in values and "Alex Practitioner" in values
    return values


def leaks(where: str, found: str, values: list[str]) -> list[str]:
    return [f"{where}: {value!r} in {found!r}" for value in values if value.lower() in found.lower()]


def logged(record: logging.LogRecord) -> str:
    """All a log handler could write of a record: message, traceback and extra fields."""
    return logging.Formatter().format(record) + str(record.__dict__)


async def test_no_personal_data_outside_the_form_itself(journey, tmp_path, monkeypatch, caplog, capfd):
    caplog.set_level(logging.INFO, logger="temporalio")
    caplog.set_level(logging.INFO)
    today = await journey.today()
    form = serious_incident_form(today)
    personal = personal_values(form)

    # Started as staff start it: the command line, from the form's JSON file.
    form_file = tmp_path / "form.json"
    form_file.write_text(form.model_dump_json())

    async def connect():
        return journey.client

    monkeypatch.setattr(settings, "connect", connect)
    monkeypatch.setattr(settings, "TASK_QUEUE", journey.task_queue)
    started = await starter.launch("serious-incident", str(form_file))
    handle = journey.client.get_workflow_handle(started["case_id"])

    found: list[str] = leaks("case id", handle.id, personal) + leaks("launch output", json.dumps(started), personal)
    details: list[str] = []

    async def look() -> None:
        details.append(await current_details(handle))

    # Through the journey, with refusals on the way that carry the form's values.
    await journey.sent(handle, "new_serious_incident_form", "dsp_meeting_invitation")
    await look()
    dsp, challenge = example_decision("dsp_decision").body, example_decision("challenge_raised").body
    refused_signals = [
        Decision(name="dsp_decision", body={**dsp, "decision": form.child.reference}),  # not a choice
        Decision(name="challenge_raised", body={**challenge, "grounds": form.incident.summary}),  # wrong stage
        Decision(name="dsp_decision", body={**dsp, "recorded_by": form.referrer.name}),  # not an e-mail
    ]
    for decision in refused_signals:
        await handle.signal(CaseWorkflow.submit_decision, decision)
    status = await journey.wait_for(handle, lambda s: len(s.decisions) == len(refused_signals))
    reasons = [d.reason or "" for d in status.decisions]
    assert not any(d.accepted for d in status.decisions) and all(reasons)
    found += [leak for reason in reasons for leak in leaks("refusal reason", reason, personal)]

    tomorrow = (today + timedelta(days=1)).isoformat()
    with pytest.raises(WorkflowUpdateFailedError) as refused:
        await handle.execute_update(
            CaseWorkflow.decide,
            Decision(
                name="dsp_decision",
                body={**dsp, "rationale": form.incident.summary, "meeting_held_on": tomorrow},
            ),
        )
    found += leaks("update refusal", str(refused.value.cause), personal)

    await journey.decide(handle, "dsp_decision", decision="do_not_notify", meeting_held_on=today)
    await journey.sent(handle, "rationale_to_referrer")
    await look()
    await journey.decide(handle, "challenge_raised", raised_on=today)
    await journey.decide(handle, "challenge_resolved", resolved_on=today, outcome="decision_changed")
    await journey.sent(handle, "challenge_outcome", "form_to_notifier")
    await look()
    await journey.skip_to(end_of_day(add_working_days(today, 5)) + MINUTE)
    await journey.wait_for(handle, lambda s: deadline(s, Clock.PANEL_NOTIFICATION).escalated)
    await journey.sent(handle, "deadline_escalation")
    await look()
    await journey.decide(handle, "notification_submitted", submitted_on=await journey.today())
    await journey.wait_for(
        handle, lambda s: deadline(s, Clock.RAPID_REVIEW_SUBMISSION).status is DeadlineStatus.OPEN
    )
    await look()
    await journey.decide(handle, "case_withdrawn", withdrawn_on=await journey.today())
    await handle.result()
    await look()

    history = await handle.fetch_history()
    # The form is in the history where it belongs, the workflow's input, encrypted: the search below
    # would see it through the codec, and nothing of it is there without.
    (started,) = events(history, E.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED)
    started_with = started.workflow_execution_started_event_attributes
    (form_payload,) = started_with.input.payloads
    assert form_payload.metadata["encoding"] == ENCODING
    assert not leaks("input", form_payload.data.decode(errors="replace"), personal)
    assert leaks("input", decrypted(form_payload).data.decode(), personal)

    upserts = events(history, E.EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES)
    assert len(upserts) >= 5
    searchable = [(started.event_id, started_with.search_attributes)] + [
        (e.event_id, e.upsert_workflow_search_attributes_event_attributes.search_attributes) for e in upserts
    ]
    for event_id, attributes in searchable:
        for name, payload in attributes.indexed_fields.items():
            found += leaks(f"search attribute {name} (event {event_id})", payload.data.decode(), personal)

    with_metadata = [e for e in history.events if e.HasField("user_metadata")]
    assert len(with_metadata) > 10
    for event in with_metadata:
        for part in (event.user_metadata.summary, event.user_metadata.details):
            if part.ByteSize():
                found += leaks(f"user metadata of event {event.event_id}", text(part), personal)

    for event in history.events:
        for failure in failures(event):
            found += leaks(f"failure in event {event.event_id}", str(failure), personal)
            if failure.HasField("encoded_attributes"):  # message and stack trace, through the codec
                shown = decrypted(failure.encoded_attributes).data.decode()
                found += leaks(f"failure in event {event.event_id}", shown, personal)

    # What the Web UI showed along the way: stages and clocks, and nothing else.
    assert [d.splitlines()[0] for d in details] == [
        f"**Stage:** {stage}"
        for stage in (
            "dsp_meeting",
            "challenge_window",
            "panel_notification",
            "panel_notification",
            "rapid_review",
            "withdrawn",
        )
    ]
    assert "LA notification to the National Panel" in details[2] and "missed" in details[3]
    for shown in details:
        found += leaks("current details", shown, personal)

    records = [r for r in caplog.records if r.name.startswith("temporalio")]
    assert any("delivered" in r.getMessage() for r in records), "the worker's logs were not captured"
    for record in caplog.records:
        found += leaks(f"log {record.name}", logged(record), personal)
    out, err = capfd.readouterr()
    found += leaks("worker output", out + err, personal)

    assert not found, "\n".join(found)


# ---- 4. a refused signal never fails the workflow -----------------------------------------------------


async def test_refused_signals_never_fail_a_workflow_task(journey):
    today = await journey.today()
    handle = await journey.start_serious_incident(serious_incident_form(today))
    await journey.sent(handle, "new_serious_incident_form", "dsp_meeting_invitation")

    garbage = [
        Decision(name="dsp_decision", body={"nonsense": 1}),
        Decision(name="no_such_decision", body={}),
        example_decision("notification_submitted"),  # valid, dated before the LA became aware
        example_decision("dsp_decision", meeting_held_on=today + timedelta(days=1)),  # in the future
        example_decision("dsp_decision", meeting_held_on=today - timedelta(days=30)),  # before the form
    ]
    for decision in garbage:
        await handle.signal(CaseWorkflow.submit_decision, decision)
    status = await journey.wait_for(handle, lambda s: len(s.decisions) == len(garbage))
    assert [(d.name, d.accepted, d.via) for d in status.decisions] == [
        (d.name, False, "signal") for d in garbage
    ]
    reasons = [d.reason or "" for d in status.decisions]
    assert "nonsense" in reasons[0] and "unknown decision 'no_such_decision'" in reasons[1]
    assert "before the LA becoming aware" in reasons[2]
    assert "future" in reasons[3] and "before the form's receipt" in reasons[4]
    assert status.stage is Stage.DSP_MEETING

    history = await handle.fetch_history()
    assert len(events(history, E.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED)) == len(garbage)
    assert not events(history, E.EVENT_TYPE_WORKFLOW_TASK_FAILED)

    # The case still takes a valid decision, and the journey goes on from it.
    receipt = await journey.decide(handle, "dsp_decision", meeting_held_on=today)
    assert receipt.stage is Stage.PANEL_NOTIFICATION
    status = await journey.sent(handle, "form_to_notifier")
    assert [d.accepted for d in status.decisions] == [False] * len(garbage) + [True]
    await journey.signal(handle, "notification_submitted", submitted_on=today)
    status = await journey.wait_for(handle, lambda s: s.stage is Stage.RAPID_REVIEW)
    assert status.decisions[-1].accepted and status.decisions[-1].via == "signal"

    history = await handle.fetch_history()
    assert not events(history, E.EVENT_TYPE_WORKFLOW_TASK_FAILED)
    await REPLAYER.replay_workflow(history)


async def test_a_signal_that_is_not_a_decision_is_refused_on_the_record_and_never_logged(journey, caplog):
    caplog.set_level(logging.INFO)
    today = await journey.today()
    form = serious_incident_form(today)
    personal = personal_values(form)
    handle = await journey.start_serious_incident(form)
    await journey.sent(handle, "new_serious_incident_form", "dsp_meeting_invitation")

    # e.g. `temporal workflow signal --name submit_decision --input '...'` with the wrong JSON
    await handle.signal(CaseWorkflow.submit_decision, {"name": "dsp_decision", "body": form.incident.summary})
    await handle.signal(CaseWorkflow.submit_decision, form.child.reference)
    await handle.signal(CaseWorkflow.submit_decision, signed(handle.id, example_decision("dsp_decision", meeting_held_on=today)))
    status = await journey.wait_for(handle, lambda s: any(d.accepted for d in s.decisions))

    history = await handle.fetch_history()
    assert not events(history, E.EVENT_TYPE_WORKFLOW_TASK_FAILED)
    found = [leak for record in caplog.records for leak in leaks(f"log {record.name}", logged(record), personal)]
    found += [leak for d in status.decisions for leak in leaks("refusal reason", d.reason or "", personal)]
    assert not found, "\n".join(found)
    assert [(d.accepted, d.via) for d in status.decisions] == [(False, "signal")] * 2 + [(True, "signal")]
