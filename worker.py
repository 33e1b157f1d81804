"""Runs every workflow and activity of the project on one task queue.

    python worker.py

Settings come from the environment (settings.py): TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE,
SAFEGUARDING_ROUTING_FILE, SAFEGUARDING_TEMPLATES_DIR, SAFEGUARDING_OUTBOX_DIR, TEMPORAL_UI_URL, the
encryption keys (SAFEGUARDING_KEYS / SAFEGUARDING_KEY_FILE, else data/keys) and TLS (TEMPORAL_TLS_*);
SAFEGUARDING_METRICS_ADDRESS (host:port) serves Prometheus metrics at /metrics (metrics.py).
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys

from temporalio.client import Client
from temporalio.runtime import Runtime
from temporalio.worker import UnsandboxedWorkflowRunner, Worker
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

import metrics
import settings
import signing
from activities.deadlines import compute_deadline, compute_deadlines, working_days_from
from activities.notifications import send_message, send_messages
from activities.register import record_events
from activities.reports import render_rapid_review_report
from activities.routing import look_up_partnership
from workflows.learning_request import LearningRequestWorkflow
from workflows.local_review import LocalReviewWorkflow
from workflows.serious_incident import SeriousIncidentWorkflow

WORKFLOWS = [SeriousIncidentWorkflow, LearningRequestWorkflow, LocalReviewWorkflow]
ACTIVITIES = [
    look_up_partnership,
    compute_deadline,
    compute_deadlines,
    working_days_from,
    send_message,
    send_messages,
    render_rapid_review_report,
    record_events,
]


# Where the workflows run. The SDK's sandbox re-imports, for every workflow run, each module a workflow
# imports that is not passed through, and refuses a clock, file or environment read only in the code it
# re-imported. pydantic (and its e-mail validator, loaded lazily), the models, the activities' modules
# the workflows name and the calendar are deterministic and hold no per-run state: imported once, shared.
PASSTHROUGH = (
    "email_validator", "idna", "pydantic", "pydantic_core", "annotated_types", "typing_extensions",
    "models", "activities", "register", "settings", "holidays", "dateutil", "sqlmodel", "sqlalchemy",
    "cryptography", "signing",
)
# The tests replay every journey and every stored history under STRICT_SANDBOX, which re-imports
# workflows/ for each run and so refuses a clock, file or environment read anywhere in it (tests/test_history.py).
STRICT_SANDBOX = SandboxedWorkflowRunner(restrictions=SandboxRestrictions.default.with_passthrough_modules(*PASSTHROUGH))
# The worker runs them without a sandbox. Re-importing workflows/ for every run made each cached case
# carry its own copy of all its code and tables (0.6 MB a case, against 0.25 MB shared); shared between
# runs (issue 17's second pass), workflows/ was no longer checked by the sandbox at all, which still cost
# a sandbox activation per workflow task: measured, a fifth to a quarter of the worker's CPU per case
# (bench/run.py). Its module level holds only frozen tables and constants, each case keeps its state in
# its own objects, and nothing in it reads the clock, the disk or the environment: what the strict
# replays check before any change lands.
RUNNER = UnsandboxedWorkflowRunner()
# Workflows kept in memory between their tasks (sticky cache). A case waits for days between steps; an
# evicted one is replayed from its history (a few hundred events) at its next task. Measured: a cached
# case costs about 0.25 MB of the worker's memory (workflows/ shared between runs), so 300 keeps the
# worker near 200-250 MB however many cases are open (bench/run.py --open 10000: 142-205 MB, budget 600 MB)
# while the cases being worked on at once (a burst of decisions) stay cached.
MAX_CACHED_WORKFLOWS = int(os.environ.get("SAFEGUARDING_MAX_CACHED_WORKFLOWS", "300"))


def build_worker(client: Client, task_queue: str = settings.TASK_QUEUE) -> Worker:
    return Worker(
        client,
        task_queue=task_queue,
        workflows=WORKFLOWS,
        activities=ACTIVITIES,
        workflow_runner=RUNNER,
        max_cached_workflows=MAX_CACHED_WORKFLOWS,
        # Payloads are never stored outside the history here (no external storage), yet the SDK's pass
        # looking for them starts an asyncio task per payload of every workflow task unless this is 1:
        # measured, 12% of the worker's CPU per case (bench/run.py).
        max_workflow_task_external_storage_concurrency=1,
    )


async def migrate_in_a_process_of_its_own() -> None:
    """The case register's schema, upgraded in place (`python -m register.db`), by a child process: the
    worker never imports Alembic, 12 MB it would keep for as long as it runs. A failed migration stops
    the worker before it takes any task."""
    done = await asyncio.create_subprocess_exec(sys.executable, "-m", "register.db", cwd=os.path.dirname(os.path.abspath(__file__)))
    if await done.wait() != 0:
        raise SystemExit("the case register could not be migrated (python -m register.db): see the error above")


async def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    os.umask(0o077)  # everything the worker writes (register, outbox, reports, marks) is owner-only
    await migrate_in_a_process_of_its_own()
    signing.ensure_command_line_key()  # the embedded default: the command line's key, trusted here
    address = metrics.metrics_address()
    runtime = None
    if address:  # before the client connects: the client and the worker use the default runtime
        runtime = metrics.runtime(address)
        Runtime.set_default(runtime, error_if_already_set=True)
    client = await settings.connect()
    worker = build_worker(client)
    if runtime is not None:
        case_metrics = metrics.start_case_gauges(client, runtime.metric_meter)
        logging.info("metrics at http://%s/metrics", address)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    logging.info("worker polling task queue %s on %s", settings.TASK_QUEUE, settings.temporal_address())
    async with worker:
        await stop.wait()


if __name__ == "__main__":
    asyncio.run(main())
    # The SDK's Rust threads can outlive asyncio.run(); finalizing the interpreter then aborts now and
    # again ("Fatal Python error: PyGILState_Release", temporalio/sdk-python#300): leave without it.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)
