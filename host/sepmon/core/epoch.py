"""Sentences of one source → one :class:`~sepmon.core.model.Fix` per UTC epoch, with low latency.

An *epoch* is everything a receiver sends for one fix time.  Timed sentences (GGA,
RMC, GNS, GLL, GST) carry the time; time-less ones (VTG, GSA) belong to the epoch of
the most recent timed sentence (every common receiver sends a timed sentence first).

What a Fix takes from where (first sentence that has it wins, per field):
position from GGA/GNS/RMC/GLL; ellipsoid height = GGA/GNS altitude + geoid separation
(a missing separation counts as 0: such receivers report ellipsoid height or have no
geoid model); SOG/COG from RMC or VTG; quality and satellites from GGA/GNS (RMC/GLL
mode letter otherwise); HDOP from GGA/GNS, else GSA; the receiver's own error
estimate from GST (below).

GST (NMEA 0183 "GNSS pseudorange error statistics"; u-blox's and NovAtel's GST pages
give the same fields) carries, besides the time of the fix it belongs to, the standard
deviation in metres of the latitude, longitude and altitude error (data fields 5, 6, 7:
the sentence's fields 6, 7, 8).  They become the fix's ``eph_m`` and ``epv_m``, both
about 95 %: ``epv_m`` = 1.96 σ_alt (the two-sided 95 % point of a normal error);
``eph_m`` = 2.448 σ, the radius holding 95 % of a circular normal error with σ per axis
(sqrt(-2 ln 0.05); NovAtel's APN-029: "R95 = 2.45 σ"), with σ the RMS of the two,
sqrt((σ_lat² + σ_lon²) / 2).  For σ_lat ≠ σ_lon that is an approximation: the true 95 %
radius of an elongated error ellipse lies between 2.448 and 2.772 (= 1.96 × sqrt 2)
times the RMS σ, so ``eph_m`` is exact for a round error and at most 12 % short for a
degenerate (one-axis) one, which it then holds 91.6 % of the time.  An empty σ, or 0
(NovAtel's GPGST example prints 0.00, a σ below its resolution; others send 0 for "not
computed"), gives None for what it feeds: the uncertainty then comes from HDOP, as
without GST.  A σ that is not a finite number >= 0 makes the GST unparsable (nothing of
it is taken).  GST is a member type like the others: once a source is known to send it,
its epochs wait for it (receivers send it last or nearly, after GLL), so its values reach
the epoch's fix.  A GST with another time belongs to another epoch, as for every timed
sentence.

Emission, for live alerting: the assembler learns per source which of GGA, RMC, GNS,
GLL and VTG (and GSA, when nothing else carries HDOP) arrive every epoch, and emits an
epoch the moment all of them are in.  Otherwise an epoch is emitted when a sentence
with a different time arrives, or on :meth:`EpochAssembler.flush`.  A type that turns
up after its epoch was emitted is learned at once; a learned type is forgotten after
it was missing from three epochs in a row.  Sentences for an epoch already emitted
(late GSA, duplicates via a second path) are counted ``unused`` and change nothing.

Date: from the epoch's RMC, unless that puts the fix more than a day from the receive
time (a GPS week rollover: 1024 weeks back); else from the receive time (TAG ``c:`` or
the caller's clock), choosing the date that puts the fix nearest to it; else the last date used,
advanced when the time of day wraps past midnight.  Dates before 2001 (receivers
whose clock starts in 1980 or 2000, two-digit years 80/99) and unparsable dates count
as unknown.  An epoch with no position is dropped as ``no_fix``, one with no date as
``no_date``.  A leap second ``hh:mm:60`` maps to the next minute's ``:00`` as in
POSIX time; a second fix with the same time as the previous one is dropped
(``duplicate_time``).

Sentence validity (``no_fix``): GGA quality 0, 7 (manual) or 8 (simulator); RMC/GLL
status other than A, or mode N/S/M (RMC's NMEA 4.10 navigational status, S/C/U/V, is
ignored: V means "not provided"); GNS mode without any of A/D/P/R/F/E; VTG mode
N/S/M; GSA fix type other than 2/3; an empty latitude or longitude always (pynmea2
would turn it into 0.0).  Simulator and manual modes are refused because their
positions are not real.
"""

from __future__ import annotations

import datetime
import math
from collections import Counter
from collections.abc import Callable
from statistics import NormalDist
from types import MethodType
from typing import Any

from pynmea2.nmea_utils import datestamp, dm_to_sd

from sepmon.core.model import Fix, new_fix
from sepmon.core.nmea import USED_TYPES, Reject, Sentence
from sepmon.core.sentences import GGA_FIX, MODE_QUALITY, SENTENCES, SentenceSpec

# Line outcomes besides the Reject reasons.
USED = "used"
UNUSED = "unused"

_KNOT_MPS = 1852.0 / 3600.0
_KMH_MPS = 1.0 / 3.6
_EPOCH_ORDINAL = datetime.date(1970, 1, 1).toordinal()
_FIRST_TRUSTED_DAY = datetime.date(2001, 1, 1).toordinal() - _EPOCH_ORDINAL
_MISS_LIMIT = 3
_RECENT = 64
# Receivers that missed the GPS week rollover of 2019-04-06 count from 1999-08-22 again:
# a date from there to the end of 1999 is 1024 weeks (7168 days) early.
_WKRO_1999 = datetime.date(1999, 8, 22).toordinal() - _EPOCH_ORDINAL
_WKRO_END = datetime.date(2000, 1, 1).toordinal() - _EPOCH_ORDINAL
_WEEKS_1024 = 7168
# Epochs without any date held for a later one (offline: a GGA/GLL-only start, a ZDA
# after its epoch); beyond this many the oldest is dropped as no_date.
_HELD_MAX = 1 << 17

