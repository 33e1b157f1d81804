"""Corrections (workflows/corrections.py, `starter.py correct`): a mistake put right, never hidden.

The corrected decision replaces the recorded one, the clock it closed is judged again, the original,
the correction, who and why stay in the audit, and the Business Unit is told; a correction that would
change the route is refused with what to do instead."""

from __future__ import annotations

from datetime import timedelta

import pytest
from temporalio.client import WorkflowUpdateFailedError

from models.case import Clock, DeadlineStatus, Stage
from models.decisions import FORM, Correction, Decision
from models.working_days import add_working_days, end_of_day
from register.queries import audit_trail
from tests.journey import Journey, deadline, example_decision, messages_to, serious_incident_form, signed
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
    from tests.test_local_review import commissioned_case, to_final_report

    case, review, today = await commissioned_case(journey)
    await to_final_report(journey, review, today, today + timedelta(days=400))
    await journey.decide(review, "publication_scheduled", publication_on=add_working_days(today, 30))
    with pytest.raises(WorkflowUpdateFailedError) as refused:
        await correct(journey, review, "publication_scheduled", "Wrong date.", publication_on=add_working_days(today, 31))
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


def corrected_notices(journey: Journey, case_id: str):
    return [m for m in journey.delivered(case_id) if "was corrected" in m["Subject"]]


async def test_the_notification_date_corrected_moves_the_rapid_review_clock_it_started(journey):
    handle, today = await journey.notified_case()
    await journey.convene_rapid_review(handle, today)
    status = await journey.status(handle)
    before = deadline(status, Clock.RAPID_REVIEW_SUBMISSION)
    assert before.due_on == add_working_days(today, 15)
    panel = messages_to(status, "rapid_review_details")[0]

    later = add_working_days(today, 2)  # submitted two working days after the day typed
    await journey.skip_to(end_of_day(add_working_days(today, 3)) - timedelta(hours=6))
    await correct(journey, handle, "notification_submitted", "The submission date was mistyped.", submitted_on=later)
    status = await journey.sent(handle, "decision_corrected")
    moved = deadline(status, Clock.RAPID_REVIEW_SUBMISSION)
    assert (moved.starts_on, moved.due_on, moved.status) == (later, add_working_days(later, 15), DeadlineStatus.OPEN)
    # those the notification's date reached (the Rapid Review panel's details) hear of the correction
    assert set(panel) <= set(messages_to(status, "decision_corrected")[0])
    (notice,) = corrected_notices(journey, handle.id)
    assert "deadlines it closed or started have been judged again" in notice.get_body(preferencelist=("plain",)).get_content()

    # the moved deadline is watched to its new end: missed then, escalated under its own key
    await journey.skip_to(end_of_day(moved.due_on) + MINUTE)
    status = await journey.sent(handle, "deadline_escalation")
    escalated = deadline(status, Clock.RAPID_REVIEW_SUBMISSION)
    assert (escalated.status, escalated.escalated) == (DeadlineStatus.MISSED, True)
    assert any(m.key.endswith("escalation/rapid_review_submission/moved-1") for m in status.messages)
    for _ in range(100):
        kinds = [(e.kind, e.name) for e in audit_trail(handle.id)]
        if ("deadline_missed", "rapid_review_submission") in kinds:
            break
        await __import__("asyncio").sleep(0.05)
    assert ("deadline_moved", "rapid_review_submission") in kinds


async def test_a_missed_deadline_moved_to_a_later_end_by_a_correction_is_open_again(journey):
    handle, today = await journey.notified_case()
    await journey.skip_to(end_of_day(add_working_days(today, 15)) + MINUTE)
    await journey.wait_for(handle, lambda s: deadline(s, Clock.RAPID_REVIEW_SUBMISSION).escalated)
    # the notification really went later than recorded: the Rapid Review clock ran from the wrong day
    later = add_working_days(today, 3)
    await correct(journey, handle, "notification_submitted", "Submitted later than recorded.", submitted_on=later)
    status = await journey.sent(handle, "decision_corrected")
    reopened = deadline(status, Clock.RAPID_REVIEW_SUBMISSION)
    assert (reopened.status, reopened.due_on) == (DeadlineStatus.OPEN, add_working_days(later, 15))


