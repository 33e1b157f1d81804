"""What a case expects next at each stage, and from whom: how `starter.py status` tells people what to
do. Derived from the stage only; `tests/test_cli_output.py` checks that every decision named here is one
the journeys take at that stage, and that every open stage says something.
"""

from __future__ import annotations

from models.case import Stage

BUSINESS_UNIT = "the Business Unit"

EXPECTED: dict[Stage, list[tuple[str, str]]] = {
    # serious incident (¶2.6-2.7)
    Stage.DSP_MEETING: [("dsp_decision", "the Delegated Safeguarding Partners (their teleconference)")],
    Stage.CHALLENGE_WINDOW: [
        ("challenge_raised", "the referrer or a safeguarding partner, only if they challenge the decision"),
        ("case_closed", f"{BUSINESS_UNIT}, once satisfied no challenge is coming (cases from 0.3)"),
    ],
    Stage.DISPUTE_RESOLUTION: [("challenge_resolved", f"{BUSINESS_UNIT}, when the dispute resolution procedure ends")],
    Stage.PANEL_NOTIFICATION: [("notification_submitted", "the LA Serious Incident Notifier (CSONS reference and date)")],
    # the Rapid Review (¶4)
    Stage.RAPID_REVIEW: [
        ("panel_acknowledged", "the National Panel"),
        ("rapid_review_convened", f"{BUSINESS_UNIT} (chair, panel, agencies, meeting date)"),
    ],
    Stage.RAPID_REVIEW_MEETING: [
        ("agency_contribution_received", "each agency asked for its chronology"),
        ("rapid_review_meeting_held", "the Rapid Review panel"),
    ],
    Stage.GOVERNANCE: [
        ("executive_decision", "the Executive (whether to commission a local review)"),
        ("chair_sign_off", "the partnership chair (the final decision)"),
    ],
    Stage.AWAITING_PANEL_RESPONSE: [("panel_response", "the National Panel")],
    # the local review (¶5): the case waits on its local review's own next step
    Stage.LOCAL_REVIEW: [],
    Stage.LCSPR_COMMISSIONING: [("reviewer_commissioned", f"{BUSINESS_UNIT} (lead reviewer and methodology)")],
    Stage.LCSPR_TERMS_OF_REFERENCE: [("terms_of_reference_agreed", f"{BUSINESS_UNIT} with the lead reviewer")],
    Stage.LCSPR_REVIEW: [
        ("agency_contribution_received", "each agency named in the Terms of Reference"),
        ("final_report_received", "the lead reviewer"),
    ],
    Stage.LCSPR_PUBLICATION: [
        ("publication_scheduled", f"{BUSINESS_UNIT} (the publication date)"),
        ("published", f"{BUSINESS_UNIT}, once the report is public"),
    ],
    Stage.MONITORING: [("recommendation_updated", "each recommendation's owning agency")],
    # learning request (¶3)
    Stage.PARTNERSHIP_DECISION: [("learning_request_decision", "the partnership")],
    Stage.LEARNING_REVIEW: [("learning_review_completed", "the learning review")],
    Stage.CLOSED: [],
    Stage.WITHDRAWN: [],
}


REPEATS = frozenset({"agency_contribution_received", "recommendation_updated"})  # one per agency, per update


def expected_next(stage: Stage, review_stage: Stage | None = None, recorded: frozenset[str] = frozenset()) -> list[str]:
    """Lines "<decision> from <who>" for the stage (a case in local review: its review's stage),
    leaving out a decision already `recorded` that is taken once."""
    if stage is Stage.LOCAL_REVIEW and review_stage is not None:
        stage = review_stage
    return [f"{decision} from {who}" for decision, who in EXPECTED[stage] if decision in REPEATS or decision not in recorded]