# From the sentence table (sepmon.core.sentences): the types that make an epoch complete,
# those that carry HDOP, validity letters; the fast adds below pad to its field counts.
_MEMBERS = frozenset(k for k, v in SENTENCES.items() if v.member)
_HDOP_CARRIERS = frozenset(
    k for k, v in SENTENCES.items() if v.member and v.hdop is not None and v.time is not None
)
_GGA_FIX = GGA_FIX
_MODE_QUALITY = MODE_QUALITY
_N = {k: v.fields for k, v in SENTENCES.items()}
_N_GGA, _N_GNS, _N_RMC, _N_GLL, _N_VTG, _N_GSA, _N_GST = (
    _N[k] for k in ("GGA", "GNS", "RMC", "GLL", "VTG", "GSA", "GST")
)
# GST's standard deviations → about 95 % (module docstring): the 2-D radius from the RMS
# σ of the two axes is hypot(σ_lat, σ_lon) / sqrt(2) × sqrt(-2 ln 0.05); the vertical
# bound is the normal distribution's two-sided 95 % point, 1.96.
_EPH_PER_HYPOT = math.sqrt(-2.0 * math.log(0.05)) / math.sqrt(2.0)
_EPV_PER_SIGMA = NormalDist().inv_cdf(0.975)
_isfinite = math.isfinite
_INF = math.inf


def _time_key(s: str) -> float:
    """``hhmmss[.sss]`` → the same number as a float (a per-day epoch key); -1.0 if malformed."""
    n = len(s)
    if n < 6 or not s[:6].isdigit():
        return -1.0
    if n > 6 and (s[6] != "." or not (n == 7 or s[7:].isdigit())):
        return -1.0
    if s[0:2] > "23" or s[2:4] > "59" or s[4:6] > "60":  # two-digit strings compare like numbers
        return -1.0
    return float(s)


# Time string → (_time_key, seconds of the day), shared by every assembler: the sources of
# a recording or a network share their epochs' time strings, so one parse serves all of
# them.  Cleared when full, which bounds it whatever the input.
_TIMES: dict[str, tuple[float, float]] = {}
_TIMES_MAX = 4096


def _time_of(s: str) -> tuple[float, float]:
    """``hhmmss[.sss]`` → (:func:`_time_key`, seconds of the day; 0.0 when malformed)."""
    got = _TIMES.get(s)
    if got is None:
        key = _time_key(s)
        tod = int(s[0:2]) * 3600 + int(s[2:4]) * 60 + float(s[4:]) if key >= 0 else 0.0
        if len(_TIMES) >= _TIMES_MAX:
            _TIMES.clear()
        got = _TIMES[s] = (key, tod)
    return got


def time_of_day(s: str) -> float | None:
    """``hhmmss[.sss]`` → seconds of the day, None when malformed (the assembler's own parse)."""
    key, tod = _time_of(s)
    return tod if key >= 0 else None


def day_number(s: str) -> int | None:
    """``ddmmyy`` → days since 1970 (pynmea2's datestamp), None when unknown or not trusted.

    Dates before 2001 are a receiver clock not set yet (1980/2000) or a rolled-over week
    number; a receiver that missed the 2019 week rollover (1999 dates) is moved 1024 weeks on.
    """
    try:
        days: int = datestamp(s).toordinal() - _EPOCH_ORDINAL
    except ValueError:
        return None
    if _WKRO_1999 <= days < _WKRO_END:
        return days + _WEEKS_1024
    return days if days >= _FIRST_TRUSTED_DAY else None


def _opt_float(s: str) -> float | None:
    """Empty → None; otherwise a finite float or ValueError."""
    if not s:
        return None
    v = float(s)
    if not -_INF < v < _INF:  # NaN fails both comparisons
        raise ValueError(s)
    return v


def _count(s: str) -> int | None:
    """Empty → None; otherwise an int >= 0 or ValueError."""
    if not s:
        return None
    n = int(s)
    if n < 0:
        raise ValueError(s)
    return n


def _nonneg(s: str) -> float | None:
    """Empty → None; otherwise a finite float >= 0 (-0.0 included) or ValueError."""
    if not s:
        return None
    v = float(s)
    if not 0.0 <= v < _INF:
        raise ValueError(s)
    return v


def _gst_errors(lat_s: str, lon_s: str, alt_s: str) -> tuple[float | None, float | None]:
    """GST's σ of latitude, longitude and altitude error (m) → (eph, epv), both ~95 %.

    None where a σ is empty or 0 (no estimate); ValueError for one that is not a finite
    number >= 0, or a result too large for a float.
    """
    sig_lat, sig_lon, sig_alt = _nonneg(lat_s), _nonneg(lon_s), _nonneg(alt_s)
    eph = epv = None
    if sig_lat and sig_lon:
        eph = math.hypot(sig_lat, sig_lon) * _EPH_PER_HYPOT
        if not eph < _INF:
            raise ValueError(lat_s)
    if sig_alt:
        epv = sig_alt * _EPV_PER_SIGMA
        if not epv < _INF:
            raise ValueError(alt_s)
    return eph, epv


