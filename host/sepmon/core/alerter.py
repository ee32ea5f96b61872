"""The Alerter: the one home of alerting policy (levels, their volumes and times, confirmation).

An :class:`Alerter` is an ordered list of :class:`AlertLevel` (level 1 first), each a
*detector* (a :class:`~sepmon.core.detection.Volume`) with an *alerting time* and an
*early alerting time*, a look-ahead, and a :class:`Confirmation` rule (M of N,
persistence, hysteresis). This follows DAIDALUS's split of an alerter into detectors
(``Detection3D``) and alert thresholds (``AlertThresholds``), and DO-365's alerting.

- **Instantaneous level** of a pair: the highest level whose volume the pair violates
  within that level's alerting time (the look-ahead caps every time), from the relative
  state by :func:`~sepmon.core.detection.time_to_volume`; 0 when none.
- **Early alerting time**: how far ahead a level's volume is watched to see it coming
  (DO-365's early alerting). A level shown at the pair's previous report is kept while its
  volume is violated within its *early* alerting time (DAIDALUS, with hysteresis on: a
  level that is up stays up while the threat is still seen coming); pass the shown level
  as ``shown``. :meth:`Alerter.reach_m` uses it for the prefilter.
- **Invariant**, checked when an Alerter is built: a higher level's volume lies inside
  each lower level's (no threshold larger) and its alerting and early alerting times are
  no longer, so a higher level always implies the lower ones.
- **Confirmed level**: the instantaneous levels of one pair through :class:`PairConfirmation`
  (readable, one pair) or :class:`ConfirmationTable` (the same rule over many pairs with
  numpy; tests/host/test_alerter.py holds the two to each other). The rule is DAIDALUS's
  alerting logic (M of N, persistence, hysteresis time), see :class:`Confirmation`.

Presets are data, in one table (:data:`PRESET_TABLE`), read by :func:`preset`.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field
from typing import cast

import numpy as np
import numpy.typing as npt

from sepmon.core.detection import (
    FT,
    NMI,
    Volume,
    first_time_in,
    horizontal_interval_of,
    vertical_interval_of,
)
from sepmon.core.model import Level, Minima
from sepmon.core.sum import DO365B_SUM, SumParams, pair_errors, sum_times_to_volumes

__all__ = [
    "FT",
    "NMI",
    "PRESETS",
    "PRESET_TABLE",
    "AlertLevel",
    "Alerter",
    "Confirmation",
    "ConfirmationTable",
    "PairConfirmation",
    "PresetRow",
    "customise",
    "preset",
]

FloatArray = npt.NDArray[np.float64]
ArrayLike = npt.ArrayLike


_MAX_LEVELS = max(int(x) for x in Level)


@dataclass(frozen=True, slots=True)
class AlertLevel:
    """One alert level: its protection volume and how long before a violation it alerts."""

    volume: Volume
    alerting_time_s: float
    early_alerting_time_s: float

    def __post_init__(self) -> None:
        for name in ("alerting_time_s", "early_alerting_time_s"):
            value = getattr(self, name)
            if not (isinstance(value, int | float) and math.isfinite(value) and value >= 0):
                raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")
        if self.early_alerting_time_s < self.alerting_time_s:
            raise ValueError(
                f"early alerting time {self.early_alerting_time_s} s is shorter than the alerting time "
                f"{self.alerting_time_s} s"
            )


@dataclass(frozen=True, slots=True)
class Confirmation:
    """How instantaneous levels of a pair become the level shown (DAIDALUS's alerting logic).

    - **M of N**: of the last ``n`` reports, the shown candidate is the highest level that
      at least ``m`` reports reach (a report of level 3 counts for 3, 2 and 1).
    - **Persistence**: once the shown level has risen, it is kept for at least
      ``persistence_s`` even if the candidate falls.
    - **Hysteresis time**: a report more than ``hysteresis_s`` after the previous one (or
      the pair's first) starts afresh: the history is forgotten and this report fills ``m``
      of the ``n`` places, so it shows at once.

    ``m = n = 1`` with both times 0 shows every instantaneous level as it comes.
    """

    m: int = 1
    n: int = 1
    hysteresis_s: float = 0.0
    persistence_s: float = 0.0

    def __post_init__(self) -> None:
        if not (isinstance(self.m, int) and isinstance(self.n, int) and 1 <= self.m <= self.n):
            raise ValueError(f"M of N needs 1 <= M <= N (whole numbers), got {self.m} of {self.n}")
        for name in ("hysteresis_s", "persistence_s"):
            value = getattr(self, name)
            if not (isinstance(value, int | float) and math.isfinite(value) and value >= 0):
                raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")


@dataclass(frozen=True, slots=True)
class Alerter:
    """Levels 1.. (in order), a look-ahead and a confirmation rule; see the module docstring."""

    name: str
    levels: tuple[AlertLevel, ...]
    lookahead_s: float
    confirmation: Confirmation = field(default_factory=Confirmation)
    # Widen every volume by the pair's combined position uncertainty (the monitor passes it
    # as margin_h/margin_v); False: the volumes as they are (DO-365 without SUM).
    uncertainty: bool = False
    # DO-365B's sensor uncertainty mitigation (core.sum): each volume is violated when some
    # state within the pair's z-scaled uncertainty violates it; None: the nominal state.
    sum: SumParams | None = None

    def __post_init__(self) -> None:
        where = f"alerter {self.name!r}"
        if type(self.levels) is not tuple:
            object.__setattr__(self, "levels", tuple(self.levels))
        if not 1 <= len(self.levels) <= _MAX_LEVELS:
            raise ValueError(f"{where}: needs 1 to {_MAX_LEVELS} levels, got {len(self.levels)}")
        if not (math.isfinite(self.lookahead_s) and self.lookahead_s > 0):
            raise ValueError(f"{where}: look-ahead must be > 0 s, got {self.lookahead_s}")
        for k in range(1, len(self.levels)):
            hi, lo = self.levels[k], self.levels[k - 1]
            level, below = k + 1, k
            if not hi.volume.inside(lo.volume):
                raise ValueError(
                    f"{where}: level {level}'s volume {_describe(hi.volume)} is not inside level {below}'s "
                    f"{_describe(lo.volume)}: a higher level must imply the lower ones"
                )
            if hi.alerting_time_s > lo.alerting_time_s or hi.early_alerting_time_s > lo.early_alerting_time_s:
                raise ValueError(
                    f"{where}: level {level}'s alerting times {hi.alerting_time_s:g}/"
                    f"{hi.early_alerting_time_s:g} s exceed level {below}'s {lo.alerting_time_s:g}/"
                    f"{lo.early_alerting_time_s:g} s: a higher level must imply the lower ones"
                )

    # --- instantaneous ---------------------------------------------------------------
    def times_to_volume(
        self,
        pe: ArrayLike,
        pn: ArrayLike,
        ve: ArrayLike,
        vn: ArrayLike,
        dz: ArrayLike,
        dvz: ArrayLike,
        margin_h: ArrayLike = 0.0,
        margin_v: ArrayLike = 0.0,
        sigma: ArrayLike | None = None,
    ) -> FloatArray:
        """Time to each level's volume within the look-ahead, ``inf`` if none: shape (levels, pairs).

        Inputs: the intruder relative to the ownship, local east/north/up, m and m/s
        (``pe, pn`` position, ``ve, vn`` velocity, ``dz, dvz`` vertical). Broadcast. All
        must be finite (ValueError otherwise); a pair with an unknown altitude is passed
        as co-altitude (``dz = dvz = 0``), the conservative reading. ``margin_h``/``margin_v``
        (m, >= 0): the pair's combined position uncertainty, added to DTHR/ZTHR when the
        alerter mitigates uncertainty (``uncertainty=True``), ignored otherwise. ``sigma``
        (4 rows: the pair's 1σ of horizontal position per axis, vertical position, horizontal
        velocity per axis, vertical rate, each both tracks' added): what an alerter with
        sensor uncertainty mitigation (``sum``) needs; zeros when not given.
        """
        cols = [
            x
            if type(x) is np.ndarray and x.dtype == np.float64 and x.ndim
            else np.atleast_1d(np.asarray(x, dtype=np.float64))
            for x in (pe, pn, ve, vn, dz, dvz, margin_h, margin_v)
        ]
        shape = cols[0].shape
        # The monitor hands columns of one length: no broadcasting needed (its cost is per call).
        c = cols if all(x.shape == shape for x in cols) else np.broadcast_arrays(*cols)
        # A NaN would compare as "no violation": never let unknown data read as all clear.
        # (One check of all columns at once; the name is looked for only on failure.)
        if not np.isfinite(np.concatenate(c, axis=None)).all():
            for name, col in zip(
                ("pe", "pn", "ve", "vn", "dz", "dvz", "margin_h", "margin_v"), c, strict=True
            ):
                if not np.isfinite(col).all():
                    raise ValueError(
                        f"relative state {name!r} must be finite (an unknown altitude is dz = dvz = 0)"
                    )
        mh, mv = (c[6], c[7]) if self.uncertainty else (0.0, 0.0)
        if self.sum is not None:
            sig = (
                np.zeros((4, c[0].size))
                if sigma is None
                else np.broadcast_to(np.asarray(sigma, dtype=np.float64), (4, c[0].size))
            )
            if not np.isfinite(sig).all() or (sig < 0).any():
                raise ValueError("the pair's sigmas must be finite and >= 0")
            errors = pair_errors(c[0], c[1], sig[0], sig[1], sig[2], sig[3], self.sum)
            return sum_times_to_volumes(
                [lv.volume for lv in self.levels],
                c[0],
                c[1],
                c[2],
                c[3],
                c[4],
                c[5],
                errors,
                self.lookahead_s,
            )
        # Levels often share a threshold (do365: one DTHR and TTHR, two ZTHR; sepmon: one
        # volume): each distinct horizontal and vertical interval is worked out once.
        out = np.empty((len(self.levels), c[0].size))
        h_iv: dict[tuple[float, float], tuple[FloatArray, FloatArray]] = {}
        z_iv: dict[tuple[float, float], tuple[FloatArray, FloatArray]] = {}
        row_of: dict[Volume, int] = {}  # levels with one volume (sepmon, flarm: all three) share its row
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            for k, lv in enumerate(self.levels):
                vol = lv.volume
                j = row_of.get(vol)
                if j is not None:
                    out[k] = out[j]
                    continue
                row_of[vol] = k
                h = h_iv.get((vol.dthr_m, vol.tthr_s))
                if h is None:
                    h = h_iv[(vol.dthr_m, vol.tthr_s)] = horizontal_interval_of(
                        c[0], c[1], c[2], c[3], vol.dthr_m + mh, vol.tthr_s
                    )
                z = z_iv.get((vol.zthr_m, vol.tcoa_s))
                if z is None:
                    z = z_iv[(vol.zthr_m, vol.tcoa_s)] = vertical_interval_of(
                        c[4], c[5], vol.zthr_m + mv, vol.tcoa_s
                    )
                out[k] = first_time_in(h[0], h[1], z[0], z[1], self.lookahead_s)
        return out

    def levels_from_times(self, ttv: FloatArray, shown: ArrayLike | None = None) -> npt.NDArray[np.int8]:
        """Instantaneous levels from :meth:`times_to_volume`'s result.

        ``shown`` (per pair, or None): the level each pair showed at its previous report;
        that level is then judged by its early alerting time (module docstring).
        """
        level = np.zeros(ttv.shape[1], dtype=np.int8)
        held: npt.NDArray[np.generic] | None = None
        if type(shown) is np.ndarray and shown.shape == level.shape:
            held = shown  # the monitor's case: one per pair already (broadcast_to costs per call)
        elif shown is not None:
            held = np.broadcast_to(np.asarray(shown), level.shape)
        for k, lv in enumerate(self.levels):
            # A violation must start strictly inside the alerting time (DAIDALUS: time in < time
            # out); an alerting time of 0 means "violated now" (a distance-only level).
            limit: float | FloatArray = min(lv.alerting_time_s, self.lookahead_s)
            if held is not None and lv.early_alerting_time_s > lv.alerting_time_s:
                limit = np.where(held == k + 1, min(lv.early_alerting_time_s, self.lookahead_s), limit)
            hit = ttv[k] < limit
            hit |= ttv[k] <= 0.0
            level[hit] = k + 1
        return level

    def levels_now(
        self,
        pe: ArrayLike,
        pn: ArrayLike,
        ve: ArrayLike,
        vn: ArrayLike,
        dz: ArrayLike,
        dvz: ArrayLike,
        margin_h: ArrayLike = 0.0,
        margin_v: ArrayLike = 0.0,
        sigma: ArrayLike | None = None,
    ) -> npt.NDArray[np.int8]:
        """Instantaneous level of each pair (0 = none): the highest level violated within its time."""
        return self.levels_from_times(
            self.times_to_volume(pe, pn, ve, vn, dz, dvz, margin_h, margin_v, sigma)
        )

    def level_now(self, pe: float, pn: float, ve: float, vn: float, dz: float, dvz: float) -> Level:
        """:meth:`levels_now` of one pair, as a :class:`~sepmon.core.model.Level`."""
        return Level(int(self.levels_now(pe, pn, ve, vn, dz, dvz)[0]))

    # --- what the prefilter may skip -------------------------------------------------
    def reach_m(self, speed_mps: ArrayLike) -> FloatArray:
        """Horizontal range beyond which a pair closing at ``speed_mps`` cannot reach any level.

        Within the early alerting time ``E`` the pair closes at most ``speed·E`` metres, and
        the modified-tau condition can hold out to ``r`` with ``r² ≤ DTHR² + TTHR·speed·r``,
        i.e. ``r ≤ DTHR + speed·TTHR``; so ``DTHR + speed·(E + TTHR)`` bounds every level.
        """
        return self._reach(speed_mps, [(lv.volume.dthr_m, lv.volume.tthr_s) for lv in self.levels])

    def reach_sigma(self) -> tuple[float, float]:
        """How much further than :meth:`reach_m` sensor uncertainty mitigation reaches, per unit
        of the pair's summed 1σ: (per m of position sigma, per m/s of velocity sigma).

        A state within the bounds is at most ``h_pos_z · σ_pos`` nearer and closes at most
        ``h_vel_z_max · σ_vel`` faster, for at most ``E + TTHR`` (as in :meth:`reach_m`).
        """
        if self.sum is None:
            return 0.0, 0.0
        horizon = max(
            min(lv.early_alerting_time_s, self.lookahead_s) + lv.volume.tthr_s for lv in self.levels
        )
        return self.sum.h_pos_z, max(self.sum.h_vel_z_min, self.sum.h_vel_z_max) * horizon

    def vertical_reach_m(self, vspeed_mps: ArrayLike) -> FloatArray:
        """Vertical separation beyond which a pair closing vertically at ``vspeed_mps`` cannot alert."""
        return self._reach(vspeed_mps, [(lv.volume.zthr_m, lv.volume.tcoa_s) for lv in self.levels])

    def _reach(self, speed_mps: ArrayLike, volumes: list[tuple[float, float]]) -> FloatArray:
        """The largest ``threshold + speed·(E + time threshold)`` over the levels, per speed."""
        speed = np.abs(np.asarray(speed_mps, dtype=np.float64))
        horizons = [min(lv.early_alerting_time_s, self.lookahead_s) for lv in self.levels]
        return np.asarray(
            np.max([thr + speed * (e + t) for (thr, t), e in zip(volumes, horizons, strict=True)], axis=0),
            dtype=np.float64,
        )

    # --- confirmation ----------------------------------------------------------------
    def pair_confirmation(self) -> PairConfirmation:
        """A fresh per-pair confirmation with this alerter's rule (readable version)."""
        return PairConfirmation(self.confirmation)

    def confirmation_table(self) -> ConfirmationTable:
        """A fresh confirmation over many pairs with this alerter's rule (numpy version)."""
        return ConfirmationTable(self.confirmation)


def _describe(v: Volume) -> str:
    parts = [f"DTHR {v.dthr_m:g} m", f"ZTHR {v.zthr_m:g} m"]
    if v.tthr_s:
        parts.append(f"TTHR {v.tthr_s:g} s")
    if v.tcoa_s:
        parts.append(f"TCOA {v.tcoa_s:g} s")
    return "(" + ", ".join(parts) + ")"


# --- confirmation: readable, one pair ---------------------------------------------------
_EMPTY = -1  # a place in the M-of-N window that holds no report yet


class PairConfirmation:
    """The :class:`Confirmation` rule for one pair, step by step.

    Reports must come in time order; a report at the time of the previous one replaces
    it (the later evaluation of the same instant wins); an older one is ignored.
    """

    def __init__(self, rule: Confirmation) -> None:
        """Start with no history: the first report shows at once."""
        self.rule = rule
        self.window: deque[int] = deque(maxlen=rule.n)
        self.level = 0  # shown
        self.rose_t = math.nan  # when the shown level last rose
        self.last_t = math.nan
        self._before: tuple[deque[int], int, float, float] | None = None  # state before the last report

    def update(self, raw_level: int, t: float) -> int:
        """Take the instantaneous level at time ``t``; return the confirmed level."""
        raw = int(raw_level)
        if not 0 <= raw <= _MAX_LEVELS:
            raise ValueError(f"{raw_level!r} is not a level 0..{_MAX_LEVELS}")
        if not math.isfinite(t):
            raise ValueError(f"t must be finite, got {t}")
        if t < self.last_t:
            return self.level
        if t == self.last_t and self._before is not None:
            self.window, self.level, self.rose_t, self.last_t = self._before
            self.window = deque(self.window, maxlen=self.rule.n)
        self._before = (deque(self.window), self.level, self.rose_t, self.last_t)
        rule = self.rule
        if math.isnan(self.last_t) or t - self.last_t > rule.hysteresis_s:
            # Fresh start: this report stands for M of the N places, the oldest of them first
            # (so one of them leaves with the next report, as in DAIDALUS).
            self.window = deque([raw] * rule.m + [_EMPTY] * (rule.n - rule.m), maxlen=rule.n)
            self.level, self.rose_t = 0, math.nan
        self.window.append(raw)
        candidate = max(
            (lv for lv in range(_MAX_LEVELS, -1, -1) if sum(r >= lv for r in self.window) >= rule.m),
            default=0,
        )
        held = (
            candidate < self.level
            and self.level > 0
            and not math.isnan(self.rose_t)
            and t - self.rose_t < rule.persistence_s
        )
        if not held:
            if candidate > self.level:
                self.rose_t = t
            self.level = candidate
        self.last_t = t
        return self.level


# --- confirmation: numpy, many pairs ------------------------------------------------------
class ConfirmationTable:
    """:class:`PairConfirmation`'s rule over many pairs at once, one row per pair id.

    :meth:`update` takes the reports of distinct pairs at one time; pair ids are rows,
    growing as needed. Same rule and results as one :class:`PairConfirmation` per pair
    (tested side by side).
    """

    def __init__(self, rule: Confirmation) -> None:
        """Empty table; rows are added as pair ids appear."""
        self.rule = rule
        self._alloc(0, 64)

    def _alloc(self, used: int, cap: int) -> None:
        def grow(name: str, fill: float, dtype: type[np.generic], shape: tuple[int, ...] = ()) -> None:
            new = np.full((cap, *shape), fill, dtype=dtype)
            old = getattr(self, name, None)
            if old is not None:
                new[:used] = old[:used]
            setattr(self, name, new)

        n = self.rule.n
        grow("window", _EMPTY, np.int8, (n,))  # oldest first
        grow("level", 0, np.int8)
        grow("rose_t", math.nan, np.float64)
        grow("last_t", math.nan, np.float64)
        # The state before each pair's last report (a report at the same time replaces it).
        grow("prev_window", _EMPTY, np.int8, (n,))
        grow("prev_level", 0, np.int8)
        grow("prev_rose_t", math.nan, np.float64)
        grow("prev_last_t", math.nan, np.float64)
        # The whole state (window, the state before the last report, shown level) stands at
        # one level, so another report of that level changes nothing but the times.
        grow("settled", True, np.bool_)
        self.cap = cap

    window: npt.NDArray[np.int8]
    level: npt.NDArray[np.int8]
    rose_t: FloatArray
    last_t: FloatArray
    prev_window: npt.NDArray[np.int8]
    prev_level: npt.NDArray[np.int8]
    prev_rose_t: FloatArray
    prev_last_t: FloatArray
    settled: npt.NDArray[np.bool_]

    def reserve(self, n: int) -> None:
        """Make room for pair ids below ``n``."""
        if n > self.cap:
            cap = self.cap
            while cap < n:
                cap *= 2
            self._alloc(self.cap, cap)

    def steady(self, pid: npt.NDArray[np.intp], raw_level: npt.NDArray[np.int8]) -> npt.NDArray[np.bool_]:
        """Which reports would change nothing but the pair's times (see :meth:`touch`).

        A pair whose state stands at one level, reported at that level: nearly every pair
        nearly always (clear, or a steady alert). ``pid`` must be below :attr:`cap`.
        """
        out: npt.NDArray[np.bool_] = self.settled[pid] & (raw_level == self.level[pid])
        return out

    def touch(self, pid: npt.NDArray[np.intp], t: float | FloatArray) -> None:
        """Apply reports that :meth:`steady` found steady, at time(s) ``t`` (distinct pairs).

        The same as :meth:`update` with their (unchanged) level, for a fraction of the cost:
        M of N, persistence and hysteresis give the level it already shows, so only the
        report times move (a later report at the same time finds the same state before it).
        """
        if not (type(t) is np.ndarray and t.dtype == np.float64 and t.shape == pid.shape):
            # (The monitor hands one time per pair already: broadcast_to's cost is per call.)
            t = np.broadcast_to(np.asarray(t, dtype=np.float64), pid.shape)
        last = self.last_t[pid]
        new = ~(t <= last)  # NaN (never reported) counts as new
        if not new.any():  # the usual case live: another look within the second of the last report
            return
        p, tn = pid[new], t[new]
        self.prev_last_t[p] = self.last_t[p]
        self.prev_rose_t[p] = self.rose_t[p]
        self.prev_level[p] = self.level[p]
        self.prev_window[p] = self.window[p]
        self.last_t[p] = tn

    def _checked(
        self, pid: ArrayLike, raw_level: ArrayLike, t: float
    ) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.int8]]:
        """``pid`` and ``raw_level`` checked and converted; rows grown for new ids."""
        ids = np.asarray(pid, dtype=np.intp).ravel()
        raw64 = np.asarray(raw_level, dtype=np.int64).ravel()
        if ids.shape != raw64.shape:
            raise ValueError("pid and raw_level must have the same length")
        if ids.size and (int(ids.min()) < 0 or int(np.bincount(ids).max()) > 1):
            raise ValueError("pair ids must be distinct and >= 0")
        if raw64.size and not (int(raw64.min()) >= 0 and int(raw64.max()) <= _MAX_LEVELS):
            raise ValueError(f"levels must be 0..{_MAX_LEVELS}")
        if not math.isfinite(t):
            raise ValueError(f"t must be finite, got {t}")
        if ids.size:
            self.reserve(int(ids.max()) + 1)
        return ids, raw64.astype(np.int8)

    def update(
        self, pid: ArrayLike, raw_level: ArrayLike, t: float, *, trusted: bool = False
    ) -> npt.NDArray[np.int8]:
        """Take the instantaneous levels of distinct pairs ``pid`` at time ``t``; return confirmed ones.

        ``trusted``: the caller hands intp ids below :attr:`cap` (see :meth:`reserve`),
        distinct, and int8 levels 0..3 (the monitor, on its hot path): not checked again.
        """
        if trusted:
            ids = cast(npt.NDArray[np.intp], pid)
            raw = cast(npt.NDArray[np.int8], raw_level)
        else:
            ids, raw = self._checked(pid, raw_level, t)
        rule = self.rule
        last = self.last_t[ids]
        older = t < last  # NaN compares False
        # Same time as the last report: go back to the state before it, then apply this one.
        again: npt.NDArray[np.bool_] = np.asarray(t == last)
        if again.any():
            g = ids[again]
            self.window[g] = self.prev_window[g]
            self.level[g] = self.prev_level[g]
            self.rose_t[g] = self.prev_rose_t[g]
            self.last_t[g] = self.prev_last_t[g]
        use = ids[~older]
        r = raw[~older]
        self.prev_window[use] = self.window[use]
        self.prev_level[use] = self.level[use]
        self.prev_rose_t[use] = self.rose_t[use]
        self.prev_last_t[use] = self.last_t[use]

        last = self.last_t[use]
        fresh = np.isnan(last) | (t - last > rule.hysteresis_s)
        win = self.window[use]
        if fresh.any():
            seed = np.full((int(fresh.sum()), rule.n), _EMPTY, dtype=np.int8)
            seed[:, : rule.m] = r[fresh, None]
            win[fresh] = seed
            self.level[use[fresh]] = 0
            self.rose_t[use[fresh]] = math.nan
        win = np.concatenate([win[:, 1:], r[:, None]], axis=1)
        self.window[use] = win
        # Highest level reached by at least M reports: the M-th largest entry (empties are −1).
        candidate = np.maximum(np.sort(win, axis=1)[:, rule.n - rule.m], 0).astype(np.int8)
        shown = self.level[use]
        rose = self.rose_t[use]
        held = (candidate < shown) & (shown > 0) & ((t - rose) < rule.persistence_s)  # NaN rose: False
        rising = ~held & (candidate > shown)
        self.rose_t[use[rising]] = t
        level = np.where(held, shown, candidate)
        self.level[use] = level
        self.last_t[use] = t
        # Settled: every window place (an empty one counts as 0), the state before and the
        # shown level are one level (a pair never reported stands at 0: settled).
        lv = level[:, None]
        flat = np.where(lv == 0, np.maximum(win, 0), win) == lv
        pw = self.prev_window[use]
        flat &= np.where(lv == 0, np.maximum(pw, 0), pw) == lv
        self.settled[use] = flat.all(axis=1) & (self.prev_level[use] == level)
        out: npt.NDArray[np.int8] = self.level[ids].copy()
        return out


# --- presets ------------------------------------------------------------------------------
_MINIMA = Minima()


@dataclass(frozen=True, slots=True)
class PresetRow:
    """One preset as data: levels as (DTHR m, ZTHR m, TTHR s, TCOA s, alerting time s, early
    alerting time s), level 1 first; the look-ahead; confirmation as (M, N, hysteresis s,
    persistence s); and where the values come from."""

    source: str
    levels: tuple[tuple[float, float, float, float, float, float], ...]
    lookahead_s: float
    confirmation: tuple[int, int, float, float]
    uncertainty: bool = False
    sum: SumParams | None = None


PRESET_TABLE: dict[str, PresetRow] = {
    # RTCA DO-365B DWC Phase I without sensor uncertainty mitigation, exactly as NASA DAIDALUS
    # v2.0.4's Configurations/DO_365B_no_SUM.conf: WCV_TAUMOD detectors, alerter 1.
    "do365": PresetRow(
        source="RTCA DO-365B (DWC Phase I), as NASA DAIDALUS v2.0.4's DO_365B_no_SUM configuration",
        # level: (DTHR m, ZTHR m, TTHR s, TCOA s, alerting time s, early alerting time s)
        levels=(
            (0.66 * NMI, 700 * FT, 35.0, 0.0, 55.0, 75.0),  # preventive
            (0.66 * NMI, 450 * FT, 35.0, 0.0, 55.0, 75.0),  # corrective
            (0.66 * NMI, 450 * FT, 35.0, 0.0, 25.0, 55.0),  # warning
        ),
        lookahead_s=180.0,
        # (M, N, hysteresis s, persistence s)
        confirmation=(2, 4, 5.0, 4.0),
    ),
    # RTCA DO-365B DWC Phase I with sensor uncertainty mitigation, as NASA DAIDALUS v2.0.4's
    # Configurations/DO_365B_SUM.conf: do365's volumes, alerting times 50/50/25 s, SUM z-scores.
    "do365-sum": PresetRow(
        source="RTCA DO-365B (DWC Phase I, SUM), as NASA DAIDALUS v2.0.4's DO_365B_SUM configuration",
        levels=(
            (0.66 * NMI, 700 * FT, 35.0, 0.0, 50.0, 75.0),
            (0.66 * NMI, 450 * FT, 35.0, 0.0, 50.0, 75.0),
            (0.66 * NMI, 450 * FT, 35.0, 0.0, 25.0, 55.0),
        ),
        lookahead_s=180.0,
        confirmation=(2, 4, 5.0, 4.0),
        sum=DO365B_SUM,
    ),
    # FLARM's alarm levels by time to impact (FLARM Technology, "FLARM Data Port Interface
    # Control Document (ICD)", FTD-012, sentence PFLAU/PFLAA field AlarmLevel: 1 = 13-18 s,
    # 2 = 9-12 s, 3 = 0-8 s to impact). FLARM does not publish its protection volume: the
    # volume is sepmon's default minima (model.Minima), which a pair's own minima replace.
    "flarm": PresetRow(
        source="FLARM Data Port ICD (FTD-012), AlarmLevel by time to impact; volume: model.Minima defaults",
        levels=(
            (_MINIMA.horizontal_m, _MINIMA.vertical_m, 0.0, 0.0, 18.0, 18.0),
            (_MINIMA.horizontal_m, _MINIMA.vertical_m, 0.0, 0.0, 12.0, 12.0),
            (_MINIMA.horizontal_m, _MINIMA.vertical_m, 0.0, 0.0, 8.0, 8.0),
        ),
        lookahead_s=18.0,
        confirmation=(1, 1, 0.0, 0.0),
        uncertainty=True,
    ),
    # sepmon's own memorandum-style rule: the minima and look-ahead times of model.Minima's
    # defaults (ADVISORY/CAUTION/WARNING when the minima are predicted to be violated within
    # advisory_s/caution_s/warning_s), without the range-only rings at caution_factor and
    # advisory_factor × the minima; confirmed like DO-365 (2 of 4, persistence 4 s,
    # hysteresis 5 s = the config's default hold_s) so one noisy report raises nothing.
    "sepmon": PresetRow(
        source="sepmon: model.Minima defaults (issue 15: no range-only rings), DO-365's confirmation",
        levels=(
            (_MINIMA.horizontal_m, _MINIMA.vertical_m, 0.0, 0.0, _MINIMA.advisory_s, _MINIMA.advisory_s),
            (_MINIMA.horizontal_m, _MINIMA.vertical_m, 0.0, 0.0, _MINIMA.caution_s, _MINIMA.caution_s),
            (_MINIMA.horizontal_m, _MINIMA.vertical_m, 0.0, 0.0, _MINIMA.warning_s, _MINIMA.warning_s),
        ),
        lookahead_s=_MINIMA.advisory_s,
        confirmation=(2, 4, 5.0, 4.0),
        uncertainty=True,
    ),
    # Range alone, as SoftRF's distance mode does (and sepmon before issue 15): WARNING inside
    # the minima, CAUTION inside caution_factor x them, ADVISORY inside advisory_factor x them,
    # now (alerting time 0), nothing predicted. Only when asked for: it alerts on parked and
    # parallel traffic.
    "distance": PresetRow(
        source="range rings at model.Minima's defaults (minima x advisory_factor, caution_factor, 1), now",
        levels=(
            (
                _MINIMA.advisory_factor * _MINIMA.horizontal_m,
                _MINIMA.advisory_factor * _MINIMA.vertical_m,
                0.0,
                0.0,
                0.0,
                0.0,
            ),
            (
                _MINIMA.caution_factor * _MINIMA.horizontal_m,
                _MINIMA.caution_factor * _MINIMA.vertical_m,
                0.0,
                0.0,
                0.0,
                0.0,
            ),
            (_MINIMA.horizontal_m, _MINIMA.vertical_m, 0.0, 0.0, 0.0, 0.0),
        ),
        lookahead_s=1.0,
        confirmation=(1, 1, 0.0, 5.0),
        uncertainty=True,
    ),
}
"""Every named preset, as data (see :class:`PresetRow`)."""


def _build(name: str, row: PresetRow) -> Alerter:
    return Alerter(
        name=name,
        levels=tuple(
            AlertLevel(Volume(dthr, zthr, tthr, tcoa), alerting, early)
            for dthr, zthr, tthr, tcoa, alerting, early in row.levels
        ),
        lookahead_s=row.lookahead_s,
        confirmation=Confirmation(*row.confirmation),
        uncertainty=row.uncertainty,
        sum=row.sum,
    )


PRESETS: dict[str, Alerter] = {name: _build(name, row) for name, row in PRESET_TABLE.items()}
"""The presets of :data:`PRESET_TABLE`, built (and so checked) at import."""


def preset(name: str) -> Alerter:
    """The Alerter of a named preset; a one-line ValueError naming the known ones otherwise."""
    try:
        return PRESETS[name]
    except KeyError:
        raise ValueError(f"unknown alerting preset {name!r}; known: {', '.join(sorted(PRESETS))}") from None


def customise(
    alerter: Alerter,
    *,
    horizontal_m: float | None = None,
    vertical_m: float | None = None,
    warning_s: float | None = None,
    caution_s: float | None = None,
    advisory_s: float | None = None,
    caution_factor: float | None = None,
    advisory_factor: float | None = None,
    persistence_s: float | None = None,
) -> Alerter:
    """``alerter`` with a configuration's explicit keys applied over it (None: keep the preset's).

    - ``horizontal_m``/``vertical_m`` set the innermost (highest) level's DTHR/ZTHR; the
      other levels keep their ratio to it (do365's 700 ft level 1 over 450 ft stays 14/9).
    - ``warning_s``/``caution_s``/``advisory_s`` set the alerting times of levels 3/2/1
      (early alerting times follow where they equalled them, else are raised to them where
      shorter); a longer alerting time than
      the look-ahead lengthens the look-ahead.
    - ``caution_factor``/``advisory_factor`` set levels 2/1's DTHR and ZTHR as multiples of
      level 3's: range rings, which only the ``distance`` preset has (ValueError otherwise).
    - ``persistence_s``: how long a risen level is kept at least (the ``hold_s`` key).

    The result is checked like any Alerter (a higher level must imply the lower ones).
    """
    levels = list(alerter.levels)
    top = levels[-1].volume
    rings = alerter.name == "distance"
    if (caution_factor is not None or advisory_factor is not None) and not rings:
        raise ValueError(
            f"caution_factor and advisory_factor are range rings, which only preset 'distance' has "
            f"(this pair's preset is {alerter.name!r})"
        )
    h = top.dthr_m if horizontal_m is None else horizontal_m
    v = top.zthr_m if vertical_m is None else vertical_m
    factors: dict[int, float | None] = {len(levels) - 2: caution_factor, len(levels) - 3: advisory_factor}
    times = {len(levels) - 1: warning_s, len(levels) - 2: caution_s, len(levels) - 3: advisory_s}
    out = []
    for k, lv in enumerate(levels):
        vol = lv.volume
        f = factors.get(k)
        if f is not None:
            dthr, zthr = f * h, f * v
        else:
            dthr = vol.dthr_m * (h / top.dthr_m) if top.dthr_m else h
            zthr = vol.zthr_m * (v / top.zthr_m) if top.zthr_m else v
        given = times.get(k)
        alerting = lv.alerting_time_s if given is None else float(given)
        # A preset that watches no earlier than it alerts keeps doing so; else early >= alerting.
        same = lv.early_alerting_time_s == lv.alerting_time_s
        early = alerting if same else max(lv.early_alerting_time_s, alerting)
        out.append(AlertLevel(Volume(dthr, zthr, vol.tthr_s, vol.tcoa_s), alerting, early))
    lookahead = (
        max(alerter.lookahead_s, *(lv.alerting_time_s for lv in out)) if not rings else alerter.lookahead_s
    )
    conf = alerter.confirmation
    if persistence_s is not None:
        conf = Confirmation(conf.m, conf.n, conf.hysteresis_s, persistence_s)
    return Alerter(alerter.name, tuple(out), lookahead, conf, alerter.uncertainty, alerter.sum)
