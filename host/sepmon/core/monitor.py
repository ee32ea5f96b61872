"""The monitor: fixes in, events out. Ties tracker, separation core and the Alerter together.

Pure and clock-free: the caller says what time it is, so the offline ``analyze``
and the live daemon run exactly the same code.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, NamedTuple

import numpy as np
import numpy.typing as npt

from sepmon.core.alerter import Alerter, Confirmation, ConfirmationTable
from sepmon.core.config import Config, SeparationRule
from sepmon.core.model import Event, Fix, Level, PairStatus, Threat, TrackState
from sepmon.core.separation import UERE_M, PairResult, TrackArrays, evaluate_pairs
from sepmon.core.track import (
    AXIS_SIGMA_PER_R95,
    DEAD_RECKON_MAX_S,
    VERTICAL_SIGMA_PER_EPV,
    Track,
    Tracker,
    TrackEvent,
)
from sepmon.core.track import M_PER_DEG as _M_PER_DEG

_COLUMNS = (
    "lat",
    "lon",
    "alt",
    "ve",
    "vn",
    "vu",
    "hdop",
    "quality",
    "clock",
    "sigma_v",
    "sigma_vh",
    "sigma_vu",
)
_LAT, _LON, _ALT, _VE, _VN, _VU, _HDOP, _QUALITY, _CLOCK, _SIGMA_V, _SIGMA_VH, _SIGMA_VU = range(
    len(_COLUMNS)
)
_MAX_LEVELS = max(int(x) for x in Level)
# Pairs of the layout up to which each row's pairs are kept once selected (about twice the
# layout's own index memory at most: 8 MB here).
_ROW_CACHE_PAIRS = 131_072
LOST_TRAFFIC_RINGS = 2.0
"""A lost counterpart last seen within this many times its pair's outermost DTHR leaves the
other board "degraded" (it could come close unseen)."""
# A receiver's own horizontal error estimate (Fix.eph_m, a ~95 % radius) as the HDOP that
# gives the same error: DRMS = UERE · HDOP = √2 × the per-axis sigma the track filter takes
# from eph (track.AXIS_SIGMA_PER_R95). It wins over HDOP, and over "unknown" (HDOP 10).
_HDOP_PER_EPH_M = math.sqrt(2.0) * AXIS_SIGMA_PER_R95 / UERE_M


def _track_event(e: TrackEvent) -> Event:
    return Event(t=e.t, type=str(e.type), a=e.source, detail=e.detail)


@dataclass(frozen=True, eq=False)
class _Layout:
    """Every checked pair of the current tracks as index columns, in (i, j) order, i < j.

    Rebuilt only when a track appears (rows are the sorted source names), so an
    evaluation selects its pairs with two numpy gathers instead of a Python loop
    over pairs and a rule lookup per pair.
    """

    ia: npt.NDArray[np.intp]
    ib: npt.NDArray[np.intp]
    pid: npt.NDArray[np.intp]  # row in the pair table
    aid: npt.NDArray[np.intp]  # each pair's alerter, an index into Monitor._alerters
    reach: dict[str, Any]  # evaluate_pairs' near_m/near_s: scalars, or one value per pair
    per_pair: bool  # several alerters: reach is per-pair arrays
    # The pairs of one row (ia, ib, pid, aid, reach), made when first asked: live, an
    # evaluation mostly follows one source's fix.
    of_row: dict[int, tuple[Any, ...]] = field(default_factory=dict)

    def pairs_of(self, rows: npt.NDArray[np.bool_] | int) -> tuple[Any, ...]:
        """(ia, ib, pid, aid, reach) of the pairs touching ``rows`` (a mask, or one row)."""
        if isinstance(rows, int):
            got = self.of_row.get(rows)
            if got is not None:
                return got
            sel = np.flatnonzero((self.ia == rows) | (self.ib == rows))
        else:
            sel = np.flatnonzero(rows[self.ia] | rows[self.ib])
        ia, ib, pid, aid, reach = self.ia, self.ib, self.pid, self.aid, self.reach
        if sel.size < ia.size:
            ia, ib, pid, aid = ia[sel], ib[sel], pid[sel], aid[sel]
            if self.per_pair:
                reach = {k: v[sel] for k, v in reach.items()}
        got = (ia, ib, pid, aid, reach)
        if isinstance(rows, int) and self.ia.size <= _ROW_CACHE_PAIRS:
            self.of_row[rows] = got
        return got


class _Snapshot(NamedTuple):
    """An evaluation queued at clock ``now``: the track data then, and the rows whose pairs to evaluate.

    (A named tuple: one is made per live evaluation, a frozen dataclass costs more to make.)
    """

    now: float
    layout: _Layout
    data: npt.NDArray[np.float64]  # Monitor._data then (a copy when the evaluation is deferred)
    rows: npt.NDArray[np.bool_] | int | None  # None: every pair; an int: one row's


def _join_reach(parts: list[dict[str, Any]], counts: list[int]) -> dict[str, Any]:
    """Reach of several snapshots' pairs, end to end: scalars when they all agree."""
    used = [(m, c) for m, c in zip(parts, counts, strict=True) if c]
    first = used[0][0]
    if all(m is first for m, _ in used) and not any(isinstance(v, np.ndarray) for v in first.values()):
        return first
    return {
        kw: np.concatenate([np.broadcast_to(np.asarray(m[kw], dtype=np.float64), (c,)) for m, c in used])
        for kw in first
    }


