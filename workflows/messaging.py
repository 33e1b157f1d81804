"""Sending a case's messages (models/messages.py), each once: its idempotency key is the case id and
the message's step, and a case never uses a key twice."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import TYPE_CHECKING

from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from activities.notifications import send_message
    from models.case import MessageRecord, MessageRequest, Role
    from models.messages import DeliveryRefused, Message

from workflows.versions import AFTER_THE_FACT, changed
from workflows.retries import ABANDONED_WHEN_WITHDRAWN, MESSAGE_ERRORS, SENDING

if TYPE_CHECKING:
    from workflows.case import Case

SEND_TIMEOUT = timedelta(minutes=1)


class DuplicateMessageKey(RuntimeError):
    """A case asked to send a second message under a key it has used: a bug in the journey's code.
    It fails the workflow task (the case waits for fixed code) rather than dropping the message."""


class Messenger:
    def __init__(self, case: Case) -> None:
        self.case = case
        self.keys: set[str] = set()

    async def send(self, message: Message) -> MessageRecord:
        """Send once; the record says how it went (sent, not_sent, refused, failed)."""
        case = self.case
        key = f"{case.case_id}/{message.step_key()}"
        if key in self.keys:
            raise DuplicateMessageKey(f"{message.template}: the key {key} is already used by this case")
        self.keys.add(key)
        record = MessageRecord(key=key, template=message.template)
        case.messages.append(record)
        live_on = message.live_on()
        if live_on is not None and live_on < case.today() and changed(AFTER_THE_FACT):
            case.catch_up.skip(message, record)  # a request whose date has gone (catch_up.py)
            return record
        to = message.recipients()
        try:
            sent = await workflow.execute_activity(
                send_message,
                MessageRequest(
                    key=key,
                    case_id=case.case_id,
                    local_authority=case.local_authority,
                    template=message.template,
                    to=to,
                    context=message.context(),
                    # the referrer's address only in what is sent to them: not copied into every message
                    referrer_email=case.referrer_email if Role.REFERRER in to else None,
                    addresses=message.addresses,
                    owner=message.owner,
                    attachment=message.attachment,
                    document=message.document,
                ),
                start_to_close_timeout=SEND_TIMEOUT,
                retry_policy=SENDING,
                cancellation_type=ABANDONED_WHEN_WITHDRAWN,
                summary=message.describe(),
            )
        except asyncio.CancelledError:
            record.status = "cancelled"  # the case was withdrawn while it was being sent
            raise
        except ActivityError as error:
            cause = error.cause
            if not (isinstance(cause, ApplicationError) and cause.type in MESSAGE_ERRORS):
                raise
            await self.not_sent(record, cause)
            return record
        record.to = sent.to
        record.status = "sent"
        case.log("message_sent", message.template, key)
        return record

    async def not_sent(self, record: MessageRecord, error: ApplicationError) -> None:
        """What a retry cannot mend is recorded, shown and told to the Business Unit; the case goes on."""
        refused = error.type == "MessageRefused"
        record.status = "refused" if refused else "failed"
        self.case.log(f"message_{record.status}", record.template, record.key)
        self.case.needs_attention(f"message {record.template}", error.message)
        if record.template != DeliveryRefused.template:
            reason = "The mail server refused it permanently." if refused else f"{error.message}."
            await self.send(DeliveryRefused(refused_template=record.template, refused_key=record.key, reason=reason))
