"""The messages a case sends (activities/notifications.py `send_message`).

Each message is rendered from its template in activities/templates/, addressed from the routing file
(protocol ¶2.5 partnership mailboxes, ¶2.6 Serious Incident Notifiers) and delivered once into the
outbox as an .eml file named by its idempotency key. Run through Temporal's ActivityEnvironment.
"""

from __future__ import annotations

import io
import json
import random
import re
import zipfile
from concurrent.futures import ThreadPoolExecutor
from datetime import date, datetime, timezone
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from string import Template
from typing import Any

import pytest
from docx import Document
from lxml import etree
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.documents import (
    FORM_TITLE,
    FormBody,
    PreparedDocument,
    Template as DocumentTemplate,
    new_document,
    form_blocks,
    serious_incident_form_document,
    table,
)
from activities import documents, notifications
from activities.notifications import send_message, send_messages
import settings
from activities.routing import load_routing
from models.case import MessageRequest, Role, SentMessage
from models.messages import COMMON_FIELDS, DELIVERY_FIELDS, MESSAGES, AgencyRequest, DeadlineMessage, Message, Numbered
from models.forms import LocalAuthority, SeriousIncidentForm

PROJECT = Path(__file__).resolve().parents[1]
TEMPLATES = PROJECT / "activities" / "templates"
ROUTING_FILE = PROJECT / "config" / "routing.json"
UI_URL = "http://temporal-ui.test:8233"
NAMESPACE = "cases-test"
CASE_ID = "SI-20251223-2c1bd5"
REFERRER = "alex.practitioner@example.org"

# protocol ¶2.5 (examples/README.md) and ¶2.6, written out: the routing file must agree with them
PARTNERSHIP_MAILBOX = {
    LocalAuthority.HARTLEPOOL: "HSSCP@hartlepool.gov.uk",
    LocalAuthority.STOCKTON_ON_TEES: "HSSCP@hartlepool.gov.uk",
    LocalAuthority.MIDDLESBROUGH: "STSCP@middlesbrough.gov.uk",
    LocalAuthority.REDCAR_AND_CLEVELAND: "STSCP@middlesbrough.gov.uk",
}
PARTNERSHIP = {
    LocalAuthority.HARTLEPOOL: "HSSCP",
    LocalAuthority.STOCKTON_ON_TEES: "HSSCP",
    LocalAuthority.MIDDLESBROUGH: "STSCP",
    LocalAuthority.REDCAR_AND_CLEVELAND: "STSCP",
}
SERIOUS_INCIDENT_NOTIFIER = {
    LocalAuthority.HARTLEPOOL: "leanne.stockton@hartlepool.gov.uk",
    LocalAuthority.STOCKTON_ON_TEES: "nicole.wilson@stockton.gov.uk",
    LocalAuthority.MIDDLESBROUGH: "Dawn_Alaszewski@middlesbrough.gov.uk",
    LocalAuthority.REDCAR_AND_CLEVELAND: "Victoria.McLeod@redcar-cleveland.gov.uk",
}
AUTHORITY_NAME = {
    LocalAuthority.HARTLEPOOL: "Hartlepool",
    LocalAuthority.STOCKTON_ON_TEES: "Stockton-on-Tees",
    LocalAuthority.MIDDLESBROUGH: "Middlesbrough",
    LocalAuthority.REDCAR_AND_CLEVELAND: "Redcar and Cleveland",
}
PARTNERSHIP_NAME = {
    "HSSCP": "Hartlepool and Stockton-on-Tees Safeguarding Children Partnership",
    "STSCP": "South Tees Safeguarding Children Partnership",
}


def configured(partnership: str, key: str) -> list[str]:
    """Escalation and Independent Scrutineer addresses are the Business Unit's to set: read raw."""
    value = json.loads(ROUTING_FILE.read_text(encoding="utf-8"))["partnerships"][partnership][key]
    return value if isinstance(value, list) else [value]


@pytest.fixture(autouse=True)
def outbox(tmp_path, monkeypatch) -> Path:
    folder = tmp_path / "outbox"
    monkeypatch.setenv("SAFEGUARDING_OUTBOX_DIR", str(folder))
    monkeypatch.setenv("TEMPORAL_UI_URL", UI_URL)
    monkeypatch.setenv("TEMPORAL_NAMESPACE", NAMESPACE)
    monkeypatch.delenv("SAFEGUARDING_ROUTING_FILE", raising=False)
    monkeypatch.delenv("SAFEGUARDING_TEMPLATES_DIR", raising=False)
    return folder


async def send(request: MessageRequest) -> SentMessage:
    return await ActivityEnvironment().run(send_message, request)


def request(
    template: str = "deadline_reminder",
    to: list[Role] | None = None,
    context: dict[str, str] | None = None,
    *,
    local_authority: LocalAuthority = LocalAuthority.STOCKTON_ON_TEES,
    step: str = "reminder/dsp_meeting/1",
    referrer_email: str | None = REFERRER,
    attachment: dict | None = None,
    addresses: list[str] | None = None,
) -> MessageRequest:
    return MessageRequest(
        key=f"{CASE_ID}/{step}",
        case_id=CASE_ID,
        local_authority=local_authority,
        template=template,
        to=to if to is not None else [Role.BUSINESS_UNIT],
        context=context if context is not None else REMINDER_CONTEXT,
        referrer_email=referrer_email,
        attachment=attachment,
        addresses=addresses or [],
    )


def read_eml(path: str | Path) -> EmailMessage:
    return message_from_bytes(Path(path).read_bytes(), policy=policy.default)  # type: ignore[return-value]


def body_of(message: EmailMessage) -> str:
    return message.get_body(preferencelist=("plain",)).get_content()


def addresses(message: EmailMessage, header: str) -> list[str]:
    return [address.addr_spec for address in message[header].addresses]


def files_in(folder: Path) -> list[Path]:
    return sorted(path for path in folder.rglob("*") if path.is_file()) if folder.exists() else []


# ---- who a message goes to -----------------------------------------------------------------------

REMINDER_CONTEXT = {
    "deadline_title": "DSP teleconference and decision",
    "due_on": "2025-12-29",
    "deadline_rule": "2 working days after 2025-12-23",
    "needed": "Convene the DSP teleconference and record its decision (dsp_decision).",
}

AUTHORITIES = pytest.mark.parametrize("authority", list(LocalAuthority), ids=lambda a: a.value)


@AUTHORITIES
async def test_business_unit_is_the_partnership_mailbox(authority, outbox):
    sent = await send(request(to=[Role.BUSINESS_UNIT], local_authority=authority))
    assert sent.to == [PARTNERSHIP_MAILBOX[authority]]
    message = read_eml(sent.path)
    assert addresses(message, "To") == [PARTNERSHIP_MAILBOX[authority]]
    assert addresses(message, "From") == [PARTNERSHIP_MAILBOX[authority]]


