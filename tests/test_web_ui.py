"""The embedded default as `scripts/run.sh` runs it: its files are private, and the Web UI shows a case
decrypted only through the project's codec server.

`scripts/run.sh` is run as a person runs it (on free loopback ports, its data folder in a temporary
one, with no key set: it makes its own); a case is launched with `starter.py`; the dev server's Web UI
is read in real headless Chromium (Debian's `chromium`, driven by Playwright). Then the same database
is served by a dev server whose UI has no codec endpoint: only ciphertext is left to see.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import socket
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

PROJECT = Path(__file__).resolve().parents[1]
CHROMIUM = Path("/usr/bin/chromium")
PERSONAL = ["Child A", "Alex Practitioner", "alex.practitioner@example.org", "01642 000000", "2019-03-04",
            "Free text describing what happened"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Stack:
    folder: Path
    env: dict[str, str]
    process: subprocess.Popen
    log: Path
    port: int
    ui_port: int
    codec_port: int

    @property
    def data(self) -> Path:
        return self.folder / "data"

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)  # run.sh stops what it started
            self.process.wait(timeout=60)

    def starter(self, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "starter.py", *args], cwd=PROJECT, env=self.env,
                              capture_output=True, text=True, timeout=120)


def wait_for(check, what: str, timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.5)


@pytest.fixture(scope="module")
def embedded_default(tmp_path_factory) -> Iterator[Stack]:
    folder = tmp_path_factory.mktemp("embedded")
    port, ui_port, codec_port = free_port(), free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TEMPORAL_", "SAFEGUARDING_"))}
    env.update(
        TEMPORAL_ADDRESS=f"127.0.0.1:{port}",
        TEMPORAL_UI_PORT=str(ui_port),
        SAFEGUARDING_CODEC_PORT=str(codec_port),
        SAFEGUARDING_CONSOLE_PORT=str(free_port()),
        SAFEGUARDING_DATA_DIR=str(folder / "data"),  # the key file, temporal.db, register.db
        SAFEGUARDING_OUTBOX_DIR=str(folder / "outbox"),
        SAFEGUARDING_REPORTS_DIR=str(folder / "reports"),
        PYTHONUNBUFFERED="1",
    )
    log = folder / "run.log"
    with log.open("wb") as out:
        process = subprocess.Popen(["bash", "scripts/run.sh"], cwd=PROJECT, env=env, stdout=out,
                                   stderr=subprocess.STDOUT, start_new_session=True)
    stack = Stack(folder, env | {"TEMPORAL_UI_URL": f"http://localhost:{ui_port}"}, process, log,
                  port, ui_port, codec_port)
    try:
        wait_for(lambda: "worker polling task queue" in log.read_text() or process.poll() is not None,
                 "scripts/run.sh to start")
        assert process.poll() is None, log.read_text()
        yield stack
    finally:
        stack.stop()
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)


@pytest.fixture(scope="module")
def case_id(embedded_default: Stack) -> str:
    launched = embedded_default.starter("serious-incident", "examples/serious-incident-form.json", "--json")
    assert launched.returncode == 0, launched.stderr
    case = json.loads(launched.stdout)["case_id"]
    outbox = embedded_default.folder / "outbox" / case
    wait_for(lambda: len(list(outbox.glob("*.eml"))) >= 2, "the first messages in the outbox", 60)
    return case


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_the_embedded_default_creates_only_private_files(embedded_default, case_id):
    log = embedded_default.log.read_text()
    assert f"created a new encryption key in {embedded_default.data / 'keys'}" in log
    created = [embedded_default.data, embedded_default.folder / "outbox"]
    created += [p for top in created[:] for p in top.rglob("*")]
    names = {p.name for p in created}
    assert {"keys", "temporal.db", "register.db", case_id} <= names and any(n.endswith(".eml") for n in names)
    wrong = [f"{p}: {mode(p):o}" for p in created if mode(p) != (0o700 if p.is_dir() else 0o600)]
    assert not wrong, "\n".join(wrong)
    assert not any(value in log for value in PERSONAL), "personal data in the embedded default's output"


def page_text(url: str, until, seconds: float = 60) -> tuple[str, list[str]]:
    """The page's text in headless Chromium once `until(text)` holds (or time is up), and the codec
    server calls it made."""
    if not CHROMIUM.exists():
        pytest.fail("Debian's chromium is not installed (apt-get install chromium; .ci/run does it)")
    from playwright.async_api import async_playwright

    async def read() -> tuple[str, list[str]]:
        async with async_playwright() as playwright:
            browser = await playwright.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
            try:
                page = await browser.new_page()
                calls: list[str] = []
                page.on("request", lambda r: calls.append(r.url) if "/decode" in r.url else None)
                await page.goto(url)
                text, deadline = "", time.monotonic() + seconds
                while time.monotonic() < deadline:
                    text = await page.inner_text("body")
                    if until(text):
                        break
                    await asyncio.sleep(0.5)
                return text, calls
            finally:
                await browser.close()

    return asyncio.run(read())


@pytest.mark.browser
def test_the_web_ui_shows_a_case_decrypted_only_through_the_codec_server(embedded_default, case_id):
    url = f"http://localhost:{embedded_default.ui_port}/namespaces/default/workflows/{case_id}"

    # With the codec server run.sh started: the form, and the timeline's summaries, in clear.
    shown, calls = page_text(url, lambda t: "Child A" in t and "¶2.5 Tell the Business Unit" in t)
    assert all(value in shown for value in PERSONAL[:4]), shown[:3000]
    assert "¶2.5 Tell the Business Unit of the new form" in shown
    assert calls and all(c.startswith(f"http://localhost:{embedded_default.codec_port}/") for c in calls)

    # The same database behind a Web UI with no codec server: ciphertext only.
    embedded_default.stop()
    plain = subprocess.Popen(
        [str(Path(sys.executable).parent / "temporal"), "server", "start-dev",
         "--db-filename", str(embedded_default.data / "temporal.db"), "--ip", "127.0.0.1",
         "--port", str(embedded_default.port), "--ui-port", str(embedded_default.ui_port), "--log-level", "error"],
        cwd=embedded_default.folder, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        ciphertext = re.compile(r"[A-Za-z0-9+/=]{200,}")
        wait_for(lambda: subprocess.run(
            [str(Path(sys.executable).parent / "temporal"), "operator", "cluster", "health",
             "--address", f"127.0.0.1:{embedded_default.port}"], capture_output=True).returncode == 0,
            "the dev server without a codec endpoint", 60)
        shown, calls = page_text(url, lambda t: case_id in t and bool(ciphertext.search(t)))
        assert case_id in shown and ciphertext.search(shown), shown[:3000]
        leaked = [value for value in PERSONAL if value.lower() in shown.lower()]
        assert not leaked, f"readable without the codec server: {leaked}"
        # a summary of fixed words (models.text.Public) is plain, for operations; the rest is ciphertext
        assert "¶2.5 Tell the Business Unit of the new form" in shown
        assert not calls
    finally:
        plain.terminate()
        plain.wait(timeout=30)