def _latlon(f: list[str], i: int) -> tuple[float, float]:
    """Fields ``ddmm.mmm,N,dddmm.mmm,E`` at ``i`` → signed degrees, or ValueError.

    Hemisphere letters, minutes < 60 and degree ranges are checked here, because
    pynmea2's dm_to_sd returns 0.0 for a missing hemisphere, accepts a bare "0" (no
    point) and minutes >= 60.
    """
    lat_s, ns, lon_s, ew = f[i], f[i + 1], f[i + 2], f[i + 3]
    a = lat_s.find(".")
    b = lon_s.find(".")
    if a < 3 or b < 3 or lat_s[a - 2] > "5" or lon_s[b - 2] > "5":
        raise ValueError(lat_s + lon_s)
    # The degrees conversion is done here rather than by dm_to_sd: it runs for every
    # position on the ingest hot path, and dm_to_sd's regex match costs more than the
    # rest of it.  Digits on both sides of the point (what dm_to_sd's ``\d`` matches:
    # isdecimal) → the same arithmetic as dm_to_sd; anything else → dm_to_sd itself.
    if lat_s[:a].isdecimal() and lat_s[a + 1 :].isdecimal():
        lat = float(lat_s[: a - 2]) + float(lat_s[a - 2 :]) / 60
    else:
        lat = dm_to_sd(lat_s)
    if lon_s[:b].isdecimal() and lon_s[b + 1 :].isdecimal():
        lon = float(lon_s[: b - 2]) + float(lon_s[b - 2 :]) / 60
    else:
        lon = dm_to_sd(lon_s)
    if lat > 90.0 or lon > 180.0:
        raise ValueError(lat_s + lon_s)
    if ns == "S":
        lat = -lat
    elif ns != "N":
        raise ValueError(ns)
    if ew == "W":
        lon = -lon
    elif ew != "E":
        raise ValueError(ew)
    return lat, lon


def _velocity(knots: str, kmh: str | None, course: str) -> tuple[float | None, float | None]:
    """Speed (knots, else km/h) in m/s and course in [0, 360); None where empty.

    ValueError for a value that is not a finite number, or a negative speed.
    """
    # _nonneg and _opt_float, inline: this runs for every RMC and VTG.
    sog = None
    if knots:
        v = float(knots)
        if not 0.0 <= v < _INF:
            raise ValueError(knots)
        sog = v * _KNOT_MPS
    elif kmh:
        v = float(kmh)
        if not 0.0 <= v < _INF:
            raise ValueError(kmh)
        sog = v * _KMH_MPS
    cog = None
    if course:
        cog = float(course)
        if not -_INF < cog < _INF:
            raise ValueError(course)
        cog %= 360.0
        if cog >= 360.0:  # a tiny negative course rounds up to 360.0 under %
            cog = 0.0
    return sog, cog


