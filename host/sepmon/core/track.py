"""Per-source tracks: the latest fix, a filtered velocity with its uncertainty, and whether
the track is lost.

Time has two meanings here. Velocities come from fix times (GPS time, precise).
Ageing uses the *clock* time: the receive time of a fix when known (TAG block
``c:`` or the host clock), else its fix time — so a recording made last year and
replayed live ages by the host clock, not by its old GPS timestamps.

The filter (one per track) is a constant-velocity Kalman filter per axis (east,
north, up), state ``[position, velocity]``, driven by continuous white-noise
acceleration of spectral density ``q`` (Bar-Shalom, Li & Kirubarajan, *Estimation
with Applications to Tracking and Navigation*, 2001, §6.2.2). Over ``dt`` seconds::

    F = [[1, dt], [0, 1]]          Q = q · [[dt³/3, dt²/2], [dt²/2, dt]]
    x⁻ = F x                       P⁻ = F P Fᵀ + Q

A fix measures the position (H = [1 0], variance r: from the receiver's eph/epv when it
gave them, else from HDOP) and, when the receiver sent its Doppler speed and course, the
velocity (H = [0 1], variance r_v); the two are
independent, so they are applied one after the other (the same result as one joint
update). Measurement noise is isotropic in the horizontal, so east and north share
one covariance (computed once). Position innovations are taken in metres in the
local east/north frame at the predicted position, so the state itself stays in
latitude/longitude/height and no origin has to be carried.

The position a track *reports* stays the receiver's latest fix: GNSS position error
is mostly a bias that wanders over minutes (satellite geometry, ionosphere,
multipath), which no filter averages away in seconds, while a filtered position lags
every manoeuvre. The filter serves the velocity; its position variance is exposed
(``sigma_h_m``) but is the white-noise figure, optimistic for such a bias.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from statistics import NormalDist

from sepmon.core.model import Fix, TrackState
from sepmon.core.separation import HDOP_UNKNOWN, UERE_M, VERTICAL_MARGIN_FACTOR

# Spherical metres per degree: good to 0.5 % over the few hundred metres a
# velocity window spans, which is far below GPS noise.
M_PER_DEG = 6_371_008.8 * math.pi / 180.0
# One-sigma horizontal position error per unit HDOP, for the implausible-jump test's slack.
SIGMA_H_PER_HDOP_M = 2.5

DEAD_RECKON_MAX_S = 60.0
"""A lost track keeps moving as predicted for at most this long; beyond it its position stays."""

# --- the track filter's constants ---------------------------------------------------------
AXIS_SIGMA_PER_HDOP_M = UERE_M / math.sqrt(2.0)
"""Per-axis 1σ horizontal position error per unit HDOP: UERE · HDOP is the horizontal
(radial) RMS error, shared by two axes."""
AXIS_SIGMA_PER_R95 = 1.0 / math.sqrt(-2.0 * math.log(0.05))
"""Per-axis 1σ from a ~95 % horizontal radius (``Fix.eph_m``): that radius is 2.448 σ for a
circular Gaussian (Rayleigh distribution of the radial error)."""
VERTICAL_SIGMA_PER_EPV = 1.0 / NormalDist().inv_cdf(0.975)
"""1σ height error from the receiver's own ~95 % vertical error (``Fix.epv_m``, gpsd's ``epv``):
1/1.960 (two-sided normal). Without it the height's σ is 1.5 × the per-axis horizontal one."""
VELOCITY_SIGMA_MPS = 0.2
VELOCITY_SIGMA_PER_HDOP_MPS = 0.1
"""Per-axis 1σ of the Doppler velocity (SOG/COG): 0.2 m/s + 0.1 m/s × HDOP, so 0.3 m/s at
HDOP 1. Receiver datasheets give 0.05 m/s (u-blox NEO-M8, 50 % at 30 m/s) to 0.1 m/s
(MediaTek MT3339, Quectel L76) in open sky; this is 3–6× that for the vehicle antennas,
multipath and older chipsets we meet, and for the Doppler being an average over the epoch
rather than the velocity at the fix time. Doppler error scales with the geometry, hence HDOP."""
ACCEL_PSD_H = 2.25
"""Horizontal acceleration spectral density q (m²/s³). Bar-Shalom's rule for this model:
the velocity change over one period T is about √(q·T); taking half the largest sustained
horizontal acceleration of the vehicles we track (3 m/s²: a car's firm braking, a light
aircraft's 30° turn is 5.7) per 1 s epoch gives √q = 1.5 m/s/√s. Under a steady 3 m/s²
acceleration the velocity lags by 0.12 m/s with Doppler, by 5.2 m/s from positions alone
(a receiver without speed/course): the price of the 2 m/s (1σ) that position noise would
otherwise put on it."""
ACCEL_PSD_V = 0.25
"""Vertical acceleration spectral density q (m²/s³): half of 1 m/s² per 1 s epoch, as
above; vertical manoeuvres are gentle (an aircraft's level-off or push-over is ≤ 0.1 g, a
drone changes its climb rate by about 1 m/s²). NMEA carries no vertical velocity, so the
vertical rate comes from heights alone; this q picks up a 2.5 m/s descent from level
flight within 0.5 m/s in 8 s (noise-free); at HDOP 1 it reports 1σ = 1.0 m/s, and white
height noise scatters a level vehicle's rate by 0.53 m/s (1σ; real, time-correlated noise
less)."""
VELOCITY_PRIOR_H_MPS = 100.0
VELOCITY_PRIOR_V_MPS = 10.0
"""1σ of the velocity a filter starts with (zero) when the first fix has no Doppler:
faster than the road and light-aircraft traffic we track horizontally, and than their
climb rates vertically, so two fixes decide it."""

