"""A wrong, late, early or malformed decision gets a clear reason and changes nothing."""

from __future__ import annotations

from datetime import timedelta

import pytest
from temporalio.client import WorkflowUpdateFailedError
from temporalio.service import RPCError

from models.case import CaseStatus, Stage
from models.decisions import Decision
from tests.journey import serious_incident_form
from workflows.case_workflow import CaseWorkflow


def unchanged(before: CaseStatus, after: CaseStatus) -> bool:
    return before.model_dump() == after.model_dump()


async def refused_update(journey, handle, name: str, **changes) -> str:
    """Send a decision as an update; return the case's reason for refusing it."""
    with pytest.raises(WorkflowUpdateFailedError) as refused:
        await journey.decide(handle, name, **changes)
    return str(refused.value.cause)


async def case_at_panel_notification(journey):
    today = await journey.today()
    handle = await journey.start_serious_incident(serious_incident_form(today))
    await journey.decide(handle, "dsp_decision", meeting_held_on=today)
    await journey.sent(handle, "form_to_notifier")
    return handle, today


@pytest.mark.parametrize(
    "name, changes, reason",
    [
        ("challenge_raised", {}, "raised_on (2025-12-30) is before the DSP meeting"),  # taken here since issue 14
        ("panel_acknowledged", {}, "panel_acknowledged is not expected at stage panel_notification"),
        ("dsp_decision", {}, "dsp_decision is already recorded on this case"),
        ("learning_request_decision", {}, "learning_request_decision is not expected at stage panel_notification"),
        ("notification_submitted", {"csons_reference": ""}, "csons_reference: String should have at least 1 character"),
        ("notification_submitted", {"submitted_on": "29/12/2025"}, "submitted_on: Input should be a valid date"),
        ("notification_submitted", {"recorded_by": None}, "recorded_by: Input should be a valid string"),
        ("notification_submitted", {"recorded_by": "nobody"}, "recorded_by: value is not a valid email address"),
        ("publication_scheduled", {}, "publication_scheduled is not expected at stage panel_notification"),
        ("no_such_decision", {}, "unknown decision 'no_such_decision'"),
    ],
)
async def test_wrong_stage_duplicate_or_invalid_decisions_are_refused(journey, name, changes, reason):
    handle, _ = await case_at_panel_notification(journey)
    before = await journey.status(handle)
    if name == "no_such_decision":
        with pytest.raises(WorkflowUpdateFailedError) as refused:
            await handle.execute_update(CaseWorkflow.decide, Decision(name=name, body={}))
        message = str(refused.value.cause)
    else:
        message = await refused_update(journey, handle, name, **changes)
    assert reason in message
    assert unchanged(before, await journey.status(handle))


async def test_a_decision_dated_in_the_future_is_refused(journey):
    handle, today = await case_at_panel_notification(journey)
    before = await journey.status(handle)
    tomorrow = today + timedelta(days=1)
    message = await refused_update(journey, handle, "notification_submitted", submitted_on=tomorrow)
    assert f"submitted_on: cannot be in the future (today is {today})" in message
    assert unchanged(before, await journey.status(handle))


async def test_a_decision_dated_before_the_step_it_answers_is_refused(journey):
    handle, today = await case_at_panel_notification(journey)
    before = await journey.status(handle)
    message = await refused_update(
        journey, handle, "notification_submitted", submitted_on=today - timedelta(days=1)
    )
    # a notification may precede the DSP call (issue 14, point 8), never the LA's awareness
    assert "submitted_on" in message and "is before the LA becoming aware" in message
    assert unchanged(before, await journey.status(handle))

    today_form = serious_incident_form(today)
    other = await journey.start_serious_incident(today_form)
    message = await refused_update(journey, other, "dsp_decision", meeting_held_on=today - timedelta(days=1))
    assert "meeting_held_on" in message and "is before the form's receipt" in message


async def test_a_refused_signal_is_kept_with_its_reason_and_changes_nothing_else(journey):
    handle, today = await case_at_panel_notification(journey)
    before = await journey.status(handle)
    await journey.signal(handle, "challenge_raised", raised_on=today)
    after = await journey.status(handle)
    assert after.stage is Stage.PANEL_NOTIFICATION
    refused = after.decisions[-1]
    assert (refused.name, refused.accepted, refused.via) == ("challenge_raised", False, "signal")
    assert "a referrer challenges a decision not to notify" in (refused.reason or "")
    assert after.deadlines == before.deadlines and after.messages == before.messages

    # The case is not wedged: the right decision, by signal, is taken.
    await journey.signal(handle, "notification_submitted", submitted_on=today)
    status = await journey.wait_for(handle, lambda s: s.stage is Stage.RAPID_REVIEW)
    assert [(d.name, d.accepted) for d in status.decisions] == [
        ("dsp_decision", True),
        ("challenge_raised", False),
        ("notification_submitted", True),
    ]


async def test_a_closed_case_takes_no_more_decisions(journey):
    today = await journey.today()
    handle = await journey.start_serious_incident(serious_incident_form(today))
    await journey.decide(handle, "dsp_decision", decision="do_not_notify", meeting_held_on=today)
    await journey.decide(handle, "challenge_raised", raised_on=today)
    await journey.decide(handle, "challenge_resolved", resolved_on=today)
    final = await handle.result()
    assert final.stage is Stage.CLOSED
    with pytest.raises((WorkflowUpdateFailedError, RPCError)):  # the ended case no longer answers
        await journey.decide(handle, "case_withdrawn", withdrawn_on=today)
