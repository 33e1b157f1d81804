"""The Local Child Safeguarding Practice Review (¶5.1-5.5), a child workflow of its case, under the
time-skipping test server: months of statutory time in seconds."""

from __future__ import annotations

import re
from datetime import date, timedelta

import pytest

from activities.files import store_document
from temporalio.client import WorkflowHandle, WorkflowUpdateFailedError

from models.working_days import add_calendar_months, add_working_days, end_of_day
from models.case import Clock, DeadlineStatus, Stage
from tests.journey import deadline, messages_to, templates
from workflows.local_review import LocalReviewWorkflow

MINUTE = timedelta(minutes=1)
POLICE, TRUST = "Cleveland Police", "North Tees and Hartlepool NHS Foundation Trust"


def agencies(due_on: date) -> list[dict]:
    return [
        {"name": POLICE, "email": "police.safeguarding@example.org", "contribution_due_on": due_on.isoformat()},
        {"name": TRUST, "email": "trust.safeguarding@example.org", "contribution_due_on": due_on.isoformat()},
    ]


def recommendations(*due: date) -> list[dict]:
    owners = [POLICE, "Stockton-on-Tees Children's Services"]
    return [
        {"id": f"R{n}", "text": f"Recommendation {n}.", "owner": owners[n - 1], "due_on": d.isoformat()}
        for n, d in enumerate(due, start=1)
    ]


async def commissioned_case(journey) -> tuple[WorkflowHandle, WorkflowHandle, date]:
    """A case through its Rapid Review with a local review commissioned today (¶4.6)."""
    case, today = await journey.at_governance()
    await journey.decide(case, "executive_decision", decided_on=today)
    status = await journey.wait_for(case, lambda s: s.details["local_review_id"] is not None)
    review = journey.client.get_workflow_handle_for(LocalReviewWorkflow.run, status.details["local_review_id"])
    await journey.wait_for(review, lambda s: deadline(s, Clock.LCSPR_PUBLICATION) is not None)
    return case, review, today


async def to_final_report(journey, review, today: date, *recommendation_due: date) -> None:
    await journey.decide(review, "reviewer_commissioned", commissioned_on=today)
    await journey.decide(review, "terms_of_reference_agreed", agreed_on=today, agencies=agencies(add_working_days(today, 10)))
    for agency in (POLICE, TRUST):
        await journey.decide(review, "agency_contribution_received", agency=agency, received_on=today)
    await journey.decide(
        review, "final_report_received", received_on=today, recommendations=recommendations(*recommendation_due)
    )
    await journey.wait_for(
        review,
        lambda s: len([d for d in s.deadlines if d.key == Clock.RECOMMENDATION]) == len(recommendation_due)
        and all(m.status == "sent" for m in s.messages),
    )


