"""The bare workflow the benchmark compares the project with: the serious-incident journey's Temporal
protocol shape and nothing else.

Per case, as the project's journey from the form to the Rapid Review stage does, with the same Temporal
work: a routing look-up as a local activity; the DSP meeting's and the notification's deadlines computed
together by one local activity at the form (the same working-day calendar,
models.working_days.add_working_days), the Rapid Review submission's by another after the notification,
each watched by timers (two reminders and the deadline itself) until its step is recorded; the form's
three messages (the Business Unit's, the scrutineer's invitation, the DSPs' call) sent by one activity,
one more after the decision to notify; the decisions as updates (a validator that checks the stage, a
handler that moves it); a `status` query. The worker runs as the project's does (no sandbox, no task
per payload for external storage, the same cache). No register feed, no pydantic models (plain dicts on
the default converter), no decision tables, no search attributes, no codec.

Until issue 17's seventh pass this workflow kept the shape the project had when the issue was filed
(every step a server activity, each message its own) and ran in the SDK's sandbox, while the project
had moved its quick steps to local activities, its form's messages to one activity and its workflows
out of the sandbox: the ratios compared different Temporal work.

    PYTHONPATH=. python bench/bare.py     # a worker on the task queue `bench-bare` (TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE)
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys
from datetime import date, datetime, time, timedelta, timezone
from pathlib import Path
from typing import Any

from temporalio import activity, workflow
from temporalio.client import Client
from temporalio.worker import UnsandboxedWorkflowRunner, Worker

with workflow.unsafe.imports_passed_through():
    from models.working_days import add_working_days

TASK_QUEUE = "bench-bare"
TIMEOUT = timedelta(minutes=1)
RULES = {"dsp_meeting": 2, "panel_notification": 5, "rapid_review_submission": 15}
STEPS = {  # decision -> (stage it is taken at, the clock it stops, the stage it moves to)
    "dsp_decision": ("dsp_meeting", "dsp_meeting", "panel_notification"),
    "notification_submitted": ("panel_notification", "panel_notification", "rapid_review"),
    "panel_acknowledged": ("rapid_review", None, "rapid_review"),
}


@activity.defn
async def bare_look_up(authority: str) -> dict[str, str]:
    return {"partnership": "HSSCP", "authority": authority}


def deadline_of(request: dict[str, Any]) -> dict[str, Any]:
    starts = date.fromisoformat(request["starts_on"])
    due = add_working_days(starts, RULES[request["clock"]])
    reminders = sorted({add_working_days(due, -n) for n in (1, 0)})
    end = datetime.combine(due + timedelta(days=1), time(0), tzinfo=timezone.utc)
    return {
        "due_on": due.isoformat(),
        "due_at": end.isoformat(),
        "reminders_at": [datetime.combine(d, time(9), tzinfo=timezone.utc).isoformat() for d in reminders],
    }


@activity.defn
async def bare_deadlines(requests: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [deadline_of(request) for request in requests]


@activity.defn
async def bare_send(message: dict[str, Any]) -> dict[str, Any]:
    return {"key": message["key"], "status": "sent"}


@activity.defn
async def bare_send_together(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{"key": message["key"], "status": "sent"} for message in messages]


@workflow.defn(name="BareSeriousIncident")
class BareSeriousIncident:
    def __init__(self) -> None:
        self.stage = "dsp_meeting"
        self.deadlines: dict[str, dict[str, Any]] = {}
        self.decisions: list[str] = []
        self.messages: list[dict[str, Any]] = []
        self.pending = 0
        self.watchers: list[asyncio.Task[None]] = []
        self.done_before_set: set[str] = set()

    @workflow.run
    async def run(self, form: dict[str, Any]) -> dict[str, Any]:
        received = date.fromisoformat(form["received_on"])
        await self.act(bare_look_up, form["local_authority"], local=True)
        await self.clocks({"dsp_meeting": received, "panel_notification": date.fromisoformat(form["became_aware_on"])})
        await self.send_together(["new_serious_incident_form", "dsp_meeting_invitation", "dsp_meeting_call"])
        await self.step_done()
        await workflow.wait_condition(lambda: self.stage != "dsp_meeting")
        await self.send("form_to_notifier")
        await self.step_done()
        await workflow.wait_condition(lambda: self.stage != "panel_notification")
        await self.clocks({"rapid_review_submission": received})
        await self.step_done()
        await workflow.wait_condition(lambda: "panel_acknowledged" in self.decisions)
        await self.step_done()
        await workflow.wait_condition(lambda: self.stage == "closed")
        return self.status()

    async def step_done(self) -> None:
        """A step done, the journey about to wait (bench/floor.py writes the register here); bare: nothing."""

    def said(self, summary: str) -> str | None:
        """The Web UI's summary of an activity or a timer: none in bare (bench/floor.py gives each one)."""
        return None

    async def act(self, fn: Any, arg: Any, local: bool = False, summary: str = "") -> Any:
        """An activity; `local`: a local activity, as the project runs its quick steps (workflows/local_first.py)."""
        execute = workflow.execute_local_activity if local else workflow.execute_activity
        self.pending += 1
        try:
            return await execute(fn, arg, start_to_close_timeout=TIMEOUT, summary=self.said(summary or fn.__name__))
        finally:
            self.pending -= 1

    async def clocks(self, starts: dict[str, date]) -> None:
        requests = [{"clock": name, "starts_on": starts_on.isoformat()} for name, starts_on in starts.items()]
        for name, deadline in zip(starts, await self.act(bare_deadlines, requests, local=True)):
            deadline["status"] = "met" if name in self.done_before_set else "open"
            self.deadlines[name] = deadline
            if deadline["status"] == "open":
                self.watchers.append(asyncio.create_task(self.watch(name, deadline)))

    async def watch(self, name: str, deadline: dict[str, Any]) -> None:
        for moment in [*deadline["reminders_at"], deadline["due_at"]]:
            delay = datetime.fromisoformat(moment) - workflow.now()
            if delay > timedelta(0):
                try:
                    await workflow.wait_condition(
                        lambda: deadline["status"] != "open", timeout=delay, timeout_summary=self.said(f"Reminder: {name}")
                    )
                except asyncio.TimeoutError:
                    pass
            if deadline["status"] != "open":
                return
            await self.send(f"reminder/{name}")
        deadline["status"] = "missed"

    async def send(self, step: str) -> None:
        await self.send_together([step])

    async def send_together(self, steps: list[str]) -> None:
        """One message by `bare_send`, several (the form's) by one `bare_send_together`, as the project."""
        records = [{"key": f"{workflow.info().workflow_id}/{step}", "status": "queued"} for step in steps]
        self.messages.extend(records)
        requests = [{"key": record["key"], "to": ["someone@example.org"]} for record in records]
        if len(requests) == 1:
            records[0].update(await self.act(bare_send, requests[0]))
            return
        for record, outcome in zip(records, await self.act(bare_send_together, requests)):
            record.update(outcome)

    @workflow.update
    async def decide(self, decision: dict[str, Any]) -> dict[str, Any]:
        at, stops, moves_to = STEPS[decision["name"]]
        if stops in self.deadlines:
            self.deadlines[stops]["status"] = "met"
        elif stops:
            self.done_before_set.add(stops)  # recorded before its clock was set up, as the project allows
        self.decisions.append(decision["name"])
        self.stage = moves_to
        return {"name": decision["name"], "stage": self.stage}

    @decide.validator
    def check(self, decision: dict[str, Any]) -> None:
        step = STEPS.get(decision.get("name", ""))
        if step is None or step[0] != self.stage or decision["name"] in self.decisions:
            raise ValueError(f"{decision.get('name')} is not taken at {self.stage}")

    @workflow.query
    def status(self) -> dict[str, Any]:
        return {
            "stage": self.stage,
            "deadlines": self.deadlines,
            "decisions": self.decisions,
            "messages": self.messages,
            "pending": self.pending,
        }


async def serve(client: Client, task_queue: str, workflows: list[type], activities: list[Any]) -> None:
    """A worker with the project's settings (worker.py), so the workers differ only in what they run."""
    worker = Worker(
        client,
        task_queue=task_queue,
        workflows=workflows,
        activities=activities,
        max_cached_workflows=int(os.environ.get("SAFEGUARDING_MAX_CACHED_WORKFLOWS", "1000")),
        workflow_runner=UnsandboxedWorkflowRunner(),
        max_workflow_task_external_storage_concurrency=1,
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    logging.info("worker polling task queue %s", task_queue)
    async with worker:
        await stop.wait()


async def main() -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # models/, for the calendar
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    client = await Client.connect(
        os.environ.get("TEMPORAL_ADDRESS", "localhost:7233"), namespace=os.environ.get("TEMPORAL_NAMESPACE", "default")
    )
    await serve(client, TASK_QUEUE, [BareSeriousIncident], [bare_look_up, bare_deadlines, bare_send, bare_send_together])


if __name__ == "__main__":
    asyncio.run(main())
