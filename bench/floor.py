"""The floor: the bare workflow (bench/bare.py) plus what the other issues require of every case, each
done the plainest way, with none of the project's own design.

What it adds to bare, and which issue asks for it:
- every payload encrypted, and the models' converter (issue 12: the project's `settings.data_converter()`);
- the messages really rendered, addressed and written to the outbox once under their keys, the form
  attached as a Word document (issue 6: the project's own `send_messages` and `send_message`);
- the case register written after every step, its events, case row, deadlines and messages (issue 5:
  the project's own `record_events`, one local activity a step, as the project);
- the stage, next deadline and the rest as search attributes, once a step (issue 2);
- a summary on every activity and timer (issues 2 and 16).

What it leaves out: the decision models, their signatures and checks (issue 13), the decision tables,
corrections, routes, the release marker, the current details. The floor against bare is what the
requirements cost whatever the design; the project against the floor is what the project's design costs.

    PYTHONPATH=. python bench/floor.py     # a worker on the task queue `bench-floor`
"""

from __future__ import annotations

import asyncio
import logging
import os
import subprocess
import sys
from datetime import date, datetime
from pathlib import Path
from typing import Any

from temporalio import workflow
from temporalio.client import Client

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

with workflow.unsafe.imports_passed_through():
    import settings
    from activities.notifications import send_message, send_messages
    from activities.register import record_events
    from models import messages
    from models.case import (
        CaseEvent, CaseKind, CaseSummary, Clock, DeadlineChange, DeadlineStatus, MessageRecord, MessageRequest,
        RegisterBatch, Role, Stage,
    )
    from models.forms import LocalAuthority
    from workflows import search_attributes

from bench.bare import (
    RULES, BareSeriousIncident, bare_deadlines, bare_look_up, bare_send, bare_send_together, serve,
)

TASK_QUEUE = "bench-floor"