@AUTHORITIES
async def test_serious_incident_notifier_is_the_authoritys_own(authority):
    sent = await send(request(to=[Role.SERIOUS_INCIDENT_NOTIFIER], local_authority=authority))
    assert sent.to == [SERIOUS_INCIDENT_NOTIFIER[authority]]
    assert addresses(read_eml(sent.path), "To") == [SERIOUS_INCIDENT_NOTIFIER[authority]]


@AUTHORITIES
async def test_referrer_is_the_address_on_the_form(authority):
    sent = await send(
        request(to=[Role.REFERRER], local_authority=authority, referrer_email="sam.worker@example.org")
    )
    assert sent.to == ["sam.worker@example.org"]
    message = read_eml(sent.path)
    assert addresses(message, "To") == ["sam.worker@example.org"]
    assert addresses(message, "From") == [PARTNERSHIP_MAILBOX[authority]]


@AUTHORITIES
async def test_escalation_goes_to_the_partnerships_escalation_list(authority):
    expected = configured(PARTNERSHIP[authority], "escalation")
    sent = await send(request(to=[Role.ESCALATION], local_authority=authority))
    assert sent.to == expected
    assert addresses(read_eml(sent.path), "To") == expected


@AUTHORITIES
async def test_independent_scrutineer_is_the_partnerships(authority):
    expected = configured(PARTNERSHIP[authority], "independent_scrutineer")
    sent = await send(request(to=[Role.INDEPENDENT_SCRUTINEER], local_authority=authority))
    assert sent.to == expected


def test_the_two_partnerships_have_different_escalation_and_scrutineer():
    """Otherwise the tests above could not tell the partnerships apart."""
    assert configured("HSSCP", "escalation") != configured("STSCP", "escalation")
    assert configured("HSSCP", "independent_scrutineer") != configured("STSCP", "independent_scrutineer")


async def test_several_roles_in_order_each_address_once():
    sent = await send(
        request(
            to=[Role.REFERRER, Role.BUSINESS_UNIT, Role.ESCALATION, Role.BUSINESS_UNIT],
            local_authority=LocalAuthority.MIDDLESBROUGH,
        )
    )
    expected = [REFERRER, "STSCP@middlesbrough.gov.uk", *configured("STSCP", "escalation")]
    assert sent.to == expected
    assert addresses(read_eml(sent.path), "To") == expected


async def test_addresses_come_from_the_routing_file(tmp_path, monkeypatch):
    routing = json.loads(ROUTING_FILE.read_text(encoding="utf-8"))
    routing["local_authorities"]["hartlepool"]["serious_incident_notifier"] = "new.notifier@hartlepool.gov.uk"
    routing["partnerships"]["HSSCP"]["escalation"] = ["first@example.org", "second@example.org"]
    path = tmp_path / "routing.json"
    path.write_text(json.dumps(routing), encoding="utf-8")
    monkeypatch.setenv("SAFEGUARDING_ROUTING_FILE", str(path))
    sent = await send(
        request(to=[Role.SERIOUS_INCIDENT_NOTIFIER, Role.ESCALATION], local_authority=LocalAuthority.HARTLEPOOL)
    )
    assert sent.to == ["new.notifier@hartlepool.gov.uk", "first@example.org", "second@example.org"]


async def test_referrer_without_an_address_is_an_error_and_nothing_is_sent(outbox):
    with pytest.raises(ApplicationError, match="referrer") as caught:
        await send(request("rationale_to_referrer", [Role.REFERRER, Role.BUSINESS_UNIT], RATIONALE_CONTEXT, referrer_email=None))
    assert "rationale_to_referrer" in str(caught.value)
    assert (caught.value.type, caught.value.non_retryable) == ("RoutingError", True)
    assert files_in(outbox) == []


async def test_messages_sent_together_go_each_once_and_one_that_cannot_go_keeps_none_of_the_others_back(outbox):
    """`send_messages` (a step's messages, one activity from release 0.5): each as `send_message` sends
    it; one refused for good is its outcome, with its reason; run again (a retry), nothing goes twice."""
    together = [
        request(step="reminder/dsp_meeting/1", context=REMINDER_CONTEXT),
        request("rationale_to_referrer", [Role.REFERRER, Role.BUSINESS_UNIT], RATIONALE_CONTEXT, step="rationale", referrer_email=None),
        request(step="reminder/dsp_meeting/2", context=REMINDER_CONTEXT),
    ]
    outcomes = await ActivityEnvironment().run(send_messages, together)
    assert [(o.key, o.refused) for o in outcomes] == [(r.key, None) for r in together[:1]] + [
        (together[1].key, "RoutingError"), (together[2].key, None)
    ]
    assert "rationale_to_referrer" in (outcomes[1].reason or "") and outcomes[1].path is None
    assert outcomes[0].to and outcomes[2].to
    assert sorted(p.name for p in files_in(outbox)) == ["reminder--dsp_meeting--1.eml", "reminder--dsp_meeting--2.eml"]
    again = await ActivityEnvironment().run(send_messages, together)
    assert again == outcomes and len(files_in(outbox)) == 2


async def test_messages_sent_together_fail_whole_on_what_a_retry_can_mend(outbox, monkeypatch):
    """What a retry can mend (a full disk, the mail server away) is not an outcome: the activity fails, and
    its retry sends every message not yet gone."""
    def disk_full(*args, **kwargs):
        raise OSError("no space left on device")

    monkeypatch.setattr(settings, "write_private", disk_full)
    with pytest.raises(OSError):
        await ActivityEnvironment().run(send_messages, [request(context=REMINDER_CONTEXT)])


async def test_a_missing_template_variable_is_an_error_and_nothing_is_sent(outbox):
    context = {k: v for k, v in REMINDER_CONTEXT.items() if k != "needed"}
    with pytest.raises(ApplicationError, match="needed") as caught:
        await send(request("deadline_reminder", [Role.BUSINESS_UNIT], context))
    assert (caught.value.type, caught.value.non_retryable) == ("TemplateError", True)
    assert files_in(outbox) == []


async def test_an_unknown_template_is_an_error(outbox):
    with pytest.raises(ApplicationError, match="no_such_template") as caught:
        await send(request("no_such_template"))
    assert (caught.value.type, caught.value.non_retryable) == ("TemplateError", True)
    assert files_in(outbox) == []


# ---- every template, with the context the workflows send -----------------------------------------

