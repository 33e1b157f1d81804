"""A child's data is unreadable without the key.

  - every journey, walked with a marker in every free-text and personal field of the form and the
    decisions: the raw history (as the Temporal server stores it) holds none of them and every payload
    in it is encrypted; decoded with the codec it is the same case;
  - keys rotate without losing a case: started under key A, closed under key B, both readable;
  - the keyring: key ids in each payload, relabelled or unknown keys refused, key material never in
    an error; the embedded default's key file created owner-only on first use, and said where.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from google.protobuf.message import Message
from temporalio.api.common.v1 import Payload
from temporalio.api.enums.v1 import EventType
from temporalio.api.history.v1 import History
from temporalio.client import Client, WorkflowHandle, WorkflowHistory

import settings
import tests.journey
from codec import ENCODING, KEY_ID, EncryptionCodec, Keyring, KeyringError, new_keyring, sealed_under
from models.case import CaseStatus, Stage
from models.forms import SeriousIncidentForm
from models.payloads import DATA_CONVERTER, PUBLIC
from models.text import Public
from tests.journey import Journey
from tests.test_history import (
    JOURNEYS,
    MONITORED,
    REPLAYER,
    case_closed_through_its_local_review,
)
from temporalio.testing import WorkflowEnvironment

from codec import EncodedHeaders
from tests.conftest import binary
from worker import build_worker
from workflows import search_attributes

PROJECT = Path(__file__).resolve().parents[1]

# ---- markers in every free-text and personal field ---------------------------------------------------

# Fields of the forms and the decisions that hold free text or something about a person.
FORM_FIELDS = {
    "name", "agency", "email", "phone", "reference", "date_of_birth", "sex", "summary",
    "agencies_involved", "related_case",
}
DECISION_FIELDS = {
    "recorded_by", "rationale", "attendees", "raised_by", "grounds", "notes", "csons_reference", "chair",
    "panel_members", "name", "email", "agency", "facts", "immediate_actions", "improvements", "comments",
    "reason", "lead_reviewer", "methodology", "text", "owner", "note", "findings", "final_decision", "url",
}
DATE_OF_BIRTH = "2011-02-17"  # a date nothing else in a case is


class Markers:
    """Each original value replaced by a marker derived from it, so that the same agency or person is
    the same marker in every form and decision of a journey."""

    def __init__(self) -> None:
        self.placed: set[str] = set()

    def marker(self, key: str, value: str) -> str:
        if key == "date_of_birth":
            found = DATE_OF_BIRTH
        elif value.startswith(("zqx", "https://example.org/zqx")) or value == DATE_OF_BIRTH:
            return value  # already a marker
        else:
            tag = "zqx" + hashlib.sha256(value.encode()).hexdigest()[:10]
            if key == "url":  # a web address, as the decision requires
                self.placed.add(tag)
                return f"https://example.org/{tag}"
            if key in ("email", "recorded_by"):
                found = f"{tag}@example.org"
                self.placed.add(tag)
                return found
            found = "077009" + str(int(tag[3:], 16))[:5] if key == "phone" else tag
            if key == "phone" and value.startswith("077009"):
                return value
        self.placed.add(found)
        return found

    def mark(self, value: Any, fields: set[str], key: str = "") -> Any:
        if isinstance(value, dict):
            return {k: self.mark(v, fields, k) for k, v in value.items()}
        if isinstance(value, list):
            return [self.mark(v, fields, key) for v in value]
        if isinstance(value, str) and key in fields:
            return self.marker(key, value)
        return value


@pytest.fixture
def markers(monkeypatch) -> Markers:
    """Every journey helper's form and decisions (tests/journey.py) carry markers instead of the
    examples' values."""
    markers = Markers()
    original_example = tests.journey.example

    def example(name: str) -> dict[str, Any]:
        fields = DECISION_FIELDS if name.startswith("decisions/") else FORM_FIELDS
        marked = markers.mark(original_example(name), fields)
        if name == "decisions/dsp_decision.json":  # the attendees are markers: the partners are named (¶2.4)
            marked["partners"] = ["local_authority", "police", "integrated_care_board"]
        return marked

    original_decision = tests.journey.example_decision

    def example_decision(name: str, **changes: Any):
        decision = original_decision(name, **changes)
        return decision.model_copy(update={"body": markers.mark(decision.body, DECISION_FIELDS)})

    monkeypatch.setattr(tests.journey, "example", example)
    monkeypatch.setattr(tests.journey, "example_decision", example_decision)
    return markers


# ---- reading every payload of a history ---------------------------------------------------------------


