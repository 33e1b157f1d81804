"""What every case has, whatever its journey: its record, and the parts that act on it.

`Case` holds the record (stage, deadlines, decisions, messages) and composes the parts with one job
each: the register feed (register_feed.py), the clocks (clocks.py), sending (messaging.py) and what
the Web UI shows (web_ui.py). The messages in and out are `CaseWorkflow`'s (case_workflow.py).
Everything here is deterministic.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from models.text import Public
    from activities.routing import look_up_partnership
    from models.case import (
        Attention,
        CaseKind,
        CaseStatus,
        CaseSummary,
        DeadlineStatus,
        DeadlineRecord,
        DecisionRecord,
        MessageRecord,
        Role,
        Stage,
    )
    from models.dates import london_today
    from models.decisions import CaseWithdrawn
    from models.decisions import Decision
    from models.forms import LearningRequestForm, LocalAuthority, SeriousIncidentForm
    from models.messages import CaseWithdrawnNotice, Message

from workflows import versions
from workflows.catch_up import CatchUp
from workflows.clocks import Clocks
from workflows.local_first import local_first
from workflows.messaging import Messenger
from workflows.register_feed import RegisterFeed
from workflows.retries import ABANDONED_WHEN_WITHDRAWN, CONFIGURATION
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
        versions.open_release()  # the case's first command (workflows/versions.py)
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
        self.attention: list[Attention] = []
        self.refused_not_kept = 0
        self.withdrawal_ends_any_step = False  # set by CaseWorkflow.follow for cases started from 0.2
        self.signed_decisions = False  # set by CaseWorkflow.open_intake: cases from 0.2 take only signed decisions
        self.routes = False  # set by the journeys: cases from 0.3 follow the protocol's routes (issue 14)
        self.signing_id = self.case_id  # the case id staff know, which signatures name
        self.withdrawal_received: Decision | None = None  # the signed withdrawal, passed on to a local review
        self.details = details
        self.waiting: list[Callable[[], bool]] = []  # what the journey waits for (`until`), nothing yet true
        self.register = RegisterFeed(self)
        self.clocks = Clocks(self)
        self.messenger = Messenger(self)
        self.catch_up = CatchUp(self)
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

    def log(
        self, kind: str, name: str, detail: str | None = None, write_now: bool = True, actor: str | None = None
    ) -> None:
        self.register.log(kind, name, detail, write_now, actor)

    async def send(self, message: Message) -> MessageRecord:
        return await self.messenger.send(message)

    async def send_together(self, *messages: Message) -> list[MessageRecord]:
        return await self.messenger.send_together(*messages)

    def publish(self) -> None:
        """Note a new stage for the register, and show the case in the Web UI."""
        if self.logged_stage is not self.stage:
            self.log("stage", self.stage.value, self.closed_reason)
            self.logged_stage = self.stage
        self.web_ui.publish(self)

    def needs_attention(self, step: str, reason: str) -> None:
        """Something a retry cannot mend: shown on the case and in the Web UI (NeedsAttention)."""
        self.attention.append(Attention(at=workflow.now(), step=step, reason=reason))
        self.log("needs_attention", step, reason)
        self.publish()

    def summary(self) -> CaseSummary:
        """The case's row in the register."""
        deadlines = self.deadlines.values()
        return CaseSummary(
            case_id=self.case_id,
            kind=self.kind,
            local_authority=self.local_authority,
            partnership=self.partnership,
            stage=self.stage,
            received_on=self.received_on,
            closed_reason=self.closed_reason,
            next_due_on=min((d.due_on for d in deadlines if d.status is DeadlineStatus.OPEN), default=None),
            missed=sum(d.status is DeadlineStatus.MISSED for d in deadlines),
        )

    def status(self) -> CaseStatus:
        return CaseStatus(
            **self.summary().model_dump(exclude={"next_due_on", "missed"}),
            deadlines=list(self.deadlines.values()),
            decisions=list(self.decisions),
            messages=list(self.messages),
            details=self.details(),
            attention=list(self.attention),
            refused_not_kept=self.refused_not_kept,
        )

    def between_steps(self) -> bool:
        """The journey has done its step and waits for the next (a decision, a date): nothing it waits for has come."""
        return bool(self.waiting) and not any(awaited() for awaited in self.waiting)

    def today(self) -> date:
        return london_today(workflow.now())

    async def until(
        self, condition: Callable[[], bool], timeout: timedelta | None = None, timeout_summary: str | None = None
    ) -> None:
        """Wait for `condition`; raise CaseEnded if the case is withdrawn first (TimeoutError on timeout)."""
        awaited = lambda: condition() or self.stage is Stage.WITHDRAWN  # noqa: E731
        self.waiting.append(awaited)
        try:
            await workflow.wait_condition(awaited, timeout=timeout, timeout_summary=timeout_summary)
        finally:
            self.waiting.remove(awaited)
        if self.stage is Stage.WITHDRAWN:
            raise CaseEnded()

    async def look_up_partnership(self) -> None:
        routing = await local_first(
            look_up_partnership,
            self.local_authority,
            here=versions.changed(versions.ROUTING_HERE),
            summary=Public("Routing: the partnership serving this authority (¶2.5)"),
            timeout=ROUTING_TIMEOUT,
            retry_policy=CONFIGURATION,
        )
        self.partnership = routing.partnership
        self.publish()

    def record(
        self, name: str, accepted: bool, reason: str | None, via: str, outcome: str | None = None, by: str | None = None,
        decided_by: list[str] | None = None,
    ) -> None:
        self.decisions.append(
            DecisionRecord(name=name, accepted=accepted, reason=reason, received_at=workflow.now(), via=via, recorded_by=by,
                           decided_by=decided_by or [])
        )
        self.log("decision_accepted" if accepted else "decision_refused", name, outcome or reason, actor=by)

    def close(self, reason: str) -> None:
        self.stage = Stage.CLOSED
        self.closed_reason = reason
        self.publish()

    async def announce_withdrawal(self, also: list[Role] | None = None, addresses: list[str] | None = None) -> None:
        """The Business Unit is told; and, from 0.3, everyone the case has involved (`also`, `addresses`)."""
        assert self.withdrawal is not None
        withdrawal = self.withdrawal
        notice = CaseWithdrawnNotice(withdrawn_on=withdrawal.withdrawn_on, reason=withdrawal.reason)
        if also or addresses:
            notice = notice.model_copy(update={"also": also or [], "addresses": addresses or []})
        await self.send(notice)

    async def finish(self) -> CaseStatus:
        """Cancel what is still open, let reminders in flight finish, and end the case."""
        self.clocks.cancel_all()
        await self.clocks.settle(cancel_sends=self.withdrawal_ends_any_step and self.stage is Stage.WITHDRAWN)
        self.publish()
        await workflow.wait_condition(workflow.all_handlers_finished)
        self.log("case_ended", self.stage.value, self.closed_reason)
        await self.register.drain()
        return self.status()