_QH3, _QH2 = ACCEL_PSD_H / 3.0, ACCEL_PSD_H / 2.0
_QV3, _QV2 = ACCEL_PSD_V / 3.0, ACCEL_PSD_V / 2.0
_VZ_FACTOR2 = VERTICAL_MARGIN_FACTOR * VERTICAL_MARGIN_FACTOR
_PRIOR_H2 = VELOCITY_PRIOR_H_MPS * VELOCITY_PRIOR_H_MPS
_PRIOR_V2 = VELOCITY_PRIOR_V_MPS * VELOCITY_PRIOR_V_MPS
_RAD = math.pi / 180.0
_DEG_PER_M = 1.0 / M_PER_DEG
_INF = math.inf
_sin, _cos, _hypot = math.sin, math.cos, math.hypot


class TrackEventType(StrEnum):
    """Changes of a track's standing that are worth an event."""

    ACQUIRED = "acquired"
    LOST = "lost"
    REGAINED = "regained"
    IMPLAUSIBLE = "implausible"


@dataclass(frozen=True, slots=True)
class TrackEvent:
    """A track changed standing at clock time ``t``."""

    t: float
    type: TrackEventType
    source: str
    detail: str | None = None


def clock_time(fix: Fix) -> float:
    """The time a fix counts as having arrived: receive time when known, else fix time."""
    return fix.rx_t if fix.rx_t is not None else fix.t