async def test_the_chair_sign_off_corrected_judges_the_submission_again_and_moves_the_panel_clock(journey):
    handle, today = await journey.at_governance()
    await journey.decide(handle, "executive_decision", decided_on=today, commission_lcspr=False)
    late = add_working_days(today, 16)
    await journey.skip_to(end_of_day(late) - timedelta(hours=3))
    await journey.decide(handle, "chair_sign_off", signed_on=late)
    status = await journey.sent(handle, "report_to_national_panel")
    assert deadline(status, Clock.RAPID_REVIEW_SUBMISSION).status is DeadlineStatus.MISSED
    panel = messages_to(status, "report_to_national_panel")[0]

    # Since 0.3 the report's arrival at the Panel judges the Rapid Review (issue 14): the signature date
    # judges nothing; the report had in fact gone on the 14th working day, outside the system.
    on_time = add_working_days(today, 14)
    await correct(journey, handle, "chair_sign_off", "Sent to the Panel on the 14th working day by e-mail.",
                  signed_on=on_time, submitted_to_panel_on=on_time)
    status = await journey.sent(handle, "decision_corrected")
    assert deadline(status, Clock.RAPID_REVIEW_SUBMISSION).status is DeadlineStatus.MET
    assert deadline(status, Clock.PANEL_RESPONSE).due_on == add_working_days(on_time, 15)
    assert set(panel) <= set(messages_to(status, "decision_corrected")[0])  # the Panel hears of it


async def test_a_dsp_decision_corrected_tells_the_notifier_who_received_the_form(journey):
    today = await journey.today()
    handle = await journey.start_serious_incident(serious_incident_form(today))
    await journey.decide(handle, "dsp_decision", meeting_held_on=today)
    status = await journey.sent(handle, "form_to_notifier")
    notifier = messages_to(status, "form_to_notifier")[0]
    await correct(journey, handle, "dsp_decision", "The rationale was incomplete.", meeting_held_on=today, rationale="The full rationale.")
    status = await journey.sent(handle, "decision_corrected")
    assert set(notifier) <= set(messages_to(status, "decision_corrected")[0])
    (notice,) = corrected_notices(journey, handle.id)
    assert set(notifier) <= {address.strip() for address in notice["To"].split(",")}


async def correct_form(handle, reason: str, **facts):
    body = {"recorded_by": "business.unit@example.org"} | {k: v.isoformat() for k, v in facts.items()}
    signature = signed(handle.id, Decision(name=FORM, body=body)).signature
    return await handle.execute_update(CaseWorkflow.correct, Correction(name=FORM, body=body, reason=reason, signature=signature))


async def test_the_forms_dates_corrected_move_the_clocks_they_start_and_tell_the_notifier(journey):
    today = await journey.today()
    typo = add_working_days(today, -3)  # received today, typed three working days early: missed on entry
    handle = await journey.start_serious_incident(serious_incident_form(typo))
    await journey.wait_for(handle, lambda s: deadline(s, Clock.DSP_MEETING).status is DeadlineStatus.MISSED)
    await journey.decide(handle, "dsp_decision", meeting_held_on=today)
    status = await journey.sent(handle, "form_to_notifier")
    notifier = messages_to(status, "form_to_notifier")[0]
    assert deadline(status, Clock.DSP_MEETING).status is DeadlineStatus.MISSED

    await correct_form(handle, "Received today; the date was mistyped.", received_on=today, became_aware_on=today)
    status = await journey.sent(handle, "decision_corrected")
    dsp = deadline(status, Clock.DSP_MEETING)
    assert (dsp.starts_on, dsp.due_on, dsp.status) == (today, add_working_days(today, 2), DeadlineStatus.MET)
    panel = deadline(status, Clock.PANEL_NOTIFICATION)
    assert (panel.starts_on, panel.due_on) == (today, add_working_days(today, 5))
    assert status.received_on == today
    correction = status.decisions[-1]
    assert (correction.name, correction.via, correction.recorded_by) == ("form", "correction", "operations@localhost")
    assert set(notifier) <= set(messages_to(status, "decision_corrected")[0])
    (notice,) = corrected_notices(journey, handle.id)
    body = notice.get_body(preferencelist=("plain",)).get_content()
    assert f"As first recorded: received_on {typo}; became_aware_on {typo}" in body


