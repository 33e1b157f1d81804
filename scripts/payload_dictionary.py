"""Writes a preset dictionary for payload_compression.py from the stored histories' payloads, with
every value from a case taken out: what is left is field names and the protocol's fixed words.

    python scripts/payload_dictionary.py NUMBER [HISTORIES_FOLDER]   # default tests/histories

Each JSON payload of every history in the folder is reduced to its skeleton: keys kept when they are
identifiers (snake_case), strings kept only when they are identifiers (a stage, a template, a clock,
an enum value) or fixed words of the code (`VOCABULARY`: the clocks' titles), dates and times made one
fixed date, numbers 0, lists cut to their first two items.
The distinct skeletons, most frequent last (DEFLATE reaches the end of a dictionary most cheaply), fill
at most `SIZE` bytes. The file is written to config/payload-dictionary-NUMBER.bin and its SHA-256
printed, for `DICTIONARIES` in payload_compression.py. A released dictionary is never rewritten:
build a new number instead.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from temporalio.api.common.v1 import Payload

PROJECT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(PROJECT))

from activities.deadlines import CLOCKS  # noqa: E402

# Fixed words that payloads repeat and that are not identifiers: each clock's title and what it needs.
VOCABULARY = frozenset(text for rule in CLOCKS.values() for text in (rule.title, rule.needed))
SIZE = 8192  # bytes: more gained little on a journey's payloads, and cost time per payload
IDENTIFIER = re.compile(r"[a-z][a-z0-9_]{0,47}(/[a-z0-9_]{1,47})?")
DATE = re.compile(r"\d{4}-\d\d-\d\d")
MOMENT = re.compile(r"\d{4}-\d\d-\d\dT[\d:.]+Z?")


def skeleton(value: Any) -> Any:
    """The value with everything a case could have said taken out."""
    if isinstance(value, dict):
        return {k: skeleton(v) for k, v in value.items() if IDENTIFIER.fullmatch(k)}
    if isinstance(value, list):
        return [skeleton(v) for v in value[:2]]
    if isinstance(value, str):
        if IDENTIFIER.fullmatch(value) or value in VOCABULARY:
            return value
        if MOMENT.fullmatch(value):
            return "2000-01-01T00:00:00Z"
        return "2000-01-01" if DATE.fullmatch(value) else ""
    if isinstance(value, bool) or value is None:
        return value
    return 0


def payloads(node: Any) -> Iterator[Payload]:
    """Every payload in a history as `WorkflowHistory.to_json()` writes it."""
    if isinstance(node, dict):
        metadata = node.get("metadata")
        if isinstance(metadata, dict) and "encoding" in metadata:
            yield Payload(
                metadata={k: base64.b64decode(v) for k, v in metadata.items()},
                data=base64.b64decode(node.get("data", "")),
            )
            return
        for child in node.values():
            yield from payloads(child)
    elif isinstance(node, list):
        for child in node:
            yield from payloads(child)


def skeletons(folder: Path) -> Counter[bytes]:
    found: Counter[bytes] = Counter()
    for path in sorted(folder.glob("*.json")):
        for payload in payloads(json.loads(path.read_text(encoding="utf-8"))["history"]):
            if dict(payload.metadata) != {"encoding": b"json/plain"}:
                continue  # a search attribute's (typed, never encrypted) or not JSON
            text = json.dumps(skeleton(json.loads(payload.data)), separators=(",", ":")).encode()
            found[Payload(metadata=dict(payload.metadata), data=text).SerializeToString()] += 1
    return found


def build(folder: Path) -> bytes:
    found = skeletons(folder)
    dictionary = b""
    for text in sorted(found, key=lambda t: (-found[t], t)):  # most frequent first: they end up last
        if len(dictionary) + len(text) <= SIZE:
            dictionary = text + dictionary
    return dictionary


def main(argv: list[str]) -> int:
    number = int(argv[0])
    folder = Path(argv[1]) if len(argv) > 1 else PROJECT / "tests" / "histories"
    target = PROJECT / "config" / f"payload-dictionary-{number}.bin"
    if target.exists():
        print(f"{target} exists: a released dictionary is never rewritten; build a new number", file=sys.stderr)
        return 1
    dictionary = build(folder)
    target.write_bytes(dictionary)
    print(f"{target}: {len(dictionary)} bytes, sha256 {hashlib.sha256(dictionary).hexdigest()}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
