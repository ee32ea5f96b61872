"""Scenario geometry and ground truth.

Every vehicle flies a straight line at constant velocity in a local horizontal
frame (east/north metres on the tangent plane of the ellipsoid *surface* at the
scenario origin) and a linear ellipsoid-height profile. So relative motion of a
pair is linear, and closest approach and minima violations have closed forms.
Horizontal distances in that frame agree with surface geodesic distances (what
geographiclib returns) to better than 1e-6 relative within tens of kilometres.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from itertools import combinations

import numpy as np
import numpy.typing as npt

from sepmon.sim import _wgs84 as wgs
from sepmon.sim.params import SCENARIOS, Params, SimulationError

FloatArray = npt.NDArray[np.float64]

# Speeds at or below this are "standing still": the receiver model then jitters SOG and randomises COG.
STATIONARY_MPS = 0.05
OVERTAKEN_SPEED_RATIO = 0.6
BYSTANDER_RANGE_M = 15_000.0
DEFAULT_PARALLEL_SEPARATION_M = 5000.0
DEFAULT_CLIMB_OFFSET_M = 300.0
DEFAULT_MANY_VERTICAL_M = 300.0


@dataclass(frozen=True)
class Trajectory:
    """True motion of one vehicle: position at the run's start plus constant velocity.

    ``e0``/``n0`` are metres east/north of the scenario origin on its tangent
    plane, ``h0`` the ellipsoid height; ``ve``/``vn``/``vu`` m/s.
    """

    source: str
    e0: float
    n0: float
    h0: float
    ve: float
    vn: float
    vu: float

    @property
    def ground_speed(self) -> float:
        """Horizontal speed, m/s."""
        return math.hypot(self.ve, self.vn)

    @property
    def stationary(self) -> bool:
        """True for a vehicle standing still (its receiver reports jittery SOG, random COG)."""
        return self.ground_speed <= STATIONARY_MPS and abs(self.vu) <= STATIONARY_MPS


@dataclass(frozen=True)
class Cpa:
    """Closest approach of a pair within the simulated window.

    Closest in the horizontal (what the separation core predicts from ENU
    relative motion); ``vertical_m`` is the absolute height difference at that
    moment. ``t`` is unix seconds, ``t_rel`` seconds after the start. For a pair
    that never closes (parallel), ``t`` is the start.
    """

    a: str
    b: str
    t: float
    t_rel: float
    horizontal_m: float
    vertical_m: float

    @property
    def slant_m(self) -> float:
        """3D distance at the closest horizontal approach."""
        return math.hypot(self.horizontal_m, self.vertical_m)


@dataclass(frozen=True)
class TruthSamples:
    """True state of one vehicle at a set of times (arrays of equal length).

    ``ve``/``vn``/``vu`` are in the local ENU frame at each position; ``course``
    is degrees true (meaningless when standing still).
    """

    t: FloatArray
    lat: FloatArray
    lon: FloatArray
    h: FloatArray
    ve: FloatArray
    vn: FloatArray
    vu: FloatArray

    @property
    def speed(self) -> FloatArray:
        """Horizontal speed, m/s."""
        return np.hypot(self.ve, self.vn)

    @property
    def course(self) -> FloatArray:
        """Course over ground, degrees true in [0, 360)."""
        return np.degrees(np.arctan2(self.ve, self.vn)) % 360.0


class Truth:
    """Ground truth of a run: every vehicle's track, its fix epochs, and pair geometry."""

    def __init__(
        self,
        lat0: float,
        lon0: float,
        t0: float,
        duration: float,
        tracks: tuple[Trajectory, ...],
        epochs: dict[str, FloatArray],
    ) -> None:
        self.lat0 = lat0
        self.lon0 = lon0
        self.t0 = t0
        self.duration = duration
        self.tracks = tracks
        self.epochs = epochs  # fix times (unix seconds) of each source's receiver
        self._by_name = {tr.source: tr for tr in tracks}
        self._origin = wgs.to_ecef(lat0, lon0, 0.0)
        self._basis = wgs.enu_basis(lat0, lon0)

    @property
    def sources(self) -> tuple[str, ...]:
        """Vehicle names in scenario order."""
        return tuple(tr.source for tr in self.tracks)

    def track(self, source: str) -> Trajectory:
        """The true track of ``source`` (KeyError for an unknown name)."""
        return self._by_name[source]

    def sample(self, source: str, t: npt.ArrayLike) -> TruthSamples:
        """True position and velocity of ``source`` at unix times ``t``."""
        tr = self._by_name[source]
        tt = np.atleast_1d(np.asarray(t, dtype=np.float64))
        dt = tt - self.t0
        e = tr.e0 + tr.ve * dt
        n = tr.n0 + tr.vn * dt
        plane = np.stack([e, n, np.zeros_like(e)], axis=-1)
        lat, lon, _ = wgs.from_ecef(self._origin + plane @ self._basis)
        h = tr.h0 + tr.vu * dt
        # The frame's horizontal velocity, re-expressed at each position (meridians converge).
        v_ecef = np.array([tr.ve, tr.vn, 0.0]) @ self._basis
        local = wgs.enu_basis(lat, lon) @ v_ecef
        return TruthSamples(tt, lat, lon, h, local[..., 0], local[..., 1], np.full_like(tt, tr.vu))

    def at_epochs(self, source: str) -> TruthSamples:
        """True state of ``source`` at each of its receiver's fix times."""
        return self.sample(source, self.epochs[source])

    def _relative(self, a: str, b: str) -> tuple[float, float, float, float, float, float]:
        ta, tb = self._by_name[a], self._by_name[b]
        return (
            tb.e0 - ta.e0,
            tb.n0 - ta.n0,
            tb.h0 - ta.h0,
            tb.ve - ta.ve,
            tb.vn - ta.vn,
            tb.vu - ta.vu,
        )

    def separation(self, a: str, b: str, t: npt.ArrayLike) -> tuple[FloatArray, FloatArray]:
        """(horizontal, absolute vertical) separation of a pair at unix times ``t``."""
        de, dn, dh, ve, vn, vu = self._relative(a, b)
        dt = np.asarray(t, dtype=np.float64) - self.t0
        return np.hypot(de + ve * dt, dn + vn * dt), np.abs(dh + vu * dt)

    def cpa(self, a: str, b: str) -> Cpa:
        """Closest horizontal approach of ``a`` and ``b`` within [start, start + duration]."""
        de, dn, _, ve, vn, _ = self._relative(a, b)
        v2 = ve * ve + vn * vn
        t_rel = 0.0 if v2 < 1e-18 else min(max(-(de * ve + dn * vn) / v2, 0.0), self.duration)
        hor, ver = self.separation(a, b, self.t0 + t_rel)
        return Cpa(a, b, self.t0 + t_rel, t_rel, float(hor), float(ver))

    def pairs(self) -> list[Cpa]:
        """Closest approach of every pair, closest (slant range) first."""
        return sorted(
            (self.cpa(a, b) for a, b in combinations(self.sources, 2)),
            key=lambda c: (c.slant_m, c.t),
        )

    def first_violation(self, a: str, b: str, horizontal_m: float, vertical_m: float) -> float | None:
        """First unix time in the window when the pair is inside both minima at once, else None.

        Inside means horizontal < ``horizontal_m`` and |vertical| < ``vertical_m``;
        the times are exact (intersection of a quadratic's and a linear interval).
        """
        de, dn, dh, ve, vn, vu = self._relative(a, b)
        h_iv = _quadratic_below(ve * ve + vn * vn, 2.0 * (de * ve + dn * vn), de * de + dn * dn, horizontal_m)
        if abs(vu) < 1e-12:
            v_iv = (-math.inf, math.inf) if abs(dh) < vertical_m else None
        else:
            lo, hi = sorted(((-vertical_m - dh) / vu, (vertical_m - dh) / vu))
            v_iv = (lo, hi)
        if h_iv is None or v_iv is None:
            return None
        lo = max(h_iv[0], v_iv[0], 0.0)
        hi = min(h_iv[1], v_iv[1], self.duration)
        return self.t0 + lo if lo < hi else None