FORM = SeriousIncidentForm.model_validate(
    json.loads((PROJECT / "examples" / "serious-incident-form.json").read_text(encoding="utf-8"))
)
# what identifies the child or the incident: never in a subject line
CHILD_DETAILS = [
    FORM.child.reference,
    FORM.child.date_of_birth.isoformat(),
    FORM.incident.summary,
    FORM.incident.date.isoformat(),
    FORM.referrer.name,
    "serious_harm",
    "serious harm",
]

NEW_FORM_CONTEXT = {  # workflows/serious_incident.py receive_form
    "received_on": "2025-12-23",
    "dsp_due_on": "2025-12-29",
    "dsp_rule": "2 working days after 2025-12-23",
}
RATIONALE_CONTEXT = {  # workflows/serious_incident.py not_notified
    "meeting_held_on": "2025-12-24",
    "rationale": "Threshold for notification not met; single-agency learning only.",
    "challenge_window_ends_on": "2026-01-12",
}

# template, roles, step, context (as in workflows/*.py), what the body must say
TEMPLATE_CASES = [
    (
        "new_serious_incident_form", [Role.BUSINESS_UNIT], "new-form", NEW_FORM_CONTEXT,
        ["received on 2025-12-23", "by the end of 2025-12-29 (2 working days after 2025-12-23)"],
    ),
    (
        "dsp_meeting_invitation", [Role.INDEPENDENT_SCRUTINEER], "dsp-meeting-invitation", NEW_FORM_CONTEXT,
        ["by the end of 2025-12-29", "Independent Scrutineer"],
    ),
    (
        "rationale_to_referrer", [Role.REFERRER, Role.BUSINESS_UNIT], "rationale-to-referrer", RATIONALE_CONTEXT,
        ["met on 2025-12-24", RATIONALE_CONTEXT["rationale"], "by the end of 2026-01-12"],
    ),
    (
        "dispute_route", [Role.REFERRER, Role.BUSINESS_UNIT, Role.ESCALATION], "dispute-route",
        {"raised_on": "2025-12-30", "raised_by": "Referrer's agency", "grounds": "Disagrees with the decision not to notify."},
        ["raised on 2025-12-30 by Referrer's agency", "Disagrees with the decision not to notify."],
    ),
    (
        "challenge_outcome", [Role.REFERRER, Role.BUSINESS_UNIT], "challenge-outcome",
        {"resolved_on": "2026-01-06", "outcome": "the decision not to notify is upheld", "notes": "Resolved at escalation stage 2."},
        ["resolved on 2026-01-06", "Outcome: the decision not to notify is upheld", "Resolved at escalation stage 2."],
    ),
    (
        "form_to_notifier", [Role.SERIOUS_INCIDENT_NOTIFIER, Role.BUSINESS_UNIT], "form-to-notifier",
        {"meeting_held_on": "2025-12-24", "notification_due_on": "2025-12-31", "notification_rule": "5 working days after 2025-12-22"},
        ["met on 2025-12-24", "by the end of 2025-12-31 (5 working days after 2025-12-22, protocol ¶2.4)", "is attached"],
    ),
    (
        "case_withdrawn", [Role.BUSINESS_UNIT], "withdrawn",
        {"withdrawn_on": "2025-12-24", "reason": "Form submitted in error; duplicate of an open case."},
        ["withdrawn on 2025-12-24", "Form submitted in error; duplicate of an open case."],
    ),
    (
        "deadline_reminder", [Role.BUSINESS_UNIT], "reminder/dsp_meeting/1", REMINDER_CONTEXT,
        ["DSP teleconference and decision is due by the end of 2025-12-29", "(2 working days after 2025-12-23)", REMINDER_CONTEXT["needed"]],
    ),
    (
        "deadline_escalation", [Role.ESCALATION, Role.BUSINESS_UNIT], "escalation/dsp_meeting", REMINDER_CONTEXT,
        ["DSP teleconference and decision was due by the end of 2025-12-29", REMINDER_CONTEXT["needed"], "The case goes on"],
    ),
    (
        "new_learning_request", [Role.BUSINESS_UNIT], "new-form",
        {"received_on": "2025-11-20", "reason": "near miss"},
        ["received on 2025-11-20", "Reason given: near miss."],
    ),
    (
        "learning_review_convened", [Role.REFERRER, Role.BUSINESS_UNIT], "partnership-decision",
        {"decided_on": "2025-11-27", "rationale": "Two agencies can learn from how they worked together."},
        ["On 2025-11-27 the partnership decided to convene a learning review", "Two agencies can learn from how they worked together."],
    ),
    (
        "learning_request_rationale", [Role.REFERRER, Role.BUSINESS_UNIT], "partnership-decision",
        {"decided_on": "2025-11-27", "rationale": "Single-agency matter; no multi-agency learning."},
        ["On 2025-11-27 the partnership decided that a learning review is not required", "Single-agency matter; no multi-agency learning."],
    ),
    (
        "learning_review_completed", [Role.REFERRER, Role.BUSINESS_UNIT], "learning-review-completed",
        {
            "completed_on": "2026-02-26",
            "findings": "Summary of learning.",
            "recommendations": "- L1: Joint briefing on near-miss escalation. (owner: Redcar and Cleveland Children's Services; due 2026-04-30)",
        },
        ["completed on 2026-02-26", "Findings:\nSummary of learning.", "- L1: Joint briefing on near-miss escalation."],
    ),
    # workflows/rapid_review.py
    (
        "rapid_review_details", [Role.RAPID_REVIEW_PANEL, Role.BUSINESS_UNIT], "rapid-review-details",
        {
            "notified_on": "2025-12-29", "csons_reference": "CSONS-0000001", "chair": "Rapid Review chair",
            "panel_members": "Partnership rep, police; Partnership rep, ICB", "agencies": "Cleveland Police",
            "contributions_due_on": "2026-01-08", "meeting_on": "2026-01-13", "submission_due_on": "2026-01-20",
        },
        ["CSONS reference CSONS-0000001", "Rapid Review chair: Rapid Review chair", "Cleveland Police, by 2026-01-08",
         "Rapid Review meeting: 2026-01-13", "by the end of 2026-01-20"],
    ),
    (
        "contribution_request", [], "contribution-request/cleveland-police",
        {"agency": "Cleveland Police", "due_on": "2026-01-08", "meeting_on": "2026-01-13"},
        ["Cleveland Police is asked for its chronology", "by the end of 2026-01-08", "meeting is on 2026-01-13"],
    ),
    (
        "immediate_actions", [Role.SAFEGUARDING_LEADS, Role.BUSINESS_UNIT], "immediate-actions",
        {"held_on": "2026-01-13", "actions": "- Sibling safety plan reviewed"},
        ["on 2026-01-13 identified immediate action", "- Sibling safety plan reviewed"],
    ),
    (
        "report_to_executive", [Role.EXECUTIVE, Role.BUSINESS_UNIT], "report-to-executive",
        {"held_on": "2026-01-13", "recommendation": "a local Child Safeguarding Practice Review",
         "chair": "Rapid Review chair", "submission_due_on": "2026-01-20"},
        ["met on 2026-01-13", "recommends: a local Child Safeguarding Practice Review", "review governance meeting"],
    ),
    (
        "report_to_national_panel", [Role.NATIONAL_PANEL, Role.BUSINESS_UNIT], "report-to-national-panel",
        {"notified_on": "2025-12-29", "csons_reference": "CSONS-0000001",
         "final_decision": "Local child safeguarding practice review to be commissioned."},
        ["(CSONS reference CSONS-0000001)", "Local child safeguarding practice review to be commissioned."],
    ),
    # workflows/case.py: a permanent refusal by the mail server
    (
        "delivery_refused", [Role.BUSINESS_UNIT], "delivery-refused/rationale-to-referrer",
        {"refused_template": "rationale_to_referrer", "refused_key": "SI-20251223-2c1bd5/rationale-to-referrer"},
        ["could not be delivered: rationale_to_referrer", "(SI-20251223-2c1bd5/rationale-to-referrer). The mail server refused it permanently.", "the case goes on"],
    ),
    # workflows/case_workflow.py: a correction
    (
        "decision_corrected", [Role.BUSINESS_UNIT], "decision-corrected/dsp_decision/1",
        {"decision": "dsp_decision", "number": "1", "reason": "The meeting date was mistyped.",
         "corrected_by": "business.unit@example.org", "was": "meeting_held_on 2025-12-30", "now": "meeting_held_on 2025-12-24"},
        ["has been corrected: dsp_decision (correction 1)", "Reason: The meeting date was mistyped.",
         "As first recorded: meeting_held_on 2025-12-30", "As corrected: meeting_held_on 2025-12-24"],
    ),
    # workflows/contributions.py, rapid_review.py: changes practice needs
    (
        "contribution_due_extended", [], "contribution-due-extended/cleveland-police/1",
        {"agency": "Cleveland Police", "due_on": "2026-01-12", "reason": "Records held by two services.", "number": "1"},
        ["given Cleveland Police more time", "due by the end of 2026-01-12", "Reason: Records held by two services."],
    ),
    (
        "rapid_review_rescheduled", [Role.RAPID_REVIEW_PANEL, Role.BUSINESS_UNIT], "rapid-review-rescheduled/1",
        {"meeting_on": "2026-01-14", "was_on": "2026-01-13", "reason": "The police DSP cannot attend.", "number": "1"},
        ["set for 2026-01-13, is now on 2026-01-14", "Reason: The police DSP cannot attend."],
    ),
    # workflows/catch_up.py: a case entered after the fact
    (
        "entered_after_the_fact", [Role.BUSINESS_UNIT], "entered-after-the-fact/1",
        {"number": "1", "overdue": "- DSP teleconference and decision: due 2025-06-03; met (step on 2025-06-02)",
         "not_sent": "- Ask Cleveland Police for its chronology (for 2025-06-20)"},
        ["entered with dates in the past (summary 1)", "DSP teleconference and decision: due 2025-06-03; met",
         "Ask Cleveland Police for its chronology (for 2025-06-20)"],
    ),
    # workflows/local_review.py
    (
        "lcspr_contribution_request", [], "lcspr-contribution-request/cleveland-police",
        {"agency": "Cleveland Police", "due_on": "2026-03-12", "publication_due_on": "2026-07-15"},
        ["Terms of Reference name Cleveland Police", "by the end of 2026-03-12", "2026-07-15"],
    ),
    (
        "publication_copies", [Role.NATIONAL_PANEL, Role.SECRETARY_OF_STATE, Role.OFSTED, Role.BUSINESS_UNIT],
        "publication-copies",
        {"publication_on": "2026-07-09", "copies_due_on": "2026-06-30", "report_note": "The full report is attached."},
        ["(case SI-20251223-2c1bd5) on 2026-07-09", "before publication (by 2026-06-30). The full report is attached."],
    ),
    (
        "public_until_reached", [Role.BUSINESS_UNIT], "reached/public_until",
        {"published_on": "2026-07-09", "url": "https://www.example.org/reviews/child-a", "due_on": "2027-07-09",
         "deadline_title": "Report kept public", "deadline_rule": "12 calendar months after 2026-07-09",
         "needed": "Keep the published report publicly available until this date."},
        ["published on 2026-07-09 at https://www.example.org/reviews/child-a", "until 2027-07-09"],
    ),
    (
        "panel_disagrees", [Role.EXECUTIVE, Role.BUSINESS_UNIT], "panel-disagrees",
        {"received_on": "2026-02-05", "csons_reference": "CSONS-0000001", "comments": "A national review is needed."},
        ["responded on 2026-02-05", "does not agree", "A national review is needed."],
    ),
    # added by issue 14
    (
        "dsp_meeting_call", [Role.DSPS, Role.BUSINESS_UNIT], "dsp-meeting-call",
        {**NEW_FORM_CONTEXT, "notification_due_on": "2025-12-29"},
        ["by the end of 2025-12-29 (2 working days after 2025-12-23)", "All three statutory safeguarding partners",
         "due by the end of 2025-12-29"],
    ),
    (
        "challenge_window_ended", [Role.BUSINESS_UNIT], "challenge-window-ended", {"ends_on": "2026-01-12"},
        ["by the end of 2026-01-12", "case_closed", "challenge_raised"],
    ),
    (
        "reconsideration_to_panel", [Role.NATIONAL_PANEL, Role.BUSINESS_UNIT], "reconsideration-to-panel",
        {"decided_on": "2026-02-12", "csons_reference": "CSONS-0000001",
         "outcome": "a local Child Safeguarding Practice Review is commissioned", "rationale": "Reconsidered."},
        ["reconsidered their decision on 2026-02-12", "Outcome: a local Child Safeguarding Practice Review is commissioned"],
    ),
    (
        "review_withdrawn_to_agencies", [], "withdrawn-agencies", {"withdrawn_on": "2026-03-02"},
        ["was withdrawn on 2026-03-02", "No further contribution is needed"],
    ),
]


