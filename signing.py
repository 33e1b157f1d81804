"""Who recorded a decision, verified: the front doors sign, the case checks.

The system's front doors (the command line; the staff console to come) each hold an Ed25519 signing
key. A front door identifies the person (the command line: the person set up for it on that machine;
the console: who signed in), looks up their partnership and roles in the people file the Business
Unit keeps (`config/people.json`), and signs the decision together with them and the case's id. The
worker holds only the public keys it trusts (`trusted.json`): a case accepts a decision only with a
valid signature from a trusted key, for its own partnership, from a role that may record it
(`Takes.by`, workflows/intake.py). Someone with raw Temporal access and no front door's key can send a
signal, but it is refused and recorded as refused.

Keys live outside the repository: `SAFEGUARDING_SIGNING_DIR` (default `data/signing/`, owner-only). In the
embedded default nothing needs setting up: the first `python starter.py` or `python worker.py` run
from the project folder creates the command line's key and trusts it. The trusted-keys file only
grows: a key is retired by adding `"retired_on"`, never removed, so old cases replay.
"""

from __future__ import annotations

import base64
import json
import os
from datetime import date, datetime
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from models.identity import Person, PersonRole, Signature, signed_bytes

PROJECT_DIR = Path(__file__).resolve().parent


# ---- where the keys are ------------------------------------------------------------------------------


def keys_dir() -> Path:
    """The signing keys' folder: SAFEGUARDING_SIGNING_DIR, else the embedded default's `data/signing`."""
    data = Path(os.environ.get("SAFEGUARDING_DATA_DIR", PROJECT_DIR / "data"))
    return Path(os.environ.get("SAFEGUARDING_SIGNING_DIR", data / "signing"))


def trusted_file() -> Path:
    return keys_dir() / "trusted.json"


def signing_key_file() -> Path:
    return Path(os.environ.get("SAFEGUARDING_SIGNING_KEY", keys_dir() / "command-line.key"))


def console_key_file() -> Path:
    """The staff console's own key: a front door of its own, trusted like the command line's."""
    return Path(os.environ.get("SAFEGUARDING_CONSOLE_SIGNING_KEY", keys_dir() / "console.key"))


def people_file() -> Path:
    return Path(os.environ.get("SAFEGUARDING_PEOPLE_FILE", PROJECT_DIR / "config" / "people.json"))


OPERATIONS = Person(email="operations@localhost", name="Operations (this machine)", roles=[PersonRole.OPERATIONS])


# ---- the front door's side --------------------------------------------------------------------------


def _private_key(path: Path | None = None) -> tuple[str, Any]:
    """The door's key: `path` (the console's, made when the console starts), else the command line's."""
    if path is None:
        path = signing_key_file()
        ensure_command_line_key()
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    assert isinstance(key, Ed25519PrivateKey)
    return key_id_of(key.public_key()), key


def key_id_of(public_key: Any) -> str:
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return "ed25519:" + base64.urlsafe_b64encode(raw[:9]).decode()


def ensure_command_line_key() -> None:
    """The command line's key, made on first use (owner-only) and trusted by this machine's worker."""
    ensure_key(signing_key_file(), door="command line")


def ensure_key(path: Path, door: str) -> None:
    """A front door's key (`door`: "command line", "staff console"), made on first use, owner-only, and
    trusted by this machine's worker."""
    if path.exists():
        return
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(pem)
    trust(key.public_key(), door=door)


def trust(public_key: Any, door: str) -> str:
    """Add a public key to the trusted keys (the file only grows)."""
    key_id = key_id_of(public_key)
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    path = trusted_file()
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    trusted = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
    trusted[key_id] = {"public_key": base64.b64encode(raw).decode(), "door": door, "added_on": date.today().isoformat()}
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps(trusted, indent=2), encoding="utf-8")
    temporary.chmod(0o600)
    temporary.replace(path)
    TRUSTED.clear()
    return key_id


def acting_person(partnership: str | None = None) -> Person:
    """Who the command line acts as: `SAFEGUARDING_ACTOR` (an address in the people file), or, with
    nothing set up, this machine's operations identity."""
    actor = os.environ.get("SAFEGUARDING_ACTOR")
    if not actor:
        return OPERATIONS
    for person in load_people():
        if person.email.lower() == actor.lower() and (partnership is None or person.partnership in (None, partnership)):
            return person
    raise LookupError(f"{actor} is not in the people file ({people_file()})")


def load_people() -> list[Person]:
    path = people_file()
    if not path.exists():
        return []
    data = json.loads(path.read_text(encoding="utf-8"))
    return [Person(**person, partnership=partnership) for partnership, people in data.items() for person in people]


def sign(
    case_id: str, name: str, body: dict[str, Any], person: Person, now: datetime, key_file: Path | None = None
) -> Signature:
    """The front door's signature over the decision; `key_file`: the door's key (the command line's by default)."""
    key_id, key = _private_key(key_file)
    signature = Signature(key_id=key_id, signed_at=now, recorded_by=person)
    value = key.sign(signed_bytes(case_id, name, body, signature))
    return signature.model_copy(update={"value": base64.b64encode(value).decode()})


# ---- the case's side ---------------------------------------------------------------------------------

TRUSTED: dict[str, Any] = {}  # key id -> public key, read from the trusted-keys file


def _trusted_key(key_id: str) -> Any:
    if key_id not in TRUSTED:  # a key added since: read the file again (it only grows)
        path = trusted_file()
        entries = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
        TRUSTED.update(
            {kid: Ed25519PublicKey.from_public_bytes(base64.b64decode(e["public_key"])) for kid, e in entries.items()}
        )
    return TRUSTED.get(key_id)


def verified(case_id: str, name: str, body: dict[str, Any], signature: Signature | None) -> Person | None:
    """The person who recorded the decision, if a trusted front door signed it for this case."""
    if signature is None:
        return None
    key = _trusted_key(signature.key_id)
    if key is None:
        return None
    try:
        key.verify(base64.b64decode(signature.value), signed_bytes(case_id, name, body, signature))
    except (InvalidSignature, ValueError):
        return None
    return signature.recorded_by
