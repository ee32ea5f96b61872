"""DAIDALUS conformance of the Alerter (issue 15), at the alerter level.

Oracle: NASA DAIDALUS v2.0.4 with its DO_365B_no_SUM configuration, run on our own encounters
(tests/data/daidalus/README.md says how): its per-second alert level without hysteresis
(``level_nohyst``), with hysteresis, persistence and 2-of-4 (``level``), and its time to each
level's volume. The Alerter with the ``do365`` preset is fed the exact ``.daa`` states of every
scenario at every second: the intruder relative to the ownship in the ownship's local
east/north frame from geographiclib's WGS-84 geodesic (DAIDALUS projects on a sphere; the
README's tolerance notes bound the difference), vertical from the ``.daa`` altitudes and rates.

Measured when written: every instantaneous and every confirmed level equals DAIDALUS's at every
row of every scenario (so every onset is at DAIDALUS's second; the issue asks within 2 s). No
exceptions. The dropout scenario has the same ``.daa`` states as jet-crossing90-283; a separate
test feeds it the way a monitor sees it: the intruder dead-reckoned from its last fix through
its NMEA gaps, evaluated every second while lost.
"""

from __future__ import annotations

import math
from dataclasses import replace
from functools import cache

import numpy as np
import pytest
from daidalus_oracle import (
    KNOT,
    DaaState,
    ScenarioInfo,
    level_series,
    onsets,
    read_daa,
    read_daidalus,
    relative_state,
    scenarios,
)
from geographiclib.geodesic import Geodesic

from sepmon.core.alerter import preset

NMI = 1852.0
GEOD = Geodesic.WGS84
SCENARIOS = scenarios()
ONSET_TOLERANCE_S = 2.0  # issue 15's "within 2 s of DAIDALUS"
MODEL_REL = 0.004  # sphere (DAIDALUS) against WGS-84 (here): distances differ by < 0.4 %
ALERTER = preset("do365")


def _ids(sc: ScenarioInfo) -> str:
    return sc.name


def _dead_reckoned(last: DaaState, t: float) -> DaaState:
    """``last`` carried on to time ``t`` along its geodesic at its speed and vertical rate."""
    d = GEOD.Direct(last.lat, last.lon, last.trk_deg, last.gs_knot * KNOT * (t - last.t))
    return replace(
        last,
        lat=d["lat2"],
        lon=d["lon2"],
        alt_m=last.alt_m + last.vs_mps * (t - last.t),
        trk_deg=d["azi2"],
        t=t,
    )


@cache
def _pairs(
    name: str, dead_reckon_gaps: bool = False
) -> dict[str, tuple[list[float], np.ndarray, list[dict[str, str]]]]:
    """Per intruder: times, relative states (6, n) = pe, pn, ve, vn, dz, dvz, and DAIDALUS's rows.

    ``dead_reckon_gaps``: inside the scenario's NMEA dropouts an aircraft's state is not the
    ``.daa``'s but its last received one carried on (what a monitor has of a lost track).
    """
    sc = {s.name: s for s in SCENARIOS}[name]
    states = {(s.name, s.t): s for s in read_daa(sc.dir / f"{sc.name}.daa")}
    if dead_reckon_gaps:
        for ac in sc.aircraft:
            last = None
            for t in sorted(t for (n, t) in states if n == ac):
                if sc.received(ac, t):
                    last = states[(ac, t)]
                else:
                    assert last is not None
                    states[(ac, t)] = _dead_reckoned(last, t)
    rows = read_daidalus(sc.dir / "daidalus.csv")
    own = sc.aircraft[0]
    out = {}
    for intr in sc.aircraft[1:]:
        mine = sorted((r for r in rows if r["traffic"] == intr), key=lambda r: float(r["time_s"]))
        times = [float(r["time_s"]) for r in mine]
        cols = [relative_state(states[(own, t)], states[(intr, t)]) for t in times]
        out[intr] = (times, np.array(cols).T, mine)
    return out


def _assert_onsets_close(ours: dict[int, float | None], theirs: dict[int, float | None], where: str) -> None:
    for lv in (1, 2, 3):
        a, b = ours[lv], theirs[lv]
        assert (a is None) == (b is None), f"{where} level {lv}: sepmon {a}, DAIDALUS {b}"
        if a is not None and b is not None:
            assert abs(a - b) <= ONSET_TOLERANCE_S, f"{where} level {lv}: sepmon {a}, DAIDALUS {b}"


@pytest.mark.parametrize("sc", SCENARIOS, ids=_ids)
def test_instantaneous_level_is_daidalus_level_without_hysteresis(sc: ScenarioInfo) -> None:
    for intr, (times, rel, rows) in _pairs(sc.name).items():
        ours = ALERTER.levels_now(*rel)
        theirs = [int(r["level_nohyst"]) for r in rows]
        _assert_onsets_close(
            onsets(zip(times, ours.tolist(), strict=True)),
            onsets(level_series(rows, intr, "level_nohyst")),
            intr,
        )
        # Stronger than the issue asks, and true of this set: the same level at every second.
        diff = [(t, int(a), b) for t, a, b in zip(times, ours, theirs, strict=True) if a != b]
        assert not diff, f"{intr}: (t, sepmon, DAIDALUS) {diff[:5]}"


