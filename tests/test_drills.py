"""Fault drills: a whole serious-incident journey, from the form to the National Panel's response, through
a fault, on a real dev server (its state in a SQLite file), a real `python worker.py` process, the case
register on the machine's PostgreSQL and a real SMTP server on loopback.

- the worker killed (SIGKILL) at every activity boundary of the journey, and started again;
- the dev server stopped and started again on its SQLite file in the middle of the case;
- the register's database refusing connections for a stretch, then back;
- the mail server down for a stretch, then back.

After each, the case is compared with a control case walked with no fault on the same server: the
same decisions accepted once each, in order; every message sent and received by the SMTP server
exactly once, no other; the register holding each of the case's events once, in an unbroken
sequence, one `message_sent` per message and one `decision_accepted` per decision; every deadline
(due date, status, the day its step happened) as the control's.

These are long (minutes each): marked `drill`, left out of the default run (pyproject's addopts) and
run by `.ci/run` as a second pytest run; by hand: `.venv/bin/python -m pytest -m drill`.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import Counter
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any, Awaitable, Callable

import psycopg
import pytest
import pytest_asyncio
from aiosmtpd.controller import Controller
from sqlmodel import Session, select
from temporalio.client import Client, WorkflowUpdateFailedError
from temporalio.api.enums.v1 import PendingActivityState
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment

import settings
from models.case import CaseStatus
from register.db import engine_for, migrate
from register.models import EventRow
from models.dates import london_today
from models.working_days import add_working_days
from tests.journey import example_decision, serious_incident_form, signed
from tests.processes import WorkerProcess, free_port, worker_environment
from tests.test_end_to_end import temporal_binary
from tests.test_smtp import Mailbox
from workflows import search_attributes
from workflows.case_workflow import CaseWorkflow
from workflows.serious_incident import SeriousIncidentWorkflow

pytestmark = pytest.mark.drill

WALK = [
    "dsp_decision", "notification_submitted", "panel_acknowledged", "rapid_review_convened",
    "agency_contribution_received", "rapid_review_meeting_held", "executive_decision",
    "chair_sign_off", "panel_response",
]
PG_ADMIN = "host=127.0.0.1 port=5432 user=postgres dbname=postgres"
# Every case of the drills is received today and decided today, so no deadline has passed: which
# reminders and escalations go never depends on how fast a decision follows the one before.
TODAY = london_today(datetime.now(timezone.utc))


def dated(name: str) -> dict[str, date]:
    """The example decision's dates moved to today (its planned dates to the days after)."""
    return {
        "dsp_decision": {"meeting_held_on": TODAY},
        "notification_submitted": {"submitted_on": TODAY},
        "panel_acknowledged": {"received_on": TODAY},
        "rapid_review_convened": {"contributions_due_on": add_working_days(TODAY, 3), "meeting_on": add_working_days(TODAY, 3)},
        "agency_contribution_received": {"received_on": TODAY},
        "rapid_review_meeting_held": {"held_on": TODAY},
        "executive_decision": {"decided_on": TODAY},
        "chair_sign_off": {"signed_on": TODAY},
        "panel_response": {"received_on": TODAY},
    }[name]


class DevServer:
    """`temporal server start-dev` on a fixed port with its state in a SQLite file: it can be stopped
    and started again with the cases it held."""

    def __init__(self, db_file: Path) -> None:
        self.db_file = db_file
        self.port = free_port()
        self.env: WorkflowEnvironment | None = None

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def client(self) -> Client:
        assert self.env is not None, "the dev server is stopped"
        return self.env.client

    async def start(self) -> None:
        self.env = await WorkflowEnvironment.start_local(
            dev_server_existing_path=temporal_binary(),
            ip="127.0.0.1",
            port=self.port,
            ui=False,
            search_attributes=search_attributes.ALL,
            data_converter=settings.data_converter(),
            dev_server_log_level="error",
            dev_server_database_filename=str(self.db_file),
        )

    async def stop(self) -> None:
        assert self.env is not None
        await self.env.shutdown()
        self.env = None


class MailServer:
    """aiosmtpd on a fixed loopback port, which can be stopped and started again; one Mailbox throughout."""

    def __init__(self) -> None:
        self.mailbox = Mailbox()
        self.port = free_port()
        self.controller: Controller | None = None

    def start(self) -> None:
        self.controller = Controller(self.mailbox, hostname="127.0.0.1", port=self.port)
        self.controller.start()

    def stop(self) -> None:
        assert self.controller is not None
        self.controller.stop()
        self.controller = None


