"""Messages that really go out: through a real SMTP server on loopback (aiosmtpd), each once."""

from __future__ import annotations

import asyncio
import io
import json
import socket
from email import message_from_bytes, policy
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from docx import Document

from models.working_days import add_working_days, end_of_day
from models.case import Clock, Stage
from models.forms import SeriousIncidentForm
from tests.journey import deadline, serious_incident_form, templates

AUTHORITY_NAME = {"hartlepool": "Hartlepool", "stockton-on-tees": "Stockton-on-Tees", "middlesbrough": "Middlesbrough", "redcar-and-cleveland": "Redcar and Cleveland"}

ROUTING = Path(__file__).resolve().parents[1] / "config" / "routing.json"


class Mailbox:
    """Every message the SMTP server accepted; refuses (550) any recipient with 'refuse' in it."""

    def __init__(self) -> None:
        self.received: list[tuple[list[str], object]] = []

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if "refuse" in address:
            return "550 5.1.1 No such user"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.received.append((list(envelope.rcpt_tos), message_from_bytes(envelope.content, policy=policy.default)))
        return "250 Message accepted for delivery"

    def by_id(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for _, message in self.received:
            counts[message["X-Idempotency-Key"]] = counts.get(message["X-Idempotency-Key"], 0) + 1
        return counts


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def mail_server(monkeypatch):
    port = free_port()
    mailbox = Mailbox()
    controller = Controller(mailbox, hostname="127.0.0.1", port=port)
    monkeypatch.setenv("SAFEGUARDING_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("SAFEGUARDING_SMTP_PORT", str(port))
    monkeypatch.setenv("SAFEGUARDING_SMTP_STARTTLS", "false")
    mailbox.controller = controller  # type: ignore[attr-defined]
    yield mailbox
    if getattr(controller, "server", None) is not None:
        controller.stop()


async def arrived(mailbox: Mailbox, keys: set[str]) -> None:
    for _ in range(300):
        if keys <= set(mailbox.by_id()):
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"never arrived: {keys - set(mailbox.by_id())}")


@pytest.mark.parametrize("authority, mailbox_address, notifier", [
    ("stockton-on-tees", "HSSCP@hartlepool.gov.uk", "nicole.wilson@stockton.gov.uk"),
    ("redcar-and-cleveland", "STSCP@middlesbrough.gov.uk", "Victoria.McLeod@redcar-cleveland.gov.uk"),
])
async def test_each_message_arrives_at_its_addresses_once(journey, mail_server, authority, mailbox_address, notifier):
    mail_server.controller.start()
    today = await journey.today()
    body = serious_incident_form(today).model_dump(mode="json") | {"local_authority": authority}
    handle = await journey.start_serious_incident(SeriousIncidentForm.model_validate(body))
    await journey.decide(handle, "dsp_decision", meeting_held_on=today)
    status = await journey.sent(handle, "form_to_notifier", "dsp_meeting_invitation")
    await arrived(mail_server, {m.key for m in status.messages})

    assert all(count == 1 for count in mail_server.by_id().values()), mail_server.by_id()
    arrivals = {message["X-Idempotency-Key"]: (to, message) for to, message in mail_server.received}
    for record in status.messages:
        to, message = arrivals[record.key]
        assert to == record.to
        assert f"[{handle.id}]" in message["Subject"] and "Child A" not in message["Subject"]
    to, to_notifier = arrivals[f"{handle.id}/form-to-notifier"]
    assert to == [notifier, mailbox_address]
    (form,) = list(to_notifier.iter_attachments())
    assert form.get_filename() == "serious-incident-notification-form.docx"
    cells = [" | ".join(c.text for c in row.cells) for table in Document(io.BytesIO(form.get_content())).tables for row in table.rows]
    assert f"Local authority | {AUTHORITY_NAME[authority]}" in cells, cells


async def test_the_mail_server_down_for_a_while_then_back_every_message_once(journey, mail_server):
    today = await journey.today()
    handle = await journey.start_serious_incident(serious_incident_form(today))
    await journey.decide(handle, "dsp_decision", meeting_held_on=today)  # the case goes on meanwhile
    await asyncio.sleep(1.5)  # the sends fail and are retried
    status = await journey.status(handle)
    assert status.stage is Stage.PANEL_NOTIFICATION
    assert any(m.status == "queued" for m in status.messages)
    assert mail_server.received == []

    mail_server.controller.start()
    status = await journey.sent(handle, "new_serious_incident_form", "dsp_meeting_invitation", "form_to_notifier")
    await arrived(mail_server, {m.key for m in status.messages})
    assert all(count == 1 for count in mail_server.by_id().values()), mail_server.by_id()


async def test_a_permanent_refusal_is_recorded_and_the_business_unit_told(journey, mail_server):
    mail_server.controller.start()
    today = await journey.today()
    body = serious_incident_form(today).model_dump(mode="json")
    body["referrer"]["email"] = "refuse.me@example.org"
    handle = await journey.start_serious_incident(SeriousIncidentForm.model_validate(body))
    await journey.decide(handle, "dsp_decision", decision="do_not_notify", meeting_held_on=today)
    status = await journey.wait_for(
        handle, lambda s: any(m.template == "delivery_refused" and m.status == "sent" for m in s.messages)
    )
    refused = next(m for m in status.messages if m.template == "rationale_to_referrer")
    assert refused.status == "refused"
    told = next(m for m in status.messages if m.template == "delivery_refused")
    assert (told.status, told.to) == ("sent", ["HSSCP@hartlepool.gov.uk"])
    await arrived(mail_server, {told.key})
    assert status.stage is Stage.CHALLENGE_WINDOW  # the case goes on
    # It still reached the Business Unit, once: only the referrer's address was refused.
    assert mail_server.by_id()[refused.key] == 1


async def test_the_form_s_messages_go_together_and_one_refused_keeps_none_of_the_others_back(journey, mail_server, tmp_path, monkeypatch):
    """Release 0.5: the form's three messages by one activity; the mail server refuses the scrutineer's
    address for good: that message is refused and the Business Unit told, the other two are sent, each once."""
    routing = json.loads((Path(__file__).resolve().parents[1] / "config" / "routing.json").read_text(encoding="utf-8"))
    routing["partnerships"]["HSSCP"]["independent_scrutineer"] = "refuse.scrutineer@example.org"
    (tmp_path / "routing.json").write_text(json.dumps(routing), encoding="utf-8")
    monkeypatch.setenv("SAFEGUARDING_ROUTING_FILE", str(tmp_path / "routing.json"))
    mail_server.controller.start()
    today = await journey.today()
    handle = await journey.start_serious_incident(serious_incident_form(today))
    status = await journey.wait_for(
        handle, lambda s: any(m.template == "delivery_refused" and m.status == "sent" for m in s.messages)
    )
    by_template = {m.template: m.status for m in status.messages}
    assert by_template == {
        "new_serious_incident_form": "sent",
        "dsp_meeting_invitation": "refused",
        "dsp_meeting_call": "sent",
        "delivery_refused": "sent",
    }
    history = await handle.fetch_history()
    scheduled = [e.activity_task_scheduled_event_attributes.activity_type.name for e in history.events
                 if e.HasField("activity_task_scheduled_event_attributes")]
    assert scheduled == ["send_messages", "send_message"]  # the form's three together, then the notice
    refused = next(m.key for m in status.messages if m.status == "refused")
    await arrived(mail_server, {m.key for m in status.messages} - {refused})  # its one recipient refused
    assert refused not in mail_server.by_id()
    assert all(count == 1 for count in mail_server.by_id().values()), mail_server.by_id()


async def test_a_reminder_policy_changed_while_a_case_is_open(journey, tmp_path, monkeypatch):
    today = await journey.today()
    handle = await journey.start_serious_incident(serious_incident_form(today))
    status = await journey.wait_for(handle, lambda s: deadline(s, Clock.DSP_MEETING) is not None)

    routing = json.loads(ROUTING.read_text())
    routing["partnerships"]["HSSCP"]["reminders"] = {"working_days_before": [3, 2, 1, 0], "at": "08:30"}
    changed = tmp_path / "routing.json"
    changed.write_text(json.dumps(routing))
    monkeypatch.setenv("SAFEGUARDING_ROUTING_FILE", str(changed))

    # The open DSP and ¶2.4 clocks (set when the form came, issue 14) keep the policy they were set with
    # (it is in the history); the case works on.
    await journey.decide(handle, "dsp_decision", meeting_held_on=today)
    await journey.decide(handle, "notification_submitted", submitted_on=today)
    submission_due = add_working_days(today, 15)
    await journey.skip_to(end_of_day(submission_due))
    status = await journey.wait_for(handle, lambda s: deadline(s, Clock.RAPID_REVIEW_SUBMISSION).escalated)
    assert deadline(status, Clock.DSP_MEETING).status.value == "met"
    # The clock set after the change follows the new policy: reminders 3, 2, 1 and 0 working days before.
    assert deadline(status, Clock.RAPID_REVIEW_SUBMISSION).reminders_sent == 4
    assert "deadline_escalation" in templates(status)
