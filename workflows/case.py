"""What every case has, whatever its journey: decisions, deadlines, messages and what the Web UI shows.

A journey (serious_incident.py, learning_request.py) subclasses `CaseWorkflow` and says which
decisions each of its stages takes (`EXPECTED`), which earlier step each decision answers
(`step_answered`) and what an accepted decision changes (`apply`). Everything here is deterministic:
dates come from activities or `workflow.now()`, messages and deadlines are computed by activities.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, ClassVar

from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from activities.deadlines import compute_deadline
    from activities.register import record_events
    from activities.notifications import send_message
    from activities.routing import look_up_partnership
    from models.case import (
        FINAL_STAGES,
        CaseEvent,
        CaseKind,
        CaseStatus,
        Clock,
        Deadline,
        DeadlineRecord,
        DeadlineRequest,
        DeadlineStatus,
        DecisionReceipt,
        DecisionRecord,
        MessageRecord,
        MessageRequest,
        RegisterBatch,
        Role,
        Stage,
        deadline_key,
    )
    from pydantic import ValidationError

    from models.dates import describe_validation_error, london_today
    from models.decisions import (
        CaseWithdrawn,
        Decision,
        DecisionModel,
        DecisionRefused,
        outcome_of,
        parse_decision,
    )
    from models.forms import LocalAuthority
    from workflows import search_attributes

ACTIVITY_TIMEOUT = timedelta(minutes=1)

# Decisions a case may take more than once; any other is refused the second time.
REPEATABLE_DECISIONS = frozenset(
    {"agency_contribution_received", "recommendation_updated", "publication_scheduled"}
)


class CaseEnded(Exception):
    """Leaves a journey at once when the case is withdrawn."""


@dataclass(frozen=True)
class Recipients:
    """Who hears of a deadline: reminders before it ends, the escalation when it is missed."""

    remind: list[Role]
    remind_addresses: list[str]
    escalate: list[Role]
    owner: str | None = None  # for Role.RECOMMENDATION_OWNER
    reached: str | None = None  # a clock that is met by running out (public_until): tell them with this
    context: dict[str, str] | None = None


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")




class CaseWorkflow:
    kind: ClassVar[CaseKind]
    # Which decisions each stage of the journey takes; `case_withdrawn` is taken at every open stage.
    EXPECTED: ClassVar[dict[Stage, frozenset[str]]]

    def __init__(
        self,
        *,
        local_authority: LocalAuthority,
        received_on: date,
        referrer_email: str | None,
        stage: Stage,
    ) -> None:
        self.case_id = workflow.info().workflow_id
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
        self._steps_done_before_clock: dict[str, date] = {}
        self._watchers: list[asyncio.Task[None]] = []
        self._published: tuple[Any, ...] | None = None
        self._unregistered: list[CaseEvent] = []  # events not yet written to the case register
        self._events_logged = 0
        self._logged_stage: Stage | None = None
        self._register: asyncio.Task[None] | None = None
        self._ending = False
        self.log("case_opened", self.kind.value, f"received {received_on}", write_now=False)
        self.log("stage", stage.value, write_now=False)
        self._logged_stage = stage

    # ---- journey hooks ------------------------------------------------------------------------

    def step_answered(self, name: str) -> tuple[str, date]:
        """The earlier step a decision answers and its date: the decision cannot be dated before it."""
        raise NotImplementedError

    def apply(self, name: str, decision: DecisionModel) -> None:
        """What an accepted decision changes. Called from handlers: state only, no awaiting."""
        raise NotImplementedError

    def details(self) -> dict[str, Any]:
        """Journey facts shown in `status` beside the contract's fields (no personal data)."""
        return {}

    # ---- messages: decisions in, status out ------------------------------------------------------

    @workflow.signal(name="submit_decision")
    def submit_decision(self, payload: Any) -> None:
        """A decision sent as a signal (Web UI, `temporal workflow signal`). Never raises: a refused
        decision is kept, with its reason, in the case's decision list. The payload is read here, not
        by the SDK: one that is not a decision at all is refused the same way, without being echoed
        (the SDK would drop it and log it, form text and all)."""
        try:
            decision = Decision.model_validate(payload)
        except ValidationError as error:
            name = payload.get("name") if isinstance(payload, dict) else None
            self._record(
                name if isinstance(name, str) else "(not a decision)",
                accepted=False,
                reason=f"not a decision: {describe_validation_error(error)}",
                via="signal",
            )
            return
        try:
            parsed = self._check(decision)
        except DecisionRefused as refused:
            self._record(decision.name, accepted=False, reason=str(refused), via="signal")
            return
        self._accept(decision.name, parsed, via="signal")

    @workflow.update(name="decide")
    def decide(self, decision: Decision) -> DecisionReceipt:
        """A decision sent as an update: the sender learns at once whether the case accepted it."""
        self._accept(decision.name, self._check(decision), via="update")
        return DecisionReceipt(case_id=self.case_id, name=decision.name, stage=self.stage)

    @decide.validator
    def validate_decision(self, decision: Decision) -> None:
        """Refuses a wrong-stage, duplicate, mis-dated or invalid decision before anything is written."""
        self._check(decision)

    @workflow.query
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

    def stage_decisions(self) -> frozenset[str]:
        """The decisions the current stage takes (besides `case_withdrawn`)."""
        return self.EXPECTED.get(self.stage, frozenset())

    def check_decision(self, decision: DecisionModel) -> None:
        """Journey rules on a decision's content that need the case; raise DecisionRefused."""

    def expected_decisions(self) -> frozenset[str]:
        if self.stage in FINAL_STAGES:
            return frozenset()
        return self.stage_decisions() | {"case_withdrawn"}

    def _check(self, decision: Decision) -> DecisionModel:
        if self.stage in FINAL_STAGES:
            raise DecisionRefused(f"the case is {self.stage.value}: it takes no more decisions")
        parsed = parse_decision(decision, today=self.today())
        name = decision.name
        if name not in REPEATABLE_DECISIONS and any(
            d.accepted and d.name == name for d in self.decisions
        ):
            raise DecisionRefused(f"{name} is already recorded on this case")
        expected = self.expected_decisions()
        if name not in expected:
            raise DecisionRefused(
                f"{name} is not expected at stage {self.stage.value}; "
                f"this stage takes {', '.join(sorted(expected))}"
            )
        happened_on = parsed.happened_on
        step, step_on = self.step_answered(name)
        if happened_on is not None and happened_on < step_on:
            raise DecisionRefused(
                f"{name}: {parsed.happened_field} ({happened_on}) is before {step} ({step_on})"
            )
        self.check_decision(parsed)
        return parsed

    def _accept(self, name: str, decision: DecisionModel, via: str) -> None:
        self._record(name, accepted=True, reason=None, via=via, outcome=outcome_of(decision))
        if isinstance(decision, CaseWithdrawn):
            self.withdrawal = decision
            self.stage = Stage.WITHDRAWN
            self.closed_reason = f"Withdrawn on {decision.withdrawn_on}: {decision.reason}"
        else:
            self.apply(name, decision)
        self.publish()

    def _record(
        self, name: str, accepted: bool, reason: str | None, via: str, outcome: str | None = None
    ) -> None:
        self.decisions.append(
            DecisionRecord(
                name=name, accepted=accepted, reason=reason, received_at=workflow.now(), via=via
            )
        )
        self.log("decision_accepted" if accepted else "decision_refused", name, outcome or reason)

    # ---- waiting on the journey ------------------------------------------------------------------

    async def until(
        self,
        condition: Callable[[], bool],
        timeout: timedelta | None = None,
        timeout_summary: str | None = None,
    ) -> None:
        """Wait for `condition`; raise CaseEnded if the case is withdrawn first (TimeoutError on timeout)."""
        await workflow.wait_condition(
            lambda: condition() or self.stage is Stage.WITHDRAWN,
            timeout=timeout,
            timeout_summary=timeout_summary,
        )
        if self.stage is Stage.WITHDRAWN:
            raise CaseEnded()

    def today(self) -> date:
        return london_today(workflow.now())

    def close(self, reason: str) -> None:
        self.stage = Stage.CLOSED
        self.closed_reason = reason
        self.publish()

    async def finish(self) -> CaseStatus:
        """Cancel what is still open, let reminders in flight finish, and end the case."""
        for record in self.deadlines.values():
            if record.status is DeadlineStatus.OPEN:
                record.status = DeadlineStatus.CANCELLED
                self.log("deadline_cancelled", deadline_key(record.key, record.subject))
        await asyncio.gather(*self._watchers)
        self.publish()
        await workflow.wait_condition(workflow.all_handlers_finished)
        self.log("case_ended", self.stage.value, self.closed_reason)
        self._ending = True
        if self._register is not None:
            await self._register
        return self.status()

    # ---- the case register -------------------------------------------------------------------------

    def log(self, kind: str, name: str, detail: str | None = None, write_now: bool = True) -> None:
        """Note an event for the case register; it is written by an activity, in order, in batches
        (`write_now=False` while the case is being set up, before it can run an activity)."""
        self._events_logged += 1
        self._unregistered.append(
            CaseEvent(
                key=f"{self.case_id}/{self._events_logged}",
                case_id=self.case_id,
                seq=self._events_logged,
                at=workflow.now(),
                kind=kind,
                name=name,
                detail=detail,
            )
        )
        if self._register is None and write_now:
            self._register = asyncio.create_task(self._keep_register())

    async def _keep_register(self) -> None:
        parent = workflow.info().parent
        while True:
            await workflow.wait_condition(lambda: bool(self._unregistered) or self._ending)
            if not self._unregistered:
                return
            batch, self._unregistered = self._unregistered, []
            await workflow.execute_activity(
                record_events,
                RegisterBatch(
                    events=batch, status=self.status(), parent_case_id=parent.workflow_id if parent else None
                ),
                start_to_close_timeout=ACTIVITY_TIMEOUT,
                summary=f"Case register: {len(batch)} event(s)",
            )

    async def look_up_partnership(self) -> None:
        routing = await workflow.execute_activity(
            look_up_partnership,
            self.local_authority,
            start_to_close_timeout=ACTIVITY_TIMEOUT,
            summary="Routing: the partnership serving this authority (¶2.5)",
        )
        self.partnership = routing.partnership
        self.publish()

    # ---- deadlines ---------------------------------------------------------------------------------

    async def compute(self, clock: Clock, starts_on: date, due_on: date | None = None) -> Deadline:
        assert self.partnership is not None, "look_up_partnership first"
        return await workflow.execute_activity(
            compute_deadline,
            DeadlineRequest(clock=clock, starts_on=starts_on, partnership=self.partnership, due_on=due_on),
            start_to_close_timeout=ACTIVITY_TIMEOUT,
            summary=f"Calendar: {clock.value} clock from {starts_on}",
        )

    async def open_deadline(
        self,
        clock: Clock,
        starts_on: date,
        remind: list[Role],
        *,
        subject: str | None = None,
        due_on: date | None = None,
        remind_addresses: list[str] | None = None,
        escalate: list[Role] | None = None,
        owner: str | None = None,
        reached: str | None = None,
        context: dict[str, str] | None = None,
    ) -> Deadline:
        """Start a clock: reminders to `remind` before it ends, an escalation if it is missed.

        `subject` names whose deadline it is when a clock runs once per agency; `due_on` is given
        for a deadline people set rather than the statute."""
        deadline = await self.compute(clock, starts_on, due_on)
        record = DeadlineRecord(
            key=clock,
            subject=subject,
            title=deadline.title + (f": {subject}" if subject else ""),
            starts_on=deadline.starts_on,
            due_on=deadline.due_on,
            due_at=deadline.due_at,
            rule=deadline.rule,
        )
        key = deadline_key(clock, subject)
        self.deadlines[key] = record
        self.log("deadline_set", key, f"due {record.due_on} ({record.rule})")
        step_on = self._steps_done_before_clock.pop(key, None)
        if step_on is not None:
            self._judge(record, step_on)
        else:
            recipients = Recipients(
                remind=remind,
                remind_addresses=remind_addresses or [],
                escalate=escalate or [Role.ESCALATION, Role.BUSINESS_UNIT],
                owner=owner,
                reached=reached,
                context=context,
            )
            self._watchers.append(asyncio.create_task(self._watch(record, deadline, recipients)))
        self.publish()
        return deadline

    def close_deadline(self, clock: Clock, step_on: date, subject: str | None = None) -> None:
        """The step a clock waits for happened on `step_on`: met or missed by that date."""
        key = deadline_key(clock, subject)
        record = self.deadlines.get(key)
        if record is None:  # the step was recorded before its clock was set up
            self._steps_done_before_clock[key] = step_on
            return
        self._judge(record, step_on)

    def _judge(self, record: DeadlineRecord, step_on: date) -> None:
        if record.status is DeadlineStatus.CANCELLED:
            return
        record.step_on = step_on
        record.recorded_late = workflow.now() >= record.due_at
        record.status = DeadlineStatus.MET if step_on <= record.due_on else DeadlineStatus.MISSED
        late = ", recorded late" if record.recorded_late else ""
        self.log(f"deadline_{record.status.value}", deadline_key(record.key, record.subject), f"step on {step_on}{late}")

    async def _watch(self, record: DeadlineRecord, deadline: Deadline, recipients: Recipients) -> None:
        step = record.key.value + (f"/{slug(record.subject)}" if record.subject else "")
        context = {
            "deadline_title": record.title,
            "due_on": deadline.due_on.isoformat(),
            "deadline_rule": deadline.rule,
            "needed": deadline.needed,
            **(recipients.context or {}),
        }
        reminders = deadline.reminders_at if recipients.remind or recipients.remind_addresses else []
        for number, reminder_at in enumerate(reminders, start=1):
            if reminder_at <= workflow.now():
                continue  # a reminder whose moment has passed is not sent late
            if not await self._open_at(record, reminder_at, f"Reminder {number}: {record.title}"):
                return
            await self.send(
                "deadline_reminder",
                recipients.remind,
                f"reminder/{step}/{number}",
                context,
                addresses=recipients.remind_addresses,
                owner=recipients.owner,
                summary=f"Reminder {number}: {record.title} due {deadline.due_on}",
            )
            record.reminders_sent += 1
        if not await self._open_at(record, deadline.due_at, f"Deadline: {record.title}"):
            return
        if recipients.reached:  # the clock is met by running out: the Business Unit is told
            record.status, record.step_on = DeadlineStatus.MET, deadline.due_on
            self.log("deadline_met", deadline_key(record.key, record.subject), f"{deadline.due_on} reached")
            self.publish()
            await self.send(
                recipients.reached,
                [Role.BUSINESS_UNIT],
                f"reached/{step}",
                context,
                summary=f"{record.title}: {deadline.due_on} reached",
            )
            return
        record.status = DeadlineStatus.MISSED
        record.escalated = True
        self.log("deadline_missed", deadline_key(record.key, record.subject), "nothing recorded by the end of the day")
        self.publish()
        await self.send(
            "deadline_escalation",
            recipients.escalate,
            f"escalation/{step}",
            context,
            summary=f"Escalation: {record.title} missed",
        )

    async def _open_at(self, record: DeadlineRecord, moment: datetime, summary: str) -> bool:
        """Sleep until `moment` unless the deadline closes first; True if it is still open then."""
        delay = moment - workflow.now()
        if delay > timedelta(0):
            try:
                await workflow.wait_condition(
                    lambda: record.status is not DeadlineStatus.OPEN,
                    timeout=delay,
                    timeout_summary=summary,
                )
            except asyncio.TimeoutError:
                pass
        return record.status is DeadlineStatus.OPEN

    # ---- messages out ----------------------------------------------------------------------------

    async def send(
        self,
        template: str,
        to: list[Role],
        step: str,
        context: dict[str, str] | None = None,
        *,
        summary: str,
        addresses: list[str] | None = None,
        attachment: dict[str, Any] | None = None,
        document: str | None = None,
        owner: str | None = None,
    ) -> None:
        """Send one message, once: its key is the case id and the step."""
        record = MessageRecord(key=f"{self.case_id}/{step}", template=template)
        self.messages.append(record)
        try:
            sent = await workflow.execute_activity(
                send_message,
                MessageRequest(
                    key=record.key,
                    case_id=self.case_id,
                    local_authority=self.local_authority,
                    template=template,
                    to=to,
                    context=context or {},
                    referrer_email=self.referrer_email,
                    addresses=addresses or [],
                    owner=owner,
                    attachment=attachment,
                    document=document,
                ),
                start_to_close_timeout=ACTIVITY_TIMEOUT,
                summary=summary,
            )
        except ActivityError as error:
            if not (isinstance(error.cause, ApplicationError) and error.cause.type == "MessageRefused"):
                raise
            await self.refused_by_mail_server(record)
            return
        record.to = sent.to
        record.status = "sent"
        self.log("message_sent", template, record.key)

    async def refused_by_mail_server(self, record: MessageRecord) -> None:
        """A permanent refusal is recorded and the Business Unit told; the case goes on."""
        record.status = "refused"
        self.log("message_refused", record.template, record.key)
        if record.template != "delivery_refused":
            await self.send(
                "delivery_refused",
                [Role.BUSINESS_UNIT],
                f"delivery-refused/{record.key.partition('/')[2]}",
                {"refused_template": record.template, "refused_key": record.key},
                summary=f"Tell the Business Unit the mail server refused {record.template}",
            )

    async def announce_withdrawal(self) -> None:
        assert self.withdrawal is not None
        await self.send(
            "case_withdrawn",
            [Role.BUSINESS_UNIT],
            "withdrawn",
            {"withdrawn_on": self.withdrawal.withdrawn_on.isoformat(), "reason": self.withdrawal.reason},
            summary="Tell the Business Unit the case is withdrawn",
        )

    # ---- what the Web UI shows ---------------------------------------------------------------------

    def publish(self) -> None:
        """Search attributes and current details: stage, next deadline, anything missed."""
        open_deadlines = [d for d in self.deadlines.values() if d.status is DeadlineStatus.OPEN]
        next_due = min((d.due_at for d in open_deadlines), default=None)
        missed = any(d.status is DeadlineStatus.MISSED for d in self.deadlines.values())
        if self._logged_stage is not self.stage:
            self.log("stage", self.stage.value, self.closed_reason)
            self._logged_stage = self.stage
        snapshot = (self.stage, next_due, missed, self.partnership)
        if snapshot != self._published:
            self._published = snapshot
            workflow.upsert_search_attributes(
                [
                    search_attributes.CASE_KIND.value_set(self.kind.value),
                    search_attributes.CASE_STAGE.value_set(self.stage.value),
                    search_attributes.LOCAL_AUTHORITY.value_set(self.local_authority.value),
                    search_attributes.DEADLINE_MISSED.value_set(missed),
                    search_attributes.NEXT_DEADLINE.value_set(next_due)
                    if next_due
                    else search_attributes.NEXT_DEADLINE.value_unset(),
                ]
                + (
                    [search_attributes.PARTNERSHIP.value_set(self.partnership)]
                    if self.partnership
                    else []
                )
            )
        lines = [f"**Stage:** {self.stage.value}"]
        lines += [
            f"- {d.title}: due {d.due_on} — {d.status.value}"
            + (" (recorded late)" if d.recorded_late else "")
            for d in self.deadlines.values()
        ]
        workflow.set_current_details("\n".join(lines))