# The extra fields a kind of message needs beyond its template's context (who, whose deadline).
EXTRA_FIELDS: dict[str, dict] = {
    "contribution_request": {"addresses": ["chronologies@police.example.org"]},
    "lcspr_contribution_request": {"addresses": ["chronologies@police.example.org"]},
    "contribution_due_extended": {"addresses": ["chronologies@police.example.org"]},
    "deadline_reminder": {"deadline_step": "dsp_meeting", "remind": [Role.BUSINESS_UNIT], "number": 1},
    "deadline_escalation": {"deadline_step": "dsp_meeting", "escalate": [Role.ESCALATION, Role.BUSINESS_UNIT]},
    "public_until_reached": {"deadline_step": "public_until"},
    "review_withdrawn_to_agencies": {"addresses": ["police.safeguarding@example.org"]},
}
KINDS = {kind.template: kind for kind in MESSAGES}


def as_message(template: str, context: dict[str, str]) -> Message:
    """The workflows' message model for a template, from the context: a field renamed in the model
    (or a context key here) fails, and so does a placeholder renamed in the template."""
    return KINDS[template].model_validate({**context, **EXTRA_FIELDS.get(template, {})})


def test_every_kind_of_message_has_its_template_and_a_case():
    def subclasses(kind: type[Message]) -> set[type[Message]]:
        return {kind}.union(*(subclasses(sub) for sub in kind.__subclasses__()))

    assert subclasses(Message) - {Message, DeadlineMessage, AgencyRequest, Numbered} == set(MESSAGES)
    assert sorted(KINDS) == sorted(p.stem for p in TEMPLATES.glob("*.txt"))
    assert sorted(case[0] for case in TEMPLATE_CASES) == sorted(KINDS)


