"""Separation core: range, bearing, vertical separation, CPA and alert level of track pairs.

Pure numpy, vectorised over all pairs at once. The tracker hands over
:class:`~sepmon.model.TrackState` objects; :meth:`TrackArrays.from_states` turns
them into columns, :func:`evaluate_pairs` evaluates index pairs into a
:class:`PairResult` of columns.

Geometry. Horizontal range is the WGS84 surface distance (:mod:`sepmon.geo`),
bearing the initial true bearing from a to b. Relative motion is linear in
the local east/north/up frame halfway between the two tracks, built from
ECEF differences; that frame depends only on ``up_a + up_b``, so swapping a
and b only flips signs and every reported figure except the bearing stays
bit-identical. The horizontal relative position is the chord's horizontal
projection rescaled to the surface range, so ``cpa_h_m`` is consistent with
``range_m``. Horizontal relative velocity comes from each track's (ve, vn)
only; vertical closure is ``vu_b − vu_a`` along the tracks' own verticals.
TCPA and the CPA are those of the horizontal motion; ``cpa_v_m`` is the
vertical separation at that time.

Altitudes are ellipsoid heights; when either is unknown the vertical
separation is taken as 0 at all times (conservative: the pair is treated as
co-altitude).

Alert rule (design.md), level = max of:
  (a) now: range < H and vertical < V → WARNING; range < caution_factor·h_min + m_h
      and vertical < caution_factor·v_min + m_v → CAUTION; the same with
      advisory_factor → ADVISORY;
  (b) predicted: the first time both horizontal and vertical separation are
      below (H, V) with linear relative motion, ``t_violation_s``, is
      <= warn_s → WARNING, <= caution_s → CAUTION, <= advisory_s → ADVISORY.
where H = h_min + m_h and V = v_min + m_v, with m_h / m_v the summed
uncertainty margins of both tracks (:func:`uncertainty_margin_m`). The
margins are added, not scaled by the factors: they stand for how far each
position may be off, which does not grow with the protection volume.

Lost tracks are still evaluated from their last known data (their growing
``age_s`` widens the margins) and are flagged in ``PairResult.lost``: a lost
track is never silently reported as clear, callers show it as "lost".
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field, fields

import numpy as np
import numpy.typing as npt

from sepmon.geo import (
    arc_from_chord_xyz,
    bearing_xyz,
    enu_basis,
    geodetic_to_ecef,
    mid_frame_xyz,
)
from sepmon.model import Level, TrackState
from sepmon.spatial import all_pairs

__all__ = [
    "DEGRADED_MARGIN_M",
    "FRESH_AGE_S",
    "HDOP_UNKNOWN",
    "K95",
    "UERE_M",
    "VERTICAL_MARGIN_FACTOR",
    "Minima",
    "PairResult",
    "TrackArrays",
    "all_pairs",
    "evaluate_pairs",
    "evaluate_with_minima",
    "uncertainty_margin_m",
    "vertical_margin_m",
]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.intp]
BoolArray = npt.NDArray[np.bool_]
ArrayLike = npt.ArrayLike

# --- uncertainty model ----------------------------------------------------------------
UERE_M: float = 5.0
"""User equivalent range error (1σ) of a plain GNSS fix, metres."""
K95: float = 2.0
"""Scale from 1σ to ~95 % for the horizontal error (2DRMS)."""
HDOP_UNKNOWN: float = 10.0
"""HDOP assumed when the receiver did not send one (or sent 0/NaN)."""
DEGRADED_MARGIN_M: float = 100.0
"""Extra horizontal margin when the fix quality is not a real GNSS solution."""
GOOD_QUALITIES: frozenset[int] = frozenset({1, 2, 3, 4, 5})
"""GGA qualities that are a real satellite solution (GPS, DGPS, PPS, RTK fixed/float).
0 invalid, 6 dead reckoning, 7 manual, 8 simulation and anything else are degraded."""
FRESH_AGE_S: float = 1.0
"""Fix age that adds no staleness margin: one nominal 1 Hz epoch."""
VERTICAL_MARGIN_FACTOR: float = 1.5
"""GNSS vertical error is typically ~1.5× the horizontal one (VDOP ≈ 1.5 HDOP)."""

_GOOD_MIN, _GOOD_MAX = min(GOOD_QUALITIES), max(GOOD_QUALITIES)
assert frozenset(range(_GOOD_MIN, _GOOD_MAX + 1)) == GOOD_QUALITIES  # a range: two compares test it

# Squared relative speed (m²/s²) below which two tracks are "not moving relative to each other".
_V2_EPS: float = 1e-12


@dataclass(frozen=True, slots=True)
class Minima:
    """Separation minima and alert look-ahead times of one pair class.

    Below ``horizontal_m`` AND ``vertical_m`` → warning; below the minima times
    ``caution_factor`` (both axes) → caution; times ``advisory_factor`` → advisory.
    A predicted violation of the minima within ``warning_s``/``caution_s``/
    ``advisory_s`` seconds raises the same levels.
    """

    horizontal_m: float = 3000.0
    vertical_m: float = 300.0
    warning_s: float = 8.0
    caution_s: float = 12.0
    advisory_s: float = 18.0
    caution_factor: float = 1.5
    advisory_factor: float = 2.0

    def __post_init__(self) -> None:
        if not (self.horizontal_m >= 0 and self.vertical_m >= 0):
            raise ValueError("minima must be >= 0")
        if not (0 <= self.warning_s <= self.caution_s <= self.advisory_s):
            raise ValueError("need 0 <= warning_s <= caution_s <= advisory_s")
        if not (1.0 <= self.caution_factor <= self.advisory_factor):
            raise ValueError("need 1 <= caution_factor <= advisory_factor")


def _hdop_fix_term(hdop: ArrayLike, quality: ArrayLike) -> FloatArray:
    """Horizontal 95 % position error of the fix itself, before staleness."""
    h = np.asarray(hdop, dtype=np.float64)
    q = np.asarray(quality)
    h = np.where(np.isfinite(h) & (h > 0), h, HDOP_UNKNOWN)
    good = (q >= _GOOD_MIN) & (q <= _GOOD_MAX)
    return np.asarray(K95 * UERE_M * h + np.where(good, 0.0, DEGRADED_MARGIN_M), dtype=np.float64)


def _stale_s(age_s: ArrayLike) -> FloatArray:
    age = np.asarray(age_s, dtype=np.float64)
    return np.asarray(np.maximum(age - FRESH_AGE_S, 0.0), dtype=np.float64)


def uncertainty_margin_m(
    hdop: ArrayLike, quality: ArrayLike, age_s: ArrayLike, speed_mps: ArrayLike
) -> FloatArray:
    """Horizontal margin (m) by which one track's fix may be off, ~95 %.

    ``margin = K95 · UERE · HDOP  +  DEGRADED · [quality ∉ {1..5}]  +  speed · max(0, age − FRESH)``
    with K95 = 2, UERE = 5 m, DEGRADED = 100 m, FRESH = 1 s. An unknown,
    zero or NaN HDOP counts as HDOP = 10 (100 m). Qualities 0 (invalid),
    6 (dead reckoning), 7 (manual), 8 (simulation) and unknown codes are
    degraded. The staleness term covers a track that has moved since its fix
    without being extrapolated (a lost track's age keeps growing, so its
    margin does too). All inputs broadcast.
    """
    speed = np.abs(np.asarray(speed_mps, dtype=np.float64))
    stale = _stale_s(age_s)
    drift = speed * stale
    return np.asarray(_hdop_fix_term(hdop, quality) + drift, dtype=np.float64)


def vertical_margin_m(
    hdop: ArrayLike, quality: ArrayLike, age_s: ArrayLike, vspeed_mps: ArrayLike
) -> FloatArray:
    """Vertical margin (m) of one track, ~95 %.

    ``margin_v = 1.5 · (K95 · UERE · HDOP + DEGRADED · [quality ∉ {1..5}])  +  |vu| · max(0, age − FRESH)``
    i.e. 1.5× the fix part of :func:`uncertainty_margin_m` plus the vertical
    drift since a stale fix.
    """
    vs = np.abs(np.asarray(vspeed_mps, dtype=np.float64))
    stale = _stale_s(age_s)
    drift = vs * stale
    return np.asarray(VERTICAL_MARGIN_FACTOR * _hdop_fix_term(hdop, quality) + drift, dtype=np.float64)


def _col(x: ArrayLike, dtype: type[np.generic]) -> npt.NDArray[np.generic]:
    return np.ascontiguousarray(np.asarray(x, dtype=dtype).ravel())


@dataclass(frozen=True, eq=False)
class TrackArrays:
    """Tracks as numpy columns, one row per source.

    ``alt`` and ``hdop`` are NaN when unknown. Velocities are ENU (m/s) at each
    track's own position. Derived ECEF data (surface position, local frame,
    velocity in ECEF) is computed once at construction and shared by every pair.
    """

    source: tuple[str, ...]
    lat: FloatArray
    lon: FloatArray
    alt: FloatArray
    ve: FloatArray
    vn: FloatArray
    vu: FloatArray
    hdop: FloatArray
    quality: npt.NDArray[np.int64]
    age_s: FloatArray
    lost: BoolArray
    # Derived per-track columns, one 1-D array per vector component (see geo's kernels):
    # surface ECEF position, local east (x, y; z is 0), north, up, horizontal velocity in ECEF.
    _pos: tuple[FloatArray, FloatArray, FloatArray] = field(init=False, repr=False)
    _east: tuple[FloatArray, FloatArray] = field(init=False, repr=False)
    _north: tuple[FloatArray, FloatArray, FloatArray] = field(init=False, repr=False)
    _up: tuple[FloatArray, FloatArray, FloatArray] = field(init=False, repr=False)
    _vel: tuple[FloatArray, FloatArray, FloatArray] = field(init=False, repr=False)
    _margin_h: FloatArray = field(init=False, repr=False)
    _margin_v: FloatArray = field(init=False, repr=False)

    def __post_init__(self) -> None:
        set_ = object.__setattr__  # frozen: normalise columns in place once
        set_(self, "source", tuple(self.source))
        for name in ("lat", "lon", "alt", "ve", "vn", "vu", "hdop", "age_s"):
            set_(self, name, _col(getattr(self, name), np.float64))
        set_(self, "quality", _col(self.quality, np.int64))
        set_(self, "lost", _col(self.lost, np.bool_))
        n = len(self.source)
        for name in ("lat", "lon", "alt", "ve", "vn", "vu", "hdop", "quality", "age_s", "lost"):
            if getattr(self, name).shape != (n,):
                raise ValueError(f"column {name!r} has {getattr(self, name).size} rows, expected {n}")
        if len(set(self.source)) != n:
            raise ValueError("duplicate source names: one row per source")
        must_be_finite = ("lat", "lon", "ve", "vn", "vu", "age_s")
        if not np.isfinite(np.concatenate([getattr(self, name) for name in must_be_finite])).all():
            for name in must_be_finite:
                if not np.all(np.isfinite(getattr(self, name))):
                    raise ValueError(f"column {name!r} must be finite")
        if n and float(np.abs(self.lat).max()) > 90.0:
            raise ValueError("latitude outside [-90, 90]")

        def cols(a: FloatArray) -> tuple[FloatArray, FloatArray, FloatArray]:
            a = a.reshape(n, 3)
            return tuple(np.ascontiguousarray(a[:, k]) for k in range(3))  # type: ignore[return-value]

        # Horizontal geometry uses the surface points (height 0).
        set_(self, "_pos", cols(geodetic_to_ecef(self.lat, self.lon)))
        east, north, up = enu_basis(self.lat, self.lon)
        set_(self, "_east", cols(east)[:2])
        set_(self, "_north", cols(north))
        set_(self, "_up", cols(up))
        # Horizontal velocity only: vertical rate is handled along each track's own up axis,
        # so a climb never leaks into the horizontal relative motion of distant pairs.
        vel = east.reshape(n, 3) * self.ve[:, None] + north.reshape(n, 3) * self.vn[:, None]
        set_(self, "_vel", cols(vel))
        speed = np.hypot(self.ve, self.vn)
        set_(self, "_margin_h", uncertainty_margin_m(self.hdop, self.quality, self.age_s, speed))
        set_(self, "_margin_v", vertical_margin_m(self.hdop, self.quality, self.age_s, self.vu))

    def __len__(self) -> int:
        return len(self.source)

    @property
    def margin_h_m(self) -> FloatArray:
        """Horizontal uncertainty margin of each track (:func:`uncertainty_margin_m`)."""
        return self._margin_h

    @property
    def margin_v_m(self) -> FloatArray:
        """Vertical uncertainty margin of each track (:func:`vertical_margin_m`)."""
        return self._margin_v

    @classmethod
    def from_states(cls, states: Sequence[TrackState]) -> TrackArrays:
        """Build the columns from tracker states (None altitude/HDOP become NaN)."""
        nan = float("nan")
        return cls(
            source=tuple(s.source for s in states),
            lat=np.array([s.lat for s in states], dtype=np.float64),
            lon=np.array([s.lon for s in states], dtype=np.float64),
            alt=np.array([nan if s.alt_m is None else s.alt_m for s in states], dtype=np.float64),
            ve=np.array([s.ve for s in states], dtype=np.float64),
            vn=np.array([s.vn for s in states], dtype=np.float64),
            vu=np.array([s.vu for s in states], dtype=np.float64),
            hdop=np.array([nan if s.hdop is None else s.hdop for s in states], dtype=np.float64),
            quality=np.array([s.quality for s in states], dtype=np.int64),
            age_s=np.array([s.age_s for s in states], dtype=np.float64),
            lost=np.array([s.lost for s in states], dtype=np.bool_),
        )

    def index(self, source: str) -> int:
        """Row of a source name."""
        return self.source.index(source)


@dataclass(frozen=True, eq=False)
class PairResult:
    """Evaluation of pairs (ia[k], ib[k]), one entry per pair in every column.

    - ``range_m``: horizontal surface range, >= 0.
    - ``bearing_deg``: initial true bearing from a to b, [0, 360).
    - ``vertical_m``: |alt_b − alt_a|; 0 when either altitude is unknown.
    - ``tcpa_s``: time to horizontal closest approach, >= 0; NaN when the
      tracks are diverging or have no relative motion.
    - ``cpa_h_m``/``cpa_v_m``: predicted horizontal/vertical separation at CPA;
      equal to the current values when ``tcpa_s`` is NaN.
    - ``t_violation_s``: time until horizontal AND vertical separation are both
      first below the widened minima (``h_min_eff_m``, ``v_min_eff_m``) with
      linear relative motion; 0 if violated now; NaN if not within the
      look-ahead horizon (the largest of the three alert times).
    - ``level``: int8 alert level 0–3 (:class:`~sepmon.model.Level`).
    - ``lost``: either track is lost; ``level`` is then from last known data.
    - ``h_min_eff_m``/``v_min_eff_m``: minima widened by both tracks' margins.
    """

    ia: IntArray
    ib: IntArray
    range_m: FloatArray
    bearing_deg: FloatArray
    vertical_m: FloatArray
    tcpa_s: FloatArray
    cpa_h_m: FloatArray
    cpa_v_m: FloatArray
    t_violation_s: FloatArray
    level: npt.NDArray[np.int8]
    lost: BoolArray
    h_min_eff_m: FloatArray
    v_min_eff_m: FloatArray

    def __len__(self) -> int:
        return int(self.ia.size)

    def levels(self) -> list[Level]:
        """The level column as :class:`~sepmon.model.Level` values."""
        return [Level(int(x)) for x in self.level]


def _per_pair(x: ArrayLike, n: int, name: str) -> FloatArray:
    """A scalar (kept 0-d: it broadcasts for free) or one value per pair."""
    a = np.asarray(x, dtype=np.float64)
    if a.ndim == 0:  # the usual case: one class of pairs, cheap to check
        v = float(a)
        if not (math.isfinite(v) and v >= 0):
            raise ValueError(f"{name} must be finite and >= 0")
        return a
    if a.ndim > 1 or (a.ndim == 1 and a.shape != (n,) and a.shape != (1,)):
        raise ValueError(f"{name} must be a scalar or have one value per pair ({n})")
    if not np.all(np.isfinite(a)) or np.any(a < 0):
        raise ValueError(f"{name} must be finite and >= 0")
    return a


def _column(x: FloatArray, n: int) -> FloatArray:
    """``x`` as a writable array of n values (it may be a broadcastable scalar)."""
    return x if x.shape == (n,) else np.full(n, x, dtype=np.float64)


def _interval_below(
    p2: FloatArray, pv: FloatArray, v2: FloatArray, limit: FloatArray
) -> tuple[FloatArray, FloatArray]:
    """Open time interval where |p + v t| < limit for 2-D linear motion.

    Takes |p|², p·v and |v|². Returns (t_lo, t_hi); empty intervals have
    t_lo >= t_hi. Without relative motion the interval is everything or nothing.
    """
    lim2 = limit * limit
    moving = v2 > _V2_EPS
    disc = pv * pv - v2 * (p2 - lim2)
    sq = np.sqrt(np.maximum(disc, 0.0))
    with np.errstate(all="ignore"):  # not moving: overwritten below
        t_lo = (-pv - sq) / v2
        t_hi = (sq - pv) / v2
    empty = disc <= 0
    t_lo[empty] = np.inf
    t_hi[empty] = -np.inf
    if not np.all(moving):
        still = ~moving
        inside = p2 < lim2
        t_lo[still] = np.where(inside[still], -np.inf, np.inf)
        t_hi[still] = -t_lo[still]
    return t_lo, t_hi


def _interval_below_1d(p: FloatArray, v: FloatArray, limit: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Open time interval where |p + v t| < limit for 1-D linear motion (see :func:`_interval_below`)."""
    moving = v * v > _V2_EPS
    with np.errstate(all="ignore"):  # not moving: overwritten below
        t1 = (-limit - p) / v
        t2 = (limit - p) / v
    t_lo = np.minimum(t1, t2)
    t_hi = np.maximum(t1, t2)
    if not np.all(moving):
        still = ~moving
        inside = np.abs(p) < limit
        t_lo[still] = np.where(inside[still], -np.inf, np.inf)
        t_hi[still] = -t_lo[still]
    return t_lo, t_hi


