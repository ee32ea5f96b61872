"""Memory of the monitor: 50 sources at 1–10 Hz for an accelerated hour through Monitor.on_fix + tick.

Fixes come straight from the simulator's truth (``sepmon.sim`` ``many`` scenario,
no NMEA in between): what the tracker would get from clean receivers. RSS is
read from /proc/self/status (VmRSS) once per simulated minute, with the Python
heap as sys.getallocatedblocks(); growth is measured from the end of the warm-up
to the end. tracemalloc slows the monitor ~10×,
so it only runs for TRACE_S simulated seconds after the timed run, and reports how
much the traced heap changed over the second half of that stretch (and where).
"""

from __future__ import annotations

import common

common.single_core()
common.as_sepmon_command()

import gc  # noqa: E402
import itertools  # noqa: E402
import math  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import tracemalloc  # noqa: E402
from collections.abc import Iterator  # noqa: E402

from sepmon.core.config import Config  # noqa: E402
from sepmon.core.model import Fix  # noqa: E402
from sepmon.core.monitor import Monitor  # noqa: E402
from sepmon.sim.params import Params  # noqa: E402
from sepmon.sim.scenarios import Truth, build_tracks, epoch_grid  # noqa: E402

SOURCES = 50
RATES = (1.0, 1.0, 2.0, 5.0, 10.0)  # cycled over the sources: mean 3.8 Hz, 190 fixes/s in all
WARMUP_S = 300.0
DEFAULT_MINUTES = 6.0  # `--minutes=60` for the full hour (about half an hour of wall time here)
TRACE_S = 20.0
TARGET_PCT = 5.0


def vm_rss_kib() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS in /proc/self/status")


def fixes(duration_s: float) -> Iterator[Fix]:
    """Every source's fixes in receive order, generated one simulated minute at a time."""
    p = Params(vehicles=SOURCES, seed=3, duration=duration_s, vertical=600.0, speed=60.0)
    tracks, _, _ = build_tracks("many", p)
    t0 = p.start.timestamp()
    rates = dict(zip((tr.source for tr in tracks), itertools.cycle(RATES), strict=False))
    epochs = {tr.source: epoch_grid(t0, duration_s, rates[tr.source]) for tr in tracks}
    truth = Truth(p.lat, p.lon, t0, duration_s, tuple(tracks), epochs)
    step = 60.0
    for k in range(math.ceil(duration_s / step)):
        lo, hi = t0 + k * step, t0 + (k + 1) * step
        batch: list[Fix] = []
        for tr in tracks:
            ts = epochs[tr.source]
            ts = ts[(ts >= lo) & (ts < hi)]
            if not ts.size:
                continue
            s = truth.sample(tr.source, ts)
            for i in range(ts.size):
                t = float(s.t[i])
                batch.append(
                    Fix(
                        tr.source,
                        t,
                        float(s.lat[i]),
                        float(s.lon[i]),
                        float(s.h[i]),
                        float(s.speed[i]),
                        float(s.course[i]),
                        1,
                        1.0,
                        9,
                        t + 0.05,
                    )
                )
        batch.sort(key=lambda f: (f.rx_t, f.source))
        yield from batch


def heap_blocks() -> int:
    """Python heap: blocks currently allocated by the Python allocator (cheap, always on)."""
    gc.collect()
    return sys.getallocatedblocks()


