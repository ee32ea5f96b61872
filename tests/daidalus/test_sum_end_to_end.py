"""``preset = "do365-sum"`` end to end: ``sepmon analyze`` on the SUM recordings against DAIDALUS.

Oracle: NASA DAIDALUS v2.0.4 with its DO_365B_SUM configuration on our own encounters
(tests/data/daidalus-sum/README.md says how), its ``level`` column. The recordings carry each
aircraft's position sigma in GST sentences (sepmon reads them into ``eph_m``/``epv_m``); NMEA
has no velocity sigma, so sepmon's comes from its track filter (0.3 m/s horizontally at HDOP 1
with Doppler, ~1 m/s vertically once settled), where DAIDALUS was given the ``.daa``'s (1 m/s
for ``gps`` and ``ellipse``, 3 m/s for ``degraded``). Where the two agree the onsets must agree
within 2 s (issue 15's criterion for do365); the other variants are listed in
:data:`NOT_COMPARABLE` with the reason, and what sepmon does there is still checked.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from daidalus_oracle import level_series, onsets, read_daidalus

from sepmon.apps.analyze import run_analysis
from sepmon.apps.configfile import load_config

HERE = Path(__file__).resolve().parent
DATA = HERE.parent / "data" / "daidalus-sum"
CONFIG = HERE / "sepmon-do365-sum.toml"
START = 1780308000.0  # 2026-06-01 10:00:00 UTC, time 0 of the .daa (make_scenarios.START)
ONSET_TOLERANCE_S = 2.0
VARIANTS = sorted(p.name for p in DATA.iterdir() if p.is_dir())

NOT_COMPARABLE = {
    # Velocity sigma 3 m/s in DAIDALUS's input, 0.3 m/s from sepmon's filter (Doppler): the
    # velocity bound is ten times smaller, so sepmon alerts later (overtake, +3-4 s) or, on a
    # pass that only the velocity bound brings within DTHR, not at all (hmd1400).
    "jet-overtake-40--degraded": "velocity sigma 3 m/s given to DAIDALUS, 0.3 m/s from the filter",
    "cpa-headon-hmd1400--degraded": "velocity sigma 3 m/s given to DAIDALUS, 0.3 m/s from the filter",
    # The filter starts knowing nothing of the vertical rate (1 sigma 10 m/s) and settles in a
    # few seconds: SUM alerts while it does not know (a level at the first fixes), and on the
    # vertical encounters, where the intruder is within DTHR all along, the level shown is then
    # held by its early alerting time until the encounter comes (DAIDALUS was given 1 m/s from
    # the start).
    "nuisance-parked-1.4x--degraded": "vertical-rate sigma of a filter just started",
    "nuisance-parked-1.4x--gps": "vertical-rate sigma of a filter just started",
    "vertical-climb-3.0--degraded": "vertical-rate sigma of a filter just started",
    "vertical-descent-2.0-hover--ellipse": "vertical-rate sigma of a filter just started",
    "vertical-descent-2.5--gps": "vertical-rate sigma of a filter just started",
}


def _onsets(name: str) -> tuple[dict[int, float | None], dict[int, float | None], list[tuple[float, int]]]:
    d = DATA / name
    result = run_analysis(sorted(d.glob("*.nmea")), load_config(CONFIG))
    changes = [
        (round(e.t - START, 3), int(e.level))
        for e in result.events
        if e.type == "level" and e.level is not None
    ]
    theirs = onsets(level_series(read_daidalus(d / "daidalus.csv"), "intruder"))
    return onsets(changes), theirs, changes


@pytest.mark.parametrize("name", [n for n in VARIANTS if n not in NOT_COMPARABLE])
def test_sum_onsets_within_2_s_of_daidalus(name: str) -> None:
    ours, theirs, changes = _onsets(name)
    for level in (1, 2, 3):
        a, b = ours[level], theirs[level]
        assert (a is None) == (b is None), f"level {level}: sepmon {a}, DAIDALUS {b}; {changes}"
        if a is not None and b is not None:
            assert abs(a - b) <= ONSET_TOLERANCE_S, f"level {level}: sepmon {a} s, DAIDALUS {b} s"


@pytest.mark.parametrize("name", sorted(NOT_COMPARABLE))
def test_where_the_inputs_differ_sepmon_still_alerts_every_conflict_daidalus_sees_in_time(name: str) -> None:
    # Not a match, but never a missed or late warning where sepmon's own inputs see the
    # conflict: every DAIDALUS onset that sepmon reaches, it reaches no more than 4 s late,
    # and a pass sepmon does not alert on never comes within DTHR nominally (hmd1400: the
    # miss distance is 1400 m > DTHR 1222 m; only DAIDALUS's 3 m/s velocity bound reaches it).
    ours, theirs, changes = _onsets(name)
    assert NOT_COMPARABLE[name]
    for level in (1, 2, 3):
        a, b = ours[level], theirs[level]
        if a is not None and b is not None:
            assert a <= b + 4.0, f"level {level}: sepmon {a} s, DAIDALUS {b} s"
        if a is None and b is not None:
            assert name == "cpa-headon-hmd1400--degraded", f"level {level} missed: {changes}"
