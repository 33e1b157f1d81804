"""What every journey's workflow shares: the messages in (the `decide` update, the `submit_decision`
signal) and out (the `status` query), handled through the decision tables of the journey and its parts
(intake.py); the case itself is `Case` (case.py)."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Coroutine
from typing import Any, ClassVar, TypeVar

from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError, CancelledError

with workflow.unsafe.imports_passed_through():
    from models.case import FINAL_STAGES, CaseKind, CaseStatus, Clock, DecisionReceipt, Stage
    from models.forms import LearningRequestForm, SeriousIncidentForm
    from models.dates import describe_validation_error, london_today
    from models.identity import Person
    import signing
    from models.decisions import CaseWithdrawn, Correction, Decision, DecisionModel, DecisionRefused, outcome_of
    from pydantic import BaseModel, ValidationError

from workflows.case import Case, CaseEnded
from workflows.refusals import CASE_ID, REFUSED_SIGNALS_KEPT, bounded, known_name, stated_recorder
from workflows.corrections import check_correction, record_correction
from workflows.form_facts import check_form_facts, correct_form, is_form
from workflows.intake import OPEN_STAGES, DecisionIntake, Step, Table, Takes
from workflows.versions import SIGNED_DECISIONS, WITHDRAWAL_ENDS_ANY_STEP, changed

M = TypeVar("M", bound=BaseModel)
Form = TypeVar("Form", SeriousIncidentForm, LearningRequestForm)
class CaseWorkflow:
    """The messages every case takes and answers. A journey sets `case`, lists its `parts()` and
    declares its own decisions in `DECISIONS`; `case_withdrawn` is taken at every open stage."""

    DECISIONS: ClassVar[Table] = ()
    form: SeriousIncidentForm | LearningRequestForm  # what a case opened by a form started from
    invalid_start: str | None = None  # why the case could not start (a direct start with a bad id or input)
    PARTS: ClassVar[tuple[Any, ...]] = ()  # the classes of `parts()`, for what is known before a case runs
    OPENED_BY: ClassVar[str] = "the form's receipt"  # the step a decision answers when no later one does
    FORM_CLOCKS: ClassVar[dict[str, Clock]] = {}  # the clocks that run from the form's dates (form_facts.py)
    FORM_TOLD: ClassVar[frozenset[str]] = frozenset()  # the templates that carried the form: told of a correction
    case: Case
    intake: DecisionIntake

    def read_start(self, model: type[M], submitted: tuple[Any, ...]) -> M | None:
        """The one input a case starts from, checked like a form at the command line (today's date from
        the workflow's clock); None, with the reason kept for `refuse_invalid_start`, if it is not."""
        if not re.fullmatch(CASE_ID, workflow.info().workflow_id):
            self.invalid_start = "the case id must be letters, digits, '-' and '_' (at most 64), starting with a letter or digit"
        elif len(submitted) != 1:
            self.invalid_start = f"a case starts from one {model.__name__}, not {len(submitted)} inputs"
        else:
            try:
                return model.model_validate(submitted[0], context={"today": london_today(workflow.now())})
            except ValidationError as error:
                self.invalid_start = bounded(f"invalid {model.__name__}: {describe_validation_error(error)}")
        return None

    def refuse_invalid_start(self) -> None:
        """Fail the workflow at once, touching nothing, if it could not start (never retry its first task)."""
        if self.invalid_start:
            raise ApplicationError(self.invalid_start, type="InvalidStart", non_retryable=True)

    async def run_case(self) -> CaseStatus:
        """What every journey's run does: refuse an invalid start, follow the journey until it ends or
        the case is withdrawn (then `withdrawn_case`), close what is still open and end."""
        self.refuse_invalid_start()
        try:
            await self.follow(self.journey())
        except CaseEnded:
            await self.withdrawn_case()
        return await self.case.finish()

    async def journey(self) -> None:
        raise NotImplementedError

    async def withdrawn_case(self) -> None:
        """What a journey does when the case is withdrawn: tell the Business Unit."""
        await self.case.announce_withdrawal()

    def open_case(self, kind: CaseKind, model: type[Form], submitted: tuple[Any, ...], stage: Stage) -> bool:
        """Keep the form the case starts from (`form`) and open the case from it; False if the start is invalid."""
        form = self.read_start(model, submitted)
        if form is None:
            return False
        self.form = form
        self.case = Case.from_form(kind, form, stage, details=self.details)
        return True

    async def follow(self, journey: Coroutine[Any, Any, None]) -> None:
        """Follow the journey to its end; a withdrawal ends it (CaseEnded) even in the middle of a step,
        such as an activity retrying while a server or the routing file is mended."""
        if not changed(WITHDRAWAL_ENDS_ANY_STEP):
            await journey  # a case started before this release follows its journey as it always did
            return
        self.case.withdrawal_ends_any_step = True
        steps = asyncio.create_task(journey)
        await workflow.wait_condition(lambda: steps.done() or self.case.stage is Stage.WITHDRAWN)
        if not steps.done():
            steps.cancel()
            try:
                await steps
            except (asyncio.CancelledError, CaseEnded):
                pass
            except ActivityError as error:  # the step's activity, cancelled
                if not isinstance(error.cause, CancelledError):
                    raise
            raise CaseEnded()
        await steps

    def parts(self) -> list[Any]:
        """The parts of the journey besides the workflow itself, each taking the decisions of its
        own `DECISIONS` table."""
        return []

    def open_intake(self, signed_decisions: bool | None = None) -> None:
        parts = self.parts()
        assert [type(part) for part in parts] == list(self.PARTS), "PARTS lists the classes of parts()"
        tables: list[tuple[Any, Table]] = [(self, WITHDRAWAL), (self, self.DECISIONS)]
        tables += [(part, part.DECISIONS) for part in parts]
        self.intake = DecisionIntake(self.case, tables, opened_by=self.opened_by)
        # Cases from release 0.2 take only signed decisions; a local review follows its case.
        self.case.signed_decisions = changed(SIGNED_DECISIONS) if signed_decisions is None else signed_decisions

    @classmethod
    def tables(cls) -> list[Table]:
        """Every decision table of the journey: the withdrawal, its own, its parts'."""
        return [WITHDRAWAL, cls.DECISIONS, *(part.DECISIONS for part in cls.PARTS)]

    @classmethod
    def declared(cls, name: str) -> Takes[Any, Any] | None:
        """How the journey takes a decision, or None if it never does."""
        return next((row for table in cls.tables() for row in table if row.name == name), None)

    def opened_by(self) -> Step:
        return self.OPENED_BY, self.case.received_on

    def details(self) -> dict[str, Any]:
        """Journey facts shown in `status` beside the contract's fields (no personal data)."""
        return {}

    # ---- messages in and out ------------------------------------------------------------------------

    @workflow.signal(name="submit_decision")
    def submit_decision(self, *payloads: Any) -> None:
        """A decision sent as a signal (Web UI, `temporal workflow signal`), as `{"name", "body"}`.
        Never raises, whatever arrives: with no input, with several, with anything that is not a
        decision. A refused one is recorded with its reason (bounded, never echoing the input)."""
        if len(payloads) != 1:
            self.refuse_signal(None, f"not a decision: a decision signal carries one input, not {len(payloads)}")
            return
        if self.invalid_start:
            return  # the case did not start: there is nothing to record it on
        (payload,) = payloads
        try:
            decision = Decision.model_validate(payload)
        except ValidationError as error:
            name = payload.get("name") if isinstance(payload, dict) else None
            self.refuse_signal(name, f"not a decision: {describe_validation_error(error)}")
            return
        try:
            parsed, person = self.check(decision)
        except DecisionRefused as refused:
            self.refuse_signal(decision.name, str(refused), stated_recorder(decision.body))
            return
        self.accept(decision, parsed, person, via="signal")

    def refuse_signal(self, name: object, reason: str, by: str | None = None) -> None:
        """The first refused signals are kept one by one; after that they are counted (`status`,
        `refused_not_kept`) and the register is told every hundredth, so junk cannot grow a case."""
        case = self.case
        kept = sum(not d.accepted and d.via == "signal" for d in case.decisions)
        if kept < REFUSED_SIGNALS_KEPT:
            case.record(known_name(name), False, bounded(reason), "signal", by=by)
            return
        case.refused_not_kept += 1
        if case.refused_not_kept % 100 == 1:
            case.log("decisions_refused", "signals", f"{case.refused_not_kept} refused signal(s) counted, not kept")

    @workflow.update(name="decide")
    def decide(self, decision: Decision) -> DecisionReceipt:
        """A decision sent as an update: the sender learns at once whether the case accepted it."""
        self.accept(decision, *self.check(decision), via="update")
        return DecisionReceipt(case_id=self.case.case_id, name=decision.name, stage=self.case.stage)

    @decide.validator
    def validate_decision(self, decision: Decision) -> None:
        """Refuses a wrong-stage, duplicate, mis-dated or invalid decision before anything is written."""
        self.check(decision)

    @workflow.update(name="correct")
    async def correct(self, correction: Correction) -> DecisionReceipt:
        """A recorded decision's content put right (workflows/corrections.py): the reason and the person
        are recorded, the original stays in the audit, its clocks are judged again, those told are told."""
        if is_form(correction):  # the form's dates (workflows/form_facts.py)
            await correct_form(self, correction)
            return DecisionReceipt(case_id=self.case.case_id, name=correction.name, stage=self.case.stage)
        corrected, person = self.check_correction(correction)
        by = person.email if person else corrected.recorded_by
        await record_correction(self.case, self.intake, correction, corrected, by)
        return DecisionReceipt(case_id=self.case.case_id, name=corrected.name, stage=self.case.stage)

    @correct.validator
    def validate_correction(self, correction: Correction) -> None:
        if is_form(correction):
            self.check_open()
            check_form_facts(self, correction)
            return
        self.check_correction(correction)

    def check_open(self) -> None:
        if self.invalid_start:
            raise DecisionRefused(f"the case did not start: {self.invalid_start}")
        if self.case.stage in FINAL_STAGES:
            raise DecisionRefused(f"the case is {self.case.stage.value}: it takes no more corrections")

    def check_correction(self, correction: Correction) -> tuple[DecisionModel, Person | None]:
        self.check_open()
        accepted = {d.name for d in self.case.decisions if d.accepted}
        corrected = check_correction(self.intake, correction, accepted, self.case.today())
        return corrected, self.verify(correction.decision(), corrected)

    @workflow.query
    def status(self) -> CaseStatus:
        if self.invalid_start:
            raise ApplicationError(f"the case did not start: {self.invalid_start}")
        return self.case.status()

    def check(self, decision: Decision) -> tuple[DecisionModel, Person | None]:
        """The decision parsed and the person who recorded it, verified; or DecisionRefused."""
        if self.invalid_start:
            raise DecisionRefused(f"the case did not start: {self.invalid_start}")
        accepted = {d.name for d in self.case.decisions if d.accepted}
        parsed = self.intake.check(decision, self.case.stage, accepted, self.case.today())
        return parsed, self.verify(decision, parsed)

    def verify(self, decision: Decision, parsed: DecisionModel) -> Person | None:
        """Who recorded it, as a trusted front door signed it (signing.py), and their authority to; None
        for a case started before decisions were signed (it takes them as it always did)."""
        if not self.case.signed_decisions:
            return None
        person = signing.verified(self.case.signing_id, decision.name, decision.body, decision.signature)
        if person is None:
            raise DecisionRefused(
                f"{decision.name}: not signed by a front door of this system (starter.py, the staff console); "
                "a raw signal or update is not a decision"
            )
        self.intake.authorise(parsed, person, self.case.partnership)
        return person

    def accept(self, received: Decision, decision: DecisionModel, person: Person | None, via: str) -> None:
        by = person.email if person else decision.recorded_by
        self.case.record(decision.name, True, None, via, outcome=outcome_of(decision), by=by, decided_by=decision.deciders())
        if isinstance(decision, CaseWithdrawn):
            self.case.withdrawal_received = received  # a local review is withdrawn with the same signed decision
        self.intake.apply(decision)
        self.case.publish()

    def withdrawal_after(self) -> Step | None:
        """The step a withdrawal cannot precede: by default the case's opening."""
        return None

    def withdrawn(self, decision: CaseWithdrawn) -> None:
        self.case.withdrawal = decision
        self.case.stage = Stage.WITHDRAWN
        self.case.closed_reason = f"Withdrawn on {decision.withdrawn_on}: {decision.reason}"


# Any open case can be withdrawn, for example a form sent in error; by the Business Unit.
WITHDRAWAL: Table = (
    Takes(CaseWithdrawn, at=OPEN_STAGES, after=lambda wf: wf.withdrawal_after(), then=CaseWorkflow.withdrawn),
)


