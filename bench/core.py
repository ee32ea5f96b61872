"""Separation core: every pair within 50 km of 10,000 clustered tracks, one update at 1 Hz.

One update = build the track columns + find the pairs within 50 km
(:func:`sepmon.core.spatial.candidate_pairs`) + evaluate all of them
(:func:`sepmon.core.separation.evaluate_pairs`, geometry) + the default Alerter's
levels for the pairs within its reach (what the monitor does since issue 15; before
it, evaluate_pairs' own rule gave the levels). Baseline: the same evaluation over
all pairs (``all_pairs``), measured at 1k/2k/3k tracks and extrapolated
quadratically to 10k (50 M pairs would take ~15 GB of temporaries).

Small n: what the live monitor does up to 10 times a second, the columns of
~40 tracks and all their pairs evaluated (``SMALL_N``); at that size the cost is
numpy's per-call overhead, not the pairs, so it is reported per call.

Live monitor: :class:`~sepmon.core.monitor.Monitor` as ``sepmon run`` drives it, 50
sources at 10 Hz (25 pairs 33 km apart, each closing to 1 km for 1 s in 2.5 s), an
evaluation after every fix and a tick every second: CPU time per fix, the whole live
path (track filter, columns, geometry, Alerter, confirmation).
"""

from __future__ import annotations

import math
import time

import common

common.single_core()
common.as_sepmon_command()

import numpy as np  # noqa: E402
from scene import scene  # noqa: E402

from sepmon.core.alerter import preset  # noqa: E402
from sepmon.core.config import parse_config  # noqa: E402
from sepmon.core.model import Fix, TrackState  # noqa: E402
from sepmon.core.monitor import Monitor  # noqa: E402
from sepmon.core.separation import TrackArrays, evaluate_pairs  # noqa: E402
from sepmon.core.spatial import all_pairs, candidate_pairs  # noqa: E402

RADIUS_M = 50_000.0
SIZES = (1000, 2000, 5000, 10_000)
BASELINE_SIZES = (1000, 2000, 3000)
TARGET_MS = 100.0
TARGET_SCALING = 15.0
SMALL_N = 40
SMALL_RUNS = 2000
LIVE_PAIRS = 25
LIVE_STEPS = 200  # 20 s at 10 Hz


_NAMES: dict[int, tuple[str, ...]] = {}


def arrays(cols: dict[str, np.ndarray]) -> TrackArrays:
    n = cols["lat"].size
    if n not in _NAMES:  # the sources are the same from one update to the next
        _NAMES[n] = tuple(f"t{i:05d}" for i in range(n))
    return TrackArrays(
        source=_NAMES[n],
        quality=np.ones(n, np.int64),
        lost=np.zeros(n, np.bool_),
        **cols,
    )


ALERTER = preset("sepmon")
_NEAR_M = float(ALERTER.reach_m(0.0))
_NEAR_S = float(ALERTER.reach_m(1.0)) - _NEAR_M


def evaluate(tracks: TrackArrays, ia: np.ndarray, ib: np.ndarray) -> np.ndarray:
    """Geometry of every pair, levels of those within the alerter's reach (the monitor's work)."""
    res = evaluate_pairs(tracks, ia, ib, near_m=_NEAR_M, near_s=_NEAR_S)
    level = np.zeros(len(res), dtype=np.int8)
    if res.near.size:  # as the monitor: no pair within reach, no alerter call
        level[res.near] = ALERTER.levels_now(*res.rel, res.margin_h_m, res.margin_v_m)
    return level


def update(cols: dict[str, np.ndarray]) -> int:
    tracks = arrays(cols)
    ia, ib = candidate_pairs(tracks.lat, tracks.lon, RADIUS_M)
    evaluate(tracks, ia, ib)
    return int(ia.size)


def update_all_pairs(cols: dict[str, np.ndarray]) -> int:
    tracks = arrays(cols)
    ia, ib = all_pairs(len(tracks))
    evaluate(tracks, ia, ib)
    return int(ia.size)


def small_update(cols: dict[str, np.ndarray], ia: np.ndarray, ib: np.ndarray) -> None:
    evaluate(arrays(cols), ia, ib)


def states_of(cols: dict[str, np.ndarray]) -> list[TrackState]:
    return [
        TrackState(
            f"t{i:05d}",
            0.0,
            *(float(cols[c][i]) for c in ("lat", "lon", "alt", "ve", "vn", "vu")),
            1,
            float(cols["hdop"][i]),
            float(cols["age_s"][i]),
            False,
        )
        for i in range(cols["lat"].size)
    ]


def live_fixes() -> list[Fix]:
    """The live row's fixes, in time order (see the module docstring)."""
    m_per_deg = 111_195.0
    fixes = []
    for step in range(LIVE_STEPS):
        t = 1000.0 + step * 0.1
        near = (step % 25) < 10 and step > 30
        for k in range(LIVE_PAIRS):
            lat0 = 47.0 + k * 33_000 / m_per_deg
            for j, side in enumerate("ab"):
                lat = lat0 + (0.0 if side == "a" else (1000.0 if near else 10_000.0) / m_per_deg)
                t_rx = round(t + (2 * k + j) * 0.002, 3)  # sources a few ms apart, as on USB
                fixes.append(Fix(f"p{k:02d}{side}", t_rx, lat, 11.0, 500.0, 0.0, None, 1, 1.0, 9, None))
    fixes.sort(key=lambda f: f.t)
    return fixes