def _quadratic_below(a: float, b: float, c: float, limit: float) -> tuple[float, float] | None:
    """Open interval where a t² + b t + c < limit², or None."""
    c = c - limit * limit
    if a < 1e-18:
        return (-math.inf, math.inf) if c < 0 else None
    disc = b * b - 4.0 * a * c
    if disc <= 0:
        return None
    r = math.sqrt(disc)
    return ((-b - r) / (2.0 * a), (-b + r) / (2.0 * a))


def _velocity(heading_deg: float, speed: float) -> tuple[float, float]:
    h = math.radians(heading_deg)
    return speed * math.sin(h), speed * math.cos(h)


def _encounter(
    p: Params, va: tuple[float, float], vb: tuple[float, float], vertical: float, climb: bool
) -> tuple[list[Trajectory], float]:
    """Two vehicles that pass at horizontal distance ``p.miss`` at the CPA time; returns (tracks, duration).

    A passes the origin at the CPA time; B is then ``miss`` metres from A,
    perpendicular to the relative velocity, so that moment is exactly the CPA.
    """
    rel = (vb[0] - va[0], vb[1] - va[1])
    closing = math.hypot(*rel)
    if p.separation is None:
        t_cpa = p.cpa_time
    else:
        if p.separation < p.miss:
            raise SimulationError(
                f"separation ({p.separation:g} m) must be at least the miss distance ({p.miss:g} m)"
            )
        t_cpa = math.sqrt(p.separation**2 - p.miss**2) / closing
    # Unit normal to the relative velocity, to the right of it.
    nx, ny = rel[1] / closing, -rel[0] / closing
    duration = p.duration if p.duration is not None else round(2.0 * t_cpa, 2)
    a = Trajectory("alpha", -va[0] * t_cpa, -va[1] * t_cpa, p.alt, va[0], va[1], 0.0)
    if climb:
        # B starts `vertical` below A and reaches A's level exactly at the CPA.
        vu = vertical / t_cpa
        b = Trajectory(
            "bravo", p.miss * nx - vb[0] * t_cpa, p.miss * ny - vb[1] * t_cpa, p.alt - vertical, *vb, vu
        )
    else:
        b = Trajectory(
            "bravo", p.miss * nx - vb[0] * t_cpa, p.miss * ny - vb[1] * t_cpa, p.alt + vertical, *vb, 0.0
        )
    return [a, b], duration


