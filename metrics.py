"""The worker's Prometheus metrics: the Temporal SDK's own and the cases'.

SAFEGUARDING_METRICS_ADDRESS (e.g. `127.0.0.1:9464`; unset: no metrics) is where the worker serves
`/metrics`. One endpoint carries both:

- the SDK's runtime metrics (`temporal_*`: workflow and activity task latencies, activity failures,
  schedule-to-start latency, slots, sticky cache, polls), from `Runtime(telemetry=...)`;
- the cases' gauges (`safeguarding_*`), counted every SAFEGUARDING_METRICS_INTERVAL seconds (default
  30) from Temporal visibility (the search attributes of workflows/search_attributes.py) and from the
  case register. Workflows are not touched: every figure is read from what cases already publish.

| metric | labels | from |
| --- | --- | --- |
| `safeguarding_open_cases` | stage, partnership | running workflows by `CaseStage`, `Partnership` |
| `safeguarding_deadlines_due_within_week` | partnership | running workflows whose `NextDeadline` is in the coming 7 days |
| `safeguarding_open_cases_deadline_missed` | partnership | running workflows with `DeadlineMissed` |
| `safeguarding_deadlines_missed` | partnership | register: deadlines `missed`, all cases |
| `safeguarding_messages_refused` | partnership | register: messages `refused` by the mail server |
| `safeguarding_cases_needing_attention` | partnership | running workflows with `NeedsAttention` |
| `safeguarding_case_metrics_up` | | 1 when the last count succeeded, 0 when it failed |
| `safeguarding_case_metrics_refreshed_timestamp_seconds` | | when the last count succeeded |

A local review (`<case id>-lcspr`) is a workflow of its own with its own stage, so it is counted as an
open case at its `lcspr_*` stage while its parent case is counted at `local_review`.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone
from typing import Any

from sqlalchemy import func
from sqlmodel import Session, select
from temporalio.client import Client
from temporalio.common import MetricMeter
from temporalio.runtime import PrometheusConfig, Runtime, TelemetryConfig

import settings
from models.case import FINAL_STAGES, Stage

log = logging.getLogger("safeguarding.metrics")

UNKNOWN = "unknown"  # a case whose partnership is not known yet (or not one of the routing file's)


def metrics_address() -> str | None:
    """host:port of the worker's /metrics; None when unset or `off`."""
    value = os.environ.get("SAFEGUARDING_METRICS_ADDRESS", "").strip()
    return None if value.lower() in ("", "off", "none") else value


def metrics_interval() -> float:
    return float(os.environ.get("SAFEGUARDING_METRICS_INTERVAL", "30"))


def runtime(address: str) -> Runtime:
    """A Temporal runtime serving its metrics (and the meter for ours) in Prometheus format at `address`."""
    return Runtime(telemetry=TelemetryConfig(metrics=PrometheusConfig(bind_address=address)))


def partnerships() -> list[str]:
    """The partnerships of the routing file (read each time, like the activities do)."""
    try:
        routing = json.loads(settings.routing_file().read_text(encoding="utf-8"))
        return sorted(routing.get("partnerships", {}))
    except (OSError, ValueError) as error:
        log.warning("case metrics: routing file unreadable (%s)", type(error).__name__)
        return []


