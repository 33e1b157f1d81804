"""The Learning Request journey (¶3.1-3.3) under the time-skipping test server."""

from __future__ import annotations

from datetime import timedelta

from models.case import Stage
from tests.journey import learning_request_form, templates


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
    await journey.decide(handle, "learning_review_completed", completed_on=completed_on)
    final = await handle.result()
    assert final.stage is Stage.CLOSED
    assert final.closed_reason == f"Learning review completed on {completed_on}"
    assert [r["id"] for r in final.details["recommendations"]] == ["L1"]
    assert templates(final) == ["new_learning_request", "learning_review_convened", "learning_review_completed"]
    findings = [m for m in journey.delivered(handle.id) if "completed" in m["Subject"]][0].get_content()
    assert "Summary of learning." in findings and "L1: Joint briefing on near-miss escalation." in findings


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