class EpochAssembler:
    """Per-source epoch assembly; see the module docstring for the rules.

    ``fixes`` counts emitted fixes; ``dropped`` counts epochs that produced none, by
    reason (``no_fix``, ``no_date``, ``duplicate_time``).
    """

    __slots__ = (
        "_alt",
        "_bad_date",
        "_cog",
        "_date_cache",
        "_day_src",
        "_days",
        "_default_days",
        "_eph",
        "_epv",
        "_expected",
        "_geoid",
        "_gga_pos",
        "_hdop",
        "_held",
        "_key",
        "_last_days",
        "_last_t",
        "_last_tod",
        "_lat",
        "_lon",
        "_miss",
        "_mode_quality",
        "_open",
        "_quality",
        "_recent",
        "_ref_src",
        "_rx_t",
        "_sats",
        "_sig",
        "_sig_ew",
        "_sig_lon",
        "_sig_ns",
        "_sog",
        "_tkey",
        "_tod",
        "_tstr",
        "_ttod",
        "_types",
        "dated_by",
        "dropped",
        "fixes",
        "source",
    )

    def __init__(self, source: str, default_date: datetime.date | None = None) -> None:
        self.source = source
        self.fixes = 0
        self.dropped: Counter[str] = Counter()
        # Where each fix's date came from: RMC, ZDA, receive time, --date, relative.
        self.dated_by: Counter[str] = Counter()
        self._default_days = None if default_date is None else default_date.toordinal() - _EPOCH_ORDINAL
        # Undated epochs waiting for a date: (time of day, the Fix's fields but source and t).
        self._held: list[tuple[float, tuple[Any, ...]]] = []
        self._ref_src = ""  # what dated _last_days
        self._key: float | None = None  # time key of the open epoch, or of the last emitted one
        self._open = False
        self._types: set[str] = set()
        self._expected: set[str] = set()
        self._miss: dict[str, int] = {}
        # Keys of recently emitted epochs, oldest first → the latitude text of their position.
        self._recent: dict[float, str] = {}
        self._last_days: int | None = None
        self._last_tod = 0.0
        self._last_t: float | None = None
        self._date_cache: tuple[str, int | None] = ("", None)
        self._tod = 0.0
        self._rx_t: float | None = None
        self._tstr = ""  # the last time string seen, its _time_key and time of day
        self._tkey = -1.0
        self._ttod = 0.0
        self._clear()

    def _clear(self) -> None:
        self._lat: float | None = None
        self._lon = 0.0
        self._alt: float | None = None
        self._geoid: float | None = None  # the separation that came with _alt
        self._eph: float | None = None  # the receiver's own error estimates (GST)
        self._epv: float | None = None
        self._sog: float | None = None
        self._cog: float | None = None
        self._quality: int | None = None  # from GGA/GNS: wins over the RMC/GLL mode letter
        self._mode_quality: int | None = None
        self._hdop: float | None = None
        self._sats: int | None = None
        self._days: int | None = None
        self._bad_date = False  # the epoch's RMC carried a date that cannot be right
        self._gga_pos = False  # the position came from GGA/GNS
        self._day_src = ""  # what gave _days: "" for RMC, "ZDA"
        self._sig = ""
        self._sig_lon = ""
        # The hemisphere letters that came with _sig/_sig_lon: read only while _sig_lon
        # matches, and set with it, so the per-epoch reset in _enter need not clear them.
        self._sig_ns = ""
        self._sig_ew = ""

    @property
    def expected(self) -> frozenset[str]:
        """The sentence types this source is currently known to send every epoch."""
        return frozenset(self._expected)

    def add(self, s: Sentence, rx_t: float | None, out: list[Fix]) -> str:
        """Take one sentence; append any fix it completes to ``out``.

        Returns the line's outcome: :data:`USED`, :data:`UNUSED` (its epoch was already
        emitted, or no epoch was open), ``Reject.NO_FIX`` or
        ``Reject.UNPARSABLE``.  The same as ``self.handler(s[0])(s[2], rx_t, out)``.
        """
        return _ADD[s[0]](self, s[2], rx_t, out)

    def handler(self, kind: str) -> Handler:
        """:meth:`add` for one sentence type (a ``USED_TYPES`` member), bound to this assembler.

        ``handler(kind)(fields, rx_t, out)`` does what ``add((kind, talker, fields), rx_t,
        out)`` does without dispatching on the type: the ingest fast path looks the
        handler up once per source and address and calls it for each such sentence.
        """
        return MethodType(_ADD[kind], self)

    def flush(self, out: list[Fix]) -> None:
        """End of stream (or a long silence): emit the open epoch, if any.

        Epochs still waiting for a date then get the ``default_date`` (``--date``) or,
        without one, a relative time base: their UTC time of day on 1970-01-01.
        """
        self._emit(out)
        if self._held:
            first_tod = self._held[0][0]
            if self._default_days is not None:
                self._release(self._default_days, first_tod, out, "--date")
            else:
                self._release(0, first_tod, out, "relative")

    def date_sources(self) -> Counter[str]:
        """Fixes by where their date came from: RMC, ZDA, receive time, --date, relative."""
        got = Counter(self.dated_by)
        rmc = self.fixes - got.total()
        if rmc > 0:
            got["RMC"] = rmc
        return +got

    # One add per sentence type (dispatched through _ADD, see the end of the module):
    # validity, time and merge of a type in one place, so a sentence pays for no
    # if-chain on its type and no table look-ups.  Every one follows the same steps:
    # pad a short (truncated but checksum-valid) sentence so every index read exists;
    # validity; the epoch it belongs to (_enter for a timed type, _closed for a
    # time-less one); note the type; convert and merge the fields if valid; emit when
    # every expected type is in.  Fields are indexed by number, at pynmea2's positions
    # (sepmon.core.nmea.FIELD; test_epoch.py holds the numbers to that table).

    def _enter(
        self, kind: str, tstr: str, valid: bool, rx_t: float | None, out: list[Fix], sig: str = ""
    ) -> str | None:
        """Epoch of a timed sentence whose time is not (or not known to be) the open epoch's.

        None when the sentence belongs to the open epoch (started here for a new time,
        after emitting the previous one); otherwise the line's outcome.  The callers
        skip this call when ``tstr`` is the open epoch's time string, the usual case.
        """
        if not tstr:
            return Reject.UNPARSABLE if valid else Reject.NO_FIX
        if tstr == self._tstr:  # RMC, GGA, ... of one epoch carry the same time string
            key = self._tkey
        else:
            got = _TIMES.get(tstr)  # _time_of's cache hit, inline: once per epoch and source
            key, self._ttod = got if got is not None else _time_of(tstr)
            self._tkey = key
            self._tstr = tstr
        if key < 0:
            return Reject.UNPARSABLE
        if key != self._key:
            if key in self._recent:
                # The time of an epoch emitted lately: a duplicate (second path, re-send)
                # unless it carries another position, i.e. the receiver's time stepped
                # back.  Then the duplicate window no longer means anything.
                if not (valid and sig and self._recent[key] != sig):
                    return UNUSED if valid else Reject.NO_FIX
                self._recent.clear()
            if self._open:
                self._emit(out)  # a new time closes the open epoch, complete or not
            # _start and _clear, inline (two calls per epoch saved); keep in step with them.
            self._key = key
            self._open = True
            self._types.clear()
            self._lat = None
            self._lon = 0.0
            self._alt = None
            self._geoid = None
            self._eph = None
            self._epv = None
            self._sog = None
            self._cog = None
            self._quality = None
            self._mode_quality = None
            self._hdop = None
            self._sats = None
            self._days = None
            self._bad_date = False
            self._gga_pos = False
            self._day_src = ""
            self._sig = ""
            self._sig_lon = ""
            self._tod = self._ttod
            self._rx_t = rx_t
        elif not self._open:
            self._learn_late(kind)
            return UNUSED if valid else Reject.NO_FIX
        return None

    def _closed(self, kind: str, valid: bool) -> str:
        """Outcome of a time-less sentence when no epoch is open."""
        # _learn_late, inline: a late GSA after its epoch is the most common case.
        if self._key is not None and (
            kind in _MEMBERS or (kind == "GSA" and self._expected.isdisjoint(_HDOP_CARRIERS))
        ):
            self._expected.add(kind)
            self._miss.pop(kind, None)
        return UNUSED if valid else Reject.NO_FIX

    def _add_gga(self, f: list[str], rx_t: float | None, out: list[Fix]) -> str:
        if len(f) < _N_GGA:
            f = f + [""] * (_N_GGA - len(f))
        valid = f[5] in _GGA_FIX and f[1] != "" and f[3] != ""
        tstr = f[0]
        if tstr != self._tstr or self._tkey != self._key or not self._open:
            early = self._enter("GGA", tstr, valid, rx_t, out, f[1])
            if early is not None:
                return early
        self._types.add("GGA")
        # A second sentence of a type (another talker, a second path) only fills gaps.
        status = self._merge_fix(f, int(f[5]), f[10]) if valid else Reject.NO_FIX
        if self._expected and self._expected <= self._types:
            self._emit(out)
        return status

    def _add_gns(self, f: list[str], rx_t: float | None, out: list[Fix]) -> str:
        if len(f) < _N_GNS:
            f = f + [""] * (_N_GNS - len(f))
        # The first fix mode letter of any constellation; 0 when there is none.
        q = next((_MODE_QUALITY[c] for c in f[5] if c in _MODE_QUALITY), 0)
        valid = q > 0 and f[1] != "" and f[3] != ""
        tstr = f[0]
        if tstr != self._tstr or self._tkey != self._key or not self._open:
            early = self._enter("GNS", tstr, valid, rx_t, out, f[1])
            if early is not None:
                return early
        self._types.add("GNS")
        status = self._merge_fix(f, q, f[9]) if valid else Reject.NO_FIX
        if self._expected and self._expected <= self._types:
            self._emit(out)
        return status

    def _add_rmc(self, f: list[str], rx_t: float | None, out: list[Fix]) -> str:
        if len(f) < _N_RMC:
            f = f + [""] * (_N_RMC - len(f))
        mode = f[11]
        valid = (
            f[1] == "A"
            and (not mode or mode[0] in _MODE_QUALITY)  # absent/empty: a pre-2.3 receiver
            # f[12], NMEA 4.10's navigational status (S/C/U/V), says nothing about the fix:
            # V is "not provided", which u-blox M9/M10/F9 and most others always send.
            and f[2] != ""
            and f[4] != ""
        )
        tstr = f[0]
        if tstr != self._tstr or self._tkey != self._key or not self._open:
            early = self._enter("RMC", tstr, valid, rx_t, out, f[2])
            if early is not None:
                return early
        self._types.add("RMC")
        status: str = Reject.NO_FIX
        if valid:
            try:
                sog, cog = _velocity(f[6], None, f[7])
                pos = _latlon(f, 2) if self._lat is None else None
            except ValueError:
                status = Reject.UNPARSABLE
            else:
                # An unknown date is no reason to drop the position.  The cache hit of
                # _date inline: one epoch's date is the last one's.
                cached, days = self._date_cache
                if f[8] != cached:
                    days = self._date(f[8])
                if self._sog is None:
                    self._sog = sog
                if self._cog is None:
                    self._cog = cog
                if pos is not None:
                    self._lat, self._lon = pos
                    self._sig = f[2]
                    self._sig_lon = f[4]
                    self._sig_ns = f[3]
                    self._sig_ew = f[5]
                if self._mode_quality is None:
                    self._mode_quality = _MODE_QUALITY.get(mode[:1], 1)
                if self._days is None:
                    self._days = days
                    # A date the receiver got wrong (clock not set, garbage): its time
                    # of day is not to be trusted either, so no later date rescues it.
                    self._bad_date = days is None
                status = USED
        if self._expected and self._expected <= self._types:
            self._emit(out)
        return status

    def _add_gll(self, f: list[str], rx_t: float | None, out: list[Fix]) -> str:
        if len(f) < _N_GLL:
            f = f + [""] * (_N_GLL - len(f))
        mode = f[6]
        valid = f[5] == "A" and (not mode or mode[0] in _MODE_QUALITY) and f[0] != "" and f[2] != ""
        tstr = f[4]
        if tstr != self._tstr or self._tkey != self._key or not self._open:
            early = self._enter("GLL", tstr, valid, rx_t, out, f[0])
            if early is not None:
                return early
        self._types.add("GLL")
        status: str = Reject.NO_FIX
        if valid:
            try:
                pos = _latlon(f, 0) if self._lat is None else None
            except ValueError:
                status = Reject.UNPARSABLE
            else:
                self._merge_position(pos, mode)
                if pos is not None:
                    self._sig = f[0]
                status = USED
        if self._expected and self._expected <= self._types:
            self._emit(out)
        return status

    def _add_gst(self, f: list[str], rx_t: float | None, out: list[Fix]) -> str:
        # GST has no validity flag: it opens or joins an epoch and gives its error estimates.
        if len(f) < _N_GST:
            f = f + [""] * (_N_GST - len(f))
        tstr = f[0]
        if tstr != self._tstr or self._tkey != self._key or not self._open:
            early = self._enter("GST", tstr, True, rx_t, out)
            if early is not None:
                return early
        self._types.add("GST")
        status: str = USED
        try:
            eph, epv = _gst_errors(f[5], f[6], f[7])
        except ValueError:
            status = Reject.UNPARSABLE
        else:
            if self._eph is None:
                self._eph = eph
            if self._epv is None:
                self._epv = epv
        if self._expected and self._expected <= self._types:
            self._emit(out)
        return status

    def _add_zda(self, f: list[str], rx_t: float | None, out: list[Fix]) -> str:
        # ZDA (time, day, month, 4-digit year) dates epochs; it opens or joins none:
        # receivers send it after their epoch, some with the next second's time.
        if len(f) < 4 or not (f[0] and f[1] and f[2] and f[3]):
            return Reject.NO_FIX  # no time yet
        key, tod = _time_of(f[0])
        try:
            day = datetime.date(int(f[3]), int(f[2]), int(f[1])).toordinal() - _EPOCH_ORDINAL
        except ValueError:
            return Reject.UNPARSABLE
        if key < 0:
            return Reject.UNPARSABLE
        if day < _FIRST_TRUSTED_DAY:
            return Reject.NO_FIX  # the receiver's clock is not set yet
        if self._open and self._days is None:
            # The day that puts the open epoch nearest the ZDA's time.
            self._days = round((day * 86400.0 + tod - self._tod) / 86400.0)
            self._day_src = "ZDA"
        if rx_t is None:
            # The date for epochs without one (GGA-only receivers), as a date used last.
            self._last_days = day
            self._last_tod = tod
            self._ref_src = "ZDA"
            if self._held:
                self._release(day, tod, out, "ZDA")
        return USED

    def _add_vtg(self, f: list[str], rx_t: float | None, out: list[Fix]) -> str:
        if len(f) < _N_VTG:
            f = f + [""] * (_N_VTG - len(f))
        mode = f[8]
        valid = not mode or mode[0] in _MODE_QUALITY
        if not self._open:
            return self._closed("VTG", valid)
        self._types.add("VTG")
        status: str = Reject.NO_FIX
        if valid:
            try:
                if f[1] in ("T", ""):
                    sog, cog = _velocity(f[4], f[6], f[0])
                else:  # pre-2.3 VTG without unit letters: track, magnetic, knots, km/h
                    sog, cog = _velocity(f[2], f[3], f[0])
            except ValueError:
                status = Reject.UNPARSABLE
            else:
                if self._sog is None:
                    self._sog = sog
                if self._cog is None:
                    self._cog = cog
                status = USED
        if self._expected and self._expected <= self._types:
            self._emit(out)
        return status

    def _add_gsa(self, f: list[str], rx_t: float | None, out: list[Fix]) -> str:
        if len(f) < _N_GSA:
            f = f + [""] * (_N_GSA - len(f))
        valid = f[1] in ("2", "3")
        if not self._open:
            return self._closed("GSA", valid)
        self._types.add("GSA")
        status: str = Reject.NO_FIX
        if valid:
            try:
                hdop = _nonneg(f[15])
            except ValueError:
                status = Reject.UNPARSABLE
            else:
                if self._hdop is None:
                    self._hdop = hdop
                status = USED
        if self._expected and self._expected <= self._types:
            self._emit(out)
        return status

    def gsa_line(self, body: bytes, rx_t: float | None, out: list[Fix]) -> str:
        """``handler("GSA")(body.decode("ascii").split(","), rx_t, out)`` from the raw fields.

        ``body``: an ASCII GSA's fields, the text between ``$xxGSA,`` and ``*``.  A GSA
        mostly comes after its epoch was emitted (GGA carries HDOP), where only its fix
        type (field 1) decides the outcome: that case reads it from the bytes and skips
        the decode and the split into 18 strings.
        """
        if self._open:
            return self._add_gsa(body.decode("ascii").split(","), rx_t, out)
        # Field 1 is "2" or "3": the bytes between the first comma and the next one (or the end).
        i = body.find(b",") + 1
        valid = i > 0 and (body[i : i + 2] in (b"2,", b"3,") or body[i:] in (b"2", b"3"))
        return self._closed("GSA", valid)

    # ---- The reference path: every rule from the sentence's table entry ----------------

    def add_from_table(self, spec: SentenceSpec, f: list[str], rx_t: float | None, out: list[Fix]) -> str:
        """:meth:`add` driven by ``spec`` alone (:mod:`sepmon.core.sentences`).

        The path of a sentence type without a fast add, and the reference the fast adds
        are tested against (:class:`sepmon.core.epoch_reference.ReferenceAssembler`).
        """
        if spec.date_only:
            return self._table_date(spec, f, rx_t, out)
        if len(f) < spec.fields:
            f = f + [""] * (spec.fields - len(f))
        valid = _table_valid(spec, f)
        kind = spec.kind
        if spec.time is not None:
            tstr = f[spec.time]
            if not tstr:
                return Reject.UNPARSABLE if valid else Reject.NO_FIX
            key = _time_key(tstr)
            if key < 0:
                return Reject.UNPARSABLE
            if key != self._key:
                if key in self._recent:
                    sig = f[spec.lat] if spec.lat is not None else ""
                    if not valid or not sig or self._recent[key] == sig:
                        return UNUSED if valid else Reject.NO_FIX
                    self._recent.clear()  # the receiver's time stepped back
                if self._open:
                    self._emit(out)
                self._start(key, int(tstr[0:2]) * 3600 + int(tstr[2:4]) * 60 + float(tstr[4:]), rx_t)
            elif not self._open:
                self._learn_late(kind)
                return UNUSED if valid else Reject.NO_FIX
        elif not self._open:
            if self._key is not None:
                self._learn_late(kind)
            return UNUSED if valid else Reject.NO_FIX
        self._types.add(kind)
        status = self._table_take(spec, f) if valid else Reject.NO_FIX
        if self._expected and self._expected <= self._types:
            self._emit(out)
        return status

    def _table_take(self, spec: SentenceSpec, f: list[str]) -> str:
        """Convert every value ``spec`` names, then merge (first sentence that has it wins)."""
        try:
            sats = _count(f[spec.sats]) if spec.sats is not None else None
            hdop = _nonneg(f[spec.hdop]) if spec.hdop is not None else None
            alt = _opt_float(f[spec.alt]) if spec.alt is not None else None
            sep = _opt_float(f[spec.sep]) if spec.sep is not None else None
            sog = cog = None
            if spec.sog_kn is not None and spec.cog is not None:
                if spec.legacy_vtg and f[1] not in ("T", ""):  # pre-2.3: track, magnetic, knots, km/h
                    sog, cog = _velocity(f[2], f[3], f[0])
                else:
                    kmh = f[spec.sog_kmh] if spec.sog_kmh is not None else None
                    sog, cog = _velocity(f[spec.sog_kn], kmh, f[spec.cog])
            pos = None
            if spec.lat is not None and (
                (spec.position_first and not self._gga_pos) or (not spec.position_first and self._lat is None)
            ):
                pos = _latlon(f, spec.lat)
            errors = None
            if spec.sd_lat is not None and spec.sd_lon is not None and spec.sd_alt is not None:
                errors = _gst_errors(f[spec.sd_lat], f[spec.sd_lon], f[spec.sd_alt])
        except ValueError:
            return Reject.UNPARSABLE
        if errors is not None:
            if self._eph is None:
                self._eph = errors[0]
            if self._epv is None:
                self._epv = errors[1]
        if pos is not None:
            assert spec.lat is not None
            self._lat, self._lon = pos
            self._sig, self._sig_lon = f[spec.lat], f[spec.lat + 2]
            self._sig_ns, self._sig_ew = f[spec.lat + 1], f[spec.lat + 3]
        if spec.position_first:
            self._gga_pos = True
        if spec.quality is not None and self._quality is None:
            self._quality = int(f[spec.quality])
        if spec.mode is not None:
            letters = f[spec.mode]
            if spec.any_mode:
                if self._quality is None:
                    self._quality = next(_MODE_QUALITY[c] for c in letters if c in _MODE_QUALITY)
            elif self._mode_quality is None and spec.lat is not None:
                self._mode_quality = _MODE_QUALITY.get(letters[:1], 1)
        if self._sats is None and spec.sats is not None:
            self._sats = sats
        if self._hdop is None and spec.hdop is not None:
            self._hdop = hdop
        if self._alt is None and alt is not None:
            e = alt + (sep or 0.0)
            if _isfinite(e):
                self._alt = e
                self._geoid = sep
        if spec.cog is not None:
            if self._sog is None:
                self._sog = sog
            if self._cog is None:
                self._cog = cog
        if spec.date is not None and self._days is None:
            self._days = self._date(f[spec.date])
            self._bad_date = self._days is None
        return USED

    def _table_date(self, spec: SentenceSpec, f: list[str], rx_t: float | None, out: list[Fix]) -> str:
        """A date-only sentence (ZDA: time, day, month, 4-digit year): dates, opens nothing."""
        if len(f) < 4 or not all(f[:4]):
            return Reject.NO_FIX
        key = _time_key(f[0])
        try:
            day = datetime.date(int(f[3]), int(f[2]), int(f[1])).toordinal() - _EPOCH_ORDINAL
        except ValueError:
            return Reject.UNPARSABLE
        if key < 0:
            return Reject.UNPARSABLE
        if day < _FIRST_TRUSTED_DAY:
            return Reject.NO_FIX
        tod = int(f[0][0:2]) * 3600 + int(f[0][2:4]) * 60 + float(f[0][4:])
        if self._open and self._days is None:
            self._days = round((day * 86400.0 + tod - self._tod) / 86400.0)
            self._day_src = spec.kind
        if rx_t is None:
            self._last_days, self._last_tod, self._ref_src = day, tod, spec.kind
            if self._held:
                self._release(day, tod, out, spec.kind)
        return USED

    def _start(self, key: float, tod: float, rx_t: float | None) -> None:
        self._key = key
        self._open = True
        self._types.clear()
        self._clear()
        self._tod = tod
        self._rx_t = rx_t

    def _learn_late(self, kind: str) -> None:
        # A member type after its epoch was emitted: wait for it from the next epoch on.
        if kind in _MEMBERS or (kind == "GSA" and self._expected.isdisjoint(_HDOP_CARRIERS)):
            self._expected.add(kind)
            self._miss.pop(kind, None)

    def _merge_fix(self, f: list[str], q: int, sep: str) -> str:
        """GGA/GNS: position (at 1), quality, satellites (6), HDOP (7), altitude (8) + ``sep``.

        USED, or UNPARSABLE with nothing merged when any field is bad.
        """
        sats, hdop, alt = f[6], f[7], f[8]
        try:
            n = int(sats) if sats else None
            h = float(hdop) if hdop else None
            a = float(alt) if alt else None
            g = float(sep) if sep else None
            # GGA/GNS's position wins over RMC/GLL's (some receivers round them
            # differently): it is the one their height and quality belong to.
            # The same text as RMC's (the usual case, hemispheres included) needs no
            # second conversion.
            pos = None
            if not self._gga_pos and (
                f[1] != self._sig or f[3] != self._sig_lon or f[2] != self._sig_ns or f[4] != self._sig_ew
            ):
                pos = _latlon(f, 1)
        except ValueError:
            return Reject.UNPARSABLE
        # _opt_count, _nonneg and _opt_float's checks, inline (four calls per sentence saved).
        if (
            (n is not None and n < 0)
            or (h is not None and not 0.0 <= h < _INF)
            or (a is not None and not -_INF < a < _INF)
            or (g is not None and not -_INF < g < _INF)
        ):
            return Reject.UNPARSABLE
        # Everything converted: merge (first sentence that has a field wins).
        if pos is not None:
            self._lat, self._lon = pos
            self._sig = f[1]
        self._gga_pos = True
        if self._quality is None:
            self._quality = q
        if self._sats is None:
            self._sats = n
        if self._hdop is None:
            self._hdop = h
        if self._alt is None and a is not None:
            e = a + (g or 0.0)
            if _isfinite(e):  # two huge finite fields can add up to infinity
                self._alt = e
                self._geoid = g
        return USED

    def _merge_position(self, pos: tuple[float, float] | None, mode: str) -> None:
        """RMC/GLL: position, and a quality from the mode letter when nothing better came."""
        if pos is not None:
            self._lat, self._lon = pos
        if self._mode_quality is None:
            self._mode_quality = _MODE_QUALITY.get(mode[:1], 1)

    def _date(self, s: str) -> int | None:
        """RMC ``ddmmyy`` → days since 1970 (pynmea2's datestamp), None when unknown."""
        cached, days = self._date_cache
        if s == cached:
            return days
        days = day_number(s)
        self._date_cache = (s, days)
        return days

    def _emit(self, out: list[Fix]) -> None:
        if not self._open:
            return
        self._open = False
        key = self._key
        assert key is not None
        self._recent[key] = self._sig
        if len(self._recent) > _RECENT:
            del self._recent[next(iter(self._recent))]
        types = self._types
        # _learn's usual case, without its set operations: exactly the expected types
        # came (so nothing new and, with no misses pending, nothing to count).
        if self._miss or types != self._expected or "GSA" in types:
            self._learn(types)
        if self._lat is None:
            self.dropped["no_fix"] += 1
            return
        days = self._resolve_days()
        if days is None:
            if self._bad_date or self._rx_t is not None:
                self.dropped["no_date"] += 1
            else:
                self._hold()
            return
        if self._held:
            self._release(days, self._tod, out, self._ref_src)
        t = days * 86400.0 + self._tod
        if t == self._last_t:
            self.dropped["duplicate_time"] += 1
            return
        self._last_t = t
        self.fixes += 1
        out.append(
            new_fix(
                self.source,
                t,
                self._lat,
                self._lon,
                self._alt,
                self._sog,
                self._cog,
                self._quality or self._mode_quality or 1,
                self._hdop,
                self._sats,
                self._rx_t,
                self._geoid,
                self._eph,
                self._epv,
            )
        )

    def _hold(self) -> None:
        """Keep an epoch that has no date yet (offline, before the first date)."""
        if len(self._held) >= _HELD_MAX:
            del self._held[0]
            self.dropped["no_date"] += 1
        self._held.append(
            (
                self._tod,
                (
                    self._lat or 0.0,
                    self._lon,
                    self._alt,
                    self._sog,
                    self._cog,
                    self._quality or self._mode_quality or 1,
                    self._hdop,
                    self._sats,
                    self._rx_t,
                    self._geoid,
                    self._eph,
                    self._epv,
                ),
            )
        )

    def _release(self, ref_days: int, ref_tod: float, out: list[Fix], why: str = "") -> None:
        """Date the held epochs from a reference (a date at a time of day) and emit them.

        Each gets the day that puts it nearest the reference (they came just before it).
        """
        held, self._held = self._held, []
        for tod, (lat, lon, alt, sog, cog, q, hdop, sats, rx_t, geoid, eph, epv) in held:
            days = ref_days
            if tod > ref_tod + 43200.0:
                days -= 1
            elif tod < ref_tod - 43200.0:
                days += 1
            t = days * 86400.0 + tod
            if t == self._last_t:
                self.dropped["duplicate_time"] += 1
                continue
            self._last_t = t
            self.fixes += 1
            if why:
                self.dated_by[why] += 1
            out.append(new_fix(self.source, t, lat, lon, alt, sog, cog, q, hdop, sats, rx_t, geoid, eph, epv))

    def _learn(self, types: set[str]) -> None:
        seen = types & _MEMBERS
        if "GSA" in types and not seen & _HDOP_CARRIERS:
            seen.add("GSA")
        if seen == self._expected and not self._miss:
            return  # the usual case: nothing new, nothing missing
        for kind in self._expected - seen:
            misses = self._miss.get(kind, 0) + 1
            if misses >= _MISS_LIMIT:
                self._expected.discard(kind)
                self._miss.pop(kind, None)
            else:
                self._miss[kind] = misses
        for kind in seen:
            self._miss.pop(kind, None)
        self._expected |= seen

    def _resolve_days(self) -> int | None:
        tod = self._tod
        if self._days is not None:
            days = self._days
            src = self._day_src
            rx = self._rx_t
            if rx is not None and abs(days * 86400.0 + tod - rx) > 86400.0:
                # More than a day off the receive time: a GPS week rollover (1024 weeks
                # back) or a clock not set yet. The receive time's day wins.
                days = round((rx - tod) / 86400.0)
                src = "receive time"
        elif self._rx_t is not None:
            days = round((self._rx_t - tod) / 86400.0)  # the day that puts the fix nearest rx_t
            src = "receive time"
        elif self._last_days is not None:
            days = self._last_days
            src = self._ref_src
            if tod < self._last_tod - 43200.0:
                days += 1  # time of day wrapped past midnight
            elif tod > self._last_tod + 43200.0:
                days -= 1  # a late sentence from just before midnight
        else:
            return None
        if src:  # RMC, the usual case, is what is left: fixes - sum(dated_by)
            self.dated_by[src] += 1
        self._last_days = days
        self._last_tod = tod
        self._ref_src = src
        return days


