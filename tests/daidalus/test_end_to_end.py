"""DAIDALUS conformance of ``sepmon analyze`` end to end (issue 15's "Done when").

Oracle: NASA DAIDALUS v2.0.4 with its DO_365B_no_SUM configuration, run on our own encounters
(tests/data/daidalus/README.md says how): the ``level`` column of each scenario's
``daidalus.csv`` (with DAIDALUS's hysteresis, persistence and 2-of-4 alerting). sepmon reads the
scenario's NMEA recordings (1 Hz RMC+GGA per aircraft, the ``.daa`` states to NMEA resolution)
through ``sepmon analyze``'s public function with ``sepmon-do365.toml`` (``[separation]
preset = "do365"``), as a user would; each ownship–intruder pair's first time at or above
each level is compared with DAIDALUS's.

- Every level onset within 2 s of DAIDALUS on every scenario (vertical-only ones included);
  a level one side reaches and the other never does is a failure. Exceptions are listed in
  :data:`EXCEPTIONS`, each with its reason.
- The dropout scenario: the level rises while the intruder's track is lost, as it does on the
  same encounter without the dropout, within one update (1 s at the recordings' 1 Hz).
- Pairs DAIDALUS does not look at (intruder against intruder): the geometry is the oracle.

``tests/daidalus/measure_gap.py --config tests/daidalus/sepmon-do365.toml`` prints the table
these tests check.
"""

from __future__ import annotations

import math
import os
from functools import cache
from pathlib import Path
from typing import NamedTuple

import pytest
from daidalus_oracle import LEVELS, read_daa, scenarios
from geographiclib.geodesic import Geodesic
from sepmon_onsets import DO365_CONFIG, OWNSHIP, LevelChange, PairGap, ScenarioRun, compare, pair_key

from sepmon.apps.configfile import load_config

NMI = 1852.0
DTHR_M = 0.66 * NMI  # DO_365B_no_SUM's horizontal threshold, every level
ONSET_TOLERANCE_S = 2.0  # issue 15: "every level onset within 2 s of DAIDALUS"
ONE_UPDATE_S = 1.0  # the recordings' fix interval (1 Hz)
SCENARIOS = scenarios()
BY_NAME = {sc.name: sc for sc in SCENARIOS}
DROPOUT = "dropout-crossing90-283"
UNBROKEN = "jet-crossing90-283"  # the same .daa and daidalus.csv, NMEA without the gaps
# The configuration under test; the environment variable only lets a developer measure another
# one with the same assertions (e.g. sepmon-do365-approx.toml on the code before presets, which
# gave the README's "before").
CONFIG = Path(os.environ.get("SEPMON_DAIDALUS_CONFIG", str(DO365_CONFIG)))


class Allowed(NamedTuple):
    """An onset allowed to miss the 2 s: ``bound_s`` its own bound (None: may be missing), and why."""

    bound_s: float | None
    reason: str


# Onsets exempt from the 2 s rule, keyed (scenario, intruder, level); each with its reason.
# Empty when written, on purpose. The usual suspects do not apply to this set:
# - NMEA's 1 Hz: the recordings have a fix at every second DAIDALUS evaluates (its .daa steps),
#   so sampling alone costs nothing; an onset that waits for the next fix is 1 s late, within 2 s.
# - The first fixes needed before a velocity (and a vertical rate, which NMEA does not carry)
#   exists: RMC gives speed and course from the first fix; the vertical rate needs two GGA
#   altitudes; every DAIDALUS onset here is 25 s or more after the first fix.
# - The earth model (DAIDALUS's sphere against WGS-84): ≤ 0.2 s at these onsets (README).
# An entry that is no longer needed fails test_every_exception_is_still_needed: remove it.
EXCEPTIONS: dict[tuple[str, str, int], Allowed] = {}


@cache
def run(name: str) -> ScenarioRun:
    """``sepmon analyze`` on one scenario with the do365 preset (once per session)."""
    return compare(BY_NAME[name], CONFIG)


def _pair_cases() -> list[tuple[str, str]]:
    return [(sc.name, intr) for sc in SCENARIOS for intr in sc.aircraft[1:]]