@pytest.fixture(scope="module")
def register_db():
    """A database of the drills' own on the machine's PostgreSQL, dropped after."""
    name = f"drills_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    url = f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    migrate(url)
    yield name, url
    engine_for(url).dispose()
    with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
        admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')
        admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def stack(tmp_path_factory, register_db):
    folder = tmp_path_factory.mktemp("drills")
    server = DevServer(folder / "temporal.db")
    await server.start()
    mail = MailServer()
    mail.start()
    environment = worker_environment(
        server.address, "default", folder, register_db[1],
        SAFEGUARDING_SMTP_HOST="127.0.0.1", SAFEGUARDING_SMTP_PORT=str(mail.port), SAFEGUARDING_SMTP_STARTTLS="false",
    )
    worker = WorkerProcess(environment, folder)
    worker.start()
    stack = Stack(server, mail, worker, register_db)
    try:
        yield stack
    finally:
        worker.stop()
        if mail.controller is not None:
            mail.stop()
        if server.env is not None:
            await server.stop()


class Stack:
    def __init__(self, server: DevServer, mail: MailServer, worker: WorkerProcess, register_db: tuple[str, str]) -> None:
        self.server = server
        self.mail = mail
        self.worker = worker
        self.register_name, self.register_url = register_db

    # ---- a journey -------------------------------------------------------------------------------

    async def retrying(self, call: Callable[[], Awaitable[Any]], timeout: float = 300) -> Any:
        """A call to the server, repeated while the server (or the worker) is away."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                return await call()
            except (RPCError, RuntimeError) as error:
                if time.monotonic() > deadline:
                    raise AssertionError(f"the server did not answer for {timeout:.0f} s: {error}\n{self.worker.tail()}")
                await asyncio.sleep(0.5)

    async def start_case(self, case_id: str) -> None:
        form = serious_incident_form(TODAY)
        await self.retrying(
            lambda: self.server.client.start_workflow(SeriousIncidentWorkflow.run, form, id=case_id, task_queue=settings.TASK_QUEUE)
        )

    async def decide(self, case_id: str, name: str) -> None:
        """The example decision as an update with an id of its own: sent again after a fault, it is the
        same update, never a second decision."""
        for attempt in range(400):
            try:
                await self.retrying(
                    lambda: self.server.client.get_workflow_handle(case_id).execute_update(
                        CaseWorkflow.decide, signed(case_id, example_decision(name, **dated(name))), id=f"{case_id}/{name}/{attempt}"
                    )
                )
                return
            except WorkflowUpdateFailedError as error:
                # Refused by the validator, so nothing was recorded: a step still being set up (its
                # clock computed by an activity) asks for the decision again, as staff would.
                if "send it again" not in str(error.cause):
                    raise
                await asyncio.sleep(0.5)
        raise AssertionError(f"{name} refused as not ready for 200 s")

    async def status(self, workflow_id: str) -> CaseStatus:
        return await self.server.client.get_workflow_handle(workflow_id).query(CaseWorkflow.status)

    async def settled(self, case_id: str, decisions: int) -> tuple[CaseStatus, CaseStatus | None]:
        """The case (and its local review) once `decisions` are recorded and every message has gone."""
        deadline = time.monotonic() + 400
        last: Any = None
        while time.monotonic() < deadline:
            try:
                case = await self.status(case_id)
                review = None
                review_id = case.details.get("local_review_id")
                if review_id:
                    review = await self.status(review_id)
                last = (case, review)
                everything = [*case.messages, *(review.messages if review else [])]
                if (
                    len(case.decisions) >= decisions
                    and everything
                    and all(m.status == "sent" for m in everything)
                    and (decisions < len(WALK) or (review is not None and case.stage.value == "local_review"))
                    and not await self.pending(case_id)  # the step's clocks computed, nothing in flight
                ):
                    return case, review
            except (RPCError, RuntimeError, AssertionError):
                pass
            await asyncio.sleep(0.3)
        raise AssertionError(f"{case_id} did not settle after {decisions} decisions: {last}\n{self.worker.tail()}")

    async def walk(self, case_id: str, before: Callable[[int], Awaitable[None]] | None = None) -> tuple[CaseStatus, CaseStatus]:
        """The whole journey: the form, then each decision once the case has settled; `before(i)` runs
        before the i-th decision (and before the end with i = len(WALK))."""
        await self.start_case(case_id)
        await self.settled(case_id, 0)
        for number, name in enumerate(WALK):
            if before:
                await before(number)
            await self.decide(case_id, name)
            await self.settled(case_id, number + 1)
        if before:
            await before(len(WALK))
        case, review = await self.settled(case_id, len(WALK))
        assert review is not None
        return case, review

    # ---- what must hold after a fault -----------------------------------------------------------

    def register_events(self, case_id: str) -> list[EventRow]:
        with Session(engine_for(self.register_url)) as session:
            return list(session.exec(select(EventRow).where(EventRow.case_id == case_id).order_by(EventRow.seq)).all())

    async def verify(self, drilled: tuple[CaseStatus, CaseStatus], control: tuple[CaseStatus, CaseStatus]) -> None:
        for status, expected in zip(drilled, control):
            # No decision lost or doubled.
            assert [(d.name, d.accepted) for d in status.decisions] == [(d.name, d.accepted) for d in expected.decisions]
            # Every clock where it should be: the control's dates and outcomes.
            def clocks(s: CaseStatus) -> list[tuple[Any, ...]]:
                return sorted((d.key.value, d.subject or "", d.due_on, d.status.value, d.step_on) for d in s.deadlines)
            assert clocks(status) == clocks(expected)
            assert status.stage == expected.stage
            # The same messages, to the same people, each sent; each received by the SMTP server once.
            def sent(s: CaseStatus) -> Counter[tuple[str, tuple[str, ...], str]]:
                return Counter((m.key.removeprefix(s.case_id), tuple(m.to), m.status) for m in s.messages)
            assert sent(status) == sent(expected)
            received = self.received()
            for message in status.messages:
                assert received.get(message.key) == 1, (
                    f"{message.key} received {received.get(message.key, 0)} times; the SMTP server has "
                    f"{sorted(k for k in received if k.startswith(status.case_id))}; the worker logged:\n"
                    + "\n".join(line for line in self.worker.text().splitlines() if message.key in line)
                )
            # The register: every event once, none missing, the same events as the control's (waited
            # for: the register is written by an activity, after the case has moved on).
            def kinds(events: list[EventRow]) -> Counter[tuple[str, str]]:
                return Counter((e.kind, e.name) for e in events)

            deadline = time.monotonic() + 180
            while True:
                events = await asyncio.to_thread(self.register_events, status.case_id)
                expected_events = await asyncio.to_thread(self.register_events, expected.case_id)
                if kinds(events) == kinds(expected_events) or time.monotonic() > deadline:
                    break
                await asyncio.sleep(0.5)
            assert kinds(events) == kinds(expected_events)
            assert [e.seq for e in events] == list(range(events[0].seq, events[0].seq + len(events))), "a gap in the register"
            assert Counter(e.detail for e in events if e.kind == "message_sent") == Counter(m.key for m in status.messages)
            assert [e.name for e in events if e.kind == "decision_accepted"] == [d.name for d in status.decisions if d.accepted]
        # Nothing else arrived for this case.
        case_id = drilled[0].case_id
        keys = {m.key for s in drilled for m in s.messages}
        stray = [k for k in self.received() if k.startswith(f"{case_id}/") and k not in keys]
        assert not stray, f"messages received that the case does not list: {stray}"

    def received(self) -> Counter[str]:
        """How many times the SMTP server received each message key (a long key's header is folded:
        the value read back starts with the folding's space)."""
        return Counter(str(message["X-Idempotency-Key"]).strip() for _, message in self.mail.mailbox.received)

    async def history_counts(self, workflow_ids: list[str]) -> int:
        """Activities completed so far in these workflows' histories: the ordinary ones, and the local
        ones (the register's writes since the patch `register-local-activity`), each a marker."""
        total = 0
        for workflow_id in workflow_ids:
            try:
                history = await self.server.client.get_workflow_handle(workflow_id).fetch_history()
            except RPCError:
                continue  # the local review not started yet
            total += sum(
                event.HasField("activity_task_completed_event_attributes")
                or event.marker_recorded_event_attributes.marker_name == "core_local_activity"
                for event in history.events
            )
        return total

    async def pending(self, workflow_id: str) -> int:
        """The case's activities in flight, but for the register's writes (the register drill keeps
        those failing while the journey goes on)."""
        description = await self.server.client.get_workflow_handle(workflow_id).describe()
        return sum(p.activity_type.name != "record_events" for p in description.raw_description.pending_activities)

    async def pending_attempts(self, workflow_id: str, activity_type: str) -> int:
        description = await self.server.client.get_workflow_handle(workflow_id).describe()
        return max(
            (p.attempt for p in description.raw_description.pending_activities if p.activity_type.name == activity_type),
            default=0,
        )


def case_id(what: str) -> str:
    return f"SI-drill-{what}-{uuid.uuid4().hex[:6]}"


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def control(stack: Stack) -> tuple[CaseStatus, CaseStatus]:
    """The journey with no fault: what every drilled case must look like."""
    return await stack.walk(case_id("control"))


async def walk_killing_at_boundaries(stack: Stack, covered: set[int]) -> tuple[tuple[CaseStatus, CaseStatus], list[int], int]:
    """One journey with the worker killed at each boundary between its activities not in `covered`
    (the number of activities completed so far); returns the case, the boundaries killed at and how
    many activities the journey completed."""
    drilled = case_id("kill")
    ids = [drilled, f"{drilled}-lcspr"]
    finished = asyncio.Event()
    kills: list[int] = []

    async def started() -> int:
        """Activities of the case a worker has taken and not finished."""
        total = 0
        for workflow_id in ids:
            try:
                description = await stack.server.client.get_workflow_handle(workflow_id).describe()
            except RPCError:
                continue
            total += sum(p.state == PendingActivityState.PENDING_ACTIVITY_STATE_STARTED for p in description.raw_description.pending_activities)
        return total

    async def killer() -> None:
        """Each time one more activity of the case has completed: freeze the worker (SIGSTOP); if it
        has taken no other activity yet, this is a boundary between activities: SIGKILL it and start
        another; if it has, let it go on (an activity killed while running would wait out its 1-minute
        start-to-close timeout) and take the next boundary."""
        seen = 0
        while not finished.is_set():
            completed = await stack.history_counts(ids)
            if completed > seen and completed in covered:
                seen = completed  # killed there in an earlier journey
            elif completed > seen:
                stack.worker.pause()
                if await started():
                    stack.worker.resume()
                else:
                    seen = completed
                    await asyncio.to_thread(stack.worker.kill)
                    kills.append(completed)
                    await asyncio.to_thread(stack.worker.start)
            await asyncio.sleep(0.005)

    killing = asyncio.create_task(killer())
    try:
        result = await stack.walk(drilled)
    finally:
        finished.set()
        await killing
        if not stack.worker.running:
            await asyncio.to_thread(stack.worker.start)
    return result, kills, await stack.history_counts(ids)


async def test_worker_killed_at_every_activity_boundary(stack: Stack, control):
    """Journeys (at most three) until the worker has been killed at 20 boundaries or more between the
    journey's activities; each journey checked against the control."""
    covered: set[int] = set()
    for _ in range(3):
        result, kills, activities = await walk_killing_at_boundaries(stack, covered)
        print(f"worker killed {len(kills)} times, after activity completions {kills} of {activities}")
        await stack.verify(result, control)
        covered |= set(kills)
        if len(covered) >= 20:
            break
    assert len(covered) >= 20, f"only {len(covered)} activity boundaries reached: {sorted(covered)}"


async def test_dev_server_stopped_and_started_again_mid_case(stack: Stack, control):
    drilled = case_id("server")

    async def before(number: int) -> None:
        if WALK[number - 1 : number] == ["rapid_review_convened"]:  # convened: its requests going out
            await stack.server.stop()
            await asyncio.sleep(3)
            await stack.server.start()

    result = await stack.walk(drilled, before)
    assert stack.worker.running, "the worker must ride out the server's restart by itself"
    await stack.verify(result, control)


async def test_register_database_refusing_connections_for_a_stretch(stack: Stack, control):
    drilled = case_id("register")
    name = stack.register_name

    def refuse(allow: bool) -> None:
        with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
            admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS {"true" if allow else "false"}')
            if not allow:
                admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (name,))

    async def before(number: int) -> None:
        if number == 3:  # before rapid_review_convened: the database goes away for its stretch
            await asyncio.to_thread(refuse, False)
        if number == 6:  # the meeting held meanwhile; the writes have failed at least twice: back
            deadline = time.monotonic() + 120
            while await stack.pending_attempts(drilled, "record_events") < 2:
                assert time.monotonic() < deadline, "the register's outage was never felt"
                await asyncio.sleep(0.5)
            await asyncio.to_thread(refuse, True)

    try:
        result = await stack.walk(drilled, before)
    finally:
        await asyncio.to_thread(refuse, True)
    await stack.verify(result, control)


async def test_mail_server_down_for_a_stretch(stack: Stack, control):
    drilled = case_id("mail")

    async def before(number: int) -> None:
        if number == 0:  # the DSP decides to notify: the form to the notifier waits for the mail server
            stack.mail.stop()
        if number == 1:
            deadline = time.monotonic() + 120
            while await stack.pending_attempts(drilled, "send_message") < 2:
                assert time.monotonic() < deadline, "the mail server's outage was never felt"
                await asyncio.sleep(0.5)
            stack.mail.start()

    async def decide_while_down(number: int) -> None:
        await before(number)

    # The case cannot settle while the mail server is down (the walk waits for every message sent):
    # while it is down the walk goes straight on to the next decision, before which it comes back.
    original_settled = stack.settled

    async def settled_unless_down(case: str, decisions: int):
        if stack.mail.controller is None:
            return await asyncio.sleep(0) or (await stack.status(case), None)
        return await original_settled(case, decisions)

    stack.settled = settled_unless_down  # type: ignore[method-assign]
    try:
        result = await stack.walk(drilled, decide_while_down)
    finally:
        stack.settled = original_settled  # type: ignore[method-assign]
        if stack.mail.controller is None:
            stack.mail.start()
    await stack.verify(result, control)
