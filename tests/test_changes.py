"""Changes that practice needs, each a decision with its own record and its clocks judged again: an
agency added to a review, an agency given more time, the Rapid Review meeting moved, a planned
publication date changed (workflows/contributions.py, rapid_review.py, local_review.py)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from temporalio.client import WorkflowUpdateFailedError

from models.case import Clock, DeadlineStatus
from models.working_days import add_working_days, end_of_day
from tests.journey import deadline, messages_to, templates
from tests.test_local_review import POLICE, commissioned_case, to_final_report

MINUTE = timedelta(minutes=1)
EDUCATION = {"name": "Hartlepool Borough Council Education", "email": "education.safeguarding@example.org"}


def agency_deadline(status, agency: str):
    return next(d for d in status.deadlines if d.key == Clock.AGENCY_CONTRIBUTION and d.subject == agency)


async def test_an_agency_added_to_the_rapid_review_is_asked_and_gets_its_clock(journey):
    handle, today = await journey.notified_case()
    due, meeting = await journey.convene_rapid_review(handle, today)
    await journey.decide(handle, "agency_added", added_on=today, agency=EDUCATION, contribution_due_on=due)
    status = await journey.wait_for(
        handle,
        lambda s: any(d.subject == EDUCATION["name"] for d in s.deadlines) and all(m.status == "sent" for m in s.messages),
    )
    added = agency_deadline(status, EDUCATION["name"])
    assert (added.due_on, added.status) == (due, DeadlineStatus.OPEN)
    assert messages_to(status, "contribution_request")[-1] == [EDUCATION["email"]]
    assert [a["agency"] for a in status.details["agency_contributions"]][-1] == EDUCATION["name"]
    # its contribution is then taken like any other
    await journey.decide(handle, "agency_contribution_received", agency=EDUCATION["name"], received_on=today)
    status = await journey.status(handle)
    assert agency_deadline(status, EDUCATION["name"]).status is DeadlineStatus.MET


async def test_an_agency_given_more_time_has_its_clock_moved_and_is_told(journey):
    handle, today = await journey.notified_case()
    due, meeting = await journey.convene_rapid_review(handle, today)
    later = add_working_days(due, 1)
    await journey.decide(
        handle, "contribution_due_extended", extended_on=today, agency=POLICE, contribution_due_on=later,
        reason="The records are held by two services.",
    )
    status = await journey.sent(handle, "contribution_due_extended")
    moved = agency_deadline(status, POLICE)
    assert (moved.due_on, moved.status) == (later, DeadlineStatus.OPEN)
    assert messages_to(status, "contribution_due_extended") == [["police.safeguarding@example.org"]]
    # past the old date nothing is escalated; past the new one it is, under the moved deadline's own key
    await journey.skip_to(end_of_day(due) + MINUTE)
    status = await journey.wait_for(handle, lambda s: agency_deadline(s, "North Tees and Hartlepool NHS Foundation Trust").escalated)
    assert agency_deadline(status, POLICE).status is DeadlineStatus.OPEN
    await journey.skip_to(end_of_day(later) + MINUTE)
    status = await journey.wait_for(handle, lambda s: agency_deadline(s, POLICE).escalated)
    assert any(m.key.endswith("escalation/agency_contribution/cleveland-police/moved-1") for m in status.messages)


@pytest.mark.parametrize(
    ("name", "changes", "reason"),
    [
        ("agency_added", {"agency": {"name": "cleveland police", "email": "x@example.org"}}, "is already asked"),
        ("contribution_due_extended", {"agency": "Durham Police"}, "was not asked to contribute"),
        ("contribution_due_extended", {"contribution_due_on": "2026-01-01"}, "is not after the date it had"),
        ("rapid_review_rescheduled", {"meeting_on": "2099-01-01"}, "is after the rapid_review_submission deadline"),
    ],
)
async def test_a_change_that_cannot_be_is_refused_with_the_reason(journey, name, changes, reason):
    handle, today = await journey.notified_case()
    await journey.convene_rapid_review(handle, today)
    dated = {"agency_added": "added_on", "contribution_due_extended": "extended_on", "rapid_review_rescheduled": "rescheduled_on"}
    defaults = {} if name == "rapid_review_rescheduled" else {"contribution_due_on": add_working_days(today, 4).isoformat()}
    if name == "contribution_due_extended":
        defaults["agency"] = POLICE
    body = {dated[name]: today.isoformat()} | defaults | changes
    await journey.refused(handle, lambda: journey.decide(handle, name, **body), reason)


async def test_the_rapid_review_meeting_moved_tells_its_panel_and_agencies(journey):
    handle, today = await journey.notified_case()
    due, meeting = await journey.convene_rapid_review(handle, today)
    moved_to = add_working_days(meeting, 2)
    await journey.decide(
        handle, "rapid_review_rescheduled", rescheduled_on=today, meeting_on=moved_to, reason="The police DSP cannot attend."
    )
    status = await journey.sent(handle, "rapid_review_rescheduled")
    assert status.details["rapid_review_meeting_on"] == moved_to.isoformat()
    (to,) = messages_to(status, "rapid_review_rescheduled")
    assert {"police.safeguarding@example.org", "trust.safeguarding@example.org"} <= set(to)
    assert set(messages_to(status, "rapid_review_details")[0]) <= set(to)  # the panel, as convened
    notice = next(m for m in journey.delivered(handle.id) if "meeting moved" in m["Subject"])
    body = notice.get_body(preferencelist=("plain",)).get_content()
    assert f"set for {meeting}, is now on {moved_to}" in body
    # the meeting held on the new date goes on as before
    await journey.decide(handle, "rapid_review_meeting_held", held_on=today, immediate_actions=[])
    assert "report_to_executive" in templates(await journey.sent(handle, "report_to_executive"))


async def test_an_agency_added_to_the_terms_of_reference_of_a_local_review(journey):
    case, review, today = await commissioned_case(journey)
    await journey.decide(review, "reviewer_commissioned", commissioned_on=today)
    from tests.test_local_review import agencies

    await journey.decide(review, "terms_of_reference_agreed", agreed_on=today, agencies=agencies(add_working_days(today, 10)))
    await journey.wait_for(review, lambda s: len([d for d in s.deadlines if d.key == Clock.AGENCY_CONTRIBUTION]) == 2)
    due = add_working_days(today, 12)
    await journey.decide(review, "agency_added", added_on=today, agency=EDUCATION, contribution_due_on=due)
    status = await journey.sent(review, "lcspr_contribution_request")
    status = await journey.wait_for(review, lambda s: len(messages_to(s, "lcspr_contribution_request")) == 3)
    assert messages_to(status, "lcspr_contribution_request")[-1] == [EDUCATION["email"]]
    assert agency_deadline(status, EDUCATION["name"]).due_on == due


async def test_a_planned_publication_date_changed_moves_the_copies_deadline(journey):
    case, review, today = await commissioned_case(journey)
    await to_final_report(journey, review, today, today + timedelta(days=200))
    first = add_working_days(today, 30)
    await journey.decide(review, "publication_scheduled", publication_on=first)
    status = await journey.sent(review, "publication_copies")
    assert deadline(status, Clock.PUBLICATION_COPIES).due_on == add_working_days(first, -7)
    later = add_working_days(today, 40)
    await journey.decide(review, "publication_scheduled", publication_on=later)
    status = await journey.wait_for(
        review, lambda s: deadline(s, Clock.PUBLICATION_COPIES).due_on == add_working_days(later, -7)
    )
    copies = deadline(status, Clock.PUBLICATION_COPIES)
    assert (copies.status, copies.step_on) == (DeadlineStatus.MET, today)  # the copies went today: judged again
