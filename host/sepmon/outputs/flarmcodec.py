"""FLARM data-port sentences from sepmon's picture: ``$PFLAU``, ``$PFLAA`` and the own GGA/RMC.

Pure: track states, pair levels and the own vehicle's latest fix in, framed
sentence strings (``$...*hh``, no terminator) out. The live feed that serves
them over TCP/serial is :mod:`sepmon.outputs.flarm`, which takes the
levels from the picture (:meth:`sepmon.core.picture.Picture.levels_for`).

Field order and meaning follow FLARM's data port specification (FTD-012)::

    PFLAU,<RX>,<TX>,<GPS>,<Power>,<AlarmLevel>,<RelativeBearing>,<AlarmType>,
          <RelativeVertical>,<RelativeDistance>,<ID>
    PFLAA,<AlarmLevel>,<RelativeNorth>,<RelativeEast>,<RelativeVertical>,
          <IDType>,<ID>,<Track>,<TurnRate>,<GroundSpeed>,<ClimbRate>,<AcftType>

Choices made here (see docs/integrations.md):

* Alarm level: by time to impact, as a FLARM assesses it, not from sepmon's
  own level. FTD-012 defines AlarmLevel (PFLAU and PFLAA alike) as "0 = no
  alarm (also used for no-alarm traffic information), 1 = alarm, 13-18
  seconds to impact, 2 = alarm, 9-12 seconds to impact, 3 = alarm, 0-8
  seconds to impact" (:data:`ALARM_BANDS_S`). sepmon's "impact" is the loss
  of the pair's innermost protection volume: the time to impact is the pair's
  ``PairStatus.t_violation_s`` while it is still outside; inside already (0),
  it is the time to the closest 3D approach if the pair is on a collision
  course (closing to a miss of at most half its present distance), and there
  is none if it is not (parallel, passing wide, astern, parked, or a noisy
  rate): a pair not converging into its volume, or inside it but not on a
  collision course, is plain traffic, level 0, however near (:func:`time_to_impact`).
* sepmon's own level (advisory/caution/warning) is not carried: every
  AlarmType value has a FLARM meaning an app acts on (2 aircraft alarm,
  3 obstacle, 4 traffic advisory, 10–FF Alert Zones); it goes to the boards,
  MQTT and the event log instead.
* Lost: a vehicle whose track is lost (or the own track, or the pair flagged
  lost) is never in PFLAA: a FLARM stops sending a target it no longer
  receives and apps drop a target a few seconds after its last PFLAA
  (XCSoar: 2 s), so a frozen PFLAA would be drawn as current traffic. Its
  danger is not dropped: while its time to impact (from the picture's
  dead-reckoned state) is in a band, PFLAU carries that alarm as a
  non-directional target (RelativeBearing empty, as FTD-012 has it for
  targets without a known bearing). With the own track lost PFLAU's GPS field
  is 0 ("no GPS reception"), so no app takes the empty picture as all clear.
* Geometry: relative north/east are the WGS84 surface range and initial bearing
  of :func:`sepmon.core.geo.range_bearing` resolved along true north/east, so PFLAU's
  distance and bearing and PFLAA's north/east describe the same point.
  Vertical is the difference of ellipsoid heights; when either height is
  unknown it is 0, as the separation core treats such a pair as co-altitude.
* IDs: a stable 6-hex-digit ID per source (BLAKE2s of the name, or pinned in the
  configuration), IDType 2 ("stable FLARM ID"): these are not ICAO addresses
  and must not be looked up as such.
* PFLAU reports the most urgent vehicle (highest alarm level, then nearest); with
  no alarm it carries the nearest vehicle as no-alarm traffic information
  (AlarmType 0), and with nothing in range the target fields are empty.
* GGA/RMC are re-encoded from the own track's latest fix (any source kind can
  be the own vehicle, and the feed then matches the positions used for
  PFLAA). GGA carries what a FLARM (and any NMEA receiver) sends: the height
  above sea level and the geoid separation, as the own receiver reported them
  (``Fix.geoid_sep_m``). When the receiver sent no separation its altitude
  field is passed on as it came, with the separation field empty again.
* Without a usable own fix (none yet, or the own track lost) a FLARM still
  sends RMC, with status ``V``, and GGA with quality 0: so does the feed.
* ``$PGRMZ`` (barometric pressure altitude) is not sent: sepmon has no pressure
  sensor, and a GNSS height passed off as pressure altitude would put an app's
  airspace and QNH display off by the day's pressure difference.
* Queries: ``$PFLAV,R`` is answered with ``$PFLAV,A,...``; ``$PFLAC,R,<item>``
  for the items the feed has (ID, ACFT, RANGE, NMEAOUT) with ``$PFLAC,A,<item>,<value>``;
  anything else, and every ``$PFLAC,S`` (the feed cannot be configured from an
  app), with ``$PFLAC,A,ERROR`` (FTD-012 / FTD-014).
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sepmon.core.checksum import frame_sentence
from sepmon.core.geo import range_bearing
from sepmon.core.model import Fix, PairStatus, TrackState

ID_TYPE_FLARM = 2
"""IDType of every PFLAA: 2 = stable FLARM ID (1 would claim an official ICAO address)."""
ACFT_TYPES = "0123456789ABCDEF"
"""FLARM aircraft types, one hex digit: 0 unknown, 1 glider, 8 piston, 9 jet, D UAV, F static, ..."""
MAX_RX = 99
"""PFLAU <RX> range is 0–99."""
CLIMB_LIMIT = 32.7
"""PFLAA <ClimbRate> range is ±32.7 m/s."""
AIRBORNE_MPS = 10.0
"""Own ground speed from which PFLAU <GPS> says "airborne" (2) rather than "on ground" (1)."""
MPS_TO_KNOTS = 3600.0 / 1852.0
ALARM_BANDS_S = ((8.0, 3), (12.0, 2), (18.0, 1))
"""FTD-012 AlarmLevel by time to impact: 3 = 0–8 s, 2 = 9–12 s, 1 = 13–18 s (upper bounds, inclusive)."""
COLLISION_MISS_RATIO = 0.5
"""Inside the volume, a collision course predicts a miss of at most this part of the present distance."""
_RESERVED_IDS = frozenset({"000000", "FFFFFF"})  # FFFFFF marks obstacles in PFLAU


def _hex_id(source: str, salt: int) -> str:
    data = source.encode("utf-8") if salt == 0 else f"{source}#{salt}".encode()
    return hashlib.blake2s(data, digest_size=3).hexdigest().upper()


def is_flarm_id(text: str) -> bool:
    """True for six hexadecimal digits."""
    return len(text) == 6 and all(c in "0123456789abcdefABCDEF" for c in text)


class IdBook:
    """Stable 6-hex-digit IDs for sources: pinned ones first, else a hash of the name.

    Two sources whose hashes collide get distinct IDs (the later one re-hashed
    with a salt), so an app never merges two vehicles into one target.
    """

    def __init__(self, pinned: Mapping[str, str] | None = None) -> None:
        self._ids: dict[str, str] = {src: i.upper() for src, i in (pinned or {}).items()}
        self._taken: set[str] = set(self._ids.values())

    def id_for(self, source: str) -> str:
        """The ID of ``source``; the same for the life of this book."""
        known = self._ids.get(source)
        if known is not None:
            return known
        salt = 0
        while True:
            cand = _hex_id(source, salt)
            if cand not in self._taken and cand not in _RESERVED_IDS:
                break
            salt += 1
        self._ids[source] = cand
        self._taken.add(cand)
        return cand


@dataclass(frozen=True)
class FeedOptions:
    """What the encoder needs besides the picture."""

    range_m: float = 20_000.0
    aircraft_type: str = "0"
    aircraft_types: Mapping[str, str] = field(default_factory=dict)
    max_targets: int = 50


@dataclass(frozen=True, slots=True)
class Traffic:
    """One other vehicle as seen from the own vehicle, ready to encode.

    ``alarm`` is the FLARM AlarmLevel (:func:`alarm_level` of :func:`time_to_impact`);
    ``lost``: the vehicle's pair with the own one is lost (either track), so it is
    reported in PFLAU only, without a bearing, and never in PFLAA.
    """

    source: str
    id: str
    alarm: int
    north_m: float
    east_m: float
    vertical_m: float
    range_m: float
    bearing_deg: float
    track_deg: float
    speed_mps: float
    climb_mps: float
    aircraft_type: str
    lost: bool = False


def _track_deg(ve: float, vn: float) -> float:
    return math.degrees(math.atan2(ve, vn)) % 360.0


def own_track_deg(own: TrackState, fix: Fix | None = None) -> float:
    """The own true ground track that PFLAU bearings are relative to.

    From the track's velocity; standing still, the fix's course over ground if
    it had one, else 0 (bearings are then relative to true north).
    """
    if own.ve != 0.0 or own.vn != 0.0:
        return _track_deg(own.ve, own.vn)
    if fix is not None and fix.cog_deg is not None and math.isfinite(fix.cog_deg):
        return fix.cog_deg % 360.0
    return 0.0


def alarm_level(t_impact_s: float | None) -> int:
    """FTD-012 AlarmLevel of a time to impact (None: no impact predicted → 0, traffic only)."""
    if t_impact_s is None or not t_impact_s >= 0.0:  # NaN is no prediction
        return 0
    for upper, level in ALARM_BANDS_S:
        if t_impact_s <= upper:
            return level
    return 0


def collision_course_s(rel_pos: Sequence[float], rel_vel: Sequence[float]) -> float | None:
    """Seconds to the closest 3D approach of a pair on a collision course, else None.

    ``rel_pos``/``rel_vel``: the other vehicle relative to the own one (east, north,
    up). On a collision course the pair closes and its predicted miss distance is
    at most half the present distance (relative motion within 30° of the line of
    sight): a pair that only brushes closer (noise in a rate, a wide pass) is not.
    """
    pv = sum(p * v for p, v in zip(rel_pos, rel_vel, strict=True))
    vv = sum(v * v for v in rel_vel)
    pp = sum(p * p for p in rel_pos)
    if not (pv < 0.0 and vv > 0.0):  # opening, no relative motion, or not a number
        return None
    miss2 = pp - pv * pv / vv
    if not miss2 <= COLLISION_MISS_RATIO**2 * pp:
        return None
    return -pv / vv


def time_to_impact(
    pair: PairStatus | None, rel_pos: Sequence[float], rel_vel: Sequence[float]
) -> float | None:
    """FLARM's "time to impact" for one pair, None when no impact is predicted.

    Outside its protection volume, the time until the pair first violates it
    (``t_violation_s``: None when not converging into it within the look-ahead).
    Inside already (0), the time to the closest 3D approach while the pair is on a
    collision course (:func:`collision_course_s`), else None: parallel, passing or
    diverging traffic inside the minima is near, not about to collide. No pair
    status (not a checked pair): None.
    """
    if pair is None or pair.t_violation_s is None:
        return None
    tv = pair.t_violation_s
    if not math.isfinite(tv):
        return None
    if tv > 0.0:
        return tv
    return collision_course_s(rel_pos, rel_vel)


def _usable(st: TrackState) -> bool:
    return math.isfinite(st.lat) and math.isfinite(st.lon) and -90.0 <= st.lat <= 90.0


def _finite(x: float) -> float:
    return x if math.isfinite(x) else 0.0


def traffic_around(
    own: TrackState,
    others: Iterable[TrackState],
    pairs: Mapping[str, PairStatus],
    ids: IdBook,
    options: FeedOptions,
) -> list[Traffic]:
    """Every other vehicle within ``options.range_m``, most urgent first (then nearest).

    ``pairs`` holds each other source's pair with the own vehicle (absent: not a
    checked pair, alarm level 0). A vehicle whose pair is lost is kept only while
    its alarm level is above 0 (for PFLAU). A state with a non-finite position is
    left out. At most ``max_targets`` vehicles that are not lost (the PFLAA ones).
    """
    out: list[Traffic] = []
    cands = [s for s in others if s.source != own.source and _usable(s)]
    if not cands or not _usable(own):
        return out
    rng, brg = range_bearing(own.lat, own.lon, [s.lat for s in cands], [s.lon for s in cands])
    for k, st in enumerate(cands):
        pair = pairs.get(st.source)
        r = float(rng[k])
        if not r <= options.range_m:
            continue
        b = float(brg[k])
        both_heights = st.alt_m is not None and own.alt_m is not None
        vert = st.alt_m - own.alt_m if st.alt_m is not None and own.alt_m is not None else 0.0
        b_rad = math.radians(b)
        north, east = r * math.cos(b_rad), r * math.sin(b_rad)
        # Unknown heights: co-altitude, as the separation core treats such a pair.
        rel_vel = (
            _finite(st.ve - own.ve),
            _finite(st.vn - own.vn),
            _finite(st.vu - own.vu) if both_heights else 0.0,
        )
        alarm = alarm_level(time_to_impact(pair, (east, north, _finite(vert)), rel_vel))
        lost = own.lost or st.lost or (pair is not None and pair.lost)
        if lost and alarm == 0:
            continue
        out.append(
            Traffic(
                source=st.source,
                id=ids.id_for(st.source),
                alarm=alarm,
                north_m=north,
                east_m=east,
                vertical_m=_finite(vert),
                range_m=r,
                bearing_deg=b,
                track_deg=_track_deg(_finite(st.ve), _finite(st.vn)),
                speed_mps=_finite(math.hypot(st.ve, st.vn)),
                climb_mps=_finite(st.vu),
                aircraft_type=options.aircraft_types.get(st.source, options.aircraft_type),
                lost=lost,
            )
        )
    out.sort(key=lambda t: (-t.alarm, t.range_m, t.source))
    kept: list[Traffic] = []
    listed = 0
    for t in out:
        if not t.lost:  # lost ones are never in PFLAA: they take no place there
            if listed == options.max_targets:
                continue
            listed += 1
        kept.append(t)
    return kept


def _int(x: float) -> str:
    return str(round(x))


def _relative_bearing(bearing: float, own_track: float) -> int:
    rel = round((bearing - own_track + 180.0) % 360.0 - 180.0)
    return 180 if rel == -180 else rel  # the spec's range is -180..180; either end means astern


def gps_status(own: TrackState | None) -> int:
    """PFLAU <GPS>: 0 no (usable) fix, 1 fix on ground, 2 fix airborne."""
    if own is None or own.lost or own.quality <= 0 or not _usable(own):
        return 0
    return 2 if math.hypot(own.ve, own.vn) >= AIRBORNE_MPS else 1


def pflau(own: TrackState | None, traffic: Sequence[Traffic], rx: int, own_fix: Fix | None = None) -> str:
    """The status sentence: ``traffic[0]`` (the most urgent) is the reported target, if any.

    A lost target is non-directional: RelativeBearing empty (FTD-012: "empty for
    non-directional targets").
    """
    head = f"PFLAU,{min(max(rx, 0), MAX_RX)},1,{gps_status(own)},1"
    if own is None or not traffic:
        return frame_sentence(f"{head},0,,0,,,")
    t = traffic[0]
    rel = "" if t.lost else str(_relative_bearing(t.bearing_deg, own_track_deg(own, own_fix)))
    alarm_type = 2 if t.alarm > 0 else 0
    return frame_sentence(
        f"{head},{t.alarm},{rel},{alarm_type},{_int(t.vertical_m)},{_int(t.range_m)},{t.id}"
    )


def pflaa(t: Traffic) -> str:
    """One traffic sentence (TurnRate is left empty, as FLARM itself does)."""
    track = round(t.track_deg) % 360 if t.speed_mps > 0.0 else 0
    climb = f"{min(max(t.climb_mps, -CLIMB_LIMIT), CLIMB_LIMIT):.1f}"
    if climb == "-0.0":
        climb = "0.0"
    return frame_sentence(
        f"PFLAA,{t.alarm},{_int(t.north_m)},{_int(t.east_m)},{_int(t.vertical_m)},"
        f"{ID_TYPE_FLARM},{t.id},{track},,{_int(t.speed_mps)},{climb},{t.aircraft_type}"
    )


# ---- own position: GGA / RMC ---------------------------------------------------------------


def _angle(value: float, deg_digits: int, hemis: str) -> tuple[str, str]:
    """Degrees → (``dddmm.mmmmm``, hemisphere), rounded once so 59.999995' carries into the degree."""
    units = round(abs(value) * 60.0 * 100_000)  # 1e-5 minute ≈ 2 cm
    deg, rest = divmod(units, 60 * 100_000)
    minutes, frac = divmod(rest, 100_000)
    return f"{deg:0{deg_digits}d}{minutes:02d}.{frac:05d}", hemis[0] if value >= 0 else hemis[1]


def _utc(t: float) -> tuple[str, str]:
    """Unix time → (``hhmmss.ss``, ``ddmmyy``) in UTC, centiseconds rounded with carry."""
    cs = round(t * 100)
    secs, frac = divmod(cs, 100)
    dt = datetime.fromtimestamp(secs, tz=UTC)
    return f"{dt:%H%M%S}.{frac:02d}", f"{dt:%d%m%y}"


def gga(fix: Fix) -> str:
    """``$GPGGA`` of a fix: sea-level altitude and geoid separation, as a receiver sends them.

    ``alt_m`` is the ellipsoid height; with the receiver's ``geoid_sep_m`` it splits
    back into the two fields it came as. Without a separation the altitude goes out
    as it came and the separation field stays empty (see the module doc).
    """
    hms, _ = _utc(fix.t)
    lat, ns = _angle(fix.lat, 2, "NS")
    lon, ew = _angle(fix.lon, 3, "EW")
    sats = f"{min(fix.sats, 99):02d}" if fix.sats is not None else ""
    hdop = f"{fix.hdop:.1f}" if fix.hdop is not None and math.isfinite(fix.hdop) else ""
    alt = sep = ""
    if fix.alt_m is not None:
        g = fix.geoid_sep_m
        if g is not None and math.isfinite(g):
            alt, sep = f"{fix.alt_m - g:.1f}", f"{g:.1f}"
        else:
            alt = f"{fix.alt_m:.1f}"
    return frame_sentence(f"GPGGA,{hms},{lat},{ns},{lon},{ew},{fix.quality},{sats},{hdop},{alt},M,{sep},M,,")


NO_FIX_RMC = frame_sentence("GPRMC,,V,,,,,,,,,,N")
"""What a FLARM sends each second without a GPS fix: RMC, status V, mode N (not valid)."""
NO_FIX_GGA = frame_sentence("GPGGA,,,,,,0,00,,,M,,M,,")
"""GGA without a fix: quality 0, no satellites used."""


def rmc(fix: Fix) -> str:
    """``$GPRMC`` of a fix (NMEA 2.3 form, with mode indicator)."""
    hms, date = _utc(fix.t)
    lat, ns = _angle(fix.lat, 2, "NS")
    lon, ew = _angle(fix.lon, 3, "EW")
    valid = fix.quality > 0
    sog = f"{fix.sog_mps * MPS_TO_KNOTS:.1f}" if fix.sog_mps is not None else ""
    cog = f"{fix.cog_deg % 360.0:.1f}" if fix.cog_deg is not None else ""
    mode = "N" if not valid else ("D" if fix.quality == 2 else "A")
    status = "A" if valid else "V"
    return frame_sentence(f"GPRMC,{hms},{status},{lat},{ns},{lon},{ew},{sog},{cog},{date},,,{mode}")


# ---- one second's output ---------------------------------------------------------------------


def burst(
    own: TrackState | None,
    others: Iterable[TrackState],
    pairs: Mapping[str, PairStatus],
    ids: IdBook,
    options: FeedOptions,
    own_fix: Fix | None = None,
    new_fix: bool = False,
) -> list[str]:
    """Everything the feed sends in one second, in order: [RMC, GGA,] PFLAU, PFLAA...

    ``own`` is the own vehicle's state (None: no fix yet); ``others`` every
    track (the own one is skipped); ``pairs`` the own vehicle's pair with each
    other source; ``own_fix`` its latest fix, re-encoded as RMC and GGA when
    ``new_fix`` says it has not been sent yet. With no usable own fix (none, or
    the own track lost) RMC says ``V``, GGA quality 0 and PFLAU GPS 0. Lost
    vehicles (or all, when the own track is lost) are never in PFLAA.
    """
    others = list(others)
    own_name = own.source if own is not None else None
    rx = sum(1 for s in others if s.source != own_name and not s.lost)
    traffic = traffic_around(own, others, pairs, ids, options) if own is not None else []
    out: list[str] = []
    if own is None or own.lost or not _usable(own):
        out += [NO_FIX_RMC, NO_FIX_GGA]
    elif own_fix is not None and new_fix:
        out += [rmc(own_fix), gga(own_fix)]
    out.append(pflau(own, traffic, rx, own_fix))
    out += [pflaa(t) for t in traffic if not t.lost]
    return out


# ---- answers to an app's queries (FTD-012 PFLAV/PFLAC, items of FTD-014) -----------------------

BAUD_CODES = {4800: 0, 9600: 1, 19200: 2, 38400: 4, 57600: 5}
"""FTD-014 ``BAUD`` values of the rates the feed's serial port may run at."""


@dataclass(frozen=True)
class DeviceInfo:
    """What the feed says about itself when an app asks."""

    own_id: str
    aircraft_type: str
    range_m: float
    baud: int | None = None
    version: str = "0.00"


def answer(line: str, info: DeviceInfo) -> str | None:
    """The reply to one line an app sent, or None when it asked nothing we answer.

    A query is taken with or without a valid checksum (apps differ); ``$PFLAV,R``
    gets the versions, ``$PFLAC,R,<item>`` the value of ID, ACFT, RANGE, NMEAOUT
    or BAUD, and every other ``$PFLAC`` (unknown item, or ``S`` to set one: the feed
    is configured by sepmon's own configuration, not by the app) ``$PFLAC,A,ERROR``.
    """
    text = line.strip()
    star = text.rfind("*")
    if star >= 0:
        text = text[:star]
    if not text.startswith("$"):
        return None
    fields = text[1:].split(",")
    name = fields[0]
    if name == "PFLAV" and fields[1:2] == ["R"]:
        return frame_sentence(f"PFLAV,A,0.00,{info.version},")
    if name != "PFLAC" or len(fields) < 3 or fields[1] != "R":
        return frame_sentence("PFLAC,A,ERROR") if name == "PFLAC" else None
    item = fields[2].upper()
    value: str | None = None
    if item == "ID":
        value = info.own_id
    elif item == "ACFT":
        value = str(ACFT_TYPES.index(info.aircraft_type))
    elif item == "RANGE":
        value = str(round(info.range_m))
    elif item == "NMEAOUT":
        value = "1"  # PFLA and GP sentences
    elif item == "BAUD" and info.baud in BAUD_CODES:
        value = str(BAUD_CODES[info.baud])
    if value is None:
        return frame_sentence("PFLAC,A,ERROR")
    return frame_sentence(f"PFLAC,A,{item},{value}")
