"""Every setting of the worker and the command line, read from the environment.

The same names serve the embedded default (scripts/run.sh) and a production cluster.
"""

from __future__ import annotations

import os
import secrets
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from temporalio.converter import DataConverter
    from temporalio.service import TLSConfig

    from codec import Keyring

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


# ---- private files ----------------------------------------------------------------------------------


def private_folder(path: Path) -> Path:
    """A folder owner-only (0700), with every missing parent created owner-only too. A folder already
    there is left as it is (one `stat`: every message and register write passes here)."""
    missing: list[Path] = []
    for folder in [path, *path.parents]:
        if folder.exists():
            break
        missing.append(folder)
    for folder in reversed(missing):
        try:
            folder.mkdir(mode=0o700)
        except FileExistsError:
            pass
        folder.chmod(0o700)  # whatever the umask
    return path


def write_private(path: Path, data: bytes, *, exclusive: bool = False) -> None:
    """Write a file 0600 in an owner-only folder, atomically; `exclusive`: FileExistsError if it is there."""
    private_folder(path.parent)
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        if exclusive:
            os.link(temporary, path)  # refuses to replace a file another process created first
        else:
            os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)


def data_dir() -> Path:
    """The embedded default's private state: the dev server's database, the register, the key file."""
    return Path(os.environ.get("SAFEGUARDING_DATA_DIR", PROJECT_DIR / "data"))


# ---- encryption keys ------------------------------------------------------------------------------


def key_file() -> Path:
    """The key file: SAFEGUARDING_KEY_FILE, else the embedded default's `data/keys`."""
    return Path(os.environ.get("SAFEGUARDING_KEY_FILE") or data_dir() / "keys")


def read_key_file(path: Path) -> Keyring:
    from codec import Keyring, KeyringError

    try:
        mode = path.stat().st_mode
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise KeyringError(f"no key file at {path}") from None
    if mode & 0o077:
        raise KeyringError(f"{path} can be read by others (mode {mode & 0o777:o}): chmod 600 it")
    return Keyring.parse(text, str(path))


def keyring() -> Keyring:
    """SAFEGUARDING_KEYS (key lines), else SAFEGUARDING_KEY_FILE (must exist), else the embedded
    default's key file, created with a new key on first use (and the path told on standard error)."""
    from codec import Keyring, new_keyring

    if os.environ.get("SAFEGUARDING_KEYS"):
        return Keyring.parse(os.environ["SAFEGUARDING_KEYS"], "SAFEGUARDING_KEYS")
    path = key_file()
    if not os.environ.get("SAFEGUARDING_KEY_FILE") and not path.exists():
        try:
            write_private(path, new_keyring().text().encode(), exclusive=True)
            print(
                f"safeguarding: created a new encryption key in {path} (owner-only). Keep a copy in a "
                "safe place: without it no case can be read.",
                file=sys.stderr,
            )
        except FileExistsError:
            pass  # the worker and a starter arrived at the same moment: the other one's key it is
    return read_key_file(path)


def data_converter(ring: Keyring | None = None) -> DataConverter:
    """The one converter of every client, worker, test server and replayer: the models' converter
    (models/payloads.py), then encrypted."""
    import codec
    from models.payloads import DATA_CONVERTER

    return codec.data_converter(ring or keyring(), DATA_CONVERTER)


# ---- the Temporal client --------------------------------------------------------------------------


def tls() -> TLSConfig | bool:
    """TLS to the frontend, configured as Temporal's own clients are (`temporal` CLI, envconfig):
    TEMPORAL_TLS=true, and for mutual TLS TEMPORAL_TLS_CLIENT_CERT_PATH / TEMPORAL_TLS_CLIENT_KEY_PATH;
    TEMPORAL_TLS_SERVER_CA_CERT_PATH for a private CA, TEMPORAL_TLS_SERVER_NAME for the certificate's name."""
    from temporalio.service import TLSConfig

    def read(name: str) -> bytes | None:
        value = os.environ.get(name)
        return Path(value).read_bytes() if value else None

    paths = ("TEMPORAL_TLS_CLIENT_CERT_PATH", "TEMPORAL_TLS_CLIENT_KEY_PATH", "TEMPORAL_TLS_SERVER_CA_CERT_PATH")
    wanted = os.environ.get("TEMPORAL_TLS", "").lower()
    if wanted in ("0", "false", "no") or (not wanted and not any(os.environ.get(p) for p in paths)):
        return False
    cert, key = read("TEMPORAL_TLS_CLIENT_CERT_PATH"), read("TEMPORAL_TLS_CLIENT_KEY_PATH")
    if (cert is None) != (key is None):
        raise ValueError("TEMPORAL_TLS_CLIENT_CERT_PATH and TEMPORAL_TLS_CLIENT_KEY_PATH go together")
    return TLSConfig(
        server_root_ca_cert=read("TEMPORAL_TLS_SERVER_CA_CERT_PATH"),
        domain=os.environ.get("TEMPORAL_TLS_SERVER_NAME") or None,
        client_cert=cert,
        client_private_key=key,
    )


async def connect():
    """A Temporal client for the configured server: pydantic models, every payload (headers too)
    encrypted, TLS when configured."""
    from temporalio.client import Client
    from temporalio.common import HeaderCodecBehavior

    return await Client.connect(
        temporal_address(),
        namespace=temporal_namespace(),
        data_converter=data_converter(),
        header_codec_behavior=HeaderCodecBehavior.CODEC,
        tls=tls(),
    )
