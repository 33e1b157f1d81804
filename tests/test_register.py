"""The case register (sqlmodel, Alembic): every event once, on SQLite and on PostgreSQL."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from datetime import date, datetime, timezone
from pathlib import Path

import pytest
from sqlalchemy import inspect
from sqlmodel import Session, select
from temporalio.testing import ActivityEnvironment

from activities.register import new_events_statement, record_events, upsert_statement
from models.case import CaseEvent, CaseKind, CaseSummary, Clock, RegisterBatch, Stage
from register.db import engine_for, migrate
from register.models import CaseRow, DeadlineRow, EventRow, MessageRow
from models.forms import LocalAuthority, SeriousIncidentForm
from register.queries import audit_trail, open_cases
from tests.journey import deadline, local_activities, serious_incident_form

PROJECT = Path(__file__).resolve().parents[1]

def test_migrations_build_the_register_from_empty_and_run_again_harmlessly(register_url):
    migrate(register_url)
    migrate(register_url)  # already at head: nothing to do, nothing lost
    tables = set(inspect(engine_for(register_url)).get_table_names())
    assert {"cases", "events", "deadlines", "messages", "alembic_version"} <= tables


def test_a_sqlite_register_writes_through_its_write_ahead_log_synced_at_every_commit_and_owner_only(tmp_path):
    url = f"sqlite:///{tmp_path / 'register' / 'register.db'}"
    migrate(url)
    with engine_for(url).connect() as connection:
        modes = [connection.exec_driver_sql(f"PRAGMA {name}").scalar() for name in ("journal_mode", "synchronous")]
    assert modes == ["wal", 2]  # 2: FULL, a commit is on disk before the write returns
    files = sorted(p.name for p in (tmp_path / "register").iterdir())
    assert files == ["register.db", "register.db-shm", "register.db-wal"]
    assert {oct(p.stat().st_mode & 0o777) for p in (tmp_path / "register").iterdir()} == {"0o600"}
    engine_for(url).dispose()


async def test_a_batch_written_twice_is_written_once(register_url, journey):
    migrate(register_url)
    today = await journey.today()
    handle = await journey.start_serious_incident(serious_incident_form(today))
    status = await journey.sent(handle, "new_serious_incident_form", "dsp_meeting_invitation")
    case_id = "SI-20250101-retried"
    events = [
        CaseEvent(key=f"{case_id}/{n}", case_id=case_id, seq=n, at=datetime.now(timezone.utc), kind="k", name="n")
        for n in (1, 2)
    ]
    batch = RegisterBatch(events=events, status=status.model_copy(update={"case_id": case_id}))
    assert await ActivityEnvironment().run(record_events, batch) == 2
    assert await ActivityEnvironment().run(record_events, batch) == 0  # a retried activity
    with Session(engine_for(register_url)) as session:
        assert len(session.exec(select(EventRow).where(EventRow.case_id == case_id)).all()) == 2
        assert session.get(CaseRow, case_id).stage == "dsp_meeting"


async def test_every_event_of_a_journey_lands_once_in_order(register_url, journey):
    migrate(register_url)
    today = await journey.today()
    handle = await journey.start_serious_incident(serious_incident_form(today))
    await journey.decide(handle, "dsp_decision", meeting_held_on=today)
    await journey.signal(handle, "challenge_raised", raised_on=today)  # refused: kept as refused
    await journey.decide(handle, "notification_submitted", submitted_on=today)
    await journey.wait_for(handle, lambda s: deadline(s, Clock.RAPID_REVIEW_SUBMISSION) is not None)
    await journey.decide(handle, "case_withdrawn", withdrawn_on=today)
    final = await handle.result()

    events = audit_trail(handle.id)
    assert [e.seq for e in events] == list(range(1, len(events) + 1)), "every event once, none missing"
    kinds = [(e.kind, e.name) for e in events]
    assert kinds[:2] == [("case_opened", "serious_incident"), ("stage", "dsp_meeting")]
    for expected in [
        ("deadline_set", "dsp_meeting"),
        ("message_sent", "new_serious_incident_form"),
        ("decision_accepted", "dsp_decision"),
        ("deadline_met", "dsp_meeting"),
        ("stage", "panel_notification"),
        ("message_sent", "form_to_notifier"),
        ("decision_refused", "challenge_raised"),
        ("decision_accepted", "notification_submitted"),
        ("deadline_set", "rapid_review_submission"),
        ("decision_accepted", "case_withdrawn"),
        ("deadline_cancelled", "rapid_review_submission"),
        ("stage", "withdrawn"),
        ("case_ended", "withdrawn"),
    ]:
        assert expected in kinds, f"{expected} not in the audit trail {kinds}"
    assert kinds.index(("decision_accepted", "dsp_decision")) < kinds.index(("decision_accepted", "notification_submitted"))
    refused = next(e for e in events if e.kind == "decision_refused")
    assert "a referrer challenges a decision not to notify" in refused.detail  # a partner may (issue 14)

    with Session(engine_for(register_url)) as session:
        case = session.get(CaseRow, handle.id)
        assert (case.stage, case.partnership, case.local_authority) == ("withdrawn", "HSSCP", "stockton-on-tees")
        deadlines = {d.key: d.status for d in session.exec(select(DeadlineRow).where(DeadlineRow.case_id == handle.id))}
        assert deadlines == {d.key.value: d.status.value for d in final.deadlines}
        messages = session.exec(select(MessageRow).where(MessageRow.case_id == handle.id)).all()
        assert sorted(m.key for m in messages) == sorted(m.key for m in final.messages)
    assert handle.id not in [c.case_id for c in open_cases()]


async def test_the_register_down_for_a_while_then_back_loses_nothing(register_url, journey, monkeypatch):
    migrate(register_url)
    monkeypatch.setenv("SAFEGUARDING_REGISTER_URL", "postgresql+psycopg://postgres@127.0.0.1:1/nowhere")
    today = await journey.today()
    handle = await journey.start_serious_incident(serious_incident_form(today))
    await journey.decide(handle, "dsp_decision", meeting_held_on=today)  # the case goes on meanwhile
    status = await journey.sent(handle, "form_to_notifier")
    assert status.stage is Stage.PANEL_NOTIFICATION
    with Session(engine_for(register_url)) as session:  # nothing written yet: the database is down
        assert session.exec(select(EventRow).where(EventRow.case_id == handle.id)).all() == []

    monkeypatch.setenv("SAFEGUARDING_REGISTER_URL", register_url)  # back
    await journey.decide(handle, "case_withdrawn", withdrawn_on=today)
    await handle.result()
    events = audit_trail(handle.id)
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    assert ("decision_accepted", "dsp_decision") in [(e.kind, e.name) for e in events]


async def test_the_business_units_case_list_filters(register_url, journey):
    migrate(register_url)
    today = await journey.today()
    stockton = await journey.start_serious_incident(serious_incident_form(today))
    body = serious_incident_form(today).model_dump(mode="json") | {"local_authority": "middlesbrough"}
    middlesbrough = await journey.start_serious_incident(SeriousIncidentForm.model_validate(body))
    await journey.decide(middlesbrough, "dsp_decision", meeting_held_on=today)
    for handle in (stockton, middlesbrough):
        await journey.sent(handle, "new_serious_incident_form")

    await journey.wait_for(middlesbrough, lambda s: s.stage is Stage.PANEL_NOTIFICATION and all(m.status == "sent" for m in s.messages))
    for _ in range(100):  # the register is written by an activity, a moment after the case moves
        rows = {c.case_id: c for c in open_cases()}
        if rows.get(middlesbrough.id) and rows[middlesbrough.id].stage == "panel_notification" and stockton.id in rows:
            break
        await asyncio.sleep(0.05)
    assert {stockton.id, middlesbrough.id} <= set(rows)
    assert {c.case_id for c in open_cases(partnership="STSCP")} == {middlesbrough.id}
    assert {c.case_id for c in open_cases(local_authority="stockton-on-tees")} == {stockton.id}
    assert {c.case_id for c in open_cases(stage="panel_notification")} == {middlesbrough.id}
    assert open_cases(overdue=True) == []
    assert rows[stockton.id].next_due_on is not None


async def test_cases_and_audit_on_the_command_line(register_url, journey, capsys):
    import csv
    import io
    import json

    import starter

    migrate(register_url)
    today = await journey.today()
    handle = await journey.start_serious_incident(serious_incident_form(today))
    await journey.decide(handle, "dsp_decision", meeting_held_on=today)
    await journey.sent(handle, "form_to_notifier")
    for _ in range(100):
        if any(e.name == "form_to_notifier" for e in audit_trail(handle.id)):
            break
        await asyncio.sleep(0.05)

    starter.cases(starter.parse_args(["cases", "--partnership", "HSSCP", "--stage", "panel_notification", "--json"]))
    listed = json.loads(capsys.readouterr().out)
    assert [(c["case_id"], c["stage"], c["partnership"]) for c in listed] == [(handle.id, "panel_notification", "HSSCP")]
    starter.cases(starter.parse_args(["cases", "--partnership", "STSCP", "--json"]))
    assert json.loads(capsys.readouterr().out) == []

    starter.audit(starter.parse_args(["audit", handle.id, "--csv"]))
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert rows[0]["kind"] == "case_opened"
    assert ("decision_accepted", "dsp_decision") in [(r["kind"], r["name"]) for r in rows]
    assert [int(r["seq"]) for r in rows] == list(range(1, len(rows) + 1))
    with pytest.raises(starter.Refused, match="unknown case SI-nope"):
        starter.audit(starter.parse_args(["audit", "SI-nope"]))


async def test_a_step_is_written_to_the_register_in_one_batch(register_url, journey):
    """From this release a case writes the register once its step is done and it waits for the next
    (workflows/register_feed.py, patch `register-one-batch-per-step`): one register activity a step."""
    migrate(register_url)
    today = await journey.today()
    handle = await journey.start_serious_incident(serious_incident_form(today))
    await journey.sent(handle, "new_serious_incident_form", "dsp_meeting_invitation")
    await journey.decide(handle, "dsp_decision", meeting_held_on=today)
    await journey.sent(handle, "form_to_notifier")
    await journey.decide(handle, "case_withdrawn", withdrawn_on=today)
    await handle.result()
    history = [e async for e in handle.fetch_history_events()]
    scheduled = [
        e.activity_task_scheduled_event_attributes.activity_type.name
        for e in history
        if e.HasField("activity_task_scheduled_event_attributes")
    ]
    events = audit_trail(handle.id)
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    # the opening step, the DSP's, the withdrawal's: local activities (patch `register-local-activity`),
    # so no batch is kept in the history
    assert len(local_activities(history, "record_events")) == 3
    assert "record_events" not in scheduled, scheduled


async def test_a_batch_scheduled_with_whole_deadline_records_is_still_written(register_url, journey):
    """Batches carry only the register's columns of a deadline (`DeadlineChange`); one scheduled before,
    with the whole `DeadlineRecord`, is read as well."""
    migrate(register_url)
    today = await journey.today()
    handle = await journey.start_serious_incident(serious_incident_form(today))
    status = await journey.sent(handle, "new_serious_incident_form", "dsp_meeting_invitation")
    case_id = "SI-20250101-before"
    event = CaseEvent(key=f"{case_id}/1", case_id=case_id, seq=1, at=datetime.now(timezone.utc), kind="k", name="n")
    old = {"events": [event.model_dump(mode="json")], "deadlines": [d.model_dump(mode="json") for d in status.deadlines]}
    assert "rule" in old["deadlines"][0]
    assert await ActivityEnvironment().run(record_events, RegisterBatch.model_validate(old)) == 1
    with Session(engine_for(register_url)) as session:
        rows = session.exec(select(DeadlineRow).where(DeadlineRow.case_id == case_id)).all()
        assert {(r.key, r.due_on) for r in rows} == {(d.key.value, d.due_on) for d in status.deadlines}


def test_the_worker_migrates_the_register_in_a_process_of_its_own(tmp_path):
    """`python -m register.db` brings a new register to the newest schema; the worker runs it as a child
    process (worker.py) and never imports Alembic itself, 12 MB it would keep for as long as it runs."""
    url = f"sqlite:///{tmp_path / 'register.db'}"
    environment = {**os.environ, "SAFEGUARDING_REGISTER_URL": url}
    subprocess.run([sys.executable, "-m", "register.db"], cwd=PROJECT, env=environment, check=True, timeout=120)
    with engine_for(url).connect() as connection:
        tables = set(inspect(connection).get_table_names())
    assert {"cases", "events", "deadlines", "messages", "alembic_version"} <= tables
    imported = subprocess.run(
        [sys.executable, "-c", "import sys, worker; print(sorted(m for m in sys.modules if m.split('.')[0] == 'alembic'))"],
        cwd=PROJECT, env=environment, capture_output=True, text=True, check=True, timeout=120,
    )
    assert imported.stdout.strip() == "[]"


def test_a_worker_whose_register_cannot_be_migrated_stops_before_it_takes_a_task(tmp_path):
    """The migration's child process failing stops the worker at start, saying so; it never polls."""
    unusable = tmp_path / "a-file-not-a-folder"
    unusable.write_text("", encoding="utf-8")
    environment = {**os.environ, "SAFEGUARDING_REGISTER_URL": f"sqlite:///{unusable / 'register.db'}"}
    started = subprocess.run(
        [sys.executable, "worker.py"], cwd=PROJECT, env=environment, capture_output=True, text=True, timeout=120
    )
    assert started.returncode != 0
    assert "the case register could not be migrated" in started.stderr
    assert "worker polling task queue" not in started.stdout + started.stderr


