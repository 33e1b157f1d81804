"""A case entered after the fact (workflows/catch_up.py): staff enter, today, a case that began months
ago, every decision dated in the past. Nothing is sent for steps already past – no reminder, no
escalation, no request "by" a date gone – every deadline is judged by the date its step really
happened, and one summary per workflow tells the Business Unit what was already past."""

from __future__ import annotations

from datetime import date, timedelta

from models.case import Clock, DeadlineStatus, Stage
from models.working_days import add_working_days
from tests.journey import deadline, serious_incident_form, templates
from tests.test_local_review import POLICE, TRUST, agencies, recommendations
from workflows.local_review import LocalReviewWorkflow

PAST_LIVE_REQUESTS = {"rapid_review_details", "contribution_request", "lcspr_contribution_request", "publication_copies"}
NEVER_FOR_THE_PAST = {"deadline_reminder", "deadline_escalation"}


def statuses(status, template: str) -> list[str]:
    return [m.status for m in status.messages if m.template == template]


async def summarised(journey, handle):
    """The case once its summary went and nothing is still being sent."""
    return await journey.wait_for(
        handle,
        lambda s: "entered_after_the_fact" in templates(s) and all(m.status in ("sent", "not_sent") for m in s.messages),
    )


async def enter_rapid_review(journey, began: date):
    """The serious incident and its Rapid Review as they happened months ago, entered today."""
    handle = await journey.start_serious_incident(serious_incident_form(began))
    notified = add_working_days(began, 3)
    await journey.decide(handle, "dsp_decision", meeting_held_on=add_working_days(began, 1))
    await journey.decide(handle, "notification_submitted", submitted_on=notified)
    await journey.wait_for(handle, lambda s: deadline(s, Clock.RAPID_REVIEW_SUBMISSION) is not None)
    held = add_working_days(notified, 8)
    await journey.decide(
        handle, "rapid_review_convened", contributions_due_on=add_working_days(notified, 4), meeting_on=held
    )
    await journey.wait_for(handle, lambda s: len([d for d in s.deadlines if d.key == Clock.AGENCY_CONTRIBUTION]) == 2)
    for agency in (POLICE, TRUST):
        await journey.decide(handle, "agency_contribution_received", agency=agency, received_on=add_working_days(notified, 3))
    await journey.decide(handle, "rapid_review_meeting_held", held_on=held, immediate_actions=[])
    decided = add_working_days(held, 2)
    await journey.decide(handle, "executive_decision", decided_on=decided)
    # the report reached the Panel months ago, outside the system: recorded so, it is not sent again
    signed_on = add_working_days(held, 3)
    await journey.decide(handle, "chair_sign_off", signed_on=signed_on, submitted_to_panel_on=signed_on)
    await journey.wait_for(handle, lambda s: deadline(s, Clock.PANEL_RESPONSE) is not None)
    await journey.decide(handle, "panel_response", received_on=add_working_days(held, 10))
    return handle, notified, decided


