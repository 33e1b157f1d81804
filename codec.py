"""Every payload encrypted before it leaves a process: AES-256-GCM, each payload tagged with its key id.

A keyring holds the current key (new payloads are written with it) and older ones (still read), so a
case started before a rotation keeps running and stays readable. Keys are text, one a line or
comma-separated, `<key id>:<base64 of 32 bytes>`, the current key first:

    2026-03:3q2+7w...=
    2025-09:q83vEj...=

They come from SAFEGUARDING_KEYS (the text itself) or SAFEGUARDING_KEY_FILE (a file holding it),
read by settings.py; with neither, the embedded default's key file `data/keys` (created on first use,
0600 in a 0700 folder). Key material is never logged, printed or put in an error message. A payload
is compressed before it is sealed when that makes it smaller (payload_compression.py).

    python codec.py new-key [ID]              # a new key line, for SAFEGUARDING_KEYS or a key file
    python codec.py rotate [KEY_FILE]         # a new current key at the top of the file; old ones kept

Payloads without this codec's encoding (histories recorded before encryption) pass through as they
are; a payload under a key id the ring does not hold is an error naming the id.
"""

from __future__ import annotations

import base64
import dataclasses
import os
import re
import sys
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import temporalio.client
import temporalio.service
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from temporalio.common import HeaderCodecBehavior
from temporalio.api.common.v1 import Payload
from temporalio.converter import DataConverter, DefaultFailureConverterWithEncodedAttributes, PayloadCodec

import payload_compression
from models.payloads import PUBLIC

ENCODING = b"binary/encrypted"
KEY_ID = "encryption-key-id"  # the metadata that named the key before issue 17 (`sealed_under`)
NONCE_BYTES = 12
KEY_ID_PATTERN = re.compile(r"[A-Za-z0-9._-]{1,64}")


class KeyringError(ValueError):
    """A keyring that cannot be read; the message never holds key material."""


@dataclass(frozen=True)
class Keyring:
    current: str
    keys: dict[str, bytes]

    def __post_init__(self) -> None:
        if self.current not in self.keys:
            raise KeyringError(f"the current key {self.current!r} is not in the keyring")

    def __repr__(self) -> str:  # never the keys themselves
        return f"Keyring(current={self.current!r}, ids={list(self.keys)!r})"

    @classmethod
    def parse(cls, text: str, where: str) -> Keyring:
        """Key lines (`id:base64`), newline- or comma-separated, the current key first; `#` comments."""
        keys: dict[str, bytes] = {}
        for number, line in enumerate(re.split(r"[\n,]", text), start=1):
            line = line.split("#", 1)[0].strip()
            if not line:
                continue
            key_id, sep, encoded = line.partition(":")
            key_id = key_id.strip()
            if not sep or not KEY_ID_PATTERN.fullmatch(key_id):
                raise KeyringError(f"{where}: entry {number} is not `<key id>:<base64 key>`")
            try:
                key = base64.b64decode(encoded.strip(), validate=True)
            except ValueError:
                raise KeyringError(f"{where}: key {key_id!r} is not base64") from None
            if len(key) != 32:
                raise KeyringError(f"{where}: key {key_id!r} is {len(key)} bytes, AES-256 needs 32")
            if key_id in keys:
                raise KeyringError(f"{where}: key id {key_id!r} appears twice")
            keys[key_id] = key
        if not keys:
            raise KeyringError(f"{where}: no key")
        return cls(current=next(iter(keys)), keys=keys)

    def text(self) -> str:
        """The keyring as key lines, the current key first (for a key file)."""
        ordered = [self.current] + [k for k in self.keys if k != self.current]
        return "".join(f"{k}:{base64.b64encode(self.keys[k]).decode()}\n" for k in ordered)

    def with_new_current(self, key_id: str | None = None) -> Keyring:
        """A fresh random key as current, every older key kept for reading."""
        key_id = key_id or new_key_id(self.keys)
        if key_id in self.keys:
            raise KeyringError(f"key id {key_id!r} is already in the keyring")
        return Keyring(current=key_id, keys={key_id: AESGCM.generate_key(256), **self.keys})


def new_key_id(taken: Iterable[str] = ()) -> str:
    stem = datetime.now(timezone.utc).strftime("%Y%m%d")
    key_id, n = stem, 1
    while key_id in set(taken):
        n += 1
        key_id = f"{stem}-{n}"
    return key_id


def new_keyring(key_id: str | None = None) -> Keyring:
    key_id = key_id or new_key_id()
    return Keyring(current=key_id, keys={key_id: AESGCM.generate_key(256)})


# ---- the codec -----------------------------------------------------------------------------------


