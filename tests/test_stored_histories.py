"""Running cases replay against today's code: the histories recorded from released code
(`tests/histories/*.json`, written by `python -m tests.histories.record`) replay without a
nondeterminism error. A change that would break a running case fails here unless it is guarded
with `workflow.patched` (README, "Changing a workflow")."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from temporalio.client import WorkflowHistory

from tests.test_history import REPLAYER

HISTORIES = sorted((Path(__file__).parent / "histories").glob("*.json"))


def test_a_history_is_stored_for_every_journey():
    names = {path.stem for path in HISTORIES}
    assert {
        "notify-dsp-deadline-missed-and-escalated-panel-acknowledged",
        "do-not-notify-challenged-decision-changed",
        "withdrawn",
        "rapid-review-to-the-panel-s-response",
        "local-review-published-local-review",
        "case-closed-through-its-local-review",
        "case-closed-through-its-local-review-local-review",
        "learning-request-learning-review-held",
        "learning-request-no-learning-review",
    } <= names


@pytest.mark.parametrize("path", HISTORIES, ids=[p.stem for p in HISTORIES])
async def test_a_stored_history_replays_against_todays_code(path: Path):
    stored = json.loads(path.read_text(encoding="utf-8"))
    history = WorkflowHistory.from_json(stored["workflow_id"], stored["history"])
    result = await REPLAYER.replay_workflow(history, raise_on_replay_failure=False)
    assert result.replay_failure is None, f"{path.name}: {result.replay_failure}"