def live_cpu_per_fix(fixes: list[Fix]) -> float:
    """CPU seconds per fix of a fresh Monitor fed ``fixes``, evaluating after each."""
    mon = Monitor(parse_config({"max_speed_mps": {"default": 1e9}}))
    next_tick = 0.0
    t0 = time.process_time()
    for f in fixes:
        mon.on_fix(f, evaluate=False)
        mon.evaluate()
        if f.t >= next_tick:
            mon.tick(f.t)
            next_tick = math.floor(f.t) + 1
    return (time.process_time() - t0) / len(fixes)


def main() -> None:
    rows: list[common.Row] = []
    ours: dict[int, float] = {}
    pairs: dict[int, int] = {}
    for n in SIZES:
        cols = scene(n)
        pairs[n] = update(cols)
        t = common.timeit(lambda cols=cols: update(cols), runs=15 if n <= 2000 else 9)
        ours[n] = t.best_s
        common.log(
            f"core n={n}: {pairs[n]} pairs ({2 * pairs[n] / n:.1f} neighbours/track), "
            f"best {common.ms(t.best_s)}, median {common.ms(t.median_s)}"
        )
        # Stage split of the largest size, for the docs.
        if n == max(SIZES):
            tr = arrays(cols)
            ia, ib = candidate_pairs(tr.lat, tr.lon, RADIUS_M)
            t_arr = common.timeit(lambda cols=cols: arrays(cols), runs=9)
            t_cand = common.timeit(lambda tr=tr: candidate_pairs(tr.lat, tr.lon, RADIUS_M), runs=9)
            t_eval = common.timeit(lambda tr=tr, ia=ia, ib=ib: evaluate(tr, ia, ib), runs=9)
            states = states_of(cols)
            t_states = common.timeit(lambda s=states: TrackArrays.from_states(s), runs=5)
            split = (
                f"columns {common.ms(t_arr.best_s)}, candidate_pairs {common.ms(t_cand.best_s)}, "
                f"evaluate_pairs + alerter {common.ms(t_eval.best_s)}; from 10k TrackState objects add "
                f"{common.ms(t_states.best_s)} (TrackArrays.from_states)"
            )
            median_note = f"median {common.ms(t.median_s)}"

    base: dict[int, float] = {}
    for n in BASELINE_SIZES:
        cols = scene(n)
        t = common.timeit(lambda cols=cols: update_all_pairs(cols), runs=3)
        base[n] = t.best_s
        common.log(f"all-pairs n={n}: {n * (n - 1) // 2} pairs, best {common.ms(t.best_s)}")
    nb = max(BASELINE_SIZES)
    per_pair = base[nb] / (nb * (nb - 1) / 2)

    for n in SIZES:
        b_s = base[n] if n in base else per_pair * n * (n - 1) / 2
        how = "measured" if n in base else f"extrapolated from {nb} (n²)"
        rows.append(
            common.Row(
                metric=f"core update, {n} tracks ({pairs[n]} pairs ≤ 50 km)",
                value=common.ms(ours[n]),
                baseline=f"all-pairs {common.ms(b_s)} ({how})",
                ratio=f"{b_s / ours[n]:.0f}× faster",
                target=f"≤ {TARGET_MS:.0f} ms" if n == max(SIZES) else "",
                met=(ours[n] * 1e3 <= TARGET_MS) if n == max(SIZES) else None,
                note=(split + "; " + median_note) if n == max(SIZES) else "",
            )
        )
    scale = ours[10_000] / ours[1000]
    rows.append(
        common.Row(
            metric="core scaling time(10k)/time(1k)",
            value=f"{scale:.1f}",
            baseline=f"all-pairs {per_pair * 10_000 * 9_999 / 2 / base[1000]:.0f}",
            ratio="",
            target=f"≤ {TARGET_SCALING:.0f}",
            met=scale <= TARGET_SCALING,
            note="same density at every size: the region grows with the track count",
        )
    )
    # Small n: best of many, since one call is well under a millisecond.
    cols = scene(SMALL_N)
    ia, ib = all_pairs(SMALL_N)
    t = common.timeit(lambda: small_update(cols, ia, ib), runs=SMALL_RUNS, warmup=50)
    tr = arrays(cols)
    t_arr = common.timeit(lambda: arrays(cols), runs=SMALL_RUNS, warmup=50)
    t_eval = common.timeit(lambda: evaluate(tr, ia, ib), runs=SMALL_RUNS, warmup=50)
    us = f"{t.best_s * 1e6:.0f} µs"
    common.log(f"small n={SMALL_N}: {ia.size} pairs, best {us}, median {t.median_s * 1e6:.0f} µs")
    rows.append(
        common.Row(
            metric=f"monitor-size update, {SMALL_N} tracks ({ia.size} pairs, all)",
            value=us,
            note=(
                f"columns {t_arr.best_s * 1e6:.0f} µs, "
                f"evaluate_pairs + alerter {t_eval.best_s * 1e6:.0f} µs; "
                f"median {t.median_s * 1e6:.0f} µs; best of {SMALL_RUNS}"
            ),
        )
    )
    fixes = live_fixes()
    live = sorted(live_cpu_per_fix(fixes) for _ in range(3))
    each = ", ".join(f"{x * 1e6:.0f}" for x in live)
    common.log(f"live monitor: {len(fixes)} fixes, CPU per fix {each} µs")
    rows.append(
        common.Row(
            metric=f"live monitor, {2 * LIVE_PAIRS} sources at 10 Hz, an evaluation per fix",
            value=f"{live[0] * 1e6:.0f} µs CPU per fix",
            note=f"best of 3 ({live[1] * 1e6:.0f}, {live[2] * 1e6:.0f} µs the others); default preset",
        )
    )
    common.emit(rows)


if __name__ == "__main__":
    main()
