"""Every clock a case runs, and the activity that computes its dates (DESIGN.md, "Statutory clocks").

Deadlines are computed here, in an activity, never in workflow code: the computed dates go into the
case history, so a new bank holiday in a later `holidays` release cannot change an open case on replay.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import date, timedelta

from temporalio import activity

from activities.routing import PartnershipConfig, load_routing
from models.working_days import (
    add_calendar_months,
    add_working_days,
    at_london_time,
    end_of_day,
    is_working_day,
    working_days_between,
)
from models.case import Clock, Deadline, DeadlineRequest


@dataclass(frozen=True)
class ClockRule:
    title: str
    needed: str
    working_days: int = 0
    months: int = 0
    years: int = 0


CLOCKS: dict[Clock, ClockRule] = {
    # ¶2.6: DSP teleconference and decision; the length is the partnership's (routing file)
    Clock.DSP_MEETING: ClockRule(
        "DSP teleconference and decision",
        "Convene the DSP teleconference and record its decision (dsp_decision).",
        working_days=2,
    ),
    # ¶2.4, ¶4.1: the LA notifies the National Panel within 5 working days of becoming aware
    Clock.PANEL_NOTIFICATION: ClockRule(
        "LA notification to the National Panel",
        "Notify the National Panel through CSONS and record it (notification_submitted).",
        working_days=5,
    ),
    # ¶4.2, ¶4.9: the Rapid Review decision reaches the Panel within 15 working days of notification
    Clock.RAPID_REVIEW_SUBMISSION: ClockRule(
        "Rapid Review submitted to the National Panel",
        "Hold the Rapid Review, take the governance decision and submit it to the National Panel.",
        working_days=15,
    ),
    # ¶4.9: the Panel aims to respond within 15 working days of the submission
    Clock.PANEL_RESPONSE: ClockRule(
        "National Panel response",
        "Chase the National Panel for its response to the Rapid Review (panel_response).",
        working_days=15,
    ),
    # ¶5.1, ¶5.5: the LCSPR is complete and published within 6 months of the decision
    Clock.LCSPR_PUBLICATION: ClockRule(
        "LCSPR published",
        "Complete the local review and publish the final report (published).",
        months=6,
    ),
    # ¶5.5: copies to the Panel, the Secretary of State and Ofsted 7 working days before publication
    Clock.PUBLICATION_COPIES: ClockRule(
        "Copies to the Panel, Secretary of State and Ofsted",
        "Send the full report to the National Panel, the Secretary of State and Ofsted.",
        working_days=-7,
    ),
    # ¶5.5: the report stays public for at least one year
    Clock.PUBLIC_UNTIL: ClockRule(
        "Report kept public",
        "Keep the published report publicly available until this date.",
        years=1,
    ),
    # ¶4.3, ¶5.3: an agency's chronology, summary or report, by the date the review set
    Clock.AGENCY_CONTRIBUTION: ClockRule(
        "Agency contribution",
        "Send the agency's chronology / summary of involvement to the Business Unit.",
    ),
    # ¶5.4: each recommendation, by the date the report set for it
    Clock.RECOMMENDATION: ClockRule(
        "Recommendation",
        "Complete the recommendation and record it (recommendation_updated).",
    ),
    # ¶2.7: how long a "do not notify" stays open to a challenge; the length is the partnership's
    Clock.CHALLENGE_WINDOW: ClockRule(
        "Time to challenge a decision not to notify",
        "Raise any challenge to the decision not to notify (challenge_raised).",
        working_days=10,
    ),
    # ¶2.7: the Professional Challenge, Escalation and Dispute Resolution procedure, from the challenge
    # to its outcome; the protocol sets no time, the length is the partnership's (routing file)
    Clock.DISPUTE_RESOLUTION: ClockRule(
        "Dispute resolved (Professional Challenge, Escalation and Dispute Resolution)",
        "Take the dispute through the procedure and record its outcome (challenge_resolved).",
        working_days=20,
    ),
}


def rule_for(clock: Clock, partnership: PartnershipConfig) -> ClockRule:
    rule = CLOCKS[clock]
    if clock is Clock.DSP_MEETING:
        return ClockRule(rule.title, rule.needed, working_days=partnership.dsp_meeting_working_days)
    if clock is Clock.CHALLENGE_WINDOW:
        return ClockRule(
            rule.title, rule.needed, working_days=partnership.challenge_window_working_days
        )
    if clock is Clock.DISPUTE_RESOLUTION:
        return ClockRule(rule.title, rule.needed, working_days=partnership.dispute_resolution_working_days)
    return rule


def due_date(rule: ClockRule, starts_on: date) -> tuple[date, str]:
    if rule.months or rule.years:
        months = rule.months + 12 * rule.years
        return add_calendar_months(starts_on, months), f"{months} calendar months after {starts_on}"
    days = rule.working_days
    direction = "after" if days >= 0 else "before"
    return add_working_days(starts_on, days), f"{abs(days)} working days {direction} {starts_on}"


@activity.defn
async def compute_deadline(request: DeadlineRequest) -> Deadline:
    """The last day of a clock, the instant it ends and when its reminders go (routing file policy);
    computed in a thread (it reads the routing file)."""
    return await asyncio.to_thread(deadline_of, request)


@activity.defn
async def compute_deadlines(requests: list[DeadlineRequest]) -> list[Deadline]:
    """Clocks started together (from release 0.5: the form's two), as `compute_deadline` computes each,
    in one activity."""
    return await asyncio.to_thread(lambda: [deadline_of(request) for request in requests])


def deadline_of(request: DeadlineRequest) -> Deadline:
    partnership = load_routing().partnership(request.partnership)
    rule = rule_for(request.clock, partnership)
    if request.due_on is not None:  # set by the people running the review
        due_on, how = request.due_on, f"set on {request.starts_on} for {request.due_on}"
    else:
        due_on, how = due_date(rule, request.starts_on)
    policy = partnership.reminders
    length = working_days_between(request.starts_on, due_on) if due_on > request.starts_on else 0
    reminder_days = sorted({add_working_days(due_on, -n) for n in policy.days_before(request.clock, length)})
    return Deadline(
        clock=request.clock,
        title=rule.title,
        needed=rule.needed,
        starts_on=request.starts_on,
        due_on=due_on,
        due_at=end_of_day(due_on),
        reminders_at=[at_london_time(day, policy.at) for day in reminder_days if day > request.starts_on or rule.working_days < 0],
        rule=how,
    )


@activity.defn
async def working_days_from(start: date) -> list[date]:
    """The working days from `start` (itself included) for two years: what a decision validator needs
    to count working days (¶5.5's 7 before publication) without reading the calendar in workflow code."""
    days = (start + timedelta(days=offset) for offset in range(731))
    return await asyncio.to_thread(lambda: [day for day in days if is_working_day(day)])
