"""Agency contributions (¶4.3, ¶5.3): asked for by a Rapid Review and by a local review alike.

Each agency is asked by e-mail and gets a clock of its own [agency_contribution], running from the day
the review asked to the date it set; `agency_contribution_received` records each contribution once.
Once the first agencies are asked, `agency_added` asks one more (its request, its clock) and
`contribution_due_extended` gives one more time (its clock moved, the agency told).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from datetime import date
from typing import TYPE_CHECKING, Any

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from models.case import FINAL_STAGES, Clock, Role, Stage, deadline_key
    from models.decisions import Agency, AgencyAdded, AgencyContributionReceived, ContributionDueExtended, DecisionRefused
    from models.messages import AgencyRequest, ContributionDueExtendedNotice, Message

from workflows.clocks import Watch
from workflows.versions import MOVES_STARTED_CLOCKS, changed
from workflows.intake import Step, Table, Takes, at

if TYPE_CHECKING:
    from workflows.case import Case

# A Rapid Review's contributions, once it is convened (¶4.3); a local review's, once its terms are agreed (¶5.3).
ASKED = at(Stage.RAPID_REVIEW_MEETING, Stage.GOVERNANCE, Stage.LCSPR_REVIEW, Stage.LCSPR_PUBLICATION)



async def agencies_redated(owner: Any, decision: Any) -> None:
    """`Takes.corrected` of the convening and of the terms of reference (from 0.3): each agency's clock
    runs to its corrected due date (the convening's one date, or each agency's own)."""
    if changed(MOVES_STARTED_CLOCKS):
        shared = getattr(decision, "contributions_due_on", None)
        dues = [(a.name, getattr(a, "contribution_due_on", None) or shared) for a in decision.agencies]
        await owner.contributions.redate(dues)

class AgencyContributions:
    def __init__(self, case: Case, answers: Callable[[], Step | None]) -> None:
        self.case = case
        self.answers = answers  # the step a contribution cannot precede
        self.named: list[tuple[str, date]] = []  # each agency the review asks, with its due date
        self.received: dict[str, AgencyContributionReceived] = {}
        self.emails: dict[str, str] = {}  # each agency asked, its address
        self.first_request: AgencyRequest | None = None  # what an agency added later is sent
        self.changes: list[AgencyAdded | ContributionDueExtended] = []  # recorded, not yet carried out
        self.extensions = 0

    def name(self, agencies: list[tuple[str, date]]) -> None:
        """The agencies a review asks and their due dates, as its decision names them."""
        self.named = agencies

    async def ask(self, requests: Sequence[tuple[Agency, date, AgencyRequest]], asked_on: date) -> None:
        """Ask each agency (its request message, to its address), and start its clock from `asked_on` to
        its due date; then carry out the changes recorded after (`agency_added`, `contribution_due_extended`)."""
        for agency, due_on, request in requests:
            self.emails[agency.name] = agency.email
            await self.case.send(request.model_copy(update={"addresses": [agency.email]}))
            await self.case.clocks.start(
                Clock.AGENCY_CONTRIBUTION,
                asked_on,
                Watch(remind=[], remind_addresses=[agency.email], escalate=[Role.BUSINESS_UNIT]),
                subject=agency.name,
                due_on=due_on,
            )
        if self.first_request is None and requests:
            self.first_request = requests[0][2]
            self.case.clocks.watchers.append(asyncio.create_task(self.carry_out_changes()))

    async def carry_out_changes(self) -> None:
        """Each change as it is recorded, until the case ends."""
        while True:
            await workflow.wait_condition(lambda: bool(self.changes) or self.case.stage in FINAL_STAGES)
            if not self.changes:
                return
            change = self.changes.pop(0)
            if isinstance(change, AgencyAdded):
                assert self.first_request is not None
                request = self.first_request.model_copy(
                    update={"agency": change.agency.name, "due_on": change.contribution_due_on}
                )
                await self.ask([(change.agency, change.contribution_due_on, request)], asked_on=change.added_on)
            else:
                await self.extend(change)

    async def extend(self, change: ContributionDueExtended) -> None:
        record = self.case.deadlines[deadline_key(Clock.AGENCY_CONTRIBUTION, change.agency)]
        assert record.starts_on is not None
        await self.case.clocks.move(
            Clock.AGENCY_CONTRIBUTION, record.starts_on, subject=change.agency, due_on=change.contribution_due_on
        )
        self.extensions += 1
        await self.case.send(
            ContributionDueExtendedNotice(
                agency=change.agency,
                due_on=change.contribution_due_on,
                reason=change.reason,
                number=self.extensions,
                addresses=[self.emails[change.agency]],
            )
        )

    async def redate(self, dues: list[tuple[str, date]]) -> None:
        """A correction's due dates (of the convening, of the terms of reference): each agency's clock
        moved to its corrected date, judged again if its contribution is in."""
        corrected = dict(dues)
        self.named = [(agency, corrected.get(agency, due_on)) for agency, due_on in self.named]
        for agency, due_on in dues:
            record = self.case.deadlines.get(deadline_key(Clock.AGENCY_CONTRIBUTION, agency))
            if record is not None and record.starts_on is not None and record.due_on != due_on:
                await self.case.clocks.move(Clock.AGENCY_CONTRIBUTION, record.starts_on, subject=agency, due_on=due_on)

    def check_added(self, decision: AgencyAdded) -> None:
        """An agency not asked yet, due no earlier than the day it is added."""
        name = decision.agency.name
        if name.casefold() in {agency.casefold() for agency, _ in self.named}:
            raise DecisionRefused(f"agency_added: {name} is already asked; to give it more time: contribution_due_extended")
        if decision.contribution_due_on < decision.added_on:
            raise DecisionRefused(
                f"agency_added: contribution_due_on ({decision.contribution_due_on}) is before added_on ({decision.added_on})"
            )

    def added(self, decision: AgencyAdded) -> None:
        self.named.append((decision.agency.name, decision.contribution_due_on))
        self.changes.append(decision)

    def check_extended(self, decision: ContributionDueExtended) -> None:
        """An agency asked, its contribution not in, given a later date than it had."""
        due = dict(self.named)
        if decision.agency not in due:
            raise DecisionRefused(
                f"contribution_due_extended: {decision.agency} was not asked to contribute; asked: {', '.join(due) or 'none yet'}"
            )
        if decision.agency in self.received:
            raise DecisionRefused(f"contribution_due_extended: the contribution of {decision.agency} is already recorded")
        if decision.contribution_due_on <= due[decision.agency]:
            raise DecisionRefused(
                f"contribution_due_extended: contribution_due_on ({decision.contribution_due_on}) is not after "
                f"the date it had ({due[decision.agency]})"
            )

    def extended(self, decision: ContributionDueExtended) -> None:
        self.named = [(a, decision.contribution_due_on if a == decision.agency else d) for a, d in self.named]
        self.changes.append(decision)

    def check_received(self, decision: AgencyContributionReceived) -> None:
        """A contribution comes from an agency that was asked, once."""
        asked = [agency for agency, _ in self.named]
        if decision.agency not in asked:
            raise DecisionRefused(
                f"agency_contribution_received: {decision.agency} was not asked to contribute; "
                f"asked: {', '.join(asked) or 'none yet'}"
            )
        if decision.agency in self.received:
            raise DecisionRefused(f"agency_contribution_received: the contribution of {decision.agency} is already recorded")

    def outstanding(self) -> list[dict[str, Any]]:
        """Per agency named: what is outstanding, for `status`."""
        return [
            {
                "agency": agency,
                "due_on": due_on,
                "received_on": self.received[agency].received_on if agency in self.received else None,
                "outstanding": agency not in self.received,
            }
            for agency, due_on in self.named
        ]

    def since(self) -> Step | None:
        return self.answers()

    def asked(self) -> bool:
        return self.first_request is not None

    DECISIONS: Table = (
        Takes(AgencyContributionReceived, ASKED,
              keep="received", each="agency", stops=Clock.AGENCY_CONTRIBUTION,
              after=since, check=check_received, repeats=True),
        Takes(AgencyAdded, ASKED,
              then=added, after=since, check=check_added, repeats=True, now=asked),
        Takes(ContributionDueExtended, ASKED,
              then=extended, after=since, check=check_extended, repeats=True, now=asked),
    )