async def test_a_whole_local_review_from_commissioning_to_a_year_public(journey):
    case, review, today = await commissioned_case(journey)
    status = await journey.status(review)
    assert (status.kind.value, status.stage, status.partnership) == ("local_review", Stage.LCSPR_COMMISSIONING, "HSSCP")
    six_months = add_calendar_months(today, 6)
    assert deadline(status, Clock.LCSPR_PUBLICATION).due_on == six_months

    # The Rapid Review goes on beside it to the Panel's response.
    await journey.decide(case, "chair_sign_off", signed_on=today)
    await journey.wait_for(case, lambda s: deadline(s, Clock.PANEL_RESPONSE) is not None)
    await journey.decide(case, "panel_response", received_on=today)
    assert (await journey.status(case)).stage is Stage.LOCAL_REVIEW

    await journey.decide(review, "reviewer_commissioned", commissioned_on=today)
    contributions_due = add_working_days(today, 10)
    await journey.decide(review, "terms_of_reference_agreed", agreed_on=today, agencies=agencies(contributions_due))
    status = await journey.wait_for(review, lambda s: len([d for d in s.deadlines if d.key == Clock.AGENCY_CONTRIBUTION]) == 2)
    status = await journey.sent(review, "lcspr_contribution_request")
    assert messages_to(status, "lcspr_contribution_request") == [
        ["police.safeguarding@example.org"], ["trust.safeguarding@example.org"]
    ]
    for agency in (POLICE, TRUST):
        await journey.decide(review, "agency_contribution_received", agency=agency, received_on=today)

    await journey.skip_to(end_of_day(today + timedelta(days=90)))
    report_on = await journey.today()
    r1_due, r2_due = report_on + timedelta(days=120), report_on + timedelta(days=200)
    await journey.decide(review, "final_report_received", received_on=report_on, recommendations=recommendations(r1_due, r2_due))
    await journey.wait_for(review, lambda s: len([d for d in s.deadlines if d.key == Clock.RECOMMENDATION]) == 2)

    publication_on = add_working_days(report_on, 20)
    await journey.decide(review, "publication_scheduled", publication_on=publication_on)
    status = await journey.sent(review, "publication_copies")
    assert messages_to(status, "publication_copies") == [[
        "national.panel@example.org", "secretary.of.state@example.org", "ofsted@example.org", "HSSCP@hartlepool.gov.uk",
    ]]
    copies = deadline(status, Clock.PUBLICATION_COPIES)
    assert (copies.due_on, copies.status, copies.step_on) == (add_working_days(publication_on, -7), DeadlineStatus.MET, report_on)

    await journey.skip_to(end_of_day(publication_on) - timedelta(hours=6))
    await journey.decide(review, "published", published_on=publication_on)
    status = await journey.wait_for(review, lambda s: deadline(s, Clock.PUBLIC_UNTIL) is not None)
    assert status.stage is Stage.MONITORING
    assert deadline(status, Clock.LCSPR_PUBLICATION).status is DeadlineStatus.MET
    public_until = deadline(status, Clock.PUBLIC_UNTIL)
    assert public_until.due_on == add_calendar_months(publication_on, 12)

    # R1 is completed in time; R2 runs late: its owner is reminded, the partnership told.
    await journey.decide(review, "recommendation_updated", id="R1", status="completed", updated_on=await journey.today())
    await journey.skip_to(end_of_day(r2_due) + MINUTE)
    status = await journey.wait_for(review, lambda s: any(d.subject == "R2" and d.escalated for d in s.deadlines))
    status = await journey.sent(review, "deadline_escalation")
    r2 = next(d for d in status.deadlines if d.subject == "R2")
    assert (r2.status, r2.reminders_sent) == (DeadlineStatus.MISSED, 5)  # a long clock: 20, 10, 5, 1, 0 before
    assert messages_to(status, "deadline_reminder")[-1] == ["stockton.childrens.services@example.org", "HSSCP@hartlepool.gov.uk"]
    await journey.decide(review, "recommendation_updated", id="R2", status="completed", updated_on=await journey.today())
    assert (await journey.status(review)).stage is Stage.MONITORING  # public for a year first

    await journey.skip_to(end_of_day(public_until.due_on) + MINUTE)
    final = await review.result()
    assert final.stage is Stage.CLOSED
    assert deadline(final, Clock.PUBLIC_UNTIL).status is DeadlineStatus.MET
    assert templates(final)[-1] == "public_until_reached"
    assert {d.subject: d.status for d in final.deadlines if d.key == Clock.RECOMMENDATION} == {
        "R1": DeadlineStatus.MET, "R2": DeadlineStatus.MISSED,
    }
    case_final = await case.result()
    assert case_final.stage is Stage.CLOSED
    assert case_final.closed_reason.startswith("Local review: LCSPR published on")
    assert (await journey.now()).date() - today > timedelta(days=540)  # more than 18 months of statutory time
    # A case this long stays healthy: each agency and recommendation adds a bounded number of events.
    history = await review.fetch_history()
    assert len(history.events) < 500


async def test_publication_after_six_months_is_accepted_and_shown_late(journey):
    case, review, today = await commissioned_case(journey)
    await to_final_report(journey, review, today, today + timedelta(days=400))
    six_months = add_calendar_months(today, 6)
    late = add_working_days(six_months, 10)
    await journey.decide(review, "publication_scheduled", publication_on=late)
    status = await journey.sent(review, "publication_copies")
    assert status.details["publication_planned_late"] is True
    await journey.skip_to(end_of_day(six_months) + MINUTE)
    status = await journey.wait_for(review, lambda s: deadline(s, Clock.LCSPR_PUBLICATION).escalated)
    await journey.skip_to(end_of_day(late) - timedelta(hours=6))
    await journey.decide(review, "published", published_on=late)
    status = await journey.wait_for(review, lambda s: deadline(s, Clock.PUBLIC_UNTIL) is not None)
    publication = deadline(status, Clock.LCSPR_PUBLICATION)
    assert (publication.status, publication.step_on) == (DeadlineStatus.MISSED, late)