def quoted(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


RUNNING = 'ExecutionStatus = "Running"'
COUNT_TIMEOUT = 60.0  # seconds one count of every case may take before it is given up and `up` shows 0


class CaseGauges:
    """Counts the cases and publishes the figures as gauges on the runtime's meter.

    A label set seen once and not found at a later count is set to 0, never left at its old value."""

    def __init__(
        self, client: Client, meter: MetricMeter, register_url: str | None = None, timeout: float = COUNT_TIMEOUT
    ) -> None:
        self.client = client
        self.register_url = register_url
        self.timeout = timeout
        self.gauges = {
            "open": meter.create_gauge("safeguarding_open_cases", "Open cases (running workflows) by stage and partnership"),
            "due": meter.create_gauge(
                "safeguarding_deadlines_due_within_week", "Open cases whose next deadline falls in the coming 7 days"
            ),
            "missed_open": meter.create_gauge(
                "safeguarding_open_cases_deadline_missed", "Open cases with a missed deadline (DeadlineMissed)"
            ),
            "missed": meter.create_gauge(
                "safeguarding_deadlines_missed", "Deadlines recorded missed in the case register, all cases"
            ),
            "refused": meter.create_gauge(
                "safeguarding_messages_refused", "Messages refused by the mail server, in the case register"
            ),
            "attention": meter.create_gauge(
                "safeguarding_cases_needing_attention", "Open cases with something a retry cannot mend (NeedsAttention)"
            ),
            "up": meter.create_gauge("safeguarding_case_metrics_up", "1 when the last count of the cases succeeded"),
            "refreshed": meter.create_gauge(
                "safeguarding_case_metrics_refreshed_timestamp_seconds", "Unix time of the last successful count"
            ),
        }
        self.seen: dict[str, set[tuple[tuple[str, str], ...]]] = {name: set() for name in self.gauges}
        # The register is counted in a thread of its own, one count at a time: a count that hangs (its
        # database unreachable) holds that thread, never one of the worker's, and the next refresh does
        # not start another behind it.
        self.register_thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="case-metrics-register")
        self.register_count: asyncio.Future[dict[str, dict[tuple[tuple[str, str], ...], int]]] | None = None

    async def count(self, query: str) -> int:
        return (await self.client.count_workflows(query)).count

    async def by_partnership(self, condition: str, names: list[str]) -> dict[str, int]:
        """The running workflows matching `condition`, by partnership (`unknown` for the rest)."""
        total = await self.count(f"{RUNNING} AND {condition}")
        counts: dict[str, int] = {}
        if total:
            for name in names:
                counts[name] = await self.count(f"{RUNNING} AND {condition} AND Partnership = {quoted(name)}")
        # Each count is a query of its own and cases go on moving between them: a case that came to
        # match after the total was counted is in its partnership's count and not in the total.
        counts[UNKNOWN] = max(0, total - sum(counts.values()))
        return counts

    async def visibility(self) -> dict[str, dict[tuple[tuple[str, str], ...], int]]:
        names = partnerships()
        figures: dict[str, dict[tuple[tuple[str, str], ...], int]] = {"open": {}, "due": {}, "missed_open": {}, "attention": {}}
        for stage in Stage:
            if stage in FINAL_STAGES:
                continue
            for partnership, n in (await self.by_partnership(f"CaseStage = {quoted(stage.value)}", names)).items():
                if n:
                    figures["open"][(("partnership", partnership), ("stage", stage.value))] = n
        now = datetime.now(timezone.utc)
        week = (
            f"NextDeadline >= {quoted(now.isoformat(timespec='seconds').replace('+00:00', 'Z'))} AND "
            f"NextDeadline < {quoted((now + timedelta(days=7)).isoformat(timespec='seconds').replace('+00:00', 'Z'))}"
        )
        for name, condition in (("due", week), ("missed_open", "DeadlineMissed = true"), ("attention", "NeedsAttention = true")):
            for partnership, n in (await self.by_partnership(condition, names)).items():
                figures[name][(("partnership", partnership),)] = n
        return figures

    def register(self) -> dict[str, dict[tuple[tuple[str, str], ...], int]]:
        """Missed deadlines and refused messages by partnership, from the case register."""
        from register.db import engine, engine_for
        from register.models import CaseRow, DeadlineRow, MessageRow

        figures: dict[str, dict[tuple[tuple[str, str], ...], int]] = {"missed": {}, "refused": {}}
        with Session(engine_for(self.register_url) if self.register_url else engine()) as session:
            for name, table, status in (("missed", DeadlineRow, "missed"), ("refused", MessageRow, "refused")):
                rows = session.exec(
                    select(CaseRow.partnership, func.count())
                    .select_from(table)
                    .join(CaseRow, CaseRow.case_id == table.case_id, isouter=True)  # type: ignore[arg-type]
                    .where(table.status == status)
                    .group_by(CaseRow.partnership)
                ).all()
                for partnership, n in rows:
                    key = (("partnership", partnership or UNKNOWN),)
                    figures[name][key] = figures[name].get(key, 0) + n
        return figures

    def publish(self, name: str, values: dict[tuple[tuple[str, str], ...], int]) -> None:
        gauge = self.gauges[name]
        for labels in self.seen[name] - set(values):
            gauge.with_additional_attributes(dict(labels)).set(0)
        for labels, value in values.items():
            gauge.with_additional_attributes(dict(labels)).set(value)
        self.seen[name] |= set(values)

    async def count_all(self) -> dict[str, dict[tuple[tuple[str, str], ...], int]]:
        figures = await self.visibility()
        if self.register_count is not None and not self.register_count.done():
            raise TimeoutError("the case register's previous count has not finished")
        self.register_count = asyncio.get_running_loop().run_in_executor(self.register_thread, self.register)
        # Shielded: a refresh given up leaves the count running, so the next one sees it unfinished.
        return figures | await asyncio.shield(self.register_count)

    async def refresh(self) -> bool:
        """Count everything once and publish it; False (and `up` 0) if counting or publishing failed or
        took longer than `timeout`. Nothing escapes: an error here must never end the counting."""
        try:
            for name, values in (await asyncio.wait_for(self.count_all(), self.timeout)).items():
                self.publish(name, values)
        except Exception as error:  # noqa: BLE001 - the metrics must never stop the worker, nor themselves
            log.warning("case metrics: count failed (%s: %s)", type(error).__name__, error)
            self.gauges["up"].set(0)
            return False
        self.gauges["up"].set(1)
        self.gauges["refreshed"].set(int(time.time()))
        return True

    async def run(self, interval: float) -> None:
        while True:
            await self.refresh()
            await asyncio.sleep(interval)


def start_case_gauges(client: Client, meter: MetricMeter, interval: float | None = None) -> asyncio.Task[Any]:
    """Counts the cases every `interval` seconds in the background of the worker's event loop."""
    return asyncio.create_task(CaseGauges(client, meter).run(interval or metrics_interval()), name="case-metrics")
