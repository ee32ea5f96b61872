"""Per-source tracks: the latest fix, a velocity estimate, and whether the track is lost.

Time has two meanings here. Velocities come from fix times (GPS time, precise).
Ageing uses the *clock* time: the receive time of a fix when known (TAG block
``c:`` or the host clock), else its fix time — so a recording made last year and
replayed live ages by the host clock, not by its old GPS timestamps.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

from sepmon.core.model import Fix, TrackState

# Spherical metres per degree: good to 0.5 % over the few hundred metres a
# velocity window spans, which is far below GPS noise.
M_PER_DEG = 6_371_008.8 * math.pi / 180.0
# One-sigma horizontal position error per unit HDOP (a typical single-frequency UERE).
SIGMA_H_PER_HDOP_M = 2.5
SIGMA_V_PER_HDOP_M = 3.75


def speed_noise_floor_mps(hdop: float | None) -> float:
    """Doppler speed below which a receiver standing still cannot be told from one moving.

    Receivers at rest report a few tenths of a knot with random course; 0.5 m/s at
    HDOP 1, growing with HDOP, keeps that from becoming a predicted conflict.
    """
    return 0.3 * max(1.0, hdop if hdop is not None else 3.0) + 0.2


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
    """One source's recent fixes and derived motion."""

    def __init__(
        self, source: str, stale_s: float = 5.0, window_s: float = 4.0, max_speed_mps: float = math.inf
    ) -> None:
        self.source = source
        self.stale_s = stale_s
        self.window_s = window_s
        self.max_speed_mps = max_speed_mps
        self.history: deque[Fix] = deque()
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

    def update(self, fix: Fix) -> bool:
        """Take a fix; False when it is a duplicate or older than what we have."""
        last = self.last
        clock = fix.rx_t if fix.rx_t is not None else fix.t  # clock_time(fix), inline: once per fix
        history = self.history
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
                history.clear()
            elif fix.t - last.t > self.stale_s:
                history.clear()  # no velocity across a gap
            if self._impossible(last, fix, clock):
                return False
            self.implausible = 0
        history.append(fix)
        while len(history) > 2 and fix.t - history[1].t >= self.window_s:
            history.popleft()
        self.last = fix
        self.last_clock = clock
        self._estimate_velocity()
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

    def _estimate_velocity(self) -> None:
        fix = self.history[-1]
        first = self.history[0]
        dt = fix.t - first.t
        if fix.sog_mps is not None and fix.cog_deg is not None:
            speed = fix.sog_mps if fix.sog_mps >= speed_noise_floor_mps(fix.hdop) else 0.0
            c = math.radians(fix.cog_deg)
            self.ve, self.vn = speed * math.sin(c), speed * math.cos(c)
        elif dt > 0.5:
            cos_lat = max(math.cos(math.radians(fix.lat)), 1e-6)
            ve = (fix.lon - first.lon) * M_PER_DEG * cos_lat / dt
            vn = (fix.lat - first.lat) * M_PER_DEG / dt
            # Two noisy positions: three sigma of their difference over dt.
            sigma = SIGMA_H_PER_HDOP_M * max(1.0, fix.hdop or 3.0)
            floor = max(3.0 * sigma * math.sqrt(2.0) / dt, speed_noise_floor_mps(fix.hdop))
            if fix.sog_mps is not None:  # speed without course (VTG with empty track)
                speed = math.hypot(ve, vn)
                if speed > 0 and fix.sog_mps >= speed_noise_floor_mps(fix.hdop):
                    ve, vn = ve * fix.sog_mps / speed, vn * fix.sog_mps / speed
                    floor = 0.0
            self.ve, self.vn = (ve, vn) if math.hypot(ve, vn) >= floor else (0.0, 0.0)
        else:
            self.ve = self.vn = 0.0
        if fix.alt_m is not None and first.alt_m is not None and dt > 0.5:
            vu = (fix.alt_m - first.alt_m) / dt
            sigma_v = SIGMA_V_PER_HDOP_M * max(1.0, fix.hdop or 3.0)
            self.vu = vu if abs(vu) >= 3.0 * sigma_v * math.sqrt(2.0) / dt else 0.0
        else:
            self.vu = 0.0

    def state(self, now: float) -> TrackState:
        """The track at clock time ``now``, dead-reckoned by at most ``stale_s``."""
        fix = self.last
        if fix is None:
            raise ValueError(f"track {self.source} has no fix yet")
        age = max(0.0, now - self.last_clock)
        dt = min(age, self.stale_s)
        lat = fix.lat + self.vn * dt / M_PER_DEG
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
