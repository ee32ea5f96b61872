"""Shared helpers of the benchmarks: one pinned core, single-threaded BLAS, timing, result rows.

Every figure is printed next to a baseline measured in the same run on the same
core, because this machine is shared and noisy: compare ratios, not absolute times.
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "out" / "bench"  # gitignored cache: corpora, profiles
CORE = 0
THREAD_VARS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS")


def single_core() -> None:
    """Pin this process to one core and keep BLAS/OpenMP to one thread.

    The thread variables only take effect before numpy is imported, so
    :mod:`run` sets them for every benchmark subprocess; here they are set
    again for a benchmark started on its own.
    """
    for var in THREAD_VARS:
        os.environ[var] = "1"
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {CORE})


def as_sepmon_command() -> None:
    """Set the process up as the ``sepmon`` command does at start-up (allocator tuning).

    Benchmarks call the library in-process; without this they would measure page
    faults that the real command does not have (sepmon.apps.allocator).
    """
    from sepmon.apps.allocator import tune_allocator

    tune_allocator()


@dataclass
class Timing:
    best_s: float
    median_s: float
    runs: int


def timeit(fn: Callable[[], Any], runs: int, warmup: int = 1) -> Timing:
    """Best and median wall time of ``runs`` calls (after ``warmup`` untimed calls)."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return Timing(min(times), statistics.median(times), runs)


@dataclass
class Row:
    """One line of the results table.

    ``ratio`` is oriented so that bigger is better for speed rows (baseline time /
    our time, or our rate / baseline rate); for other rows it is what ``target`` names.
    """

    metric: str
    value: str
    baseline: str = ""
    ratio: str = ""
    target: str = ""
    met: bool | None = None
    note: str = ""


def emit(rows: list[Row]) -> None:
    """Print rows for :mod:`run` (``--json``) or as a table when run alone."""
    if "--json" in sys.argv:
        for r in rows:
            print("ROW " + json.dumps(asdict(r)), flush=True)
    else:
        print_table(rows)


def print_table(rows: list[Row]) -> None:
    head = ("metric", "value", "baseline", "ratio", "target", "met?")
    cells = [
        (
            r.metric,
            r.value,
            r.baseline,
            r.ratio,
            r.target,
            "" if r.met is None else ("yes" if r.met else "NO"),
        )
        for r in rows
    ]
    widths = [max(len(h), *(len(c[i]) for c in cells)) if cells else len(h) for i, h in enumerate(head)]
    line = "  ".join(h.ljust(w) for h, w in zip(head, widths, strict=True))
    print(line)
    print("-" * len(line))
    for c in cells:
        print("  ".join(x.ljust(w) for x, w in zip(c, widths, strict=True)))
    notes = [(r.metric, r.note) for r in rows if r.note]
    if notes:
        print()
        for metric, note in notes:
            print(f"  {metric}: {note}")


def log(msg: str) -> None:
    """Progress on stderr (stdout carries the rows)."""
    print(msg, file=sys.stderr, flush=True)


def ms(seconds: float) -> str:
    return f"{seconds * 1e3:.1f} ms"
