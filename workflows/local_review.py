"""A Local Child Safeguarding Practice Review (¶5.1-5.5): a child workflow of its serious-incident case,
with its own timeline in the Web UI. Its id is the case id with `-lcspr`; decisions are sent with the
case's own id (`starter.py decide` routes them here).

  ¶5.1  6 calendar months from the Executive's decision to publication [lcspr_publication]
  ¶5.2  reviewer_commissioned: the lead reviewer and the methodology
  ¶5.3  terms_of_reference_agreed: each agency asked, each due date a clock [agency_contribution]
  ¶5.4  final_report_received: the recommendations, each monitored to completion  -> recommendations.py
  ¶5.5  publication_scheduled: copies to the Panel, the Secretary of State and Ofsted, at the latest
        7 working days before [publication_copies]; published: [public_until] one year
The review ends when the report is published, every recommendation is completed or closed, and the
report has been public for a year.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from activities.deadlines import working_days_from
    from models.case import CaseKind, CaseStatus, Clock, DeadlineStatus, LocalReviewCommission, Role, Stage, deadline_key
    from models.decisions import (
        AgencyContributionReceived,
        DecisionModel,
        DecisionRefused,
        FinalReportReceived,
        PublicationScheduled,
        Published,
        RecommendationUpdated,
        ReviewerCommissioned,
        TermsOfReferenceAgreed,
    )

from workflows.case import ACTIVITY_TIMEOUT, CaseEnded, slug
from workflows.contributions import check_contribution, outstanding
from workflows.recommendations import RecommendationsMonitor

LCSPR_DECISIONS = frozenset(
    {
        "reviewer_commissioned",
        "terms_of_reference_agreed",
        "final_report_received",
        "publication_scheduled",
        "published",
        "recommendation_updated",
    }
)


def local_review_id(case_id: str) -> str:
    return f"{case_id}-lcspr"


@workflow.defn
class LocalReviewWorkflow(RecommendationsMonitor):
    kind = CaseKind.LOCAL_REVIEW
    EXPECTED = {
        Stage.LCSPR_COMMISSIONING: frozenset({"reviewer_commissioned"}),
        Stage.LCSPR_TERMS_OF_REFERENCE: frozenset({"terms_of_reference_agreed"}),
        Stage.LCSPR_REVIEW: frozenset({"agency_contribution_received", "final_report_received"}),
        Stage.LCSPR_PUBLICATION: frozenset(
            {"agency_contribution_received", "publication_scheduled", "published", "recommendation_updated"}
        ),
        Stage.MONITORING: frozenset({"recommendation_updated"}),
    }

    @workflow.init
    def __init__(self, commission: LocalReviewCommission) -> None:
        super().__init__(
            local_authority=commission.local_authority,
            received_on=commission.decided_on,
            referrer_email=None,
            stage=Stage.LCSPR_COMMISSIONING,
        )
        self.commission = commission
        self.partnership = commission.partnership
        self.reviewer: ReviewerCommissioned | None = None
        self.terms: TermsOfReferenceAgreed | None = None
        self.contributions: dict[str, AgencyContributionReceived] = {}
        self.report: FinalReportReceived | None = None
        self.schedule: PublicationScheduled | None = None
        self.copies_sent_on: date | None = None
        self.publication: Published | None = None
        self.working_days: list[date] = []
        self.init_recommendations()

    @workflow.run
    async def run(self, commission: LocalReviewCommission) -> CaseStatus:
        try:
            publication = await self.open_deadline(
                Clock.LCSPR_PUBLICATION, commission.decided_on, [Role.BUSINESS_UNIT]
            )
            await self.until(lambda: self.terms is not None)
            await self.ask_agencies(publication.due_on)
            await self.until(lambda: self.report is not None)
            assert self.report is not None
            self.working_days = await workflow.execute_activity(
                working_days_from,
                self.today(),
                start_to_close_timeout=ACTIVITY_TIMEOUT,
                summary="Calendar: working days ahead, for the ¶5.5 publication rules",
            )
            await self.monitor_recommendations(self.report.recommendations, self.report.received_on)
            await self.until(lambda: self.schedule is not None)
            await self.send_copies()
            await self.until(lambda: self.publication is not None)
            await self.keep_public()
            await self.until(lambda: self.recommendations_finished() and self.public_year_over())
            assert self.publication is not None
            self.close(
                f"LCSPR published on {self.publication.published_on}; every recommendation completed or "
                "closed; public for a year"
            )
        except CaseEnded:
            pass  # the case withdrew its local review; the case tells the Business Unit
        return await self.finish()

    # ---- the journey ------------------------------------------------------------------------------

    async def ask_agencies(self, publication_due_on: date) -> None:
        """¶5.3: each agency in the Terms of Reference is asked for its contribution, by its date."""
        assert self.terms is not None
        for agency in self.terms.agencies:
            await self.send(
                "lcspr_contribution_request",
                [],
                f"lcspr-contribution-request/{slug(agency.name)}",
                {
                    "agency": agency.name,
                    "due_on": agency.contribution_due_on.isoformat(),
                    "publication_due_on": publication_due_on.isoformat(),
                },
                addresses=[agency.email],
                summary=f"¶5.3 Ask {agency.name} for its contribution",
            )
            await self.open_deadline(
                Clock.AGENCY_CONTRIBUTION,
                self.terms.agreed_on,
                [],
                subject=agency.name,
                due_on=agency.contribution_due_on,
                remind_addresses=[agency.email],
                escalate=[Role.BUSINESS_UNIT],
            )

    async def send_copies(self) -> None:
        """¶5.5: a copy to the Panel, the Secretary of State and Ofsted, 7 working days before publication."""
        assert self.schedule is not None
        copies = await self.open_deadline(
            Clock.PUBLICATION_COPIES, self.schedule.publication_on, [Role.BUSINESS_UNIT]
        )
        if self.schedule.copies_sent_on is not None:  # recorded as sent outside the system
            self.copies_sent_on = self.schedule.copies_sent_on
            self.close_deadline(Clock.PUBLICATION_COPIES, self.copies_sent_on)
            self.publish()
            return
        assert self.report is not None
        report_file = self.report.report_file
        await self.send(
            "publication_copies",
            [Role.NATIONAL_PANEL, Role.SECRETARY_OF_STATE, Role.OFSTED, Role.BUSINESS_UNIT],
            "publication-copies",
            {
                "publication_on": self.schedule.publication_on.isoformat(),
                "copies_due_on": copies.due_on.isoformat(),
                "report_note": "The full report is attached."
                if report_file
                else "The Business Unit sends the full report itself with this notice.",
            },
            document=report_file,
            summary="¶5.5 Copies to the National Panel, the Secretary of State and Ofsted",
        )
        self.copies_sent_on = self.today()
        self.close_deadline(Clock.PUBLICATION_COPIES, self.copies_sent_on)
        self.publish()

    async def keep_public(self) -> None:
        """¶5.5: public for at least a year; the Business Unit is told when the year is over."""
        assert self.publication is not None
        await self.open_deadline(
            Clock.PUBLIC_UNTIL,
            self.publication.published_on,
            [],
            reached="public_until_reached",
            context={
                "published_on": self.publication.published_on.isoformat(),
                "url": self.publication.url,
            },
        )

    def public_year_over(self) -> bool:
        public = self.deadlines.get(deadline_key(Clock.PUBLIC_UNTIL))
        return public is not None and public.status is DeadlineStatus.MET

    # ---- decisions --------------------------------------------------------------------------------

    def step_answered(self, name: str) -> tuple[str, date]:
        if name == "terms_of_reference_agreed" and self.reviewer:
            return "the reviewer's commissioning", self.reviewer.commissioned_on
        if name in {"agency_contribution_received", "final_report_received"} and self.terms:
            return "the terms of reference", self.terms.agreed_on
        if name in {"published", "recommendation_updated"} and self.report:
            return "the final report", self.report.received_on
        return "the decision to commission the review", self.commission.decided_on

    def check_decision(self, decision: DecisionModel) -> None:
        if isinstance(decision, RecommendationUpdated):
            self.check_recommendation_update(decision)
        elif isinstance(decision, AgencyContributionReceived):
            asked = [a.name for a in self.terms.agencies] if self.terms else []
            check_contribution(decision, asked, self.contributions)
        elif isinstance(decision, PublicationScheduled):
            self.check_publication_date(decision)
        elif isinstance(decision, Published) and self.copies_sent_on is None:
            raise DecisionRefused(
                "published: schedule the publication first (publication_scheduled): the copies to the "
                "Panel, the Secretary of State and Ofsted go 7 working days before"
            )

    def check_publication_date(self, schedule: PublicationScheduled) -> None:
        """¶5.5: the copies go at the latest 7 working days before publication. A date that leaves less
        is refused, unless the copies have gone (sent by the case, or recorded as sent), or the date is
        past (a case entered after the fact: the copies go now and their deadline shows how late)."""
        today, publication_on = self.today(), schedule.publication_on
        if self.copies_sent_on is not None or schedule.copies_sent_on is not None or publication_on < today:
            return
        if not self.working_days:
            raise DecisionRefused("publication_scheduled: the calendar is still being read; send it again")
        if publication_on > self.working_days[-1]:
            return  # more than two years ahead: there is time
        working_days_left = len([d for d in self.working_days if today <= d < publication_on])
        if working_days_left < 7:
            raise DecisionRefused(
                f"publication_scheduled: publication_on ({publication_on}) leaves {working_days_left} working "
                "days for the copies to the Panel, the Secretary of State and Ofsted; ¶5.5 needs 7"
            )

    def apply(self, name: str, decision: DecisionModel) -> None:
        if isinstance(decision, ReviewerCommissioned):
            self.reviewer = decision
            self.stage = Stage.LCSPR_TERMS_OF_REFERENCE
        elif isinstance(decision, TermsOfReferenceAgreed):
            self.terms = decision
            self.stage = Stage.LCSPR_REVIEW
        elif isinstance(decision, AgencyContributionReceived):
            self.contributions[decision.agency] = decision
            self.close_deadline(Clock.AGENCY_CONTRIBUTION, decision.received_on, subject=decision.agency)
        elif isinstance(decision, FinalReportReceived):
            self.report = decision
            self.record_recommendations(decision.recommendations)
            self.stage = Stage.LCSPR_PUBLICATION
        elif isinstance(decision, PublicationScheduled):
            self.schedule = decision
        elif isinstance(decision, Published):
            self.publication = decision
            self.close_deadline(Clock.LCSPR_PUBLICATION, decision.published_on)
            self.stage = Stage.MONITORING
        elif isinstance(decision, RecommendationUpdated):
            self.apply_recommendation_update(decision)
        else:
            raise AssertionError(f"no transition for {name}")

    def details(self) -> dict[str, Any]:
        publication = self.deadlines.get(deadline_key(Clock.LCSPR_PUBLICATION))
        return {
            "case_id": self.commission.case_id,
            "lead_reviewer": self.reviewer.lead_reviewer if self.reviewer else None,
            "methodology": self.reviewer.methodology if self.reviewer else None,
            "agency_contributions": outstanding(
                [(a.name, a.contribution_due_on) for a in self.terms.agencies] if self.terms else [],
                self.contributions,
            ),
            "publication_on": self.schedule.publication_on if self.schedule else None,
            "publication_planned_late": bool(
                self.schedule and publication and self.schedule.publication_on > publication.due_on
            ),
            "copies_sent_on": self.copies_sent_on,
            "published_on": self.publication.published_on if self.publication else None,
            "url": self.publication.url if self.publication else None,
            "recommendations": [r.model_dump(mode="json") for r in self.recommendations.values()],
        }