@pytest.mark.parametrize(
    ("facts", "reason"),
    [
        ({"received_on": 1}, "would then come before the form's receipt"),
        ({"received_on": 0, "became_aware_on": -1}, None),
        ({"received_on": -1, "became_aware_on": 0}, "is after received_on"),
    ],
)
async def test_a_form_correction_that_cannot_be_is_refused(journey, facts, reason):
    today = await journey.today()
    handle = await journey.start_serious_incident(serious_incident_form(add_working_days(today, -2)))
    await journey.decide(handle, "dsp_decision", meeting_held_on=add_working_days(today, -1))
    await journey.sent(handle, "form_to_notifier")
    dates = {key: add_working_days(today, offset - 2) if offset <= 0 else today for key, offset in facts.items()}
    if reason is None:  # a valid correction, for contrast: accepted
        await correct_form(handle, "Mistyped.", **dates)
        return
    await journey.refused(handle, lambda: correct_form(handle, "Mistyped.", **dates), reason)


async def test_an_agency_contribution_corrected_judges_its_clock_again(journey):
    handle, today = await journey.notified_case()
    due, meeting = await journey.convene_rapid_review(handle, today)
    late = add_working_days(due, 1)
    await journey.skip_to(end_of_day(late) - timedelta(hours=3))
    await journey.decide(handle, "agency_contribution_received", agency="Cleveland Police", received_on=late)
    status = await journey.status(handle)
    police = next(d for d in status.deadlines if d.subject == "Cleveland Police")
    assert police.status is DeadlineStatus.MISSED
    await correct(journey, handle, "agency_contribution_received", "Received on time; typed late.", agency="Cleveland Police", received_on=today)
    status = await journey.sent(handle, "decision_corrected")
    police = next(d for d in status.deadlines if d.subject == "Cleveland Police")
    assert (police.status, police.step_on) == (DeadlineStatus.MET, today)
    assert status.details["agency_contributions"][0]["received_on"] == today.isoformat()
    with pytest.raises(WorkflowUpdateFailedError) as refused:  # an agency with nothing recorded yet
        await correct(journey, handle, "agency_contribution_received", "x", agency="North Tees and Hartlepool NHS Foundation Trust", received_on=today)
    assert "no agency_contribution_received of North Tees and Hartlepool NHS Foundation Trust is recorded" in str(refused.value.cause)


async def test_the_panels_response_corrected_judges_its_clock_again(journey):
    handle, today = await journey.at_governance()
    await journey.decide(handle, "executive_decision", decided_on=today, commission_lcspr=True)
    await journey.decide(handle, "chair_sign_off", signed_on=today)
    status = await journey.wait_for(handle, lambda s: deadline(s, Clock.PANEL_RESPONSE) is not None)
    due = deadline(status, Clock.PANEL_RESPONSE).due_on
    late = add_working_days(due, 2)
    await journey.skip_to(end_of_day(late) - timedelta(hours=3))
    await journey.decide(handle, "panel_response", received_on=late)
    status = await journey.wait_for(handle, lambda s: deadline(s, Clock.PANEL_RESPONSE).status is DeadlineStatus.MISSED)
    await correct(journey, handle, "panel_response", "The Panel replied on time; typed late.", received_on=due)
    status = await journey.sent(handle, "decision_corrected")
    assert (deadline(status, Clock.PANEL_RESPONSE).status, deadline(status, Clock.PANEL_RESPONSE).step_on) == (DeadlineStatus.MET, due)


async def test_the_publication_corrected_judges_the_six_months_again_and_moves_the_year_public(journey):
    from tests.test_local_review import commissioned_case, to_final_report
    from models.working_days import add_calendar_months

    case, review, today = await commissioned_case(journey)
    await to_final_report(journey, review, today, today + timedelta(days=400))
    publication_on = add_working_days(today, 30)
    await journey.decide(review, "publication_scheduled", publication_on=publication_on)
    await journey.sent(review, "publication_copies")
    await journey.skip_to(end_of_day(add_working_days(today, 32)) - timedelta(hours=3))
    typo = add_working_days(today, 32)
    await journey.decide(review, "published", published_on=typo)
    await journey.wait_for(review, lambda s: deadline(s, Clock.PUBLIC_UNTIL) is not None)
    await correct(journey, review, "published", "Published on the planned day; typed two days late.", published_on=publication_on)
    status = await journey.sent(review, "decision_corrected")
    assert deadline(status, Clock.LCSPR_PUBLICATION).step_on == publication_on
    public = deadline(status, Clock.PUBLIC_UNTIL)
    assert (public.starts_on, public.due_on) == (publication_on, add_calendar_months(publication_on, 12))


