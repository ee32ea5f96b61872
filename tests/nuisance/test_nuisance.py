"""Nuisance suite (issue 15): encounters that never come within the minima raise nothing.

Oracle: the geometry. Every encounter is the simulator's straight-line motion, so the truth's
closest approach is known exactly (checked here against the truth sampled every 0.1 s and
against :meth:`sepmon.sim.Truth.first_violation`): the pair is never inside the minima, so any
level above 0 is a nuisance, and a level that goes up and down more than once is flapping. The
receivers add the simulator's GPS noise, whose size is that of real receivers (see
``encounters.py``: the u-blox NEO-M8 data sheet's 2.5 m CEP and 0.05 m/s, inside the GPS SPS
Performance Standard's 9 m 95 %), at the default and at twice it, for three seeds each. Each
recording goes through ``sepmon analyze``'s public function with the configuration loaded as the
command loads it.

Two scales:
- ``default``: the default configuration (the default preset, 3000 m / 300 m). Issue 15's
  "Done when": parked and slow vehicles at 1.2-1.6x the minima, parallel traffic at 1.2-2.5x,
  diverging traffic and traffic passing astern: no level above 0, no pair changing level more
  than twice. GPS noise is small against 3000 m; what this scale catches is alerting on range
  alone (rings at 1.5x and 2x the minima) and on traffic that is not converging.
- ``ground``: the default preset with 50 m / 30 m minima (issue 15's own example: two parked
  vehicles 80 m apart with 50 m minima flapping CAUTION/WARNING). Here GPS noise can carry a
  near pair's *measured* positions inside the minima, and no alerting could (or should) then
  stay silent, so each rule applies where the truth's gap to the minima, (k − 1) × the minimum,
  is beyond the pair's noise: quiet (level 0) where the gap is at least twice the 95 % bound of
  the pair's relative position (√2 × the SPS 9 m, × the noise scale: 25.5 m at 1x, 51 m at 2x),
  steady (at most one rise and one fall) where it is at least that bound (12.7 m, 25.5 m). The
  cases nearer than that are in ``python tests/nuisance/encounters.py`` 's figures, not asserted.

Positive controls: the same families at 0.5x the minimum (the truth inside the minima) must reach
WARNING by 3 s after the truth enters the minima (the first fix of each vehicle and a 2-of-4
confirmation at 1 Hz), so the suite cannot pass by never alerting.
"""

from __future__ import annotations

import math
from functools import cache

import numpy as np
import pytest
from encounters import (
    NOISE,
    NOISE_CLEARANCE_M,
    SCALES,
    SEEDS,
    Encounter,
    Outcome,
    Scale,
    controls,
    nuisance,
    run,
)
from geographiclib.geodesic import Geodesic

from sepmon.core.config import Config
from sepmon.core.model import Level
from sepmon.sim import Truth

CONTROL_LATE_S = 3.0  # first fix of each vehicle + 2-of-4 confirmation at 1 Hz
MAX_CHANGES = 2  # issue 15: "one rise, one fall"


@cache
def _config(scale: Scale) -> Config:
    return scale.load()


def _gap_m(scale: Scale, enc: Encounter) -> float:
    return (enc.k - 1.0) * _config(scale).default_rule.horizontal_m


def _rules(scale: Scale, enc: Encounter, noise_scale: float) -> tuple[bool, bool]:
    """(quiet, steady): which rules the truth's gap to the minima supports at this noise."""
    gap = _gap_m(scale, enc)
    return gap >= NOISE_CLEARANCE_M * noise_scale, gap >= NOISE_CLEARANCE_M / 2.0 * noise_scale


def _nuisance_cases() -> list[tuple[Scale, Encounter, str]]:
    return [
        (scale, enc, noise)
        for scale in SCALES
        for enc in nuisance(scale)
        for noise, factor in NOISE.items()
        if any(_rules(scale, enc, factor))
    ]


def _control_cases() -> list[tuple[Scale, Encounter, str]]:
    return [(scale, enc, noise) for scale in SCALES for enc in controls(scale) for noise in NOISE]


def _id(case: tuple[Scale, Encounter, str]) -> str:
    scale, enc, noise = case
    return f"{scale.name}-{enc.name}-noise{noise}"


def _levels(o: Outcome) -> str:
    return " ".join(f"{t - o.start:.0f}s:{lv}" for t, lv in o.changes) or "none"


def test_the_default_scale_asserts_every_encounter_the_issue_lists() -> None:
    # Issue 15 lists 1.2-1.6x (parked, slow) and 1.2-2.5x (parallel): all asserted at both noises
    # on the default configuration, none left to the figures.
    default = next(s for s in SCALES if s.name == "default")
    cases = {(enc.name, noise) for scale, enc, noise in _nuisance_cases() if scale is default}
    assert cases == {(enc.name, noise) for enc in nuisance(default) for noise in NOISE}
    assert {e.family for e in nuisance(default)} == {
        "parked",
        "slow-parallel",
        "slow-headon",
        "parallel",
        "diverging",
        "astern",
    }
    assert {e.k for e in nuisance(default) if e.family == "parked"} == {1.2, 1.4, 1.6}
    assert {e.k for e in nuisance(default) if e.family == "parallel"} == {1.2, 1.6, 2.0, 2.5}