@pytest.mark.parametrize("kind", MESSAGES, ids=lambda kind: kind.template)
def test_every_placeholder_of_a_template_is_a_field_of_its_message(kind):
    placeholders = set(re.findall(r"\$\{(\w+)\}", (TEMPLATES / f"{kind.template}.txt").read_text(encoding="utf-8")))
    fields = set(kind.model_fields) - DELIVERY_FIELDS
    assert placeholders <= fields | COMMON_FIELDS, placeholders - fields - COMMON_FIELDS


@pytest.mark.parametrize(
    ("template", "to", "step", "context", "says"),
    [pytest.param(*case, id=case[0]) for case in TEMPLATE_CASES],
)
@pytest.mark.parametrize(
    "authority", [LocalAuthority.STOCKTON_ON_TEES, LocalAuthority.REDCAR_AND_CLEVELAND], ids=lambda a: a.value
)
async def test_template_renders_with_the_workflows_context(template, to, step, context, says, authority, outbox):
    message = as_message(template, context)
    assert (message.step_key(), message.recipients()) == (step, to)
    attachment = FORM.model_dump(mode="json") if template == "form_to_notifier" else None
    sent = await send(
        request(
            template,
            message.recipients(),
            message.context(),
            local_authority=authority,
            step=message.step_key(),
            attachment=attachment,
            addresses=message.addresses,
        )
    )

    assert Path(sent.path) == outbox / CASE_ID / f"{step.replace('/', '--')}.eml"
    assert sent.key == f"{CASE_ID}/{step}"
    mail = read_eml(sent.path)
    mailbox = PARTNERSHIP_MAILBOX[authority]
    roles = {
        Role.BUSINESS_UNIT: [mailbox],
        Role.SERIOUS_INCIDENT_NOTIFIER: [SERIOUS_INCIDENT_NOTIFIER[authority]],
        Role.REFERRER: [REFERRER],
        Role.ESCALATION: configured(PARTNERSHIP[authority], "escalation"),
        Role.INDEPENDENT_SCRUTINEER: configured(PARTNERSHIP[authority], "independent_scrutineer"),
        Role.RAPID_REVIEW_PANEL: configured(PARTNERSHIP[authority], "rapid_review_panel"),
        Role.EXECUTIVE: configured(PARTNERSHIP[authority], "executive"),
        Role.SAFEGUARDING_LEADS: configured(PARTNERSHIP[authority], "safeguarding_leads"),
        Role.NATIONAL_PANEL: [json.loads(ROUTING_FILE.read_text(encoding="utf-8"))["national_panel"]],
        Role.SECRETARY_OF_STATE: [json.loads(ROUTING_FILE.read_text(encoding="utf-8"))["secretary_of_state"]],
        Role.OFSTED: [json.loads(ROUTING_FILE.read_text(encoding="utf-8"))["ofsted"]],
        Role.DSPS: configured(PARTNERSHIP[authority], "dsps"),
    }
    expected_to = message.addresses + [address for role in message.recipients() for address in roles[role]]
    assert addresses(mail, "From") == [mailbox]
    assert addresses(mail, "To") == expected_to == sent.to
    assert mail["X-Idempotency-Key"] == f"{CASE_ID}/{step}"
    assert mail["Message-ID"]

    subject = mail["Subject"]
    assert f"[{CASE_ID}]" in subject
    assert "$" not in subject
    leaked = [detail for detail in CHILD_DETAILS if detail.lower() in subject.lower()]
    assert leaked == [], subject

    body = body_of(mail)
    assert "$" not in body, "every placeholder filled"
    assert CASE_ID in body
    assert PARTNERSHIP_NAME[PARTNERSHIP[authority]] in body
    if "${local_authority}" in (TEMPLATES / f"{template}.txt").read_text(encoding="utf-8"):
        assert AUTHORITY_NAME[authority] in subject + body
    if "${case_url}" in (TEMPLATES / f"{template}.txt").read_text(encoding="utf-8"):
        assert f"{UI_URL}/namespaces/{NAMESPACE}/workflows/{CASE_ID}" in body
    for text in says:
        assert text in body


@pytest.mark.parametrize(
    ("template", "context"),
    [pytest.param(case[0], case[3], id=case[0]) for case in TEMPLATE_CASES],
)
def test_template_needs_only_what_the_workflows_send(template, context):
    """A placeholder not in the workflow's context (nor one send_message adds) would fail in production."""
    text = (TEMPLATES / f"{template}.txt").read_text(encoding="utf-8")
    assert text.startswith("Subject: ")
    assert "\n\n" in text
    placeholders = {
        match.group("braced") or match.group("named")
        for match in Template.pattern.finditer(text)
        if match.group("braced") or match.group("named")
    }
    provided = set(as_message(template, context).context()) | COMMON_FIELDS
    assert placeholders - provided == set()
    assert "case_id" in placeholders


def docx_text(data: bytes) -> tuple[str, Any]:
    """Everything a reader sees in a Word document (paragraphs and table cells), and its properties."""
    document = Document(io.BytesIO(data))
    parts = [p.text for p in document.paragraphs]
    for table in document.tables:
        parts += [" | ".join(cell.text for cell in row.cells) for row in table.rows]
    return "\n".join(parts), document.core_properties