def payloads(message: Message, searchable: bool = False) -> Iterator[tuple[Payload, bool]]:
    """Every Payload in a proto message, and whether it is a search attribute's (never encoded)."""
    if isinstance(message, Payload):
        yield message, searchable
        return
    for field, value in message.ListFields():
        if field.message_type is None:
            continue
        inside = searchable or field.message_type.full_name == "temporal.api.common.v1.SearchAttributes"
        if isinstance(value, Message):
            items = [value]
        else:
            items = value.values() if field.message_type.GetOptions().map_entry else value
        for item in items:
            if isinstance(item, Message):
                yield from payloads(item, inside)


def patch_marker(event) -> bool:
    """The SDK core's own record of a `workflow.patched` version (its patch name, written by the core
    without the codec): plain, and holding nothing but the name the code gives it."""
    if not event.HasField("marker_recorded_event_attributes"):
        return False
    marker = event.marker_recorded_event_attributes
    if marker.marker_name != "core_patch":
        return False
    for payloads_ in marker.details.values():
        for payload in payloads_.payloads:
            assert set(json.loads(payload.data)) <= {"id", "deprecated"}, payload.data
    return True


# The SDK core's own record of a local activity (the register's writes, patch `register-local-activity`):
# its `data` is the core's bookkeeping, written without the codec; the activity's result, its failure and
# its summary are the worker's payloads, sealed like any other.
LOCAL_ACTIVITY_DATA = {"seq", "attempt", "activity_id", "activity_type", "complete_time", "backoff",
                       "original_schedule_time", "activation_index"}


def local_activity_data(event) -> set[bytes]:
    """The plain bookkeeping payloads of a local activity's marker, checked to hold nothing else."""
    if not event.HasField("marker_recorded_event_attributes"):
        return set()
    marker = event.marker_recorded_event_attributes
    if marker.marker_name != "core_local_activity":
        return set()
    for payload in marker.details["data"].payloads:
        assert set(json.loads(payload.data)) <= LOCAL_ACTIVITY_DATA, payload.data
    return {payload.SerializeToString() for payload in marker.details["data"].payloads}


def public_summary(event) -> set[bytes]:
    """The event's Web UI summary when the workflow made it `Public` (models/text.py): left plain by the
    codec, and only ever a summary (the marker walk finds nothing personal in the raw history)."""
    summary = event.user_metadata.summary if event.HasField("user_metadata") else None
    allowed = {summary.SerializeToString()} if summary is not None and PUBLIC in summary.metadata else set()
    for payload, _ in payloads(event):
        if PUBLIC in payload.metadata:
            assert payload.SerializeToString() in allowed, f"event {event.event_id}: a public payload not a summary"
    return allowed


def encrypted_payloads(event) -> Iterator[Payload]:
    """Every payload of an event that the codec must have sealed: all but search attributes, the
    core's patch markers, its local activities' bookkeeping and public summaries."""
    if patch_marker(event):
        return
    plain = local_activity_data(event) | public_summary(event)
    for payload, searchable in payloads(event):
        if not searchable and payload.SerializeToString() not in plain:
            yield payload


def raw(history: WorkflowHistory) -> bytes:
    """The history exactly as the server stores and serves it, without any codec."""
    return History(events=history.events).SerializeToString()


async def check_history(client: Client, handle: WorkflowHandle, markers: Markers, codec: EncryptionCodec) -> bytes:
    """The raw history holds no marker and only encrypted payloads; decoded, it is the case. Returns
    every decoded payload's bytes."""
    history = await handle.fetch_history()
    stored = raw(history).lower()
    leaked = sorted(m for m in markers.placed if m.lower().encode() in stored)
    assert not leaked, f"{handle.id}: markers in the raw history: {leaked}"

    counted, decoded = 0, []
    assert any(public_summary(event) for event in history.events), "the clocks' summaries are public"
    for event in history.events:
        for payload in encrypted_payloads(event):
            counted += 1
            assert payload.metadata["encoding"] == ENCODING, f"{handle.id} event {event.event_id}: plain payload"
            assert set(payload.metadata) == {"encoding"}, "the payload's own metadata is encrypted too"
            decoded.append(codec.decrypt(payload).SerializeToString())
    assert counted > 5

    # Decoded, the history is the case: its input the form, its result the case's final status.
    started = history.events[0].workflow_execution_started_event_attributes
    (given,) = await client.data_converter.decode(started.input.payloads)
    assert isinstance(given, dict) and given
    completed = [e for e in history.events if e.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED]
    if completed:
        (result,) = await client.data_converter.decode(
            completed[0].workflow_execution_completed_event_attributes.result.payloads, [CaseStatus]
        )
        assert result == await client.get_workflow_handle(handle.id, result_type=CaseStatus).result()
    replayed = await REPLAYER.replay_workflow(history, raise_on_replay_failure=False)
    assert replayed.replay_failure is None
    return b"".join(decoded).lower()


