"""The types every stage shares, in one place: source → parse → track → separation → alert.

Fix (ingest), TrackState (tracks), Minima (policy), PairStatus and Threat (the
monitor), SourceStats (ingest counters) and Event (what changed). Plain
dataclasses, so every stage is a pure function of what it is handed; a stage
imports its types from here, never from the stage that produces them.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from dataclasses import dataclass, field, fields
from enum import IntEnum
from typing import Any


class Level(IntEnum):
    """Alert level of a pair, as sent to the boards."""

    NONE = 0
    ADVISORY = 1
    CAUTION = 2
    WARNING = 3


@dataclass(frozen=True, slots=True)
class Fix:
    """One position epoch of one source, assembled from the sentences of one UTC time.

    ``alt_m`` is the ellipsoid height (MSL + geoid separation); None for a 2D fix.
    ``sog_mps``/``cog_deg`` are None when the receiver did not send them.
    ``t`` is the fix time (unix seconds, UTC); ``rx_t`` the time it was received
    (TAG block ``c:`` or the host clock), None when unknown.
    ``geoid_sep_m`` is the geoid separation the receiver reported with the height
    (GGA/GNS field 11, gpsd's ``geoidSep``), so ``alt_m - geoid_sep_m`` is its
    sea-level height; None when it sent none. ``eph_m`` is the receiver's (or
    gpsd's) own estimate of its horizontal position error, about 95 %, in metres;
    None when it gave none (the uncertainty then comes from ``hdop``). ``epv_m`` is the
    same for the height (about 95 %, gpsd's ``epv``, or GST's altitude σ × 1.96); None
    when it gave none (then 1.5 × the horizontal error stands for it).
    """

    source: str
    t: float
    lat: float
    lon: float
    alt_m: float | None
    sog_mps: float | None
    cog_deg: float | None
    quality: int
    hdop: float | None
    sats: int | None
    rx_t: float | None = None
    # What the receiver said about its height and error: kept, but not part of what a
    # fix *is* (two fixes of the same time, place and quality compare equal).
    geoid_sep_m: float | None = field(default=None, compare=False)
    eph_m: float | None = field(default=None, compare=False)
    epv_m: float | None = field(default=None, compare=False)


class _FixBuilder:
    """A mutable twin of :class:`Fix`: the same slots, in the same order, on ``object``.

    Only :func:`new_fix` uses it, to fill the slots with plain attribute stores and then
    hand the object its real class.
    """

    __slots__ = Fix.__slots__
    source: str
    t: float
    lat: float
    lon: float
    alt_m: float | None
    sog_mps: float | None
    cog_deg: float | None
    quality: int
    hdop: float | None
    sats: int | None
    rx_t: float | None
    geoid_sep_m: float | None
    eph_m: float | None
    epv_m: float | None


def new_fix(
    source: str,
    t: float,
    lat: float,
    lon: float,
    alt_m: float | None,
    sog_mps: float | None,
    cog_deg: float | None,
    quality: int,
    hdop: float | None,
    sats: int | None,
    rx_t: float | None,
    geoid_sep_m: float | None = None,
    eph_m: float | None = None,
    epv_m: float | None = None,
) -> Fix:
    """``Fix(source, t, ...)``, all fields positional, about 7x faster.

    The ingest builds one Fix per epoch of every source; the frozen dataclass's
    ``__init__`` makes one ``object.__setattr__`` call per field, which was a tenth of
    epoch assembly.  Here the slots are filled on a :class:`_FixBuilder` and the object
    then becomes a Fix (``__class__`` assignment between classes of identical slot
    layout): the result is a Fix in every respect, frozen, equal and hashing like one
    built by ``Fix(...)``.  No validation happens in either.
    """
    f = _FixBuilder()
    f.source = source
    f.t = t
    f.lat = lat
    f.lon = lon
    f.alt_m = alt_m
    f.sog_mps = sog_mps
    f.cog_deg = cog_deg
    f.quality = quality
    f.hdop = hdop
    f.sats = sats
    f.rx_t = rx_t
    f.geoid_sep_m = geoid_sep_m
    f.eph_m = eph_m
    f.epv_m = epv_m
    f.__class__ = Fix  # type: ignore[assignment]
    return f  # type: ignore[return-value]


@dataclass(frozen=True, slots=True)
class TrackState:
    """A source's best estimate at time ``t``: what the separation core consumes.

    Velocity is in the local east/north/up frame at the position, in m/s: the track
    filter's estimate (no dead band, so a parked receiver shows a few tenths of a m/s).
    """

    source: str
    t: float
    lat: float
    lon: float
    alt_m: float | None
    ve: float
    vn: float
    vu: float
    quality: int
    hdop: float | None
    age_s: float
    lost: bool


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
        # The one home of these checks: the configuration passes the message on, naming the table.
        if not (self.horizontal_m >= 0 and self.vertical_m >= 0):
            raise ValueError(f"minima must be ≥ 0, got {self.horizontal_m:g} m, {self.vertical_m:g} m")
        if not (0 <= self.warning_s <= self.caution_s <= self.advisory_s):
            raise ValueError(
                f"0 ≤ warning_s ≤ caution_s ≤ advisory_s is required, got "
                f"{self.warning_s:g}, {self.caution_s:g}, {self.advisory_s:g}"
            )
        if not (1.0 <= self.caution_factor <= self.advisory_factor):
            raise ValueError(
                f"1 ≤ caution_factor ≤ advisory_factor is required, got "
                f"{self.caution_factor:g}, {self.advisory_factor:g}"
            )


@dataclass(slots=True)
class SourceStats:
    """Counters of one source.

    ``lines``: lines attributed to the source; ``rejected``: by :class:`Reject` reason
    (``checksum``, ``framing``, ``overlong``, ``unparsable``, ``no_fix``);
    ``ignored``: types we do not use; ``proprietary``: checksum-valid ``$PSEP`` lines
    handed on; ``used``: sentences merged into an epoch; ``unused``: valid sentences
    for an epoch already emitted (late or duplicate); ``fixes``: fixes emitted;
    ``epochs_dropped``: epochs without a fix, by reason (``no_fix``, ``no_date``,
    ``duplicate_time``); ``callback_errors``: exceptions raised by ``on_proprietary``;
    ``dated_by``: fixes whose date did not come from their RMC, by where it came from
    (``ZDA``, ``receive time``, ``--date``, ``relative``).
    """

    lines: int = 0
    rejected: Counter[str] = field(default_factory=Counter)
    ignored: int = 0
    proprietary: int = 0
    used: int = 0
    unused: int = 0
    fixes: int = 0
    epochs_dropped: Counter[str] = field(default_factory=Counter)
    callback_errors: int = 0
    dated_by: Counter[str] = field(default_factory=Counter)

    def heard(self) -> bool:
        """Did the source send anything that looks like a sentence (not only junk bytes)?

        A stream's default source is charged with the framing junk of its lines; a TAG-only
        recording's default source reads nothing else.  Neither is a source without fixes.
        """
        return self.lines > self.rejected["framing"] + self.rejected["overlong"]

    def why_no_fixes(self) -> str:
        """One line saying why a source gave no fix: every drop and reject reason, counted."""
        parts = []
        dropped = ", ".join(f"{k} {v}" for k, v in sorted(self.epochs_dropped.items()) if v)
        if dropped:
            parts.append(f"epochs dropped: {dropped}")
        rejected = ", ".join(f"{k} {v}" for k, v in sorted(self.rejected.items()) if v)
        if rejected:
            parts.append(f"lines rejected: {rejected}")
        if self.ignored:
            parts.append(f"{self.ignored} lines of types not used")
        if self.unused:
            parts.append(f"{self.unused} sentences late or duplicate")
        if not parts:
            return "no fix: no data" if not self.lines else f"no fix: {self.lines} lines, no position in them"
        return "no fix: " + "; ".join(parts)


@dataclass(frozen=True, slots=True)
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
    # Seconds until the pair first violates its innermost protection volume (0: violating
    # now), None when not within the look-ahead or not converging: FLARM's "time to impact".
    t_violation_s: float | None = None


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


@dataclass(frozen=True, slots=True)
class Event:
    """One change: a pair's alert level (``type="level"``) or a track's standing.

    For track events (``acquired``, ``lost``, ``regained``), link events
    (``port_up``, ``port_down``) and board events (``board``, ``board_silent``,
    ``board_acking``) ``a`` is the source, ``b`` is None and ``detail`` says more.
    ``tcpa_s`` is None when the pair is diverging.
    """

    t: float
    type: str
    a: str
    b: str | None = None
    level: int | None = None
    prev_level: int | None = None
    range_m: float | None = None
    vertical_m: float | None = None
    bearing_deg: float | None = None
    tcpa_s: float | None = None
    cpa_m: float | None = None
    lost: bool = False
    detail: str | None = None

    def to_json(self) -> str:
        """One compact JSON object, floats rounded to what the sensors can resolve."""
        d: dict[str, Any] = {}
        for k in _FIELDS:  # not dataclasses.asdict: it deep-copies every value, on the alert path
            v = getattr(self, k)
            if isinstance(v, float):
                v = None if not math.isfinite(v) else round(v, 3 if k == "t" else 1)
            d[k] = v
        return json.dumps(d, separators=(",", ":"))


_FIELDS = tuple(f.name for f in fields(Event))


def event_from_obj(obj: Any) -> Event | None:
    """An Event from one parsed JSON line of an event log, or None when it is not one of ours.

    Every field is checked for its type (an event log may be edited, merged or truncated
    by hand), so a reader can count and skip what is not an event instead of failing.
    """
    if not isinstance(obj, dict):
        return None
    t, typ, a = obj.get("t"), obj.get("type"), obj.get("a")
    if isinstance(t, bool) or not isinstance(t, int | float) or not math.isfinite(t):
        return None
    if not isinstance(typ, str) or not isinstance(a, str):
        return None
    kw: dict[str, Any] = {k: obj[k] for k in Event.__slots__ if k in obj}
    for k in ("level", "prev_level"):
        if kw.get(k) is not None and (isinstance(kw[k], bool) or not isinstance(kw[k], int)):
            return None
    for k in ("range_m", "vertical_m", "bearing_deg", "tcpa_s", "cpa_m"):
        v = kw.get(k)
        if v is not None and (isinstance(v, bool) or not isinstance(v, int | float)):
            return None
    if typ == "level" and (not isinstance(obj.get("b"), str) or kw.get("level") is None):
        return None
    try:
        return Event(**kw)
    except TypeError:
        return None


def event_from_json(line: str) -> Event:
    """Parse one JSONL line written by ``Event.to_json``; ValueError when it is not an event."""
    ev = event_from_obj(json.loads(line))
    if ev is None:
        raise ValueError(f"not a sepmon event: {line[:80]!r}")
    return ev
