"""Corrections (workflows/corrections.py, `starter.py correct`): a mistake put right, never hidden.

The corrected decision replaces the recorded one, the clock it closed is judged again, the original,
the correction, who and why stay in the audit, and the Business Unit is told; a correction that would
change the route is refused with what to do instead."""

from __future__ import annotations

from datetime import timedelta

import pytest
from temporalio.client import WorkflowUpdateFailedError

from models.case import Clock, DeadlineStatus, Stage
from models.decisions import Correction
from models.working_days import add_working_days, end_of_day
from register.queries import audit_trail
from tests.journey import Journey, deadline, example_decision, serious_incident_form, signed
from workflows.case_workflow import CaseWorkflow

MINUTE = timedelta(minutes=1)


async def correct(journey: Journey, handle, name: str, reason: str, **changes):
    decision = signed(handle.id, example_decision(name, **changes))
    correction = Correction(name=name, body=decision.body, reason=reason, signature=decision.signature)
    return await handle.execute_update(CaseWorkflow.correct, correction)


async def test_a_mistyped_dsp_meeting_date_is_corrected_and_the_missed_clock_becomes_met(journey):
    today = await journey.today()
    handle = await journey.start_serious_incident(serious_incident_form(today))
    due = add_working_days(today, 2)
    await journey.skip_to(end_of_day(due) + MINUTE)  # nothing recorded in time: escalated
    await journey.wait_for(handle, lambda s: deadline(s, Clock.DSP_MEETING).escalated)
    typo = add_working_days(today, 3)  # the meeting was held on time; typed a day late
    await journey.decide(handle, "dsp_decision", meeting_held_on=typo)
    status = await journey.wait_for(handle, lambda s: deadline(s, Clock.DSP_MEETING).status is DeadlineStatus.MISSED)

    receipt = await correct(journey, handle, "dsp_decision", "The meeting date was mistyped.", meeting_held_on=today)
    assert receipt.stage is Stage.PANEL_NOTIFICATION
    status = await journey.sent(handle, "decision_corrected")
    dsp = deadline(status, Clock.DSP_MEETING)
    assert (dsp.status, dsp.step_on, dsp.escalated) == (DeadlineStatus.MET, today, True)  # the escalation stays on record
    correction = status.decisions[-1]
    assert (correction.name, correction.via, correction.reason) == ("dsp_decision", "correction", "The meeting date was mistyped.")
    assert correction.replaces == 0 and correction.recorded_by == "operations@localhost"  # the verified person
    assert status.details["dsp_decision"] == "notify"

    notice = [m for m in journey.delivered(handle.id) if "was corrected" in m["Subject"]]
    assert len(notice) == 1
    body = notice[0].get_body(preferencelist=("plain",)).get_content()
    assert f"As first recorded: meeting_held_on {typo}" in body and f"As corrected: meeting_held_on {today}" in body

    await journey.wait_for(handle, lambda s: True)
    for _ in range(100):
        events = audit_trail(handle.id)
        if any(e.kind == "decision_corrected" for e in events):
            break
        await __import__("asyncio").sleep(0.05)
    kinds = [(e.kind, e.name) for e in events]
    assert ("decision_accepted", "dsp_decision") in kinds and ("decision_corrected", "dsp_decision") in kinds
    corrected = next(e for e in events if e.kind == "decision_corrected")
    assert corrected.actor == "operations@localhost" and "mistyped" in (corrected.detail or "")
    assert "meeting_held_on" in (corrected.detail or "")
    assert kinds.index(("deadline_missed", "dsp_meeting")) < kinds.index(("deadline_met", "dsp_meeting"))


@pytest.mark.parametrize(
    ("name", "changes", "reason"),
    [
        ("dsp_decision", {"decision": "do_not_notify"}, "cannot change the route (decision=notify to decision=do_not_notify)"),
        ("notification_submitted", {}, "no notification_submitted is recorded on this case"),
        ("dsp_decision", {"meeting_held_on": "2020-01-01"}, "is before the form's receipt"),
    ],
)
async def test_a_correction_that_cannot_be_is_refused_with_what_to_do(journey, name, changes, reason):
    today = await journey.today()
    handle = await journey.start_serious_incident(serious_incident_form(today - timedelta(days=3)))
    await journey.decide(handle, "dsp_decision", meeting_held_on=today)
    await journey.sent(handle, "form_to_notifier")
    before = await journey.status(handle)
    with pytest.raises(WorkflowUpdateFailedError) as refused:
        await correct(journey, handle, name, "A reason.", **changes)
    assert reason in str(refused.value.cause)
    assert (await journey.status(handle)).model_dump() == before.model_dump()


async def test_a_correction_cannot_put_a_decision_after_the_one_that_answers_it(journey):
    today = await journey.today()
    handle = await journey.start_serious_incident(serious_incident_form(today - timedelta(days=3)))
    # (a notification may precede the DSP call since issue 14, point 8: a challenge answers the meeting)
    await journey.decide(handle, "dsp_decision", decision="do_not_notify", meeting_held_on=today - timedelta(days=2))
    await journey.decide(handle, "challenge_raised", raised_on=today - timedelta(days=1))
    with pytest.raises(WorkflowUpdateFailedError) as refused:
        await correct(journey, handle, "dsp_decision", "Wrong date.", decision="do_not_notify", meeting_held_on=today)
    assert "challenge_raised" in str(refused.value.cause) and "would then come before the DSP meeting" in str(refused.value.cause)


async def test_a_repeatable_decision_is_recorded_again_not_corrected(journey):
    handle, today = await journey.notified_case()
    await journey.convene_rapid_review(handle, today)
    await journey.decide(handle, "agency_contribution_received", agency="Cleveland Police", received_on=today)
    with pytest.raises(WorkflowUpdateFailedError) as refused:
        await correct(journey, handle, "agency_contribution_received", "Wrong kind.", agency="Cleveland Police", received_on=today)
    assert "record it again instead" in str(refused.value.cause)


async def test_the_notification_date_corrected_judges_the_panel_notification_clock_again(journey):
    today = await journey.today()
    handle = await journey.start_serious_incident(serious_incident_form(today))
    await journey.decide(handle, "dsp_decision", meeting_held_on=today)
    late = add_working_days(today, 7)
    await journey.skip_to(end_of_day(late) - timedelta(hours=2))
    await journey.decide(handle, "notification_submitted", submitted_on=late)
    await journey.wait_for(handle, lambda s: deadline(s, Clock.PANEL_NOTIFICATION).status is DeadlineStatus.MISSED)
    await correct(journey, handle, "notification_submitted", "Submitted on time; typed late.", submitted_on=today)
    status = await journey.sent(handle, "decision_corrected")
    assert deadline(status, Clock.PANEL_NOTIFICATION).status is DeadlineStatus.MET
