"""Messages a case sends: rendered from a template, addressed from the routing file, delivered once.

Templates live in activities/templates/ (SAFEGUARDING_TEMPLATES_DIR), one file per kind of message:
a `Subject:` line, a blank line, then the body, with ${placeholders}. The embedded default delivers
to an outbox folder as .eml files (SAFEGUARDING_OUTBOX_DIR); each message's idempotency key names its
file, so a retried activity or a restarted worker finds it already delivered and sends nothing more.
With a mail server configured (SAFEGUARDING_SMTP_HOST ...), the recorded message is then sent through
it and marked sent; a temporary failure is retried with backoff until it goes, a permanent refusal
fails the activity as `MessageRefused` and the case records it, tells the Business Unit, and goes on.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
import mimetypes
import os
from email import headerregistry, message_from_bytes, policy
from email.message import EmailMessage
from email.utils import formatdate
from pathlib import Path
from string import Template

import aiosmtplib
from temporalio import activity
from temporalio.exceptions import ApplicationError

import settings
from activities.documents import FORM_FILENAME, serious_incident_form_document
from activities.files import case_folder, readable_document
from activities.routing import RoutingConfig, load_routing
from models.case import MessageOutcome, MessageRequest, Role, SentMessage, staff_case_id


# Reports are Word documents (the Panel template's format) or PDFs, whatever the machine's mime.types.
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
mimetypes.add_type(DOCX, ".docx")
mimetypes.add_type("application/pdf", ".pdf")

STEP = re.compile(r"[A-Za-z0-9_-]+(/[A-Za-z0-9_-]+)*")


class HeaderClasses(headerregistry.HeaderRegistry):
    """The standard library's header registry, with each kind of header's class made once. Its own
    `HeaderRegistry` makes a new class (`type(...)`) for every header it is given, set or parsed: a
    third of the time an e-mail took to build. The classes are the same; so is every byte written."""

    def __init__(self) -> None:
        super().__init__()
        self.made: dict[str, type[headerregistry.BaseHeader]] = {}

    def __getitem__(self, name: str) -> type[headerregistry.BaseHeader]:
        key = name.lower()
        if key not in self.made:
            self.made[key] = super().__getitem__(name)
        return self.made[key]


# The e-mail library's default policy, with the header classes made once.
POLICY = policy.default.clone(header_factory=HeaderClasses())
# Long headers (a message key, many recipients) are kept on one line rather than folded.
EML_POLICY = POLICY.clone(max_line_length=998)


def recipients(request: MessageRequest, routing: RoutingConfig) -> list[str]:
    authority = routing.authority(request.local_authority)
    partnership = routing.partnership(authority.partnership)
    addresses: dict[Role, list[str]] = {
        Role.BUSINESS_UNIT: [partnership.mailbox],
        Role.SERIOUS_INCIDENT_NOTIFIER: [authority.serious_incident_notifier],
        Role.REFERRER: [request.referrer_email] if request.referrer_email else [],
        Role.ESCALATION: list(partnership.escalation),
        Role.INDEPENDENT_SCRUTINEER: [partnership.independent_scrutineer],
        Role.RAPID_REVIEW_PANEL: list(partnership.rapid_review_panel),
        Role.EXECUTIVE: list(partnership.executive),
        Role.SAFEGUARDING_LEADS: list(partnership.safeguarding_leads),
        Role.NATIONAL_PANEL: [routing.national_panel],
        Role.SECRETARY_OF_STATE: [routing.secretary_of_state],
        Role.OFSTED: [routing.ofsted],
        Role.DSPS: list(partnership.dsps),
        Role.PARTNERSHIP_CHAIR: list(partnership.partnership_chair),
        Role.LOCAL_AUTHORITY: list(authority.escalation) or [authority.serious_incident_notifier],
        # an owner the routing file does not know is written to through the Business Unit
        Role.RECOMMENDATION_OWNER: [routing.agencies.get(request.owner or "", partnership.mailbox)],
    }
    found: list[str] = list(dict.fromkeys(request.addresses))
    for role in request.to:
        if not addresses[role]:
            raise not_sendable("RoutingError", f"message {request.template} has no address for {role.value}")
        found.extend(a for a in addresses[role] if a not in found)
    if not found:
        raise not_sendable("RoutingError", f"message {request.template} has no recipient")
    return found


def not_sendable(kind: str, reason: str) -> ApplicationError:
    """A message that cannot be sent as it is: a retry would not mend it (workflows/retries.py)."""
    return ApplicationError(reason, type=kind, non_retryable=True)


def render(request: MessageRequest, routing: RoutingConfig) -> tuple[str, str]:
    try:
        text = (settings.templates_dir() / f"{request.template}.txt").read_text(encoding="utf-8")
    except OSError:
        raise not_sendable("TemplateError", f"template {request.template} cannot be read") from None
    head, _, body = text.partition("\n\n")
    if not head.startswith("Subject:"):
        raise not_sendable("TemplateError", f"template {request.template} must start with a 'Subject:' line")
    authority = routing.authority(request.local_authority)
    case_id = staff_case_id(request.case_id)  # a local review's messages name its case, as staff know it
    values = {
        "case_id": case_id,
        "local_authority": authority.name,
        "partnership": authority.partnership,
        "partnership_name": routing.partnership(authority.partnership).name,
        "case_url": f"{settings.temporal_ui_url()}/namespaces/{settings.temporal_namespace()}"
        f"/workflows/{case_id}",
        **request.context,
    }
    try:
        subject = Template(head.removeprefix("Subject:").strip()).substitute(values)
        return subject, Template(body).substitute(values)
    except (KeyError, ValueError) as error:
        raise not_sendable("TemplateError", f"template {request.template} has a placeholder the case does not fill: {error}") from None


def outbox_path(key: str) -> Path:
    case_id, _, step = key.partition("/")
    if not STEP.fullmatch(step):
        raise not_sendable("MessageInvalid", "a message's step is letters, digits, '-', '_' and '/'")
    return case_folder(settings.outbox_dir(), case_id) / f"{step.replace('/', '--')}.eml"


def build_email(
    request: MessageRequest, routing: RoutingConfig, sender: str, to: list[str], subject: str, body: str
) -> EmailMessage:
    message = EmailMessage(policy=POLICY)
    try:
        message["From"] = sender
        message["To"] = ", ".join(to)
        message["Subject"] = subject
    except ValueError:  # a line break in a header: the e-mail library rightly refuses it
        raise not_sendable("MessageInvalid", f"message {request.key}: a header the e-mail library refuses") from None
    message["Date"] = formatdate(localtime=False)
    digest = hashlib.sha256(request.key.encode()).hexdigest()[:32]
    message["Message-ID"] = f"<{digest}@safeguarding-cases>"
    message["X-Idempotency-Key"] = request.key
    message.set_content(body)
    if request.document is not None:
        document = readable_document(request.document, request.case_id)
        maintype, subtype = (mimetypes.guess_type(document.name)[0] or "application/octet-stream").split("/")
        message.add_attachment(
            document.read_bytes(), maintype=maintype, subtype=subtype, filename=document.name
        )
    if request.attachment is not None:  # the form, as a Word document its reader can read (¶2.6)
        try:
            form = serious_incident_form_document(request.attachment, staff_case_id(request.case_id), routing, request.context)
        except ValueError as error:
            raise not_sendable("MessageInvalid", f"message {request.key}: the form cannot be rendered ({type(error).__name__})") from None
        maintype, subtype = DOCX.split("/")
        message.add_attachment(form, maintype=maintype, subtype=subtype, filename=FORM_FILENAME)
    return message


def deliver_once(path: Path, message: EmailMessage) -> bool:
    """Write the message under its key unless it is there already; True if this call delivered it.
    Written 0600 in an owner-only folder, synced, then linked into place: a message already delivered is
    never replaced, and a reader never sees half of one (settings.write_private)."""
    try:
        settings.write_private(path, message.as_bytes(policy=EML_POLICY), exclusive=True)
        return True
    except FileExistsError:
        return False


async def send_by_smtp_once(path: Path, smtp: settings.Smtp, key: str) -> bool:
    """Send the recorded message through the mail server unless it has gone already (its `.sent`
    mark); True if this call sent it. A temporary failure raises and the activity is retried with
    backoff; a permanent refusal raises a non-retryable `MessageRefused`."""
    sent_mark = path.with_suffix(".sent")
    if await asyncio.to_thread(sent_mark.exists):
        return False
    message = message_from_bytes(await asyncio.to_thread(path.read_bytes), policy=EML_POLICY)
    try:
        refused, _ = await aiosmtplib.send(
            message,
            hostname=smtp.host,
            port=smtp.port,
            start_tls=smtp.starttls,
            username=smtp.username,
            password=smtp.password,
            timeout=30,
        )
    except aiosmtplib.SMTPRecipientsRefused as error:
        codes = sorted({r.code for r in error.recipients})
        if all(code >= 500 for code in codes):
            raise ApplicationError(
                f"message {key}: the mail server refused its recipients permanently ({codes})",
                type="MessageRefused",
                non_retryable=True,
            ) from None
        raise
    except aiosmtplib.SMTPResponseException as error:
        if error.code >= 500:
            raise ApplicationError(
                f"message {key}: the mail server refused it permanently ({error.code})",
                type="MessageRefused",
                non_retryable=True,
            ) from None
        raise
    await asyncio.to_thread(sent_mark.write_text, formatdate(localtime=False) + "\n", encoding="utf-8")
    if refused:  # it went to the others; a refused recipient is a permanent refusal all the same
        raise ApplicationError(
            f"message {key}: the mail server refused {len(refused)} of its recipients",
            type="MessageRefused",
            non_retryable=True,
        )
    return True


def record_in_outbox(request: MessageRequest) -> tuple[Path, list[str], bool]:
    """Render, address and write the message under its key (file work: run in a thread)."""
    routing = load_routing()
    to = recipients(request, routing)
    subject, body = render(request, routing)
    sender = routing.partnership_of(request.local_authority)[1].mailbox
    path = outbox_path(request.key)
    return path, to, deliver_once(path, build_email(request, routing, sender, to, subject, body))


@activity.defn
async def send_message(request: MessageRequest) -> SentMessage:
    """Record the message in the outbox (once, under its key), then send it through the mail server
    when one is configured (once: marked sent after it went)."""
    path, to, delivered = await asyncio.to_thread(record_in_outbox, request)
    activity.logger.info(
        "message %s %s", request.key, "delivered" if delivered else "already delivered"
    )
    smtp = settings.smtp()
    if smtp is not None:
        sent = await send_by_smtp_once(path, smtp, request.key)
        activity.logger.info("message %s %s", request.key, "sent by SMTP" if sent else "already sent by SMTP")
    return SentMessage(key=request.key, to=to, path=str(path))


@activity.defn
async def send_messages(requests: list[MessageRequest]) -> list[MessageOutcome]:
    """The messages of one step, in one activity (from release 0.5), each as `send_message` sends it:
    once, under its own key. A message that cannot be sent as it is (a non-retryable error) is its
    outcome and the others still go; what a retry can mend (the mail server away) fails the activity,
    and its retry skips what was already delivered and sent."""
    outcomes = []
    for request in requests:
        try:
            sent = await send_message(request)
        except ApplicationError as error:
            if not error.non_retryable:
                raise
            outcomes.append(MessageOutcome(key=request.key, refused=error.type, reason=error.message))
            continue
        outcomes.append(MessageOutcome(key=sent.key, to=sent.to, path=sent.path))
    return outcomes
