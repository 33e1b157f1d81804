"""Payloads are compressed before they are encrypted, and every payload ever written still reads.

  - a case's payloads come out of the codec as they went in, and smaller;
  - a payload sealed before compression existed, or one compression would not shrink, reads as it is;
  - a compressed payload that inflates without end, is cut short, names an unknown dictionary, or meets
    a dictionary file that has been changed is refused with a reason, never its content;
  - the dictionary holds no value from a case: none of the examples' texts.
"""

from __future__ import annotations

import glob
import json
import os
import zlib
from pathlib import Path

import pytest
from temporalio.api.common.v1 import Payload

import payload_compression
from codec import NONCE_BYTES, EncryptionCodec, new_keyring, sealed_under
from models.decisions import DECISIONS, DecisionName
from models.forms import SeriousIncidentForm
from models.payloads import DATA_CONVERTER
from payload_compression import MARK, PayloadCompressionError, compress, decompress, dictionary
from scripts.payload_dictionary import skeleton
from tests.journey import example

PROJECT = Path(__file__).resolve().parents[1]


def sealed_plaintext(codec: EncryptionCodec, sealed: Payload) -> bytes:
    """What the codec sealed, opened without the codec's own decoding."""
    key_id, data = sealed_under(sealed)
    return codec._ciphers[key_id.decode()].decrypt(data[:NONCE_BYTES], data[NONCE_BYTES:], key_id)


def test_a_case_s_payloads_come_back_as_they_went_in_and_smaller():
    codec = EncryptionCodec(new_keyring("k1"))
    form = SeriousIncidentForm.model_validate(example("serious-incident-form.json"))
    decisions = [DECISIONS[DecisionName(n)].model_validate(example(f"decisions/{n}.json")) for n in ("dsp_decision", "rapid_review_meeting_held")]
    (plain_form, *plain_decisions) = DATA_CONVERTER.payload_converter.to_payloads([form, *decisions])
    (summary,) = DATA_CONVERTER.payload_converter.to_payloads(["Calendar: dsp_meeting clock from 2026-11-27"])
    for plain in (plain_form, *plain_decisions, summary):
        sealed = codec.encrypt(plain)
        assert codec.decrypt(sealed) == plain
        inside = sealed_plaintext(codec, sealed)
        assert inside[0] == MARK and inside[1] == payload_compression.CURRENT
        assert len(inside) < 0.75 * len(plain.SerializeToString())


def test_a_payload_sealed_before_compression_and_the_key_id_s_move_reads_as_it_did():
    ring = new_keyring("k1")
    codec = EncryptionCodec(ring)
    plain = Payload(metadata={"encoding": b"json/plain"}, data=json.dumps(example("serious-incident-form.json")).encode())
    nonce = os.urandom(NONCE_BYTES)
    # sealed as the codec did before issue 17: the serialized payload itself, the key id in the metadata
    old = Payload(
        metadata={"encoding": b"binary/encrypted", "encryption-key-id": b"k1"},
        data=nonce + codec._ciphers["k1"].encrypt(nonce, plain.SerializeToString(), b"k1"),
    )
    assert codec.decrypt(old) == plain


def test_each_payload_is_the_stream_a_new_deflater_would_write_whatever_came_before_it():
    payloads = [json.dumps(example(f"decisions/{name}.json")).encode() for name in ("dsp_decision", "notification_submitted", "dsp_decision")]
    for serialized in payloads:  # the primed deflater is copied, never written to: no payload leaks into the next
        fresh = zlib.compressobj(
            payload_compression.LEVEL, zlib.DEFLATED, -payload_compression.WINDOW_BITS,
            payload_compression.MEMORY_LEVEL, zlib.Z_DEFAULT_STRATEGY, dictionary(payload_compression.CURRENT),
        )
        assert compress(serialized) == bytes((MARK, payload_compression.CURRENT)) + fresh.compress(serialized) + fresh.flush()
        assert decompress(compress(serialized)) == serialized


def test_what_compression_would_not_shrink_is_left_as_it_is():
    codec = EncryptionCodec(new_keyring("k1"))
    for plain in (
        Payload(metadata={"encoding": b"binary/plain"}, data=os.urandom(400)),  # nothing to share
        Payload(data=b"16"),  # too short to pay
        Payload(),  # nothing at all
    ):
        sealed = codec.encrypt(plain)
        assert sealed_plaintext(codec, sealed) == plain.SerializeToString()
        assert codec.decrypt(sealed) == plain


def deflated(data: bytes) -> bytes:
    deflater = zlib.compressobj(9, zlib.DEFLATED, -15, 9, zlib.Z_DEFAULT_STRATEGY, dictionary(1))
    return bytes((MARK, 1)) + deflater.compress(data) + deflater.flush()


def test_a_hostile_compressed_payload_is_refused_with_a_reason():
    bomb = deflated(b"\0" * (payload_compression.LARGEST + 1))
    assert len(bomb) < 10_000
    with pytest.raises(PayloadCompressionError, match="inflates beyond"):
        decompress(bomb)
    good = deflated(b'{"case_id":"zqx-secret"}' * 20)
    assert decompress(good) == b'{"case_id":"zqx-secret"}' * 20
    for bad, reason in (
        (good[:-3], "cut short"),
        (good + b"more", "bytes after its end"),
        (bytes((MARK, 1)) + b"\xff\xfe\xfd" * 10, "not a DEFLATE stream"),
        (bytes((MARK, 99)) + good[2:], "dictionary 99; this release knows"),
        (bytes((MARK,)), "without its dictionary"),
    ):
        with pytest.raises(PayloadCompressionError, match=reason) as error:
            decompress(bad)
        assert "zqx" not in str(error.value)


def test_a_changed_dictionary_file_is_refused(tmp_path, monkeypatch):
    changed = bytearray((PROJECT / "config" / "payload-dictionary-1.bin").read_bytes())
    changed[-1] ^= 1
    (tmp_path / "payload-dictionary-1.bin").write_bytes(bytes(changed))
    monkeypatch.setattr(payload_compression, "FOLDER", tmp_path)
    dictionary.cache_clear()
    payload_compression.primed.cache_clear()  # read once a process, as the dictionary is
    try:
        with pytest.raises(PayloadCompressionError, match="has been changed"):
            compress(b'{"case_id":"x"}' * 10)
    finally:
        dictionary.cache_clear()
        payload_compression.primed.cache_clear()


def texts(value) -> list[str]:
    if isinstance(value, dict):
        return [t for v in value.values() for t in texts(v)]
    if isinstance(value, list):
        return [t for v in value for t in texts(v)]
    return [value] if isinstance(value, str) else []


def test_the_dictionary_holds_no_value_from_a_case():
    released = dictionary(1)
    found = []
    for path in sorted(glob.glob(str(PROJECT / "examples" / "**" / "*.json"), recursive=True)):
        body = json.loads(Path(path).read_text(encoding="utf-8"))
        assert not [t for t in texts(skeleton(body)) if t and not t.isidentifier() and not t.startswith("2000-01-01")]
        found += [t for t in texts(body) if len(t) > 3 and not t.replace("_", "").isalpha() and t.encode() in released]
    assert found == [], f"the dictionary holds example values: {found}"
