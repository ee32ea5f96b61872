"""Detection: when does a pair enter a protection volume? Geometry only, no alert policy.

A *volume* is the DO-365 "well clear" volume WCV_TAUMOD (RTCA DO-365, the detector of
NASA DAIDALUS's ``WCV_TAUMOD``), with the plain cylinder as the special case
``tthr_s = 0``. The pair is in violation at a given relative state when both hold:

- horizontal: ``r ≤ DTHR``, or ``HMD ≤ DTHR`` and ``0 ≤ τ_mod ≤ TTHR``, with
  ``τ_mod = (DTHR² − r²) / (s·v)`` when closing (``s·v < 0``; otherwise not defined)
  and ``HMD = |s × v| / |v|`` the horizontal miss distance of straight-line motion;
- vertical: ``|s_z| ≤ ZTHR``, or ``0 ≤ t_coa ≤ TCOA`` with ``t_coa = −s_z / v_z`` when
  the altitudes converge (``s_z·v_z < 0``).

``s``/``v`` are the intruder's horizontal position/velocity relative to the ownship
(local east/north, m and m/s), ``s_z``/``v_z`` the vertical ones. With the states
moving in straight lines (``s + v t``) each condition holds on one interval of time,
which is worked out in closed form here (docs/design.md, "The Alerter"):

- horizontal, ``HMD ≤ DTHR`` and ``v ≠ 0``: with ``t_cpa = −s·v / |v|²`` and
  ``w = (DTHR² − HMD²) / |v|²``, the set is
  ``[t_cpa − TTHR/2 − √(w + TTHR²/4),  t_cpa + √w]`` (the entry is the earlier root of
  ``r(t)² + TTHR·s(t)·v − DTHR² = 0``, the exit the later root of ``r(t) = DTHR``);
  ``HMD > DTHR``: never; ``v = 0``: always if ``r ≤ DTHR``, else never;
- vertical, ``v_z ≠ 0``: ``[min(t_lo, t_coa − TCOA), t_hi]`` with ``t_lo, t_hi`` the times
  at which ``|s_z + v_z t| = ZTHR``; ``v_z = 0``: always if ``|s_z| ≤ ZTHR``, else never.

The time to the volume within a look-ahead ``T`` is the start of the intersection of both
intervals with ``[0, T]``, when that intersection has length (a graze is no violation).

Everything is numpy, elementwise over any number of pairs (scalars broadcast).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

__all__ = [
    "FT",
    "NMI",
    "Volume",
    "first_time_in",
    "horizontal_interval",
    "horizontal_interval_of",
    "horizontal_miss_distance",
    "modified_tau",
    "time_to_coaltitude",
    "time_to_volume",
    "vertical_interval",
    "vertical_interval_of",
]

FT = 0.3048
"""International foot, m (the standards give heights in feet)."""
NMI = 1852.0
"""International nautical mile, m."""

FloatArray = npt.NDArray[np.float64]
Float = FloatArray | float
ArrayLike = npt.ArrayLike

# Squared relative speed (m²/s²) below which two tracks are not moving relative to each other.
_V2_EPS = 1e-12
_VZ_EPS = 1e-9


@dataclass(frozen=True, slots=True)
class Volume:
    """A protection volume: DTHR and ZTHR (m), and the optional time thresholds TTHR and TCOA (s).

    ``tthr_s = 0`` and ``tcoa_s = 0`` give the plain cylinder of radius ``dthr_m`` and
    half-height ``zthr_m``.
    """

    dthr_m: float
    zthr_m: float
    tthr_s: float = 0.0
    tcoa_s: float = 0.0

    def __post_init__(self) -> None:
        for name in ("dthr_m", "zthr_m", "tthr_s", "tcoa_s"):
            value = getattr(self, name)
            if not (isinstance(value, int | float) and math.isfinite(value) and value >= 0):
                raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")

    def inside(self, other: Volume) -> bool:
        """Whether this volume lies inside ``other`` (no threshold larger), so it implies ``other``."""
        return (
            self.dthr_m <= other.dthr_m
            and self.zthr_m <= other.zthr_m
            and self.tthr_s <= other.tthr_s
            and self.tcoa_s <= other.tcoa_s
        )


def _f(x: ArrayLike) -> FloatArray:
    return np.asarray(x, dtype=np.float64)


def horizontal_miss_distance(pe: ArrayLike, pn: ArrayLike, ve: ArrayLike, vn: ArrayLike) -> FloatArray:
    """HMD: the closest horizontal distance of straight-line relative motion, ``|s × v| / |v|``.

    Taken over all time (past and future); with no relative motion it is the range now.
    """
    pe_, pn_, ve_, vn_ = _f(pe), _f(pn), _f(ve), _f(vn)
    v2 = ve_ * ve_ + vn_ * vn_
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        hmd = np.abs(pe_ * vn_ - pn_ * ve_) / np.sqrt(v2)
    return np.asarray(np.where(v2 > _V2_EPS, hmd, np.hypot(pe_, pn_)), dtype=np.float64)


def modified_tau(pe: ArrayLike, pn: ArrayLike, ve: ArrayLike, vn: ArrayLike, dthr_m: ArrayLike) -> FloatArray:
    """DO-365's modified tau ``(DTHR² − r²) / (s·v)`` when closing (``s·v < 0``); NaN otherwise."""
    pe_, pn_, ve_, vn_, d = _f(pe), _f(pn), _f(ve), _f(vn), _f(dthr_m)
    sv = pe_ * ve_ + pn_ * vn_
    r2 = pe_ * pe_ + pn_ * pn_
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        return np.asarray(np.where(sv < 0, (d * d - r2) / sv, np.nan), dtype=np.float64)


