"""The calendar activity `compute_deadline` (activities/deadlines.py; DESIGN.md, "Statutory clocks").

Every clock a case runs, computed as the workflows ask for it: the last day, the instant it ends
(midnight Europe/London, given in UTC) and the reminders (09:00 London, one working day before and on
the due day, as config/routing.json says). Run through Temporal's ActivityEnvironment, no server.
"""

from __future__ import annotations

import json
import uuid
from datetime import date, datetime, timezone
from pathlib import Path

import pytest
from temporalio import activity
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment
from temporalio.worker import Worker

import worker
from activities.deadlines import compute_deadline, compute_deadlines
from models.case import Clock, Deadline, DeadlineRequest
from tests.journey import Journey, local_activities, serious_incident_form

PROJECT = Path(__file__).resolve().parents[1]
UTC = timezone.utc


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


@pytest.fixture(autouse=True)
def project_routing(monkeypatch):
    """Unless a test says otherwise, the routing file is the project's own."""
    monkeypatch.delenv("SAFEGUARDING_ROUTING_FILE", raising=False)


async def compute(
    clock: Clock, starts_on: date, partnership: str = "HSSCP", due_on: date | None = None
) -> Deadline:
    return await ActivityEnvironment().run(
        compute_deadline,
        DeadlineRequest(clock=clock, starts_on=starts_on, partnership=partnership, due_on=due_on),
    )


# Each clock with a start, the due day worked out by hand, the instant it ends and the reminders.
CASES = [
    pytest.param(
        Clock.DSP_MEETING, date(2025, 12, 23), date(2025, 12, 29), utc(2025, 12, 30),
        [utc(2025, 12, 24, 9), utc(2025, 12, 29, 9)], "2 working days after 2025-12-23",
        id="dsp_meeting-2-working-days-over-Christmas-GMT",
    ),
    pytest.param(
        Clock.DSP_MEETING, date(2025, 7, 3), date(2025, 7, 7), utc(2025, 7, 7, 23),
        [utc(2025, 7, 4, 8), utc(2025, 7, 7, 8)], "2 working days after 2025-07-03",
        id="dsp_meeting-2-working-days-over-a-weekend-BST",
    ),
    pytest.param(
        Clock.PANEL_NOTIFICATION, date(2025, 12, 22), date(2025, 12, 31), utc(2026, 1, 1),
        [utc(2025, 12, 30, 9), utc(2025, 12, 31, 9)], "5 working days after 2025-12-22",
        id="panel_notification-5-working-days",
    ),
    pytest.param(
        Clock.PANEL_NOTIFICATION, date(2023, 5, 5), date(2023, 5, 15), utc(2023, 5, 15, 23),
        [utc(2023, 5, 12, 8), utc(2023, 5, 15, 8)], "5 working days after 2023-05-05",
        id="panel_notification-over-the-Coronation",
    ),
    pytest.param(
        Clock.RAPID_REVIEW_SUBMISSION, date(2023, 4, 28), date(2023, 5, 23), utc(2023, 5, 23, 23),
        [utc(2023, 5, 22, 8), utc(2023, 5, 23, 8)], "15 working days after 2023-04-28",
        id="rapid_review_submission-design-example",
    ),
    pytest.param(
        Clock.RAPID_REVIEW_SUBMISSION, date(2025, 12, 29), date(2026, 1, 20), utc(2026, 1, 21),
        [utc(2026, 1, 19, 9), utc(2026, 1, 20, 9)], "15 working days after 2025-12-29",
        id="rapid_review_submission-from-the-example-notification",
    ),
    pytest.param(
        Clock.PANEL_RESPONSE, date(2022, 12, 23), date(2023, 1, 18), utc(2023, 1, 19),
        [utc(2023, 1, 17, 9), utc(2023, 1, 18, 9)], "15 working days after 2022-12-23",
        id="panel_response-15-working-days",
    ),
    pytest.param(
        Clock.LCSPR_PUBLICATION, date(2023, 8, 31), date(2024, 2, 29), utc(2024, 3, 1),
        # a long clock: also 20, 10 and 5 working days before (issue 14, point 12)
        [utc(2024, 2, 1, 9), utc(2024, 2, 15, 9), utc(2024, 2, 22, 9), utc(2024, 2, 28, 9), utc(2024, 2, 29, 9)],
        "6 calendar months after 2023-08-31",
        id="lcspr_publication-6-months-to-leap-day",
    ),
    pytest.param(
        Clock.LCSPR_PUBLICATION, date(2026, 1, 15), date(2026, 7, 15), utc(2026, 7, 15, 23),
        [utc(2026, 6, 17, 8), utc(2026, 7, 1, 8), utc(2026, 7, 8, 8), utc(2026, 7, 14, 8), utc(2026, 7, 15, 8)],
        "6 calendar months after 2026-01-15",
        id="lcspr_publication-from-the-example-executive-decision",
    ),
    pytest.param(
        Clock.PUBLICATION_COPIES, date(2026, 7, 9), date(2026, 6, 30), utc(2026, 6, 30, 23),
        [utc(2026, 6, 29, 8), utc(2026, 6, 30, 8)], "7 working days before 2026-07-09",
        id="publication_copies-7-working-days-before",
    ),
    pytest.param(
        Clock.PUBLICATION_COPIES, date(2027, 1, 5), date(2026, 12, 22), utc(2026, 12, 23),
        [utc(2026, 12, 21, 9), utc(2026, 12, 22, 9)], "7 working days before 2027-01-05",
        id="publication_copies-back-over-Christmas",
    ),
    pytest.param(
        Clock.PUBLIC_UNTIL, date(2026, 7, 9), date(2027, 7, 9), utc(2027, 7, 9, 23),
        [utc(2027, 6, 11, 8), utc(2027, 6, 25, 8), utc(2027, 7, 2, 8), utc(2027, 7, 8, 8), utc(2027, 7, 9, 8)],
        "12 calendar months after 2026-07-09",
        id="public_until-1-year",
    ),
    pytest.param(
        Clock.PUBLIC_UNTIL, date(2024, 2, 29), date(2025, 2, 28), utc(2025, 3, 1),
        [utc(2025, 1, 31, 9), utc(2025, 2, 14, 9), utc(2025, 2, 21, 9), utc(2025, 2, 27, 9), utc(2025, 2, 28, 9)],
        "12 calendar months after 2024-02-29",
        id="public_until-from-leap-day",
    ),
    pytest.param(
        Clock.CHALLENGE_WINDOW, date(2025, 12, 24), date(2026, 1, 12), utc(2026, 1, 13),
        [utc(2026, 1, 9, 9), utc(2026, 1, 12, 9)], "10 working days after 2025-12-24",
        id="challenge_window-10-working-days",
    ),
    pytest.param(
        Clock.DISPUTE_RESOLUTION, date(2025, 12, 30), date(2026, 1, 28), utc(2026, 1, 29),
        [utc(2026, 1, 27, 9), utc(2026, 1, 28, 9)], "20 working days after 2025-12-30",
        id="dispute_resolution-20-working-days",
    ),
]