def main() -> None:
    duration = DEFAULT_MINUTES * 60.0
    for arg in sys.argv[1:]:
        if arg.startswith("--minutes="):
            duration = 60.0 * float(arg.split("=", 1)[1])
    warmup = min(WARMUP_S, duration / 3)
    monitor = Monitor(Config())
    samples: list[tuple[float, int, int]] = []  # (sim s, VmRSS KiB, Python blocks)
    traced: tuple[int, list[str]] | None = None
    next_tick = -math.inf
    t_start = math.nan
    events = 0
    wall0 = time.perf_counter()
    traced_fixes = 0
    wall = math.nan
    fixes_timed = 0
    mid: tuple[tracemalloc.Snapshot, int] | None = None
    # A whole extra minute is generated so the fix batch alive at every sample
    # (one simulated minute of fixes) is the same size; only TRACE_S of it is fed.
    for n_fix, fix in enumerate(fixes(duration + 60.0)):
        now = fix.rx_t if fix.rx_t is not None else fix.t
        if n_fix == 0:
            t_start = now
        sim_now = now - t_start
        if tracemalloc.is_tracing():
            if mid is None and sim_now >= duration + TRACE_S / 2:
                gc.collect()
                mid = (tracemalloc.take_snapshot(), tracemalloc.get_traced_memory()[0])
            if sim_now >= duration + TRACE_S:
                break
            traced_fixes += 1
        if now >= next_tick:
            if math.isfinite(next_tick):
                events += len(monitor.tick(now))
                sim_s = round(sim_now)
                if sim_s % 60 == 0 and sim_s <= duration and (not samples or samples[-1][0] != sim_s):
                    samples.append((sim_s, vm_rss_kib(), heap_blocks()))
                    if sim_s >= duration:
                        wall = time.perf_counter() - wall0
                        fixes_timed = n_fix
                        # Then TRACE_S more under tracemalloc (it slows the monitor ~10×):
                        # the traced memory's change over the second half is net growth.
                        tracemalloc.start()
            next_tick = math.floor(now) + 1.0
        events += len(monitor.on_fix(fix))
    if tracemalloc.is_tracing() and mid is not None:
        gc.collect()
        snap = tracemalloc.take_snapshot()
        grown = tracemalloc.get_traced_memory()[0] - mid[1]
        tracemalloc.stop()
        top = [
            f"{st.size_diff:+d} B at {st.traceback[0].filename.rsplit('/', 2)[-1]}:{st.traceback[0].lineno}"
            for st in snap.compare_to(mid[0], "lineno")[:3]
        ]
        traced = (grown, top)
    warm = [x for x in samples if x[0] >= warmup]
    rss0, rss1 = warm[0][1], samples[-1][1]
    blk0, blk1 = warm[0][2], samples[-1][2]
    rss_growth = 100.0 * (rss1 - rss0) / rss0
    blk_growth = 100.0 * (blk1 - blk0) / blk0
    peak_rss = max(x[1] for x in warm)
    common.log(
        f"memory: {fixes_timed} fixes in {wall:.1f} s wall; per minute (s, VmRSS KiB, Python blocks): "
        + ", ".join(f"{x[0]:.0f}:{x[1]}:{x[2]}" for x in samples)
    )
    per_fix_us = wall / fixes_timed * 1e6
    span = f"{(duration - warm[0][0]) / 60:.0f} min after {warm[0][0] / 60:.0f} min warm-up"
    rows = [
        common.Row(
            metric=f"monitor RSS growth, {SOURCES} sources, {span}",
            value=f"{rss_growth:+.2f} %",
            baseline=f"{rss0 / 1024:.1f} MiB after warm-up",
            ratio=f"{rss1 / 1024:.1f} MiB at end (peak {peak_rss / 1024:.1f})",
            target=f"< {TARGET_PCT:.0f} %",
            met=rss_growth < TARGET_PCT,
        ),
        common.Row(
            metric="monitor Python heap growth (allocated blocks)",
            value=f"{blk_growth:+.2f} %",
            baseline=f"{blk0} blocks after warm-up",
            ratio=f"{blk1} at end",
            target=f"< {TARGET_PCT:.0f} %",
            met=blk_growth < TARGET_PCT,
        ),
    ]
    if traced is not None:
        rows.append(
            common.Row(
                metric=f"tracemalloc: Python heap change over {TRACE_S / 2:.0f} s more",
                value=f"{traced[0] / 1024:+.1f} KiB",
                baseline="",
                ratio="",
                note=f"{traced_fixes} fixes traced; largest changes: " + "; ".join(traced[1]),
            )
        )
    rows.append(
        common.Row(
            metric=f"monitor cost per fix, {SOURCES} sources",
            value=f"{per_fix_us:.0f} µs",
            baseline=f"{fixes_timed / duration:.0f} fixes/s live",
            ratio=f"{duration / wall:.1f}× real time",
            note=f"{fixes_timed} fixes, {len(monitor.pairs)} pairs, {events} events",
        )
    )
    common.emit(rows)


if __name__ == "__main__":
    main()
