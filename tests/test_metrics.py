"""The worker's /metrics (metrics.py): the SDK's runtime metrics and the cases' gauges, read from a real
`python worker.py` on a real dev server after a few cases, each figure checked against the cases'
own record (their `status` query), not against the counts the exporter makes."""

from __future__ import annotations

import asyncio
import json
import shutil
import threading
import time
from collections import Counter
from datetime import datetime, timedelta, timezone
from types import SimpleNamespace

import pytest
import pytest_asyncio
from aiosmtpd.controller import Controller
from temporalio.testing import WorkflowEnvironment

import metrics
import settings
from models.case import CaseStatus, DeadlineStatus
from models.dates import london_today
from models.forms import SeriousIncidentForm
from models.working_days import add_working_days
from register.db import migrate
from tests.journey import example_decision, serious_incident_form, signed
from tests.processes import PROJECT, WorkerProcess, exported_families, free_port, scrape, worker_environment
from tests.test_deploy import referenced_metrics
from tests.test_end_to_end import temporal_binary
from tests.test_smtp import Mailbox
from workflows import search_attributes
from workflows.case_workflow import CaseWorkflow
from workflows.serious_incident import SeriousIncidentWorkflow

# Metrics the deploy/ alert rules and dashboard use from the SDK: they must be on the page.
SDK_METRICS = [
    "temporal_workflow_task_schedule_to_start_latency",
    "temporal_activity_execution_latency",
    "temporal_activity_schedule_to_start_latency",
    "temporal_activity_execution_failed",
    "temporal_worker_task_slots_available",
]


@pytest_asyncio.fixture(loop_scope="session")
async def dev_server():
    environment = await WorkflowEnvironment.start_local(
        dev_server_existing_path=temporal_binary(),
        search_attributes=search_attributes.ALL,
        data_converter=settings.data_converter(),
        dev_server_log_level="error",
    )
    yield environment
    await environment.shutdown()


