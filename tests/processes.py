"""`python worker.py` as a process of its own, pointed at a test's dev server, register and outbox;
a real SMTP server on loopback; the worker's /metrics read as Prometheus text."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

PROJECT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def worker_environment(address: str, namespace: str, folder: Path, register_url: str, **extra: str) -> dict[str, str]:
    """The environment of a worker on `address`: no setting of the developer's shell leaks in."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("TEMPORAL_", "SAFEGUARDING_"))}
    environment.update(
        TEMPORAL_ADDRESS=address,
        TEMPORAL_NAMESPACE=namespace,
        SAFEGUARDING_OUTBOX_DIR=str(folder / "outbox"),
        SAFEGUARDING_REPORTS_DIR=str(folder / "reports"),
        SAFEGUARDING_DOCUMENTS_DIR=str(folder / "documents"),
        SAFEGUARDING_REGISTER_URL=register_url,
        SAFEGUARDING_KEYS=os.environ["SAFEGUARDING_KEYS"],  # the session's payload key (conftest)
        SAFEGUARDING_SIGNING_DIR=os.environ["SAFEGUARDING_SIGNING_DIR"],  # the session's signing key (conftest)
        PYTHONUNBUFFERED="1",
    )
    environment.update(extra)
    return environment


class WorkerProcess:
    """One `python worker.py` at a time; each start logs to a file of its own."""

    def __init__(self, environment: dict[str, str], log_dir: Path) -> None:
        self.environment = environment
        self.log_dir = log_dir
        self.process: subprocess.Popen[bytes] | None = None
        self.logs: list[Path] = []

    def start(self, timeout: float = 60) -> subprocess.Popen[bytes]:
        assert self.process is None or self.process.poll() is not None, "a worker is already running"
        log = self.log_dir / f"worker-{len(self.logs) + 1}.log"
        self.logs.append(log)
        with log.open("wb") as out:
            self.process = subprocess.Popen(
                [sys.executable, "worker.py"], cwd=PROJECT, env=self.environment, stdout=out, stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + timeout
        while "worker polling task queue" not in log.read_text(errors="replace"):
            if self.process.poll() is not None:
                raise AssertionError(f"worker.py exited {self.process.returncode} at start:\n{self.tail()}")
            if time.monotonic() > deadline:
                raise AssertionError(f"worker.py did not start polling within {timeout:.0f} s:\n{self.tail()}")
            time.sleep(0.05)
        return self.process

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def kill(self) -> None:
        """SIGKILL: nothing finished, as when a machine dies."""
        assert self.process is not None and self.process.poll() is None, "no worker running to kill"
        os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)

    def pause(self) -> None:
        """SIGSTOP: the worker starts nothing more until it is killed or resumed."""
        assert self.process is not None
        os.kill(self.process.pid, signal.SIGSTOP)

    def resume(self) -> None:
        assert self.process is not None
        os.kill(self.process.pid, signal.SIGCONT)

    def stop(self) -> None:
        if self.running:
            assert self.process is not None
            os.kill(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.kill(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)

    def text(self) -> str:
        return "".join(f"=== {log.name} ===\n{log.read_text(errors='replace')}" for log in self.logs)

    def tail(self, lines: int = 60) -> str:
        return "\n".join(self.text().splitlines()[-lines:])


def scrape(address: str) -> dict[str, dict[tuple[tuple[str, str], ...], float]]:
    """The samples of a /metrics page by name, each keyed by its labels (service_name left out)."""
    with urllib.request.urlopen(f"http://{address}/metrics", timeout=5) as response:
        text = response.read().decode()
    samples: dict[str, dict[tuple[tuple[str, str], ...], float]] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            labels = tuple(sorted((k, v) for k, v in sample.labels.items() if k != "service_name"))
            samples.setdefault(sample.name, {})[labels] = sample.value
    return samples


def exported_families(address: str) -> set[str]:
    """The metric family names of a /metrics page as Prometheus stores them (its `# TYPE` lines)."""
    with urllib.request.urlopen(f"http://{address}/metrics", timeout=5) as response:
        text = response.read().decode()
    return {line.split()[2] for line in text.splitlines() if line.startswith("# TYPE ")}