_STACKED: dict[tuple[int, ...], tuple[str, ...]] = {}


def _stacked_names(sizes: list[int]) -> tuple[str, ...]:
    """Distinct row names for several snapshots' columns side by side (cached by their sizes).

    ``TrackArrays`` wants one name per row; rows here are positions, not sources.
    """
    key = tuple(sizes)
    names = _STACKED.get(key)
    if names is None:
        names = tuple(f"{k}:{i}" for k, n in enumerate(sizes) for i in range(n))
        if len(_STACKED) >= 64:
            _STACKED.clear()
        _STACKED[key] = names
    return names


class _PairTable:
    """Every pair's state as numpy columns, one row per pair id.

    ``level`` is the level shown: the Alerter's confirmed level (``sepmon.core.alerter``'s
    ConfirmationTable, one per confirmation rule), except that a pair with a lost side
    never shows a lower level than it did (it may rise: stale evidence of danger is still
    evidence, and a lost pair is never shown clear).
    """

    t: npt.NDArray[np.float64]
    range_m: npt.NDArray[np.float64]
    vertical_m: npt.NDArray[np.float64]
    bearing_deg: npt.NDArray[np.float64]
    tcpa_s: npt.NDArray[np.float64]
    cpa_m: npt.NDArray[np.float64]
    t_violation_s: npt.NDArray[np.float64]
    min_range_m: npt.NDArray[np.float64]
    level: npt.NDArray[np.int8]
    raw_level: npt.NDArray[np.int8]
    max_level: npt.NDArray[np.int8]
    lost: npt.NDArray[np.bool_]
    near: npt.NDArray[np.bool_]  # within its alerter's reach at the last evaluation
    bucket: npt.NDArray[np.float64]  # the whole second of the pair's last report ...
    bucket_raw: npt.NDArray[np.int8]  # ... and the highest instantaneous level within it

    def __init__(self) -> None:
        self.keys: list[tuple[str, str]] = []
        self.ids: dict[tuple[str, str], int] = {}
        self._alloc(64)

    def _alloc(self, cap: int) -> None:
        def grow(name: str, fill: float | bool, dtype: type[np.generic], shape: tuple[int, ...] = ()) -> None:
            new = np.full((cap, *shape), fill, dtype=dtype)
            old = getattr(self, name, None)
            if old is not None:
                new[: len(old)] = old
            setattr(self, name, new)

        for name in ("t", "range_m", "vertical_m", "bearing_deg", "tcpa_s", "cpa_m", "t_violation_s"):
            grow(name, math.nan, np.float64)
        grow("min_range_m", math.inf, np.float64)
        grow("level", 0, np.int8)
        grow("raw_level", 0, np.int8)
        grow("max_level", 0, np.int8)
        grow("lost", False, np.bool_)
        grow("near", False, np.bool_)
        grow("bucket", math.nan, np.float64)
        grow("bucket_raw", 0, np.int8)
        self.cap = cap

    def ids_of(self, keys: list[tuple[str, str]]) -> npt.NDArray[np.intp]:
        """Pair ids of ``keys``, new pairs added."""
        ids = self.ids
        out = np.empty(len(keys), dtype=np.intp)
        for k, key in enumerate(keys):
            pid = ids.get(key)
            if pid is None:
                pid = ids[key] = len(self.keys)
                self.keys.append(key)
                if pid >= self.cap:
                    self._alloc(self.cap * 2)
            out[k] = pid
        return out

    def status(self, pid: int) -> PairStatus:
        """One pair as a ``PairStatus``."""
        tcpa = float(self.tcpa_s[pid])
        tv = float(self.t_violation_s[pid])
        return PairStatus(
            *self.keys[pid],
            t=float(self.t[pid]),
            level=Level(int(self.level[pid])),
            raw_level=Level(int(self.raw_level[pid])),
            range_m=float(self.range_m[pid]),
            vertical_m=float(self.vertical_m[pid]),
            bearing_deg=float(self.bearing_deg[pid]),
            tcpa_s=tcpa if math.isfinite(tcpa) else None,
            cpa_m=float(self.cpa_m[pid]),
            lost=bool(self.lost[pid]),
            min_range_m=float(self.min_range_m[pid]),
            max_level=Level(int(self.max_level[pid])),
            t_violation_s=tv if math.isfinite(tv) else None,
        )


