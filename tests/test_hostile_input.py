"""Hostile and broken input never wedges, bloats or leaks a case (issue 11).

Every way in is tried with what an attacker or a careless user would send: forms (as the command line
reads them), decisions through the update and through the signal, direct starts, junk signals by the
thousand. For each: the expected refusal, nothing stored or sent, and the case healthy afterwards
(`status` answers, the next valid decision is accepted, no workflow task has failed).
"""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError
from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowFailureError, WorkflowHandle, WorkflowUpdateFailedError

import starter
from models.case import CaseStatus, Stage
from models.decisions import Decision
from models.forms import LearningRequestForm, SeriousIncidentForm
from tests.journey import Journey, example, example_decision, local_activities, serious_incident_form, templates
from workflows.case_workflow import REFUSED_SIGNALS_KEPT, CaseWorkflow
from workflows.learning_request import LearningRequestWorkflow
from workflows import search_attributes

TODAY = date(2026, 1, 15)
NUL, ESC, RLO = "\x00", "\x1b[31m", "\u202e"


def changed(body: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    """A copy of a JSON body with one value (by dotted path; `...` removes it) changed."""
    body = json.loads(json.dumps(body))
    *parents, last = path.split(".")
    target = body
    for part in parents:
        target = target[int(part)] if isinstance(target, list) else target[part]
    if value is ...:
        del target[last]
    elif isinstance(target, list):
        target[int(last)] = value
    else:
        target[last] = value
    return body


# ---- forms: refused with the field and the reason, before anything starts --------------------------

SI_FORM = example("serious-incident-form.json")
LR_FORM = example("learning-request-form.json")

BAD_FORMS = [
    ("unknown authority", SI_FORM, "local_authority", "gotham", "local_authority"),
    ("missing authority", SI_FORM, "local_authority", ..., "local_authority: Field required"),
    ("received in the future", SI_FORM, "received_on", "2026-02-01", "cannot be in the future"),
    ("received in year 9999", SI_FORM, "received_on", "9999-12-31", "must be between 1900-01-01 and 2099-12-31"),
    ("received in year 1", SI_FORM, "received_on", "0001-01-01", "must be between"),
    ("a date as a number", SI_FORM, "received_on", 20251223, "must be a date written YYYY-MM-DD"),
    ("a malformed date", SI_FORM, "received_on", "23/12/2025", "received_on"),
    ("aware after receipt", SI_FORM, "became_aware_on", "2025-12-24", "became_aware_on: cannot be after received_on"),
    ("born after the incident", SI_FORM, "child.date_of_birth", "2025-12-21", "date_of_birth: cannot be after incident.date"),
    ("an empty referrer name", SI_FORM, "referrer.name", "", "referrer.name"),
    ("a whitespace-only referrer name", SI_FORM, "referrer.name", "   ", "referrer.name"),
    ("a NUL in the referrer's agency", SI_FORM, "referrer.agency", f"Police{NUL}", "control characters"),
    ("an ANSI escape in the summary", SI_FORM, "incident.summary", f"{ESC}red", "control characters"),
    ("a right-to-left override in the reference", SI_FORM, "child.reference", f"Child {RLO}A", "bidirectional"),
    ("a line break in a name", SI_FORM, "referrer.name", "Alex\nPractitioner", "one line"),
    ("a 1 MB summary", SI_FORM, "incident.summary", "x" * 1_000_000, "at most 20000 characters"),
    ("a 300-character agency", SI_FORM, "agencies_involved.0", "A" * 300, "at most 200 characters"),
    ("no agencies", SI_FORM, "agencies_involved", [], "agencies_involved"),
    ("a thousand agencies", SI_FORM, "agencies_involved", [f"Agency {n}" for n in range(1000)], "at most 100 items"),
    ("'yes' as a boolean", SI_FORM, "child.known_to_childrens_social_care", "yes", "valid boolean"),
    ("1 as a boolean", SI_FORM, "child.known_to_childrens_social_care", 1, "valid boolean"),
    ("an unknown outcome", SI_FORM, "incident.outcome", "injury", "incident.outcome"),
    ("a bad e-mail", SI_FORM, "referrer.email", "not an address", "referrer.email"),
    ("an extra field", SI_FORM, "child.name", "Full Name", "child.name: is not a field of the serious incident form"),
    ("a learning request with an unknown reason", LR_FORM, "reason", "curiosity", "reason"),
    ("a learning request in the future", LR_FORM, "received_on", "2027-01-01", "cannot be in the future"),
]


@pytest.mark.parametrize(
    ("form", "path", "value", "reason"), [pytest.param(*case[1:], id=case[0]) for case in BAD_FORMS]
)
def test_a_bad_form_is_refused_with_the_field_and_the_reason(form, path, value, reason):
    model = SeriousIncidentForm if form is SI_FORM else LearningRequestForm
    with pytest.raises(ValidationError) as refused:
        model.model_validate(changed(form, path, value), context={"today": TODAY})
    explained = starter.describe_validation_error(refused.value)
    assert reason in explained
    for secret in ("Full Name", "x" * 50, "not an address", "gotham"):
        assert secret not in explained  # the reason never echoes the input


BAD_FILES = [
    ("no such file", lambda tmp: tmp / "missing.json", "no such file"),
    ("a folder", lambda tmp: tmp, "a folder, not a file"),
    ("not JSON", lambda tmp: write(tmp / "f.json", b"{not json"), "not valid JSON"),
    ("not UTF-8", lambda tmp: write(tmp / "f.json", b"\xff\xfe{}"), "not UTF-8"),
    ("10 MB", lambda tmp: write(tmp / "f.json", b'{"a": "' + b"x" * 10_000_000 + b'"}'), "larger than 1 MB"),
    ("nested 5,000 deep", lambda tmp: write(tmp / "f.json", b"[" * 5000 + b"]" * 5000), "nested too deeply"),
    ("nested 20 deep", lambda tmp: write(tmp / "f.json", b'{"a":' * 20 + b"1" + b"}" * 20), "nested too deeply"),
    ("null", lambda tmp: write(tmp / "f.json", b"null"), "one JSON object"),
    ("a list", lambda tmp: write(tmp / "f.json", b"[1, 2]"), "one JSON object"),
]


def write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


@pytest.mark.parametrize(("make", "reason"), [pytest.param(*case[1:], id=case[0]) for case in BAD_FILES])
def test_a_bad_decision_file_is_one_line_never_a_traceback(tmp_path, capsys, monkeypatch, make, reason):
    monkeypatch.setenv("TEMPORAL_ADDRESS", "127.0.0.1:1")  # nothing is contacted: refused before
    code = starter.main(["decide", "SI-20260115-abcdef", "dsp_decision", str(make(tmp_path))])
    err = capsys.readouterr().err
    assert code == 2, err
    assert len(err.strip().splitlines()) == 1 and reason in err and "Traceback" not in err


@pytest.mark.parametrize(("make", "reason"), [pytest.param(*case[1:], id=case[0]) for case in BAD_FILES[:7]])
def test_a_bad_form_file_is_one_line_never_a_traceback(tmp_path, capsys, monkeypatch, make, reason):
    monkeypatch.setenv("TEMPORAL_ADDRESS", "127.0.0.1:1")
    code = starter.main(["serious-incident", str(make(tmp_path))])
    err = capsys.readouterr().err
    assert code == 2 and len(err.strip().splitlines()) == 1 and reason in err and "Traceback" not in err


# ---- decisions, through the update and through the signal -----------------------------------------

DSP = example("decisions/dsp_decision.json")
BAD_DECISIONS = [
    ("a future meeting", "dsp_decision", "meeting_held_on", "2099-01-01", "cannot be in the future"),
    ("a meeting in year 1", "dsp_decision", "meeting_held_on", "0001-01-01", "must be between"),
    ("a NUL in the rationale", "dsp_decision", "rationale", f"ok{NUL}", "control characters"),
    ("ANSI in the rationale", "dsp_decision", "rationale", f"{ESC}ok", "control characters"),
    ("a bidi override in an attendee", "dsp_decision", "attendees.0", f"{RLO}DSP", "bidirectional"),
    ("an empty attendee", "dsp_decision", "attendees.0", " ", "attendees.0"),
    ("'yes' as a boolean", "dsp_decision", "independent_scrutineer_attended", "yes", "valid boolean"),
    ("an unknown outcome", "dsp_decision", "decision", "maybe", "decision"),
    ("no recorded_by", "dsp_decision", "recorded_by", ..., "recorded_by: Field required"),
    ("recorded_by not an address", "dsp_decision", "recorded_by", "=HYPERLINK(\"x\")", "recorded_by"),
    ("an extra field", "dsp_decision", "child_name", "Full Name", "child_name: is not a field of dsp_decision"),
    ("a 30,000-character rationale", "dsp_decision", "rationale", "r" * 30_000, "at most 20000"),
    ("a thousand attendees", "dsp_decision", "attendees", ["A"] * 1000, "at most 100 items"),
    ("a date as a number", "dsp_decision", "meeting_held_on", 20260115, "YYYY-MM-DD"),
    # a notification may precede the DSP call (issue 14), not the LA's awareness
    ("notification before awareness", "notification_submitted", "submitted_on", "2026-01-15", "is before the LA becoming aware"),
    ("wrong stage: withdrawal dated in the future", "case_withdrawn", "withdrawn_on", "2099-01-01", "future"),
    ("a line break in a CSONS reference", "notification_submitted", "csons_reference", "CSONS\nBcc: x", "one line"),
    ("a withdrawal with an empty reason", "case_withdrawn", "reason", "  ", "reason"),
    ("a meeting before the form", "dsp_decision", "meeting_held_on", "2025-01-01", "is before the form's receipt"),
    ("an unknown decision", "no_such_decision", None, None, "unknown decision 'no_such_decision'"),
]


def bad_decision(name: str, path: str | None, value: Any, today: date) -> Decision:
    if path is None:
        return Decision(name=name, body={})
    body = example_decision(name, **({"meeting_held_on": today} if name == "dsp_decision" else {})).body
    if name == "notification_submitted":
        body["submitted_on"] = today.isoformat()
    return Decision(name=name, body=changed(body, path, value))


async def started_case(journey: Journey, today: date) -> WorkflowHandle:
    handle = await journey.start_serious_incident(serious_incident_form(today))
    await journey.sent(handle, "new_serious_incident_form", "dsp_meeting_invitation")
    return handle


async def healthy(journey: Journey, handle: WorkflowHandle, today: date) -> CaseStatus:
    """The case answers, takes its next valid decision, and no workflow task has failed."""
    receipt = await journey.decide(handle, "dsp_decision", meeting_held_on=today)
    assert receipt.stage is Stage.PANEL_NOTIFICATION
    status = await journey.wait_for(
        handle, lambda s: any(m.template == "form_to_notifier" and m.status == "sent" for m in s.messages)
    )
    history = await handle.fetch_history()
    assert not [e for e in history.events if e.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED]
    return status


async def test_every_bad_decision_is_refused_by_update_and_signal_and_changes_nothing(journey):
    today = await journey.today()
    handle = await started_case(journey, today)
    before = await journey.status(handle)
    for title, name, path, value, reason in BAD_DECISIONS:
        decision = bad_decision(name, path, value, today)
        with pytest.raises(WorkflowUpdateFailedError) as refused:
            await handle.execute_update(CaseWorkflow.decide, decision)
        assert reason in str(refused.value.cause), title
        assert "Full Name" not in str(refused.value.cause) and "r" * 100 not in str(refused.value.cause)
    assert (await journey.status(handle)).model_dump() == before.model_dump()  # updates change nothing

    for title, name, path, value, reason in BAD_DECISIONS:
        await handle.signal(CaseWorkflow.submit_decision, bad_decision(name, path, value, today))
    status = await journey.wait_for(handle, lambda s: len(s.decisions) == len(BAD_DECISIONS))
    for (title, *_, reason), record in zip(BAD_DECISIONS, status.decisions):
        assert not record.accepted and reason in (record.reason or ""), title
        assert "Full Name" not in (record.reason or "") and len(record.reason or "") <= 500
    assert status.messages == before.messages and status.deadlines == before.deadlines
    await healthy(journey, handle, today)


JUNK_SIGNALS: list[tuple[str, list[Any], str]] = [
    ("no input", [], "carries one input, not 0"),
    ("two inputs", [{"name": "dsp_decision", "body": {}}, {}], "carries one input, not 2"),
    ("null", [None], "not a decision"),
    ("a number", [42], "not a decision"),
    ("a list", [[1, 2, 3]], "not a decision"),
    ("a string", ["dsp_decision"], "not a decision"),
    ("no body", [{"name": "dsp_decision"}], "body: Field required"),
    ("a body that is a list", [{"name": "dsp_decision", "body": []}], "body"),
    ("a 1 MB name", [{"name": "n" * 1_000_000, "body": {}}], "name: String should have at most 64 characters"),
    ("a name with ANSI codes", [{"name": f"{ESC}dsp", "body": {}}], "name: must not contain control characters"),
    ("a formula as a name", [{"name": '=HYPERLINK("http://x")', "body": {}}], "unknown decision"),
    ("a key with personal data", [{"name": "dsp_decision", "body": {"Child A Smith": 1}}], "(unexpected field)"),
    ("nested 50 deep", [{"name": "dsp_decision", "body": {"a": json.loads('{"a":' * 50 + "1" + "}" * 50)}}], "a: is not a field of dsp_decision"),
]


async def test_junk_signals_of_any_arity_or_shape_are_recorded_as_refused_safely(journey):
    today = await journey.today()
    handle = await started_case(journey, today)
    before = await journey.status(handle)
    for title, args, reason in JUNK_SIGNALS:
        await handle.signal("submit_decision", args=args)
    status = await journey.wait_for(handle, lambda s: len(s.decisions) == len(JUNK_SIGNALS))
    for (title, args, reason), record in zip(JUNK_SIGNALS, status.decisions):
        assert not record.accepted and reason in (record.reason or ""), (title, record.reason)
        assert len(record.name) <= 40 and "\x1b" not in record.name and not record.name.startswith("="), title
        assert "Child A Smith" not in (record.reason or "") and len(record.reason or "") <= 500, title
    assert status.messages == before.messages
    await healthy(journey, handle, today)


# ---- direct starts: fail at once, touch nothing ----------------------------------------------------

DIRECT_STARTS = [
    ("an id that climbs out of its folder", "../x", [SI_FORM], "the case id must be"),
    ("an id with a slash", "SI/x", [SI_FORM], "the case id must be"),
    ("an id of 200 characters", "S" * 200, [SI_FORM], "the case id must be"),
    ("no input", None, [], "not 0 inputs"),
    ("two inputs", None, [SI_FORM, SI_FORM], "not 2 inputs"),
    ("null", None, [None], "invalid SeriousIncidentForm"),
    ("a string", None, ["hello"], "invalid SeriousIncidentForm"),
    ("a form received in 2099", None, [changed(SI_FORM, "received_on", "2099-01-01")], "received_on: cannot be in the future"),
    ("a form received in 2100", None, [changed(SI_FORM, "received_on", "2100-01-01")], "received_on: must be between"),
    ("a form with an unknown authority", None, [changed(SI_FORM, "local_authority", "gotham")], "local_authority"),
    ("a form with a NUL", None, [changed(SI_FORM, "incident.summary", f"a{NUL}b")], "control characters"),
]


@pytest.mark.parametrize(
    ("workflow_id", "args", "reason"), [pytest.param(*case[1:], id=case[0]) for case in DIRECT_STARTS]
)
async def test_a_direct_start_with_a_bad_id_or_input_fails_at_once_and_touches_nothing(journey, workflow_id, args, reason):
    workflow_id = workflow_id or f"SI-test-{uuid.uuid4().hex[:8]}"
    handle = await journey.client.start_workflow(
        "SeriousIncidentWorkflow", args=args, id=workflow_id, task_queue=journey.task_queue
    )
    with pytest.raises(WorkflowFailureError) as failed:
        await asyncio.wait_for(handle.result(), timeout=20)
    cause = failed.value.cause
    assert getattr(cause, "type", None) == "InvalidStart" and getattr(cause, "non_retryable", False)
    assert reason in str(cause) and "Full Name" not in str(cause) and "Free text" not in str(cause)
    assert not list(journey.outbox.rglob("*.eml"))
    history = await handle.fetch_history()
    assert [EventType.Name(e.event_type) for e in history.events][-1] == "EVENT_TYPE_WORKFLOW_EXECUTION_FAILED"
    assert not [e for e in history.events if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED]


async def test_a_learning_request_started_directly_with_a_serious_incident_form_fails_at_once(journey):
    handle = await journey.client.start_workflow(
        LearningRequestWorkflow.run, SI_FORM, id=f"LR-test-{uuid.uuid4().hex[:8]}", task_queue=journey.task_queue
    )
    with pytest.raises(WorkflowFailureError) as failed:
        await asyncio.wait_for(handle.result(), timeout=20)
    assert "invalid LearningRequestForm" in str(failed.value.cause)


# ---- a flood of junk leaves the case healthy and small ---------------------------------------------

# The budget (README, "Hostile input"): the longest real journey stays under HISTORY_BUDGET; junk adds
# its own signal events and nothing more than a counter.
# Every payload is encrypted (codec.py): a nonce, a tag and the key id make each signal's payload about
# a hundred bytes longer in the history's JSON, hence 1.75 MB rather than 1.5 MB for 2,000 of them.
HISTORY_BUDGET_BYTES = 1_750_000
FLOOD = 2000


async def test_two_thousand_junk_signals_leave_the_case_healthy_and_under_budget(journey):
    today = await journey.today()
    handle = await started_case(journey, today)
    junk = Decision(name="challenge_raised", body={"raised_on": today.isoformat()})  # wrong stage, and invalid
    for start in range(0, FLOOD, 200):
        await asyncio.gather(*(handle.signal(CaseWorkflow.submit_decision, junk) for _ in range(start, start + 200)))
    status = await journey.wait_for(
        handle, lambda s: len(s.decisions) + s.refused_not_kept == FLOOD, attempts=1200
    )
    assert len(status.decisions) == REFUSED_SIGNALS_KEPT
    assert status.refused_not_kept == FLOOD - REFUSED_SIGNALS_KEPT
    status = await healthy(journey, handle, today)
    assert status.decisions[-1].accepted and status.stage is Stage.PANEL_NOTIFICATION

    history = await handle.fetch_history()
    size = history.to_json().encode()
    signals = [e for e in history.events if e.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED]
    assert len(signals) == FLOOD
    assert len(size) < HISTORY_BUDGET_BYTES, len(size)
    registered = [
        e for e in history.events
        if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED
        and e.activity_task_scheduled_event_attributes.activity_type.name == "record_events"
    ]
    codec = journey.client.data_converter.payload_codec  # activity inputs are encrypted: read through the codec
    inputs = await codec.decode([e.activity_task_scheduled_event_attributes.input.payloads[0] for e in registered])
    # from the patch `register-local-activity` a batch is written by a local activity: its marker keeps
    # only how many events were new
    results = await codec.decode([m.details["result"].payloads[0] for m in local_activities(history.events, "record_events")])
    written = sum(len(json.loads(p.data)["events"]) for p in inputs) + sum(json.loads(p.data) for p in results)
    assert results, "the register's writes were local activities"
    assert written < REFUSED_SIGNALS_KEPT + FLOOD // 100 + 40  # junk is counted, not written one by one


# ---- what a retry cannot mend, and what it can -------------------------------------------------------


async def test_a_case_whose_step_retries_is_still_withdrawn_and_other_cases_go_on(journey, tmp_path, monkeypatch):
    """The Rapid Review report cannot be written (its folder is a file) and the activity retries;
    a withdrawal still ends the case, and another case meanwhile goes on being served."""
    blocked = tmp_path / "reports-blocked"
    blocked.write_text("not a folder")
    monkeypatch.setenv("SAFEGUARDING_REPORTS_DIR", str(blocked))
    stuck, today = await journey.notified_case()
    await journey.convene_rapid_review(stuck, today)
    await journey.decide(stuck, "rapid_review_meeting_held", held_on=today, immediate_actions=[])
    for _ in range(100):  # the report activity is failing and being retried
        history = await stuck.fetch_history()
        if any(e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED
               and e.activity_task_scheduled_event_attributes.activity_type.name == "render_rapid_review_report"
               for e in history.events):
            break
        await asyncio.sleep(0.05)
    description = await stuck.describe()
    assert description.status.name == "RUNNING"

    other = await journey.start_serious_incident(serious_incident_form(today))
    await journey.decide(other, "dsp_decision", meeting_held_on=today)
    assert "form_to_notifier" in templates(await journey.sent(other, "form_to_notifier"))

    await journey.decide(stuck, "case_withdrawn", withdrawn_on=today)
    final = await asyncio.wait_for(stuck.result(), timeout=30)
    assert final.stage is Stage.WITHDRAWN
    assert "case_withdrawn" in templates(final)


async def test_a_message_a_retry_cannot_mend_is_shown_told_and_the_case_goes_on(journey, tmp_path, monkeypatch):
    """A template the Business Unit broke (a placeholder the case does not fill): not retried; the
    case records it, shows it (NeedsAttention), tells the Business Unit and goes on."""
    templates_dir = tmp_path / "templates"
    templates_dir.mkdir()
    for template in (Path(__file__).parents[1] / "activities" / "templates").glob("*.txt"):
        (templates_dir / template.name).write_text(template.read_text(encoding="utf-8"), encoding="utf-8")
    invitation = templates_dir / "dsp_meeting_invitation.txt"
    invitation.write_text(invitation.read_text(encoding="utf-8") + "\n${no_such_field}\n", encoding="utf-8")
    monkeypatch.setenv("SAFEGUARDING_TEMPLATES_DIR", str(templates_dir))
    today = await journey.today()
    handle = await journey.start_serious_incident(serious_incident_form(today))
    status = await journey.wait_for(handle, lambda s: any(m.template == "delivery_refused" and m.status == "sent" for m in s.messages))
    invitation_record = next(m for m in status.messages if m.template == "dsp_meeting_invitation")
    assert invitation_record.status == "failed"
    (attention,) = status.attention
    assert attention.step == "message dsp_meeting_invitation" and "no_such_field" in attention.reason
    description = await handle.describe()
    assert description.typed_search_attributes.get(search_attributes.NEEDS_ATTENTION) is True
    await healthy(journey, handle, today)


# ---- what the command line prints is safe --------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ('=HYPERLINK("http://x","y")', '\'=HYPERLINK("http://x","y")'),
        ("+1+2", "'+1+2"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tTab", " Tab"),
        ("plain", "plain"),
        (None, ""),
    ],
)
def test_csv_cells_are_neutralised_against_formula_injection(value, expected):
    assert starter.cell(value) == expected


@pytest.mark.parametrize("text", [f"{ESC}red\x1b[0m", f"a{NUL}b", f"{RLO}evil", "bell\x07"])
def test_terminal_output_has_no_control_sequences(text, capsys):
    starter.say(text)
    printed = capsys.readouterr().out
    assert not any(c in printed for c in ("\x1b", NUL, RLO, "\x07"))


def test_the_table_of_bad_inputs_is_at_least_eighty():
    assert len(BAD_FORMS) + 2 * len(BAD_FILES) + 2 * len(BAD_DECISIONS) + len(JUNK_SIGNALS) + len(DIRECT_STARTS) >= 80