@pytest.mark.parametrize("sc", SCENARIOS, ids=_ids)
def test_confirmed_level_is_daidalus_level_with_hysteresis_persistence_and_m_of_n(sc: ScenarioInfo) -> None:
    pairs = _pairs(sc.name)
    table = ALERTER.confirmation_table()  # every intruder of the scenario in one table, as the monitor would
    fast: dict[str, list[int]] = {intr: [] for intr in pairs}
    times = next(iter(pairs.values()))[0]
    # Times to volume once; the instantaneous level judges the level shown at the previous
    # report by its early alerting time (DAIDALUS's hold), so it is taken step by step.
    ttv = {intr: ALERTER.times_to_volume(*rel) for intr, (_, rel, _) in pairs.items()}
    shown = np.zeros(len(pairs), dtype=np.int8)
    for k, t in enumerate(times):
        raw = [
            int(ALERTER.levels_from_times(ttv[intr][:, k : k + 1], [shown[j]])[0])
            for j, intr in enumerate(pairs)
        ]
        shown = table.update(np.arange(len(pairs)), raw, t)
        for j, intr in enumerate(pairs):
            fast[intr].append(int(shown[j]))
    for intr, (ts, _, rows) in pairs.items():
        assert ts == times
        readable = ALERTER.pair_confirmation()
        ours, level = [], 0
        for k, t in enumerate(ts):
            level = readable.update(int(ALERTER.levels_from_times(ttv[intr][:, k : k + 1], [level])[0]), t)
            ours.append(level)
        assert ours == fast[intr]
        theirs = [int(r["level"]) for r in rows]
        _assert_onsets_close(
            onsets(zip(ts, ours, strict=True)), onsets(level_series(rows, intr, "level")), intr
        )
        diff = [(t, a, b) for t, a, b in zip(ts, ours, theirs, strict=True) if a != b]
        assert not diff, f"{intr}: (t, sepmon, DAIDALUS) {diff[:5]}"


def _inf(x: str) -> float:
    return math.inf if x == "infty" else float(x)


@pytest.mark.parametrize("sc", SCENARIOS, ids=_ids)
def test_time_to_each_volume_is_daidalus_time_to_volume(sc: ScenarioInfo) -> None:
    for intr, (times, rel, rows) in _pairs(sc.name).items():
        ttv = ALERTER.times_to_volume(*rel)
        speed = np.hypot(rel[2], rel[3])
        with np.errstate(divide="ignore", invalid="ignore"):
            # Sphere against ellipsoid: a time moves by that share of the time the range takes to close.
            tol = 0.01 + np.where(speed > 0, MODEL_REL * np.hypot(rel[0], rel[1]) / speed, 0.0)
        for lv in (1, 2, 3):
            theirs = np.array([_inf(r[f"time_to_volume_{lv}_s"]) for r in rows])
            ours = ttv[lv - 1]
            for k, t in enumerate(times):
                where = f"{intr} t={t} level {lv}: sepmon {ours[k]}, DAIDALUS {theirs[k]}"
                if math.isinf(ours[k]) or math.isinf(theirs[k]):
                    # They may differ only where the volume is grazed at the end of the look-ahead.
                    assert math.isinf(ours[k]) == math.isinf(theirs[k]) or min(ours[k], theirs[k]) > 178, (
                        where
                    )
                else:
                    assert abs(ours[k] - theirs[k]) <= tol[k], where


def test_a_lost_intruder_dead_reckoned_through_its_gaps_still_alerts_with_daidalus() -> None:
    # Oracle: DAIDALUS on the unbroken states (dropout-crossing90-283's daidalus.csv); the onsets at
    # 41/42 s and 71/72 s lie inside the intruder's NMEA gaps (36-45 s, 67-76 s). Kept evaluated
    # from its dead-reckoned state (geographiclib Direct along its last track), the lost intruder
    # gets every level at DAIDALUS's second: stale evidence of danger is still evidence. (The
    # geometry is straight geodesics, so dead reckoning is within 2 cm of the .daa; evaluated only
    # when fixes arrive, the confirmed onsets come 4-5 s late, measured when written.)
    sc = {s.name: s for s in SCENARIOS}["dropout-crossing90-283"]
    gaps = [(lo, hi) for _, lo, hi in sc.dropouts]
    for intr, (times, rel, rows) in _pairs(sc.name, dead_reckon_gaps=True).items():
        confirm = ALERTER.pair_confirmation()
        ours = [confirm.update(int(x), t) for x, t in zip(ALERTER.levels_now(*rel), times, strict=True)]
        theirs = onsets(level_series(rows, intr, "level"))
        assert any(lo <= (theirs[1] or -1) <= hi for lo, hi in gaps)
        assert ours == [int(r["level"]) for r in rows]
