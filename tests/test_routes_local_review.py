"""Issue 14 in the local review (¶5.1, ¶5.5): the copies judged by the actual publication, a report taken
down early, and reminders on long clocks, on the time-skipping server."""

from __future__ import annotations

from datetime import time, timedelta

from models.case import Clock, DeadlineStatus, Stage
from models.working_days import add_calendar_months, add_working_days, at_london_time, end_of_day
from tests.journey import deadline, messages_to
from tests.test_local_review import agencies, commissioned_case, to_final_report

MINUTE = timedelta(minutes=1)


async def test_point_06_copies_judged_by_the_actual_publication_date(journey):
    case, review, today = await commissioned_case(journey)
    await to_final_report(journey, review, today, add_working_days(today, 60))
    planned = add_working_days(today, 20)
    await journey.decide(review, "publication_scheduled", publication_on=planned)
    status = await journey.sent(review, "publication_copies")
    copies = deadline(status, Clock.PUBLICATION_COPIES)
    assert (copies.due_on, copies.status, copies.step_on) == (add_working_days(planned, -7), DeadlineStatus.MET, today)

    # Published the day after the copies went, not on the planned date: the copies were late.
    published_on = add_working_days(today, 1)
    await journey.skip_to(end_of_day(published_on) - timedelta(hours=6))
    await journey.decide(review, "published", published_on=published_on)
    status = await journey.wait_for(review, lambda s: deadline(s, Clock.PUBLICATION_COPIES).starts_on == published_on)
    copies = deadline(status, Clock.PUBLICATION_COPIES)
    assert (copies.due_on, copies.status, copies.step_on) == (
        add_working_days(published_on, -7), DeadlineStatus.MISSED, today
    )


async def test_point_06_a_report_withdrawn_from_publication_early_is_recorded(journey):
    case, review, today = await commissioned_case(journey)
    await to_final_report(journey, review, today, add_working_days(today, 60))
    publication_on = add_working_days(today, 10)
    await journey.decide(review, "publication_scheduled", publication_on=publication_on)
    await journey.sent(review, "publication_copies")
    await journey.skip_to(end_of_day(publication_on) - timedelta(hours=6))
    await journey.decide(review, "published", published_on=publication_on)
    status = await journey.wait_for(review, lambda s: deadline(s, Clock.PUBLIC_UNTIL) is not None)
    assert deadline(status, Clock.PUBLIC_UNTIL).due_on == add_calendar_months(publication_on, 12)

    withdrawn_on = publication_on + timedelta(days=40)
    await journey.skip_to(end_of_day(withdrawn_on) - timedelta(hours=6))
    await journey.decide(review, "publication_withdrawn", withdrawn_on=withdrawn_on)
    status = await journey.status(review)
    public = deadline(status, Clock.PUBLIC_UNTIL)
    assert (public.status, public.step_on) == (DeadlineStatus.MISSED, withdrawn_on)
    assert str(status.details["publication_withdrawn_on"]) == withdrawn_on.isoformat()
    assert status.stage is Stage.MONITORING  # its recommendation is still monitored


async def test_point_12_a_six_month_clock_is_reminded_a_month_ahead(journey):
    case, review, today = await commissioned_case(journey)
    publication = deadline(await journey.status(review), Clock.LCSPR_PUBLICATION)
    month_before = add_working_days(publication.due_on, -20)
    await journey.skip_to(at_london_time(month_before, time(9)) + MINUTE)
    status = await journey.wait_for(review, lambda s: deadline(s, Clock.LCSPR_PUBLICATION).reminders_sent == 1)
    status = await journey.sent(review, "deadline_reminder")
    assert messages_to(status, "deadline_reminder") == [["HSSCP@hartlepool.gov.uk"]]
    assert deadline(status, Clock.LCSPR_PUBLICATION).status is DeadlineStatus.OPEN
    await journey.skip_to(at_london_time(add_working_days(publication.due_on, -5), time(9)) + MINUTE)
    await journey.wait_for(review, lambda s: deadline(s, Clock.LCSPR_PUBLICATION).reminders_sent == 3)  # 20, 10, 5


async def test_point_10_a_withdrawal_tells_the_local_reviews_agencies(journey):
    case, review, today = await commissioned_case(journey)
    await journey.decide(review, "reviewer_commissioned", commissioned_on=today)
    await journey.decide(
        review, "terms_of_reference_agreed", agreed_on=today, agencies=agencies(add_working_days(today, 10))
    )
    await journey.sent(review, "lcspr_contribution_request")
    await journey.decide(case, "case_withdrawn", withdrawn_on=today)
    review_final = await review.result()
    assert review_final.stage is Stage.WITHDRAWN
    assert messages_to(review_final, "review_withdrawn_to_agencies") == [
        ["police.safeguarding@example.org", "trust.safeguarding@example.org"]
    ]
    assert (await case.result()).stage is Stage.WITHDRAWN