def _gap(name: str, intruder: str) -> PairGap:
    return next(g for g in run(name).pairs if g.intruder == intruder)


def _misses(g: PairGap, lv: int, tolerance: float | None) -> str | None:
    """Why sepmon's onset of level ``lv`` is not DAIDALUS's within ``tolerance`` (None when it is)."""
    s, d = g.sepmon[lv], g.daidalus[lv]
    if s is None and d is None:
        return None
    if s is None or d is None:
        if tolerance is None:  # an exception that allows a missing or an extra level
            return None
        return f"level {lv}: DAIDALUS {d} s, sepmon {s} s ({'missed' if s is None else 'extra'})"
    if tolerance is not None and abs(s - d) > tolerance:
        return f"level {lv}: DAIDALUS {d:g} s, sepmon {s:g} s ({s - d:+g} s)"
    return None


@pytest.mark.parametrize(("scenario", "intruder"), _pair_cases(), ids=[f"{s}:{i}" for s, i in _pair_cases()])
def test_every_level_onset_is_within_2_s_of_daidalus(scenario: str, intruder: str) -> None:
    g = _gap(scenario, intruder)
    problems = []
    for lv in LEVELS:
        exc = EXCEPTIONS.get((scenario, intruder, lv))
        why = _misses(g, lv, ONSET_TOLERANCE_S if exc is None else exc.bound_s)
        if why is not None:
            problems.append(why + (f" beyond its listed exception ({exc.reason})" if exc else ""))
    changes = [(c.t, c.level) for c in g.sepmon_changes]
    assert not problems, f"{scenario} {intruder}: " + "; ".join(problems) + f"; sepmon's changes {changes}"


def test_every_exception_is_still_needed() -> None:
    stale = []
    for (scenario, intruder, lv), exc in EXCEPTIONS.items():
        assert scenario in BY_NAME and intruder in BY_NAME[scenario].aircraft[1:], (scenario, intruder)
        assert exc.reason.strip(), f"{scenario} {intruder} level {lv}: an exception needs its reason"
        if _misses(_gap(scenario, intruder), lv, ONSET_TOLERANCE_S) is None:
            stale.append(f"{scenario} {intruder} level {lv}")
    assert not stale, f"within 2 s of DAIDALUS now, remove from EXCEPTIONS: {stale}"


def test_the_vertical_only_encounters_are_in_the_set() -> None:
    # Issue 15: "a vertical-only encounter (2-3 m/s descent onto co-altitude traffic): level onsets
    # within 2 s of DAIDALUS" - checked by the test above on these; here only that they are there
    # and that DAIDALUS alerts on them (so that test compares onsets, not two silences).
    vertical = [sc for sc in SCENARIOS if sc.kind == "vertical"]
    assert len(vertical) >= 2
    for sc in vertical:
        assert sc.closure_mps == 0.0  # no horizontal closure: the threat is the vertical rate alone
        assert all(_gap(sc.name, i).daidalus[1] is not None for i in sc.aircraft[1:])


def _level_at(changes: list[LevelChange], t: float) -> int:
    """The pair's level at time ``t`` (its last change at or before ``t``)."""
    level = 0
    for c in changes:
        if c.t > t:
            break
        level = c.level
    return level


