"""Corrections (a decision recorded wrongly is put right, never hidden): `starter.py correct`.

A correction replaces a recorded decision's content. It names its reason and its author; the original
stays in the audit; the clock the decision closed is judged again by the corrected date (a
`dsp_meeting` missed because of a typo becomes met); the Business Unit is told.

A correction that would change the journey's route (notify <-> do not notify, a local review
commissioned or not, a challenge upheld or changed, a learning review or not) is refused: the route
already taken has told people and started clocks, and undoing it is a decision of its own (withdraw
the case and enter it again with the right decision). Decisions that may repeat (an agency's
contribution, a recommendation's progress, a planned publication date) are put right by recording
them again, not corrected.
"""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING, Any

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from models.case import DecisionRecord
    from models.decisions import Correction, DecisionModel, DecisionRefused, outcome_of, parse_decision
    from models.messages import DecisionCorrected

from workflows.intake import answered
from workflows.refusals import bounded
from workflows.versions import MOVES_STARTED_CLOCKS, changed

if TYPE_CHECKING:
    from workflows.case import Case
    from workflows.intake import DecisionIntake, Takes


def check_correction(intake: DecisionIntake, correction: Correction, accepted: set[str], today: date) -> DecisionModel:
    """The corrected decision parsed, or DecisionRefused saying why it cannot replace the recorded one."""
    corrected = parse_decision(correction.decision(), today=today)
    name = corrected.name
    known = intake.rows.get(name)
    if known is None or name not in accepted:
        raise DecisionRefused(f"correct {name}: no {name} is recorded on this case to correct")
    part, row = known
    if not row.keep or (row.repeats and not row.each):
        raise DecisionRefused(f"correct {name}: record it again instead; a decision that may repeat is not corrected")
    subject = getattr(corrected, row.each) if row.each else None
    original = kept(part, row, subject)
    if original is None:
        raise DecisionRefused(f"correct {name}: no {name} of {subject} is recorded on this case to correct")
    if outcome_of(original) != outcome_of(corrected):
        raise DecisionRefused(
            f"correct {name}: a correction cannot change the route ({outcome_of(original)} to {outcome_of(corrected)}); "
            "withdraw the case and enter it again with the right decision"
        )
    if names_in(original, "agencies") != names_in(corrected, "agencies"):
        raise DecisionRefused(f"correct {name}: a correction cannot change which agencies are asked; add one with agency_added")
    if names_in(original, "recommendations") != names_in(corrected, "recommendations"):
        raise DecisionRefused(f"correct {name}: a correction cannot add or remove recommendations, only correct them")
    step, step_on = answered(part, row.after) or intake.opened_by()
    happened_on = corrected.happened_on
    if happened_on is not None and happened_on < step_on:
        raise DecisionRefused(f"correct {name}: {corrected.happened_field} ({happened_on}) is before {step} ({step_on})")
    conflict = None if row.each else answered_before(intake, part, row.keep, corrected)
    if conflict is not None:
        raise DecisionRefused(
            f"correct {name}: {conflict.name} ({conflict.happened_on}) would then come before {corrected.step} ({happened_on})"
        )
    return corrected


def answered_before(intake: DecisionIntake, part: Any, keep: str, corrected: DecisionModel) -> DecisionModel | None:
    """A recorded decision that, with the correction in place, would be dated before the step it answers."""
    original = getattr(part, keep)
    setattr(part, keep, corrected)  # tried in place (a handler runs alone), and put back
    try:
        for other_part, other in intake.rows.values():
            held = kept(other_part, other) if other.keep and not other.each else None
            if held is None or held is corrected or held.happened_on is None:
                continue
            step = answered(other_part, other.after)
            if step is not None and held.happened_on < step[1]:
                return held
        return None
    finally:
        setattr(part, keep, original)


def names_in(decision: DecisionModel, field: str) -> list[str]:
    """The agencies (by name) or recommendations (by id) a decision lists, if it lists any."""
    return sorted(str(getattr(item, "name", None) or getattr(item, "id", "")) for item in getattr(decision, field, None) or [])