WALKS = {**JOURNEYS, **MONITORED, "case closed through its local review": case_closed_through_its_local_review}


@pytest.mark.parametrize("walk", WALKS.values(), ids=WALKS.keys())
async def test_no_marker_reaches_the_server_in_plain_text(journey, markers, walk):
    handles = await walk(journey)
    handles = handles if isinstance(handles, tuple) else (handles,)
    codec = journey.client.data_converter.payload_codec
    assert isinstance(codec, EncryptionCodec)
    decoded = b""
    for handle in handles:
        decoded += await check_history(journey.client, handle, markers, codec)
    # The markers were there to find: the form's and the decisions' fields are in the decoded history.
    assert len(markers.placed) >= 8
    found = {m for m in markers.placed if m.lower().encode() in decoded}
    assert len(found) >= 6, f"only {sorted(found)} of the markers decoded"


async def test_the_form_decodes_to_the_form_that_was_sent(journey, markers):
    today = await journey.today()
    form = tests.journey.serious_incident_form(today)
    assert form.child.reference.startswith("zqx") and str(form.child.date_of_birth) == DATE_OF_BIRTH
    handle = await journey.start_serious_incident(form)
    await journey.sent(handle, "new_serious_incident_form")
    history = await handle.fetch_history()
    started = history.events[0].workflow_execution_started_event_attributes
    assert form.child.reference.encode() not in raw(history)
    (decoded,) = await journey.client.data_converter.decode(started.input.payloads, [SeriousIncidentForm])
    assert decoded == form
    await handle.terminate("test over")


# ---- key rotation -------------------------------------------------------------------------------------


async def test_a_case_started_under_one_key_closes_under_the_next(outbox, markers):
    key_a = new_keyring("key-a")
    ring_b = Keyring.parse(new_keyring("key-b").text() + key_a.text(), "rotated")  # B current, A kept
    assert ring_b.current == "key-b" and set(ring_b.keys) == {"key-a", "key-b"}

    # A real dev server (not the time-skipping one, whose polls outlive a stopped worker): a worker
    # and clients under key A, then, rotated, a worker and clients under B with A kept for reading.
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=binary("temporal"),
        search_attributes=search_attributes.ALL,
        data_converter=settings.data_converter(key_a),
        plugins=[EncodedHeaders()],
        dev_server_log_level="error",
    )
    try:
        client_a = env.client
        client_b = Client(**{**env.client.config(), "data_converter": settings.data_converter(ring_b)})
        task_queue = "rotation"
        journey = Journey(env, task_queue, outbox)

        async with build_worker(client_a, task_queue=task_queue):
            today = await journey.today()
            handle = await journey.start_serious_incident(tests.journey.serious_incident_form(today))
            await journey.decide(handle, "dsp_decision", meeting_held_on=today)
            await journey.sent(handle, "form_to_notifier")

        journey.client = client_b
        async with build_worker(client_b, task_queue=task_queue):
            handle = client_b.get_workflow_handle(handle.id, result_type=CaseStatus)
            await journey.decide(handle, "notification_submitted", submitted_on=today)
            await journey.sent(handle)  # quiet before the withdrawal (as the journeys of test_history)
            await journey.decide(handle, "case_withdrawn", withdrawn_on=today)
            final = await handle.result()
        assert final.stage is Stage.WITHDRAWN and [d.accepted for d in final.decisions] == [True] * 3
        history = await handle.fetch_history()
    finally:
        await env.shutdown()

    used = {sealed_under(p)[0] for e in history.events for p in encrypted_payloads(e)}
    assert used == {b"key-a", b"key-b"}
    codec_b = EncryptionCodec(ring_b)
    for event in history.events:
        for payload in encrypted_payloads(event):
            codec_b.decrypt(payload)  # every payload, old and new, reads under the rotated ring
    assert not any(m.lower().encode() in raw(history).lower() for m in markers.placed)
    # Without A, the case's first payloads cannot be read: the ring really was needed.
    with pytest.raises(KeyringError, match="key-a"):
        EncryptionCodec(Keyring.parse(new_keyring("key-b").text(), "b only")).decrypt(
            history.events[0].workflow_execution_started_event_attributes.input.payloads[0]
        )
    replayer_b = type(REPLAYER)(
        workflows=REPLAYER.config()["workflows"],
        workflow_runner=REPLAYER.config()["workflow_runner"],
        data_converter=settings.data_converter(ring_b),
    )
    assert (await replayer_b.replay_workflow(history, raise_on_replay_failure=False)).replay_failure is None


