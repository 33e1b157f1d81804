"""Issue 14: the routes real cases take, each point of the issue reproduced on the time-skipping server
and asserted as the protocol has it (the local review's points are in tests/test_routes_local_review.py)."""

from __future__ import annotations

from datetime import timedelta

import asyncio

import pytest
from sqlmodel import Session
from temporalio.client import WorkflowUpdateFailedError

from models.case import Clock, DeadlineStatus, Stage
from models.working_days import add_working_days, end_of_day
from register.db import engine_for, migrate
from register.models import CaseRow
from tests.journey import deadline, messages_to, serious_incident_form, templates
from workflows.learning_request import LearningRequestWorkflow
from workflows.local_review import LocalReviewWorkflow

MINUTE = timedelta(minutes=1)
HSSCP = "HSSCP@hartlepool.gov.uk"
NOTIFIER = "nicole.wilson@stockton.gov.uk"
ESCALATION = "hsscp.business.manager@example.org"
SCRUTINEER = "independent.scrutineer.hsscp@example.org"
REFERRER = "alex.practitioner@example.org"
DSPS = ["dsp.local.authority.hsscp@example.org", "dsp.police.hsscp@example.org", "dsp.icb.hsscp@example.org"]


async def refused(journey, handle, name: str, **changes) -> str:
    with pytest.raises(WorkflowUpdateFailedError) as error:
        await journey.decide(handle, name, **changes)
    return str(error.value.cause)


async def at_governance(journey, commission_lcspr: bool = False):
    """A notified case, its Rapid Review convened and held, and the Executive's decision taken today."""
    handle, today = await journey.notified_case()
    await journey.convene_rapid_review(handle, today)
    await journey.decide(handle, "rapid_review_meeting_held", held_on=today)
    await journey.decide(handle, "executive_decision", decided_on=today, commission_lcspr=commission_lcspr)
    return handle, today


async def case_decided(journey, decision: str, then_sent: str):
    """A case received today, the DSPs' decision recorded, and the message it sends next gone."""
    today = await journey.today()
    handle = await journey.start_serious_incident(serious_incident_form(today))
    await journey.decide(handle, "dsp_decision", decision=decision, meeting_held_on=today)
    await journey.sent(handle, then_sent)
    return handle, today


# ---- 1. the Rapid Review is judged by the day the report reaches the Panel (¶4.9) ----------------------


async def test_point_01_submission_judged_by_dispatch_to_panel(journey):
    handle, today = await at_governance(journey)
    due = add_working_days(today, 15)
    # Signed on the last day, recorded (and so sent) three working days later.
    sent_on = add_working_days(due, 3)
    await journey.skip_to(end_of_day(sent_on) - timedelta(hours=6))
    await journey.decide(handle, "chair_sign_off", signed_on=due)
    status = await journey.wait_for(handle, lambda s: deadline(s, Clock.PANEL_RESPONSE) is not None)
    submission = deadline(status, Clock.RAPID_REVIEW_SUBMISSION)
    assert (submission.status, submission.step_on) == (DeadlineStatus.MISSED, sent_on)
    assert str(status.details["report_sent_to_panel_on"]) == sent_on.isoformat()
    panel = deadline(status, Clock.PANEL_RESPONSE)
    assert (panel.starts_on, panel.due_on) == (sent_on, add_working_days(sent_on, 15))  # from the dispatch


async def test_point_01_a_report_sent_outside_the_system_is_recorded_as_such(journey):
    handle, today = await at_governance(journey)
    reached_on = add_working_days(today, 2)
    await journey.skip_to(end_of_day(add_working_days(today, 4)) - timedelta(hours=6))
    await journey.decide(handle, "chair_sign_off", signed_on=today, submitted_to_panel_on=reached_on)
    status = await journey.wait_for(handle, lambda s: deadline(s, Clock.PANEL_RESPONSE) is not None)
    submission = deadline(status, Clock.RAPID_REVIEW_SUBMISSION)
    assert (submission.status, submission.step_on) == (DeadlineStatus.MET, reached_on)
    assert deadline(status, Clock.PANEL_RESPONSE).starts_on == reached_on
    assert "report_to_national_panel" not in templates(status)  # not sent a second time


# ---- 2. a challenge recorded late, a partners' dispute, the dispute's clock (¶2.7) -----------------------