async def test_the_executives_decision_corrected_moves_the_local_reviews_six_months(journey):
    from tests.test_local_review import commissioned_case
    from models.working_days import add_calendar_months

    case, review, today = await commissioned_case(journey)
    later = add_working_days(today, 2)  # decided two working days after the day typed
    await journey.skip_to(end_of_day(add_working_days(today, 3)) - timedelta(hours=6))
    await correct(journey, case, "executive_decision", "Decided at the meeting two days later.", decided_on=later)
    status = await journey.wait_for(review, lambda s: deadline(s, Clock.LCSPR_PUBLICATION).starts_on == later)
    assert deadline(status, Clock.LCSPR_PUBLICATION).due_on == add_calendar_months(later, 6)


async def test_the_convening_corrected_moves_each_agencys_clock_to_its_corrected_date(journey):
    handle, today = await journey.notified_case()
    due, meeting = await journey.convene_rapid_review(handle, today)
    later = add_working_days(due, 1)
    await correct(journey, handle, "rapid_review_convened", "The agencies were given one more day.",
                  contributions_due_on=later, meeting_on=meeting)
    status = await journey.sent(handle, "decision_corrected")
    agency_clocks = [d for d in status.deadlines if d.key == Clock.AGENCY_CONTRIBUTION]
    assert [(d.due_on, d.status) for d in agency_clocks] == [(later, DeadlineStatus.OPEN)] * 2
    # the agencies asked and the Rapid Review panel hear of it
    assert {"police.safeguarding@example.org", "trust.safeguarding@example.org"} <= set(messages_to(status, "decision_corrected")[0])
    with pytest.raises(WorkflowUpdateFailedError) as refused:  # which agencies are asked is not a correction
        await correct(journey, handle, "rapid_review_convened", "x", agencies=[{"name": "Durham Police", "email": "d@example.org"}],
                      contributions_due_on=later, meeting_on=meeting)
    assert "cannot change which agencies are asked; add one with agency_added" in str(refused.value.cause)


async def test_the_terms_and_the_report_corrected_move_the_agency_and_recommendation_clocks(journey):
    from tests.test_local_review import POLICE, TRUST, agencies, commissioned_case, recommendations

    case, review, today = await commissioned_case(journey)
    await journey.decide(review, "reviewer_commissioned", commissioned_on=today)
    await journey.decide(review, "terms_of_reference_agreed", agreed_on=today, agencies=agencies(add_working_days(today, 10)))
    await journey.wait_for(review, lambda s: len([d for d in s.deadlines if d.key == Clock.AGENCY_CONTRIBUTION]) == 2)
    await correct(journey, review, "terms_of_reference_agreed", "Twelve working days were agreed.",
                  agreed_on=today, agencies=agencies(add_working_days(today, 12)))
    status = await journey.sent(review, "decision_corrected")
    assert {d.due_on for d in status.deadlines if d.key == Clock.AGENCY_CONTRIBUTION} == {add_working_days(today, 12)}
    for agency in (POLICE, TRUST):
        await journey.decide(review, "agency_contribution_received", agency=agency, received_on=today)
    r1 = today + timedelta(days=120)
    await journey.decide(review, "final_report_received", received_on=today, recommendations=recommendations(r1))
    await journey.wait_for(review, lambda s: any(d.key == Clock.RECOMMENDATION for d in s.deadlines))
    await correct(journey, review, "final_report_received", "R1 is due a month later.",
                  received_on=today, recommendations=recommendations(r1 + timedelta(days=30)))
    status = await journey.wait_for(
        review, lambda s: deadline(s, Clock.RECOMMENDATION).due_on == r1 + timedelta(days=30) and "decision_corrected" in [m.template for m in s.messages][-1:]
    )
    assert deadline(status, Clock.RECOMMENDATION).status is DeadlineStatus.OPEN
