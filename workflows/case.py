"""What every case has, whatever its journey: its record, and the parts that act on it.

`Case` holds the record (stage, deadlines, decisions, messages) and composes the parts with one job
each: the register feed (register_feed.py), the clocks (clocks.py), sending (messaging.py) and what
the Web UI shows (web_ui.py). `CaseWorkflow` is what every journey's workflow shares: the messages in
(the `decide` update, the `submit_decision` signal) and out (the `status` query), handled through the
decision tables of the journey and its parts (intake.py). Everything here is deterministic.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from typing import Any, ClassVar

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from activities.routing import look_up_partnership
    from models.case import (
        FINAL_STAGES,
        CaseKind,
        CaseStatus,
        DeadlineRecord,
        DecisionReceipt,
        DecisionRecord,
        MessageRecord,
        Stage,
    )
    from models.dates import describe_validation_error, london_today
    from models.decisions import CaseWithdrawn, Decision, DecisionModel, DecisionRefused, outcome_of
    from models.forms import LearningRequestForm, LocalAuthority, SeriousIncidentForm
    from models.messages import CaseWithdrawnNotice, Message
    from pydantic import ValidationError

from workflows.clocks import Clocks
from workflows.intake import OPEN_STAGES, DecisionIntake, Step, Table, Takes
from workflows.messaging import Messenger
from workflows.register_feed import RegisterFeed
from workflows.web_ui import WebUI

ROUTING_TIMEOUT = timedelta(minutes=1)
Form = SeriousIncidentForm | LearningRequestForm


class CaseEnded(Exception):
    """Leaves a journey at once when the case is withdrawn."""


class Case:
    """A case's record and the parts that keep it."""

    def __init__(
        self,
        *,
        kind: CaseKind,
        local_authority: LocalAuthority,
        received_on: date,
        referrer_email: str | None,
        stage: Stage,
        details: Callable[[], dict[str, Any]],
    ) -> None:
        self.case_id = workflow.info().workflow_id
        self.kind = kind
        self.local_authority = local_authority
        self.received_on = received_on
        self.referrer_email = referrer_email
        self.stage = stage
        self.partnership: str | None = None
        self.closed_reason: str | None = None
        self.withdrawal: CaseWithdrawn | None = None
        self.deadlines: dict[str, DeadlineRecord] = {}  # by clock, or clock:subject for one per agency
        self.decisions: list[DecisionRecord] = []
        self.messages: list[MessageRecord] = []
        self.details = details
        self.register = RegisterFeed(self.case_id, self.status)
        self.clocks = Clocks(self)
        self.messenger = Messenger(self)
        self.web_ui = WebUI()
        self.logged_stage = stage
        self.log("case_opened", kind.value, f"received {received_on}", write_now=False)
        self.log("stage", stage.value, write_now=False)

    @classmethod
    def from_form(cls, kind: CaseKind, form: Form, stage: Stage, details: Callable[[], dict[str, Any]]) -> Case:
        """A case opened by a form: its authority, the day it was received, the referrer to answer."""
        return cls(
            kind=kind,
            local_authority=form.local_authority,
            received_on=form.received_on,
            referrer_email=form.referrer.email,
            stage=stage,
            details=details,
        )

    def log(self, kind: str, name: str, detail: str | None = None, write_now: bool = True) -> None:
        self.register.log(kind, name, detail, write_now)

    async def send(self, message: Message) -> None:
        await self.messenger.send(message)

    def publish(self) -> None:
        """Note a new stage for the register, and show the case in the Web UI."""
        if self.logged_stage is not self.stage:
            self.log("stage", self.stage.value, self.closed_reason)
            self.logged_stage = self.stage
        self.web_ui.publish(self)

    def status(self) -> CaseStatus:
        return CaseStatus(
            case_id=self.case_id,
            kind=self.kind,
            stage=self.stage,
            local_authority=self.local_authority,
            partnership=self.partnership,
            received_on=self.received_on,
            deadlines=list(self.deadlines.values()),
            decisions=list(self.decisions),
            messages=list(self.messages),
            closed_reason=self.closed_reason,
            details=self.details(),
        )

    def today(self) -> date:
        return london_today(workflow.now())

    async def until(
        self, condition: Callable[[], bool], timeout: timedelta | None = None, timeout_summary: str | None = None
    ) -> None:
        """Wait for `condition`; raise CaseEnded if the case is withdrawn first (TimeoutError on timeout)."""
        await workflow.wait_condition(
            lambda: condition() or self.stage is Stage.WITHDRAWN, timeout=timeout, timeout_summary=timeout_summary
        )
        if self.stage is Stage.WITHDRAWN:
            raise CaseEnded()

    async def look_up_partnership(self) -> None:
        routing = await workflow.execute_activity(
            look_up_partnership,
            self.local_authority,
            start_to_close_timeout=ROUTING_TIMEOUT,
            summary="Routing: the partnership serving this authority (¶2.5)",
        )
        self.partnership = routing.partnership
        self.publish()

    def record(self, name: str, accepted: bool, reason: str | None, via: str, outcome: str | None = None) -> None:
        self.decisions.append(
            DecisionRecord(name=name, accepted=accepted, reason=reason, received_at=workflow.now(), via=via)
        )
        self.log("decision_accepted" if accepted else "decision_refused", name, outcome or reason)

    def close(self, reason: str) -> None:
        self.stage = Stage.CLOSED
        self.closed_reason = reason
        self.publish()

    async def announce_withdrawal(self) -> None:
        assert self.withdrawal is not None
        await self.send(CaseWithdrawnNotice(withdrawn_on=self.withdrawal.withdrawn_on, reason=self.withdrawal.reason))

    async def finish(self) -> CaseStatus:
        """Cancel what is still open, let reminders in flight finish, and end the case."""
        self.clocks.cancel_all()
        await self.clocks.settle()
        self.publish()
        await workflow.wait_condition(workflow.all_handlers_finished)
        self.log("case_ended", self.stage.value, self.closed_reason)
        await self.register.drain()
        return self.status()


