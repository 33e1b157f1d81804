"""A payload made smaller before codec.py encrypts it: raw DEFLATE (zlib) with a preset dictionary.

A case's payloads are short JSON texts (a decision, a message, a deadline) that say the same field
names again and again; DEFLATE alone finds little to share in a few hundred bytes, but with a
dictionary of those names and the protocol's fixed words (stages, templates, clocks) it halves them.
History bytes are what keep a case that runs for years under Temporal's limits (issue 17).

What the sealed plaintext is (codec.py encrypts it whole, so this is never seen in the clear):
  - a serialized Payload, as before this module: its first byte is a protobuf tag, never 0; or
  - 0x00, the dictionary's number, then the raw DEFLATE stream of the serialized Payload.
A payload is compressed only when that makes it smaller.

Compression before encryption lets an encrypted payload's length depend on how alike its parts are
(the CRIME and BREACH attacks: someone who can put text of their choosing into the same payload as a
secret, and watch the encrypted length over many tries, can guess the secret). Here each payload is
compressed alone, with a dictionary that holds no value from any case (field names and fixed words
only, scripts/payload_dictionary.py); the only people who see lengths are the Temporal cluster's
operators, and text reaches a payload only from signed-in staff through a signed decision or form,
who can already read the case. Lengths already showed how long each text was without compression.

A dictionary is frozen once released: payloads written with it stay in histories for years and are
inflated with it. A new dictionary takes the next number and becomes `CURRENT`; the old ones stay.
Each is checked against its SHA-256 when first read, so a changed file is an error naming it.
"""

from __future__ import annotations

import hashlib
import zlib
from functools import cache
from pathlib import Path
from typing import Any

FOLDER = Path(__file__).resolve().parent / "config"
# number: SHA-256 of config/payload-dictionary-<number>.bin (scripts/payload_dictionary.py writes it)
DICTIONARIES = {1: "2fe9833c8c585db5dd7cbd5348820fbffa6fc24594008412bfd310dc6451b70f"}
CURRENT = 1
MARK = 0  # the first byte of a compressed plaintext; a serialized Payload never starts with it
SMALLEST = 16  # bytes: below this, a payload is left as it is (its framing would not pay)
LARGEST = 4 * 2**20  # bytes: no payload inflates beyond this (Temporal refuses a payload over 2 MB)
LEVEL = 6
# A 16 KB window holds the 8 KB dictionary and a payload's own repeats; with a smaller state to set up
# than zlib's default (32 KB, memory level 8), compressing a payload takes about a third of the time.
WINDOW_BITS = 14
MEMORY_LEVEL = 6


class PayloadCompressionError(ValueError):
    """A compressed payload that cannot be inflated; the message never holds the payload's content."""


@cache
def dictionary(number: int) -> bytes:
    if number not in DICTIONARIES:
        raise PayloadCompressionError(
            f"payload compressed with dictionary {number}; this release knows {sorted(DICTIONARIES)}"
        )
    path = FOLDER / f"payload-dictionary-{number}.bin"
    content = path.read_bytes()
    if hashlib.sha256(content).hexdigest() != DICTIONARIES[number]:
        raise PayloadCompressionError(f"{path} is not the released dictionary {number}: it has been changed")
    return content


@cache
def primed(number: int) -> Any:
    """A deflater with the dictionary loaded and nothing written: each payload starts from a copy of it,
    which is the same stream as a new deflater would write, in about 60 % of the time (loading the
    dictionary is most of a small payload's work)."""
    return zlib.compressobj(LEVEL, zlib.DEFLATED, -WINDOW_BITS, MEMORY_LEVEL, zlib.Z_DEFAULT_STRATEGY, dictionary(number))


def compress(serialized: bytes) -> bytes:
    """A serialized payload, compressed with the current dictionary when that makes it smaller."""
    if len(serialized) < SMALLEST:
        return serialized
    deflater = primed(CURRENT).copy()
    packed = bytes((MARK, CURRENT)) + deflater.compress(serialized) + deflater.flush()
    return packed if len(packed) < len(serialized) else serialized


def decompress(plaintext: bytes) -> bytes:
    """The serialized payload a sealed plaintext holds, compressed or not."""
    if not plaintext or plaintext[0] != MARK:
        return plaintext
    if len(plaintext) < 2:
        raise PayloadCompressionError("compressed payload without its dictionary's number")
    inflater = zlib.decompressobj(-15, dictionary(plaintext[1]))  # the largest window: any stream's
    try:
        serialized = inflater.decompress(plaintext[2:], LARGEST + 1)
    except zlib.error:
        raise PayloadCompressionError("compressed payload is not a DEFLATE stream") from None
    if len(serialized) > LARGEST:
        raise PayloadCompressionError(f"compressed payload inflates beyond {LARGEST} bytes: refused")
    if not inflater.eof or inflater.unused_data:
        raise PayloadCompressionError("compressed payload is cut short or has bytes after its end")
    return serialized