def kept(part: Any, row: Takes[Any, Any], subject: str | None = None) -> DecisionModel | None:
    """The decision a row keeps: the one, or with `each` the one of `subject`."""
    assert row.keep is not None
    held = getattr(part, row.keep)
    return held.get(subject) if row.each else held


def changed_fields(original: DecisionModel, corrected: DecisionModel) -> str:
    """Which fields a correction changes, by name (never their content): for the audit and the notice."""
    before, after = original.model_dump(mode="json"), corrected.model_dump(mode="json")
    return ", ".join(key for key in after if before.get(key) != after[key]) or "no field"


def summary_of(decision: DecisionModel, fields: str) -> str:
    """The changed dates of a decision, for the notice (dates only: text stays in the case)."""
    values = decision.model_dump(mode="json")
    dated = [f"{key} {values[key]}" for key in fields.split(", ") if key.endswith("_on") and key in values]
    return "; ".join(dated) or "see the case"




async def apply_correction(intake: DecisionIntake, corrected: DecisionModel) -> DecisionModel:
    """Replace the kept decision, judge again the clock it closed and move the clock it started; the
    original is returned."""
    part, row = intake.rows[corrected.name]
    assert row.keep is not None
    subject = getattr(corrected, row.each) if row.each else None
    original = kept(part, row, subject)
    assert original is not None
    if row.each:
        getattr(part, row.keep)[subject] = corrected
    else:
        setattr(part, row.keep, corrected)
    happened_on = corrected.happened_on
    if row.corrected is not None:
        await row.corrected(part, corrected)
    if not row.stops_when(part):
        return original  # its date no longer judges or starts a clock (chair_sign_off since 0.3: the dispatch does)
    if row.stops and happened_on is not None:
        intake.case.clocks.rejudge(row.stops, happened_on, subject=subject)
    if row.starts and happened_on is not None and happened_on != original.happened_on:
        if changed(MOVES_STARTED_CLOCKS):
            await intake.case.clocks.move(row.starts, happened_on)
    return original


def told_to(case: Case, templates: frozenset[str]) -> list[str]:
    """Everyone messages of these templates reached: they hear of a correction of what they carried."""
    return sorted({address for m in case.messages if m.template in templates and m.status == "sent" for address in m.to})


async def keep_and_tell(
    case: Case, name: str, reason: str, by: str | None, changes: str, was: str, now: str, told: frozenset[str],
    replaces: int | None = None,
) -> None:
    """A correction kept: its own entry in the decisions (marking the one it replaces), the audit row
    (reason, person, changed fields), and a notice to the Business Unit and to everyone `told` reached."""
    case.decisions.append(
        DecisionRecord(
            name=name, accepted=True, reason=reason, received_at=workflow.now(), via="correction", recorded_by=by,
            replaces=replaces,
        )
    )
    case.log("decision_corrected", name, bounded(f"{reason} ({changes})"), actor=by)
    case.publish()
    number = sum(d.via == "correction" and d.name == name for d in case.decisions)
    await case.send(
        DecisionCorrected(
            decision=name, number=number, reason=reason, corrected_by=by or "(not recorded)", was=was, now=now,
            addresses=told_to(case, told),
        )
    )


async def record_correction(case: Case, intake: DecisionIntake, correction: Correction, corrected: DecisionModel, by: str | None) -> None:
    """The correction applied (its clocks judged again or moved) and kept, the Business Unit and
    everyone the original reached (`Takes.tells`) told."""
    original = await apply_correction(intake, corrected)
    replaced = max(i for i, d in enumerate(case.decisions) if d.accepted and d.name == corrected.name)
    changes = changed_fields(original, corrected)
    told = frozenset(message.template for message in intake.rows[corrected.name][1].tells)
    await keep_and_tell(
        case, corrected.name, correction.reason, by, changes,
        was=summary_of(original, changes), now=summary_of(corrected, changes), told=told, replaces=replaced,
    )
