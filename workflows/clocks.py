"""A case's deadlines: each clock computed by an activity (activities/deadlines.py), reminders before
it ends, an escalation when it is missed, met or missed by the date the step really happened."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from activities.deadlines import compute_deadline, compute_deadlines
    from models.case import Clock, Deadline, DeadlineRecord, DeadlineRequest, DeadlineStatus, Role, deadline_key
    from models.messages import DeadlineEscalation, DeadlineReminder, PublicUntilReached, slug
    from models.text import Public

from workflows.local_first import local_first
from workflows.retries import CONFIGURATION
from workflows.versions import AFTER_THE_FACT, CALENDAR_HERE, CLOCKS_TOGETHER, changed

if TYPE_CHECKING:
    from workflows.case import Case

CALENDAR_TIMEOUT = timedelta(minutes=1)


@dataclass(frozen=True)
class Watch:
    """Who hears of a deadline: reminders before it ends, the escalation when it is missed."""

    remind: list[Role]
    remind_addresses: list[str] = field(default_factory=list)
    escalate: list[Role] = field(default_factory=lambda: [Role.ESCALATION, Role.BUSINESS_UNIT])
    owner: str | None = None  # for Role.RECOMMENDATION_OWNER
    reached: tuple[date, str] | None = None  # public_until: met by running out; (published on, url)


class Clocks:
    def __init__(self, case: Case) -> None:
        self.case = case
        self.done_before_set: dict[str, date] = {}  # steps recorded before their clock was set up
        self.watchers: list[asyncio.Task[None]] = []
        self.watched: dict[str, tuple[Deadline, Watch]] = {}  # how each clock was last set, to watch it again
        self.moves: dict[str, int] = {}  # how often each deadline was moved (a correction, a changed date)

    async def compute(self, clock: Clock, starts_on: date, due_on: date | None = None) -> Deadline:
        """The deadline, by the calendar: from release 0.4 in the case's own workflow task, else (or if the
        calendar cannot answer there: the routing file being mended) by the server (workflows/local_first.py)."""
        assert self.case.partnership is not None, "look up the partnership first"
        deadline: Deadline = await local_first(
            compute_deadline,
            DeadlineRequest(clock=clock, starts_on=starts_on, partnership=self.case.partnership, due_on=due_on),
            here=changed(CALENDAR_HERE),
            summary=Public(f"Calendar: {clock.value} clock from {starts_on}"),
            timeout=CALENDAR_TIMEOUT,
            retry_policy=CONFIGURATION,
        )
        return deadline

    async def start(
        self, clock: Clock, starts_on: date, watch: Watch, *, subject: str | None = None, due_on: date | None = None
    ) -> Deadline:
        """Start a clock. `subject` names whose deadline it is when a clock runs once per agency or
        recommendation; `due_on` is given for a deadline people set rather than the statute."""
        deadline = await self.compute(clock, starts_on, due_on)
        self.set(clock, deadline, watch, subject)
        return deadline

    async def compute_together(self, clocks: list[tuple[Clock, date]]) -> list[Deadline]:
        """Several deadlines by the calendar in one activity (from release 0.5): one marker in the history,
        not one a clock; as `compute`, in the case's own workflow task first."""
        assert self.case.partnership is not None, "look up the partnership first"
        partnership = self.case.partnership
        deadlines: list[Deadline] = await local_first(
            compute_deadlines,
            [DeadlineRequest(clock=clock, starts_on=starts_on, partnership=partnership) for clock, starts_on in clocks],
            here=changed(CALENDAR_HERE),
            summary=Public("Calendar: " + ", ".join(f"{clock.value} clock from {starts_on}" for clock, starts_on in clocks)),
            timeout=CALENDAR_TIMEOUT,
            retry_policy=CONFIGURATION,
        )
        return deadlines

    async def start_together(self, *clocks: tuple[Clock, date, Watch]) -> list[Deadline]:
        """Start several statutory clocks: computed at once (one activity from release 0.5; before, theirs
        in one workflow task), then set in the order given, as `start` one after the other would set them."""
        if changed(CLOCKS_TOGETHER):
            deadlines = await self.compute_together([(clock, starts_on) for clock, starts_on, _ in clocks])
        else:
            deadlines = await asyncio.gather(*(self.compute(clock, starts_on) for clock, starts_on, _ in clocks))
        for (clock, _, watch), deadline in zip(clocks, deadlines):
            self.set(clock, deadline, watch)
        return list(deadlines)

    def set(self, clock: Clock, deadline: Deadline, watch: Watch, subject: str | None = None) -> None:
        """Keep a computed clock on the case and watch it (or judge it, if its step has happened)."""
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
        self.case.deadlines[key] = record
        self.watched[key] = (deadline, watch)
        self.case.log("deadline_set", key, f"due {record.due_on} ({record.rule})")
        if deadline.due_at <= workflow.now() and changed(AFTER_THE_FACT):
            self.case.catch_up.overdue(record)  # ended before it was set: summarised, never escalated
        step_on = self.done_before_set.pop(key, None)
        if step_on is not None:
            self.judge(record, step_on)
        else:
            self.watchers.append(asyncio.create_task(self.watch(record, deadline, watch)))
        self.case.publish()

    def stop(self, clock: Clock, step_on: date, subject: str | None = None) -> None:
        """The step a clock waits for happened on `step_on`: met or missed by that date."""
        self.judge_or_note(clock, step_on, subject, again=False)

    def rejudge(self, clock: Clock, step_on: date, subject: str | None = None) -> None:
        """A corrected date: the clock is judged again (met or missed), whatever it showed."""
        self.judge_or_note(clock, step_on, subject, again=True)

    def judge_or_note(self, clock: Clock, step_on: date, subject: str | None, again: bool) -> None:
        """Judge the clock by `step_on`; a clock not yet set is judged by it when it is set."""
        key = deadline_key(clock, subject)
        record = self.case.deadlines.get(key)
        if record is None:
            self.done_before_set[key] = step_on
            return
        if again and record.status is not DeadlineStatus.CANCELLED:
            record.status = DeadlineStatus.OPEN
        self.judge(record, step_on)

    async def move(self, clock: Clock, starts_on: date, subject: str | None = None, due_on: date | None = None) -> None:
        """A deadline's start (or, for a date people set, its end) changed: computed again, judged again
        if its step has happened, and otherwise watched to its new end (reminders and escalation anew)."""
        key = deadline_key(clock, subject)
        record = self.case.deadlines.get(key)
        if record is None or record.status is DeadlineStatus.CANCELLED:
            return  # not set yet: it is set from the corrected date when its time comes
        deadline = await self.compute(clock, starts_on, due_on)
        was_due, was = record.due_on, record.status
        record.starts_on, record.due_on, record.due_at, record.rule = (
            deadline.starts_on, deadline.due_on, deadline.due_at, deadline.rule
        )
        self.moves[key] = self.moves.get(key, 0) + 1
        watch = self.watched[key][1]
        self.watched[key] = (deadline, watch)
        self.case.log("deadline_moved", key, f"due {was_due}, now {deadline.due_on} ({deadline.rule})")
        if deadline.due_at > workflow.now():
            self.case.catch_up.overdue_keys.discard(key)  # live again: escalated if missed
        if record.step_on is not None:
            record.status = DeadlineStatus.OPEN
            self.judge(record, record.step_on)
        elif was is DeadlineStatus.MISSED and deadline.due_at > workflow.now():  # watched again to its new end
            record.status = DeadlineStatus.OPEN
            self.watchers.append(asyncio.create_task(self.watch(record, deadline, watch)))
        # an open deadline's watcher wakes (`moves`) and watches the new end
        self.case.publish()

    def cancel(self, clock: Clock, subject: str | None = None) -> None:
        record = self.case.deadlines.get(deadline_key(clock, subject))
        if record is not None and record.status is DeadlineStatus.OPEN:
            record.status = DeadlineStatus.CANCELLED

    def set_aside(self, clock: Clock, why: str) -> None:
        """A clock that no longer applies (a ¶2.4 notification after a decision not to notify), open or
        missed: cancelled, and watched no more; `reopen` puts it back."""
        record = self.case.deadlines.get(deadline_key(clock))
        if record is not None and record.status in (DeadlineStatus.OPEN, DeadlineStatus.MISSED) and not record.step_on:
            record.status = DeadlineStatus.CANCELLED
            self.case.log("deadline_cancelled", deadline_key(clock), why)

    def reopen(self, clock: Clock, why: str) -> None:
        """A clock set aside applies again: missed if it was escalated, else watched again (escalated at
        once if its last day has passed meanwhile)."""
        key = deadline_key(clock)
        record = self.case.deadlines.get(key)
        if record is None or record.status is not DeadlineStatus.CANCELLED or key not in self.watched:
            return
        record.status = DeadlineStatus.MISSED if record.escalated else DeadlineStatus.OPEN
        self.case.log("deadline_reopened", key, why)
        if not record.escalated:
            deadline, watch = self.watched[key]
            self.watchers.append(asyncio.create_task(self.watch(record, deadline, watch)))

    def cancel_all(self) -> None:
        for record in self.case.deadlines.values():
            if record.status is DeadlineStatus.OPEN:
                record.status = DeadlineStatus.CANCELLED
                self.case.log("deadline_cancelled", deadline_key(record.key, record.subject))

    def judge(self, record: DeadlineRecord, step_on: date) -> None:
        if record.status is DeadlineStatus.CANCELLED:
            return
        record.step_on = step_on
        record.recorded_late = workflow.now() >= record.due_at
        record.status = DeadlineStatus.MET if step_on <= record.due_on else DeadlineStatus.MISSED
        late = ", recorded late" if record.recorded_late else ""
        self.case.log(
            f"deadline_{record.status.value}", deadline_key(record.key, record.subject), f"step on {step_on}{late}"
        )

    async def watch(self, record: DeadlineRecord, deadline: Deadline, watch: Watch) -> None:
        """Reminders before the deadline ends, the escalation when it is missed; watched anew when moved."""
        key = deadline_key(record.key, record.subject)
        while await self.watch_once(record, deadline, watch, key, self.moves.get(key, 0)):
            deadline = self.watched[key][0]

    async def watch_once(self, record: DeadlineRecord, deadline: Deadline, watch: Watch, key: str, moves: int) -> bool:
        """Watch one computed deadline; True if it was moved while open (then watch the new one)."""
        about = {
            "deadline_step": record.key.value + (f"/{slug(record.subject)}" if record.subject else ""),
            "deadline_title": record.title,
            "due_on": deadline.due_on,
            "deadline_rule": deadline.rule,
            "needed": deadline.needed,
            "moves": moves,
        }
        reminders = deadline.reminders_at if watch.remind or watch.remind_addresses else []
        for number, reminder_at in enumerate(reminders, start=record.reminders_sent + 1):
            if reminder_at <= workflow.now():
                continue  # a reminder whose moment has passed is not sent late
            if not await self.open_at(record, reminder_at, f"Reminder {number}: {record.title}", key, moves):
                return self.moved_while_open(record, key, moves)
            await self.case.send(
                DeadlineReminder(
                    **about, remind=watch.remind, number=number, addresses=watch.remind_addresses, owner=watch.owner
                )
            )
            record.reminders_sent += 1
        if not await self.open_at(record, deadline.due_at, f"Deadline: {record.title}", key, moves):
            return self.moved_while_open(record, key, moves)
        if watch.reached:  # the clock is met by running out: the Business Unit is told
            record.status, record.step_on = DeadlineStatus.MET, deadline.due_on
            self.case.log("deadline_met", key, f"{deadline.due_on} reached")
            self.case.publish()
            published_on, url = watch.reached
            await self.case.send(PublicUntilReached(**about, published_on=published_on, url=url))
            return False
        record.status = DeadlineStatus.MISSED
        if self.case.catch_up.holds(record):  # it had ended before it was set (catch_up.py): no escalation
            self.case.log("deadline_missed", key, "it had ended before it was set: not escalated")
            self.case.publish()
            return False
        record.escalated = True
        self.case.log("deadline_missed", key, "nothing recorded by the end of the day")
        self.case.publish()
        await self.case.send(DeadlineEscalation(**about, escalate=watch.escalate))
        return False

    def moved_while_open(self, record: DeadlineRecord, key: str, moves: int) -> bool:
        return record.status is DeadlineStatus.OPEN and self.moves.get(key, 0) != moves

    async def open_at(self, record: DeadlineRecord, moment: datetime, summary: str, key: str, moves: int) -> bool:
        """Sleep until `moment` unless the deadline closes or moves first; True if it is open and unmoved then."""
        delay = moment - workflow.now()
        if delay > timedelta(0):
            try:
                await workflow.wait_condition(
                    lambda: record.status is not DeadlineStatus.OPEN or self.moves.get(key, 0) != moves,
                    timeout=delay,
                    # the statute's clocks by their titles; one an agency's or a recommendation's names it
                    timeout_summary=summary if record.subject else Public(summary),
                )
            except asyncio.TimeoutError:
                pass
        return record.status is DeadlineStatus.OPEN and self.moves.get(key, 0) == moves

    async def settle(self, cancel_sends: bool = False) -> None:
        """Let reminders and escalations in flight finish; a withdrawn case stops those still trying."""
        if cancel_sends:
            for watcher in self.watchers:
                watcher.cancel()
            await asyncio.gather(*self.watchers, return_exceptions=True)
            return
        await asyncio.gather(*self.watchers)
