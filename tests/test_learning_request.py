"""The Learning Request journey (¶3.1-3.3) under the time-skipping test server."""

from __future__ import annotations

from datetime import timedelta

import pytest
from temporalio.client import WorkflowUpdateFailedError

from models.working_days import add_working_days, end_of_day
from models.case import Clock, DeadlineStatus, Stage
from tests.journey import deadline, example, learning_request_form, messages_to, templates

L1 = example("decisions/learning_review_completed.json")["recommendations"][0]


async def test_learning_review_convened_then_completed(journey):
    today = await journey.today()
    handle = await journey.start_learning_request(learning_request_form(today))
    status = await journey.sent(handle, "new_learning_request")
    assert status.stage is Stage.PARTNERSHIP_DECISION
    assert status.partnership == "STSCP"
    assert [m.to for m in status.messages] == [["STSCP@middlesbrough.gov.uk"]]
    assert status.deadlines == []

    receipt = await journey.decide(handle, "learning_request_decision", decided_on=today)
    assert receipt.stage is Stage.LEARNING_REVIEW
    status = await journey.sent(handle, "learning_review_convened")
    assert [m.to for m in status.messages if m.template == "learning_review_convened"] == [
        ["sam.worker@example.org", "STSCP@middlesbrough.gov.uk"]
    ]

    await journey.skip_to(await journey.now() + timedelta(days=60))
    completed_on = await journey.today()
    due_on = add_working_days(completed_on, 20)
    receipt = await journey.decide(
        handle, "learning_review_completed", completed_on=completed_on,
        recommendations=[{**L1, "due_on": due_on.isoformat()}],
    )
    assert receipt.stage is Stage.MONITORING
    status = await journey.wait_for(handle, lambda s: deadline(s, Clock.RECOMMENDATION) is not None)
    status = await journey.sent(handle, "learning_review_completed")
    findings = [m for m in journey.delivered(handle.id) if "completed" in m["Subject"]][0].get_content()
    assert "Summary of learning." in findings and "L1: Joint briefing on near-miss escalation." in findings
    recommendation = deadline(status, Clock.RECOMMENDATION)
    assert (recommendation.subject, recommendation.due_on) == ("L1", due_on)
    assert recommendation.rule == f"set on {completed_on} for {due_on}"  # from the day it was made

    # ¶5.4, the same code as an LCSPR's: the owner is reminded, the partnership told when it is missed.
    await journey.skip_to(end_of_day(due_on) + timedelta(minutes=1))
    status = await journey.wait_for(handle, lambda s: deadline(s, Clock.RECOMMENDATION).escalated)
    status = await journey.sent(handle, "deadline_escalation")
    assert messages_to(status, "deadline_reminder") == [
        ["redcar.childrens.services@example.org", "STSCP@middlesbrough.gov.uk"]
    ] * 2
    assert messages_to(status, "deadline_escalation") == [["stscp.business.manager@example.org", "STSCP@middlesbrough.gov.uk"]]
    assert status.details["recommendations"][0]["status"] == "open"

    await journey.decide(handle, "recommendation_updated", id="L1", status="in_progress", updated_on=await journey.today())
    assert (await journey.status(handle)).stage is Stage.MONITORING
    done_on = await journey.today()
    await journey.decide(handle, "recommendation_updated", id="L1", status="completed", updated_on=done_on)
    final = await handle.result()
    assert final.stage is Stage.CLOSED
    assert final.closed_reason == f"Learning review completed on {completed_on}; every recommendation completed or closed"
    recommendation = final.details["recommendations"][0]
    assert (recommendation["id"], recommendation["status"], recommendation["updated_on"]) == ("L1", "completed", done_on.isoformat())
    assert deadline(final, Clock.RECOMMENDATION).status is DeadlineStatus.MISSED
    assert [t for t in templates(final) if t != "deadline_reminder"] == [
        "new_learning_request", "learning_review_convened", "learning_review_completed", "deadline_escalation",
    ]


async def test_recommendations_completed_on_time_or_closed_with_a_reason(journey):
    today = await journey.today()
    handle = await journey.start_learning_request(learning_request_form(today))
    await journey.decide(handle, "learning_request_decision", decided_on=today)
    due_on = add_working_days(today, 10)
    await journey.decide(
        handle, "learning_review_completed", completed_on=today,
        recommendations=[{**L1, "due_on": due_on.isoformat()}, {**L1, "id": "L2", "due_on": due_on.isoformat()}],
    )
    await journey.wait_for(handle, lambda s: len([d for d in s.deadlines if d.key == Clock.RECOMMENDATION]) == 2)
    await journey.sent(handle, "learning_review_completed")

    before = await journey.status(handle)
    for changes, reason in [
        ({"id": "L9", "status": "completed"}, "no recommendation L9 (known: L1, L2)"),
        ({"id": "L1", "status": "closed", "note": None}, "needs a reason"),
        ({"id": "L1", "status": "done"}, "status: Input should be"),
        ({"id": "L1", "status": "completed", "updated_on": today - timedelta(days=1)}, "is before the learning review"),
    ]:
        with pytest.raises(WorkflowUpdateFailedError) as refused:
            await journey.decide(handle, "recommendation_updated", **({"updated_on": today} | changes))
        assert reason in str(refused.value.cause)
    assert (await journey.status(handle)).model_dump() == before.model_dump()

    await journey.decide(handle, "recommendation_updated", id="L1", status="completed", updated_on=today)
    with pytest.raises(WorkflowUpdateFailedError) as refused:
        await journey.decide(handle, "recommendation_updated", id="L1", status="in_progress", updated_on=today)
    assert "L1 is already completed" in str(refused.value.cause)
    await journey.decide(
        handle, "recommendation_updated", id="L2", status="closed", updated_on=today, note="Superseded by a national review."
    )
    final = await handle.result()
    assert final.stage is Stage.CLOSED
    statuses = {d.subject: d.status for d in final.deadlines}
    assert statuses == {"L1": DeadlineStatus.MET, "L2": DeadlineStatus.CANCELLED}
    assert "deadline_reminder" not in templates(final)


async def test_no_learning_review_sends_the_referrer_the_rationale(journey):
    today = await journey.today()
    handle = await journey.start_learning_request(learning_request_form(today))
    await journey.decide(
        handle, "learning_request_decision", decided_on=today, decision="no_review", rationale="Single agency only."
    )
    final = await handle.result()
    assert final.stage is Stage.CLOSED
    assert "No learning review" in (final.closed_reason or "")
    assert templates(final) == ["new_learning_request", "learning_request_rationale"]
    reply = [m for m in journey.delivered(handle.id) if "Decision" in m["Subject"]][0]
    assert reply["To"] == "sam.worker@example.org, STSCP@middlesbrough.gov.uk"
    assert "Single agency only." in reply.get_content()


async def test_learning_request_withdrawn(journey):
    today = await journey.today()
    handle = await journey.start_learning_request(learning_request_form(today))
    await journey.decide(handle, "learning_request_decision", decided_on=today)
    await journey.decide(handle, "case_withdrawn", withdrawn_on=today)
    final = await handle.result()
    assert final.stage is Stage.WITHDRAWN
    assert templates(final)[-1] == "case_withdrawn"