class Track:
    """One source's latest fix and its filtered motion (see the module docstring).

    ``ve``, ``vn``, ``vu`` (m/s) are the filter's velocity after the latest fix (``vu`` is 0
    when that fix is 2D); ``sigma_vh_mps``/``sigma_vu_mps`` their 1σ (horizontal per axis),
    ``sigma_h_m``/``sigma_v_m`` the filtered position's 1σ (horizontal per axis). The
    vertical ones are NaN when the latest fix has no height.
    """

    __slots__ = (
        "_alt",
        "_lat",
        "_lon",
        "_ph00",
        "_ph01",
        "_ph11",
        "_pv00",
        "_pv01",
        "_pv11",
        "_tv",
        "_vz",
        "duplicates",
        "implausible",
        "implausible_detail",
        "implausible_total",
        "last",
        "last_clock",
        "lost",
        "lost_at",
        "max_speed_mps",
        "out_of_order",
        "source",
        "stale_after_loss",
        "stale_s",
        "ve",
        "vn",
        "vu",
    )  # fmt: skip

    def __init__(self, source: str, stale_s: float = 5.0, max_speed_mps: float = math.inf) -> None:
        self.source = source
        self.stale_s = stale_s
        self.max_speed_mps = max_speed_mps
        self.last: Fix | None = None
        self.last_clock = -math.inf
        self.lost = False
        self.lost_at = -math.inf  # clock time of the latest `lost`
        self.ve = self.vn = self.vu = 0.0
        self.duplicates = 0
        self.out_of_order = 0
        self.implausible = 0  # positions refused in a row for an impossible speed (0: none now)
        self.implausible_total = 0
        self.implausible_detail = ""
        self.stale_after_loss = 0  # fixes received before the track was lost, delivered after
        # Filter state: position (deg, deg, m) and the covariances [[p00, p01], [p01, p11]]
        # of the horizontal axes (shared by east and north) and of the vertical one.
        self._lat = self._lon = self._alt = math.nan
        self._vz = 0.0
        self._ph00 = self._ph01 = self._ph11 = math.nan
        self._pv00 = self._pv01 = self._pv11 = math.nan
        self._tv = -math.inf  # fix time of the vertical filter's latest update (-inf: none)

    @property
    def sigma_h_m(self) -> float:
        """1σ of the filtered horizontal position, per axis (m)."""
        return math.sqrt(self._ph00)

    @property
    def sigma_vh_mps(self) -> float:
        """1σ of the horizontal velocity, per axis (m/s)."""
        return math.sqrt(self._ph11)

    @property
    def sigma_v_m(self) -> float:
        """1σ of the filtered height (m); NaN when the latest fix is 2D."""
        fix = self.last
        return math.nan if fix is None or fix.alt_m is None else math.sqrt(self._pv00)

    @property
    def sigma_vu_mps(self) -> float:
        """1σ of the vertical rate (m/s); NaN when the latest fix is 2D."""
        fix = self.last
        return math.nan if fix is None or fix.alt_m is None else math.sqrt(self._pv11)

    def update(self, fix: Fix) -> bool:
        """Take a fix; False when it is a duplicate or older than what we have."""
        last = self.last
        clock = fix.rx_t if fix.rx_t is not None else fix.t  # clock_time(fix), inline: once per fix
        restart = last is None
        if last is not None:
            if fix.t == last.t:
                self.duplicates += 1
                return False
            if fix.t < last.t:
                # A receiver whose time jumped back (reset, rollover bug) keeps sending:
                # accept once the clock shows real time has passed, else it's a stale echo.
                if clock - self.last_clock < 1.0:
                    self.out_of_order += 1
                    return False
                restart = True
            elif fix.t - last.t > self.stale_s:
                restart = True  # no velocity across a gap
            if self._impossible(last, fix, clock):
                return False
            self.implausible = 0
        self._filter(fix, None if restart else last)
        self.last = fix
        self.last_clock = clock
        return True

    def _impossible(self, last: Fix, fix: Fix, clock: float) -> bool:
        """True (and counted) when reaching ``fix`` from ``last`` needs more than ``max_speed_mps``.

        The time allowed is the longer of the fix times' and the receive times' difference
        (a receiver whose clock jumps is not moving fast), and both positions may be three
        sigma off: only a jump no noise explains is refused. The position is then the
        source's fault, not the vehicle's: the track keeps its last good fix (and goes
        lost when nothing believable follows), so no pair is cleared on its word.
        """
        if self.max_speed_mps == math.inf:
            return False
        dt = max(abs(fix.t - last.t), clock - self.last_clock, 1e-3)
        cos_lat = max(math.cos(math.radians((fix.lat + last.lat) * 0.5)), 1e-6)
        dlon = (fix.lon - last.lon + 180.0) % 360.0 - 180.0
        d = math.hypot((fix.lat - last.lat) * M_PER_DEG, dlon * M_PER_DEG * cos_lat)
        slack = 3.0 * SIGMA_H_PER_HDOP_M * (max(1.0, fix.hdop or 3.0) + max(1.0, last.hdop or 3.0))
        if d - slack <= self.max_speed_mps * dt:
            return False
        self.implausible += 1
        self.implausible_total += 1
        self.implausible_detail = (
            f"position {d / 1000:.1f} km from the last one in {dt:.1f} s ({d / dt:.0f} m/s, "
            f"more than the {self.max_speed_mps:.0f} m/s believable): refused"
        )
        return True

    def _filter(self, fix: Fix, last: Fix | None) -> None:
        """One predict/update step of the filter from ``last`` to ``fix`` (None: a fresh start).

        Runs once per fix of every source: plain floats, locals, no numpy.
        """
        # Per-axis position 1σ from the receiver's own 95 % radius, else from HDOP.
        eph = fix.eph_m
        if eph is not None and 0.0 < eph < _INF:
            sh = eph * AXIS_SIGMA_PER_R95
            dop = sh / AXIS_SIGMA_PER_HDOP_M
        else:
            hdop = fix.hdop
            dop = hdop if hdop is not None and 0.0 < hdop < _INF else HDOP_UNKNOWN
            sh = AXIS_SIGMA_PER_HDOP_M * dop
        r = sh * sh
        sog = fix.sog_mps
        cog = fix.cog_deg
        t = fix.t
        if last is None:
            lat, lon = fix.lat, fix.lon
            ph00, ph01 = r, 0.0
            if sog is not None and cog is not None:
                c = cog * _RAD
                ve, vn = sog * _sin(c), sog * _cos(c)
                sv = VELOCITY_SIGMA_MPS + VELOCITY_SIGMA_PER_HDOP_MPS * dop
                ph11 = sv * sv
            else:
                ve = vn = 0.0
                ph11 = _PRIOR_H2
            self._tv = -_INF
        else:
            dt = t - last.t
            ve, vn = self.ve, self.vn
            ph00, ph01, ph11 = self._ph00, self._ph01, self._ph11
            # Predict.
            dt2 = dt * dt
            ph00 += dt * (2.0 * ph01 + dt * ph11) + _QH3 * dt2 * dt
            ph01 += dt * ph11 + _QH2 * dt2
            ph11 += ACCEL_PSD_H * dt
            lat = self._lat + vn * dt * _DEG_PER_M
            c = _cos(lat * _RAD)
            m_lon = M_PER_DEG * (c if c > 1e-6 else 1e-6)  # metres per degree of longitude
            lon = self._lon + ve * dt / m_lon
            # Position: innovation in metres, east and north with the same gains.
            s = ph00 + r
            k0, k1 = ph00 / s, ph01 / s
            yn = (fix.lat - lat) * M_PER_DEG
            dlon = fix.lon - lon
            if dlon > 180.0:  # across the antimeridian
                dlon -= 360.0
            elif dlon < -180.0:
                dlon += 360.0
            ye = dlon * m_lon
            lat += k0 * yn * _DEG_PER_M
            lon += k0 * ye / m_lon
            vn += k1 * yn
            ve += k1 * ye
            ph11 -= k1 * ph01
            ph00 -= k0 * ph00
            ph01 -= k0 * ph01
            # Doppler velocity, when sent. Speed without course (a receiver that blanks the
            # course when slow): the speed along the filter's own direction.
            if sog is not None:
                if cog is not None:
                    c = cog * _RAD
                    me, mn = sog * _sin(c), sog * _cos(c)
                elif sog == 0.0:
                    me = mn = 0.0
                else:
                    sp = _hypot(ve, vn)
                    me, mn = (ve * sog / sp, vn * sog / sp) if sp > 0.0 else (math.nan, math.nan)
                if me == me:  # not NaN
                    sv = VELOCITY_SIGMA_MPS + VELOCITY_SIGMA_PER_HDOP_MPS * dop
                    s = ph11 + sv * sv
                    k0, k1 = ph01 / s, ph11 / s
                    yn, ye = mn - vn, me - ve
                    lat += k0 * yn * _DEG_PER_M
                    lon += k0 * ye / m_lon
                    vn += k1 * yn
                    ve += k1 * ye
                    ph00 -= k0 * ph01
                    ph01 -= k1 * ph01
                    ph11 -= k1 * ph11
            if not -180.0 <= lon < 180.0:
                lon = (lon + 180.0) % 360.0 - 180.0
        self._lat, self._lon = lat, lon
        self.ve, self.vn = ve, vn
        self._ph00, self._ph01, self._ph11 = ph00, ph01, ph11

        alt = fix.alt_m
        if alt is None:
            self.vu = 0.0  # a 2D fix: the vertical filter waits for the next height
            return
        epv = fix.epv_m
        if epv is not None and 0.0 < epv < _INF:
            rz = epv * VERTICAL_SIGMA_PER_EPV
            rz *= rz
        else:
            rz = r * _VZ_FACTOR2
        tv = self._tv
        if t - tv > self.stale_s:  # first height, or none for too long (also after a restart)
            self._alt = alt
            vz = 0.0
            self._pv00, self._pv01, self._pv11 = rz, 0.0, _PRIOR_V2
        else:
            dt = t - tv
            dt2 = dt * dt
            vz = self._vz
            pv00, pv01, pv11 = self._pv00, self._pv01, self._pv11
            pv00 += dt * (2.0 * pv01 + dt * pv11) + _QV3 * dt2 * dt
            pv01 += dt * pv11 + _QV2 * dt2
            pv11 += ACCEL_PSD_V * dt
            z = self._alt + vz * dt
            s = pv00 + rz
            k0, k1 = pv00 / s, pv01 / s
            y = alt - z
            self._alt = z + k0 * y
            vz += k1 * y
            self._pv11 = pv11 - k1 * pv01
            self._pv00 = pv00 - k0 * pv00
            self._pv01 = pv01 - k0 * pv01
        self._tv = t
        self._vz = self.vu = vz

    def state(self, now: float) -> TrackState:
        """The track at clock time ``now``, dead-reckoned by its age up to ``DEAD_RECKON_MAX_S``.

        Dead reckoning starts from the latest fix's position with the filter's velocity;
        latitude is clipped to the pole, longitude wrapped. A lost track (age over
        ``stale_s``) keeps moving for up to a minute, then stays.
        """
        fix = self.last
        if fix is None:
            raise ValueError(f"track {self.source} has no fix yet")
        age = max(0.0, now - self.last_clock)
        dt = min(age, DEAD_RECKON_MAX_S)
        lat = min(max(fix.lat + self.vn * dt / M_PER_DEG, -90.0), 90.0)
        lon = fix.lon + self.ve * dt / (M_PER_DEG * max(math.cos(math.radians(fix.lat)), 1e-6))
        alt = None if fix.alt_m is None else fix.alt_m + self.vu * dt
        return TrackState(
            source=self.source,
            t=now,
            lat=lat,
            lon=(lon + 180.0) % 360.0 - 180.0,
            alt_m=alt,
            ve=self.ve,
            vn=self.vn,
            vu=self.vu,
            quality=fix.quality,
            hdop=fix.hdop,
            age_s=age,
            lost=age > self.stale_s,
        )


