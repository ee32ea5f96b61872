"""Sensor uncertainty mitigation (SUM): DO-365B's well-clear detection with uncertain states.

Geometry only (no alert policy, no I/O), numpy, elementwise over any number of pairs.

**What it is.** RTCA DO-365B lets a detect-and-avoid system widen its well-clear detection
by the reported accuracy of the surveillance data; NASA DAIDALUS v2 implements it as the
``WCV_TAUMOD_SUM`` detector of its ``DO_365B_SUM`` configuration (DWC Phase I: the do365
volumes, with alerting times 50/50/25 s instead of 55/55/25 s). Each aircraft reports 1σ
uncertainties (DAIDALUS's ``.daa`` columns ``s_EW_std s_NS_std s_EN_std sz_std v_EW_std
v_NS_std v_EN_std vz_std``); a pair is taken as violating a volume at a time when *some*
relative state within the uncertainty bounds does. Sources: NASA's DAIDALUS v2
documentation (nasa.github.io/daidalus, the ``Daidalus`` and ``SUMData`` API documentation:
per-aircraft σ setters and the z-score parameters) and the ``DO_365B_SUM`` configuration of
DAIDALUS v2.0.4 for the numbers; the approach itself is NASA's (D. P. Jack, K. D. Hoffler,
J. L. Sturdy, "Mitigating the Impact of Sensor Uncertainty on Unmanned Aircraft Operations",
NASA/CR, NTRS 20170005859). The formulation below is sepmon's own (angles of two cones of
directions, closed-form intervals, numpy throughout), written from those definitions; which
single worst state DAIDALUS takes for the entry (the middle of the overlap of the cones) was
learnt from its behaviour and source, then written here independently, and the whole is
checked against DAIDALUS's output (tests/daidalus/test_sum_conformance.py).

**Per aircraft** (:func:`horizontal_sigma`): the horizontal 1σ is taken along the worst
direction, the square root of the larger eigenvalue of the east/north covariance
``[[σe², c], [c, σn²]]``; ``c`` is given the way DAIDALUS's ``*_EN_std`` columns give it,
as a signed square root (``c = sign(x)·x²``).

**Per pair** (:func:`pair_errors`): the two aircraft's σ are **added** (σ_own + σ_intruder),
as DO-365B/DAIDALUS do: a worst case in which both errors line up, more cautious than
combining them as independent errors (√(σ₁² + σ₂²)), which sepmon's own uncertainty margins
do. Each sum is scaled by a z-score (:class:`SumParams`): position ``h_pos_z``/``v_pos_z``,
vertical rate ``v_vel_z``, horizontal velocity a z-score that grows linearly from
``h_vel_z_min`` at ``h_vel_z_distance`` (and beyond) to ``h_vel_z_max`` at range 0, taken at
the range less the position error. Result: the bounds ``e_s`` (horizontal position radius),
``e_v`` (horizontal velocity radius), ``e_z`` and ``e_vz`` (vertical), in m and m/s. A pair
with all four 0 is the plain volume (:func:`sepmon.core.detection.time_to_volume`); otherwise
each is at least 1 mm (mm/s), which keeps the geometry below well defined.

**Vertical** (TCOA 0): the relative height ``z₀ + w·t`` with ``z₀ ∈ [s_z − e_z, s_z + e_z]``
and ``w ∈ [v_z − e_vz, v_z + e_vz]`` spans, for ``t ≥ 0``, the interval
``[s_z − e_z + (v_z − e_vz)·t,  s_z + e_z + (v_z + e_vz)·t]``; the vertical condition holds at
``t`` when that interval meets ``[−ZTHR, ZTHR]``: two linear inequalities in ``t``.

**Horizontal**, with ``D = DTHR``, ``s``/``v`` the nominal relative position/velocity:

- *now*: in violation at ``t = 0`` if the nominal state is (WCV_TAUMOD), or ``|s| ≤ D + e_s``;
- *entry* otherwise: the earlier of the nominal state's WCV_TAUMOD entry and that of one
  *worst-case* state ``(s*, v*)``: ``|s*| = |s| − e_s``, ``|v*| = |v| + e_v``, directions chosen
  inside the two uncertainty discs to make the encounter as head-on as possible. The discs
  are seen from the origin under half-angles ``α = asin(e_s/|s|)`` (around the direction of
  ``−s``, the one that leads to the ownship) and ``β = asin(e_v/|v|)`` (around ``v``; the
  whole circle when ``|v| ≤ e_v``). When the two cones of directions overlap, ``s*`` and
  ``v*`` are taken exactly head-on along the middle of the overlap (``v*`` straight at the
  ownship); otherwise each along its cone's edge nearest the other. No entry if ``(s*, v*)``
  is not closing;
- *exit*: the last time a state within the bounds can still be within ``D``, the later root
  of ``|s + v·t| = D + e_s + e_v·t`` (for ``|v| > e_v``; for ``|v| ≤ e_v`` the violation, once
  entered, lasts the whole look-ahead).

The time to the volume is the start of the intersection of the horizontal and vertical
intervals with ``[0, T]`` when it has length, ``inf`` otherwise (as for the plain volume).

**Units**: metres, metres per second, seconds; ``pe, pn, dz`` and ``ve, vn, dvz`` are the
intruder's position and velocity relative to the ownship (east, north, up), as in
:mod:`sepmon.core.detection`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from sepmon.core.detection import NMI, Volume, horizontal_interval, time_to_volume

__all__ = [
    "DO365B_SUM",
    "SumErrors",
    "SumParams",
    "horizontal_sigma",
    "pair_errors",
    "sum_times_to_volume",
    "sum_times_to_volumes",
]

FloatArray = npt.NDArray[np.float64]
ArrayLike = npt.ArrayLike

# Smallest bound once a pair has any uncertainty (m, m/s): keeps asin/roots well defined.
_MIN_ERROR = 0.001


@dataclass(frozen=True, slots=True)
class SumParams:
    """Z-scores (numbers of standard deviations) of the mitigation, and the velocity z-score's range.

    ``h_vel_z_distance_m``: at this range and beyond the horizontal-velocity z-score is
    ``h_vel_z_min``; it grows linearly to ``h_vel_z_max`` at range 0.
    """

    h_pos_z: float = 1.5
    h_vel_z_min: float = 0.5
    h_vel_z_max: float = 1.0
    h_vel_z_distance_m: float = 5.0 * NMI
    v_pos_z: float = 0.75
    v_vel_z: float = 1.5

    def __post_init__(self) -> None:
        for name in ("h_pos_z", "h_vel_z_min", "h_vel_z_max", "h_vel_z_distance_m", "v_pos_z", "v_vel_z"):
            value = getattr(self, name)
            if not (isinstance(value, int | float) and math.isfinite(value) and value >= 0):
                raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")

    def h_vel_z(self, range_m: ArrayLike) -> FloatArray:
        """The horizontal-velocity z-score at ``range_m`` (see the class docstring)."""
        r = np.maximum(np.asarray(range_m, dtype=np.float64), 0.0)
        d = self.h_vel_z_distance_m
        if d <= 0:
            return np.full_like(r, self.h_vel_z_min)
        f = np.minimum(r / d, 1.0)
        return np.asarray((1.0 - f) * self.h_vel_z_max + f * self.h_vel_z_min, dtype=np.float64)


DO365B_SUM = SumParams()
"""DO-365B's values, as NASA DAIDALUS v2.0.4's ``DO_365B_SUM`` configuration sets them:
``h_pos_z_score`` 1.5, ``h_vel_z_score_min`` 0.5, ``h_vel_z_score_max`` 1.0,
``h_vel_z_distance`` 5 nmi, ``v_pos_z_score`` 0.75, ``v_vel_z_score`` 1.5."""


def _f(x: ArrayLike) -> FloatArray:
    return np.asarray(x, dtype=np.float64)


def horizontal_sigma(sigma_e: ArrayLike, sigma_n: ArrayLike, sigma_en: ArrayLike = 0.0) -> FloatArray:
    """One aircraft's horizontal 1σ along its worst direction (m, or m/s for a velocity).

    ``sigma_e``/``sigma_n``: 1σ east and north; ``sigma_en``: the east-north covariance as a
    signed square root (covariance = ``sign(sigma_en)·sigma_en²``, DAIDALUS's ``s_EN_std`` /
    ``v_EN_std``). Returns the square root of the covariance's larger eigenvalue.
    """
    ee, nn, en = _f(sigma_e) ** 2, _f(sigma_n) ** 2, _f(sigma_en)
    c = np.sign(en) * en * en
    mean = 0.5 * (ee + nn)
    spread = np.sqrt(np.maximum(0.25 * (ee - nn) ** 2 + c * c, 0.0))
    return np.asarray(np.sqrt(np.maximum(mean + spread, 0.0)), dtype=np.float64)


@dataclass(frozen=True, slots=True)
class SumErrors:
    """A pair's uncertainty bounds (z-scaled, both aircraft added): m, m/s; arrays per pair."""

    pos_h_m: FloatArray
    vel_h_mps: FloatArray
    pos_v_m: FloatArray
    vel_v_mps: FloatArray


