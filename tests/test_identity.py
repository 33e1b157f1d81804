"""Who decided, verified (signing.py): a case takes a decision only as a trusted front door signed it,
for its own partnership, from a role that may record it (`Takes.by`, workflows/intake.py)."""

from __future__ import annotations

import base64
from datetime import datetime, timezone

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from temporalio.client import WorkflowUpdateFailedError

import signing
from models.case import Stage
from models.decisions import Decision
from models.identity import Person, PersonRole, Signature, signed_bytes
from tests.journey import Journey, example, example_decision, serious_incident_form, signed
from workflows.case_workflow import CaseWorkflow


def person(role: PersonRole, partnership: str | None = "HSSCP") -> Person:
    return Person(email=f"{role.value}@hsscp.example.org", partnership=partnership, roles=[role])


async def refused(handle, decision: Decision) -> str:
    with pytest.raises(WorkflowUpdateFailedError) as failure:
        await handle.execute_update(CaseWorkflow.decide, decision)
    return str(failure.value.cause)


async def dsp_stage(journey: Journey):
    today = await journey.today()
    handle = await journey.start_serious_incident(serious_incident_form(today))
    await journey.sent(handle, "new_serious_incident_form", "dsp_meeting_invitation")
    return handle, today


def forged(workflow_id: str, decision: Decision) -> Decision:
    """Signed as a front door would, with a key the worker does not trust."""
    key = Ed25519PrivateKey.generate()
    signature = Signature(key_id="ed25519:forged", signed_at=datetime.now(timezone.utc), recorded_by=person(PersonRole.BUSINESS_UNIT))
    value = key.sign(signed_bytes(workflow_id, decision.name, decision.body, signature))
    return decision.model_copy(update={"signature": signature.model_copy(update={"value": base64.b64encode(value).decode()})})


async def test_a_decision_not_signed_by_a_front_door_is_refused_through_update_and_signal(journey):
    handle, today = await dsp_stage(journey)
    before = await journey.status(handle)
    unsigned = example_decision("dsp_decision", meeting_held_on=today)
    assert "not signed by a front door" in await refused(handle, unsigned)
    assert "not signed by a front door" in await refused(handle, forged(handle.id, unsigned))
    tampered = signed(handle.id, unsigned)
    tampered = tampered.model_copy(update={"body": {**tampered.body, "decision": "do_not_notify"}})
    assert "not signed by a front door" in await refused(handle, tampered)
    other_case = signed("SI-some-other-case", unsigned)
    assert "not signed by a front door" in await refused(handle, other_case)
    assert (await journey.status(handle)).model_dump() == before.model_dump()

    # The Web UI path: a raw signal with the decision's JSON, and one with a forged signature.
    await handle.signal(CaseWorkflow.submit_decision, unsigned.model_dump(mode="json"))
    await handle.signal(CaseWorkflow.submit_decision, forged(handle.id, unsigned))
    status = await journey.wait_for(handle, lambda s: len(s.decisions) == 2)
    assert all(not d.accepted and "not signed by a front door" in (d.reason or "") for d in status.decisions)
    assert status.stage is Stage.DSP_MEETING

    receipt = await handle.execute_update(CaseWorkflow.decide, signed(handle.id, unsigned))
    assert receipt.stage is Stage.PANEL_NOTIFICATION
    status = await journey.status(handle)
    assert status.decisions[-1].recorded_by == signing.OPERATIONS.email  # the verified person, not the file's


@pytest.mark.parametrize(
    ("role", "allowed"),
    [
        (PersonRole.BUSINESS_UNIT, True),
        (PersonRole.DSP, True),
        (PersonRole.OPERATIONS, True),
        (PersonRole.VIEWER, False),
        (PersonRole.NOTIFIER, False),
        (PersonRole.EXECUTIVE, False),
    ],
)
async def test_who_may_record_the_dsp_decision(journey, role, allowed):
    handle, today = await dsp_stage(journey)
    decision = signed(handle.id, example_decision("dsp_decision", meeting_held_on=today), person(role))
    if allowed:
        receipt = await handle.execute_update(CaseWorkflow.decide, decision)
        assert receipt.stage is Stage.PANEL_NOTIFICATION
        assert (await journey.status(handle)).decisions[-1].recorded_by == person(role).email
    else:
        reason = await refused(handle, decision)
        assert f"({role.value}) may not record it; it is recorded by business_unit, dsp" in reason


async def test_a_role_holder_of_one_partnership_cannot_act_on_the_others_case(journey):
    handle, today = await dsp_stage(journey)  # Stockton-on-Tees: HSSCP
    stranger = person(PersonRole.BUSINESS_UNIT, partnership="STSCP")
    reason = await refused(handle, signed(handle.id, example_decision("dsp_decision", meeting_held_on=today), stranger))
    assert "acts for STSCP, not this case's partnership" in reason


async def test_the_chairs_sign_off_is_the_chairs_or_the_business_units_with_it_attached(journey):
    handle, today = await journey.at_governance()
    executive = signed(handle.id, example_decision("executive_decision", decided_on=today, commission_lcspr=False), person(PersonRole.EXECUTIVE))
    await handle.execute_update(CaseWorkflow.decide, executive)

    sign_off = example_decision("chair_sign_off", signed_on=today)
    reason = await refused(handle, signed(handle.id, sign_off, person(PersonRole.BUSINESS_UNIT)))
    assert "only with the written say-so of partnership_chair attached (written_sign_off)" in reason
    reason = await refused(handle, signed(handle.id, sign_off, person(PersonRole.RAPID_REVIEW_CHAIR)))
    assert "may not record it; it is recorded by partnership_chair" in reason
    receipt = await handle.execute_update(CaseWorkflow.decide, signed(handle.id, sign_off, person(PersonRole.PARTNERSHIP_CHAIR)))
    assert receipt.stage is Stage.AWAITING_PANEL_RESPONSE


async def test_the_business_unit_records_the_sign_off_with_the_chairs_written_say_so(journey):
    handle, today = await journey.at_governance()
    await journey.decide(handle, "executive_decision", decided_on=today, commission_lcspr=False)
    attached = example_decision("chair_sign_off", signed_on=today, written_sign_off="chair-sign-off-1a2b3c4d.pdf")
    receipt = await handle.execute_update(CaseWorkflow.decide, signed(handle.id, attached, person(PersonRole.BUSINESS_UNIT)))
    assert receipt.stage is Stage.AWAITING_PANEL_RESPONSE


async def test_status_shows_who_recorded_each_decision_and_whose_decision_it_is(journey):
    handle, today = await journey.at_governance()
    executive = ["Director of Children's Services", "Chief Superintendent, Cleveland Police", "ICB Chief Nurse"]
    await journey.decide(handle, "executive_decision", decided_on=today, decided_by=executive)
    status = await journey.status(handle)
    by_name = {d.name: d for d in status.decisions}
    dsp = by_name["dsp_decision"]  # the DSPs named in its attendees (¶2.6)
    assert dsp.recorded_by == "operations@localhost"
    assert dsp.decided_by == example("decisions/dsp_decision.json")["attendees"]
    assert by_name["executive_decision"].decided_by == executive
    assert by_name["notification_submitted"].decided_by == []  # recorded by the notifier, nobody else named
    assert status.model_dump(mode="json")["decisions"][0]["decided_by"] == dsp.decided_by