@pytest.fixture
def mail_server():
    mailbox = Mailbox()
    controller = Controller(mailbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    yield controller
    controller.stop()


@pytest.fixture
def metered_worker(dev_server, mail_server, tmp_path):
    """worker.py with metrics on a loopback port, counting every second; a routing file whose STSCP
    scrutineer's address the mail server refuses, and a broken `form_to_notifier` template."""
    routing = json.loads((PROJECT / "config" / "routing.json").read_text(encoding="utf-8"))
    routing["partnerships"]["STSCP"]["independent_scrutineer"] = "refuse.scrutineer.stscp@example.org"
    (tmp_path / "routing.json").write_text(json.dumps(routing), encoding="utf-8")
    templates = tmp_path / "templates"
    shutil.copytree(PROJECT / "activities" / "templates", templates)
    broken = templates / "form_to_notifier.txt"
    broken.write_text(broken.read_text(encoding="utf-8") + "\n${no_such_field}\n", encoding="utf-8")
    register = f"sqlite:///{tmp_path / 'register.db'}"
    migrate(register)
    address = f"127.0.0.1:{free_port()}"
    environment = worker_environment(
        dev_server.client.service_client.config.target_host,
        dev_server.client.namespace,
        tmp_path,
        register,
        SAFEGUARDING_METRICS_ADDRESS=address,
        SAFEGUARDING_METRICS_INTERVAL="1",
        SAFEGUARDING_ROUTING_FILE=str(tmp_path / "routing.json"),
        SAFEGUARDING_TEMPLATES_DIR=str(templates),
        SAFEGUARDING_SMTP_HOST="127.0.0.1",
        SAFEGUARDING_SMTP_PORT=str(mail_server.port),
        SAFEGUARDING_SMTP_STARTTLS="false",
    )
    worker = WorkerProcess(environment, tmp_path)
    worker.start()
    yield address
    worker.stop()


def form(authority: str, received_on) -> SeriousIncidentForm:
    body = serious_incident_form(received_on).model_dump(mode="json") | {"local_authority": authority}
    return SeriousIncidentForm.model_validate(body)


async def wait_status(handle, check, what: str) -> CaseStatus:
    for _ in range(600):
        status = await handle.query(CaseWorkflow.status)
        if check(status):
            return status
        await asyncio.sleep(0.1)
    raise AssertionError(f"{handle.id} never reached {what}: {status.model_dump_json(indent=1)}")


def settled(status: CaseStatus) -> bool:
    return bool(status.messages) and all(m.status != "queued" for m in status.messages)


async def test_metrics_expose_the_sdk_and_the_cases(dev_server, metered_worker):
    client = dev_server.client
    today = london_today(datetime.now(timezone.utc))
    long_ago = add_working_days(today, -10)

    async def start(name: str, authority: str, received_on) -> object:
        return await client.start_workflow(
            SeriousIncidentWorkflow.run, form(authority, received_on), id=f"SI-metrics-{name}", task_queue=settings.TASK_QUEUE
        )

    fresh = await start("fresh", "stockton-on-tees", today)  # HSSCP, DSP meeting due in 2 working days
    late = await start("late", "hartlepool", long_ago)  # HSSCP, its DSP meeting deadline long missed
    notified = await start("notified", "stockton-on-tees", today)  # HSSCP, notified: the broken template
    refused = await start("refused", "middlesbrough", today)  # STSCP, the scrutineer's invitation refused
    await notified.execute_update(CaseWorkflow.decide, signed(notified.id, example_decision("dsp_decision", meeting_held_on=today)))

    statuses = {
        "fresh": await wait_status(fresh, settled, "its messages sent"),
        "late": await wait_status(late, lambda s: settled(s) and any(d.status is DeadlineStatus.MISSED for d in s.deadlines), "missed"),
        "notified": await wait_status(notified, lambda s: settled(s) and bool(s.attention), "needs attention"),
        "refused": await wait_status(refused, lambda s: settled(s) and any(m.status == "refused" for m in s.messages), "refused"),
    }
    # The cases' own record, which the gauges must show.
    by = {s.case_id: s for s in statuses.values()}
    open_cases = Counter((s.stage.value, s.partnership) for s in by.values())
    assert open_cases == {("dsp_meeting", "HSSCP"): 2, ("panel_notification", "HSSCP"): 1, ("dsp_meeting", "STSCP"): 1}
    now = datetime.now(timezone.utc)

    def next_due(s: CaseStatus):
        return min((d.due_at for d in s.deadlines if d.status is DeadlineStatus.OPEN), default=None)

    due_week = Counter(s.partnership for s in by.values() if (n := next_due(s)) and now <= n < now + timedelta(days=7))
    missed_open = Counter(s.partnership for s in by.values() if any(d.status is DeadlineStatus.MISSED for d in s.deadlines))
    missed = Counter(s.partnership for s in by.values() for d in s.deadlines if d.status is DeadlineStatus.MISSED)
    refusals = Counter(s.partnership for s in by.values() for m in s.messages if m.status == "refused")
    attention = Counter(s.partnership for s in by.values() if s.attention)
    assert missed_open == {"HSSCP": 1} and attention["HSSCP"] == 1 and set(refusals) == {"STSCP"}
    assert due_week["HSSCP"] >= 1 and due_week["STSCP"] == 1  # the fresh cases' DSP meetings

    expected = {
        "safeguarding_open_cases": {(("partnership", p), ("stage", stage)): n for (stage, p), n in open_cases.items()},
        "safeguarding_deadlines_due_within_week": {(("partnership", p),): float(due_week[p]) for p in ("HSSCP", "STSCP")},
        "safeguarding_open_cases_deadline_missed": {(("partnership", p),): float(missed_open[p]) for p in ("HSSCP", "STSCP")},
        "safeguarding_deadlines_missed": {(("partnership", p),): float(n) for p, n in missed.items()},
        "safeguarding_messages_refused": {(("partnership", p),): float(n) for p, n in refusals.items()},
        "safeguarding_cases_needing_attention": {(("partnership", p),): float(attention[p]) for p in ("HSSCP", "STSCP")},
        "safeguarding_case_metrics_up": {(): 1.0},
    }

    def shown(samples) -> dict[str, dict]:
        """The gauges as the page shows them, zeros left out where the expectation has no such label set."""
        result = {}
        for name, wanted in expected.items():
            got = samples.get(name, {})
            result[name] = {k: v for k, v in got.items() if v != 0 or k in wanted}
        return result

    samples: dict = {}
    for _ in range(150):  # the exporter counts every second; visibility catches up within a few
        samples = scrape(metered_worker)
        if shown(samples) == expected:
            break
        await asyncio.sleep(0.2)
    assert shown(samples) == expected
    assert samples["safeguarding_case_metrics_refreshed_timestamp_seconds"][()] >= time.time() - 60
    for name in SDK_METRICS:
        assert any(n == name or n.startswith(name + "_") for n in samples), f"{name} not on /metrics: {sorted(samples)}"
    # The broken template failed one activity attempt, which the SDK counts.
    failed = samples.get("temporal_activity_execution_failed_total", {})  # the parser's name for the counter
    assert sum(v for k, v in failed.items() if ("activity_type", "send_message") in k) >= 1, failed
    # Every metric deploy/'s alert rules and dashboard use is one this worker really exports.
    missing = referenced_metrics() - exported_families(metered_worker)
    assert not missing, f"deploy/ uses metrics the worker does not export: {missing}"


class Visibility:
    """A stand-in for the client's `count_workflows`, answering each query from `answer(query)`."""

    def __init__(self, answer) -> None:
        self.answer = answer
        self.queries: list[str] = []

    async def count_workflows(self, query: str) -> SimpleNamespace:
        self.queries.append(query)
        return SimpleNamespace(count=await self.answer(query))


@pytest.fixture
def gauges_on_a_page(tmp_path):
    """CaseGauges on a real SDK runtime serving /metrics on loopback, the register an empty SQLite file."""
    register = f"sqlite:///{tmp_path / 'register.db'}"
    migrate(register)
    address = f"127.0.0.1:{free_port()}"
    runtime = metrics.runtime(address)  # serves /metrics for as long as it is referenced

    def make(answer, timeout: float = metrics.COUNT_TIMEOUT) -> metrics.CaseGauges:
        return metrics.CaseGauges(Visibility(answer), runtime.metric_meter, register, timeout=timeout)  # type: ignore[arg-type]

    yield make, address
    del runtime


async def test_a_case_moving_between_two_counts_never_makes_a_negative_count(gauges_on_a_page):
    """The total is one query, each partnership's count another: a case whose deadline came into the week
    between them is counted by its partnership and not by the total. The CI run of 2026-11-27 saw it: the
    partnerships' counts (1 + 1) outran the total (1), the SDK refused the `unknown` gauge's -1, and the
    exception ended the counting for good, `up` never set."""
    make, address = gauges_on_a_page

    async def moving(query: str) -> int:
        if "NextDeadline" not in query:
            return 0
        return 1 if "Partnership" not in query or '"HSSCP"' in query or '"STSCP"' in query else 0

    gauges = make(moving)
    assert await gauges.refresh()
    page = scrape(address)
    assert page["safeguarding_deadlines_due_within_week"] == {
        (("partnership", "HSSCP"),): 1, (("partnership", "STSCP"),): 1, (("partnership", "unknown"),): 0
    }
    assert page["safeguarding_case_metrics_up"] == {(): 1}


async def test_a_count_that_fails_or_hangs_shows_down_and_the_next_count_goes_on(gauges_on_a_page):
    make, address = gauges_on_a_page
    outage = {"mode": "fails"}

    async def flaky(query: str) -> int:
        if outage["mode"] == "fails":
            raise RuntimeError("visibility unavailable")
        if outage["mode"] == "hangs":
            await asyncio.sleep(3600)
        return 1 if "CaseStage" in query and '"dsp_meeting"' in query and "Partnership" not in query else 0

    gauges = make(flaky, timeout=0.5)
    counting = asyncio.create_task(gauges.run(0.05))
    try:
        for mode, up in (("fails", 0), ("works", 1), ("hangs", 0), ("works", 1)):
            outage["mode"] = mode
            for _ in range(100):
                await asyncio.sleep(0.05)
                page = scrape(address)
                if page.get("safeguarding_case_metrics_up") == {(): up}:
                    break
            assert page.get("safeguarding_case_metrics_up") == {(): up}, mode
            assert not counting.done(), counting
        # The counting went on after each failure: a case no partnership names is counted as unknown.
        assert page["safeguarding_open_cases"] == {(("partnership", "unknown"), ("stage", "dsp_meeting")): 1}
    finally:
        counting.cancel()


async def test_a_register_count_that_hangs_holds_one_thread_of_its_own_and_is_not_started_again(gauges_on_a_page):
    """A count of the register blocked (its database unreachable, no answer): each refresh gives up after
    its timeout and shows `up` 0, none starts a second count behind the first, and the worker's own
    threads (asyncio's default executor, which the activities use) are not taken. Once it answers, the
    next refresh counts again."""
    make, address = gauges_on_a_page

    async def nothing(query: str) -> int:
        return 0

    gauges = make(nothing, timeout=0.2)
    release, calls = threading.Event(), []
    counted = gauges.register

    def blocked_register():
        calls.append(threading.current_thread().name)
        release.wait(30)
        return counted()

    gauges.register = blocked_register  # type: ignore[method-assign]
    try:
        for _ in range(4):
            assert not await gauges.refresh()
            assert scrape(address)["safeguarding_case_metrics_up"] == {(): 0}
        assert len(calls) == 1 and calls[0].startswith("case-metrics-register"), calls
        # asyncio's default executor is free: a thread-bound call returns at once.
        assert await asyncio.wait_for(asyncio.to_thread(lambda: "free"), 2) == "free"
    finally:
        release.set()
    for _ in range(50):
        if await gauges.refresh():
            break
        await asyncio.sleep(0.05)
    assert scrape(address)["safeguarding_case_metrics_up"] == {(): 1}
    assert len(calls) == 2
