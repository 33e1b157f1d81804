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

import asyncio
from datetime import date, timedelta
from typing import Any, ClassVar

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from activities.deadlines import working_days_from
    from models.case import FINAL_STAGES, CaseKind, CaseStatus, Clock, DeadlineStatus, LocalReviewCommission, Role, Stage, deadline_key
    from models.decisions import DecisionRefused, FinalReportReceived, PublicationScheduled, PublicationWithdrawn
    from models.decisions import Published, ReviewerCommissioned, TermsOfReferenceAgreed
    from models import messages

from workflows.case import Case
from workflows.case_workflow import CaseWorkflow
from workflows.versions import PROTOCOL_ROUTES, PUBLICATION_DATE_MOVES_COPIES, changed
from workflows.clocks import Watch
from workflows.contributions import AgencyContributions, agencies_redated
from workflows.intake import Step, Table, Takes, answered, at
from workflows.recommendations import Recommendations, recommendations_redated
from workflows.retries import ABANDONED_WHEN_WITHDRAWN, CONFIGURATION

CALENDAR_TIMEOUT = timedelta(minutes=1)


def local_review_id(case_id: str) -> str:
    return f"{case_id}-lcspr"


@workflow.defn
class LocalReviewWorkflow(CaseWorkflow):
    """A local review from its commissioning to a year public and every recommendation done (¶5)."""

    PARTS = (AgencyContributions, Recommendations)
    OPENED_BY = "the decision to commission the review"

    @workflow.init
    def __init__(self, *submitted: Any) -> None:
        commission = self.read_start(LocalReviewCommission, submitted)
        if commission is None:
            return
        self.case = Case(
            kind=CaseKind.LOCAL_REVIEW,
            local_authority=commission.local_authority,
            received_on=commission.decided_on,
            referrer_email=None,
            stage=Stage.LCSPR_COMMISSIONING,
            details=self.details,
        )
        self.case.partnership = commission.partnership
        self.case.signing_id = commission.case_id  # staff sign with the case's own id
        self.commission = commission
        self.reviewer: ReviewerCommissioned | None = None
        self.terms: TermsOfReferenceAgreed | None = None
        self.contributions = AgencyContributions(self.case, answers=lambda: answered(self, "terms"))
        self.report: FinalReportReceived | None = None
        self.recommendations = Recommendations(self.case, answers=lambda: answered(self, "report"))
        self.schedule: PublicationScheduled | None = None
        self.copies_sent_on: date | None = None
        self.copies_not_sent = False  # the publication date had passed when the copies were due to go
        self.new_dates: list[date] = []  # publication dates scheduled again, the copies' deadline to move
        self.publication: Published | None = None
        self.commission_dates: list[date] = []  # the Executive's decision as corrected on the case
        self.publication_withdrawal: PublicationWithdrawn | None = None
        self.working_days: list[date] = []
        self.open_intake(signed_decisions=commission.signed_decisions)
        self.case.routes = changed(PROTOCOL_ROUTES)

    def parts(self) -> list[Any]:
        return [self.contributions, self.recommendations]

    def withdrawal_after(self) -> Step | None:
        """Its case withdraws it with the case's own withdrawal, which may be dated before the review began."""
        return ("the case's opening", date(1900, 1, 1))

    @workflow.run
    async def run(self, *submitted: Any) -> CaseStatus:
        """Starts from the Executive's decision to commission it (`LocalReviewCommission`)."""
        return await self.run_case()

    async def withdrawn_case(self) -> None:
        """The case withdrew its local review and tells the Business Unit; from 0.3 the agencies asked
        to contribute are told here that nothing more is needed."""
        withdrawal, terms = self.case.withdrawal, self.terms
        if self.case.routes and withdrawal is not None and terms is not None:
            addresses = [agency.email for agency in terms.agencies]
            await self.case.send(messages.ReviewWithdrawnToAgencies(withdrawn_on=withdrawal.withdrawn_on, addresses=addresses))

    # ---- the journey ------------------------------------------------------------------------------

    @workflow.signal(name="commission_dated")
    def commission_dated(self, decided_on: date) -> None:
        """Its case's Executive decision corrected to another date: the 6 months run from it (¶5.1)."""
        self.commission_dates.append(decided_on)

    async def follow_commission_dates(self) -> None:
        while True:
            await workflow.wait_condition(lambda: bool(self.commission_dates) or self.case.stage in FINAL_STAGES)
            if not self.commission_dates:
                return
            await self.case.clocks.move(Clock.LCSPR_PUBLICATION, self.commission_dates.pop(0))

    async def journey(self) -> None:
        case = self.case
        watch = Watch(remind=[Role.BUSINESS_UNIT])
        publication = await case.clocks.start(Clock.LCSPR_PUBLICATION, self.commission.decided_on, watch)
        case.clocks.watchers.append(asyncio.create_task(self.follow_commission_dates()))
        await case.until(lambda: self.terms is not None)
        await self.ask_agencies(publication.due_on)
        await case.until(lambda: self.report is not None)
        assert self.report is not None
        self.working_days = await workflow.execute_activity(
            working_days_from,
            case.today(),
            start_to_close_timeout=CALENDAR_TIMEOUT,
            retry_policy=CONFIGURATION,
            cancellation_type=ABANDONED_WHEN_WITHDRAWN,
            summary="Calendar: working days ahead, for the ¶5.5 publication rules",
        )
        await self.recommendations.monitor(self.report.recommendations, self.report.received_on)
        await case.until(lambda: self.schedule is not None)
        await self.send_copies()
        while self.publication is None:  # a publication date changed meanwhile: the copies' deadline follows
            await case.until(lambda: self.publication is not None or bool(self.new_dates))
            if self.new_dates and changed(PUBLICATION_DATE_MOVES_COPIES):
                await case.clocks.move(Clock.PUBLICATION_COPIES, self.new_dates[-1])
            self.new_dates.clear()
        if case.routes:
            await self.copies_judged_by_publication()
        await self.keep_public()
        await case.until(lambda: self.recommendations.finished() and (self.public_year_over() or self.taken_down()))
        assert self.publication is not None
        public = f"taken down on {self.publication_withdrawal.withdrawn_on}" if self.publication_withdrawal else "public for a year"
        case.close(f"LCSPR published on {self.publication.published_on}; every recommendation completed or closed; {public}")

    async def ask_agencies(self, publication_due_on: date) -> None:
        """¶5.3: each agency in the Terms of Reference is asked for its contribution, by its date."""
        assert self.terms is not None
        requests = [
            (a, a.contribution_due_on, messages.LcsprContributionRequest(agency=a.name, due_on=a.contribution_due_on,
                                                                         publication_due_on=publication_due_on))
            for a in self.terms.agencies
        ]
        await self.contributions.ask(requests, asked_on=self.terms.agreed_on)

    async def send_copies(self) -> None:
        """¶5.5: a copy to the Panel, the Secretary of State and Ofsted, 7 working days before publication."""
        case, schedule = self.case, self.schedule
        assert schedule is not None
        watch = Watch(remind=[Role.BUSINESS_UNIT])
        copies = await case.clocks.start(Clock.PUBLICATION_COPIES, schedule.publication_on, watch)
        if schedule.copies_sent_on is not None:  # recorded as sent outside the system
            self.copies_sent_on = schedule.copies_sent_on
            case.clocks.stop(Clock.PUBLICATION_COPIES, self.copies_sent_on)
            case.publish()
            return
        assert self.report is not None
        report_file = self.report.report_file
        copies_message = await case.send(
            messages.PublicationCopies(
                publication_on=schedule.publication_on,
                copies_due_on=copies.due_on,
                report_note="The full report is attached."
                if report_file
                else "The Business Unit sends the full report itself with this notice.",
                document=report_file,
            )
        )
        if copies_message.status == "not_sent":  # the publication date had passed (catch_up.py): the
            self.copies_not_sent = True  # copies deadline stays as judged, until their date is recorded
            return
        self.copies_sent_on = case.today()
        case.clocks.stop(Clock.PUBLICATION_COPIES, self.copies_sent_on)
        case.publish()

    async def keep_public(self) -> None:
        """¶5.5: public for at least a year; the Business Unit is told when the year is over."""
        assert self.publication is not None
        reached = (self.publication.published_on, self.publication.url)
        watch = Watch(remind=[], reached=reached)
        await self.case.clocks.start(Clock.PUBLIC_UNTIL, self.publication.published_on, watch)

    async def copies_judged_by_publication(self) -> None:
        """¶5.5: the copies go 7 working days before the date of publication, the actual one (from 0.3)."""
        assert self.publication is not None
        copies = self.case.deadlines.get(deadline_key(Clock.PUBLICATION_COPIES))
        if copies is not None and copies.starts_on != self.publication.published_on:
            await self.case.clocks.move(Clock.PUBLICATION_COPIES, self.publication.published_on)
            self.case.publish()

    def taken_down(self) -> bool:
        return self.publication_withdrawal is not None

    def publication_withdrawn(self, decision: PublicationWithdrawn) -> None:
        """¶5.5: public for at least a year; a report taken down before is judged by the day it was."""
        public = self.case.deadlines.get(deadline_key(Clock.PUBLIC_UNTIL))
        if public is None or public.status is not DeadlineStatus.OPEN:
            return
        public.step_on = decision.withdrawn_on
        public.status = DeadlineStatus.MISSED if decision.withdrawn_on < public.due_on else DeadlineStatus.MET
        self.case.log(f"deadline_{public.status.value}", deadline_key(Clock.PUBLIC_UNTIL), f"taken down on {decision.withdrawn_on}")

    def public_year_over(self) -> bool:
        public = self.case.deadlines.get(deadline_key(Clock.PUBLIC_UNTIL))
        return public is not None and public.status is DeadlineStatus.MET

    # ---- its decisions ----------------------------------------------------------------------------

    def check_publication_date(self, schedule: PublicationScheduled) -> None:
        """¶5.5: the copies go at the latest 7 working days before publication. A date that leaves less
        is refused, unless the copies have gone (sent by the case, or recorded as sent), or the date is
        past (a case entered after the fact: the copies are not sent, catch_up.py)."""
        today, publication_on = self.case.today(), schedule.publication_on
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

    def scheduled(self, schedule: PublicationScheduled) -> None:
        """A schedule recorded again with the date the copies went (not sent by the case: their date had
        passed when it was entered) judges the copies deadline by that date."""
        if self.copies_sent_on is not None or self.copies_not_sent:
            self.new_dates.append(schedule.publication_on)
        if self.copies_not_sent and schedule.copies_sent_on is not None:
            self.copies_sent_on = schedule.copies_sent_on
            self.case.clocks.rejudge(Clock.PUBLICATION_COPIES, schedule.copies_sent_on)

    def check_copies_sent(self, publication: Published) -> None:
        if self.copies_sent_on is None and not self.copies_not_sent:
            raise DecisionRefused(
                "published: schedule the publication first (publication_scheduled, with copies_sent_on if the "
                "copies went outside the system): the copies to the Panel, the Secretary of State and Ofsted "
                "go 7 working days before"
            )

    def terms_agreed(self, decision: TermsOfReferenceAgreed) -> None:
        self.contributions.name([(a.name, a.contribution_due_on) for a in decision.agencies])

    def report_received(self, decision: FinalReportReceived) -> None:
        self.recommendations.made(decision.recommendations)

    DECISIONS: ClassVar[Table] = (
        Takes(ReviewerCommissioned, at(Stage.LCSPR_COMMISSIONING),
              keep="reviewer", moves_to=Stage.LCSPR_TERMS_OF_REFERENCE),
        Takes(TermsOfReferenceAgreed, at(Stage.LCSPR_TERMS_OF_REFERENCE),
              keep="terms", then=terms_agreed, moves_to=Stage.LCSPR_REVIEW, after="reviewer",
              corrected=agencies_redated, tells=(messages.LcsprContributionRequest,)),
        Takes(FinalReportReceived, at(Stage.LCSPR_REVIEW),
              keep="report", then=report_received, moves_to=Stage.LCSPR_PUBLICATION, after="terms", corrected=recommendations_redated),
        Takes(PublicationScheduled, at(Stage.LCSPR_PUBLICATION),
              keep="schedule", then=scheduled, check=check_publication_date, repeats=True),
        Takes(Published, at(Stage.LCSPR_PUBLICATION),
              keep="publication", stops=Clock.LCSPR_PUBLICATION, moves_to=Stage.MONITORING,
              after="report", check=check_copies_sent, starts=Clock.PUBLIC_UNTIL),
        Takes(PublicationWithdrawn, at(Stage.MONITORING),
              keep="publication_withdrawal", then=publication_withdrawn, after="publication",
              now=lambda r: r.case.routes and r.publication_withdrawal is None),
    )

    def details(self) -> dict[str, Any]:
        publication = self.case.deadlines.get(deadline_key(Clock.LCSPR_PUBLICATION))
        return {
            "case_id": self.commission.case_id,
            "lead_reviewer": self.reviewer.lead_reviewer if self.reviewer else None,
            "methodology": self.reviewer.methodology if self.reviewer else None,
            "agency_contributions": self.contributions.outstanding(),
            "publication_on": self.schedule.publication_on if self.schedule else None,
            "publication_planned_late": bool(
                self.schedule and publication and self.schedule.publication_on > publication.due_on
            ),
            "copies_sent_on": self.copies_sent_on,
            "published_on": self.publication.published_on if self.publication else None,
            "url": self.publication.url if self.publication else None,
            "publication_withdrawn_on": self.publication_withdrawal.withdrawn_on if self.publication_withdrawal else None,
            "recommendations": self.recommendations.listed(),
        }
