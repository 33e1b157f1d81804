"""The serious-incident journey (¶2.4-2.7, ¶4.1-4.2) under the time-skipping test server."""

from __future__ import annotations

import io
from datetime import time, timedelta

from docx import Document

from models.working_days import add_working_days, at_london_time, end_of_day
from models.case import Clock, DeadlineStatus, Stage
from models.forms import SeriousIncidentForm
from tests.journey import deadline, messages_to, example, serious_incident_form, templates

MINUTE = timedelta(minutes=1)


async def test_notify_with_every_deadline_met(journey):
    today = await journey.today()
    handle = await journey.start_serious_incident(serious_incident_form(today))

    status = await journey.sent(handle, "new_serious_incident_form", "dsp_meeting_invitation")
    assert status.stage is Stage.DSP_MEETING
    assert status.partnership == "HSSCP"
    dsp = deadline(status, Clock.DSP_MEETING)
    assert (dsp.due_on, dsp.status) == (add_working_days(today, 2), DeadlineStatus.OPEN)
    assert messages_to(status, "new_serious_incident_form") == [["HSSCP@hartlepool.gov.uk"]]
    assert messages_to(status, "dsp_meeting_invitation") == [["independent.scrutineer.hsscp@example.org"]]

    receipt = await journey.decide(handle, "dsp_decision", meeting_held_on=today)
    assert receipt.stage is Stage.PANEL_NOTIFICATION
    status = await journey.sent(handle, "form_to_notifier")
    assert deadline(status, Clock.DSP_MEETING).status is DeadlineStatus.MET
    notification = deadline(status, Clock.PANEL_NOTIFICATION)
    assert (notification.due_on, notification.status) == (add_working_days(today, 5), DeadlineStatus.OPEN)
    assert messages_to(status, "form_to_notifier") == [["nicole.wilson@stockton.gov.uk", "HSSCP@hartlepool.gov.uk"]]
    (to_notifier,) = [m for m in journey.delivered(handle.id) if "notify" in m["Subject"]]
    attachment = next(to_notifier.iter_attachments())
    assert attachment.get_filename() == "serious-incident-notification-form.docx"
    document = Document(io.BytesIO(attachment.get_content()))
    cells = [" | ".join(c.text for c in row.cells) for table in document.tables for row in table.rows]
    due = add_working_days(today, 5)
    assert f"Delegated Safeguarding Partners met | {today.day} {today:%B %Y}" in cells  # the case's own dates
    assert f"Notify the National Panel by the end of | {due.day} {due:%B %Y}" in cells
    assert "Local authority | Stockton-on-Tees" in cells

    await journey.decide(handle, "notification_submitted", submitted_on=today)
    status = await journey.wait_for(handle, lambda s: any(d.key == Clock.RAPID_REVIEW_SUBMISSION for d in s.deadlines))
    assert status.stage is Stage.RAPID_REVIEW
    assert status.details["csons_reference"] == "CSONS-0000001"
    assert deadline(status, Clock.PANEL_NOTIFICATION).status is DeadlineStatus.MET
    rapid_review = deadline(status, Clock.RAPID_REVIEW_SUBMISSION)
    assert (rapid_review.due_on, rapid_review.status) == (add_working_days(today, 15), DeadlineStatus.OPEN)

    await journey.decide(handle, "panel_acknowledged", received_on=today)
    status = await journey.status(handle)
    assert str(status.details["panel_acknowledged_on"]) == today.isoformat()
    assert [d.name for d in status.decisions] == ["dsp_decision", "notification_submitted", "panel_acknowledged"]
    assert all(d.accepted for d in status.decisions)
    assert "deadline_escalation" not in templates(status)