@pytest.mark.parametrize(("clock", "starts_on", "due_on", "due_at", "reminders_at", "rule"), CASES)
async def test_clock(clock, starts_on, due_on, due_at, reminders_at, rule):
    deadline = await compute(clock, starts_on)
    assert deadline.clock is clock
    assert deadline.starts_on == starts_on
    assert deadline.due_on == due_on
    assert deadline.due_at == due_at
    assert deadline.reminders_at == reminders_at
    assert deadline.rule == rule
    assert deadline.title and deadline.needed


@pytest.mark.parametrize("clock", sorted(SET_BY_PEOPLE := {Clock.AGENCY_CONTRIBUTION, Clock.RECOMMENDATION}))
async def test_a_deadline_set_by_people_is_due_on_the_date_they_set(clock):
    deadline = await compute(clock, date(2025, 12, 30), due_on=date(2026, 1, 8))
    assert deadline.due_on == date(2026, 1, 8)
    assert deadline.due_at == utc(2026, 1, 9)
    assert deadline.reminders_at == [utc(2026, 1, 7, 9), utc(2026, 1, 8, 9)]
    assert deadline.rule == "set on 2025-12-30 for 2026-01-08"


def test_every_clock_is_tested():
    tested = {case.values[0] for case in CASES}
    assert tested | SET_BY_PEOPLE == set(Clock)


@pytest.mark.parametrize("partnership", ["HSSCP", "STSCP"])
async def test_both_partnerships_use_the_statutory_two_working_days(partnership):
    deadline = await compute(Clock.DSP_MEETING, date(2025, 12, 23), partnership)
    assert deadline.due_on == date(2025, 12, 29)


@pytest.mark.parametrize("clock", list(Clock))
async def test_due_at_is_the_end_of_the_due_day_and_after_every_reminder(clock):
    deadline = await compute(clock, date(2025, 10, 20))
    assert deadline.due_at.utcoffset().total_seconds() == 0
    # midnight in London after the due day: 23:00 UTC the same day in summer, 00:00 UTC next day in winter
    assert deadline.due_at.astimezone(UTC).hour in (23, 0)
    assert deadline.reminders_at == sorted(deadline.reminders_at)
    assert all(reminder < deadline.due_at for reminder in deadline.reminders_at)


