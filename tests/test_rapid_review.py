"""The Rapid Review, governance and the National Panel (¶4.2-4.9) under the time-skipping test server."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from docx import Document
from temporalio.client import WorkflowUpdateFailedError

from models.working_days import add_calendar_months, add_working_days, end_of_day
from models.case import CaseStatus, Clock, DeadlineStatus, Stage
from tests.journey import deadline, messages_to, templates

MINUTE = timedelta(minutes=1)
POLICE = "police.safeguarding@example.org"
TRUST = "trust.safeguarding@example.org"


def agency_deadline(status: CaseStatus, agency: str):
    found = [d for d in status.deadlines if d.key == Clock.AGENCY_CONTRIBUTION and d.subject == agency]
    assert found, f"no contribution deadline for {agency}"
    return found[0]


def report_text(path) -> str:
    document = Document(path)
    cells = [cell.text for table in document.tables for row in table.rows for cell in row.cells]
    return "\n".join([p.text for p in document.paragraphs] + cells)


def attached_report(journey, case_id: str, subject_has: str) -> bytes:
    (message,) = [m for m in journey.delivered(case_id) if subject_has in m["Subject"]]
    (attachment,) = [a for a in message.iter_attachments() if a.get_filename().endswith(".docx")]
    return attachment.get_content()


async def notified_case(journey):
    return await journey.notified_case()


async def convene(journey, handle, today: date):
    due, meeting = await journey.convene_rapid_review(handle, today)
    assert (await journey.status(handle)).stage is Stage.RAPID_REVIEW_MEETING
    return due, meeting


async def test_a_review_commissioned_from_convening_to_the_panels_response(journey, tmp_path):
    handle, today = await notified_case(journey)
    due, meeting_on = await convene(journey, handle, today)

    status = await journey.sent(handle, "rapid_review_details", "contribution_request")
    status = await journey.wait_for(handle, lambda s: len([d for d in s.deadlines if d.key == Clock.AGENCY_CONTRIBUTION]) == 2)
    assert messages_to(status, "rapid_review_details") == [["rapid.review.panel.hsscp@example.org", "HSSCP@hartlepool.gov.uk"]]
    assert messages_to(status, "contribution_request") == [[POLICE], [TRUST]]
    assert agency_deadline(status, "Cleveland Police").due_on == due
    assert [c["outstanding"] for c in status.details["agency_contributions"]] == [True, True]

    for agency in ["Cleveland Police", "North Tees and Hartlepool NHS Foundation Trust"]:
        await journey.decide(handle, "agency_contribution_received", agency=agency, received_on=today)
    status = await journey.status(handle)
    assert [c["outstanding"] for c in status.details["agency_contributions"]] == [False, False]
    assert agency_deadline(status, "Cleveland Police").status is DeadlineStatus.MET

    await journey.skip_to(end_of_day(meeting_on) - timedelta(hours=6))
    held_on = await journey.today()
    receipt = await journey.decide(handle, "rapid_review_meeting_held", held_on=held_on)
    assert receipt.stage is Stage.GOVERNANCE
    status = await journey.sent(handle, "immediate_actions", "report_to_executive")
    assert messages_to(status, "immediate_actions") == [["safeguarding.leads.hsscp@example.org", "HSSCP@hartlepool.gov.uk"]]
    # ¶4.6: the partnership chair is invited too (issue 14, point 10)
    assert messages_to(status, "report_to_executive") == [
        ["executive.hsscp@example.org", "HSSCP@hartlepool.gov.uk", "partnership.chair.hsscp@example.org"]
    ]
    draft = tmp_path / "draft.docx"
    draft.write_bytes(attached_report(journey, handle.id, "review governance"))
    text = report_text(draft)
    for expected in [
        handle.id, "CSONS-0000001", "Facts as far as readily established.", "Cleveland Police",
        "Sibling safety plan reviewed", "Information sharing between health and police",
        "Does the case highlight or may it highlight recurrent themes", "Undertake a local Child Safeguarding Practice Review",
        "Multi-agency learning likely.", "Chronology received",
        # the names a reader knows, from the routing file, and dates written out
        "Local authority\nStockton-on-Tees", "Hartlepool and Stockton-on-Tees Safeguarding Children Partnership",
        f"Rapid Review meeting held\n{held_on.day} {held_on:%B %Y}",
    ]:
        assert expected in text, expected
    for code in ["stockton-on-tees", "\nHSSCP", held_on.isoformat()]:
        assert code not in text, code
    properties = Document(draft).core_properties
    assert properties.author == "Hartlepool and Stockton-on-Tees Safeguarding Children Partnership"
    assert properties.title == f"Rapid Review report, case {handle.id}"
    assert "Final decision" not in text

    await journey.decide(handle, "executive_decision", decided_on=held_on)
    status = await journey.wait_for(handle, lambda s: s.details["local_review_id"] is not None)
    local_review = journey.client.get_workflow_handle(status.details["local_review_id"])
    assert local_review.id == f"{handle.id}-lcspr"
    review = await journey.wait_for(local_review, lambda s: deadline(s, Clock.LCSPR_PUBLICATION) is not None)
    assert deadline(review, Clock.LCSPR_PUBLICATION).due_on == add_calendar_months(held_on, 6)
    assert review.stage is Stage.LCSPR_COMMISSIONING

    receipt = await journey.decide(handle, "chair_sign_off", signed_on=held_on)
    assert receipt.stage is Stage.AWAITING_PANEL_RESPONSE
    status = await journey.wait_for(handle, lambda s: deadline(s, Clock.PANEL_RESPONSE) is not None)
    status = await journey.sent(handle, "report_to_national_panel")
    assert messages_to(status, "report_to_national_panel") == [["national.panel@example.org", "HSSCP@hartlepool.gov.uk"]]
    assert deadline(status, Clock.RAPID_REVIEW_SUBMISSION).status is DeadlineStatus.MET
    assert deadline(status, Clock.PANEL_RESPONSE).due_on == add_working_days(held_on, 15)
    final = tmp_path / "final.docx"
    final.write_bytes(attached_report(journey, handle.id, "Rapid Review outcome"))
    text = report_text(final)
    assert "Local child safeguarding practice review to be commissioned." in text
    assert "a local Child Safeguarding Practice Review was commissioned" in text

    await journey.decide(handle, "panel_response", received_on=held_on)
    status = await journey.status(handle)
    assert status.stage is Stage.LOCAL_REVIEW
    assert deadline(status, Clock.PANEL_RESPONSE).status is DeadlineStatus.MET
    assert "panel_disagrees" not in templates(status)
    assert "deadline_escalation" not in templates(status)


@pytest.mark.parametrize("recommendation", ["no_review", "national_review"])
async def test_no_local_review_closes_after_the_panels_response(journey, recommendation):
    handle, today = await notified_case(journey)
    await convene(journey, handle, today)
    await journey.decide(
        handle, "rapid_review_meeting_held", held_on=today, recommendation=recommendation,
        immediate_actions=[], rationale="Criteria not met: single-agency learning already in hand.",
    )
    status = await journey.sent(handle, "report_to_executive")
    assert "immediate_actions" not in templates(status)
    await journey.decide(handle, "executive_decision", decided_on=today, commission_lcspr=False)
    await journey.decide(handle, "chair_sign_off", signed_on=today, final_decision="No local review.")
    await journey.wait_for(handle, lambda s: deadline(s, Clock.PANEL_RESPONSE) is not None)
    await journey.decide(handle, "panel_response", received_on=today)
    final = await handle.result()
    assert final.stage is Stage.CLOSED
    assert "No local review commissioned" in (final.closed_reason or "")
    assert final.details["local_review_id"] is None
    assert final.details["recommendation"] == recommendation


async def test_the_panel_disagreeing_goes_to_the_executive(journey):
    handle, today = await notified_case(journey)
    await convene(journey, handle, today)
    await journey.decide(handle, "rapid_review_meeting_held", held_on=today, recommendation="no_review")
    await journey.decide(handle, "executive_decision", decided_on=today, commission_lcspr=False)
    await journey.decide(handle, "chair_sign_off", signed_on=today)
    await journey.wait_for(handle, lambda s: deadline(s, Clock.PANEL_RESPONSE) is not None)
    await journey.decide(handle, "panel_response", received_on=today, agrees=False, comments="A local review is needed.")
    await journey.sent(handle, "panel_disagrees")
    # the case waits for the Executive to reconsider (issue 14, point 4; tests/test_routes.py)
    await journey.decide(handle, "executive_reconsidered", decided_on=today, commission_lcspr=False)
    final = await handle.result()
    assert messages_to(final, "panel_disagrees") == [["executive.hsscp@example.org", "HSSCP@hartlepool.gov.uk"]]
    (disagreement,) = [m for m in journey.delivered(handle.id) if "does not agree" in m["Subject"]]
    assert "A local review is needed." in disagreement.get_content()
    assert "does not agree" in (final.closed_reason or "")


async def test_an_agency_contribution_missed_is_escalated_to_the_business_unit(journey):
    handle, today = await notified_case(journey)
    due, _ = await convene(journey, handle, today)
    await journey.decide(handle, "agency_contribution_received", agency="Cleveland Police", received_on=today)
    await journey.skip_to(end_of_day(due) + MINUTE)
    status = await journey.wait_for(
        handle, lambda s: agency_deadline(s, "North Tees and Hartlepool NHS Foundation Trust").escalated
    )
    status = await journey.sent(handle, "deadline_escalation")
    trust = agency_deadline(status, "North Tees and Hartlepool NHS Foundation Trust")
    assert (trust.status, trust.reminders_sent) == (DeadlineStatus.MISSED, 2)
    assert messages_to(status, "deadline_reminder") == [[TRUST], [TRUST]]
    assert messages_to(status, "deadline_escalation") == [["HSSCP@hartlepool.gov.uk"]]
    assert agency_deadline(status, "Cleveland Police").status is DeadlineStatus.MET
    assert [c["outstanding"] for c in status.details["agency_contributions"]] == [False, True]

    await journey.decide(
        handle, "agency_contribution_received", agency="North Tees and Hartlepool NHS Foundation Trust",
        received_on=await journey.today(),
    )
    status = await journey.status(handle)
    assert agency_deadline(status, "North Tees and Hartlepool NHS Foundation Trust").status is DeadlineStatus.MISSED
    assert status.stage is Stage.RAPID_REVIEW_MEETING


async def test_the_15_day_submission_missed_is_escalated_and_the_case_goes_on(journey):
    handle, today = await notified_case(journey)
    await convene(journey, handle, today)
    await journey.decide(handle, "rapid_review_meeting_held", held_on=today)
    await journey.decide(handle, "executive_decision", decided_on=today, commission_lcspr=False)
    due = add_working_days(today, 15)
    await journey.skip_to(end_of_day(due) + MINUTE)
    await journey.wait_for(handle, lambda s: deadline(s, Clock.RAPID_REVIEW_SUBMISSION).escalated)
    signed_on = await journey.today()
    await journey.decide(handle, "chair_sign_off", signed_on=signed_on)
    status = await journey.sent(handle, "report_to_national_panel")
    submission = deadline(status, Clock.RAPID_REVIEW_SUBMISSION)
    assert (submission.status, submission.step_on) == (DeadlineStatus.MISSED, signed_on)
    assert status.stage is Stage.AWAITING_PANEL_RESPONSE


async def test_the_panels_response_overdue_reminds_the_business_unit_to_chase(journey):
    handle, today = await notified_case(journey)
    await convene(journey, handle, today)
    await journey.decide(handle, "rapid_review_meeting_held", held_on=today)
    await journey.decide(handle, "executive_decision", decided_on=today, commission_lcspr=False)
    await journey.decide(handle, "chair_sign_off", signed_on=today)
    await journey.wait_for(handle, lambda s: deadline(s, Clock.PANEL_RESPONSE) is not None)
    await journey.skip_to(end_of_day(add_working_days(today, 15)) + MINUTE)
    status = await journey.wait_for(handle, lambda s: deadline(s, Clock.PANEL_RESPONSE).escalated)
    status = await journey.sent(handle, "deadline_escalation")
    chases = [m for m in status.messages if m.key.endswith("/escalation/panel_response")]
    assert [m.to for m in chases] == [["HSSCP@hartlepool.gov.uk", "hsscp.business.manager@example.org"]]
    (chase,) = [m for m in journey.delivered(handle.id) if "National Panel response" in m["Subject"]]
    assert "Chase the National Panel" in chase.get_content()
    assert deadline(status, Clock.PANEL_RESPONSE).reminders_sent == 0
    assert status.stage is Stage.AWAITING_PANEL_RESPONSE


async def refused(journey, handle, name: str, **changes) -> str:
    before = await journey.status(handle)
    with pytest.raises(WorkflowUpdateFailedError) as error:
        await journey.decide(handle, name, **changes)
    assert (await journey.status(handle)).model_dump() == before.model_dump(), "a refused decision changed the case"
    return str(error.value.cause)


async def test_wrong_or_invalid_decisions_in_the_rapid_review_are_refused(journey):
    handle, today = await notified_case(journey)
    submission_due = add_working_days(today, 15)

    assert "is after meeting_on" in await refused(
        journey, handle, "rapid_review_convened",
        contributions_due_on=add_working_days(today, 4), meeting_on=add_working_days(today, 3),
    )
    assert "is after the rapid_review_submission deadline" in await refused(
        journey, handle, "rapid_review_convened",
        contributions_due_on=add_working_days(submission_due, 1), meeting_on=add_working_days(submission_due, 2),
    )
    assert "not expected at stage rapid_review" in await refused(journey, handle, "rapid_review_meeting_held", held_on=today)
    assert "not expected at stage rapid_review" in await refused(journey, handle, "executive_decision", decided_on=today)

    await convene(journey, handle, today)
    assert "Ofsted was not asked to contribute" in await refused(
        journey, handle, "agency_contribution_received", agency="Ofsted", received_on=today
    )
    await journey.decide(handle, "agency_contribution_received", agency="Cleveland Police", received_on=today)
    assert "the contribution of Cleveland Police is already recorded" in await refused(
        journey, handle, "agency_contribution_received", agency="Cleveland Police", received_on=today
    )
    assert "not expected at stage rapid_review_meeting" in await refused(journey, handle, "chair_sign_off", signed_on=today)
    assert "kind: Input should be" in await refused(
        journey, handle, "agency_contribution_received", agency="Cleveland Police", kind="gossip", received_on=today
    )
    assert "recommendation: Input should be" in await refused(
        journey, handle, "rapid_review_meeting_held", held_on=today, recommendation="maybe"
    )
    assert "rationale: String should have at least 1 character" in await refused(
        journey, handle, "rapid_review_meeting_held", held_on=today, recommendation="no_review", rationale=""
    )

    await journey.skip_to(end_of_day(today) + timedelta(hours=12))
    tomorrow = await journey.today()
    await journey.decide(handle, "rapid_review_meeting_held", held_on=tomorrow)
    await journey.sent(handle, "report_to_executive")
    assert "chair_sign_off is not expected" in await refused(journey, handle, "chair_sign_off", signed_on=tomorrow)
    assert "is before the Rapid Review meeting" in await refused(journey, handle, "executive_decision", decided_on=today)
    await journey.decide(handle, "executive_decision", decided_on=tomorrow)
    await journey.wait_for(handle, lambda s: s.details["local_review_id"] is not None)
    assert "executive_decision is already recorded" in await refused(journey, handle, "executive_decision", decided_on=tomorrow)
    assert "panel_response is not expected at stage governance" in await refused(
        journey, handle, "panel_response", received_on=tomorrow
    )
