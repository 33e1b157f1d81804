"""Running cases replay against today's code: the histories recorded from released code
(`tests/histories/*.json`, written by `python -m tests.histories.record`) replay without a
nondeterminism error. A change that would break a running case fails here unless it is guarded
with `workflow.patched` (README, "Changing a workflow")."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from temporalio.client import WorkflowHistory

import signing

from tests.test_history import REPLAYER

STORED = Path(__file__).parent / "histories"
# Top level: recorded from release 0.1 (before any change was patched); before-release-0.4/: from the
# code every case started until release 0.4 ran, each change its own marker (workflows/versions.py);
# release-0.4/: from release 0.4 itself, its one marker for all the changes it folded in; release-0.5/:
# from release 0.5 (commit 2b40a4e), its one marker.
# Each folder's trusted.json: the public key of the front door that signed its decisions, trusted here
# as a worker that ran those cases trusts it (signing.py: a trusted-keys file only grows).
HISTORIES = sorted(path for path in STORED.rglob("*.json") if path.name != "trusted.json")


@pytest.fixture(autouse=True, scope="module")
def trusted_recorders() -> None:
    for path in STORED.rglob("trusted.json"):
        for entry in json.loads(path.read_text(encoding="utf-8")).values():
            signing.trust(Ed25519PublicKey.from_public_bytes(base64.b64decode(entry["public_key"])), door=entry["door"])


JOURNEYS = {
    "notify-dsp-deadline-missed-and-escalated-panel-acknowledged",
    "do-not-notify-challenged-decision-changed",
    "withdrawn",
    "rapid-review-to-the-panel-s-response",
    "local-review-published-local-review",
    "case-closed-through-its-local-review",
    "case-closed-through-its-local-review-local-review",
    "learning-request-learning-review-held",
    "learning-request-no-learning-review",
}


def test_a_history_is_stored_for_every_journey_from_each_release_still_running():
    for folder in (STORED, STORED / "before-release-0.4", STORED / "release-0.4", STORED / "release-0.5"):
        assert {path.stem for path in folder.glob("*.json")} >= JOURNEYS, folder.name
    for signed in ("before-release-0.4", "release-0.4", "release-0.5"):
        assert (STORED / signed / "trusted.json").exists()  # its decisions are signed


@pytest.mark.parametrize("path", HISTORIES, ids=[str(p.relative_to(STORED).with_suffix("")) for p in HISTORIES])
async def test_a_stored_history_replays_against_todays_code(path: Path):
    stored = json.loads(path.read_text(encoding="utf-8"))
    history = WorkflowHistory.from_json(stored["workflow_id"], stored["history"])
    result = await REPLAYER.replay_workflow(history, raise_on_replay_failure=False)
    assert result.replay_failure is None, f"{path.name}: {result.replay_failure}"