@pytest.mark.parametrize("authority", [LocalAuthority.STOCKTON_ON_TEES, LocalAuthority.REDCAR_AND_CLEVELAND], ids=lambda a: a.value)
async def test_the_form_goes_to_the_notifier_as_a_word_document_a_reader_can_read(authority, outbox):
    form = FORM.model_copy(update={"local_authority": authority})
    sent = await send(
        request(
            "form_to_notifier",
            [Role.SERIOUS_INCIDENT_NOTIFIER, Role.BUSINESS_UNIT],
            TEMPLATE_CASES[5][3],
            local_authority=authority,
            step="form-to-notifier",
            attachment=form.model_dump(mode="json"),
        )
    )
    message = read_eml(sent.path)
    attachments = list(message.iter_attachments())
    assert [part.get_filename() for part in attachments] == ["serious-incident-notification-form.docx"]
    assert attachments[0].get_content_type() == "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
    text, properties = docx_text(attachments[0].get_content())

    partnership = PARTNERSHIP_NAME[PARTNERSHIP[authority]]
    assert properties.author == partnership and properties.last_modified_by == partnership
    assert "python-docx" not in f"{properties.author} {properties.comments} {properties.last_modified_by}"
    assert "Serious Incident Notification Request Form" in properties.title and CASE_ID in properties.title
    # labels in words, names as the routing file has them, dates written out
    for expected in [
        "Serious Incident Notification Request Form",
        f"Case reference | {CASE_ID}",
        f"Local authority | {AUTHORITY_NAME[authority]}",
        f"Safeguarding partnership | {partnership}",
        "Form received by the partnership | 23 December 2025",
        "The local authority became aware of the incident | 22 December 2025",
        "Delegated Safeguarding Partners met | 24 December 2025",
        "Notify the National Panel by the end of | 31 December 2025",
        f"Name | {FORM.referrer.name}",
        f"Email address | {FORM.referrer.email}",
        f"Reference | {FORM.child.reference}",
        "Date of birth | 4 March 2019",
        "Sex | Female",
        "Known to children's social care | Yes",
        "Date of the incident | 20 December 2025",
        "Outcome | Serious harm to the child",
        "Abuse or neglect | Suspected",
        FORM.incident.summary,
        *FORM.agencies_involved,
    ]:
        assert expected in text, f"{expected!r} not in the form document:\n{text}"
    # nothing a reader would have to decode: no slugs, no field names, no ISO dates, no JSON
    for code in [authority.value, PARTNERSHIP[authority] + " ", "serious_harm", "known_to_childrens_social_care",
                 "became_aware_on", "2025-12-23", "2019-03-04", "{", "true"]:
        assert code not in text, f"{code!r} in the form document"
    # the form's personal details travel in the attachment, not in the message text
    assert FORM.incident.summary not in body_of(message)
    assert FORM.child.reference not in message["Subject"]


def test_the_form_is_python_docx_s_own_package_with_its_body_and_properties_written_in():
    """The form is written into the template's package saved once (activities/documents.py, `Template`):
    every other part is the one python-docx's own `save` writes, byte for byte; rendered again, from
    threads at once, the body is the same."""
    saved = io.BytesIO()
    Document().save(saved)
    default = zipfile.ZipFile(saved)
    routing = load_routing()
    render = lambda: serious_incident_form_document(FORM.model_dump(mode="json"), CASE_ID, routing)  # noqa: E731
    form = zipfile.ZipFile(io.BytesIO(render()))
    assert form.testzip() is None and sorted(form.namelist()) == sorted(default.namelist())
    assert sorted(n for n in default.namelist() if form.read(n) != default.read(n)) == sorted(DocumentTemplate.CHANGED)
    with ThreadPoolExecutor(4) as pool:
        bodies = {zipfile.ZipFile(io.BytesIO(data)).read("word/document.xml") for data in pool.map(lambda _: render(), range(8))}
    assert bodies == {form.read("word/document.xml")}



def reference_table(document, rows, header=None):
    """`table()` as it was, with python-docx's public API: a row added, its cells' text set, the bold set."""
    grid = document.add_table(rows=0, cols=2)
    grid.style = "Table Grid"
    for number, (left, right) in enumerate(([header] if header else []) + rows):
        cells = grid.add_row().cells
        cells[0].text, cells[1].text = left, right
        for cell in cells[: 2 if header and number == 0 else 0 if header else 1]:
            for run in cell.paragraphs[0].runs:
                run.bold = True


TABLE_TEXTS = [
    "", " ", "  leading", "trailing  ", " both ", "two\nlines", "ends with a newline\n", "\n", "a\ttab", "\t",
    "\r\n", "Zoë Ångström-Łukasiewicz", "名前 😀", "<w:t>&amp; \"quoted\" 'single' > <", "&", "x" * 5000,
]


@pytest.mark.parametrize("header", [None, ("Question", "Answer"), ("", " spaced\theader ")])
@pytest.mark.parametrize("prepared", [False, True])
def test_a_table_is_the_xml_python_docx_writes_row_by_row(header, prepared):
    """`table()` copies its first row's XML for the rest (activities/documents.py): every table is the
    XML python-docx's `add_row()` and `cell.text` write, byte for byte, whatever the text."""
    rows = list(zip(TABLE_TEXTS, reversed(TABLE_TEXTS)))
    for chosen in ([], rows[:1], rows[:2], rows):
        if prepared:
            ours, theirs = PreparedDocument("t", "a").document, PreparedDocument("t", "a").document
        else:
            ours, theirs = new_document("t", "a"), new_document("t", "a")
        table(ours, chosen, header)
        reference_table(theirs, chosen, header)
        mine, reference = (etree.tostring(d.tables[0]._tbl) for d in (ours, theirs))
        assert mine == reference
        rendered = [[cell.text for cell in row.cells] for row in ours.tables[0].rows]
        assert rendered == ([list(header)] if header else []) + [
            [text.replace("\r", "\n") for text in row] for row in chosen
        ]
    bold = [[[run.bold for run in cell.paragraphs[0].runs] for cell in row.cells] for row in ours.tables[0].rows]
    assert bold == ([[[True], [True]]] if header else []) + [[[None if header else True], [None]]] * len(rows)