async def test_point_02_challenge_raised_in_time_can_be_recorded_after_the_window(journey):
    handle, today = await case_decided(journey, "do_not_notify", "rationale_to_referrer")
    window_ends = add_working_days(today, 10)
    await journey.skip_to(end_of_day(add_working_days(window_ends, 2)))
    status = await journey.sent(handle, "challenge_window_ended")
    assert status.stage is Stage.CHALLENGE_WINDOW  # open: the protocol sets no window

    raised_on = add_working_days(today, 3)  # raised in time, recorded now
    await journey.decide(handle, "challenge_raised", raised_on=raised_on)
    status = await journey.sent(handle, "dispute_route")
    assert status.stage is Stage.DISPUTE_RESOLUTION
    assert messages_to(status, "dispute_route") == [[REFERRER, HSSCP, ESCALATION, SCRUTINEER]]  # the Scrutineer told
    dispute = deadline(status, Clock.DISPUTE_RESOLUTION)
    assert (dispute.starts_on, dispute.due_on, dispute.status) == (raised_on, add_working_days(raised_on, 20), DeadlineStatus.OPEN)

    await journey.skip_to(end_of_day(dispute.due_on) + MINUTE)  # the dispute has a clock, escalated when missed
    status = await journey.wait_for(handle, lambda s: deadline(s, Clock.DISPUTE_RESOLUTION).escalated)
    status = await journey.sent(handle, "deadline_escalation")
    assert [ESCALATION, SCRUTINEER, HSSCP] in messages_to(status, "deadline_escalation")
    await journey.decide(handle, "challenge_resolved", resolved_on=await journey.today(), outcome="decision_upheld")
    final = await handle.result()
    assert final.stage is Stage.CLOSED and "upheld" in (final.closed_reason or "")
    assert deadline(final, Clock.DISPUTE_RESOLUTION).status is DeadlineStatus.MISSED


async def test_point_02_a_safeguarding_partner_may_challenge_a_decision_to_notify(journey):
    handle, today = await case_decided(journey, "notify", "form_to_notifier")
    reason = await refused(journey, handle, "challenge_raised", raised_on=today)
    assert "a referrer challenges a decision not to notify" in reason
    await journey.decide(handle, "challenge_raised", raised_on=today, raised_by="DSP police", party="safeguarding_partner")
    status = await journey.sent(handle, "dispute_route")
    assert status.stage is Stage.DISPUTE_RESOLUTION
    assert deadline(status, Clock.PANEL_NOTIFICATION).status is DeadlineStatus.OPEN  # ¶2.4 runs meanwhile
    await journey.decide(handle, "challenge_resolved", resolved_on=today, outcome="decision_changed")
    final = await handle.result()
    assert final.stage is Stage.CLOSED
    assert "the decision to notify was changed" in (final.closed_reason or "")
    assert deadline(final, Clock.PANEL_NOTIFICATION).status is DeadlineStatus.CANCELLED
    assert messages_to(final, "challenge_outcome") == [[REFERRER, HSSCP, SCRUTINEER]]


# ---- 3. the ¶2.4 clock runs from awareness, through the DSP meeting and the dispute --------------------


async def test_point_03_panel_notification_clock_runs_from_awareness_through_any_dispute(journey):
    today = await journey.today()
    aware = add_working_days(today, -1)
    handle = await journey.start_serious_incident(serious_incident_form(today, became_aware_on=aware))
    status = await journey.sent(handle, "new_serious_incident_form")
    notification = deadline(status, Clock.PANEL_NOTIFICATION)  # visible at the DSP meeting already
    assert (notification.starts_on, notification.due_on, notification.status) == (
        aware, add_working_days(aware, 5), DeadlineStatus.OPEN
    )
    await journey.decide(handle, "dsp_decision", decision="do_not_notify", meeting_held_on=today)
    status = await journey.sent(handle, "rationale_to_referrer")
    assert deadline(status, Clock.PANEL_NOTIFICATION).status is DeadlineStatus.CANCELLED  # set aside
    await journey.decide(handle, "challenge_raised", raised_on=today)
    status = await journey.sent(handle, "dispute_route")
    assert deadline(status, Clock.PANEL_NOTIFICATION).status is DeadlineStatus.OPEN  # running during the dispute

    await journey.skip_to(end_of_day(notification.due_on) + MINUTE)
    status = await journey.wait_for(handle, lambda s: deadline(s, Clock.PANEL_NOTIFICATION).escalated)
    assert status.stage is Stage.DISPUTE_RESOLUTION
    await journey.decide(handle, "challenge_resolved", resolved_on=await journey.today(), outcome="decision_changed")
    status = await journey.sent(handle, "form_to_notifier")
    notification = deadline(status, Clock.PANEL_NOTIFICATION)
    assert (notification.due_on, notification.status) == (add_working_days(aware, 5), DeadlineStatus.MISSED)
    assert len(messages_to(status, "deadline_escalation")) == 1  # escalated once, when it passed, not again


# ---- 4. the Panel disagrees: the Executive reconsiders; the Panel's view on a national review ----------


