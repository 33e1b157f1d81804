"""Runs every workflow and activity of the project on one task queue.

    python worker.py

Settings come from the environment (settings.py): TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE,
SAFEGUARDING_ROUTING_FILE, SAFEGUARDING_TEMPLATES_DIR, SAFEGUARDING_OUTBOX_DIR, TEMPORAL_UI_URL, the
encryption keys (SAFEGUARDING_KEYS / SAFEGUARDING_KEY_FILE, else data/keys) and TLS (TEMPORAL_TLS_*).
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys

from temporalio.client import Client
from temporalio.worker import Worker
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

import settings
import signing
from register.db import migrate
from activities.deadlines import compute_deadline, working_days_from
from activities.notifications import send_message
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
    working_days_from,
    send_message,
    render_rapid_review_report,
    record_events,
]


# pydantic loads its e-mail validator lazily, on the first e-mail field it checks: pass it through
# the sandbox like the models themselves rather than re-importing it inside every workflow run.
SANDBOX = SandboxedWorkflowRunner(
    restrictions=SandboxRestrictions.default.with_passthrough_modules("email_validator", "idna", "cryptography", "signing")
)


def build_worker(client: Client, task_queue: str = settings.TASK_QUEUE) -> Worker:
    return Worker(
        client,
        task_queue=task_queue,
        workflows=WORKFLOWS,
        activities=ACTIVITIES,
        workflow_runner=SANDBOX,
    )


async def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    os.umask(0o077)  # everything the worker writes (register, outbox, reports, marks) is owner-only
    migrate()  # the case register's schema, upgraded in place
    signing.ensure_command_line_key()  # the embedded default: the command line's key, trusted here
    client = await settings.connect()
    worker = build_worker(client)
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
