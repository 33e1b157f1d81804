"""What people read on the command line: `status`, `audit` and `cases` as text.

`status` and `audit` are compared whole with golden files (tests/golden/). After a deliberate change
to their layout, write the files again and read the diff before committing it:

    UPDATE_GOLDEN=1 .venv/bin/python -m pytest tests/test_cli_output.py
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
from datetime import date, datetime, timezone
from pathlib import Path

import pytest
from sqlmodel import Session

import starter
from models.case import (
    Attention,
    CaseKind,
    CaseStatus,
    Clock,
    DeadlineRecord,
    DeadlineStatus,
    DecisionRecord,
    MessageRecord,
    Stage,
)
from models.forms import LocalAuthority
from models.next_steps import EXPECTED, expected_next
from register.db import engine_for, migrate
from register.models import CaseRow, EventRow, MessageRow
from register.queries import open_cases
from workflows.learning_request import LearningRequestWorkflow
from workflows.local_review import LocalReviewWorkflow
from workflows.serious_incident import SeriousIncidentWorkflow

GOLDEN = Path(__file__).parent / "golden"
CASE = "SI-20251223-3fa2c1"
REVIEW = f"{CASE}-lcspr"
TRUST = "North Tees and Hartlepool NHS Foundation Trust"


def matches_golden(name: str, text: str) -> None:
    path = GOLDEN / name
    if os.environ.get("UPDATE_GOLDEN"):
        path.parent.mkdir(exist_ok=True)
        path.write_text(text, encoding="utf-8")
    assert path.exists(), f"{path} is missing: UPDATE_GOLDEN=1 writes it"
    assert text == path.read_text(encoding="utf-8"), f"the output differs from {path} (UPDATE_GOLDEN=1 to accept):\n{text}"


@pytest.fixture(autouse=True)
def plain_environment(monkeypatch):
    monkeypatch.setenv("TEMPORAL_UI_URL", "http://localhost:8233")
    monkeypatch.setenv("TEMPORAL_NAMESPACE", "default")
    for name in ("SAFEGUARDING_SMTP_HOST", "SAFEGUARDING_ROUTING_FILE"):
        monkeypatch.delenv(name, raising=False)


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=timezone.utc)


def record(key: Clock, due: date, state: DeadlineStatus, rule: str, subject: str | None = None, late: bool = False):
    return DeadlineRecord(
        key=key, subject=subject, title=key.value, due_on=due, status=state, rule=rule, due_at=at(f"{due}T23:00"),
        recorded_late=late,
    )


def case_in_local_review() -> CaseStatus:
    """A serious incident whose local review is under way, as `starter.status` puts the two together."""
    return CaseStatus(
        case_id=CASE,
        kind=CaseKind.SERIOUS_INCIDENT,
        stage=Stage.LOCAL_REVIEW,
        local_authority=LocalAuthority.STOCKTON_ON_TEES,
        partnership="HSSCP",
        received_on=date(2025, 12, 23),
        deadlines=[
            record(Clock.DSP_MEETING, date(2025, 12, 29), DeadlineStatus.MET, "2 working days after 2025-12-23"),
            record(Clock.PANEL_NOTIFICATION, date(2025, 12, 31), DeadlineStatus.MET, "5 working days after 2025-12-22", late=True),
            record(Clock.AGENCY_CONTRIBUTION, date(2026, 1, 8), DeadlineStatus.MISSED, "as set on 2026-01-05", subject=TRUST),
            record(Clock.LCSPR_PUBLICATION, date(2026, 7, 15), DeadlineStatus.OPEN, "6 calendar months after 2026-01-15"),
            record(Clock.AGENCY_CONTRIBUTION, date(2026, 3, 12), DeadlineStatus.OPEN, "as set on 2026-02-12", subject="Cleveland Police"),
        ],
        decisions=[
            DecisionRecord(name="dsp_decision", accepted=True, received_at=at("2025-12-24T10:15"), via="update"),
            DecisionRecord(name="notification_submitted", accepted=True, received_at=at("2025-12-29T16:40"), via="update"),
            DecisionRecord(
                name="challenge_raised", accepted=False, reason="challenge_raised is not expected at stage panel_notification",
                received_at=at("2025-12-30T09:02"), via="signal",
            ),
            DecisionRecord(name="terms_of_reference_agreed", accepted=True, received_at=at("2026-06-12T13:05"), via="update"),
        ],
        messages=[
            MessageRecord(key=f"{CASE}/new-form", template="new_serious_incident_form", to=["HSSCP@hartlepool.gov.uk"], status="sent"),
            MessageRecord(
                key=f"{CASE}/reminder/dsp_meeting/1", template="deadline_reminder", to=["HSSCP@hartlepool.gov.uk"], status="sent"
            ),
            MessageRecord(
                key=f"{CASE}/reminder/agency_contribution/north-tees-and-hartlepool-nhs-foundation-trust/2",
                template="deadline_reminder", to=["trust.safeguarding@example.org"], status="sent",
            ),
            MessageRecord(
                key=f"{CASE}/escalation/agency_contribution/north-tees-and-hartlepool-nhs-foundation-trust",
                template="deadline_escalation", to=["HSSCP@hartlepool.gov.uk"], status="sent",
            ),
            MessageRecord(
                key=f"{REVIEW}/lcspr-contribution-request/cleveland-police", template="lcspr_contribution_request",
                to=["police.safeguarding@example.org"], status="queued",
            ),
            MessageRecord(key=f"{REVIEW}/escalation/lcspr_publication", template="deadline_escalation", to=["x@example.org"], status="refused"),
        ],
        details={"local_review": {"case_id": REVIEW, "stage": "lcspr_review", "closed_reason": None, "details": {}}},
        attention=[Attention(at=at("2026-01-09T08:00"), step="message deadline_escalation", reason="The mail server refused it permanently.")],
    )


def printed(capsys, case: CaseStatus) -> str:
    starter.print_status(case)
    return capsys.readouterr().out


def test_status_as_people_read_it(capsys):
    matches_golden("status_local_review.txt", printed(capsys, case_in_local_review()))


def test_status_says_when_each_decision_came_in_london_time(capsys):
    text = printed(capsys, case_in_local_review())
    assert re.search(r"dsp_decision +2025-12-24 10:15 +accepted", text)  # GMT: as in UTC
    assert re.search(r"terms_of_reference_agreed +2026-06-12 14:05 +accepted", text)  # BST: an hour on


def test_status_says_what_is_expected_next_and_from_whom(capsys):
    text = printed(capsys, case_in_local_review())
    assert "Expected next: agency_contribution_received from each agency named in the Terms of Reference\n" in text
    assert "               final_report_received from the lead reviewer\n" in text


def test_status_says_which_deadline_a_reminder_or_escalation_is_about(capsys):
    text = printed(capsys, case_in_local_review())
    assert re.search(r"deadline_reminder +reminder 1 about dsp_meeting +in outbox", text)
    assert re.search(rf"deadline_reminder +reminder 2 about agency_contribution \({TRUST}\) +in outbox", text)
    assert re.search(rf"deadline_escalation +agency_contribution \({TRUST}\) missed: escalated +in outbox", text)


def test_status_columns_line_up_whatever_the_agency_names(capsys):
    text = printed(capsys, case_in_local_review())
    section = text.partition("Deadlines:\n")[2].partition("Decisions")[0].splitlines()
    assert len({line.index(" due ") for line in section}) == 1, section
    messages = text.partition("Messages:\n")[2].partition("Needs attention")[0].splitlines()
    statuses = [re.search(r" (in outbox|queued|refused) ", line).start() for line in messages]
    assert len(set(statuses)) == 1, messages


def test_sent_means_in_the_outbox_unless_a_mail_server_is_configured(capsys, monkeypatch):
    text = printed(capsys, case_in_local_review())
    assert " in outbox " in text and " sent " not in text
    monkeypatch.setenv("SAFEGUARDING_SMTP_HOST", "smtp.example.org")
    text = printed(capsys, case_in_local_review())
    assert " in outbox " not in text and re.search(r"reminder 1 about dsp_meeting +sent ", text)
    assert case_in_local_review().model_dump(mode="json")["messages"][0]["status"] == "sent"  # JSON unchanged


def test_every_stage_says_what_it_expects_and_the_journeys_take_it_there():
    journeys = (SeriousIncidentWorkflow, LocalReviewWorkflow, LearningRequestWorkflow)
    assert set(EXPECTED) == set(Stage)
    for stage, expected in EXPECTED.items():
        if stage in (Stage.CLOSED, Stage.WITHDRAWN, Stage.LOCAL_REVIEW):
            assert expected == [] or stage is Stage.LOCAL_REVIEW
            continue
        assert expected, f"{stage}: nothing expected"
        for decision, who in expected:
            rows = [w.declared(decision) for w in journeys]
            assert any(row is not None and stage in row.at for row in rows), f"{decision} is not taken at {stage}"
            assert who
    assert expected_next(Stage.LOCAL_REVIEW, Stage.MONITORING) == ["recommendation_updated from each recommendation's owning agency"]
    assert expected_next(Stage.RAPID_REVIEW, recorded=frozenset({"panel_acknowledged"})) == [
        "rapid_review_convened from the Business Unit (chair, panel, agencies, meeting date)"
    ]
    assert expected_next(Stage.CLOSED) == []


# ---- the register: audit and cases ---------------------------------------------------------------


@pytest.fixture
def register(tmp_path, monkeypatch) -> str:
    url = f"sqlite:///{tmp_path / 'register.db'}"
    monkeypatch.setenv("SAFEGUARDING_REGISTER_URL", url)
    migrate(url)
    return url


def event(case_id: str, seq: int, when: str, kind: str, name: str, detail: str | None = None) -> EventRow:
    return EventRow(key=f"{case_id}/{seq}", case_id=case_id, seq=seq, at=at(when), kind=kind, name=name, detail=detail)


def case_row(case_id: str, stage: str, next_due_on=None, missed=0, parent=None, kind="serious_incident", authority="stockton-on-tees"):
    return CaseRow(
        case_id=case_id, kind=kind, local_authority=authority, partnership="HSSCP" if authority == "stockton-on-tees" else "STSCP",
        parent_case_id=parent, stage=stage, received_on=date(2025, 12, 23), next_due_on=next_due_on, missed=missed,
        updated_at=at("2026-03-01T00:00"),
    )


def a_case_with_its_local_review(url: str) -> None:
    rows = [
        case_row(CASE, "local_review"),
        case_row(REVIEW, "lcspr_review", next_due_on=date(2026, 3, 12), missed=1, parent=CASE, kind="local_review"),
        event(CASE, 1, "2025-12-24T09:30", "case_opened", "serious_incident", "received 2025-12-23"),
        event(CASE, 2, "2025-12-24T09:30", "deadline_set", "dsp_meeting", "due 2025-12-29 (2 working days after 2025-12-23)"),
        event(CASE, 3, "2025-12-24T09:31", "message_sent", "new_serious_incident_form", f"{CASE}/new-form"),
        event(CASE, 4, "2026-01-02T11:00", "decision_accepted", "dsp_decision", "decision=notify"),
        event(CASE, 5, "2026-01-02T11:00", "deadline_met", "dsp_meeting", "step on 2025-12-24, recorded late"),
        event(REVIEW, 1, "2026-02-12T15:20", "case_opened", "local_review", "received 2025-12-23"),
        event(REVIEW, 2, "2026-02-12T15:21", "message_sent", "lcspr_contribution_request", f"{REVIEW}/lcspr-contribution-request/cleveland-police"),
        event(REVIEW, 3, "2026-07-16T00:00", "deadline_met", "public_until", "2026-07-15 reached"),
        MessageRow(key=f"{CASE}/new-form", case_id=CASE, template="new_serious_incident_form", to=["HSSCP@hartlepool.gov.uk"], status="sent"),
        MessageRow(
            key=f"{REVIEW}/lcspr-contribution-request/cleveland-police", case_id=REVIEW, template="lcspr_contribution_request",
            to=["police.safeguarding@example.org", "HSSCP@hartlepool.gov.uk"], status="sent",
        ),
        case_row("SI-20260105-0b0b0b", "dsp_meeting", next_due_on=date(2026, 3, 20), authority="middlesbrough"),
    ]
    with Session(engine_for(url)) as session:
        session.add_all(rows)
        session.commit()


def test_audit_as_people_read_it(register, capsys):
    a_case_with_its_local_review(register)
    starter.audit(starter.parse_args(["audit", CASE]))
    text = capsys.readouterr().out
    matches_golden("audit.txt", text)
    # the date a step happened, beside when it was entered; messages by who received them
    assert re.search(r"2026-01-02 11:00 +2025-12-24 +case +deadline_met", text)
    assert "to police.safeguarding@example.org, HSSCP@hartlepool.gov.uk" in text
    assert f"{REVIEW}/lcspr" not in text


def test_audit_csv_carries_the_date_it_happened_and_the_recipients(register, capsys):
    a_case_with_its_local_review(register)
    starter.audit(starter.parse_args(["audit", CASE, "--csv"]))
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    met = next(r for r in rows if r["kind"] == "deadline_met" and r["name"] == "dsp_meeting")
    assert (met["at"][:10], met["happened_on"]) == ("2026-01-02", "2025-12-24")
    sent = next(r for r in rows if r["name"] == "lcspr_contribution_request")
    assert sent["to"] == "police.safeguarding@example.org; HSSCP@hartlepool.gov.uk"
    assert next(r for r in rows if r["kind"] == "decision_accepted")["happened_on"] == ""  # no date in its detail


def test_cases_lists_a_local_review_under_its_case(register, capsys):
    a_case_with_its_local_review(register)
    listed = open_cases()
    assert [c.case_id for c in listed] == [CASE, "SI-20260105-0b0b0b"]  # soonest deadline first
    (case,) = [c for c in listed if c.case_id == CASE]
    assert (case.next_due_on, case.missed, case.local_review_stage) == (date(2026, 3, 12), 1, "lcspr_review")
    assert [c.case_id for c in open_cases(stage="lcspr_review")] == [CASE]
    assert [c.case_id for c in open_cases(overdue=True)] == [CASE]
    starter.cases(starter.parse_args(["cases"]))
    text = capsys.readouterr().out
    assert "-lcspr" not in text and "local_review " not in text.replace("local_review (", "")
    assert re.search(rf"{CASE} +serious incident +local_review \(local review: lcspr_review\) +Stockton-on-Tees +HSSCP +2026-03-12 +1", text)


def test_a_person_of_one_partnership_lists_and_reads_only_its_own_cases(register, capsys, monkeypatch, tmp_path):
    """The command line acting for a person (SAFEGUARDING_ACTOR) shows their partnership's cases only;
    the other partnership's case is as unknown as one that does not exist."""
    a_case_with_its_local_review(register)
    people = tmp_path / "people.json"
    people.write_text(json.dumps({"STSCP": [{"email": "bu@middlesbrough.gov.uk", "roles": ["business_unit"]}]}))
    monkeypatch.setenv("SAFEGUARDING_PEOPLE_FILE", str(people))
    monkeypatch.setenv("SAFEGUARDING_ACTOR", "bu@middlesbrough.gov.uk")

    starter.cases(starter.parse_args(["cases", "--json"]))
    assert [row["case_id"] for row in json.loads(capsys.readouterr().out)] == ["SI-20260105-0b0b0b"]
    with pytest.raises(starter.Refused, match="the cases of HSSCP are not theirs to see"):
        starter.cases(starter.parse_args(["cases", "--partnership", "HSSCP"]))
    with pytest.raises(starter.Refused, match=f"^unknown case {CASE}$"):
        starter.audit(starter.parse_args(["audit", CASE]))
    starter.audit(starter.parse_args(["audit", "SI-20260105-0b0b0b"]))  # its own: shown
    capsys.readouterr()

    monkeypatch.delenv("SAFEGUARDING_ACTOR")  # operations: every partnership
    starter.cases(starter.parse_args(["cases", "--json"]))
    assert len(json.loads(capsys.readouterr().out)) == 2