def _many(p: Params, rng: np.random.Generator) -> tuple[list[Trajectory], float]:
    """N vehicles converging on the origin area at random times, some of them standing still."""
    duration = p.duration if p.duration is not None else 120.0
    spread = p.vertical if p.vertical is not None else DEFAULT_MANY_VERTICAL_M
    tracks = []
    for i in range(p.vehicles):
        h0 = p.alt + float(rng.uniform(-abs(spread), abs(spread)))
        if rng.random() < 0.15:
            r, brg = (
                math.sqrt(float(rng.random())) * max(p.speed * duration / 2.0, 1000.0),
                rng.uniform(0, 360),
            )
            e, n = _velocity(float(brg), r)
            tracks.append(Trajectory(f"v{i + 1:02d}", e, n, h0, 0.0, 0.0, 0.0))
            continue
        speed = p.speed * float(rng.uniform(0.5, 1.5))
        ve, vn = _velocity(float(rng.uniform(0.0, 360.0)), speed)
        t_pass = float(rng.uniform(0.3, 0.7)) * duration
        pe, pn = _velocity(float(rng.uniform(0.0, 360.0)), 1500.0 * math.sqrt(float(rng.random())))
        tracks.append(Trajectory(f"v{i + 1:02d}", pe - ve * t_pass, pn - vn * t_pass, h0, ve, vn, 0.0))
    return tracks, duration


def build_tracks(scenario: str, p: Params) -> tuple[list[Trajectory], float, tuple[str, str] | None]:
    """The vehicles of ``scenario`` and the run duration; also the primary pair (None for ``many``)."""
    hdg = p.heading
    va = _velocity(hdg, p.speed)
    if p.speed <= 0.0 and scenario not in ("many", "parallel"):  # parallel at 0 m/s: parked
        raise SimulationError(f"speed must be positive for scenario {scenario}")
    if scenario == "head-on":
        tracks, duration = _encounter(p, va, _velocity(hdg + 180.0, p.speed), p.vertical or 0.0, False)
    elif scenario == "crossing":
        tracks, duration = _encounter(p, va, _velocity(hdg + 90.0, p.speed), p.vertical or 0.0, False)
    elif scenario == "overtaking":
        slow = _velocity(hdg, p.speed * OVERTAKEN_SPEED_RATIO)
        # alpha is overtaken (ahead, slower); bravo overtakes from behind at `speed`.
        tracks, duration = _encounter(p, slow, va, p.vertical or 0.0, False)
    elif scenario == "climbing":
        vertical = p.vertical if p.vertical is not None else DEFAULT_CLIMB_OFFSET_M
        tracks, duration = _encounter(p, va, _velocity(hdg + 90.0, p.speed), vertical, True)
    elif scenario == "parallel":
        duration = p.duration if p.duration is not None else 120.0
        sep = p.separation if p.separation is not None else DEFAULT_PARALLEL_SEPARATION_M
        right = _velocity(hdg + 90.0, sep)
        e0, n0 = -va[0] * duration / 2.0, -va[1] * duration / 2.0  # pass abeam the origin mid-run
        tracks = [
            Trajectory("alpha", e0, n0, p.alt, *va, 0.0),
            Trajectory("bravo", e0 + right[0], n0 + right[1], p.alt + (p.vertical or 0.0), *va, 0.0),
        ]
    elif scenario == "many":
        tracks, duration = _many(p, np.random.default_rng([p.seed, 1]))
    else:
        raise SimulationError(f"unknown scenario {scenario!r} (known: {', '.join(SCENARIOS)})")
    if p.bystander:
        e, n = _velocity(hdg + 90.0, BYSTANDER_RANGE_M)
        tracks.append(Trajectory("bystander", e, n, p.alt, 0.0, 0.0, 0.0))
    primary = None if scenario == "many" else ("alpha", "bravo")
    return tracks, duration, primary


def epoch_grid(t0: float, duration: float, rate: float) -> FloatArray:
    """Fix times at ``rate`` Hz on the UTC grid (whole multiples of the period) inside the window."""
    step_cs = round(100.0 / rate)
    start_cs = math.ceil(round(t0 * 100.0, 6) / step_cs) * step_cs
    end_cs = math.floor(round((t0 + duration) * 100.0, 6))
    ks = np.arange(start_cs, end_cs + 1, step_cs, dtype=np.int64)
    return ks.astype(np.float64) / 100.0