async def test_dsp_meeting_reminders_then_escalation_then_recorded_late_but_in_time(journey):
    today = await journey.today()
    handle = await journey.start_serious_incident(serious_incident_form(today))
    await journey.sent(handle, "new_serious_incident_form", "dsp_meeting_invitation")
    due_on = add_working_days(today, 2)

    # One working day before the last day, at 09:00: the Business Unit is reminded.
    await journey.skip_to(at_london_time(add_working_days(due_on, -1), time(9)) + MINUTE)
    status = await journey.wait_for(handle, lambda s: deadline(s, Clock.DSP_MEETING).reminders_sent == 1)
    status = await journey.sent(handle, "deadline_reminder")
    assert messages_to(status, "deadline_reminder") == [["HSSCP@hartlepool.gov.uk"]]
    reminder = [m for m in journey.delivered(handle.id) if "Reminder" in m["Subject"]][0]
    assert due_on.isoformat() in reminder["Subject"] and handle.id in reminder["Subject"]
    assert "dsp_decision" in reminder.get_content()
    assert deadline(status, Clock.DSP_MEETING).status is DeadlineStatus.OPEN

    # The last day ends with nothing recorded: missed, escalated, and the case goes on.
    await journey.skip_to(end_of_day(due_on) + MINUTE)
    status = await journey.wait_for(handle, lambda s: deadline(s, Clock.DSP_MEETING).escalated)
    status = await journey.sent(handle, "deadline_escalation")
    dsp = deadline(status, Clock.DSP_MEETING)
    assert (dsp.status, dsp.reminders_sent) == (DeadlineStatus.MISSED, 2)
    assert messages_to(status, "deadline_escalation") == [
        ["hsscp.business.manager@example.org", "HSSCP@hartlepool.gov.uk"]
    ]
    assert status.stage is Stage.DSP_MEETING

    # Staff record the meeting a day late: it was held in time, so the deadline is met, noted late.
    await journey.decide(handle, "dsp_decision", meeting_held_on=due_on)
    status = await journey.sent(handle)
    dsp = deadline(status, Clock.DSP_MEETING)
    assert (dsp.status, dsp.recorded_late, dsp.step_on) == (DeadlineStatus.MET, True, due_on)
    assert status.stage is Stage.PANEL_NOTIFICATION


async def test_dsp_meeting_held_too_late_is_missed(journey):
    today = await journey.today()
    handle = await journey.start_serious_incident(serious_incident_form(today))
    due_on = add_working_days(today, 2)
    await journey.skip_to(end_of_day(add_working_days(due_on, 1)) - timedelta(hours=2))
    await journey.wait_for(handle, lambda s: deadline(s, Clock.DSP_MEETING).escalated)

    await journey.decide(handle, "dsp_decision", meeting_held_on=add_working_days(due_on, 1))
    status = await journey.wait_for(handle, lambda s: deadline(s, Clock.DSP_MEETING).status is not DeadlineStatus.OPEN)
    assert deadline(status, Clock.DSP_MEETING).status is DeadlineStatus.MISSED
    assert status.stage is Stage.PANEL_NOTIFICATION


async def test_a_deadline_met_before_its_reminders_sends_none(journey):
    today = await journey.today()
    handle = await journey.start_serious_incident(serious_incident_form(today))
    await journey.decide(handle, "dsp_decision", meeting_held_on=today)
    await journey.sent(handle, "form_to_notifier")
    await journey.skip_to(end_of_day(add_working_days(today, 2)) + timedelta(hours=1))
    await journey.decide(handle, "notification_submitted", submitted_on=await journey.today())
    status = await journey.wait_for(handle, lambda s: any(d.key == Clock.RAPID_REVIEW_SUBMISSION for d in s.deadlines))
    assert deadline(status, Clock.DSP_MEETING).reminders_sent == 0
    assert "deadline_escalation" not in templates(status)