async def test_each_statement_is_built_once_and_kept_for_every_batch_after(register_url):
    """Building an upsert again for every batch cost more than running it: each is built once for its
    table and columns, and every later batch of the same shape runs the one kept."""
    migrate(register_url)

    def batch(case_id: str, stage: Stage) -> RegisterBatch:
        event = CaseEvent(seq=1, at=datetime.now(timezone.utc), kind="stage", name=stage.value)
        case = CaseSummary(case_id=case_id, kind=CaseKind.SERIOUS_INCIDENT, local_authority=LocalAuthority.HARTLEPOOL,
                           partnership="HSSCP", stage=stage, received_on=date(2026, 11, 2))
        return RegisterBatch(events=[event], case_id=case_id, case=case)

    await ActivityEnvironment().run(record_events, batch("SI-20261102-first", Stage.DSP_MEETING))
    built = upsert_statement.cache_info().misses + new_events_statement.cache_info().misses
    for n, stage in enumerate([Stage.PANEL_NOTIFICATION, Stage.RAPID_REVIEW]):
        assert await ActivityEnvironment().run(record_events, batch(f"SI-20261102-{n}", stage)) == 1
    assert upsert_statement.cache_info().misses + new_events_statement.cache_info().misses == built
    with Session(engine_for(register_url)) as session:  # and each wrote its own case
        assert [session.get(CaseRow, f"SI-20261102-{n}").stage for n in (0, 1)] == ["panel_notification", "rapid_review"]


async def test_a_batch_with_no_new_events_brings_the_case_up_to_date_and_inserts_nothing(register_url):
    """Executed without rows, the events' insert would add one row of defaults (or fail on SQLite)."""
    migrate(register_url)
    case = CaseSummary(case_id="SI-20261102-quiet", kind=CaseKind.SERIOUS_INCIDENT, local_authority=LocalAuthority.HARTLEPOOL,
                       partnership="HSSCP", stage=Stage.RAPID_REVIEW, received_on=date(2026, 11, 2))
    assert await ActivityEnvironment().run(record_events, RegisterBatch(events=[], case_id=case.case_id, case=case)) == 0
    with Session(engine_for(register_url)) as session:
        assert session.get(CaseRow, case.case_id).stage == "rapid_review"
        assert session.exec(select(EventRow)).all() == []
