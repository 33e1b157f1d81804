"""The benchmark's contract (bench/run.py): a small run of the project's journey and the bare workflow,
alternately on one dev server, prints a table of every figure with its ratio and target, and its last
line is `journey ratio project/bare: X.XX`. It checks the table is whole, not the figures (a benchmark
on a shared machine is read by a person, not asserted in a test), and that bare does the project's
Temporal work (updates, timers, activities, local activities, workflow tasks), so that a change to the
project's shape without the same change to bench/bare.py fails here; and the same of the floor
(bench/floor.py: bare plus what the other issues require). About 40 s: marked `drill`, run by `.ci/run`
with the fault drills."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

from tests.processes import PROJECT

pytestmark = pytest.mark.drill

FIGURES = [
    "cases per second (bare/project)",
    "worker CPU s per case",
    "history bytes per case",
    "worker RSS MB, 6 open cases",
    "update round trip p95 ms, one at a time, 6 open cases",
    "update round trip p95 ms, each on a quiet worker",
]


def test_a_small_benchmark_run_prints_every_figure_and_the_journey_ratio_last():
    environment = os.environ | {"PATH": f"{os.path.dirname(sys.executable)}{os.pathsep}{os.environ.get('PATH', '')}"}
    done = subprocess.run(
        [sys.executable, "bench/run.py", "--cases", "4", "--open", "6", "--rounds", "1", "--floor"],
        cwd=PROJECT, env=environment, capture_output=True, text=True, timeout=300,
    )
    # Exit 0, and nothing from the interpreter's finalization after the table (the SDK's threads).
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "Fatal Python error" not in done.stderr
    lines = done.stdout.strip().splitlines()
    assert re.fullmatch(r"journey ratio project/bare: \d+\.\d\d", lines[-1]), lines[-1]
    assert lines[-2].startswith("the same Temporal work: yes"), lines[-2]
    table = {line.split("  ")[0]: line for line in lines if not line.startswith(("round ", " "))}
    for figure in FIGURES:
        row = table.get(figure)
        assert row is not None, f"{figure!r} not in the table:\n{done.stdout[-3000:]}"
        numbers = re.findall(r"\d+(?:\.\d+)?(?:e[+-]\d+)?", row.removeprefix(figure))
        assert len(numbers) >= 3, row  # project, bare, ratio
    assert "met" in table["worker CPU s per case"] or "MISSED" in table["worker CPU s per case"]
    # the floor (bench/floor.py): its two tables, each with every figure, and the project's Temporal work
    for pair in ("floor against bare:", "project against floor:"):
        rows = lines[lines.index(pair) + 2:]
        assert all(any(row.startswith(figure) for row in rows[:len(FIGURES) + 4]) for figure in FIGURES), pair
    assert any(line.startswith("the floor does the same Temporal work: yes") for line in lines), done.stdout[-3000:]