async def test_panel_notification_reminds_the_notifier_then_escalates(journey):
    today = await journey.today()
    handle = await journey.start_serious_incident(serious_incident_form(today))
    await journey.decide(handle, "dsp_decision", meeting_held_on=today)
    due_on = add_working_days(today, 5)

    await journey.skip_to(end_of_day(due_on) + MINUTE)
    status = await journey.wait_for(handle, lambda s: deadline(s, Clock.PANEL_NOTIFICATION).escalated)
    status = await journey.sent(handle, "deadline_escalation")
    notification = deadline(status, Clock.PANEL_NOTIFICATION)
    assert (notification.status, notification.reminders_sent) == (DeadlineStatus.MISSED, 2)
    assert messages_to(status, "deadline_reminder") == [
        ["nicole.wilson@stockton.gov.uk", "HSSCP@hartlepool.gov.uk"]
    ] * 2
    # escalated to the local authority that holds the ¶2.4 duty (its notifier, as the routing file has
    # no escalation address for it), and to the partnership (issue 14, point 10)
    assert ["nicole.wilson@stockton.gov.uk", "hsscp.business.manager@example.org", "HSSCP@hartlepool.gov.uk"] in messages_to(
        status, "deadline_escalation"
    )

    # The Notifier submits late: still missed, and the Rapid Review clock starts from that date.
    submitted_on = await journey.today()
    await journey.decide(handle, "notification_submitted", submitted_on=submitted_on)
    status = await journey.wait_for(handle, lambda s: any(d.key == Clock.RAPID_REVIEW_SUBMISSION for d in s.deadlines))
    assert deadline(status, Clock.PANEL_NOTIFICATION).status is DeadlineStatus.MISSED
    assert deadline(status, Clock.RAPID_REVIEW_SUBMISSION).due_on == add_working_days(submitted_on, 15)
    assert status.stage is Stage.RAPID_REVIEW


async def test_rapid_review_submission_missed_is_escalated_and_the_case_goes_on(journey):
    today = await journey.today()
    handle = await journey.start_serious_incident(serious_incident_form(today))
    await journey.decide(handle, "dsp_decision", meeting_held_on=today)
    await journey.decide(handle, "notification_submitted", submitted_on=today)
    await journey.wait_for(handle, lambda s: deadline(s, Clock.RAPID_REVIEW_SUBMISSION) is not None)
    await journey.skip_to(end_of_day(add_working_days(today, 15)) + MINUTE)
    status = await journey.wait_for(handle, lambda s: deadline(s, Clock.RAPID_REVIEW_SUBMISSION).escalated)
    assert deadline(status, Clock.RAPID_REVIEW_SUBMISSION).status is DeadlineStatus.MISSED
    await journey.decide(handle, "panel_acknowledged", received_on=today)
    assert (await journey.status(handle)).stage is Stage.RAPID_REVIEW


async def test_do_not_notify_replies_to_the_referrer_and_stays_open_until_the_business_unit_closes_it(journey):
    today = await journey.today()
    handle = await journey.start_serious_incident(serious_incident_form(today))
    await journey.decide(handle, "dsp_decision", decision="do_not_notify", meeting_held_on=today)
    status = await journey.sent(handle, "rationale_to_referrer")
    assert status.stage is Stage.CHALLENGE_WINDOW
    assert messages_to(status, "rationale_to_referrer") == [["alex.practitioner@example.org", "HSSCP@hartlepool.gov.uk"]]
    ends_on = add_working_days(today, 10)
    assert str(status.details["challenge_window_ends_on"]) == ends_on.isoformat()
    reply = [m for m in journey.delivered(handle.id) if "Decision" in m["Subject"]][0]
    assert "Serious harm; neglect suspected." in reply.get_content()
    assert deadline(status, Clock.PANEL_NOTIFICATION).status is DeadlineStatus.CANCELLED  # set aside

    # The protocol sets no time to challenge (issue 14, point 2): the Business Unit is told, the case waits.
    await journey.skip_to(end_of_day(ends_on) + MINUTE)
    status = await journey.sent(handle, "challenge_window_ended")
    assert status.stage is Stage.CHALLENGE_WINDOW
    await journey.decide(handle, "case_closed", closed_on=await journey.today())
    final = await handle.result()
    assert final.stage is Stage.CLOSED
    assert "Closed by the Business Unit" in (final.closed_reason or "")
    assert deadline(final, Clock.PANEL_NOTIFICATION).status is DeadlineStatus.CANCELLED


async def test_challenge_upheld_closes_the_case(journey):
    today = await journey.today()
    handle = await journey.start_serious_incident(serious_incident_form(today))
    await journey.decide(handle, "dsp_decision", decision="do_not_notify", meeting_held_on=today)
    await journey.decide(handle, "challenge_raised", raised_on=today)
    status = await journey.sent(handle, "dispute_route")
    assert status.stage is Stage.DISPUTE_RESOLUTION
    assert "dispute_route" in templates(status)
    await journey.decide(handle, "challenge_resolved", resolved_on=today, outcome="decision_upheld")
    final = await handle.result()
    assert final.stage is Stage.CLOSED
    assert "upheld" in (final.closed_reason or "")
    assert templates(final)[-1] == "challenge_outcome"
    assert deadline(final, Clock.PANEL_NOTIFICATION).status is DeadlineStatus.CANCELLED
    assert deadline(final, Clock.DISPUTE_RESOLUTION).status is DeadlineStatus.MET


