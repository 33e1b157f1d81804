"""The form's facts corrected (`starter.py correct CASE_ID form FILE.json --reason TEXT`).

A form's dates entered wrongly (when it was received, when the local authority became aware) are put
right like a decision: the reason and the person are recorded, the original stays in the audit, the
clocks that run from those dates (`FORM_CLOCKS` of the journey: the DSP meeting from receipt, the ¶2.4
notification from awareness) are moved and judged again, and the Business Unit and those who received
the form are told. A date that would put a recorded decision before the form's receipt is refused.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import ValidationError
from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    import signing
    from models.dates import describe_validation_error
    from models.decisions import FORM, Correction, DecisionRefused, FormFacts
    from models.identity import PersonRole

from workflows.corrections import keep_and_tell
from workflows.intake import answered

if TYPE_CHECKING:
    from workflows.case_workflow import CaseWorkflow

MAY_CORRECT_THE_FORM = frozenset({PersonRole.BUSINESS_UNIT, PersonRole.OPERATIONS})


def check_form_facts(flow: CaseWorkflow, correction: Correction) -> tuple[FormFacts, str | None]:
    """The corrected facts and who corrected them (verified), or DecisionRefused saying why not."""
    form = getattr(flow, "form", None)
    if form is None:
        raise DecisionRefused("correct form: this workflow has no form; correct it on its case")
    try:
        facts = FormFacts.model_validate(correction.body, context={"today": flow.case.today()})
    except ValidationError as error:
        raise DecisionRefused(f"correct form: {describe_validation_error(error)}") from None
    if facts.became_aware_on is not None and not hasattr(form, "became_aware_on"):
        raise DecisionRefused("correct form: a learning request has no became_aware_on")
    aware = facts.became_aware_on or getattr(form, "became_aware_on", None)
    if aware is not None and aware > facts.received_on:
        raise DecisionRefused(f"correct form: became_aware_on ({aware}) is after received_on ({facts.received_on})")
    for part, row in flow.intake.rows.values():
        kept = getattr(part, row.keep) if row.keep and not row.each else None
        if kept is not None and kept.happened_on is not None and answered(part, row.after) is None:
            if kept.happened_on < facts.received_on:
                raise DecisionRefused(
                    f"correct form: {row.name} ({kept.happened_on}) would then come before the form's receipt ({facts.received_on})"
                )
    return facts, verified_corrector(flow, correction)


def verified_corrector(flow: CaseWorkflow, correction: Correction) -> str | None:
    """The Business Unit (or operations) of the case's partnership, as a trusted front door signed it."""
    if not flow.case.signed_decisions:
        return str(correction.body.get("recorded_by") or "") or None
    person = signing.verified(flow.case.signing_id, FORM, correction.body, correction.signature)
    if person is None:
        raise DecisionRefused("correct form: not signed by a trusted front door (a raw signal or update is not a correction)")
    if person.partnership is not None and person.partnership != flow.case.partnership:
        raise DecisionRefused(f"correct form: {person.email} acts for {person.partnership}, not this case's partnership")
    if not set(person.roles) & MAY_CORRECT_THE_FORM:
        raise DecisionRefused(f"correct form: {person.email} may not correct it; the Business Unit does")
    return person.email


async def correct_form(flow: CaseWorkflow, correction: Correction) -> None:
    """Apply the corrected facts, move the clocks they start, keep the record and tell those told."""
    facts, by = check_form_facts(flow, correction)
    case, form = flow.case, flow.form
    was = {key: getattr(form, key) for key in ("received_on", "became_aware_on") if hasattr(form, key)}
    now = {key: value for key, value in facts.model_dump().items() if key in was and value is not None}
    changed = [key for key in now if now[key] != was[key]]
    flow.form = form.model_copy(update=now)
    case.received_on = flow.form.received_on
    for key in changed:
        clock = flow.FORM_CLOCKS.get(key)
        if clock is not None:
            await case.clocks.move(clock, now[key])
    await keep_and_tell(
        case, FORM, correction.reason, by, ", ".join(changed) or "no field",
        was="; ".join(f"{key} {was[key]}" for key in changed) or "see the case",
        now="; ".join(f"{key} {now[key]}" for key in changed) or "see the case",
        told=flow.FORM_TOLD,
    )


def is_form(correction: Correction) -> bool:
    return correction.name == FORM