def time_to_coaltitude(dz: ArrayLike, dvz: ArrayLike) -> FloatArray:
    """``t_coa = −s_z / v_z`` when the altitudes converge (``s_z·v_z < 0``); NaN otherwise."""
    dz_, dvz_ = _f(dz), _f(dvz)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        return np.asarray(np.where(dz_ * dvz_ < 0, -dz_ / dvz_, np.nan), dtype=np.float64)


def horizontal_interval(
    pe: ArrayLike, pn: ArrayLike, ve: ArrayLike, vn: ArrayLike, dthr_m: ArrayLike, tthr_s: ArrayLike = 0.0
) -> tuple[FloatArray, FloatArray]:
    """Times (lo, hi) between which the horizontal WCV_TAUMOD condition holds (module docstring).

    ``lo = −inf, hi = inf`` for a pair inside DTHR with no relative motion; ``lo = inf,
    hi = −inf`` when it never holds.
    """
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        return horizontal_interval_of(_f(pe), _f(pn), _f(ve), _f(vn), _f(dthr_m), _f(tthr_s))


def horizontal_interval_of(
    pe: FloatArray, pn: FloatArray, ve: FloatArray, vn: FloatArray, d: Float, tthr: Float
) -> tuple[FloatArray, FloatArray]:
    """:func:`horizontal_interval` on float arrays (or floats for the thresholds), without
    conversions or its own ``np.errstate``: for callers that evaluate many volumes at once."""
    v2 = ve * ve + vn * vn
    moving = v2 > _V2_EPS
    tcpa = -(pe * ve + pn * vn) / v2
    cross = pe * vn - pn * ve
    w = (d * d - cross * cross / v2) / v2  # (DTHR² − HMD²) / |v|²
    crossing = moving & (w >= 0)
    w = np.maximum(w, 0.0)
    half = 0.5 * tthr
    lo = tcpa - half - np.sqrt(w + half * half)
    hi = tcpa + np.sqrt(w)
    inside_still = ~moving & (pe * pe + pn * pn <= d * d)
    never = np.where(inside_still, -np.inf, np.inf)
    lo = np.where(crossing, lo, never)
    hi = np.where(crossing, hi, -never)
    return lo, hi


def vertical_interval(
    dz: ArrayLike, dvz: ArrayLike, zthr_m: ArrayLike, tcoa_s: ArrayLike = 0.0
) -> tuple[FloatArray, FloatArray]:
    """Times (lo, hi) between which the vertical condition holds (``|s_z| ≤ ZTHR`` or ``t_coa ≤ TCOA``)."""
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        return vertical_interval_of(_f(dz), _f(dvz), _f(zthr_m), _f(tcoa_s))


def vertical_interval_of(
    dz: FloatArray, dvz: FloatArray, z: Float, tcoa: Float
) -> tuple[FloatArray, FloatArray]:
    """:func:`vertical_interval` on float arrays (or floats for the thresholds), as
    :func:`horizontal_interval_of`."""
    moving = np.abs(dvz) > _VZ_EPS
    t1 = (-z - dz) / dvz
    t2 = (z - dz) / dvz
    lo = np.minimum(np.minimum(t1, t2), -dz / dvz - tcoa)
    hi = np.maximum(t1, t2)
    inside_still = ~moving & (np.abs(dz) <= z)
    never = np.where(inside_still, -np.inf, np.inf)
    lo = np.where(moving, lo, never)
    hi = np.where(moving, hi, -never)
    return lo, hi


def time_to_volume(
    volume: Volume,
    pe: ArrayLike,
    pn: ArrayLike,
    ve: ArrayLike,
    vn: ArrayLike,
    dz: ArrayLike,
    dvz: ArrayLike,
    lookahead_s: float,
    margin_h: ArrayLike = 0.0,
    margin_v: ArrayLike = 0.0,
) -> FloatArray:
    """First time in ``[0, lookahead_s]`` at which the pair violates ``volume``; ``inf`` if none.

    0 when the pair is in violation now. A violation must last some time inside the
    look-ahead to count (grazing the volume's edge, or reaching it exactly at the end of
    the look-ahead, is none), as in DAIDALUS's conflict detection. ``margin_h``/``margin_v``
    widen DTHR/ZTHR per pair (the pair's position uncertainty; 0: the volume as it is).
    """
    dthr = volume.dthr_m + _f(margin_h)
    zthr = volume.zthr_m + _f(margin_v)
    h_lo, h_hi = horizontal_interval(pe, pn, ve, vn, dthr, volume.tthr_s)
    z_lo, z_hi = vertical_interval(dz, dvz, zthr, volume.tcoa_s)
    return first_time_in(h_lo, h_hi, z_lo, z_hi, lookahead_s)


def first_time_in(
    h_lo: FloatArray, h_hi: FloatArray, z_lo: FloatArray, z_hi: FloatArray, lookahead_s: float
) -> FloatArray:
    """The start of the horizontal and vertical intervals' intersection with ``[0, lookahead_s]``
    when it has length; ``inf`` otherwise (see :func:`time_to_volume`)."""
    t_in = np.maximum(np.maximum(h_lo, z_lo), 0.0)
    t_out = np.minimum(np.minimum(h_hi, z_hi), lookahead_s)
    return np.asarray(np.where(t_in < t_out, t_in, np.inf), dtype=np.float64)