def test_dropout_the_level_rises_while_the_track_is_lost_as_without_the_dropout() -> None:
    # Oracle: the geometry. dropout-crossing90-283 is jet-crossing90-283 (same .daa, same DAIDALUS
    # output) with the intruder's NMEA missing for 36-45 s and 67-76 s, around DAIDALUS's onsets
    # (42 s levels 1-2, 72 s level 3). The intruder flies a straight line at constant speed, so its
    # dead-reckoned state through the gaps is its true state: stale evidence of danger is still
    # evidence (issue 15), and the level must rise as it does on the unbroken recording, within
    # one update. DAIDALUS itself is checked on this scenario by the 2 s test above.
    sc = BY_NAME[DROPOUT]
    assert sc.dropouts and all(name == "intruder" for name, _, _ in sc.dropouts)
    stale_s = load_config(CONFIG).stale_s
    broken = _gap(DROPOUT, "intruder")
    unbroken = _gap(UNBROKEN, "intruder")
    problems = []
    for lv in LEVELS:
        d, b, u = broken.daidalus[lv], broken.sepmon[lv], unbroken.sepmon[lv]
        assert d is not None  # DAIDALUS reaches every level on this encounter
        if b is None or u is None or abs(b - u) > ONE_UPDATE_S:
            problems.append(f"level {lv}: with the dropout {b} s, without {u} s (DAIDALUS {d:g} s)")
            continue
        for _, lo, hi in sc.dropouts:
            if lo <= d <= hi and not lo <= b <= hi + ONE_UPDATE_S:
                problems.append(
                    f"level {lv}: DAIDALUS's onset {d:g} s is in the gap {lo}-{hi} s, sepmon's {b:g} s"
                )
    # While lost, the pair never shows less than it would have shown without the dropout one
    # update earlier (no freezing at the last fix's level, never an "all clear").
    for _, lo, hi in sc.dropouts:
        for t in range(lo, hi + 2):
            had = _level_at(unbroken.sepmon_changes, t - ONE_UPDATE_S)
            has = _level_at(broken.sepmon_changes, t)
            if has < had:
                problems.append(f"t={t} s in the gap {lo}-{hi} s: level {has}, without the dropout {had}")
    # A rise inside a gap longer than stale_s after the last fix is flagged lost.
    for c in broken.sepmon_changes:
        for _, lo, hi in sc.dropouts:
            if lo + stale_s - 1 < c.t <= hi + 0.5 and not c.lost:  # last fix at lo - 1 s
                problems.append(f"t={c.t} s: level {c.level} while the intruder is lost, not flagged lost")
    changes = [(c.t, c.level, c.lost) for c in broken.sepmon_changes]
    assert not problems, "; ".join(problems) + f"; sepmon's changes with the dropout {changes}"


@cache
def _min_range_m(name: str, a: str, b: str) -> tuple[float, float]:
    """Closest horizontal range of two aircraft over the scenario's .daa (geographiclib) and the
    height difference then."""
    by_t: dict[float, dict[str, tuple[float, float, float]]] = {}
    for s in read_daa(BY_NAME[name].dir / f"{name}.daa"):
        by_t.setdefault(s.t, {})[s.name] = (s.lat, s.lon, s.alt_m)
    best = (math.inf, math.nan)
    for states in by_t.values():
        (la, lo, ha), (lb, lob, hb) = states[a], states[b]
        r = Geodesic.WGS84.Inverse(la, lo, lb, lob)["s12"]
        best = min(best, (r, abs(ha - hb)))
    return best


def _other_pairs() -> list[tuple[str, str, str]]:
    out = []
    for sc in SCENARIOS:
        names = [n for n in sc.aircraft if n != OWNSHIP]
        out += [(sc.name, a, b) for i, a in enumerate(names) for b in names[i + 1 :]]
    return out


@pytest.mark.parametrize(
    ("scenario", "a", "b"), _other_pairs(), ids=[f"{s}:{a}-{b}" for s, a, b in _other_pairs()]
)
def test_pairs_daidalus_does_not_watch_stay_clear_when_they_never_come_near(
    scenario: str, a: str, b: str
) -> None:
    # Oracle: the geometry. DAIDALUS looks from the ownship only, so intruder-against-intruder has
    # no DAIDALUS output. Both fly straight lines, so the closest range over the whole scenario
    # bounds every projected horizontal miss distance (sampled at the .daa's seconds; between them
    # the range dips by at most (270 m/s * 0.5 s)^2 / (2 * 1933 m) < 5 m in the one such pair):
    # when it is beyond DTHR, no DO-365 volume is
    # ever violated and no level may rise.
    closest, _ = _min_range_m(scenario, a, b)
    assert closest > 1.2 * DTHR_M, f"{a}-{b} come within {closest:.0f} m: this oracle does not apply"
    changes = run(scenario).levels.get(pair_key(a, b), [])
    assert not changes, f"{a}-{b} never closer than {closest:.0f} m (> DTHR {DTHR_M:.0f} m): {changes}"