async def test_copies_too_late_are_refused_unless_already_gone(journey):
    case, review, today = await commissioned_case(journey)
    await to_final_report(journey, review, today, today + timedelta(days=400))
    before = await journey.status(review)
    with pytest.raises(WorkflowUpdateFailedError) as refused:
        await journey.decide(review, "publication_scheduled", publication_on=add_working_days(today, 3))
    assert re.search(r"leaves [0-3] working days for the copies .*¶5\.5 needs 7", str(refused.value.cause))
    assert (await journey.status(review)).model_dump() == before.model_dump()
    with pytest.raises(WorkflowUpdateFailedError) as refused:
        await journey.decide(review, "published", published_on=today)
    assert "schedule the publication first" in str(refused.value.cause)

    await journey.decide(review, "publication_scheduled", publication_on=add_working_days(today, 12))
    await journey.sent(review, "publication_copies")
    # The copies have gone: an earlier date is now accepted (and nothing is sent again).
    await journey.decide(review, "publication_scheduled", publication_on=add_working_days(today, 2))
    status = await journey.status(review)
    assert str(status.details["publication_on"]) == add_working_days(today, 2).isoformat()
    assert templates(status).count("publication_copies") == 1


async def test_an_agency_contribution_missed_in_the_local_review(journey):
    case, review, today = await commissioned_case(journey)
    await journey.decide(review, "reviewer_commissioned", commissioned_on=today)
    due = add_working_days(today, 5)
    await journey.decide(review, "terms_of_reference_agreed", agreed_on=today, agencies=agencies(due))
    await journey.wait_for(review, lambda s: len([d for d in s.deadlines if d.key == Clock.AGENCY_CONTRIBUTION]) == 2)
    await journey.decide(review, "agency_contribution_received", agency=POLICE, received_on=today)
    await journey.skip_to(end_of_day(due) + MINUTE)
    status = await journey.wait_for(review, lambda s: any(d.subject == TRUST and d.escalated for d in s.deadlines))
    status = await journey.sent(review, "deadline_escalation")
    assert messages_to(status, "deadline_escalation") == [["HSSCP@hartlepool.gov.uk"]]
    assert [c["outstanding"] for c in status.details["agency_contributions"]] == [False, True]
    assert status.stage is Stage.LCSPR_REVIEW


async def test_wrong_stage_or_invalid_decisions_in_the_local_review_are_refused(journey):
    case, review, today = await commissioned_case(journey)

    async def refused(name: str, **changes) -> str:
        before = await journey.status(review)
        with pytest.raises(WorkflowUpdateFailedError) as error:
            await journey.decide(review, name, **changes)
        assert (await journey.status(review)).model_dump() == before.model_dump()
        return str(error.value.cause)

    assert "not expected at stage lcspr_commissioning" in await refused("final_report_received", received_on=today)
    assert "not expected at stage lcspr_commissioning" in await refused("published", published_on=today)
    assert "is before the decision to commission the review" in await refused(
        "reviewer_commissioned", commissioned_on=today - timedelta(days=1)
    )
    await journey.decide(review, "reviewer_commissioned", commissioned_on=today)
    await journey.decide(review, "terms_of_reference_agreed", agreed_on=today, agencies=agencies(add_working_days(today, 5)))
    # each agency is asked, then its clock started: wait for both clocks, or a refusal below races the second
    await journey.wait_for(
        review,
        lambda s: all(m.status == "sent" for m in s.messages)
        and len(s.messages) >= 2
        and sum(d.key is Clock.AGENCY_CONTRIBUTION for d in s.deadlines) == 2,
    )
    assert "Ofsted was not asked to contribute" in await refused(
        "agency_contribution_received", agency="Ofsted", received_on=today
    )
    no_owner = recommendations(today + timedelta(days=30))
    del no_owner[0]["owner"]
    assert "recommendations.0.owner: Field required" in await refused(
        "final_report_received", received_on=today, recommendations=no_owner
    )
    no_due_date = recommendations(today + timedelta(days=30))
    del no_due_date[0]["due_on"]
    assert "recommendations.0.due_on: Field required" in await refused(
        "final_report_received", received_on=today, recommendations=no_due_date
    )
    assert "publication_scheduled is not expected at stage lcspr_review" in await refused(
        "publication_scheduled", publication_on=today + timedelta(days=60)
    )