async def test_challenge_changing_the_decision_sends_the_case_on_to_notification(journey):
    today = await journey.today()
    aware = add_working_days(today, -1)
    handle = await journey.start_serious_incident(serious_incident_form(today, became_aware_on=aware))
    await journey.decide(handle, "dsp_decision", decision="do_not_notify", meeting_held_on=today)
    await journey.decide(handle, "challenge_raised", raised_on=today)
    receipt = await journey.decide(handle, "challenge_resolved", resolved_on=today, outcome="decision_changed")
    assert receipt.stage is Stage.PANEL_NOTIFICATION
    status = await journey.wait_for(handle, lambda s: "form_to_notifier" in templates(s))
    assert deadline(status, Clock.PANEL_NOTIFICATION).due_on == add_working_days(aware, 5)
    await journey.decide(handle, "notification_submitted", submitted_on=today)
    status = await journey.wait_for(handle, lambda s: any(d.key == Clock.RAPID_REVIEW_SUBMISSION for d in s.deadlines))
    assert status.stage is Stage.RAPID_REVIEW
    assert deadline(status, Clock.PANEL_NOTIFICATION).status is DeadlineStatus.MET


async def test_withdrawn_case_ends_cleanly_and_cancels_its_clocks(journey):
    today = await journey.today()
    handle = await journey.start_serious_incident(serious_incident_form(today))
    await journey.decide(handle, "dsp_decision", meeting_held_on=today)
    await journey.sent(handle, "form_to_notifier")
    await journey.decide(handle, "case_withdrawn", withdrawn_on=today)
    final = await handle.result()
    assert final.stage is Stage.WITHDRAWN
    assert "duplicate of an open case" in (final.closed_reason or "")
    assert deadline(final, Clock.DSP_MEETING).status is DeadlineStatus.MET
    assert deadline(final, Clock.PANEL_NOTIFICATION).status is DeadlineStatus.CANCELLED
    # the notifier, who had the form, is told too (issue 14, point 10)
    assert messages_to(final, "case_withdrawn") == [["HSSCP@hartlepool.gov.uk", "nicole.wilson@stockton.gov.uk"]]
    assert all(m.status == "sent" for m in final.messages)


async def test_withdrawn_in_the_rapid_review_stage(journey):
    today = await journey.today()
    handle = await journey.start_serious_incident(serious_incident_form(today))
    await journey.decide(handle, "dsp_decision", meeting_held_on=today)
    await journey.decide(handle, "notification_submitted", submitted_on=today)
    await journey.wait_for(handle, lambda s: any(d.key == Clock.RAPID_REVIEW_SUBMISSION for d in s.deadlines))
    await journey.signal(handle, "case_withdrawn", withdrawn_on=today)
    final = await handle.result()
    assert final.stage is Stage.WITHDRAWN
    assert deadline(final, Clock.RAPID_REVIEW_SUBMISSION).status is DeadlineStatus.CANCELLED


async def test_a_case_in_another_partnership_is_routed_there(journey):
    today = await journey.today()
    body = serious_incident_form(today).model_dump(mode="json")
    body["local_authority"] = "redcar-and-cleveland"
    handle = await journey.start_serious_incident(SeriousIncidentForm.model_validate(body))
    await journey.decide(handle, "dsp_decision", meeting_held_on=today)
    status = await journey.wait_for(handle, lambda s: "form_to_notifier" in templates(s) and s.messages[-1].status == "sent")
    assert status.partnership == "STSCP"
    assert messages_to(status, "new_serious_incident_form") == [["STSCP@middlesbrough.gov.uk"]]
    assert messages_to(status, "form_to_notifier") == [
        ["Victoria.McLeod@redcar-cleveland.gov.uk", "STSCP@middlesbrough.gov.uk"]
    ]
    assert example("serious-incident-form.json")["local_authority"] == "stockton-on-tees"