class CaseWorkflow:
    """The messages every case takes and answers. A journey sets `case`, lists its `parts()` and
    declares its own decisions in `DECISIONS`; `case_withdrawn` is taken at every open stage."""

    DECISIONS: ClassVar[Table] = ()
    PARTS: ClassVar[tuple[Any, ...]] = ()  # the classes of `parts()`, for what is known before a case runs
    OPENED_BY: ClassVar[str] = "the form's receipt"  # the step a decision answers when no later one does
    case: Case
    intake: DecisionIntake

    def parts(self) -> list[Any]:
        """The parts of the journey besides the workflow itself, each taking the decisions of its
        own `DECISIONS` table."""
        return []

    def open_intake(self) -> None:
        parts = self.parts()
        assert [type(part) for part in parts] == list(self.PARTS), "PARTS lists the classes of parts()"
        tables: list[tuple[Any, Table]] = [(self, WITHDRAWAL), (self, self.DECISIONS)]
        tables += [(part, part.DECISIONS) for part in parts]
        self.intake = DecisionIntake(self.case, tables, opened_by=self.opened_by)

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
    def submit_decision(self, payload: Any) -> None:
        """A decision sent as a signal (Web UI, `temporal workflow signal`). Never raises: a refused
        decision is kept, with its reason, in the case's decision list. The payload is read here, not
        by the SDK: one that is not a decision at all is refused the same way, without being echoed."""
        try:
            decision = Decision.model_validate(payload)
        except ValidationError as error:
            name = payload.get("name") if isinstance(payload, dict) else None
            reason = f"not a decision: {describe_validation_error(error)}"
            self.case.record(name if isinstance(name, str) else "(not a decision)", False, reason, "signal")
            return
        try:
            parsed = self.check(decision)
        except DecisionRefused as refused:
            self.case.record(decision.name, False, str(refused), "signal")
            return
        self.accept(parsed, via="signal")

    @workflow.update(name="decide")
    def decide(self, decision: Decision) -> DecisionReceipt:
        """A decision sent as an update: the sender learns at once whether the case accepted it."""
        self.accept(self.check(decision), via="update")
        return DecisionReceipt(case_id=self.case.case_id, name=decision.name, stage=self.case.stage)

    @decide.validator
    def validate_decision(self, decision: Decision) -> None:
        """Refuses a wrong-stage, duplicate, mis-dated or invalid decision before anything is written."""
        self.check(decision)

    @workflow.query
    def status(self) -> CaseStatus:
        return self.case.status()

    def check(self, decision: Decision) -> DecisionModel:
        accepted = {d.name for d in self.case.decisions if d.accepted}
        return self.intake.check(decision, self.case.stage, accepted, self.case.today())

    def accept(self, decision: DecisionModel, via: str) -> None:
        self.case.record(decision.name, True, None, via, outcome=outcome_of(decision))
        self.intake.apply(decision)
        self.case.publish()

    def withdrawn(self, decision: CaseWithdrawn) -> None:
        self.case.withdrawal = decision
        self.case.stage = Stage.WITHDRAWN
        self.case.closed_reason = f"Withdrawn on {decision.withdrawn_on}: {decision.reason}"


def _opening(workflow_: CaseWorkflow) -> Step | None:
    return None  # a withdrawal answers the case's opening


# Any open case can be withdrawn, for example a form sent in error.
WITHDRAWAL: Table = (Takes(CaseWithdrawn, at=OPEN_STAGES, after=_opening, then=CaseWorkflow.withdrawn),)

__all__ = ["FINAL_STAGES", "Case", "CaseEnded", "CaseWorkflow", "WITHDRAWAL"]