def _table_valid(spec: SentenceSpec, f: list[str]) -> bool:
    """Does the sentence say it carries a valid fix (or, time-less, valid values)?"""
    if spec.quality is not None and f[spec.quality] not in _GGA_FIX:
        return False
    if spec.status is not None and f[spec.status] != "A":
        return False
    if spec.fix_type is not None and f[spec.fix_type] not in ("2", "3"):
        return False
    if spec.mode is not None:
        letters = f[spec.mode]
        if spec.any_mode:
            if not any(c in _MODE_QUALITY for c in letters):
                return False
        elif letters and letters[0] not in _MODE_QUALITY:
            return False
    return spec.lat is None or bool(f[spec.lat] and f[spec.lat + 2])


Handler = Callable[[list[str], float | None, list[Fix]], str]
"""A per-type add: ``(fields, rx_t, out) -> outcome`` (see :meth:`EpochAssembler.handler`)."""

_ADD: dict[str, Callable[[EpochAssembler, list[str], float | None, list[Fix]], str]] = {
    "GGA": EpochAssembler._add_gga,
    "RMC": EpochAssembler._add_rmc,
    "GNS": EpochAssembler._add_gns,
    "GLL": EpochAssembler._add_gll,
    "GST": EpochAssembler._add_gst,
    "ZDA": EpochAssembler._add_zda,
    "VTG": EpochAssembler._add_vtg,
    "GSA": EpochAssembler._add_gsa,
}
# A type with a table entry and no fast add yet goes the reference path.
for _kind, _spec in SENTENCES.items():
    if _kind not in _ADD:
        _ADD[_kind] = (lambda spec: lambda self, f, rx_t, out: self.add_from_table(spec, f, rx_t, out))(_spec)
assert _ADD.keys() == USED_TYPES
