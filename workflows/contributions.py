"""Agency contributions, asked for by a Rapid Review (¶4.3) and by a local review (¶5.3) alike."""

from __future__ import annotations

from datetime import date
from typing import Any

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from models.decisions import AgencyContributionReceived, DecisionRefused


def check_contribution(
    decision: AgencyContributionReceived, asked: list[str], received: dict[str, AgencyContributionReceived]
) -> None:
    """A contribution comes from an agency that was asked, once."""
    if decision.agency not in asked:
        raise DecisionRefused(
            f"agency_contribution_received: {decision.agency} was not asked to contribute; "
            f"asked: {', '.join(asked) or 'none yet'}"
        )
    if decision.agency in received:
        raise DecisionRefused(f"agency_contribution_received: {decision.agency}'s is already recorded")


def outstanding(
    asked: list[tuple[str, date]], received: dict[str, AgencyContributionReceived]
) -> list[dict[str, Any]]:
    """Per agency asked (name, due date): what is outstanding, for `status`."""
    return [
        {
            "agency": agency,
            "due_on": due_on,
            "received_on": received[agency].received_on if agency in received else None,
            "outstanding": agency not in received,
        }
        for agency, due_on in asked
    ]