def reference_form_document(form_json, case_id, routing, context=None) -> bytes:
    """The form's blocks (`form_blocks`: what it says, in order) written with python-docx's public API
    (`add_heading`, `add_paragraph`, the run's bold and italic, `reference_table`), as the form was
    before `FormBody`: its `word/document.xml`."""
    form = SeriousIncidentForm.model_validate(form_json)
    authority = routing.authority(LocalAuthority(form.local_authority))
    partnership = routing.partnership(authority.partnership)
    document = new_document(f"{FORM_TITLE}, case {case_id}", partnership.name)
    for kind, *content in form_blocks(form, case_id, authority.name, partnership.name, context or {}):
        if kind in ("title", "heading"):
            document.add_heading(content[0], level=0 if kind == "title" else 1)
        elif kind == "paragraph":
            text, style = content
            paragraph = document.add_paragraph(text) if text else document.add_paragraph()
            if style != "plain":
                setattr(paragraph.runs[0], style, True)
        elif kind == "table":
            reference_table(document, content[0])
        else:
            for item in content[0] or ["None recorded."]:
                document.add_paragraph(item, style="List Bullet")
    saved = io.BytesIO()
    document.save(saved)
    return zipfile.ZipFile(saved).read("word/document.xml")


ODD_TEXT = "  <w:t>&amp; \"Zoë\" 'Ångström' & 名前 😀 >  "
ODD_SUMMARY = "First line\nsecond\tafter a tab\r\n  indented <b>&amp;</b> \"quoted\" 'single' — Łódź\n\n\tend"


def form_variant(**changes) -> dict[str, Any]:
    """FORM as JSON with some fields replaced ("referrer.phone": None drops the phone)."""
    form = FORM.model_dump(mode="json")
    for dotted, value in changes.items():
        *parents, name = dotted.split(".")
        part = form
        for parent in parents:
            part = part[parent]
        if value is None:
            del part[name]
        else:
            part[name] = value
    return form


FORM_VARIANTS = {
    "example": form_variant(),
    "every optional field missing": form_variant(
        **{"referrer.phone": None, "child.date_of_birth": None, "child.sex": None, "child.known_to_childrens_social_care": None}
    ),
    "odd texts": form_variant(
        local_authority="middlesbrough",
        **{
            "referrer.name": ODD_TEXT, "referrer.agency": "A & B <Agency>", "referrer.phone": "+44 (0)1642 '000'",
            "child.reference": "Child \"A\" <1>", "child.sex": "männlich", "child.known_to_childrens_social_care": False,
            "incident.summary": ODD_SUMMARY, "incident.outcome": "death", "incident.abuse_or_neglect": "known",
        },
    ),
    "not suspected": form_variant(local_authority="hartlepool", **{"incident.abuse_or_neglect": "not_suspected"}),
    "one agency": form_variant(agencies_involved=["Cleveland Police"]),
    "many agencies": form_variant(
        local_authority="redcar-and-cleveland", agencies_involved=[f"Agency {n} <&> Zoë" for n in range(12)]
    ),
}
FORM_CONTEXTS = [
    None,
    {},
    {"meeting_held_on": "2026-11-27", "notification_due_on": "2026-12-04"},
    {"meeting_held_on": "2026-11-27"},
    {"notification_due_on": "2026-12-04", "notification_rule": "5 working days after 2026-11-27"},
]


def odd_routing():
    """The routing file with names the form does not expect: white space at the ends, XML's special
    characters, non-ASCII, tabs and line breaks, empty."""
    routing = load_routing()
    names = iter([ODD_TEXT, "", "Two\nlines\tand a tab", " Ünïcödé 名前 ", "", "\r\n"])
    return routing.model_copy(
        update={
            "partnerships": {k: p.model_copy(update={"name": next(names)}) for k, p in routing.partnerships.items()},
            "local_authorities": {
                k: a.model_copy(update={"name": next(names)}) for k, a in routing.local_authorities.items()
            },
        }
    )


@pytest.mark.parametrize("variant", FORM_VARIANTS)
def test_the_form_is_the_xml_python_docx_writes_element_by_element(variant):
    """`serious_incident_form_document` copies python-docx's elements written once (activities/documents.py,
    `FormBody`): its `word/document.xml` is the one python-docx's API writes, byte for byte, for every
    form, context, case reference and routing file (`docProps/core.xml` holds the time: not compared)."""
    form = FORM_VARIANTS[variant]
    for routing in (load_routing(), odd_routing()):
        for context in FORM_CONTEXTS:
            for case_id in (CASE_ID, ODD_TEXT, "", "\t"):
                rendered = serious_incident_form_document(form, case_id, routing, context)
                ours = zipfile.ZipFile(io.BytesIO(rendered)).read("word/document.xml")
                assert ours == reference_form_document(form, case_id, routing, context), (variant, context, case_id)


@pytest.mark.parametrize("text", TABLE_TEXTS)
def test_each_block_of_the_form_is_the_xml_python_docx_writes(text):
    """What no valid form has (an empty text, no agencies, `\r`, text at the ends of a heading), block
    by block: `FormBody` writes what python-docx's API writes."""
    prepared, theirs = PreparedDocument("t", "a"), new_document("t", "a")
    ours = FormBody(prepared)
    for level in (0, 1):
        ours.heading(text, level)
        theirs.add_heading(text, level)
    ours.paragraph(text)
    theirs.add_paragraph(text)
    if text:  # bold and italic set on the paragraph's run: python-docx has none for an empty text
        ours.paragraph(text, "bold")
        theirs.add_paragraph(text).runs[0].bold = True
        ours.paragraph(text, "italic")
        theirs.add_paragraph(text).runs[0].italic = True
    ours.bullets([text, text[::-1]])
    ours.bullets([])
    ours.bullets([], text)
    for item in [text, text[::-1], "None recorded.", text]:
        theirs.add_paragraph(item, style="List Bullet")
    ours.table([(text, text[::-1]), ("", text)])
    reference_table(theirs, [(text, text[::-1]), ("", text)])
    assert etree.tostring(prepared.body) == etree.tostring(theirs.element)


async def test_messages_without_a_form_have_no_attachment():
    sent = await send(request())
    assert list(read_eml(sent.path).iter_attachments()) == []


# ---- delivered once ------------------------------------------------------------------------------


async def test_same_key_twice_delivers_once(outbox):
    first = await send(request(to=[Role.BUSINESS_UNIT, Role.ESCALATION]))
    delivered = Path(first.path).read_bytes()
    second = await send(request(to=[Role.BUSINESS_UNIT, Role.ESCALATION]))
    assert second.to == first.to
    assert second.path == first.path
    assert second.key == first.key
    assert files_in(outbox) == [Path(first.path)]
    assert Path(first.path).read_bytes() == delivered, "the message delivered is not rewritten"


async def test_a_retry_with_changed_content_does_not_replace_the_delivered_message(outbox):
    first = await send(request(context=REMINDER_CONTEXT))
    await send(request(context={**REMINDER_CONTEXT, "due_on": "2099-01-01"}))
    assert files_in(outbox) == [Path(first.path)]
    assert "2099-01-01" not in body_of(read_eml(first.path))