async def test_withdrawing_the_case_withdraws_its_local_review(journey):
    case, review, today = await commissioned_case(journey)
    await journey.decide(review, "reviewer_commissioned", commissioned_on=today)
    await journey.decide(case, "case_withdrawn", withdrawn_on=today)
    review_final = await review.result()
    assert review_final.stage is Stage.WITHDRAWN
    assert deadline(review_final, Clock.LCSPR_PUBLICATION).status is DeadlineStatus.CANCELLED
    case_final = await case.result()
    assert case_final.stage is Stage.WITHDRAWN


async def test_copies_recorded_as_sent_outside_the_system_are_not_sent_again(journey):
    case, review, today = await commissioned_case(journey)
    await to_final_report(journey, review, today, today + timedelta(days=400))
    publication_on = add_working_days(today, 3)  # too soon, unless the copies have gone
    await journey.decide(review, "publication_scheduled", publication_on=publication_on, copies_sent_on=today)
    status = await journey.wait_for(
        review, lambda s: deadline(s, Clock.PUBLICATION_COPIES).status is not DeadlineStatus.OPEN
    )
    copies = deadline(status, Clock.PUBLICATION_COPIES)
    assert copies.step_on == today
    assert copies.status is (DeadlineStatus.MET if today <= copies.due_on else DeadlineStatus.MISSED)
    assert "publication_copies" not in templates(status)


async def test_a_withdrawal_dated_before_the_review_began_still_ends_it(journey):
    case, today = await journey.notified_case()
    await journey.convene_rapid_review(case, today)
    await journey.skip_to(end_of_day(today) + timedelta(hours=10))
    tomorrow = await journey.today()
    await journey.decide(case, "rapid_review_meeting_held", held_on=tomorrow, immediate_actions=[])
    await journey.decide(case, "executive_decision", decided_on=tomorrow)
    status = await journey.wait_for(case, lambda s: s.details["local_review_id"] is not None)
    review = journey.client.get_workflow_handle_for(LocalReviewWorkflow.run, status.details["local_review_id"])
    await journey.wait_for(review, lambda s: deadline(s, Clock.LCSPR_PUBLICATION) is not None)

    await journey.decide(case, "case_withdrawn", withdrawn_on=today)  # the form's day, before the review
    assert (await review.result()).stage is Stage.WITHDRAWN
    assert (await case.result()).stage is Stage.WITHDRAWN


async def test_the_reviewers_report_goes_with_the_copies(journey, tmp_path):
    case, review, today = await commissioned_case(journey)
    report = tmp_path / "lcspr-final-report.pdf"
    report.write_bytes(b"%PDF-1.4 the reviewer's report")
    stored = store_document(report, review.id)  # what starter.py decide does with the file it is given
    await journey.decide(review, "reviewer_commissioned", commissioned_on=today)
    await journey.decide(review, "terms_of_reference_agreed", agreed_on=today, agencies=agencies(add_working_days(today, 5)))
    await journey.decide(
        review, "final_report_received", received_on=today, report_file=stored,
        recommendations=recommendations(today + timedelta(days=300)),
    )
    await journey.wait_for(review, lambda s: deadline(s, Clock.RECOMMENDATION) is not None)
    await journey.decide(review, "publication_scheduled", publication_on=add_working_days(today, 15))
    await journey.sent(review, "publication_copies")
    (copies,) = [m for m in journey.delivered(review.id) if "copy of the report" in m["Subject"]]
    (attachment,) = list(copies.iter_attachments())
    assert (attachment.get_filename(), attachment.get_content_type()) == (stored, "application/pdf")
    assert stored.startswith("lcspr-final-report-") and stored.endswith(".pdf")
    assert attachment.get_content() == report.read_bytes()
    assert "The full report is attached." in copies.get_body(preferencelist=("plain",)).get_content()
