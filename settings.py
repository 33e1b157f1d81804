"""Every setting of the worker and the command line, read from the environment.

The same names serve the embedded default (scripts/run.sh) and a production cluster.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parent

TASK_QUEUE = "safeguarding-cases"


def temporal_address() -> str:
    return os.environ.get("TEMPORAL_ADDRESS", "localhost:7233")


def temporal_namespace() -> str:
    return os.environ.get("TEMPORAL_NAMESPACE", "default")


def temporal_ui_url() -> str:
    """Where people open a case in the Web UI (by default on TEMPORAL_UI_PORT, as scripts/run.sh serves it)."""
    return os.environ.get("TEMPORAL_UI_URL") or f"http://localhost:{os.environ.get('TEMPORAL_UI_PORT', '8233')}"


def routing_file() -> Path:
    """Which partnership serves which authority, and every address the journey needs."""
    return Path(os.environ.get("SAFEGUARDING_ROUTING_FILE", PROJECT_DIR / "config" / "routing.json"))


def templates_dir() -> Path:
    """The message templates the Business Unit can edit."""
    return Path(
        os.environ.get("SAFEGUARDING_TEMPLATES_DIR", PROJECT_DIR / "activities" / "templates")
    )


def reports_dir() -> Path:
    """Where rendered reports are kept, one folder per case."""
    return Path(os.environ.get("SAFEGUARDING_REPORTS_DIR", PROJECT_DIR / "reports"))


def documents_dir() -> Path:
    """Where documents that go with decisions (the reviewer's report) are kept, one folder per case:
    the command line copies them in; the worker reads only there."""
    return Path(os.environ.get("SAFEGUARDING_DOCUMENTS_DIR", PROJECT_DIR / "documents"))


@dataclass(frozen=True)
class Smtp:
    host: str
    port: int
    starttls: bool
    username: str | None
    password: str | None


def smtp() -> Smtp | None:
    """The mail server messages go through; None (the embedded default) keeps them in the outbox only."""
    host = os.environ.get("SAFEGUARDING_SMTP_HOST")
    if not host:
        return None
    return Smtp(
        host=host,
        port=int(os.environ.get("SAFEGUARDING_SMTP_PORT", "587")),
        starttls=os.environ.get("SAFEGUARDING_SMTP_STARTTLS", "true").lower() in ("1", "true", "yes"),
        username=os.environ.get("SAFEGUARDING_SMTP_USERNAME") or None,
        password=os.environ.get("SAFEGUARDING_SMTP_PASSWORD") or None,
    )


def outbox_dir() -> Path:
    """Where the embedded default delivers messages, as .eml files."""
    return Path(os.environ.get("SAFEGUARDING_OUTBOX_DIR", PROJECT_DIR / "outbox"))


async def connect():
    """A Temporal client for the configured server, speaking pydantic models."""
    from temporalio.client import Client
    from models.payloads import DATA_CONVERTER

    return await Client.connect(temporal_address(), namespace=temporal_namespace(), data_converter=DATA_CONVERTER)