# ---- the codec and the keyring --------------------------------------------------------------------------


def test_a_payload_is_sealed_under_its_key_id():
    ring = new_keyring("k1")
    codec = EncryptionCodec(ring)
    plain = Payload(metadata={"encoding": b"json/plain"}, data=b'{"child": "zqx-secret"}')
    sealed = codec.encrypt(plain)
    assert sealed.metadata == {"encoding": ENCODING} and sealed_under(sealed)[0] == b"k1"
    assert b"zqx-secret" not in sealed.SerializeToString() and b"json/plain" not in sealed.data
    assert codec.decrypt(sealed) == plain
    assert codec.encrypt(plain).data != sealed.data  # a fresh nonce each time

    tampered = Payload()
    tampered.CopyFrom(sealed)
    tampered.data = sealed.data[:-1] + bytes([sealed.data[-1] ^ 1])
    with pytest.raises(Exception):
        codec.decrypt(tampered)

    # The same key under another id: the id is authenticated with the data, so relabelling fails.
    twin = Keyring(current="k2", keys={"k2": ring.keys["k1"], "k1": ring.keys["k1"]})
    relabelled = Payload(metadata={"encoding": ENCODING}, data=b"\x02k2" + sealed_under(sealed)[1])
    with pytest.raises(Exception):
        EncryptionCodec(twin).decrypt(relabelled)
    # Nor as a payload of the codec's earlier form, the id in its metadata.
    earlier_form = Payload(metadata={"encoding": ENCODING, KEY_ID: b"k2"}, data=sealed_under(sealed)[1])
    with pytest.raises(Exception):
        EncryptionCodec(twin).decrypt(earlier_form)
    earlier_form.metadata[KEY_ID] = b"k1"
    assert EncryptionCodec(twin).decrypt(earlier_form) == plain

    # A payload written before encryption (the stored histories) passes through unchanged.
    assert codec.decrypt(plain) == plain


def test_only_a_public_summary_travels_in_the_clear():
    codec = EncryptionCodec(new_keyring("k1"))
    public, same_text, decision = DATA_CONVERTER.payload_converter.to_payloads(
        [Public("Calendar: dsp_meeting clock from 2026-11-27"), "Calendar: dsp_meeting clock from 2026-11-27",
         {"rationale": "zqx-secret"}]
    )
    assert public.metadata[PUBLIC] == b"1" and codec.encrypt(public) == public
    assert DATA_CONVERTER.payload_converter.from_payloads([public]) == ["Calendar: dsp_meeting clock from 2026-11-27"]
    for sealed in (codec.encrypt(same_text), codec.encrypt(decision)):
        assert sealed.metadata["encoding"] == ENCODING and PUBLIC not in sealed.metadata
    assert codec.decrypt(codec.encrypt(same_text)) == same_text


def test_key_material_is_never_in_an_error_or_a_repr():
    ring = new_keyring("k1")
    secret = base64.b64encode(ring.keys["k1"]).decode()
    assert secret not in repr(ring) and secret not in str(ring)
    for bad in (f"k1:{secret[:-4]}", f"k1 {secret}", f"k1:{secret},k1:{secret}", "k1:!!!!"):
        with pytest.raises(KeyringError) as error:
            Keyring.parse(bad, "SAFEGUARDING_KEYS")
        assert secret[:8] not in str(error.value)
    sealed = EncryptionCodec(ring).encrypt(Payload(data=b"x"))
    with pytest.raises(KeyringError) as error:
        EncryptionCodec(new_keyring("other")).decrypt(sealed)
    assert "'k1'" in str(error.value) and secret not in str(error.value)


def test_the_keyring_is_read_from_the_environment_or_a_key_file(tmp_path, monkeypatch):
    a, b = new_keyring("a"), new_keyring("b")
    monkeypatch.setenv("SAFEGUARDING_KEYS", b.text().strip() + "," + a.text().strip())
    assert settings.keyring() == Keyring(current="b", keys={**b.keys, **a.keys})

    monkeypatch.delenv("SAFEGUARDING_KEYS")
    key_file = tmp_path / "keys"
    monkeypatch.setenv("SAFEGUARDING_KEY_FILE", str(key_file))
    with pytest.raises(KeyringError, match="no key file"):
        settings.keyring()  # a named key file is never invented
    settings.write_private(key_file, ("# rotated 2026\n" + a.text()).encode())
    assert settings.keyring() == a
    key_file.chmod(0o644)
    with pytest.raises(KeyringError, match="chmod 600"):
        settings.keyring()