def pair_errors(
    pe: ArrayLike,
    pn: ArrayLike,
    sigma_h_m: ArrayLike,
    sigma_v_m: ArrayLike,
    sigma_vh_mps: ArrayLike,
    sigma_vv_mps: ArrayLike,
    params: SumParams = DO365B_SUM,
) -> SumErrors:
    """The bounds of a pair from the **pair's** 1σ figures (each the sum over both aircraft).

    ``sigma_h_m``: σ_h(ownship) + σ_h(intruder), each from :func:`horizontal_sigma` of its
    position; ``sigma_vh_mps`` the same of the horizontal velocities; ``sigma_v_m`` and
    ``sigma_vv_mps`` the sums of the vertical position and vertical-rate σ. ``pe, pn``: the
    relative position (m), for the range-dependent velocity z-score.
    """
    r = np.hypot(_f(pe), _f(pn))
    e_s = params.h_pos_z * _f(sigma_h_m)
    e_v = params.h_vel_z(r - e_s) * _f(sigma_vh_mps)
    e_z = params.v_pos_z * _f(sigma_v_m)
    e_vz = params.v_vel_z * _f(sigma_vv_mps)
    e_s, e_v, e_z, e_vz = np.broadcast_arrays(e_s, e_v, e_z, e_vz)
    return SumErrors(
        np.asarray(e_s, dtype=np.float64),
        np.asarray(e_v, dtype=np.float64),
        np.asarray(e_z, dtype=np.float64),
        np.asarray(e_vz, dtype=np.float64),
    )


