"""Activity inputs travel without their fields at defaults (models/compact.py): fewer bytes in a case's
history, and the activity reads back exactly what the workflow sent."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from temporalio.contrib.pydantic import pydantic_data_converter

from models.case import CaseEvent, MessageRequest, RegisterBatch, Role

CONVERTER = pydantic_data_converter.payload_converter


def travelled(value: object) -> tuple[dict, object]:
    """The payload's JSON as the history keeps it, and the value the activity is given."""
    (payload,) = CONVERTER.to_payloads([value])
    (received,) = CONVERTER.from_payloads([payload], [type(value)])
    return json.loads(payload.data), received


def test_a_message_leaves_its_defaults_behind_and_arrives_whole():
    request = MessageRequest(key="SI-1/new-form", case_id="SI-1", local_authority="hartlepool", template="new_form", to=[Role.BUSINESS_UNIT])
    sent, received = travelled(request)
    assert set(sent) == {"key", "case_id", "local_authority", "template", "to"}
    assert received == request


def test_a_field_set_away_from_its_default_is_kept():
    request = MessageRequest(
        key="SI-1/agency", case_id="SI-1", local_authority="hartlepool", template="agency_request", to=[],
        addresses=["agency@example.org"], context={"due_on": "2026-01-05"},
    )
    sent, received = travelled(request)
    assert sent["addresses"] == ["agency@example.org"] and sent["context"] == {"due_on": "2026-01-05"}
    assert "owner" not in sent and "document" not in sent
    assert received == request


def test_a_register_batch_names_its_case_once_and_its_events_leave_theirs_out():
    event = CaseEvent(seq=3, at=datetime(2026, 1, 5, 9, tzinfo=UTC), kind="decision", name="dsp_decision")
    batch = RegisterBatch(case_id="SI-1", events=[event])
    sent, received = travelled(batch)
    assert sent == {"events": [{"seq": 3, "at": "2026-01-05T09:00:00Z", "kind": "decision", "name": "dsp_decision"}], "case_id": "SI-1"}
    assert received == batch