def test_rotate_adds_a_current_key_and_keeps_the_old(tmp_path):
    key_file = tmp_path / "keys"
    settings.write_private(key_file, new_keyring("old").text().encode())
    environment = {k: v for k, v in os.environ.items() if not k.startswith("SAFEGUARDING_")}
    done = subprocess.run(
        [sys.executable, "codec.py", "rotate", str(key_file), "--id", "new"],
        cwd=PROJECT, env=environment, capture_output=True, text=True,
    )
    assert done.returncode == 0, done.stderr
    ring = settings.read_key_file(key_file)
    assert ring.current == "new" and list(ring.keys) == ["new", "old"]
    assert oct(key_file.stat().st_mode & 0o777) == "0o600"
    assert base64.b64encode(ring.keys["new"]).decode() not in done.stdout + done.stderr


def test_the_embedded_default_creates_its_key_owner_only_and_says_where(tmp_path):
    data = tmp_path / "project-data"
    environment = {k: v for k, v in os.environ.items() if not k.startswith("SAFEGUARDING_")}
    environment["SAFEGUARDING_DATA_DIR"] = str(data)
    read = [sys.executable, "-c", "import settings; r = settings.keyring(); print(r.current, len(r.keys))"]
    first = subprocess.run(read, cwd=PROJECT, env=environment, capture_output=True, text=True)
    assert first.returncode == 0, first.stderr
    assert str(data / "keys") in first.stderr and "created" in first.stderr
    assert oct(data.stat().st_mode & 0o777) == "0o700"
    assert oct((data / "keys").stat().st_mode & 0o777) == "0o600"
    content = (data / "keys").read_text()
    assert content.split(":")[1].strip() not in first.stdout + first.stderr  # never the key itself

    second = subprocess.run(read, cwd=PROJECT, env=environment, capture_output=True, text=True)
    assert second.returncode == 0 and second.stdout == first.stdout and not second.stderr
    assert (data / "keys").read_text() == content  # found again, not replaced

    # The command line, run from elsewhere with no setting, finds the same key file.
    elsewhere = subprocess.run(
        [sys.executable, str(PROJECT / "codec.py"), "rotate"], cwd=tmp_path, env=environment,
        capture_output=True, text=True,
    )
    assert elsewhere.returncode == 0, elsewhere.stderr
    assert len(settings.read_key_file(data / "keys").keys) == 2


# ---- private files ------------------------------------------------------------------------------------


async def test_the_outbox_reports_and_register_are_owner_only(journey, tmp_path):
    """A Rapid Review to the Panel's response writes messages, Word reports and the register: every
    folder it creates is 0700 and every file 0600, whatever the process's umask (here pytest's)."""
    from tests.test_history import rapid_review_to_the_panels_response

    previous = os.umask(0o022)  # the usual umask: the code, not the umask, makes them private
    try:
        handle = await rapid_review_to_the_panels_response(journey)
    finally:
        os.umask(previous)
    outbox, reports = tmp_path / "outbox", tmp_path / "reports"
    created = [outbox, reports, *outbox.rglob("*"), *reports.rglob("*"), tmp_path / "register.db"]
    assert any(p.suffix == ".docx" for p in created) and any(p.suffix == ".eml" for p in created)
    assert (reports / handle.id).is_dir() and (outbox / handle.id).is_dir()
    wrong = [f"{p}: {stat.S_IMODE(p.stat().st_mode):o}" for p in created
             if stat.S_IMODE(p.stat().st_mode) != (0o700 if p.is_dir() else 0o600)]
    assert not wrong, "\n".join(wrong)


def test_a_private_folder_is_made_owner_only_with_its_missing_parents_and_one_already_there_is_left_alone(tmp_path):
    shared = tmp_path / "shared"
    shared.mkdir(mode=0o755)
    shared.chmod(0o755)
    made = settings.private_folder(shared / "outbox" / "case")
    assert made.is_dir()
    assert [stat.S_IMODE(p.stat().st_mode) for p in (made, made.parent)] == [0o700, 0o700]
    assert stat.S_IMODE(shared.stat().st_mode) == 0o755  # there already: not the project's to change
    made.chmod(0o750)  # an operator's choice on a folder already there is not undone by the next write
    settings.private_folder(made)
    assert stat.S_IMODE(made.stat().st_mode) == 0o750