class Monitor:
    """Fixes in (any order of sources), events out; holds every pair's status."""

    def __init__(self, config: Config, *, defer: bool = False, report_s: float = 1.0) -> None:
        self.config = config
        # The confirmation's report period in the monitor's clock: one second, DAIDALUS's
        # 1 Hz. A replay at N times real speed passes 1/N, so M of N still counts recorded
        # seconds (the demo does).
        if not (math.isfinite(report_s) and report_s > 0):
            raise ValueError(f"report_s must be > 0, got {report_s!r}")
        self.report_s = report_s
        # defer: calls queue their evaluations and return no events; flush() runs them
        # all in one numpy pass and returns the events. For offline runs (analyze).
        self.defer = defer
        self._queue: list[list[Event] | _Snapshot] = []
        self.tracker = Tracker(config.stale_s, config.max_speed_of)
        self._table = _PairTable()
        # The alerters of the pair classes seen so far, and one confirmation table per rule.
        self._alerters: list[Alerter] = []
        self._alerter_ids: dict[Alerter, int] = {}
        self._confirm: dict[Confirmation, ConfirmationTable] = {}
        self._hold = False  # some alerter holds a shown level by its early alerting time
        self._pairs_cache: dict[tuple[str, str], PairStatus] | None = None
        self._by_source: dict[str, list[tuple[str, str]]] = {}
        self._ids_cache: dict[str, npt.NDArray[np.intp]] = {}
        self.now = -math.inf
        # Rule of each pair of sources seen so far (the config does not change under us).
        self._rules: dict[tuple[str, str], SeparationRule] = {}
        self._dirty: set[str] = set()  # sources with a fix not yet evaluated
        # Every track's latest data as columns (one row per column, one column per
        # track, sorted by name so pairs come out as (a, b) with a < b): an evaluation
        # slices them instead of building a TrackState object per track.
        self._names: list[str] = []
        self._names_t: tuple[str, ...] = ()  # the same, as the tuple TrackArrays takes
        self._row: dict[str, int] = {}
        self._data = np.zeros((len(_COLUMNS), 0), dtype=np.float64)
        self._layout: _Layout | None = None  # pairs of the current rows; None: rebuild

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
        source = fix.source
        if self.config.aliases:
            source = self.config.canonical(source)
            if source != fix.source:
                fix = replace(fix, source=source)
        clock = fix.rx_t if fix.rx_t is not None else fix.t  # clock_time(fix), inline: once per fix
        if clock > self.now:
            self.now = clock
        accepted, tevents = self.tracker.update(fix)
        self._queue_track_events(tevents)
        if accepted:
            self._store(self.tracker.tracks[source])
            self._dirty.add(source)
            if evaluate:
                self._snapshot(self._take_dirty())
        return self._results()

    def evaluate(self) -> list[Event]:
        """Evaluate the pairs of every source that has a new fix since the last evaluation."""
        if self._dirty:
            self._snapshot(self._take_dirty())
        return self._results()

    def check(self, now: float) -> list[Event]:
        """Advance the clock and mark stale tracks lost; only their pairs are re-evaluated.

        Cheap enough for every few hundred milliseconds; :meth:`tick` (all pairs,
        so held levels decay) is for once a second.
        """
        tevents = self._advance(now)
        self._dirty.update(e.source for e in tevents)
        if self._dirty:
            self._snapshot(self._take_dirty())
        return self._results()

    def tick(self, now: float) -> list[Event]:
        """Advance the clock: mark stale tracks lost and let levels decay after their hold."""
        self._advance(now)
        self._dirty.clear()
        self._snapshot(None)
        return self._results()

    def flush(self) -> list[Event]:
        """Run every queued evaluation and return all events since the last call, in order.

        Only needed with ``defer=True``; otherwise every call returns its own events.
        """
        queue, self._queue = self._queue, []
        snaps = [item for item in queue if isinstance(item, _Snapshot)]
        if not snaps:
            return [ev for item in queue if not isinstance(item, _Snapshot) for ev in item]
        per_snap = iter(self._evaluate_snapshots(snaps))
        out: list[Event] = []
        for item in queue:
            out.extend(next(per_snap) if isinstance(item, _Snapshot) else item)
        return out

    def _advance(self, now: float) -> list[TrackEvent]:
        """Move the clock to ``now`` and mark stale tracks lost; their events are queued."""
        self.now = max(self.now, now)
        tevents = self.tracker.check(self.now)
        self._queue_track_events(tevents)
        return tevents

    def _queue_track_events(self, tevents: Sequence[TrackEvent]) -> None:
        if tevents:
            self._queue.append([_track_event(e) for e in tevents])

    def _results(self) -> list[Event]:
        return [] if self.defer else self.flush()

    def _take_dirty(self) -> npt.NDArray[np.bool_] | int:
        """Rows of the sources with news since the last evaluation (and forget them): a mask,
        or the row itself when there is one (live, the usual case)."""
        dirty = self._dirty
        row = self._row
        if len(dirty) == 1:
            k = row.get(next(iter(dirty)))
            if k is not None:
                dirty.clear()
                return k
        rows = np.zeros(len(self._names), dtype=np.bool_)
        rows[[row[s] for s in dirty if s in row]] = True
        dirty.clear()
        return rows

    def _snapshot(self, rows: npt.NDArray[np.bool_] | int | None) -> None:
        """Queue an evaluation at the current clock of the pairs touching ``rows`` (None: all)."""
        if not self._names:
            return
        lay = self._layout
        if lay is None:
            lay = self._layout = self._build_layout()
        # Not deferred, the queue is flushed before this call returns, before the data can
        # change: no copy needed.
        self._queue.append(_Snapshot(self.now, lay, self._data.copy() if self.defer else self._data, rows))

    def _store(self, track: Track) -> None:
        """Write a track's latest fix and motion into its column of the data."""
        fix = track.last
        assert fix is not None
        name = track.source
        k = self._row.get(name)
        if k is None:
            k = self._insert(name)
        nan = math.nan
        self._data[:, k] = (
            fix.lat,
            fix.lon,
            nan if fix.alt_m is None else fix.alt_m,
            track.ve,
            track.vn,
            track.vu,
            (nan if fix.hdop is None else fix.hdop) if fix.eph_m is None else fix.eph_m * _HDOP_PER_EPH_M,
            fix.quality,
            track.last_clock,
            nan if fix.epv_m is None else fix.epv_m * VERTICAL_SIGMA_PER_EPV,
            track.sigma_vh_mps,
            track.sigma_vu_mps,
        )

    def _insert(self, name: str) -> int:
        """A new track: give it its sorted column; the pair layout is rebuilt on next use."""
        k = bisect.bisect_left(self._names, name)
        self._names.insert(k, name)
        self._names_t = tuple(self._names)
        self._row = {n: i for i, n in enumerate(self._names)}
        self._data = np.insert(self._data, k, 0.0, axis=1)
        self._layout = None
        return k

    def _arrays(
        self, data: npt.NDArray[np.float64], now: float | npt.NDArray[np.float64], source: tuple[str, ...]
    ) -> TrackArrays:
        """Tracks of ``data`` (columns as ``_data``) at ``now``, dead-reckoned by their age up
        to ``DEAD_RECKON_MAX_S`` (as ``Track.state`` does); ``now`` may differ per column."""
        lat0, lon0, ve, vn, vu, clock = data[_LAT], data[_LON], data[_VE], data[_VN], data[_VU], data[_CLOCK]
        age = np.maximum(now - clock, 0.0)
        dt = np.minimum(age, DEAD_RECKON_MAX_S)
        cos_lat = np.maximum(np.cos(np.radians(lat0)), 1e-6)
        lon = lon0 + ve * dt / (_M_PER_DEG * cos_lat)
        lat = lat0 + vn * dt / _M_PER_DEG
        np.maximum(lat, -90.0, out=lat)  # np.clip's very loop, without its per-call checks
        np.minimum(lat, 90.0, out=lat)
        return TrackArrays(
            source=source,
            lat=lat,
            lon=(lon + 180.0) % 360.0 - 180.0,
            alt=data[_ALT] + vu * dt,
            ve=ve,
            vn=vn,
            vu=vu,
            hdop=data[_HDOP],
            quality=data[_QUALITY].astype(np.int64),
            age_s=age,
            lost=age > self.config.stale_s,
            sigma_v=data[_SIGMA_V],
            sigma_vh=data[_SIGMA_VH],
            sigma_vu=data[_SIGMA_VU],
        )

    def _build_layout(self) -> _Layout:
        """Every checked pair of the current rows, their pair-table ids and minima.

        The rule of a pair depends only on the groups of its two sources, so rules are
        looked up once per pair of groups and spread over the pairs with numpy.
        """
        names = self._names
        n = len(names)
        group_of = self.config.group_of
        groups = [group_of(name) for name in names]
        group_ids: dict[str, int] = {}
        member: list[str] = []  # one source of each group, to ask the config with
        gidx = np.empty(n, dtype=np.intp)
        for k, (name, g) in enumerate(zip(names, groups, strict=True)):
            if g not in group_ids:
                group_ids[g] = len(member)
                member.append(name)
            gidx[k] = group_ids[g]
        rules: list[SeparationRule] = []
        rule_ids: dict[SeparationRule, int] = {}
        table = np.empty((len(member), len(member)), dtype=np.intp)
        for g1, a in enumerate(member):
            for g2, b in enumerate(member):
                rule = self._rule(a, b) if a < b else self._rule(b, a)
                r = rule_ids.get(rule)
                if r is None:
                    r = rule_ids[rule] = len(rules)
                    rules.append(rule)
                table[g1, g2] = r
        ia, ib = np.triu_indices(n, 1)
        rid = table[gidx[ia], gidx[ib]]
        if not all(r.check for r in rules):
            keep = np.array([r.check for r in rules], dtype=np.bool_)[rid]
            ia, ib, rid = ia[keep], ib[keep], rid[keep]
        ia = ia.astype(np.intp)
        ib = ib.astype(np.intp)
        used = np.unique(rid)
        per_pair = used.size > 1
        alerter_of_rule = np.array([self._alerter_id(r.alerter) for r in rules], dtype=np.intp)
        aid = alerter_of_rule[rid] if rid.size else np.zeros(0, dtype=np.intp)
        per_rule = [self._reach(r.alerter) for r in rules]
        reach: dict[str, Any]
        if per_pair:
            reach = {kw: np.array([m[kw] for m in per_rule])[rid] for kw in per_rule[0]}
        elif used.size:
            reach = per_rule[int(used[0])]
        else:
            reach = {}
        return _Layout(ia, ib, self._pair_ids(ia, ib), aid, reach, per_pair)

    def _alerter_id(self, alerter: Alerter) -> int:
        k = self._alerter_ids.get(alerter)
        if k is None:
            k = self._alerter_ids[alerter] = len(self._alerters)
            self._alerters.append(alerter)
            # Early alerting times beyond the alerting times make the level shown matter.
            self._hold = self._hold or any(
                lv.early_alerting_time_s > lv.alerting_time_s for lv in alerter.levels
            )
            self._confirm.setdefault(alerter.confirmation, ConfirmationTable(alerter.confirmation))
        return k

    @staticmethod
    def _reach(alerter: Alerter) -> dict[str, float]:
        """evaluate_pairs' near_* for ``alerter``: reach_m(speed) = near_m + speed · near_s, and
        what sensor uncertainty mitigation adds per unit of the pair's sigmas."""
        near_m = float(alerter.reach_m(0.0))
        sigma_m, sigma_s = alerter.reach_sigma()
        return {
            "near_m": near_m,
            "near_s": float(alerter.reach_m(1.0)) - near_m,
            "near_sigma_m": sigma_m,
            "near_sigma_s": sigma_s,
        }

    def _pair_ids(self, ia: npt.NDArray[np.intp], ib: npt.NDArray[np.intp]) -> npt.NDArray[np.intp]:
        """Pair-table ids of the index pairs; new pairs are added and indexed by source."""
        names = self._names
        tab = self._table
        n_before = len(tab.keys)
        pid = tab.ids_of([(names[i], names[j]) for i, j in zip(ia.tolist(), ib.tolist(), strict=True)])
        for key in tab.keys[n_before:]:  # new pairs: index them by source for threat_for
            self._by_source.setdefault(key[0], []).append(key)
            self._by_source.setdefault(key[1], []).append(key)
        return pid

    def _evaluate_snapshots(self, snaps: list[_Snapshot]) -> list[list[Event]]:
        """Evaluate queued snapshots in one numpy pass; the level events of each, in order.

        The geometry of every (snapshot, pair) entry is independent, so all of them go
        through ``evaluate_pairs`` at once: its cost is mostly per call, not per pair.
        Hysteresis is sequential, but a pair whose raw level stays the level it shows
        (clear, nearly all pairs nearly always; or a steady alert) keeps it without
        hysteresis: only the other pairs are stepped through snapshot by snapshot.
        """
        ias, ibs, pids, aids, sizes, counts, reach_parts = [], [], [], [], [], [], []
        offset = 0
        for s in snaps:
            lay = s.layout
            if s.rows is None:
                ia, ib, pid, aid, reach = lay.ia, lay.ib, lay.pid, lay.aid, lay.reach
            else:
                ia, ib, pid, aid, reach = lay.pairs_of(s.rows)
            n = s.data.shape[1]
            ias.append(ia + offset if offset else ia)
            ibs.append(ib + offset if offset else ib)
            pids.append(pid)
            aids.append(aid)
            reach_parts.append(reach)
            sizes.append(n)
            counts.append(ia.size)
            offset += n
        if not sum(counts):
            return [[] for _ in snaps]
        nows = np.array([s.now for s in snaps])
        if len(snaps) == 1:
            ia, ib, pid, aid, reach = ias[0], ibs[0], pids[0], aids[0], reach_parts[0]
            tracks = self._arrays(snaps[0].data, snaps[0].now, self._names_t)
        else:
            ia, ib, pid, aid = (
                np.concatenate(ias),
                np.concatenate(ibs),
                np.concatenate(pids),
                np.concatenate(aids),
            )
            reach = _join_reach(reach_parts, counts)
            data = np.concatenate([s.data for s in snaps], axis=1)
            tracks = self._arrays(data, np.repeat(nows, sizes), _stacked_names(sizes))
        res = evaluate_pairs(tracks, ia, ib, confidence=self.config.confidence, **reach)
        ttv = self._times(res, aid)
        tv = self._innermost(ttv, aid)
        # The snapshot of each entry.
        snap = (
            np.zeros(pid.size, dtype=np.intp) if len(snaps) == 1 else np.repeat(np.arange(len(snaps)), counts)
        )
        tab = self._table
        # The latest figures of each pair: its last entry.
        last: slice | npt.NDArray[np.intp]
        if len(snaps) == 1:
            last = slice(None)
            p_last = pid
        else:
            last_of = np.full(tab.cap, -1, dtype=np.intp)
            np.maximum.at(last_of, pid, np.arange(pid.size))
            p_last = np.flatnonzero(last_of >= 0)
            last = last_of[p_last]
        tab.t[p_last] = nows[0] if len(snaps) == 1 else nows[snap[last]]
        tab.lost[p_last] = res.lost[last]
        tab.range_m[p_last] = res.range_m[last]
        tab.vertical_m[p_last] = res.vertical_m[last]
        tab.bearing_deg[p_last] = res.bearing_deg[last]
        tab.tcpa_s[p_last] = res.tcpa_s[last]
        tab.cpa_m[p_last] = res.cpa_h_m[last]
        tab.t_violation_s[p_last] = tv[last]
        near = np.zeros(pid.size, dtype=np.bool_)
        near[res.near] = True
        tab.near[p_last] = near[last]
        self._pairs_cache = None
        # The Alerter's confirmation counts one report a second (DAIDALUS's M of N is of
        # 1 Hz reports): evaluations within one whole second replace each other.
        buckets = np.floor(nows / self.report_s)  # (x / 1.0 is x exactly)
        out: list[list[Event]] = [[] for _ in snaps]
        for rule, conf in self._confirm.items():
            if len(self._confirm) == 1:
                e_all = np.arange(pid.size)
            else:
                rule_of = np.array(
                    [self._alerters[a].confirmation == rule for a in range(len(self._alerters))]
                )
                e_all = np.flatnonzero(rule_of[aid])
            if e_all.size:
                self._confirm_entries(conf, e_all, pid, aid, ttv, near, res, snap, buckets, nows, out)
        return out

    def _times(self, res: PairResult, aid: npt.NDArray[np.intp]) -> npt.NDArray[np.float64]:
        """Each entry's time to each level's volume (rows: levels 1..3; inf: none).

        Only the pairs within their alerter's reach (``res.near``) are asked; the others
        can reach no level in the look-ahead.
        """
        ttv = np.empty((_MAX_LEVELS, len(res)))
        ttv.fill(np.inf)
        k = res.near
        if not k.size:
            return ttv
        for alerter, sel in self._groups(aid[k] if len(self._alerters) > 1 else aid):
            rel = res.rel[:, sel]
            ttv[: len(alerter.levels), k[sel]] = alerter.times_to_volume(
                rel[0],
                rel[1],
                rel[2],
                rel[3],
                rel[4],
                rel[5],
                res.margin_h_m[sel],
                res.margin_v_m[sel],
                res.sigma[:, sel] if alerter.sum is not None else None,
            )
        return ttv

    def _innermost(self, ttv: npt.NDArray[np.float64], aid: npt.NDArray[np.intp]) -> npt.NDArray[np.float64]:
        """Each entry's time to its alerter's innermost volume; NaN when none in the look-ahead."""
        if len(self._alerters) == 1:
            inner = ttv[len(self._alerters[0].levels) - 1]
        else:
            inner = ttv[
                np.array([len(a.levels) - 1 for a in self._alerters], dtype=np.intp)[aid], np.arange(aid.size)
            ]
        out: npt.NDArray[np.float64] = np.where(np.isfinite(inner), inner, np.nan)
        return out

    def _groups(self, aid: npt.NDArray[np.intp]) -> list[tuple[Alerter, slice | npt.NDArray[np.intp]]]:
        """The entries of each alerter among ``aid``."""
        if len(self._alerters) == 1:
            return [(self._alerters[0], slice(None))]
        return [(self._alerters[a], np.flatnonzero(aid == a)) for a in np.unique(aid).tolist()]

    def _levels(
        self, ttv: npt.NDArray[np.float64], aid: npt.NDArray[np.intp], shown: npt.NDArray[np.int8]
    ) -> npt.NDArray[np.int8]:
        """Instantaneous levels of entries from their times to volume and the level each showed."""
        raw = np.zeros(ttv.shape[1], dtype=np.int8)
        for alerter, sel in self._groups(aid):
            raw[sel] = alerter.levels_from_times(ttv[: len(alerter.levels), sel], shown[sel])
        return raw

    @staticmethod
    def _shown_before(
        conf: ConfirmationTable, p: npt.NDArray[np.intp], bucket: npt.NDArray[np.float64]
    ) -> npt.NDArray[np.int8]:
        """The confirmed level of pairs ``p`` at their previous report before ``bucket``."""
        out: npt.NDArray[np.int8] = np.where(
            conf.last_t[p] == bucket, conf.prev_level[p], conf.level[p]
        ).astype(np.int8)
        return out

    def _confirm_entries(
        self,
        conf: ConfirmationTable,
        e_all: npt.NDArray[np.intp],
        pid: npt.NDArray[np.intp],
        aid: npt.NDArray[np.intp],
        ttv: npt.NDArray[np.float64],
        near: npt.NDArray[np.bool_],
        res: PairResult,
        snap: npt.NDArray[np.intp],
        buckets: npt.NDArray[np.float64],
        nows: npt.NDArray[np.float64],
        out: list[list[Event]],
    ) -> None:
        """Step entries ``e_all`` (of one confirmation rule) through ``conf``; level events into ``out``.

        Confirmation is sequential, but a report that changes nothing but the times
        (:meth:`ConfirmationTable.steady`: clear, nearly all pairs nearly always, or a steady
        alert) is only touched; a pair with any other report in the batch is stepped
        through snapshot by snapshot.

        A report within the second of the pair's last one stands for that second: the
        highest level seen in it counts (a later look within the same second that sees less
        does not take back what an earlier one saw, so the shown level cannot flicker).
        """
        tab = self._table
        conf.reserve(tab.cap)
        # Every entry (one confirmation rule, e_all = 0, 1, ...): the columns as they are.
        every = e_all.size == pid.size
        p_all = pid if every else pid[e_all]
        b_all = buckets[snap] if every else buckets[snap[e_all]]
        # As of the batch's start (what a pair whose reports are all steady keeps throughout).
        # Only the pairs within reach can have a level: the others' times are all inf.
        inst = np.zeros(ttv.shape[1], dtype=np.int8)
        en = res.near if every else e_all[near[e_all]]  # (res.near: the entries of ``near``, in order)
        if en.size:
            inst[en] = self._levels(ttv[:, en], aid[en], self._shown_before(conf, pid[en], buckets[snap[en]]))
        r_all = inst if every else inst[e_all]
        same = b_all == tab.bucket[p_all]
        if same.any():
            r_all = np.where(same, np.maximum(r_all, tab.bucket_raw[p_all]), r_all).astype(np.int8)
        steady = conf.steady(p_all, r_all) & (tab.level[p_all] == r_all)
        one = len(nows) == 1  # one snapshot: each pair once, no "last entry" to find
        all_steady = bool(steady.all())
        if not all_steady and not one:
            flag = np.zeros(tab.cap, dtype=np.bool_)
            flag[p_all[~steady]] = True
            steady &= ~flag[p_all]
        if all_steady or steady.any():  # the level stays; only the report times and the closest range move
            if all_steady:  # (the usual case: no gathers)
                es, ps, rs, bs = e_all, p_all, r_all, b_all
            else:
                es = e_all[steady]
                ps = pid[es]
                rs, bs = r_all[steady], b_all[steady]
            if one:
                conf.touch(ps, bs)
                tab.min_range_m[ps] = np.minimum(tab.min_range_m[ps], res.range_m[es])
                tab.bucket[ps] = bs
                tab.bucket_raw[ps] = rs
                tab.raw_level[ps] = rs
            else:
                last_of = np.full(tab.cap, -1, dtype=np.intp)
                np.maximum.at(last_of, ps, np.arange(ps.size))
                p_last = np.flatnonzero(last_of >= 0)
                last = last_of[p_last]
                conf.touch(p_last, bs[last])
                np.minimum.at(tab.min_range_m, ps, res.range_m[es])
                tab.bucket[p_last] = bs[last]
                tab.bucket_raw[p_last] = rs[last]
                tab.raw_level[p_last] = rs[last]
        if all_steady:
            return
        moves = ~steady
        act = e_all[moves]
        if not act.size:
            return
        if one:
            # One snapshot: each pair's report is the one worked out above, from the state its
            # pair had before this batch (the steady pairs touched since are other pairs).
            self._report(
                conf, res, act, pid[act], r_all[moves], same[moves], float(buckets[0]), float(nows[0]), out[0]
            )
            return
        bounds = np.searchsorted(snap[act], np.arange(len(nows) + 1))
        for k in range(len(nows)):
            e = act[bounds[k] : bounds[k + 1]]
            if not e.size:
                continue
            p = pid[e]
            b = float(buckets[k])
            if self._hold:  # the level shown may change what is seen: take it step by step
                raw = self._levels(ttv[:, e], aid[e], self._shown_before(conf, p, np.full(p.size, b)))
            else:
                raw = inst[e]
            same_k = tab.bucket[p] == b
            raw = np.where(same_k, np.maximum(raw, tab.bucket_raw[p]), raw).astype(np.int8)
            self._report(conf, res, e, p, raw, same_k, b, float(nows[k]), out[k])

    def _report(
        self,
        conf: ConfirmationTable,
        res: PairResult,
        e: npt.NDArray[np.intp],
        p: npt.NDArray[np.intp],
        raw: npt.NDArray[np.int8],
        same: npt.NDArray[np.bool_],
        b: float,
        now: float,
        out: list[Event],
    ) -> None:
        """Entries ``e`` (pairs ``p``, distinct) report levels ``raw`` in second ``b`` (``same``: the
        second of their last report) at clock ``now``; their level events go to ``out``."""
        tab = self._table
        tab.min_range_m[p] = np.minimum(tab.min_range_m[p], res.range_m[e])
        # Another look within the second that sees no more than the last one: the same
        # report again, so nothing changes (the shown level included, unless a side came back).
        again = same & (raw == tab.bucket_raw[p]) & ((tab.level[p] == conf.level[p]) | res.lost[e])
        if again.any():
            keep = ~again
            e, p, raw = e[keep], p[keep], raw[keep]
            if not e.size:
                return
        prev = tab.level[p]  # fancy indexing: a copy
        confirmed = conf.update(p, raw, b, trusted=True)
        tab.bucket[p] = b
        tab.bucket_raw[p] = raw
        lost = res.lost[e]
        shown = np.where(lost, np.maximum(confirmed, prev), confirmed).astype(np.int8)
        tab.level[p] = shown
        tab.raw_level[p] = raw
        tab.max_level[p] = np.maximum(tab.max_level[p], shown)
        changed = np.flatnonzero(shown != prev)
        out.extend(self._level_event(res, int(e[c]), int(p[c]), now, int(prev[c])) for c in changed)

    def _level_event(self, res: PairResult, k: int, pid: int, now: float, prev: int) -> Event:
        """The ``level`` event of entry ``k`` of ``res`` (pair ``pid``), whose level was ``prev``."""
        tab = self._table
        a, b = tab.keys[pid]
        tcpa = float(res.tcpa_s[k])
        return Event(
            t=now,
            type="level",
            a=a,
            b=b,
            level=int(tab.level[pid]),
            prev_level=prev,
            range_m=float(res.range_m[k]),
            vertical_m=float(res.vertical_m[k]),
            bearing_deg=float(res.bearing_deg[k]),
            tcpa_s=tcpa if math.isfinite(tcpa) else None,
            cpa_m=float(res.cpa_h_m[k]),
            lost=bool(res.lost[k]),
        )

    def pairs_at_least(self, level: Level) -> list[PairStatus]:
        """The status of every pair showing at least ``level``, in the order of :attr:`pairs`.

        Read from the columns: no record is made for the other pairs (the web view asks
        for the alerting pairs several times a second).
        """
        tab = self._table
        ids = np.flatnonzero(tab.level[: len(tab.keys)] >= int(level))
        return [tab.status(int(pid)) for pid in ids.tolist()]

    @property
    def pairs(self) -> dict[tuple[str, str], PairStatus]:
        """Every evaluated pair's status (a snapshot, rebuilt after each evaluation)."""
        if self._pairs_cache is None:
            tab = self._table
            self._pairs_cache = {key: tab.status(pid) for pid, key in enumerate(tab.keys)}
        return self._pairs_cache

    def threat_for(self, source: str) -> Threat:
        """The highest-level pair that ``source`` is part of (ties: the nearer).

        Read straight from the pair columns: it runs for every board on every
        alert, so it must not build a ``PairStatus`` per pair.
        """
        tab = self._table
        idx = self._source_ids(source)
        best: Threat | None = None
        traffic_lost = False
        if idx.size:
            level, rng = tab.level[idx], tab.range_m[idx]
            # Highest level first, then the nearest: one key, one argmax.
            k = int(np.argmax(level * 1e9 - np.fmin(rng, 1e8)))  # fmin: a NaN range counts as far
            pid = int(idx[k])
            a, b = tab.keys[pid]
            bearing = float(tab.bearing_deg[pid])
            best = Threat(
                Level(int(level[k])),
                b if source == a else a,
                bearing if source == a else (bearing + 180.0) % 360.0,
                float(rng[k]),
                bool(tab.lost[pid]),
            )
            lost = tab.lost[idx]
            if lost.any():  # rare: only pairs with a lost side
                for m in np.flatnonzero(lost).tolist():
                    a, b = tab.keys[int(idx[m])]
                    other = b if source == a else a
                    if self._other_lost(other) and self._matters(int(idx[m]), int(level[m])):
                        traffic_lost = True
                        break
        track = self.tracker.tracks.get(self.config.canonical(source))
        own_unknown = track is None or track.lost or track.last is None
        if best is None:
            return Threat(Level.NONE, None, math.nan, math.nan, False, own_unknown, traffic_lost)
        return Threat(
            best.level, best.other, best.bearing_deg, best.range_m, best.lost, own_unknown, traffic_lost
        )

    def _source_ids(self, source: str) -> npt.NDArray[np.intp]:
        """Pair ids of every pair ``source`` is part of (cached until new pairs appear)."""
        cached = self._ids_cache.get(source)
        keys = self._by_source.get(source, ())
        if cached is None or cached.size != len(keys):
            tab = self._table
            cached = self._ids_cache[source] = np.array([tab.ids[k] for k in keys], dtype=np.intp)
        return cached

    def _other_lost(self, other: str) -> bool:
        track = self.tracker.tracks.get(other)
        return track is None or track.lost

    def _matters(self, pid: int, level: int) -> bool:
        """A lost counterpart matters when its pair alerts, was last within its alerter's reach,
        or was last seen within twice the outermost protection radius (sepmon's advisory ring
        before issue 15): a vehicle that close may come within the volume unseen."""
        tab = self._table
        if level > Level.NONE or bool(tab.near[pid]):
            return True
        a, b = tab.keys[pid]
        outer = self._rule(a, b).alerter.levels[0].volume.dthr_m
        return bool(tab.range_m[pid] <= LOST_TRAFFIC_RINGS * outer)

    def states(self) -> Iterable[TrackState]:
        """Current state of every track at the monitor's clock."""
        return self.tracker.states(self.now)
