"""Sending a case's messages (models/messages.py), each once: its idempotency key is the case id and
the message's step, and a case never uses a key twice."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import TYPE_CHECKING

from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from activities.notifications import send_message, send_messages
    from models.case import MessageRecord, MessageRequest, Role
    from models.messages import DeliveryRefused, Message
    from models.text import Public

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

    def prepare(self, message: Message) -> tuple[MessageRecord, MessageRequest | None]:
        """The message's record on the case, and what to send (None: a request whose date has gone)."""
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
            return record, None
        to = message.recipients()
        return record, MessageRequest(
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
        )

    async def send(self, message: Message) -> MessageRecord:
        """Send once; the record says how it went (sent, not_sent, refused, failed)."""
        record, request = self.prepare(message)
        if request is None:
            return record
        try:
            sent = await workflow.execute_activity(
                send_message,
                request,
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
        self.sent(record, sent.to)
        return record

    async def send_together(self, *messages: Message) -> list[MessageRecord]:
        """The messages of one step by one activity (from release 0.5): each still once, under its own key,
        with its own record; one refused does not keep the others back."""
        prepared = [self.prepare(message) for message in messages]
        records = [record for record, _ in prepared]
        to_send = [(message, record, request) for message, (record, request) in zip(messages, prepared) if request]
        if not to_send:
            return records
        summaries = [message.describe() for message, _, _ in to_send]
        joined = "; ".join(summaries)
        try:
            outcomes = await workflow.execute_activity(
                send_messages,
                [request for _, _, request in to_send],
                start_to_close_timeout=SEND_TIMEOUT * len(to_send),
                retry_policy=SENDING,
                cancellation_type=ABANDONED_WHEN_WITHDRAWN,
                summary=Public(joined) if all(type(s) is Public for s in summaries) else joined,
            )
        except asyncio.CancelledError:
            for _, record, _ in to_send:
                record.status = "cancelled"
            raise
        for (_, record, _), outcome in zip(to_send, outcomes):
            if outcome.refused is None:
                self.sent(record, outcome.to)
            elif outcome.refused in MESSAGE_ERRORS:
                await self.not_sent(record, ApplicationError(outcome.reason or outcome.refused, type=outcome.refused))
            else:  # as `send` lets such an error fail the case
                raise ApplicationError(f"message {record.template}: {outcome.refused}", type=outcome.refused, non_retryable=True)
        return records

    def sent(self, record: MessageRecord, to: list[str]) -> None:
        record.to = to
        record.status = "sent"
        self.case.log("message_sent", record.template, record.key)

    async def not_sent(self, record: MessageRecord, error: ApplicationError) -> None:
        """What a retry cannot mend is recorded, shown and told to the Business Unit; the case goes on."""
        refused = error.type == "MessageRefused"
        record.status = "refused" if refused else "failed"
        self.case.log(f"message_{record.status}", record.template, record.key)
        self.case.needs_attention(f"message {record.template}", error.message)
        if record.template != DeliveryRefused.template:
            reason = "The mail server refused it permanently." if refused else f"{error.message}."
            await self.send(DeliveryRefused(refused_template=record.template, refused_key=record.key, reason=reason))
