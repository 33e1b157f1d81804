"""Changes a running case would replay differently (workflows/versions.py): a case started from this
release records one marker, the release's, and takes every change folded into it; a change made after
the release writes a marker of its own; a case from before answers each change by its own marker, and
its history still replays (the stored ones: tests/test_stored_histories.py)."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

from temporalio import workflow
from temporalio.client import WorkflowHistory
from temporalio.worker import Worker

from temporalio.api.enums.v1 import EventType

from tests.test_history import REPLAYER, events, rapid_review_to_the_panels_response
from workflows import versions

HISTORIES = sorted(
    path for path in (Path(__file__).parent / "histories" / "before-release-0.4").glob("*.json") if path.name != "trusted.json"
)
LATER_CHANGE = "a-change-after-the-release"


def patch_ids(history: WorkflowHistory) -> list[str]:
    """The change ids of a history's `workflow.patched` markers, in the order the case wrote them."""
    return [
        json.loads(payload.data)["id"]
        for event in events(history, EventType.EVENT_TYPE_MARKER_RECORDED)
        if event.marker_recorded_event_attributes.marker_name == "core_patch"
        for payload in event.marker_recorded_event_attributes.details["patch-data"].payloads
    ]


def change_version_upserts(history: WorkflowHistory) -> int:
    return sum(
        "TemporalChangeVersion" in e.upsert_workflow_search_attributes_event_attributes.search_attributes.indexed_fields
        for e in events(history, EventType.EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES)
    )


async def test_a_new_case_records_the_release_once_and_no_change_of_its_own(journey):
    """A whole Rapid Review (signed decisions, the protocol's routes, the register, a contribution's
    clock, the Panel's response) writes one marker and one TemporalChangeVersion, not eleven of each."""
    handle = await rapid_review_to_the_panels_response(journey)
    history = await handle.fetch_history()
    assert patch_ids(history) == [versions.RELEASE]
    assert change_version_upserts(history) == 1
    assert (await REPLAYER.replay_workflow(history, raise_on_replay_failure=True)).replay_failure is None


def test_each_release_folds_in_all_that_the_ones_before_it_did():
    """`changed()` asks the releases newest first and stops at the first that folded the change in: a case
    of an older release must never be asked a newer release it did not record, nor a newer case an older
    one (asked for the first time while the case runs, it would be recorded then)."""
    releases = list(versions.RELEASES.values())
    assert all(newer > older for newer, older in zip(releases, releases[1:]))
    assert versions.RELEASE == "release-0.5"


def test_a_case_of_release_0_4_answers_each_change_by_its_release_and_takes_none_of_0_5():
    """The histories stored from release 0.4 recorded its marker alone, and sent the form's messages one
    activity each: they replay (tests/test_stored_histories.py) down the branches 0.4 took."""
    folder = Path(__file__).parent / "histories" / "release-0.4"
    for path in sorted(p for p in folder.glob("*.json") if p.name != "trusted.json"):
        stored = json.loads(path.read_text(encoding="utf-8"))
        history = WorkflowHistory.from_json(stored["workflow_id"], stored["history"])
        assert patch_ids(history)[:1] == ["release-0.4"], path.name
        kinds = {e.activity_task_scheduled_event_attributes.activity_type.name for e in events(history, EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED)}
        assert "send_messages" not in kinds, path.name


def test_a_stored_history_from_before_the_release_answers_each_change_by_its_own_marker():
    """The old branches stay proven until they are removed: the histories stored from before the release
    wrote the changes' own markers, and replay (tests/test_stored_histories.py)."""
    before = []
    for path in HISTORIES:
        stored = json.loads(path.read_text(encoding="utf-8"))
        ids = patch_ids(WorkflowHistory.from_json(stored["workflow_id"], stored["history"]))
        if versions.RELEASE not in ids:
            assert set(ids) <= versions.IN_RELEASE_0_4, f"{path.name}: a change the release does not know"
            before.append(set(ids))
    assert len(before) == len(HISTORIES) > 0
    # a case from before the release wrote the markers of the changes its journey reached
    assert set().union(*before) >= {
        versions.SIGNED_DECISIONS, versions.WITHDRAWAL_ENDS_ANY_STEP, versions.PROTOCOL_ROUTES, versions.ONLY_CHANGES,
        versions.ONE_BATCH_PER_STEP, versions.LOCAL_ACTIVITY, versions.FORM_STEPS_TOGETHER,
    }


@workflow.defn(sandboxed=False)
class TakesChanges:
    """The smallest case of a release: its first command, a change the release folded in, a later one."""

    @workflow.run
    async def run(self) -> list[bool]:
        versions.open_release()
        return [versions.changed(versions.SIGNED_DECISIONS), versions.changed(LATER_CHANGE)]


async def test_a_change_after_the_release_writes_its_own_marker(env):
    task_queue = f"test-{uuid.uuid4()}"
    async with Worker(env.client, task_queue=task_queue, workflows=[TakesChanges]):
        handle = await env.client.start_workflow(TakesChanges.run, id=f"test-{uuid.uuid4().hex[:8]}", task_queue=task_queue)
        assert await handle.result() == [True, True]
        history = await handle.fetch_history()
    assert patch_ids(history) == [versions.RELEASE, LATER_CHANGE]
