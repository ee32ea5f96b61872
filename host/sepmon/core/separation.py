"""Separation core: range, bearing, vertical separation, CPA and margins of track pairs.

Pure numpy, vectorised over all pairs at once. The tracker hands over
:class:`~sepmon.core.model.TrackState` objects; :meth:`TrackArrays.from_states` turns
them into columns, :func:`evaluate_pairs` evaluates index pairs into a
:class:`PairResult` of columns.

Geometry. Horizontal range is the WGS84 surface distance (:mod:`sepmon.core.geo`),
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

No alert policy here (issue 15): the levels are the Alerter's
(:mod:`sepmon.core.alerter`). For the pairs within an alerter's reach the core hands
it their relative state and their margins: each track's random position error (a
horizontal DRMS, a vertical sigma) combined for the pair as independent errors, plus
the parts that are not random (a degraded fix, the drift of a stale one)
(:func:`combined_margins`).

Lost tracks are still evaluated from the data they are given (their growing
``age_s`` widens the margins) and are flagged in ``PairResult.lost``: a lost
track is never silently reported as clear, callers show it as "lost".
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from statistics import NormalDist

import numpy as np
import numpy.typing as npt

from sepmon.core.geo import (
    WGS84_A,
    WGS84_E2,
    arc_from_chord_rows,
    bearing_rows,
    horizontal_rows,
    mid_frame_rows,
)
from sepmon.core.model import TrackState

__all__ = [
    "DEGRADED_MARGIN_M",
    "FRESH_AGE_S",
    "HDOP_UNKNOWN",
    "K95",
    "UERE_M",
    "VERTICAL_MARGIN_FACTOR",
    "PairResult",
    "TrackArrays",
    "combined_margins",
    "confidence_factors",
    "evaluate_pairs",
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
# Squared horizontal chord (m²) above which its length and direction are accurate (far
# from subnormal), so the horizontal relative position can be rescaled to the range.
_H2_TINY: float = 1e-300


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
    hdop: ArrayLike,
    quality: ArrayLike,
    age_s: ArrayLike,
    vspeed_mps: ArrayLike,
    sigma_v_m: ArrayLike = math.nan,
) -> FloatArray:
    """Vertical margin (m) of one track, ~95 %.

    ``margin_v = 1.5 · (K95 · UERE · HDOP + DEGRADED · [quality ∉ {1..5}])  +  |vu| · max(0, age − FRESH)``
    i.e. 1.5× the fix part of :func:`uncertainty_margin_m` plus the vertical
    drift since a stale fix. With the receiver's own vertical sigma ``sigma_v_m``
    (finite, > 0) the random part is ``K95 · sigma_v_m`` instead of ``1.5 · K95 · UERE · HDOP``.
    """
    vs = np.abs(np.asarray(vspeed_mps, dtype=np.float64))
    stale = _stale_s(age_s)
    drift = vs * stale
    h = np.asarray(hdop, dtype=np.float64)
    h = np.where(np.isfinite(h) & (h > 0), h, HDOP_UNKNOWN)
    sv = np.asarray(sigma_v_m, dtype=np.float64)
    own = np.isfinite(sv) & (sv > 0)
    sigma = np.where(own, sv, h * UERE_M * VERTICAL_MARGIN_FACTOR)
    q = np.asarray(quality)
    degraded = np.where((q >= _GOOD_MIN) & (q <= _GOOD_MAX), 0.0, DEGRADED_MARGIN_M)
    return np.asarray(K95 * sigma + VERTICAL_MARGIN_FACTOR * degraded + drift, dtype=np.float64)


def _col(x: ArrayLike, dtype: np.dtype[np.generic]) -> npt.NDArray[np.generic]:
    if type(x) is np.ndarray and x.dtype is dtype and x.ndim == 1 and x.flags.c_contiguous:
        return x  # the usual case: already a column, nothing to convert
    return np.ascontiguousarray(np.asarray(x, dtype=dtype).ravel())


_F64, _I64, _BOOL = np.dtype(np.float64), np.dtype(np.int64), np.dtype(np.bool_)
_COLUMN_TYPES = (
    *((name, _F64) for name in ("lat", "lon", "alt", "ve", "vn", "vu", "hdop", "age_s")),
    ("quality", _I64),
    ("lost", _BOOL),
)
_SIGMA_COLUMNS = ("sigma_v", "sigma_vh", "sigma_vu")
_SHAPED_COLUMNS = ("lat", "lon", "alt", "ve", "vn", "vu", "hdop", "quality", "age_s", "lost")
# The last source tuple found free of duplicates (tuples of names cannot change): one
# TrackArrays after another of the same tracks need not build a set of their names each.
_UNIQUE_SOURCES: list[tuple[str, ...]] = [()]


# Rows of TrackArrays._table, the derived per-track data (see evaluate_pairs): ECEF
# vectors are three rows each. Rows [0, _DIFF) are taken b − a for a pair, rows
# [_DIFF, _B_ROWS) a + b, and the rows from _B_ROWS on are only needed for track a.
_POS = slice(0, 3)  # surface ECEF position
_VEL = slice(3, 6)  # horizontal velocity in ECEF
_ALT = 6
_VU = 7
_DIFF = 8
_UP = slice(8, 11)  # local up (ellipsoid normal)
_MARGIN_H = 11
_B_ROWS = 12
_EAST = slice(12, 14)  # local east x, y (its z is 0)
_NORTH = slice(14, 17)
_ROWS = 17
# Rows of TrackArrays._unc, what only the pairs near an alerter need (gathered for them alone):
# the vertical margin, the fix's random error alone (DRMS, vertical sigma: for combining), and
# the velocity's 1-sigma (horizontal per axis, vertical rate: for sensor uncertainty mitigation).
_U_MARGIN_V, _U_DRMS_H, _U_SIGMA_V, _U_SIGMA_VH, _U_SIGMA_VU = range(5)
_UNC_ROWS = 5
# (−1, 1) per row: east (x, y) = (−sin lon, cos lon).
_EAST_SIGN = np.array([[-1.0], [1.0]])


@dataclass(frozen=True, eq=False)
class TrackArrays:
    """Tracks as numpy columns, one row per source.

    ``alt`` and ``hdop`` are NaN when unknown. Velocities are ENU (m/s) at each
    track's own position. Optional: ``sigma_v`` the receiver's own vertical 1σ (NaN: from
    HDOP), ``sigma_vh``/``sigma_vu`` the velocity's 1σ (horizontal per axis; vertical rate),
    0 when not given: what sensor uncertainty mitigation (core.sum) needs. Derived ECEF
    data (surface position, local frame, velocity in ECEF) is computed once at
    construction and shared by every pair; the uncertainty rows only the pairs within an
    alerter's reach need, when first asked. Columns already of the right type are kept,
    not copied (as ``lost`` always was): they must not change while the object is in use.
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
    sigma_v: FloatArray | None = None
    sigma_vh: FloatArray | None = None
    sigma_vu: FloatArray | None = None
    # Derived per-track data, one row per vector component or scalar (layout: _POS …
    # _NORTH above), so a pair evaluation gathers everything with one take per side.
    _table: FloatArray = field(init=False, repr=False)
    # What _unc is made of (the fix's random error, the bias, the staleness), and _unc once made.
    _unc_parts: tuple[FloatArray, FloatArray, FloatArray] = field(init=False, repr=False)
    _unc_rows: FloatArray | None = field(init=False, repr=False, default=None)
    _alt_known: bool = field(init=False, repr=False)  # every pair's altitude difference is finite
    _any_lost: bool = field(init=False, repr=False)

    def __post_init__(self) -> None:
        set_ = object.__setattr__  # frozen: normalise columns in place once
        if type(self.source) is not tuple:
            set_(self, "source", tuple(self.source))
        # (Built many times a second for a few dozen tracks, so the checks below are written
        # for their cost per call: fields read through the instance's dict, set only when converted.)
        cols = self.__dict__
        for name, dtype in _COLUMN_TYPES:
            x = cols[name]
            y = _col(x, dtype)
            if y is not x:
                set_(self, name, y)
        source = self.source
        n = len(source)
        given = [name for name in _SIGMA_COLUMNS if cols[name] is not None]
        for name in given:  # left None when not given: nothing to convert or check
            x = cols[name]
            y = _col(x, _F64)
            if y is not x:
                set_(self, name, y)
        shape = (n,)
        for name in (*_SHAPED_COLUMNS, *given):
            if cols[name].shape != shape:
                raise ValueError(f"column {name!r} has {cols[name].size} rows, expected {n}")
        if source is not _UNIQUE_SOURCES[0]:  # the monitor passes the same tuple until a track appears
            if len(set(source)) != n:
                raise ValueError("duplicate source names: one row per source")
            _UNIQUE_SOURCES[0] = source
        lat, lon, ve, vn, vu = self.lat, self.lon, self.ve, self.vn, self.vu
        must_be_finite = ("lat", "lon", "ve", "vn", "vu", "age_s")
        if not np.isfinite(np.concatenate((lat, lon, ve, vn, vu, self.age_s))).all():
            for name in must_be_finite:
                if not np.all(np.isfinite(getattr(self, name))):
                    raise ValueError(f"column {name!r} must be finite")
        if n and float(np.abs(lat).max()) > 90.0:
            raise ValueError("latitude outside [-90, 90]")

        # Same formulas, in the same order, as geo.geodetic_to_ecef and geo.enu_basis
        # (so the same bits), sharing the sines and cosines. Horizontal geometry uses
        # the surface points (height 0).
        t = np.empty((_ROWS, n))
        trig = np.empty((2, 2, n))  # [sin, cos] × [lat, lon]
        rad = np.empty((2, n))
        np.radians(lat, out=rad[0])
        np.radians(lon, out=rad[1])
        np.sin(rad, out=trig[0])
        np.cos(rad, out=trig[1])
        sl, cl = trig[0, 0], trig[1, 0]
        cos_sin_lon = trig[::-1, 1]  # rows (cos lon, sin lon)
        nrad = sl * WGS84_E2
        nrad *= sl
        np.subtract(1.0, nrad, out=nrad)
        np.sqrt(nrad, out=nrad)
        np.divide(WGS84_A, nrad, out=nrad)  # prime-vertical radius
        np.multiply(cos_sin_lon, nrad * cl, out=t[0:2])
        np.multiply(nrad * (1.0 - WGS84_E2), sl, out=t[2])
        np.multiply(cos_sin_lon, cl, out=t[8:10])  # up
        t[10] = sl
        np.multiply(trig[:, 1], _EAST_SIGN, out=t[_EAST])  # east: (−sin lon, cos lon)
        np.multiply(cos_sin_lon, -sl, out=t[_NORTH.start : _NORTH.start + 2])  # north
        t[_NORTH.start + 2] = cl
        # Horizontal velocity only: vertical rate is handled along each track's own up axis,
        # so a climb never leaks into the horizontal relative motion of distant pairs.
        # vel = east·ve + north·vn, east's z being 0.
        v = t[_EAST] * ve
        np.add(v, t[_NORTH.start : _NORTH.start + 2] * vn, out=t[3:5])
        np.add(0.0 * ve, cl * vn, out=t[5])
        t[_ALT] = self.alt
        t[_VU] = vu
        # uncertainty_margin_m and vertical_margin_m on the validated columns, sharing
        # the fix term (same operations, fewer calls).
        speed = np.hypot(ve, vn)
        stale = self.age_s - FRESH_AGE_S
        np.maximum(stale, 0.0, out=stale)
        h = self.hdop
        hdop_ok = h > 0  # and finite: NaN fails both tests
        hdop_ok &= h < np.inf
        fix = np.where(hdop_ok, h, HDOP_UNKNOWN)
        fix *= UERE_M
        # Quality outside [_GOOD_MIN, _GOOD_MAX]: one unsigned compare (below wraps to huge).
        degraded = (self.quality - _GOOD_MIN).view(np.uint64) > _GOOD_MAX - _GOOD_MIN
        bias = degraded * DEGRADED_MARGIN_M
        np.add(fix * K95 + bias, speed * stale, out=t[_MARGIN_H])
        set_(self, "_table", t)
        set_(self, "_unc_parts", (fix, bias, stale))
        # Known altitudes whose differences cannot overflow to inf (which a pair treats
        # as unknown); NaN fails the compares.
        alt = self.alt
        set_(self, "_alt_known", n == 0 or bool(alt.max() <= 1e300 and alt.min() >= -1e300))
        set_(self, "_any_lost", bool(self.lost.any()))

    @property
    def _unc(self) -> FloatArray:
        """The rows ``_U_*`` of each track: made when first asked, as only the pairs within an
        alerter's reach need them (live, most evaluations have none)."""
        u = self._unc_rows
        if u is None:
            fix, bias, stale = self._unc_parts
            u = np.empty((_UNC_ROWS, len(self.source)))
            u[_U_DRMS_H] = fix
            np.multiply(fix, VERTICAL_MARGIN_FACTOR, out=u[_U_SIGMA_V])
            sv = self.sigma_v
            if sv is not None:
                own_v: BoolArray = sv > 0  # and finite: NaN fails both tests
                own_v &= sv < np.inf
                if own_v.any():
                    u[_U_SIGMA_V] = np.where(own_v, sv, u[_U_SIGMA_V])
            # Negative or NaN velocity sigmas would narrow the bounds: none taken.
            for row, col in ((_U_SIGMA_VH, self.sigma_vh), (_U_SIGMA_VU, self.sigma_vu)):
                if col is None:
                    u[row] = 0.0
                else:
                    np.fmax(col, 0.0, out=u[row])
            np.add(
                K95 * u[_U_SIGMA_V] + VERTICAL_MARGIN_FACTOR * bias,
                np.abs(self.vu) * stale,
                out=u[_U_MARGIN_V],
            )
            object.__setattr__(self, "_unc_rows", u)
        return u

    def __len__(self) -> int:
        return len(self.source)

    @property
    def margin_h_m(self) -> FloatArray:
        """Horizontal uncertainty margin of each track (:func:`uncertainty_margin_m`)."""
        row: FloatArray = self._table[_MARGIN_H]
        return row

    @property
    def margin_v_m(self) -> FloatArray:
        """Vertical uncertainty margin of each track (:func:`vertical_margin_m`)."""
        row: FloatArray = self._unc[_U_MARGIN_V]
        return row

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
    - ``lost``: either track is lost.
    - ``near``, ``rel``, ``margin_h_m``, ``margin_v_m``: see below.
    """

    ia: IntArray
    ib: IntArray
    range_m: FloatArray
    bearing_deg: FloatArray
    vertical_m: FloatArray
    tcpa_s: FloatArray
    cpa_h_m: FloatArray
    cpa_v_m: FloatArray
    lost: BoolArray
    # The pairs near enough for an alerter to look at (``near_m``/``near_s`` given; else
    # none): their entry numbers, their relative state (rows pe, pn, ve, vn, dz, dvz: b
    # relative to a, local east/north/up, m and m/s) and their combined margins.
    near: IntArray = field(default_factory=lambda: np.zeros(0, dtype=np.intp))
    rel: FloatArray = field(default_factory=lambda: np.zeros((6, 0)))
    margin_h_m: FloatArray = field(default_factory=lambda: np.zeros(0))
    margin_v_m: FloatArray = field(default_factory=lambda: np.zeros(0))
    # Of the near pairs, both tracks' 1-sigma figures added (sensor uncertainty mitigation's
    # pair figures, core.sum): rows horizontal position (per axis), vertical position,
    # horizontal velocity (per axis), vertical rate.
    sigma: FloatArray = field(default_factory=lambda: np.zeros((4, 0)))

    def __len__(self) -> int:
        return int(self.ia.size)


def _per_pair(x: ArrayLike, n: int, name: str) -> float | FloatArray:
    """A scalar (as a float: it broadcasts for free) or one value per pair."""
    if type(x) is float or type(x) is int:  # the usual case, cheap to check
        v = float(x)
    else:
        a = np.asarray(x, dtype=np.float64)
        if a.ndim != 0:
            if a.ndim > 1 or (a.shape != (n,) and a.shape != (1,)):
                raise ValueError(f"{name} must be a scalar or have one value per pair ({n})")
            if not np.all(np.isfinite(a)) or np.any(a < 0):
                raise ValueError(f"{name} must be finite and >= 0")
            return a
        v = float(a)
    if not (math.isfinite(v) and v >= 0):
        raise ValueError(f"{name} must be finite and >= 0")
    return v


def _indices(x: ArrayLike) -> IntArray:
    if type(x) is np.ndarray and x.dtype == np.intp and x.ndim == 1:
        return x
    return np.asarray(x, dtype=np.intp).ravel()


# Rows of the float result array of evaluate_pairs (PairResult's float columns are its rows).
_R_RANGE, _R_VERTICAL, _R_BEARING, _R_TCPA, _R_CPA_H, _R_CPA_V = range(6)
_RESULT_ROWS = 6


def evaluate_pairs(
    tracks: TrackArrays,
    ia: ArrayLike,
    ib: ArrayLike,
    *,
    near_m: ArrayLike | None = None,
    near_s: ArrayLike = 0.0,
    near_sigma_m: ArrayLike = 0.0,
    near_sigma_s: ArrayLike = 0.0,
    confidence: float = 0.95,
) -> PairResult:
    """The geometry of the pairs (tracks[ia[k]], tracks[ib[k]]); no alert policy.

    ``near_m``/``near_s`` (scalars or per pair): the pairs whose range is within
    ``near_m + speed · near_s`` plus their (summed, so larger) margins, ``speed`` their
    horizontal relative speed, also get their relative state and combined margins
    (``near``/``rel``/``margin_h_m``/``margin_v_m``). An alerter's reach
    (:meth:`~sepmon.core.alerter.Alerter.reach_m` is ``DTHR + speed · (E + TTHR)``, a
    bound) says which pairs it may alert on: the others can reach no level. The combined
    margins are :func:`combined_margins` at ``confidence``. An alerter that mitigates
    sensor uncertainty (core.sum) reaches further by ``near_sigma_m`` × the pair's summed
    position sigma and ``near_sigma_s`` × its summed velocity sigma. See the module docstring for
    the geometry and :class:`PairResult` for the columns. Raises ValueError if a pair
    pairs a track with itself (a source is never traffic to itself) or an index is out
    of range.

    Cost: a fixed sequence of elementwise numpy passes over the pairs (no Python loop
    over pairs), one per vector (not per component) where it can, in blocks of at most
    ``_BLOCK`` pairs. Each result depends only on its own pair, so evaluating a pair
    alone or among others gives the same bits.
    """
    ia_ = _indices(ia)
    ib_ = _indices(ib)
    if ia_.shape != ib_.shape:
        raise ValueError("ia and ib must have the same length")
    n = ia_.size
    # Viewed as unsigned, a negative index is huge: one max per side checks both ends.
    if n and max(ia_.view(np.uintp).max(), ib_.view(np.uintp).max()) >= len(tracks):
        raise ValueError("pair index out of range")
    if (ia_ == ib_).any():
        raise ValueError("a track cannot be paired with itself")
    near: _Near | None = None
    if near_m is not None:
        if not 0.0 < confidence < 1.0:
            raise ValueError(f"confidence must be between 0 and 1, got {confidence!r}")
        near = _Near(
            _per_pair(near_m, n, "near_m"),
            _per_pair(near_s, n, "near_s"),
            _per_pair(near_sigma_m, n, "near_sigma_m"),
            _per_pair(near_sigma_s, n, "near_sigma_s"),
            confidence,
        )
    res = np.empty((_RESULT_ROWS, n))
    # Divisions by zero and overflows are expected on the way; each is fixed up where it happens.
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        if n <= _BLOCK:
            _evaluate_block(tracks, ia_, ib_, res, near, 0)
        else:
            # Blocks keep every temporary small (in cache, and reused by the allocator
            # instead of fresh pages each time); results are elementwise, so the same bits.
            for k in range(0, n, _BLOCK):
                s = slice(k, k + _BLOCK)
                _evaluate_block(tracks, ia_[s], ib_[s], res[:, s], near if near is None else near.block(s), k)
    lost = tracks.lost[ia_] | tracks.lost[ib_] if tracks._any_lost else np.zeros(n, dtype=np.bool_)
    if near is not None:
        near_idx, rel, margin_h, margin_v, sigma = near.result()
    else:
        near_idx, rel, margin_h, margin_v, sigma = (
            np.zeros(0, dtype=np.intp),
            np.zeros((6, 0)),
            np.zeros(0),
            np.zeros(0),
            np.zeros((4, 0)),
        )
    return PairResult(
        ia=ia_,
        ib=ib_,
        range_m=res[_R_RANGE],
        bearing_deg=res[_R_BEARING],
        vertical_m=res[_R_VERTICAL],
        tcpa_s=res[_R_TCPA],
        cpa_h_m=res[_R_CPA_H],
        cpa_v_m=res[_R_CPA_V],
        lost=lost,
        near=near_idx,
        rel=rel,
        margin_h_m=margin_h,
        margin_v_m=margin_v,
        sigma=sigma,
    )


@lru_cache(maxsize=16)
def confidence_factors(confidence: float) -> tuple[float, float]:
    """Scales from a pair's combined horizontal DRMS and vertical sigma to ``confidence`` margins.

    What a volume asks is one-dimensional and one-sided: is the true range below DTHR (is
    the true height difference below ZTHR)? For a range large against the errors, the
    range's error is the relative position error along the line of sight, normal with the
    per-axis sigma ``DRMS/√2`` (circular errors); the height difference's is the vertical
    sigma. The margin that the truth is inside with at most probability ``1 − p`` when the
    measurement is outside it is the one-sided normal quantile ``z = Φ⁻¹(p)`` of those:
    ``z/√2`` per unit of DRMS and ``z`` per unit of sigma. At 95 %: 1.163 and 1.645.
    (A 2-D radius, ``DRMS·sqrt(−ln(1 − p))``, answers "where is the point", a wider
    question: 1.731 at 95 %, and parked pairs at 1.4 x 50 m minima flapped with it.)
    """
    z = NormalDist().inv_cdf(confidence)
    return z / math.sqrt(2.0), z


def combined_margins(
    drms_a: ArrayLike,
    drms_b: ArrayLike,
    sigma_v_a: ArrayLike,
    sigma_v_b: ArrayLike,
    bias_h: ArrayLike,
    bias_v: ArrayLike,
    confidence: float = 0.95,
) -> tuple[FloatArray, FloatArray]:
    """Horizontal and vertical margins of a pair whose two position errors are independent.

    The random parts combine in quadrature (the error of a difference of independent
    errors has the sum of their variances): ``k_h · sqrt(DRMS_a² + DRMS_b²)`` and
    ``k_v · sqrt(σ_a² + σ_b²)``, with ``k`` from :func:`confidence_factors`. The parts
    that are not random errors (a degraded fix's 100 m, the drift of a stale fix) are
    ``bias_h``/``bias_v`` (both tracks' summed) and add as they are.
    """
    kh, kv = confidence_factors(confidence)
    da, db = np.asarray(drms_a, dtype=np.float64), np.asarray(drms_b, dtype=np.float64)
    va, vb = np.asarray(sigma_v_a, dtype=np.float64), np.asarray(sigma_v_b, dtype=np.float64)
    return (
        np.asarray(kh * np.hypot(da, db) + np.asarray(bias_h, dtype=np.float64), dtype=np.float64),
        np.asarray(kv * np.hypot(va, vb) + np.asarray(bias_v, dtype=np.float64), dtype=np.float64),
    )


class _Near:
    """What evaluate_pairs collects for an alerter: the pairs within reach, block by block."""

    def __init__(
        self,
        near_m: float | FloatArray,
        near_s: float | FloatArray,
        near_sigma_m: float | FloatArray,
        near_sigma_s: float | FloatArray,
        confidence: float,
    ) -> None:
        self.near_m, self.near_s, self.near_sigma_m, self.near_sigma_s = (
            near_m,
            near_s,
            near_sigma_m,
            near_sigma_s,
        )
        self.confidence = confidence
        self.idx: list[IntArray] = []
        self.rel: list[FloatArray] = []
        self.mh: list[FloatArray] = []
        self.mv: list[FloatArray] = []
        self.sigma: list[FloatArray] = []

    def block(self, s: slice) -> _Near:
        """The same collector with per-pair parameters cut to block ``s`` (results shared)."""
        out = _Near.__new__(_Near)
        out.__dict__.update(self.__dict__)
        out.near_m, out.near_s, out.near_sigma_m, out.near_sigma_s = (
            x if isinstance(x, float) or x.size == 1 else x[s]
            for x in (self.near_m, self.near_s, self.near_sigma_m, self.near_sigma_s)
        )
        return out

    def add_empty(self) -> None:
        """An empty block."""
        self.idx.append(np.zeros(0, dtype=np.intp))
        self.rel.append(np.zeros((6, 0)))
        self.mh.append(np.zeros(0))
        self.mv.append(np.zeros(0))
        self.sigma.append(np.zeros((4, 0)))

    def result(self) -> tuple[IntArray, FloatArray, FloatArray, FloatArray, FloatArray]:
        """PairResult's near, rel, margin_h_m, margin_v_m and sigma."""
        if len(self.idx) == 1:
            return self.idx[0], self.rel[0], self.mh[0], self.mv[0], self.sigma[0]
        if not self.idx:
            self.add_empty()
        return (
            np.concatenate(self.idx),
            np.concatenate(self.rel, axis=1),
            np.concatenate(self.mh),
            np.concatenate(self.mv),
            np.concatenate(self.sigma, axis=1),
        )


# Pairs evaluated at once: the ~30 live float64 temporaries of this length stay within L2.
_BLOCK = 8192


def _evaluate_block(
    tracks: TrackArrays,
    ia: IntArray,
    ib: IntArray,
    res: FloatArray,
    near: _Near | None = None,
    offset: int = 0,
) -> None:
    """Evaluate one block of pairs into ``res`` (rows ``_R_*``); the pairs within ``near``'s
    reach go to ``near`` (entry numbers from ``offset``)."""
    m = ia.size
    if m == 0:
        if near is not None:
            near.add_empty()
        return
    table = tracks._table
    ga = table.take(ia, axis=1)
    gb = table[:_B_ROWS].take(ib, axis=1)

    # --- current geometry -------------------------------------------------------------
    d = gb[:_DIFF] - ga[:_DIFF]  # chord, relative velocity (ECEF), dz, dvz: all b − a
    east, north, up = mid_frame_rows(ga[_UP], gb[_UP])
    # Chord and relative velocity in the mid frame: hv[0] = (ce, cn), hv[1] = (ve, vn).
    hv = horizontal_rows(d[:6].reshape(2, 3, m), east, north)
    sq = hv * hv
    h2v2pv = np.empty((3, m))  # |chord_h|², |v|², p·v
    np.add(sq[:, 0], sq[:, 1], out=h2v2pv[:2])
    chord = d[_POS]
    c2 = chord * chord
    c = c2[0] + c2[1]
    c += c2[2]
    np.sqrt(c, out=c)
    range_m = arc_from_chord_rows(c, h2v2pv[0], sq[0, 1], up[2], out=res[_R_RANGE])
    bearing_rows(horizontal_rows(chord, ga[_EAST], ga[_NORTH]), out=res[_R_BEARING])

    dz, dvz = d[_ALT], d[_VU]  # NaN when either altitude is unknown
    if not tracks._alt_known:
        # Unknown altitude: co-altitude for all time, so no vertical closure either.
        unknown = ~np.isfinite(dz)
        if unknown.any():
            dz[unknown] = 0.0
            dvz[unknown] = 0.0
    np.abs(dz, out=res[_R_VERTICAL])

    # --- relative motion in the midpoint ENU frame --------------------------------------
    # Rescale the chord's horizontal projection to the surface range: p = hv[0] in place.
    h2 = h2v2pv[0]
    ch = np.sqrt(h2)
    filter_range = range_m
    antipodal = None
    if h2.min() >= _H2_TINY:
        scale = np.divide(range_m, ch, out=ch)
    else:
        scale = np.divide(range_m, ch, out=np.zeros_like(ch), where=ch > 0)
        # A (nearly) vertical chord, e.g. pole to pole: p is 0 or not reliably scaled
        # to the range, so the reach filter must not judge such a pair by its range.
        vertical_chord = h2 < _H2_TINY
        filter_range = np.where(vertical_chord, 0.0, range_m)
        # Antipodal tracks (e.g. the two poles) among them are ~20,000 km apart although
        # p comes out 0, and an alerter would see them as co-located (a false WARNING).
        # Coincident and sub-metre pairs keep p = 0.
        antipodal = vertical_chord & (range_m > 1.0)
    p = hv[0]
    p *= scale  # (pe, pn)
    v = hv[1]  # (ve, vn)
    if antipodal is not None and antipodal.any():
        # The frame gives no direction: take p across the relative velocity (east
        # without one), so neither closing nor opening (pv = 0 below), and p flips with
        # a and b as v does.
        ve, vn, r = v[0][antipodal], v[1][antipodal], range_m[antipodal]
        speed = np.hypot(ve, vn)
        moving = speed > 0.0
        unit = np.where(moving, speed, 1.0)
        p[0][antipodal] = np.where(moving, -vn / unit, 1.0) * r
        p[1][antipodal] = np.where(moving, ve / unit, 0.0) * r
    v2 = h2v2pv[1]
    t = p * v
    pv = np.add(t[0], t[1], out=h2v2pv[2])
    if antipodal is not None and antipodal.any():
        pv[antipodal] = 0.0  # across v exactly, whichever track is a (rounding would say otherwise)
    closing = pv <= 0
    closing &= v2 > _V2_EPS
    # Computed for every pair (plain ufuncs are cheaper than masked ones), kept where
    # closing with selects (np.where is several times faster than copyto with a mask).
    tcpa = np.negative(pv)
    tcpa /= v2
    np.maximum(tcpa, 0.0, out=tcpa)
    t_or_0 = np.where(closing, tcpa, 0.0)
    res[_R_TCPA] = np.where(closing, tcpa, np.nan)
    q = v * t_or_0
    q += p
    q *= q
    cpa_h = np.add(q[0], q[1], out=q[0])
    np.sqrt(cpa_h, out=cpa_h)
    res[_R_CPA_H] = np.where(closing, cpa_h, range_m)
    cpa_v = dvz * t_or_0
    cpa_v += dz
    np.abs(cpa_v, out=res[_R_CPA_V])  # t = 0: exactly the current vertical separation

    # --- margins: each track's summed (random at K95 + bias), the pair's two added -------
    margin_h = ga[_MARGIN_H] + gb[_MARGIN_H]

    if near is not None:
        # Bias (not random) parts of each track's margin: its summed margin less K95 x its
        # random part. Reach: the alerter's, widened by the larger (summed) margin.
        reach = np.sqrt(v2)
        reach *= near.near_s
        reach += near.near_m
        reach += margin_h
        if not (
            isinstance(near.near_sigma_m, float)
            and near.near_sigma_m == 0.0
            and isinstance(near.near_sigma_s, float)
            and near.near_sigma_s == 0.0
        ):
            unc = tracks._unc
            reach += near.near_sigma_m * (unc[_U_DRMS_H, ia] + unc[_U_DRMS_H, ib]) / math.sqrt(2.0)
            reach += near.near_sigma_s * (unc[_U_SIGMA_VH, ia] + unc[_U_SIGMA_VH, ib])
        reach *= 1.0 + 1e-9
        reach += 1.0
        k = np.flatnonzero(filter_range <= reach)
        if not k.size:  # the usual case for most blocks: nothing near, nothing to gather
            near.add_empty()
        else:
            near.idx.append(k + offset if offset else k)
            rel = np.empty((6, k.size))
            rel[0:2] = p[:, k]
            rel[2:4] = v[:, k]
            rel[4] = dz[k]
            rel[5] = dvz[k]
            near.rel.append(rel)
            # One gather per side of the rows the margins and sigmas need.
            ua = tracks._unc.take(ia[k], axis=1)
            ub = tracks._unc.take(ib[k], axis=1)
            ra, sa = ua[_U_DRMS_H], ua[_U_SIGMA_V]
            rb, sb = ub[_U_DRMS_H], ub[_U_SIGMA_V]
            bias_h = margin_h[k] - K95 * (ra + rb)
            bias_v = ua[_U_MARGIN_V] + ub[_U_MARGIN_V] - K95 * (sa + sb)
            mh, mv = combined_margins(ra, rb, sa, sb, bias_h, bias_v, near.confidence)
            near.mh.append(mh)
            near.mv.append(mv)
            sig = ua[_U_DRMS_H:] + ub[_U_DRMS_H:]  # pos h (DRMS), pos v, vel h, vel v: both added
            sig[0] /= math.sqrt(2.0)  # per axis
            near.sigma.append(sig)