async def test_point_04_the_executive_reconsiders_after_the_panel_disagrees(journey):
    handle, today = await at_governance(journey)
    await journey.decide(handle, "chair_sign_off", signed_on=today)
    await journey.wait_for(handle, lambda s: deadline(s, Clock.PANEL_RESPONSE) is not None)
    assert "executive_reconsidered is not expected" in await refused(journey, handle, "executive_reconsidered", decided_on=today)
    await journey.decide(
        handle, "panel_response", received_on=today, agrees=False, national_review="panel_will_not_undertake"
    )
    status = await journey.sent(handle, "panel_disagrees")
    assert status.stage is Stage.AWAITING_PANEL_RESPONSE  # not closed: the Executive is to reconsider
    assert status.details["panel_national_review"] == "panel_will_not_undertake"
    await journey.decide(handle, "executive_reconsidered", decided_on=today, commission_lcspr=True)
    status = await journey.wait_for(handle, lambda s: s.details["local_review_id"] is not None)
    status = await journey.sent(handle, "reconsideration_to_panel")
    assert messages_to(status, "reconsideration_to_panel") == [["national.panel@example.org", HSSCP]]
    assert status.stage is Stage.LOCAL_REVIEW
    review = journey.client.get_workflow_handle_for(LocalReviewWorkflow.run, status.details["local_review_id"])
    review_status = await journey.wait_for(review, lambda s: deadline(s, Clock.LCSPR_PUBLICATION) is not None)
    assert deadline(review_status, Clock.LCSPR_PUBLICATION).starts_on == today


# ---- 5. a silent Panel does not keep a case open for ever ------------------------------------------------


async def test_point_05_listed_at_local_review_while_the_panel_has_not_answered(journey):
    handle, today = await at_governance(journey, commission_lcspr=True)
    await journey.decide(handle, "chair_sign_off", signed_on=today)
    status = await journey.wait_for(handle, lambda s: s.stage is Stage.LOCAL_REVIEW)
    assert deadline(status, Clock.PANEL_RESPONSE).status is DeadlineStatus.OPEN  # the Panel still awaited
    await journey.decide(handle, "panel_response", received_on=today)  # taken at the local review stage
    status = await journey.status(handle)
    assert (status.stage, deadline(status, Clock.PANEL_RESPONSE).status) == (Stage.LOCAL_REVIEW, DeadlineStatus.MET)


async def test_point_05_a_panel_silent_beyond_its_clock_is_escalated_and_the_case_closed_with_a_reason(journey):
    handle, today = await at_governance(journey)
    await journey.decide(handle, "chair_sign_off", signed_on=today)
    await journey.wait_for(handle, lambda s: deadline(s, Clock.PANEL_RESPONSE) is not None)
    assert "case_closed is not expected" in await refused(journey, handle, "case_closed", closed_on=today)
    await journey.skip_to(end_of_day(add_working_days(today, 15)) + MINUTE)
    status = await journey.wait_for(handle, lambda s: deadline(s, Clock.PANEL_RESPONSE).escalated)
    assert status.stage is Stage.AWAITING_PANEL_RESPONSE
    assert deadline(status, Clock.PANEL_RESPONSE).status is DeadlineStatus.MISSED  # says so
    assert status.details["panel_silent_beyond_its_clock"] is True
    assert messages_to(status, "deadline_escalation")[-1] == [HSSCP, ESCALATION]  # escalated
    await journey.decide(handle, "case_closed", closed_on=await journey.today(), reason="Panel chased twice; no reply.")
    final = await handle.result()
    assert final.stage is Stage.CLOSED
    assert final.closed_reason.startswith("Closed by the Business Unit on")


# ---- 8. a notification before the DSP call; a Rapid Review meeting after the submission is due -----------


async def test_point_08_notification_before_the_dsp_call_and_the_meeting_within_the_submission_clock(journey):
    today = await journey.today()
    handle = await journey.start_serious_incident(serious_incident_form(today))
    await journey.sent(handle, "new_serious_incident_form")
    receipt = await journey.decide(handle, "notification_submitted", submitted_on=today)
    assert receipt.stage is Stage.DSP_MEETING  # the DSPs still meet
    receipt = await journey.decide(handle, "dsp_decision", meeting_held_on=today)
    assert receipt.stage is Stage.RAPID_REVIEW
    status = await journey.wait_for(handle, lambda s: deadline(s, Clock.RAPID_REVIEW_SUBMISSION) is not None)
    assert deadline(status, Clock.PANEL_NOTIFICATION).status is DeadlineStatus.MET
    assert "form_to_notifier" not in templates(status)  # the LA notified already

    reason = await refused(
        journey, handle, "rapid_review_convened",
        contributions_due_on=add_working_days(today, 3), meeting_on=add_working_days(today, 40),
    )
    assert "meeting_on" in reason and "rapid_review_submission" in reason


