"""Agency contributions (¶4.3, ¶5.3): asked for by a Rapid Review and by a local review alike.

Each agency is asked by e-mail and gets a clock of its own [agency_contribution], running from the day
the review asked to the date it set; `agency_contribution_received` records each contribution once.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date
from typing import TYPE_CHECKING, Any

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from models.case import Clock, Role, Stage
    from models.decisions import Agency, AgencyContributionReceived, DecisionRefused
    from models.messages import Message

from workflows.clocks import Watch
from workflows.intake import Step, Table, Takes, at

if TYPE_CHECKING:
    from workflows.case import Case

# A Rapid Review's contributions, once it is convened (¶4.3); a local review's, once its terms are agreed (¶5.3).
ASKED = at(Stage.RAPID_REVIEW_MEETING, Stage.GOVERNANCE, Stage.LCSPR_REVIEW, Stage.LCSPR_PUBLICATION)


class AgencyContributions:
    def __init__(self, case: Case, answers: Callable[[], Step | None]) -> None:
        self.case = case
        self.answers = answers  # the step a contribution cannot precede
        self.named: list[tuple[str, date]] = []  # each agency the review asks, with its due date
        self.received: dict[str, AgencyContributionReceived] = {}

    def name(self, agencies: list[tuple[str, date]]) -> None:
        """The agencies a review asks and their due dates, as its decision names them."""
        self.named = agencies

    async def ask(self, requests: Sequence[tuple[Agency, date, Message]], asked_on: date) -> None:
        """Ask each agency (its request message, to its address), and start its clock from `asked_on` to
        its due date."""
        for agency, due_on, request in requests:
            await self.case.send(request.model_copy(update={"addresses": [agency.email]}))
            await self.case.clocks.start(
                Clock.AGENCY_CONTRIBUTION,
                asked_on,
                Watch(remind=[], remind_addresses=[agency.email], escalate=[Role.BUSINESS_UNIT]),
                subject=agency.name,
                due_on=due_on,
            )

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

    def contribution_received(self, decision: AgencyContributionReceived) -> None:
        self.received[decision.agency] = decision
        self.case.clocks.stop(Clock.AGENCY_CONTRIBUTION, decision.received_on, subject=decision.agency)

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

    DECISIONS: Table = (
        Takes(AgencyContributionReceived, ASKED,
              then=contribution_received, after=since, check=check_received, repeats=True),
    )