def evaluate_pairs(
    tracks: TrackArrays,
    ia: ArrayLike,
    ib: ArrayLike,
    h_min: ArrayLike = 3000.0,
    v_min: ArrayLike = 300.0,
    warn_s: ArrayLike = 8.0,
    caution_s: ArrayLike = 12.0,
    advisory_s: ArrayLike = 18.0,
    caution_factor: ArrayLike = 1.5,
    advisory_factor: ArrayLike = 2.0,
) -> PairResult:
    """Evaluate the pairs (tracks[ia[k]], tracks[ib[k]]) against their minima.

    The minima, times and factors are scalars or per-pair arrays (pairs of
    different classes have different minima); defaults are :class:`Minima`'s.
    See the module docstring for the geometry and alert rule, and
    :class:`PairResult` for the columns. Raises ValueError if a pair pairs a
    track with itself (a source is never traffic to itself) or an index is
    out of range.

    Cost: about 60 passes over the pairs, all 1-D and elementwise (no Python
    loop over pairs); each result depends only on its own pair, so evaluating
    a pair alone or among others gives the same bits.
    """
    ia_ = np.asarray(ia, dtype=np.intp).ravel()
    ib_ = np.asarray(ib, dtype=np.intp).ravel()
    if ia_.shape != ib_.shape:
        raise ValueError("ia and ib must have the same length")
    n_tracks = len(tracks)
    if ia_.size and (min(ia_.min(), ib_.min()) < 0 or max(ia_.max(), ib_.max()) >= n_tracks):
        raise ValueError("pair index out of range")
    if np.any(ia_ == ib_):
        raise ValueError("a track cannot be paired with itself")
    n = ia_.size
    h_min_ = _per_pair(h_min, n, "h_min")
    v_min_ = _per_pair(v_min, n, "v_min")
    warn_ = _per_pair(warn_s, n, "warn_s")
    caution_ = _per_pair(caution_s, n, "caution_s")
    advisory_ = _per_pair(advisory_s, n, "advisory_s")
    cf = _per_pair(caution_factor, n, "caution_factor")
    af = _per_pair(advisory_factor, n, "advisory_factor")
    params = (h_min_, v_min_, warn_, caution_, advisory_, cf, af)
    if n <= _BLOCK:
        return _evaluate_block(tracks, ia_, ib_, *params)
    # Blocks keep every temporary small (in cache, and reused by the allocator
    # instead of fresh pages each time); results are elementwise, so the same bits.
    parts = [
        _evaluate_block(
            tracks,
            ia_[k : k + _BLOCK],
            ib_[k : k + _BLOCK],
            *(x if x.ndim == 0 or x.size == 1 else x[k : k + _BLOCK] for x in params),
        )
        for k in range(0, n, _BLOCK)
    ]
    return PairResult(
        **{f.name: np.concatenate([getattr(r, f.name) for r in parts]) for f in fields(PairResult)}
    )