async def test_a_back_dated_journey_from_form_to_published_sends_nothing_for_steps_already_past(journey):
    today = await journey.today()
    began = add_working_days(today - timedelta(days=330), 0)
    case, notified, decided = await enter_rapid_review(journey, began)
    status = await journey.wait_for(case, lambda s: s.details["local_review_id"] is not None)
    review = journey.client.get_workflow_handle_for(LocalReviewWorkflow.run, status.details["local_review_id"])
    await journey.wait_for(review, lambda s: deadline(s, Clock.LCSPR_PUBLICATION) is not None)

    commissioned = add_working_days(decided, 10)
    await journey.decide(review, "reviewer_commissioned", commissioned_on=commissioned)
    await journey.decide(review, "terms_of_reference_agreed", agreed_on=commissioned, agencies=agencies(add_working_days(commissioned, 20)))
    await journey.wait_for(review, lambda s: len([d for d in s.deadlines if d.key == Clock.AGENCY_CONTRIBUTION]) == 2)
    for agency in (POLICE, TRUST):
        await journey.decide(review, "agency_contribution_received", agency=agency, received_on=add_working_days(commissioned, 15))
    report_on = add_working_days(commissioned, 60)
    # the recommendations run on past today: their clocks are live and remind as usual
    await journey.decide(review, "final_report_received", received_on=report_on, recommendations=recommendations(today + timedelta(days=100), today + timedelta(days=200)))
    publication_on = add_working_days(report_on, 20)
    await journey.decide(review, "publication_scheduled", publication_on=publication_on)
    status = await journey.wait_for(review, lambda s: statuses(s, "publication_copies") == ["not_sent"])
    # the copies went outside the system: recorded again with their date, and the review is published
    await journey.decide(review, "publication_scheduled", publication_on=publication_on, copies_sent_on=add_working_days(publication_on, -8))
    await journey.wait_for(review, lambda s: deadline(s, Clock.PUBLICATION_COPIES).status is DeadlineStatus.MET)
    await journey.decide(review, "published", published_on=publication_on)
    await journey.wait_for(review, lambda s: s.stage is Stage.MONITORING)

    # An hour with nothing new: the entering is done, and each workflow sends its one summary.
    await journey.skip_to(await journey.now() + timedelta(hours=2))
    case_status = await summarised(journey, case)
    review_status = await summarised(journey, review)

    for status in (case_status, review_status):
        sent = {m.template for m in status.messages if m.status == "sent"}
        assert not sent & NEVER_FOR_THE_PAST, sent
        assert not sent & PAST_LIVE_REQUESTS, sent
        assert templates(status).count("entered_after_the_fact") == 1
        assert not any(d.escalated for d in status.deadlines)
    assert statuses(case_status, "rapid_review_details") == ["not_sent"]
    assert statuses(case_status, "contribution_request") == ["not_sent", "not_sent"]
    assert "report_to_national_panel" not in templates(case_status)
    assert statuses(review_status, "lcspr_contribution_request") == ["not_sent", "not_sent"]

    # Each deadline judged by the date its step really happened.
    judged = {d.key: (d.status, d.step_on) for d in case_status.deadlines if d.key != Clock.AGENCY_CONTRIBUTION}
    assert judged[Clock.DSP_MEETING] == (DeadlineStatus.MET, add_working_days(began, 1))
    assert judged[Clock.PANEL_NOTIFICATION] == (DeadlineStatus.MET, notified)
    assert judged[Clock.RAPID_REVIEW_SUBMISSION][0] is DeadlineStatus.MET
    assert judged[Clock.PANEL_RESPONSE][0] is DeadlineStatus.MET
    assert deadline(review_status, Clock.LCSPR_PUBLICATION).status is DeadlineStatus.MET

    summary = next(m for m in journey.delivered(case.id) if "Entered after the fact" in m["Subject"])
    body = summary.get_body(preferencelist=("plain",)).get_content()
    assert "DSP teleconference and decision" in body and "met (step on" in body
    assert "Share the case details with the Rapid Review panel" in body  # a request not sent, named
    assert summary["To"] == "HSSCP@hartlepool.gov.uk"


async def test_a_deadline_past_on_entry_and_never_recorded_is_missed_unescalated_and_summarised(journey):
    today = await journey.today()
    began = add_working_days(today - timedelta(days=40), 0)
    handle = await journey.start_serious_incident(serious_incident_form(began))
    await journey.skip_to(await journey.now() + timedelta(hours=2))
    status = await summarised(journey, handle)
    dsp = deadline(status, Clock.DSP_MEETING)
    assert (dsp.status, dsp.escalated) == (DeadlineStatus.MISSED, False)  # missed, not escalated
    assert "deadline_escalation" not in templates(status)
    summary = next(m for m in journey.delivered(handle.id) if "Entered after the fact" in m["Subject"])
    body = summary.get_body(preferencelist=("plain",)).get_content()
    assert f"- DSP teleconference and decision: due {dsp.due_on}; missed\n" in body


async def test_a_case_entered_on_time_is_escalated_as_before(journey):
    today = await journey.today()
    handle = await journey.start_serious_incident(serious_incident_form(today))
    await journey.skip_to(await journey.now() + timedelta(days=10))
    status = await journey.sent(handle, "deadline_escalation")
    assert deadline(status, Clock.DSP_MEETING).escalated
    assert "entered_after_the_fact" not in templates(status)
