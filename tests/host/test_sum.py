"""core/sum.py against geometry worked out independently (DAIDALUS conformance is in tests/daidalus/).

Oracles: closed-form times of straight head-on closure (the modified-tau boundary solved by
hand), a brute-force scan of every height and vertical rate within the bounds, and numpy's
eigenvalues for the worst-direction σ.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from sepmon.core.detection import Volume
from sepmon.core.sum import DO365B_SUM, SumParams, horizontal_sigma, pair_errors, sum_times_to_volume

NMI = 1852.0
DTHR, TTHR = 0.66 * NMI, 35.0
VOL = Volume(DTHR, 450 * 0.3048, TTHR, 0.0)


def _head_on_entry(a: float, b: float) -> float:
    """Entry time of a radial closure from range ``a`` at ``b`` m/s into WCV_TAUMOD (by hand).

    Inside when (DTHR² − x²)/(x·(−b)) ≤ TTHR, i.e. x² − TTHR·b·x − DTHR² ≤ 0.
    """
    x = 0.5 * (TTHR * b + math.sqrt((TTHR * b) ** 2 + 4 * DTHR * DTHR))
    return max(a - x, 0.0) / b


@pytest.mark.parametrize(
    ("r", "speed", "e_s", "e_v"), [(9000, 150, 60, 2), (20000, 250, 30, 1), (4000, 20, 100, 5)]
)
def test_head_on_entry_is_the_nearer_faster_radial_closure(
    r: float, speed: float, e_s: float, e_v: float
) -> None:
    # Head-on, the velocity cone holds the direction to the ownship: the worst state is the
    # same closure from e_s nearer at e_v faster.
    errors = pair_errors(0.0, r, e_s / DO365B_SUM.h_pos_z, 0.0, 0.0, 0.0)
    errors = type(errors)(errors.pos_h_m, np.asarray(e_v, dtype=float), errors.pos_v_m, errors.vel_v_mps)
    got = float(sum_times_to_volume(VOL, 0.0, r, 0.0, -speed, 0.0, 0.0, errors, 180.0))
    assert got == pytest.approx(_head_on_entry(r - e_s, speed + e_v), abs=1e-6)
    plain = float(
        sum_times_to_volume(VOL, 0.0, r, 0.0, -speed, 0.0, 0.0, pair_errors(0, r, 0, 0, 0, 0), 180.0)
    )
    assert plain == pytest.approx(_head_on_entry(r, speed), abs=1e-6)


def test_a_parked_pair_closes_at_the_velocity_bound() -> None:
    # Standing still with a velocity bound: any direction is possible, so straight in at e_v.
    r, e_s, e_v = 1500.0, 45.0, 3.0
    errors = pair_errors(r, 0.0, e_s / 1.5, 0.0, 1.0, 0.0)
    errors = type(errors)(errors.pos_h_m, np.asarray(e_v), errors.pos_v_m, errors.vel_v_mps)
    got = float(sum_times_to_volume(VOL, r, 0.0, 0.0, 0.0, 0.0, 0.0, errors, 180.0))
    assert got == pytest.approx(_head_on_entry(r - e_s, e_v), abs=1e-6)


def test_inside_dthr_plus_the_position_bound_is_a_violation_now() -> None:
    errors = pair_errors(0.0, DTHR + 40.0, 30.0, 0.0, 0.0, 0.0)  # e_s = 45 m
    assert float(sum_times_to_volume(VOL, 0.0, DTHR + 40.0, 5.0, 0.0, 0.0, 0.0, errors, 180.0)) == 0.0


@pytest.mark.parametrize(
    ("dz", "dvz", "e_z", "e_vz"),
    [(600.0, -2.5, 30.0, 3.0), (-400.0, 1.0, 10.0, 0.5), (300.0, 2.0, 20.0, 1.0), (250.0, 0.0, 40.0, 0.2)],
)
def test_vertical_entry_is_the_earliest_over_every_height_and_rate_in_the_bounds(
    dz: float, dvz: float, e_z: float, e_vz: float
) -> None:
    # Horizontal: directly above, no motion (always inside). Brute force over the box of
    # heights and rates: the first time any of them is within ZTHR.
    z0 = np.linspace(dz - e_z, dz + e_z, 21)[:, None, None]
    w = np.linspace(dvz - e_vz, dvz + e_vz, 21)[None, :, None]
    t = np.arange(0.0, 180.0, 0.01)[None, None, :]
    inside = (np.abs(z0 + w * t) <= VOL.zthr_m).any(axis=(0, 1))
    brute = float(t[0, 0, inside.argmax()]) if inside.any() else math.inf
    errors = pair_errors(0.0, 0.0, 0.0, e_z / 0.75, 0.0, e_vz / 1.5)
    got = float(sum_times_to_volume(VOL, 0.0, 0.0, 0.0, 0.0, dz, dvz, errors, 180.0))
    if math.isinf(brute):
        assert math.isinf(got)
    else:
        assert got == pytest.approx(brute, abs=0.02)


def test_worst_direction_sigma_is_the_larger_eigenvalue() -> None:
    rng = np.random.default_rng(7)
    for _ in range(50):
        se, sn = rng.uniform(1, 40, 2)
        cov = rng.uniform(-0.9, 0.9) * se * sn
        signed_root = math.copysign(math.sqrt(abs(cov)), cov)
        expected = math.sqrt(np.linalg.eigvalsh(np.array([[se * se, cov], [cov, sn * sn]]))[-1])
        assert float(horizontal_sigma(se, sn, signed_root)) == pytest.approx(expected, rel=1e-12)


def test_velocity_z_score_scales_with_range() -> None:
    p = DO365B_SUM
    assert p.h_vel_z([0.0, 2.5 * NMI, 5 * NMI, 50 * NMI]).tolist() == pytest.approx([1.0, 0.75, 0.5, 0.5])
    # Taken at the range less the position bound.
    e = pair_errors(0.0, 2.5 * NMI + 30.0, 20.0, 0.0, 2.0, 0.0)
    assert float(e.vel_h_mps) == pytest.approx(2.0 * 0.75)


def test_bad_parameters_and_volumes_are_refused() -> None:
    with pytest.raises(ValueError, match="h_pos_z"):
        SumParams(h_pos_z=-1.0)
    with pytest.raises(ValueError, match="TCOA"):
        sum_times_to_volume(
            Volume(DTHR, 100.0, 35.0, 20.0), 0, 1, 0, 0, 0, 0, pair_errors(0, 1, 1, 1, 1, 1), 180.0
        )