async def test_different_keys_are_different_messages(outbox):
    one = await send(request(step="reminder/dsp_meeting/1"))
    two = await send(request(step="reminder/dsp_meeting/2"))
    assert one.path != two.path
    assert files_in(outbox) == sorted([Path(one.path), Path(two.path)])
    assert read_eml(one.path)["Message-ID"] != read_eml(two.path)["Message-ID"]


async def test_no_temporary_files_are_left_in_the_outbox(outbox):
    await send(request())
    await send(request())
    assert [path.name for path in files_in(outbox)] == ["reminder--dsp_meeting--1.eml"]


async def test_an_agency_is_written_to_at_its_own_address_first(outbox):
    message_request = request(
        "contribution_request",
        [Role.BUSINESS_UNIT],
        {"agency": "Cleveland Police", "due_on": "2026-01-08", "meeting_on": "2026-01-13"},
        step="contribution-request/cleveland-police",
    ).model_copy(update={"addresses": ["police.safeguarding@example.org"]})
    sent = await send(message_request)
    assert sent.to == ["police.safeguarding@example.org", "HSSCP@hartlepool.gov.uk"]


async def test_a_message_needs_a_recipient(outbox):
    with pytest.raises(ApplicationError, match="no recipient"):
        await send(request("contribution_request", [], {"agency": "A", "due_on": "x", "meeting_on": "y"}))
    assert files_in(outbox) == []


async def test_a_rendered_report_goes_as_a_word_document(tmp_path, outbox, monkeypatch):
    monkeypatch.setenv("SAFEGUARDING_REPORTS_DIR", str(tmp_path / "reports"))
    document = tmp_path / "reports" / CASE_ID / "rapid-review-report-final.docx"
    document.parent.mkdir(parents=True)
    document.write_bytes(b"PK\x03\x04 a docx is a zip")
    message_request = request(
        "report_to_national_panel",
        [Role.NATIONAL_PANEL],
        {"notified_on": "2025-12-29", "csons_reference": "CSONS-0000001", "final_decision": "Commission an LCSPR."},
        step="report-to-national-panel",
    ).model_copy(update={"document": str(document)})
    sent = await send(message_request)
    (attachment,) = list(read_eml(sent.path).iter_attachments())
    assert attachment.get_filename() == "rapid-review-report-final.docx"
    assert attachment.get_content_type() == "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
    assert attachment.get_content() == document.read_bytes()


# ---- how a message reads ---------------------------------------------------------------------------


@pytest.mark.parametrize("template", sorted(p.stem for p in TEMPLATES.glob("*.txt")))
def test_each_paragraph_of_a_template_is_one_line(template):
    """Mail clients wrap paragraphs themselves; a template hard-wrapped at 100 columns breaks lines
    mid-sentence on every screen narrower or wider than that. Lines may follow one another only as a
    list: `Label: value` lines, items (`- `), or a lead-in ending with a colon."""
    body = (TEMPLATES / f"{template}.txt").read_text(encoding="utf-8").partition("\n\n")[2]
    lines = body.split("\n")
    for line, following in zip(lines, lines[1:]):
        if not line or not following:
            continue
        listed = (
            line.endswith(":")
            or re.match(r"^[A-Z][A-Za-z /]*: ", line)
            or line.startswith("- ")
            or following.startswith("- ")
        )
        assert listed, f"{template}: a paragraph broken between {line!r} and {following!r}"


async def test_a_local_reviews_messages_name_the_case_as_staff_know_it(outbox):
    """A local review is a child workflow `<case id>-lcspr`; staff know only the case id."""
    review = f"{CASE_ID}-lcspr"
    message = request(
        "lcspr_contribution_request",
        [],
        {"agency": "Cleveland Police", "due_on": "2026-03-12", "publication_due_on": "2026-07-15"},
        step="lcspr-contribution-request/cleveland-police",
    ).model_copy(update={"key": f"{review}/lcspr-contribution-request/cleveland-police", "case_id": review,
                         "addresses": ["police.safeguarding@example.org"]})
    sent = await send(message)
    mail = read_eml(sent.path)
    assert f"[{CASE_ID}]" in mail["Subject"] and "lcspr" not in mail["Subject"].lower()
    assert f"(case {CASE_ID}," in body_of(mail) and "-lcspr" not in body_of(mail)
    assert mail["X-Idempotency-Key"] == f"{review}/lcspr-contribution-request/cleveland-police"  # the key stays
    assert Path(sent.path).parent.name == review


class StillClock(datetime):
    @classmethod
    def now(cls, tz=None):  # type: ignore[override]
        return datetime(2026, 11, 27, 20, 0, tzinfo=timezone.utc)


@pytest.mark.parametrize("template, to, step, context, says", [pytest.param(*case, id=case[0]) for case in TEMPLATE_CASES])
def test_an_email_is_the_libraries_own_byte_for_byte_with_each_header_class_made_once(template, to, step, context, says, monkeypatch):
    """The e-mail library makes a new class for every header it is given (`HeaderRegistry`), a third of
    the time a message took to build: `notifications.POLICY` makes each once. The message written is
    the one the library's default policy writes, to the byte (its date and boundary held still)."""
    monkeypatch.setattr(notifications, "formatdate", lambda localtime=False: "Fri, 27 Nov 2026 20:00:00 -0000")
    monkeypatch.setattr(documents, "datetime", StillClock)  # the form's created and modified times
    message = as_message(template, context)
    sent = request(template, message.recipients(), message.context(), step=message.step_key(), addresses=message.addresses,
                   attachment=FORM.model_dump(mode="json") if template == "form_to_notifier" else None)
    routing = load_routing()
    subject, body = notifications.render(sent, routing)
    to_addresses = notifications.recipients(sent, routing)
    ours = notifications.POLICY

    def written(build: policy.EmailPolicy, write: policy.EmailPolicy) -> bytes:
        monkeypatch.setattr(notifications, "POLICY", build)
        random.seed(17)  # the multipart boundary
        email = notifications.build_email(sent, routing, "bu@example.org", to_addresses, subject, body)
        return email.as_bytes(policy=write)

    assert written(ours, notifications.EML_POLICY) == written(policy.default, policy.default.clone(max_line_length=998))
    monkeypatch.setattr(notifications, "POLICY", ours)
    first, second = (notifications.build_email(sent, routing, "bu@example.org", to_addresses, subject, body) for _ in range(2))
    assert type(first["To"]) is type(second["To"]) and type(first["Subject"]) is type(second["Subject"])