async def test_deadline_across_the_autumn_clock_change():
    """Started in BST, due in GMT: the end of the due day is London midnight in GMT."""
    deadline = await compute(Clock.PANEL_NOTIFICATION, date(2025, 10, 22))
    assert deadline.due_on == date(2025, 10, 29)
    assert deadline.due_at == utc(2025, 10, 30)
    assert deadline.reminders_at == [utc(2025, 10, 28, 9), utc(2025, 10, 29, 9)]


async def test_deadline_across_the_spring_clock_change():
    """Started in GMT, due in BST: 09:00 London is 08:00 UTC, midnight is 23:00 UTC."""
    deadline = await compute(Clock.PANEL_NOTIFICATION, date(2025, 3, 27))
    assert deadline.due_on == date(2025, 4, 3)
    assert deadline.due_at == utc(2025, 4, 3, 23)
    assert deadline.reminders_at == [utc(2025, 4, 2, 8), utc(2025, 4, 3, 8)]


async def test_form_received_at_a_weekend_starts_counting_on_monday():
    deadline = await compute(Clock.DSP_MEETING, date(2025, 7, 5))  # a Saturday
    assert deadline.due_on == date(2025, 7, 8)


async def test_unknown_partnership_is_refused():
    with pytest.raises(LookupError, match="NOSUCH"):
        await compute(Clock.DSP_MEETING, date(2025, 12, 23), "NOSUCH")


# ---- the partnership's own settings come from the routing file ------------------------------------


@pytest.fixture
def routing_with_hsscp_overrides(tmp_path, monkeypatch):
    routing = json.loads((PROJECT / "config" / "routing.json").read_text(encoding="utf-8"))
    hsscp = routing["partnerships"]["HSSCP"]
    hsscp["dsp_meeting_working_days"] = 3
    hsscp["challenge_window_working_days"] = 5
    hsscp["reminders"] = {"working_days_before": [2], "at": "08:30"}
    path = tmp_path / "routing.json"
    path.write_text(json.dumps(routing), encoding="utf-8")
    monkeypatch.setenv("SAFEGUARDING_ROUTING_FILE", str(path))
    return path


async def test_partnership_override_of_the_dsp_meeting_clock(routing_with_hsscp_overrides):
    deadline = await compute(Clock.DSP_MEETING, date(2025, 12, 23), "HSSCP")
    assert deadline.due_on == date(2025, 12, 30)  # 24th, 29th, 30th
    assert deadline.due_at == utc(2025, 12, 31)
    assert deadline.reminders_at == [utc(2025, 12, 24, 8, 30)]  # 2 working days before, 08:30 London
    assert deadline.rule == "3 working days after 2025-12-23"


async def test_partnership_override_of_the_challenge_window(routing_with_hsscp_overrides):
    deadline = await compute(Clock.CHALLENGE_WINDOW, date(2025, 12, 24), "HSSCP")
    # 29 Dec (1), 30 Dec (2), 31 Dec (3), 1 Jan is a bank holiday, 2 Jan (4), 5 Jan (5)
    assert deadline.due_on == date(2026, 1, 5)
    assert deadline.rule == "5 working days after 2025-12-24"


async def test_reminder_policy_applies_to_statutory_clocks_too(routing_with_hsscp_overrides):
    deadline = await compute(Clock.RAPID_REVIEW_SUBMISSION, date(2023, 4, 28), "HSSCP")
    assert deadline.due_on == date(2023, 5, 23)  # statutory: not the partnership's to change
    assert deadline.reminders_at == [utc(2023, 5, 19, 7, 30)]  # 2 working days before, 08:30 BST


async def test_the_other_partnership_is_unchanged(routing_with_hsscp_overrides):
    deadline = await compute(Clock.DSP_MEETING, date(2025, 12, 23), "STSCP")
    assert deadline.due_on == date(2025, 12, 29)
    assert deadline.reminders_at == [utc(2025, 12, 24, 9), utc(2025, 12, 29, 9)]


async def test_routing_file_is_read_each_time(tmp_path, monkeypatch):
    """An edit by the Business Unit takes effect for the next clock, without a restart."""
    routing = json.loads((PROJECT / "config" / "routing.json").read_text(encoding="utf-8"))
    path = tmp_path / "routing.json"
    monkeypatch.setenv("SAFEGUARDING_ROUTING_FILE", str(path))
    path.write_text(json.dumps(routing), encoding="utf-8")
    assert (await compute(Clock.DSP_MEETING, date(2025, 7, 1))).due_on == date(2025, 7, 3)
    routing["partnerships"]["HSSCP"]["dsp_meeting_working_days"] = 4
    path.write_text(json.dumps(routing), encoding="utf-8")
    assert (await compute(Clock.DSP_MEETING, date(2025, 7, 1))).due_on == date(2025, 7, 7)