class Tracker:
    """All tracks, keyed by source; emits acquired / lost / regained events."""

    def __init__(self, stale_s: float = 5.0, max_speed: Callable[[str], float] | None = None) -> None:
        self.stale_s = stale_s
        self.max_speed = max_speed  # source → fastest believable speed (m/s); None: no limit
        self.tracks: dict[str, Track] = {}

    def update(self, fix: Fix) -> tuple[bool, tuple[TrackEvent, ...]]:
        """Feed one fix; returns (accepted, events)."""
        track = self.tracks.get(fix.source)
        if track is None:
            limit = self.max_speed(fix.source) if self.max_speed is not None else math.inf
            track = self.tracks[fix.source] = Track(fix.source, self.stale_s, max_speed_mps=limit)
            accepted = track.update(fix)
            return accepted, (TrackEvent(clock_time(fix), TrackEventType.ACQUIRED, fix.source),)
        if track.lost and clock_time(fix) < track.lost_at:
            # Received before the loss, delivered after it (an epoch left incomplete when the
            # source went silent, flushed at shutdown): old news, not a regained track.
            track.stale_after_loss += 1
            return False, ()
        was_implausible = track.implausible
        accepted = track.update(fix)
        if not accepted and track.implausible == 1 and not was_implausible:
            return False, (
                TrackEvent(clock_time(fix), TrackEventType.IMPLAUSIBLE, fix.source, track.implausible_detail),
            )
        if accepted and track.lost:
            track.lost = False
            return accepted, (TrackEvent(clock_time(fix), TrackEventType.REGAINED, fix.source),)
        return accepted, ()

    def check(self, now: float) -> list[TrackEvent]:
        """Mark tracks that have not updated for ``stale_s`` as lost (once each)."""
        events = []
        for track in self.tracks.values():
            if not track.lost and now - track.last_clock > self.stale_s:
                track.lost = True
                track.lost_at = now
                events.append(TrackEvent(now, TrackEventType.LOST, track.source))
        return events

    def states(self, now: float) -> list[TrackState]:
        """Every track's state at ``now`` (lost ones included, flagged)."""
        return [t.state(now) for t in self.tracks.values() if t.last is not None]
