"""Every change a running case would replay differently, and the release that takes them all at once.

A change to the workflows that a case already running would replay differently is guarded: its new
code runs only for a case that took the change, its old code stays on the other branch for a case that
did not (README, "Changing a workflow"). Until release 0.4 each change was its own `workflow.patched`
marker, written into every new case's history when the case first reached it: a marker and a
`TemporalChangeVersion` search attribute upsert each, eleven of them, about 2.4 KB of a case's history
(issue 17). A case started from release 0.4 writes one marker, its release, as its first command, and
takes every change that release folded in without a marker of its own; a case started before keeps
answering each change by the marker it wrote (or did not) when it ran.

A change made after this release is a new id below, guarded by `changed()` like the others, not in a
release: it writes its own marker until the next release folds it in. A release folds in all that the
ones before it did (`RELEASES`, newest first); a case records the newest when it starts, and a case
replayed answers by the one it recorded. Once no case started before a release is still open (search the
Web UI: `TemporalChangeVersion` names the release), the old branches of what that release folded in can
be removed.
"""

from __future__ import annotations

from temporalio import workflow


# ---- the changes, each with the release or issue that made it ----------------------------------------
SIGNED_DECISIONS = "signed-decisions"  # 0.2: a case takes only signed decisions
WITHDRAWAL_ENDS_ANY_STEP = "withdrawal-ends-any-step"  # 0.2: a withdrawal ends the journey mid-step
AFTER_THE_FACT = "after-the-fact-entry"  # 0.3: past deadlines summarised, not escalated
PROTOCOL_ROUTES = "protocol-routes"  # 0.3: the protocol's routes of issue 14 (Case.routes)
MOVES_STARTED_CLOCKS = "corrections-move-started-clocks"  # 0.3: a correction moves the clocks it started
EXECUTIVE_CORRECTION_MOVES_REVIEW = "executive-correction-moves-review-clock"  # 0.3
PUBLICATION_DATE_MOVES_COPIES = "publication-date-moves-copies"  # 0.3
ONE_BATCH_PER_STEP = "register-one-batch-per-step"  # issue 17: the register written between steps
ONLY_CHANGES = "search-attributes-only-changes"  # issue 17: search attributes upserted when they change
FORM_STEPS_TOGETHER = "form-steps-together"  # issue 17: the form's clocks and messages at once
LOCAL_ACTIVITY = "register-local-activity"  # issue 17: register batches by a local activity
CALENDAR_HERE = "calendar-local-activity"  # issue 17: deadlines computed by a local activity
ROUTING_HERE = "routing-local-activity"  # issue 17: the partnership looked up by a local activity

MESSAGES_TOGETHER = "messages-together"  # 0.5: messages of one step sent by one activity
CLOCKS_TOGETHER = "clocks-together"  # 0.5: clocks started together computed by one local activity

IN_RELEASE_0_4 = frozenset(
    {
        SIGNED_DECISIONS,
        WITHDRAWAL_ENDS_ANY_STEP,
        AFTER_THE_FACT,
        PROTOCOL_ROUTES,
        MOVES_STARTED_CLOCKS,
        EXECUTIVE_CORRECTION_MOVES_REVIEW,
        PUBLICATION_DATE_MOVES_COPIES,
        ONE_BATCH_PER_STEP,
        ONLY_CHANGES,
        FORM_STEPS_TOGETHER,
        LOCAL_ACTIVITY,
        CALENDAR_HERE,
        ROUTING_HERE,
    }
)
IN_RELEASE_0_5 = IN_RELEASE_0_4 | {MESSAGES_TOGETHER, CLOCKS_TOGETHER}

# Newest first: each release, and every change a case that recorded it takes without a marker of its own.
RELEASES = {"release-0.5": IN_RELEASE_0_5, "release-0.4": IN_RELEASE_0_4}
RELEASE = next(iter(RELEASES))  # what a new case records


def open_release() -> None:
    """The case's first command: a new case records `RELEASE`; replayed, a case finds the release it
    recorded (none before 0.4) and answers each change by it or by its own marker. Every release is asked
    here, newest first, until one is found, so that the SDK keeps each answer for the rest of the run and
    `changed()` never asks a release for the first time later (which would record it then)."""
    for release in RELEASES:
        if workflow.patched(release):
            return


def changed(change_id: str) -> bool:
    """Whether this case takes the change: a case from a release takes those the release folded in; any
    other, a change it took when it ran (its marker), or takes now for the first time."""
    for release, folded in RELEASES.items():
        if change_id in folded and workflow.patched(release):
            return True
    return workflow.patched(change_id)