async def test_a_clock_of_its_own_reminder_policy(tmp_path, monkeypatch):
    routing = json.loads((PROJECT / "config" / "routing.json").read_text())
    routing["partnerships"]["HSSCP"]["reminders"]["per_clock"] = {"panel_notification": [3, 0]}
    changed = tmp_path / "routing.json"
    changed.write_text(json.dumps(routing))
    monkeypatch.setenv("SAFEGUARDING_ROUTING_FILE", str(changed))
    notification = await compute(Clock.PANEL_NOTIFICATION, date(2025, 12, 22))  # due 2025-12-31
    assert notification.reminders_at == [utc(2025, 12, 24, 9), utc(2025, 12, 31, 9)]
    dsp = await compute(Clock.DSP_MEETING, date(2025, 12, 23))  # the partnership's default: 1 and 0
    assert dsp.reminders_at == [utc(2025, 12, 24, 9), utc(2025, 12, 29, 9)]


async def test_clocks_computed_together_are_each_what_it_is_alone():
    requests = [
        DeadlineRequest(clock=Clock.DSP_MEETING, starts_on=date(2025, 12, 19), partnership="HSSCP"),
        DeadlineRequest(clock=Clock.PANEL_NOTIFICATION, starts_on=date(2025, 12, 17), partnership="STSCP"),
    ]
    together = await ActivityEnvironment().run(compute_deadlines, requests)
    assert together == [await ActivityEnvironment().run(compute_deadline, r) for r in requests]
    assert [d.clock for d in together] == [Clock.DSP_MEETING, Clock.PANEL_NOTIFICATION]


# ---- in the workflow task, else by the server (workflows/clocks.py, `Clocks.compute`) ------------------


async def test_a_calendar_that_cannot_answer_in_the_workflow_task_is_asked_by_the_server_until_it_can(env, outbox):
    """From release 0.4 a case computes its deadlines by a local activity (from 0.5 the form's two clocks
    by one); a calendar that fails every local attempt (the routing file being mended) is asked again by
    the server's activity, and the clocks are set once it answers."""
    failures = {"left": 6}  # more than the local attempts (workflows/local_first.py, HERE: 4)

    @activity.defn(name="compute_deadlines")
    async def calendar_being_mended(requests: list[DeadlineRequest]) -> list[Deadline]:
        if failures["left"] > 0:
            failures["left"] -= 1
            raise ApplicationError("the routing file is being edited")
        return await compute_deadlines(requests)

    activities = [calendar_being_mended if a is compute_deadlines else a for a in worker.ACTIVITIES]
    task_queue = f"test-{uuid.uuid4()}"
    async with Worker(
        env.client, task_queue=task_queue, workflows=worker.WORKFLOWS, activities=activities, workflow_runner=worker.RUNNER
    ):
        journey = Journey(env, task_queue, outbox)
        today = await journey.today()
        handle = await journey.start_serious_incident(serious_incident_form(today))
        status = await journey.wait_for(handle, lambda s: len(s.deadlines) == 2, attempts=600)
    assert {d.key for d in status.deadlines} == {Clock.DSP_MEETING, Clock.PANEL_NOTIFICATION}
    history = [e async for e in handle.fetch_history_events()]
    # the clocks' local attempts are kept as one marker; what they could not compute went to the server
    assert len(local_activities(history, "compute_deadlines")) == 1
    scheduled = [
        e.activity_task_scheduled_event_attributes.activity_type.name
        for e in history
        if e.HasField("activity_task_scheduled_event_attributes")
    ]
    assert "compute_deadlines" in scheduled
    assert failures["left"] == 0


async def test_a_case_computes_its_deadlines_in_its_workflow_tasks_the_form_s_two_clocks_by_one_activity(journey):
    today = await journey.today()
    handle = await journey.start_serious_incident(serious_incident_form(today))
    await journey.decide(handle, "dsp_decision", meeting_held_on=today)
    await journey.decide(handle, "notification_submitted", submitted_on=today)
    status = await journey.wait_for(handle, lambda s: len(s.deadlines) == 3)
    history = [e async for e in handle.fetch_history_events()]
    assert len(local_activities(history, "compute_deadlines")) == 1  # the DSP meeting's and the notification's
    assert len(local_activities(history, "compute_deadline")) == 1  # the Rapid Review's, set later
    assert len(status.deadlines) == 3
    assert not [
        e for e in history
        if e.HasField("activity_task_scheduled_event_attributes")
        and e.activity_task_scheduled_event_attributes.activity_type.name.startswith("compute_deadline")
    ]
