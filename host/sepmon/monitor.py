"""The monitor: fixes in, events out. Ties tracker, separation core and hysteresis together.

Pure and clock-free: the caller says what time it is, so the offline ``analyze``
and the live daemon run exactly the same code.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from sepmon.alerting import AlertHysteresis
from sepmon.config import Config, SeparationRule
from sepmon.events import Event
from sepmon.model import Fix, Level, TrackState
from sepmon.separation import TrackArrays, evaluate_pairs
from sepmon.track import Tracker, TrackEvent, clock_time


@dataclass
class PairStatus:
    """What is known about one configured pair right now (names sorted: a < b)."""

    a: str
    b: str
    t: float = math.nan
    level: Level = Level.NONE
    raw_level: Level = Level.NONE
    range_m: float = math.nan
    vertical_m: float = math.nan
    bearing_deg: float = math.nan  # from a to b
    tcpa_s: float | None = None
    cpa_m: float = math.nan
    lost: bool = False
    min_range_m: float = math.inf
    max_level: Level = Level.NONE

    def event(self, t: float, prev: Level) -> Event:
        """The ``level`` event for a change from ``prev`` to the current level."""
        return Event(
            t=t,
            type="level",
            a=self.a,
            b=self.b,
            level=int(self.level),
            prev_level=int(prev),
            range_m=self.range_m,
            vertical_m=self.vertical_m,
            bearing_deg=self.bearing_deg,
            tcpa_s=self.tcpa_s,
            cpa_m=self.cpa_m,
            lost=self.lost,
        )


@dataclass(frozen=True, slots=True)
class Threat:
    """The most urgent pair a source is part of, seen from that source.

    ``own_unknown``: the host has no current position for ``source`` itself (never
    acquired, or lost). ``traffic_lost``: a counterpart near enough to matter (an
    alerting pair, or within the advisory ring) is lost. Either means the board
    must not look clear, whatever ``level`` says.
    """

    level: Level
    other: str | None
    bearing_deg: float
    range_m: float
    lost: bool
    own_unknown: bool = False
    traffic_lost: bool = False


def _track_event(e: TrackEvent) -> Event:
    return Event(t=e.t, type=str(e.type), a=e.source)


class Monitor:
    """Fixes in (any order of sources), events out; holds every pair's status."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self.tracker = Tracker(config.stale_s)
        self.hysteresis = AlertHysteresis(config.hold_s)
        self.pairs: dict[tuple[str, str], PairStatus] = {}
        self.now = -math.inf
        # Rule of each pair of sources seen so far (the config does not change under us).
        self._rules: dict[tuple[str, str], SeparationRule] = {}
        self._dirty: set[str] = set()  # sources with a fix not yet evaluated

    def _rule(self, a: str, b: str) -> SeparationRule:
        rule = self._rules.get((a, b))
        if rule is None:
            rule = self._rules[(a, b)] = self.config.rule_for(a, b)
        return rule

    def on_fix(self, fix: Fix, evaluate: bool = True) -> list[Event]:
        """Take one fix and (unless ``evaluate`` is False) re-evaluate the pairs its source is part of.

        Callers holding several fixes at once (a chunk read from a port, a batch of a
        recording) pass ``evaluate=False`` and call :meth:`evaluate` after the last:
        the pairs are then evaluated once for all of them.
        """
        source = self.config.canonical(fix.source)
        if source != fix.source:
            fix = replace(fix, source=source)
        now = max(self.now, clock_time(fix))
        self.now = now
        accepted, tevents = self.tracker.update(fix)
        events = [_track_event(e) for e in tevents]
        if accepted:
            self._dirty.add(source)
            if evaluate:
                events.extend(self.evaluate())
        return events

    def evaluate(self) -> list[Event]:
        """Evaluate the pairs of every source that has a new fix since the last evaluation."""
        if not self._dirty:
            return []
        dirty, self._dirty = self._dirty, set()
        return self._evaluate(self.now, only=dirty)

    def tick(self, now: float) -> list[Event]:
        """Advance the clock: mark stale tracks lost and let levels decay after their hold."""
        self.now = max(self.now, now)
        events = [_track_event(e) for e in self.tracker.check(self.now)]
        self._dirty.clear()
        events.extend(self._evaluate(self.now, only=None))
        return events

    def _pair_indices(self, states: list[TrackState], only: set[str] | None) -> list[tuple[int, int]]:
        """Index pairs (i < j) of the states to check, in (i, j) order; only those touching ``only``."""
        n = len(states)
        names = [s.source for s in states]
        rule = self._rule
        if only is None:
            return [(i, j) for i in range(n) for j in range(i + 1, n) if rule(names[i], names[j]).check]
        mine = [k for k, name in enumerate(names) if name in only]
        if len(mine) == 1:  # the common case, O(n)
            k = mine[0]
            me = names[k]
            return [(i, k) for i in range(k) if rule(names[i], me).check] + [
                (k, j) for j in range(k + 1, n) if rule(me, names[j]).check
            ]
        touched = set(mine)
        return [
            (i, j)
            for i in range(n)
            for j in range(i + 1, n)
            if (i in touched or j in touched) and rule(names[i], names[j]).check
        ]

    def _evaluate(self, now: float, only: set[str] | None) -> list[Event]:
        states = sorted(self.tracker.states(now), key=lambda s: s.source)
        pairs = self._pair_indices(states, only)
        if not pairs:
            return []
        ia = np.fromiter((p[0] for p in pairs), dtype=np.intp, count=len(pairs))
        ib = np.fromiter((p[1] for p in pairs), dtype=np.intp, count=len(pairs))
        rules = [self._rule(states[i].source, states[j].source) for i, j in pairs]
        first = rules[0]
        if all(r is first for r in rules):  # one class for every pair: scalars broadcast
            minima: dict[str, Any] = {
                "h_min": first.horizontal_m,
                "v_min": first.vertical_m,
                "warn_s": first.warning_s,
                "caution_s": first.caution_s,
                "advisory_s": first.advisory_s,
                "caution_factor": first.caution_factor,
                "advisory_factor": first.advisory_factor,
            }
        else:
            minima = {
                "h_min": np.array([r.horizontal_m for r in rules]),
                "v_min": np.array([r.vertical_m for r in rules]),
                "warn_s": np.array([r.warning_s for r in rules]),
                "caution_s": np.array([r.caution_s for r in rules]),
                "advisory_s": np.array([r.advisory_s for r in rules]),
                "caution_factor": np.array([r.caution_factor for r in rules]),
                "advisory_factor": np.array([r.advisory_factor for r in rules]),
            }
        res = evaluate_pairs(TrackArrays.from_states(states), ia, ib, **minima)
        # Python floats once per column: indexing numpy arrays element by element is slow.
        lost_c = res.lost.tolist()
        range_c = res.range_m.tolist()
        vert_c = res.vertical_m.tolist()
        bearing_c = res.bearing_deg.tolist()
        tcpa_c = res.tcpa_s.tolist()
        cpa_c = res.cpa_h_m.tolist()
        level_c = res.level.tolist()
        events = []
        for k, (i, j) in enumerate(pairs):
            key = (states[i].source, states[j].source)
            st = self.pairs.get(key)
            if st is None:
                st = self.pairs[key] = PairStatus(*key)
            prev = st.level
            st.lost = lost_c[k]
            st.t = now
            st.range_m = range_c[k]
            st.vertical_m = vert_c[k]
            st.bearing_deg = bearing_c[k]
            tcpa = tcpa_c[k]
            st.tcpa_s = tcpa if math.isfinite(tcpa) else None
            st.cpa_m = cpa_c[k]
            st.raw_level = Level(level_c[k])
            if not st.lost:
                # While a side is lost its level is held, never decayed: a lost track is not clear.
                st.level = self.hysteresis.update(key, st.raw_level, now)
                st.min_range_m = min(st.min_range_m, st.range_m)
                st.max_level = max(st.max_level, st.level)
            if st.level != prev:
                events.append(st.event(now, prev))
        return events

    def threat_for(self, source: str) -> Threat:
        """The highest-level pair that ``source`` is part of (ties: the nearer)."""
        best: Threat | None = None
        traffic_lost = False
        for (a, b), st in self.pairs.items():
            if source not in (a, b):
                continue
            other = b if source == a else a
            bearing = st.bearing_deg if source == a else (st.bearing_deg + 180.0) % 360.0
            if st.lost and self._other_lost(other) and self._matters(st):
                traffic_lost = True
            cand = Threat(st.level, other, bearing, st.range_m, st.lost)
            if best is None or (cand.level, -cand.range_m) > (best.level, -best.range_m):
                best = cand
        track = self.tracker.tracks.get(self.config.canonical(source))
        own_unknown = track is None or track.lost or track.last is None
        base = best or Threat(Level.NONE, None, math.nan, math.nan, False)
        return replace(base, own_unknown=own_unknown, traffic_lost=traffic_lost)

    def _other_lost(self, other: str) -> bool:
        track = self.tracker.tracks.get(other)
        return track is None or track.lost

    def _matters(self, st: PairStatus) -> bool:
        """A lost counterpart matters when its pair alerts or it was last seen inside the advisory ring."""
        if st.level > Level.NONE:
            return True
        rule = self.config.rule_for(st.a, st.b)
        return bool(st.range_m <= rule.horizontal_m * rule.advisory_factor)

    def states(self) -> Iterable[TrackState]:
        """Current state of every track at the monitor's clock."""
        return self.tracker.states(self.now)