class EncryptionCodec(PayloadCodec):
    """AES-256-GCM over each whole payload (its metadata and data), under the ring's current key,
    compressed first when that makes it smaller (payload_compression.py says why that is safe here)."""

    def __init__(self, keyring: Keyring) -> None:
        super().__init__()
        self.keyring = keyring
        self._ciphers = {key_id: AESGCM(key) for key_id, key in keyring.keys.items()}
        self._current = keyring.current.encode()
        self._label = bytes((len(self._current),)) + self._current  # what a payload's data starts with

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return [self.encrypt(p) for p in payloads]

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return [self.decrypt(p) for p in payloads]

    def encrypt(self, payload: Payload) -> Payload:
        if PUBLIC in payload.metadata:
            return payload  # a summary that says nothing about anyone (models.text.Public)
        nonce = os.urandom(NONCE_BYTES)
        # The key id is authenticated with the data: a payload relabelled with another id fails.
        plaintext = payload_compression.compress(payload.SerializeToString())
        sealed = self._ciphers[self.keyring.current].encrypt(nonce, plaintext, self._current)
        return Payload(metadata={"encoding": ENCODING}, data=self._label + nonce + sealed)

    def decrypt(self, payload: Payload) -> Payload:
        if payload.metadata.get("encoding") != ENCODING:
            return payload  # not ours: recorded before encryption, or a search attribute
        key_id, data = sealed_under(payload)
        cipher = self._ciphers.get(key_id.decode(errors="replace"))
        if cipher is None:
            raise KeyringError(
                f"payload encrypted under key {key_id.decode(errors='replace')!r}, not in the keyring "
                f"(holds {sorted(self._ciphers)})"
            )
        plaintext = cipher.decrypt(data[:NONCE_BYTES], data[NONCE_BYTES:], key_id)
        return Payload.FromString(payload_compression.decompress(plaintext))


def sealed_under(payload: Payload) -> tuple[bytes, bytes]:
    """The id of the key an encrypted payload is sealed under, and the nonce and sealed bytes after it.
    The id is in the clear at the start of the data (a length byte, then the id); payloads sealed by
    this codec before issue 17 carry it in their metadata instead (`KEY_ID`), about 22 bytes more each."""
    if KEY_ID in payload.metadata:
        return payload.metadata[KEY_ID], payload.data
    data = payload.data
    length = data[0] if data else 0
    return data[1 : 1 + length], data[1 + length :]


class EncodedHeaders(temporalio.client.Plugin):
    """Headers through the codec too (the SDK leaves them plain unless told): for clients made by
    others, e.g. the test servers' (settings.connect() sets it itself)."""

    def configure_client(self, config: temporalio.client.ClientConfig) -> temporalio.client.ClientConfig:
        config["header_codec_behavior"] = HeaderCodecBehavior.CODEC
        return config

    async def connect_service_client(
        self,
        config: temporalio.service.ConnectConfig,
        next: Callable[[temporalio.service.ConnectConfig], Awaitable[temporalio.service.ServiceClient]],
    ) -> temporalio.service.ServiceClient:
        return await next(config)


def data_converter(keyring: Keyring, base: DataConverter) -> DataConverter:
    """`base` (the models' converter) with every payload encrypted, and failure messages and stack
    traces moved into encoded attributes so that they are encrypted too."""
    return dataclasses.replace(
        base,
        payload_codec=EncryptionCodec(keyring),
        failure_converter_class=DefaultFailureConverterWithEncodedAttributes,
    )


def main(argv: list[str]) -> int:
    import argparse

    parser = argparse.ArgumentParser(prog="codec.py", description="Encryption keys of the case payloads.")
    commands = parser.add_subparsers(dest="command", required=True)
    new = commands.add_parser("new-key", help="print a new key line (for SAFEGUARDING_KEYS or a key file)")
    new.add_argument("key_id", nargs="?")
    rotate = commands.add_parser("rotate", help="add a new current key to a key file, keeping the old ones")
    rotate.add_argument("key_file", nargs="?", help="default: SAFEGUARDING_KEY_FILE, else data/keys")
    rotate.add_argument("--id", dest="key_id")
    args = parser.parse_args(argv)
    try:
        if args.command == "new-key":
            sys.stdout.write(new_keyring(args.key_id).text())
            return 0
        import settings

        path = Path(args.key_file) if args.key_file else settings.key_file()
        ring = settings.read_key_file(path).with_new_current(args.key_id)
        settings.write_private(path, ring.text().encode())
        print(f"{path}: key {ring.current!r} is current; older keys kept for reading: {list(ring.keys)[1:]}")
        print("restart the worker (and the codec server) to write with it")
        return 0
    except KeyringError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