# ---- 9. all three statutory partners (¶2.4) -------------------------------------------------------------


async def test_point_09_dsp_decision_needs_all_three_statutory_partners(journey):
    today = await journey.today()
    handle = await journey.start_serious_incident(serious_incident_form(today))
    reason = await refused(journey, handle, "dsp_decision", meeting_held_on=today, attendees=["DSP police"])
    assert "integrated_care_board" in reason and "local_authority" in reason
    receipt = await journey.decide(
        handle, "dsp_decision", meeting_held_on=today, attendees=["A. Smith", "B. Jones", "C. Brown"],
        partners=["local_authority", "police", "integrated_care_board"],
    )
    assert receipt.stage is Stage.PANEL_NOTIFICATION


# ---- 10. the people the protocol names have an address ----------------------------------------------------


async def test_point_10_dsps_chairs_and_everyone_involved_are_addressed(journey):
    handle, today = await journey.notified_case()
    status = await journey.sent(handle, "dsp_meeting_call")
    assert messages_to(status, "dsp_meeting_call") == [DSPS + [HSSCP]]  # ¶2.6
    due, meeting = add_working_days(today, 3), add_working_days(today, 5)
    await journey.decide(
        handle, "rapid_review_convened", contributions_due_on=due, meeting_on=meeting, chair_email="rr.chair@example.org"
    )
    await journey.decide(handle, "rapid_review_meeting_held", held_on=today)
    status = await journey.sent(handle, "report_to_executive")
    assert messages_to(status, "report_to_executive") == [  # ¶4.6: both chairs invited
        ["rr.chair@example.org", "executive.hsscp@example.org", HSSCP, "partnership.chair.hsscp@example.org"]
    ]
    await journey.decide(handle, "executive_decision", decided_on=today, commission_lcspr=False)
    await journey.decide(handle, "chair_sign_off", signed_on=today)
    await journey.wait_for(handle, lambda s: deadline(s, Clock.PANEL_RESPONSE) is not None)
    await journey.decide(handle, "case_withdrawn", withdrawn_on=today)
    final = await handle.result()
    (told,) = messages_to(final, "case_withdrawn")
    assert set(told) == {
        HSSCP, NOTIFIER, "national.panel@example.org", "police.safeguarding@example.org", "trust.safeguarding@example.org",
        "rapid.review.panel.hsscp@example.org", "executive.hsscp@example.org",
    }


# ---- 7. ¶2.3: a death in a family known to Children's Social Care ----------------------------------------


async def test_point_07_a_paragraph_2_3_case_can_be_entered(journey):
    today = await journey.today()
    body = serious_incident_form(today).model_dump(mode="json")
    body["incident"] |= {"outcome": "death", "abuse_or_neglect": "not_suspected"}
    body["child"]["known_to_childrens_social_care"] = True
    form = type(serious_incident_form(today)).model_validate(body)
    handle = await journey.start_serious_incident(form)
    status = await journey.sent(handle, "new_serious_incident_form")
    assert status.stage is Stage.DSP_MEETING
    body["child"]["known_to_childrens_social_care"] = False
    with pytest.raises(ValueError, match="known to Children's Social Care"):
        type(form).model_validate(body)


# ---- 11. a Learning Request opened from a "do not notify" case -------------------------------------------


async def test_point_11_a_learning_request_is_opened_from_a_case_not_notified_and_linked(journey, register_url):
    migrate(register_url)
    handle, today = await case_decided(journey, "do_not_notify", "rationale_to_referrer")
    await journey.decide(handle, "learning_request_opened", received_on=today)
    status = await journey.wait_for(handle, lambda s: s.details["learning_request_id"] is not None)
    request = journey.client.get_workflow_handle_for(LearningRequestWorkflow.run, status.details["learning_request_id"])
    request_status = await journey.sent(request, "new_learning_request")
    assert request_status.details["related_case"] == handle.id
    assert request_status.stage is Stage.PARTNERSHIP_DECISION
    await journey.decide(handle, "case_closed", closed_on=today)
    assert (await handle.result()).stage is Stage.CLOSED
    assert (await journey.status(request)).stage is Stage.PARTNERSHIP_DECISION  # it outlives the case
    # In the register it is a learning request of its own (counted as received), not the case's local review.
    for _ in range(100):
        with Session(engine_for(register_url)) as session:
            row = session.get(CaseRow, request.id)
            if row is not None:
                break
        await asyncio.sleep(0.05)
    assert row is not None and (row.kind, row.parent_case_id) == ("learning_request", None)