# Pairs evaluated at once: ~50 live float64 temporaries of this length stay within L2.
_BLOCK = 8192


def _evaluate_block(
    tracks: TrackArrays,
    ia_: IntArray,
    ib_: IntArray,
    h_min_: FloatArray,
    v_min_: FloatArray,
    warn_: FloatArray,
    caution_: FloatArray,
    advisory_: FloatArray,
    cf: FloatArray,
    af: FloatArray,
) -> PairResult:
    n = ia_.size

    def take(col: FloatArray, idx: IntArray) -> FloatArray:
        return np.asarray(col.take(idx), dtype=np.float64)

    # --- current geometry -------------------------------------------------------------
    pos, up = tracks._pos, tracks._up
    chord = tuple(take(c, ib_) - take(c, ia_) for c in pos)
    up_a = tuple(take(c, ia_) for c in up)
    up_b = tuple(take(c, ib_) for c in up)
    east_m, north_m, up_m = mid_frame_xyz(up_a, up_b)  # type: ignore[arg-type]
    range_m, ce, cn = arc_from_chord_xyz(chord, east_m, north_m, up_m[2])  # type: ignore[arg-type]
    bearing = bearing_xyz(
        chord,  # type: ignore[arg-type]
        (take(tracks._east[0], ia_), take(tracks._east[1], ia_)),
        (take(tracks._north[0], ia_), take(tracks._north[1], ia_), take(tracks._north[2], ia_)),
    )

    alt_a, alt_b = take(tracks.alt, ia_), take(tracks.alt, ib_)
    dz = alt_b - alt_a  # NaN when either altitude is unknown
    alt_known = np.isfinite(dz)
    # Unknown altitude: co-altitude for all time, so no vertical closure either.
    dvz = take(tracks.vu, ib_) - take(tracks.vu, ia_)
    if not np.all(alt_known):
        dz[~alt_known] = 0.0
        dvz[~alt_known] = 0.0
    vertical = np.abs(dz)

    # --- relative motion in the midpoint ENU frame --------------------------------------
    ch2 = ce * ce + cn * cn
    # Rescale the chord's horizontal projection to the surface range.
    ch = np.sqrt(ch2)
    scale = np.divide(range_m, ch, out=np.zeros_like(ch), where=ch > 0)
    pe, pn = ce * scale, cn * scale
    dvx, dvy, dvz_e = (take(c, ib_) - take(c, ia_) for c in tracks._vel)
    ve = dvx * east_m[0] + dvy * east_m[1]
    vn = dvx * north_m[0] + dvy * north_m[1] + dvz_e * north_m[2]

    v2 = ve * ve + vn * vn
    pv = pe * ve + pn * vn
    closing = (v2 > _V2_EPS) & (pv <= 0)
    tcpa = np.divide(-pv, v2, out=np.full(n, np.nan), where=closing)
    np.maximum(tcpa, 0.0, out=tcpa, where=closing)
    not_closing = ~closing
    t_or_0 = tcpa.copy()
    t_or_0[not_closing] = 0.0
    qe = pe + ve * t_or_0
    qn = pn + vn * t_or_0
    cpa_h = np.sqrt(qe * qe + qn * qn)
    cpa_h[not_closing] = range_m[not_closing]
    cpa_v = np.abs(dz + dvz * t_or_0)  # t = 0: exactly the current vertical separation

    # --- widened minima ---------------------------------------------------------------
    m_h = take(tracks._margin_h, ia_) + take(tracks._margin_h, ib_)
    m_v = take(tracks._margin_v, ia_) + take(tracks._margin_v, ib_)
    h_eff = h_min_ + m_h
    v_eff = v_min_ + m_v

    # --- predicted first violation ----------------------------------------------------
    h_lo, h_hi = _interval_below(pe * pe + pn * pn, pv, v2, h_eff)
    z_lo, z_hi = _interval_below_1d(dz, dvz, v_eff)
    violated_now = (range_m < h_eff) & (vertical < v_eff)
    t_lo = np.maximum(np.maximum(h_lo, z_lo), 0.0)
    t_hi = np.minimum(h_hi, z_hi)
    horizon = np.maximum(np.maximum(warn_, caution_), advisory_)
    predicted = (t_lo < t_hi) & (t_lo <= horizon)
    t_violation = t_lo
    t_violation[~predicted] = np.nan
    t_violation[violated_now] = 0.0

    # --- levels -----------------------------------------------------------------------
    # Highest matching rule wins: assign the lowest level first, overwrite upwards.
    def below(factor: FloatArray) -> BoolArray:
        return np.asarray((range_m < factor * h_min_ + m_h) & (vertical < factor * v_min_ + m_v))

    now_level = np.zeros(n, dtype=np.int8)
    now_level[below(af)] = Level.ADVISORY
    now_level[below(cf)] = Level.CAUTION
    now_level[violated_now] = Level.WARNING
    tv = t_violation  # NaN compares False, like +inf would
    pred_level = np.zeros(n, dtype=np.int8)
    pred_level[tv <= advisory_] = Level.ADVISORY
    pred_level[tv <= caution_] = Level.CAUTION
    pred_level[tv <= warn_] = Level.WARNING
    level = np.maximum(now_level, pred_level)

    return PairResult(
        ia=ia_,
        ib=ib_,
        range_m=range_m,
        bearing_deg=bearing,
        vertical_m=vertical,
        tcpa_s=tcpa,
        cpa_h_m=cpa_h,
        cpa_v_m=cpa_v,
        t_violation_s=t_violation,
        level=level,
        lost=tracks.lost[ia_] | tracks.lost[ib_],
        h_min_eff_m=_column(h_eff, n),
        v_min_eff_m=_column(v_eff, n),
    )


def evaluate_with_minima(tracks: TrackArrays, ia: ArrayLike, ib: ArrayLike, minima: Minima) -> PairResult:
    """:func:`evaluate_pairs` with every pair using one :class:`Minima`."""
    return evaluate_pairs(
        tracks,
        ia,
        ib,
        h_min=minima.horizontal_m,
        v_min=minima.vertical_m,
        warn_s=minima.warning_s,
        caution_s=minima.caution_s,
        advisory_s=minima.advisory_s,
        caution_factor=minima.caution_factor,
        advisory_factor=minima.advisory_factor,
    )