def _check_geometry(enc: Encounter, o: Outcome, horizontal_m: float) -> None:
    """The oracle's premise: the truth never comes within the minima, and the family is what it says."""
    assert o.first_violation is None
    assert o.closest_m >= enc.k * horizontal_m * (1.0 - 1e-6)
    assert o.closest_m == pytest.approx(enc.k * horizontal_m, rel=1e-3)  # the design miss, sampled


@pytest.mark.parametrize(
    ("scale", "enc", "noise"), _nuisance_cases(), ids=[_id(c) for c in _nuisance_cases()]
)
def test_no_level_and_no_flapping_when_the_truth_stays_outside_the_minima(
    scale: Scale, enc: Encounter, noise: str
) -> None:
    config = _config(scale)
    quiet, steady = _rules(scale, enc, NOISE[noise])
    problems = []
    for seed in SEEDS:
        o = run(enc, config, seed, NOISE[noise])
        _check_geometry(enc, o, config.default_rule.horizontal_m)
        if quiet and o.max_level > 0:
            problems.append(f"seed {seed}: level {o.max_level} ({_levels(o)})")
        elif steady and len(o.changes) > MAX_CHANGES:
            problems.append(f"seed {seed}: {len(o.changes)} level changes ({_levels(o)})")
    rule = "no level above 0" if quiet else f"at most {MAX_CHANGES} level changes"
    assert not problems, (
        f"{enc.name} at {noise} noise, truth never closer than {enc.k:g}x the minimum "
        f"({_gap_m(scale, enc):g} m outside), expected {rule}: " + "; ".join(problems)
    )


def _bearing_from(truth: Truth, a: str, b: str, t: float) -> float:
    """Bearing of ``b`` from ``a`` relative to ``a``'s course, degrees in [0, 360) (geographiclib)."""
    sa, sb = truth.sample(a, t), truth.sample(b, t)
    azi = Geodesic.WGS84.Inverse(sa.lat[0], sa.lon[0], sb.lat[0], sb.lon[0])["azi1"]
    return float((azi - sa.course[0]) % 360.0)


@pytest.mark.parametrize("scale", SCALES, ids=[s.name for s in SCALES])
def test_the_families_are_the_geometry_they_claim(scale: Scale) -> None:
    # Oracle: geographiclib on the simulator's truth. "Astern": at the closest approach the
    # traffic is behind the ownship's beam, and it crosses the ownship's track behind it;
    # "diverging": the range only grows after the first second.
    minima = _config(scale).default_rule
    for enc in nuisance(scale):
        sim = enc.simulate(minima, seed=1, noise_scale=1.0)
        if enc.family == "astern":
            rel = _bearing_from(sim.truth, "alpha", "bravo", sim.cpa.t)
            assert 90.0 < rel < 270.0, f"{enc.name}: traffic at {rel:.0f} deg relative at the CPA"
        if enc.family == "diverging":
            ts = [sim.start + x for x in (1.0, 2.0, 30.0, 119.0)]
            hor, _ = sim.truth.separation("alpha", "bravo", ts)
            assert (np.diff(hor) > 0).all(), f"{enc.name}: {hor}"
        if enc.family in ("parked", "slow-parallel", "parallel"):
            hor, _ = sim.truth.separation("alpha", "bravo", [sim.start, sim.start + 60.0, sim.start + 120.0])
            assert [round(float(h), 3) for h in hor] == [round(enc.k * minima.horizontal_m, 3)] * 3
    assert math.isclose(NOISE_CLEARANCE_M, 2.0 * math.sqrt(2.0) * 9.0)


@pytest.mark.parametrize(("scale", "enc", "noise"), _control_cases(), ids=[_id(c) for c in _control_cases()])
def test_the_same_family_inside_the_minima_warns(scale: Scale, enc: Encounter, noise: str) -> None:
    # Positive control. Oracle: the geometry (Truth.first_violation, closed form): the truth is
    # inside both minima from first_violation on, so the pair must be at WARNING soon after.
    config = _config(scale)
    problems = []
    for seed in SEEDS:
        o = run(enc, config, seed, NOISE[noise])
        assert o.first_violation is not None, f"{enc.name}: the control never enters the minima"
        warned = [t for t, lv in o.changes if lv >= Level.WARNING]
        if not warned or warned[0] > o.first_violation + CONTROL_LATE_S:
            problems.append(
                f"seed {seed}: truth inside the minima from {o.first_violation - o.start:.1f} s, "
                f"levels {_levels(o)}"
            )
    assert not problems, f"{enc.name} at {noise} noise: no WARNING in time: " + "; ".join(problems)