@workflow.defn(name="FloorSeriousIncident")
class FloorSeriousIncident(BareSeriousIncident):
    def __init__(self) -> None:
        super().__init__()
        self.form: dict[str, Any] = {}
        self.partnership = ""
        self.unwritten: list[CaseEvent] = []
        self.logged = 0  # events noted, the number of the next one's
        self.written: dict[str, DeadlineChange | MessageRecord] = {}  # the register's deadlines and messages, by key
        self.written_stage = ""
        self.logged_decisions = 0
        self.upserted: dict[str, Any] = {}

    @workflow.run
    async def run(self, form: dict[str, Any]) -> dict[str, Any]:
        self.form = form  # its stage is noted with the first step's batch (`step_done`)
        return await super().run(form)

    def said(self, summary: str) -> str | None:
        return summary

    def log(self, kind: str, name: str) -> None:
        self.logged += 1
        self.unwritten.append(CaseEvent(seq=self.logged, at=workflow.now(), kind=kind, name=name))

    async def act(self, fn: Any, arg: Any, local: bool = False, summary: str = "") -> Any:
        result = await super().act(fn, arg, local, summary)
        if fn is bare_look_up:
            self.partnership = result["partnership"]
        return result

    async def clocks(self, starts: dict[str, date]) -> None:
        await super().clocks(starts)
        for name in starts:
            self.log("deadline_set", name)

    async def send_together(self, steps: list[str]) -> None:
        """The form's three messages by `send_messages`, the form to the notifier by `send_message`."""
        received = date.fromisoformat(self.form["received_on"])
        dsp, notification = self.deadlines["dsp_meeting"], self.deadlines["panel_notification"]
        facts = {"received_on": received, "dsp_due_on": dsp["due_on"], "dsp_rule": f"{RULES['dsp_meeting']} working days"}
        kinds: dict[str, Any] = {
            "new_serious_incident_form": lambda: messages.NewSeriousIncidentForm(**facts),
            "dsp_meeting_invitation": lambda: messages.DspMeetingInvitation(**facts),
            "dsp_meeting_call": lambda: messages.DspMeetingCall(**facts, notification_due_on=notification["due_on"]),
            "form_to_notifier": lambda: messages.FormToNotifier(
                meeting_held_on=workflow.now().date(), notification_due_on=notification["due_on"],
                notification_rule=f"{RULES['panel_notification']} working days", attachment=self.form,
            ),
        }
        if not all(step in kinds for step in steps):
            return await super().send_together(steps)  # a reminder: not on the benchmark's journey
        told = [kinds[step]() for step in steps]
        requests = [self.request(message) for message in told]
        self.messages.extend({"key": r.key, "template": r.template, "status": "queued"} for r in requests)
        summary = "; ".join(message.describe() for message in told)
        if len(requests) == 1:
            await self.act(send_message, requests[0], summary=summary)
        else:
            await self.act(send_messages, requests, summary=summary)
        for record in self.messages[-len(requests):]:
            record["status"] = "sent"
            self.log("message_sent", record["template"])

    def request(self, message: messages.Message) -> MessageRequest:
        case_id = workflow.info().workflow_id
        to = message.recipients()
        return MessageRequest(
            key=f"{case_id}/{message.step_key()}", case_id=case_id, local_authority=LocalAuthority(self.form["local_authority"]),
            template=message.template, to=to, context=message.context(),
            referrer_email=self.form["referrer"]["email"] if Role.REFERRER in to else None, attachment=message.attachment,
        )

    async def step_done(self) -> None:
        """The step's search attributes (those that changed), then its register batch: what changed since the last."""
        for name in self.decisions[self.logged_decisions:]:
            self.log("decision_accepted", name)
        self.logged_decisions = len(self.decisions)
        if self.written_stage != self.stage:
            self.log("stage", self.stage)
        if not self.unwritten:
            return
        open_due = [d["due_at"] for d in self.deadlines.values() if d["status"] == "open"]
        next_due = datetime.fromisoformat(min(open_due)) if open_due else None
        attributes = [
            search_attributes.CASE_KIND.value_set(CaseKind.SERIOUS_INCIDENT.value),
            search_attributes.CASE_STAGE.value_set(self.stage),
            search_attributes.LOCAL_AUTHORITY.value_set(self.form["local_authority"]),
            search_attributes.PARTNERSHIP.value_set(self.partnership),
            search_attributes.NEXT_DEADLINE.value_set(next_due) if next_due else search_attributes.NEXT_DEADLINE.value_unset(),
        ]
        changed = [a for a in attributes if self.upserted.get(a.key.name, self) != a.value]
        self.upserted.update({a.key.name: a.value for a in attributes})
        if changed:
            workflow.upsert_search_attributes(changed)
        deadlines = [
            DeadlineChange(key=Clock(name), due_on=d["due_on"], status=DeadlineStatus(d["status"]))
            for name, d in self.deadlines.items()
        ]
        records = [MessageRecord(key=m["key"], template=m["template"], status=m["status"]) for m in self.messages]
        case_id = workflow.info().workflow_id
        batch = RegisterBatch(
            events=self.unwritten,
            case_id=case_id,
            case=CaseSummary(
                case_id=case_id, kind=CaseKind.SERIOUS_INCIDENT, local_authority=LocalAuthority(self.form["local_authority"]),
                partnership=self.partnership, stage=Stage(self.stage), received_on=self.form["received_on"],
                next_due_on=next_due.date() if next_due else None,
            ),
            deadlines=[d for d in deadlines if self.written.get(d.key.value) != d],
            messages=[m for m in records if self.written.get(m.key) != m],
        )
        self.written.update({d.key.value: d for d in deadlines} | {m.key: m for m in records})
        self.written_stage, self.unwritten = self.stage, []
        await self.act(record_events, batch, local=True, summary=f"Case register: {len(batch.events)} event(s)")


async def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    os.umask(0o077)
    subprocess.run([sys.executable, "-m", "register.db"], check=True)  # the register's schema, as worker.py
    client = await Client.connect(
        os.environ.get("TEMPORAL_ADDRESS", "localhost:7233"),
        namespace=os.environ.get("TEMPORAL_NAMESPACE", "default"),
        data_converter=settings.data_converter(),
    )
    activities = [bare_look_up, bare_deadlines, bare_send, bare_send_together, send_message, send_messages, record_events]
    await serve(client, TASK_QUEUE, [FloorSeriousIncident], activities)


if __name__ == "__main__":
    asyncio.run(main())