def _entry(lo: FloatArray, hi: FloatArray, t_max: float) -> FloatArray:
    """Start of ``[lo, hi] ∩ [0, t_max]`` when it has length, else inf."""
    t_in = np.maximum(lo, 0.0)
    return np.asarray(np.where(t_in < np.minimum(hi, t_max), t_in, np.inf), dtype=np.float64)


def _worst_state(
    pe: FloatArray, pn: FloatArray, ve: FloatArray, vn: FloatArray, e_s: FloatArray, e_v: FloatArray
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
    """The most head-on relative state within the bounds (module docstring); needs |s| > e_s."""
    r = np.hypot(pe, pn)
    sp = np.hypot(ve, vn)
    with np.errstate(divide="ignore", invalid="ignore"):
        alpha = np.arcsin(np.clip(e_s / r, 0.0, 1.0))
        beta = np.arcsin(np.clip(e_v / sp, 0.0, 1.0))
    toward = np.arctan2(-pn, -pe)  # the direction that leads from the intruder to the ownship
    delta = np.angle(np.exp(1j * (np.arctan2(vn, ve) - toward)))  # velocity off it, in (-pi, pi]
    any_dir = sp <= e_v  # the velocity disc holds 0: any direction, so straight at the ownship
    overlap = any_dir | (np.abs(delta) <= alpha + beta)
    mid = np.where(any_dir, 0.0, 0.5 * (np.maximum(-alpha, delta - beta) + np.minimum(alpha, delta + beta)))
    side = np.where(delta >= 0, 1.0, -1.0)
    pos_dir = toward + np.where(overlap, mid, side * alpha)
    vel_dir = toward + np.where(overlap, mid, delta - side * beta)
    a = r - e_s
    b = sp + e_v
    # The position lies opposite the direction that leads to the ownship.
    return -a * np.cos(pos_dir), -a * np.sin(pos_dir), b * np.cos(vel_dir), b * np.sin(vel_dir)


def _horizontal(
    pe: FloatArray,
    pn: FloatArray,
    ve: FloatArray,
    vn: FloatArray,
    e_s: FloatArray,
    e_v: FloatArray,
    dthr: float,
    tthr: float,
    t_max: float,
) -> tuple[FloatArray, FloatArray]:
    """The uncertain horizontal interval (t_in, t_out) within [0, t_max]; (inf, -inf) when none."""
    r2 = pe * pe + pn * pn
    v2 = ve * ve + vn * vn
    d_s = dthr + e_s
    lo, hi = horizontal_interval(pe, pn, ve, vn, dthr, tthr)
    nominal_in = _entry(lo, hi, t_max)
    near = (nominal_in == 0.0) | (r2 <= d_s * d_s)
    ws = _worst_state(pe, pn, ve, vn, e_s, e_v)
    w_lo, w_hi = horizontal_interval(*ws, dthr, tthr)
    closing = ws[0] * ws[2] + ws[1] * ws[3] < 0
    worst_in = np.where(closing, _entry(w_lo, w_hi, t_max), np.inf)
    t_in = np.where(near, 0.0, np.minimum(nominal_in, worst_in))
    # Exit: the later root of (|v|² − e_v²) t² + 2 (s·v − e_v (D + e_s)) t + |s|² − (D + e_s)² = 0.
    slow = v2 <= e_v * e_v
    qa = v2 - e_v * e_v
    qb = (pe * ve + pn * vn) - e_v * d_s  # half the linear coefficient
    qc = r2 - d_s * d_s
    disc = qb * qb - qa * qc
    with np.errstate(divide="ignore", invalid="ignore"):
        root = (-qb + np.sqrt(disc)) / qa
    t_out = np.where(slow, np.where(np.isfinite(t_in), t_max, -np.inf), np.where(disc >= 0, root, -np.inf))
    t_out = np.minimum(t_out, t_max)
    ok = np.isfinite(t_in) & (t_in <= t_max) & (t_out >= 0) & (t_in <= t_out)
    return (
        np.asarray(np.where(ok, t_in, np.inf), dtype=np.float64),
        np.asarray(np.where(ok, t_out, -np.inf), dtype=np.float64),
    )


def _halfline(c: FloatArray, k: FloatArray, t_max: float) -> tuple[FloatArray, FloatArray]:
    """Times in [0, t_max] with ``c + k·t ≤ 0``, as (lo, hi); lo > hi when none."""
    with np.errstate(divide="ignore", invalid="ignore"):
        t0 = -c / k
    lo = np.where(k < 0, np.maximum(t0, 0.0), np.where((k == 0) & (c > 0), np.inf, 0.0))
    hi = np.where(k > 0, np.minimum(t0, t_max), np.where((k == 0) & (c > 0), -np.inf, t_max))
    return np.asarray(lo, dtype=np.float64), np.asarray(hi, dtype=np.float64)


def _vertical(
    dz: FloatArray, dvz: FloatArray, e_z: FloatArray, e_vz: FloatArray, zthr: float, t_max: float
) -> tuple[FloatArray, FloatArray]:
    """Times in [0, t_max] at which some height in the bounds is within ZTHR (module docstring)."""
    # Lowest height ≤ ZTHR:  (dz − e_z − ZTHR) + (dvz − e_vz) t ≤ 0.
    lo1, hi1 = _halfline(dz - e_z - zthr, dvz - e_vz, t_max)
    # Highest height ≥ −ZTHR: −(dz + e_z + ZTHR) − (dvz + e_vz) t ≤ 0.
    lo2, hi2 = _halfline(-(dz + e_z + zthr), -(dvz + e_vz), t_max)
    return np.maximum(lo1, lo2), np.minimum(hi1, hi2)


def sum_times_to_volume(
    volume: Volume,
    pe: ArrayLike,
    pn: ArrayLike,
    ve: ArrayLike,
    vn: ArrayLike,
    dz: ArrayLike,
    dvz: ArrayLike,
    errors: SumErrors,
    lookahead_s: float,
) -> FloatArray:
    """Time (s) to ``volume`` under sensor uncertainty within ``[0, lookahead_s]``; ``inf`` if none.

    - ``pe, pn, dz`` (m) and ``ve, vn, dvz`` (m/s): the intruder's position and velocity
      relative to the ownship, east/north/up; any shapes that broadcast together;
    - ``errors``: the pair's bounds from :func:`pair_errors` (z-scores applied, both aircraft
      added);
    - returns an array of the broadcast shape: 0 when some state within the bounds is in
      violation now. Pairs whose bounds are all 0 get the plain volume's time.

    The volume's TCOA must be 0 (DO-365B's DWC volumes); ValueError otherwise.
    """
    _check(volume, lookahead_s)
    return _time_to(volume, _prepare(pe, pn, ve, vn, dz, dvz, errors), lookahead_s, {}, {})


def _check(volume: Volume, lookahead_s: float) -> None:
    if volume.tcoa_s != 0.0:
        raise ValueError(f"sensor uncertainty mitigation needs TCOA 0, got {volume.tcoa_s} s")
    if not (math.isfinite(lookahead_s) and lookahead_s > 0):
        raise ValueError(f"look-ahead must be > 0 s, got {lookahead_s}")


def _prepare(
    pe: ArrayLike,
    pn: ArrayLike,
    ve: ArrayLike,
    vn: ArrayLike,
    dz: ArrayLike,
    dvz: ArrayLike,
    errors: SumErrors,
) -> tuple[FloatArray, ...]:
    """The state and bounds broadcast together, the bounds at least ``_MIN_ERROR``, and last the
    mask of the pairs with no bounds at all."""
    pe_, pn_, ve_, vn_, dz_, dvz_, e_s, e_v, e_z, e_vz = np.broadcast_arrays(
        _f(pe), _f(pn), _f(ve), _f(vn), _f(dz), _f(dvz),
        errors.pos_h_m, errors.vel_h_mps, errors.pos_v_m, errors.vel_v_mps,
    )  # fmt: skip
    plain = (e_s == 0) & (e_v == 0) & (e_z == 0) & (e_vz == 0)
    e_s, e_v, e_z, e_vz = (np.maximum(e, _MIN_ERROR) for e in (e_s, e_v, e_z, e_vz))
    return pe_, pn_, ve_, vn_, dz_, dvz_, e_s, e_v, e_z, e_vz, plain


def _time_to(
    volume: Volume,
    prepared: tuple[FloatArray, ...],
    lookahead_s: float,
    h_iv: dict[tuple[float, float], tuple[FloatArray, FloatArray]],
    z_iv: dict[float, tuple[FloatArray, FloatArray]],
) -> FloatArray:
    """:func:`sum_times_to_volume` of prepared input; ``h_iv``/``z_iv`` keep the intervals already
    worked out for these inputs by (DTHR, TTHR) and by ZTHR."""
    pe_, pn_, ve_, vn_, dz_, dvz_, e_s, e_v, e_z, e_vz, plain = prepared
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        h = h_iv.get((volume.dthr_m, volume.tthr_s))
        if h is None:
            h = h_iv[(volume.dthr_m, volume.tthr_s)] = _horizontal(
                pe_, pn_, ve_, vn_, e_s, e_v, volume.dthr_m, volume.tthr_s, lookahead_s
            )
        z = z_iv.get(volume.zthr_m)
        if z is None:
            z = z_iv[volume.zthr_m] = _vertical(dz_, dvz_, e_z, e_vz, volume.zthr_m, lookahead_s)
    h_in, h_out = h
    z_in, z_out = z
    t_in = np.maximum(h_in, z_in)
    t_out = np.minimum(h_out, z_out)
    uncertain = np.where(t_in < t_out, t_in, np.inf)
    if plain.any():
        exact = time_to_volume(volume, pe_, pn_, ve_, vn_, dz_, dvz_, lookahead_s)
        uncertain = np.where(plain, exact, uncertain)
    return np.asarray(uncertain, dtype=np.float64)


def sum_times_to_volumes(
    volumes: tuple[Volume, ...] | list[Volume],
    pe: ArrayLike,
    pn: ArrayLike,
    ve: ArrayLike,
    vn: ArrayLike,
    dz: ArrayLike,
    dvz: ArrayLike,
    errors: SumErrors,
    lookahead_s: float,
) -> FloatArray:
    """:func:`sum_times_to_volume` for each volume (an Alerter's levels): shape (volumes, pairs…).

    Volumes sharing DTHR and TTHR share the horizontal interval, those sharing ZTHR the vertical
    one (DO-365B's levels differ in ZTHR at most): each is worked out once.
    """
    prepared: tuple[FloatArray, ...] | None = None
    h_iv: dict[tuple[float, float], tuple[FloatArray, FloatArray]] = {}
    z_iv: dict[float, tuple[FloatArray, FloatArray]] = {}
    rows = []
    for v in volumes:
        _check(v, lookahead_s)
        if prepared is None:
            prepared = _prepare(pe, pn, ve, vn, dz, dvz, errors)
        rows.append(_time_to(v, prepared, lookahead_s, h_iv, z_iv))
    return np.stack(rows)
