"""The Rapid Review report (¶4.6, ¶4.8), rendered as a Word document staff can open and edit.

Written under SAFEGUARDING_REPORTS_DIR/<case id>/: a draft for the Executive's review governance
meeting, and once the partnership chair has signed off (¶4.9), the final report for the National Panel.
Rendering the same case twice gives the same content (only the time in its properties differs), so an
activity retry is harmless. The authority and the partnership are named as the routing file names them.
"""

from __future__ import annotations

import os
from pathlib import Path

import asyncio

from temporalio import activity
from temporalio.exceptions import ApplicationError

import settings
from activities.documents import bullets, new_document, table, written_out
from activities.files import case_folder
from activities.routing import load_routing
from models.forms import LocalAuthority
from models.reports import RapidReviewReportRequest, RenderedReport

CRITERIA_QUESTIONS = {  # ¶4.6
    "improvements_needed": "Does the case highlight or may it highlight improvements needed to safeguard "
    "and promote the welfare of children, including where those improvements have been previously identified?",
    "recurrent_themes": "Does the case highlight or may it highlight recurrent themes in the safeguarding "
    "and promotion of the welfare of children?",
    "multi_agency_concerns": "Does the case highlight or may it highlight concerns regarding two or more "
    "organisations or agencies working together effectively to safeguard and promote the welfare of children?",
    "panel_suggested_local_review": "Is this a case the National Panel has considered and concluded a local "
    "review may be more appropriate?",
}
CIRCUMSTANCES_QUESTIONS = {  # ¶4.7
    "single_agency_concern": "Is there cause for concern about the actions of a single agency?",
    "no_agency_involvement": "Has there been no agency involvement, and does this give cause for concern?",
    "cross_boundary": "Is more than one local authority, police area or ICB involved, including where a "
    "family has moved around?",
    "institutional_setting": "May the case raise issues related to safeguarding or promoting the welfare "
    "of children in institutional settings?",
}
RECOMMENDATIONS = {
    "lcspr": "Undertake a local Child Safeguarding Practice Review",
    "national_review": "Recommend that a national Child Safeguarding Practice Review be considered",
    "no_review": "Do not undertake a Child Safeguarding Practice Review",
}


def report_path(case_id: str, final: bool) -> Path:
    name = "rapid-review-report-final.docx" if final else "rapid-review-report-draft.docx"
    return case_folder(settings.reports_dir(), case_id) / name


def render(request: RapidReviewReportRequest) -> Path:
    meeting, convened = request.meeting, request.convened
    routing = load_routing()  # the authority and the partnership by their names, as readers know them
    authority = routing.authority(LocalAuthority(request.local_authority)).name
    partnership = routing.partnership(request.partnership).name
    document = new_document(f"Rapid Review report, case {request.case_id}", partnership)
    document.add_heading("Rapid Review report", level=0)
    document.add_paragraph(partnership)
    table(
        document,
        [
            ("Case reference", request.case_id),
            ("CSONS reference", request.csons_reference),
            ("Local authority", authority),
            ("Safeguarding partnership", partnership),
            ("Notified to the National Panel", written_out(request.notified_on)),
            ("Rapid Review chair", convened.chair),
            ("Panel members", "; ".join(convened.panel_members)),
            ("Rapid Review meeting held", written_out(meeting.held_on)),
        ],
    )
    document.add_heading("Facts of the case (¶4.5)", level=1)
    document.add_paragraph(meeting.facts)

    document.add_heading("Agency involvement and contributions (¶4.3)", level=1)
    received = {c.agency: c for c in request.contributions}
    table(
        document,
        [
            (
                agency.name,
                f"{received[agency.name].kind.replace('_', ' ').capitalize()} received "
                f"{written_out(received[agency.name].received_on)}"
                if agency.name in received
                else f"Outstanding (due {written_out(convened.contributions_due_on)})",
            )
            for agency in convened.agencies
        ],
        header=("Agency", "Contribution"),
    )
    document.add_heading("Immediate action to ensure children's safety (¶4.5)", level=1)
    bullets(document, meeting.immediate_actions)
    document.add_heading("Potential improvements (¶4.5)", level=1)
    bullets(document, meeting.improvements)

    document.add_heading("Criteria for a local review (¶4.6)", level=1)
    criteria = meeting.criteria.model_dump()
    table(document, [(q, "Yes" if criteria[k] else "No") for k, q in CRITERIA_QUESTIONS.items()], ("Question", "Answer"))
    document.add_heading("Circumstances (¶4.7)", level=1)
    circumstances = meeting.circumstances.model_dump()
    table(
        document,
        [(q, "Yes" if circumstances[k] else "No") for k, q in CIRCUMSTANCES_QUESTIONS.items()],
        ("Question", "Answer"),
    )
    document.add_heading("Recommendation of the Rapid Review panel (¶4.5)", level=1)
    document.add_paragraph(RECOMMENDATIONS[meeting.recommendation])
    document.add_paragraph(f"Rationale: {meeting.rationale}")

    if request.executive is not None:
        document.add_heading("Decision of the Executive (¶4.6)", level=1)
        commissioned = "commissioned" if request.executive.commission_lcspr else "not commissioned"
        document.add_paragraph(
            f"On {written_out(request.executive.decided_on)} a local Child Safeguarding Practice Review was {commissioned}."
        )
        document.add_paragraph(f"Rationale: {request.executive.rationale}")
    if request.sign_off is not None:
        document.add_heading("Final decision of the partnership chair (¶4.9)", level=1)
        document.add_paragraph(request.sign_off.final_decision)
        document.add_paragraph(f"Signed off by {request.sign_off.chair} on {written_out(request.sign_off.signed_on)}.")

    path = report_path(request.case_id, final=request.sign_off is not None)
    settings.private_folder(path.parent)
    temporary = path.with_suffix(".tmp")
    temporary.unlink(missing_ok=True)
    with open(os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "wb") as out:
        document.save(out)  # owner-only from the first byte
    temporary.replace(path)
    return path


@activity.defn
async def render_rapid_review_report(request: RapidReviewReportRequest) -> RenderedReport:
    """Render in a thread (python-docx and the file system block); what the document cannot hold is
    refused as `ReportInvalid`, not retried."""
    try:
        return RenderedReport(path=str(await asyncio.to_thread(render, request)))
    except ValueError as error:  # e.g. text a Word document cannot hold
        raise ApplicationError(
            f"the Rapid Review report cannot be rendered: {type(error).__name__}", type="ReportInvalid", non_retryable=True
        ) from None
