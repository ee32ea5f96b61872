"""Write the DAIDALUS oracle encounter set: our own geometry as ``.daa`` files and NMEA recordings.

Every aircraft flies a WGS-84 geodesic at constant ground speed and vertical rate
(geographiclib), sampled at 1 Hz. The geometry is defined at the closest point of
approach: the ownship's CPA point is the origin, each intruder's CPA point is an
east/north/up offset from it, reached at the scenario's CPA time. Values are
rounded to the resolution of the NMEA fields first, so the ``.daa`` state and the
recorded sentences describe exactly the same thing:

- latitude/longitude: 1e-7 arc-minute (``ddmm.mmmmmmm``, u-blox high-precision NMEA);
- altitude: 1 mm (GGA, geoid separation 0, so MSL altitude = ellipsoid height);
- ground speed: 0.001 knot, track 0.001° (RMC);
- vertical rate: not an NMEA field; it is exact in the ``.daa`` and the 1 Hz GGA
  altitudes change by exactly that much per second.

Output per scenario, in ``tests/data/daidalus/<name>/``: ``<name>.daa`` (ownship
first at every time) and ``<aircraft>.nmea`` per aircraft (RMC + GGA at 1 Hz,
no TAG blocks: ``sepmon analyze`` takes the source name from the file stem).
``scenarios.csv`` beside them indexes the design parameters. DAIDALUS's outputs
(``daidalus.csv``) are produced separately, see that folder's README.

Run: ``python tests/daidalus/make_scenarios.py [OUTDIR]`` (deterministic).

``--sum [OUTDIR]`` writes, for a subset of the set, variants whose aircraft carry sensor
uncertainty (DAIDALUS's SUM columns in the ``.daa``, ``$GPGST`` after each GGA in the NMEA)
into ``tests/data/daidalus-sum/``; see that folder's README.
"""

from __future__ import annotations

import csv
import math
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from geographiclib.geodesic import Geodesic

DATA_DIR = Path(__file__).resolve().parents[1] / "data" / "daidalus"

LAT0 = 45.5  # origin (ownship's CPA point); our choice, open country
LON0 = 9.25
JET_ALT_M = 6000.0
LOW_ALT_M = 900.0
START = datetime(2026, 6, 1, 10, 0, 0, tzinfo=UTC)

KNOT_MPS = 1852.0 / 3600.0
DTHR_M = 0.66 * 1852.0  # DO-365 DWC Phase I horizontal threshold (RTCA DO-365B), for our geometry
TTHR_S = 35.0
TAIL_S = 30.0  # and ends this long after the last CPA

HDOP = "1.00"
SATS = "12"
MIN_UNITS = 10**7  # NMEA minutes to 7 decimals


@dataclass(frozen=True)
class Aircraft:
    """One aircraft: velocity at its CPA point, and that point relative to the ownship's."""

    name: str
    track_deg: float
    gs_mps: float
    vs_mps: float = 0.0
    east_m: float = 0.0
    north_m: float = 0.0
    up_m: float = 0.0
    cpa_delay_s: float = 0.0  # its CPA time relative to the scenario's

    @property
    def v_en(self) -> tuple[float, float]:
        """Horizontal velocity (east, north) m/s at the CPA point."""
        c = math.radians(self.track_deg)
        return self.gs_mps * math.sin(c), self.gs_mps * math.cos(c)


@dataclass(frozen=True)
class Scenario:
    """An encounter: the ownship first, then the intruders."""

    name: str
    kind: str
    description: str
    aircraft: tuple[Aircraft, ...]
    alt_m: float = JET_ALT_M
    duration_s: int | None = None  # default: from the design geometry
    t_cpa_s: float | None = None  # default: from the design geometry
    lead_s: float = 95.0  # the recording starts this long before the design's first violation
    dropouts: tuple[tuple[str, int, int], ...] = ()  # (aircraft, from, to): no NMEA in [from, to) s


def miss_offset(
    own: tuple[float, float], intr: tuple[float, float], hmd_m: float, side: int = 1
) -> tuple[float, float]:
    """Intruder's CPA offset (east, north) for a horizontal miss ``hmd_m``: across the relative velocity."""
    rx, ry = intr[0] - own[0], intr[1] - own[1]
    n = math.hypot(rx, ry)
    if n == 0:
        raise ValueError("no relative motion: give the offset directly")
    # Perpendicular to the relative velocity, to its right for side=+1.
    return side * hmd_m * ry / n, -side * hmd_m * rx / n


def intruder(
    name: str,
    own: Aircraft,
    track: float,
    gs: float,
    hmd_m: float = 0.0,
    side: int = 1,
    up_m: float = 0.0,
    vs: float = 0.0,
    cpa_delay_s: float = 0.0,
) -> Aircraft:
    """An intruder passing ``own`` at ``hmd_m`` (flat-earth design) and ``up_m`` above at its CPA."""
    a = Aircraft(name, track, gs, vs)
    e, n = miss_offset(own.v_en, a.v_en, hmd_m, side) if hmd_m else (0.0, 0.0)
    return Aircraft(name, track, gs, vs, e, n, up_m, cpa_delay_s)


# --- design-geometry helpers (flat relative motion; used only to choose start and length) ---


def _relative(
    own: Aircraft, other: Aircraft, t: float, t_cpa: float
) -> tuple[float, float, float, float, float, float]:
    """Relative position and velocity (e, n, u, ve, vn, vu) of ``other`` to ``own`` at t."""
    ov, iv = own.v_en, other.v_en
    to, ti = t - t_cpa - own.cpa_delay_s, t - t_cpa - other.cpa_delay_s
    e = other.east_m + iv[0] * ti - (own.east_m + ov[0] * to)
    n = other.north_m + iv[1] * ti - (own.north_m + ov[1] * to)
    u = other.up_m + other.vs_mps * ti - (own.up_m + own.vs_mps * to)
    return e, n, u, iv[0] - ov[0], iv[1] - ov[1], other.vs_mps - own.vs_mps


def wcv_taumod(own: Aircraft, other: Aircraft, t: float, t_cpa: float, zthr_m: float = 450 * 0.3048) -> bool:
    """DO-365 well-clear violation (WCV_TAUMOD, TCOA 0) of the flat design geometry at t.

    Written from the DO-365 definition: |dz| <= ZTHR, and the range within DTHR, or the
    horizontal miss within DTHR with modified tau (DTHR² − r²)/(r·ṙ) within TTHR.
    """
    e, n, u, ve, vn, _ = _relative(own, other, t, t_cpa)
    if abs(u) > zthr_m:
        return False
    r2 = e * e + n * n
    if r2 <= DTHR_M**2:
        return True
    sdotv = e * ve + n * vn
    if sdotv >= 0:
        return False
    v2 = ve * ve + vn * vn
    tcpa = -sdotv / v2
    hmd2 = r2 + 2 * sdotv * tcpa + v2 * tcpa * tcpa
    if hmd2 > DTHR_M**2:
        return False
    return (DTHR_M**2 - r2) / sdotv <= TTHR_S


def violation_span(sc: Scenario, t_cpa: float, span: float = 600.0) -> tuple[float, float] | None:
    """First and last time (0.25 s steps) any intruder violates the level-1 volume (ZTHR 700 ft)."""
    own = sc.aircraft[0]
    hits = [
        t
        for other in sc.aircraft[1:]
        for t in (t_cpa - span + 0.25 * k for k in range(int(8 * span) + 1))
        if wcv_taumod(own, other, t, t_cpa, zthr_m=700 * 0.3048)
    ]
    return (min(hits), max(hits)) if hits else None


def timing(sc: Scenario) -> tuple[float, int]:
    """(CPA time, duration) of the recording, both in seconds from its start.

    By default the recording starts ``lead_s`` before the design's first violation and ends
    ``TAIL_S`` after the last CPA, and at least 15 s after the last violation (so the levels fall).
    """
    if sc.t_cpa_s is not None and sc.duration_s is not None:
        return sc.t_cpa_s, sc.duration_s
    # Measure the violation relative to a CPA at 10000 s, then shift.
    probe = 10000.0
    found = violation_span(sc, probe)
    if found is None:
        raise ValueError(f"{sc.name}: no violation in the design geometry; give t_cpa_s and duration_s")
    t_cpa = math.ceil(probe - found[0] + sc.lead_s)
    last_cpa = t_cpa + max(a.cpa_delay_s for a in sc.aircraft)
    return float(t_cpa), math.ceil(max(last_cpa + TAIL_S, found[1] - probe + t_cpa + 15))


# --- states on the ellipsoid, rounded to the NMEA resolution ---


@dataclass(frozen=True)
class State:
    """One aircraft at one time, as recorded (already at NMEA resolution)."""

    t: int
    name: str
    lat_units: int  # signed 1e-7 arc-minutes
    lon_units: int
    alt_mm: int
    trk_mdeg: int  # 0.001°
    gs_mkn: int  # 0.001 knot
    vs_mps: float

    @property
    def lat(self) -> float:
        """Latitude, degrees."""
        return self.lat_units / (60 * MIN_UNITS)

    @property
    def lon(self) -> float:
        """Longitude, degrees."""
        return self.lon_units / (60 * MIN_UNITS)


def states(sc: Scenario) -> Iterator[list[State]]:
    """Every aircraft's state at each whole second, ownship first."""
    geod = Geodesic.WGS84
    t_cpa, duration = timing(sc)
    cpa_points = []
    for a in sc.aircraft:
        if a.east_m or a.north_m:
            g = geod.Direct(
                LAT0, LON0, math.degrees(math.atan2(a.east_m, a.north_m)), math.hypot(a.east_m, a.north_m)
            )
            cpa_points.append((g["lat2"], g["lon2"]))
        else:
            cpa_points.append((LAT0, LON0))
    for t in range(duration + 1):
        row = []
        for a, (clat, clon) in zip(sc.aircraft, cpa_points, strict=True):
            dt = t - t_cpa - a.cpa_delay_s
            if a.gs_mps > 0:
                g = geod.Direct(clat, clon, a.track_deg, a.gs_mps * dt)
                lat, lon, trk = g["lat2"], g["lon2"], g["azi2"] % 360.0
            else:
                lat, lon, trk = clat, clon, 0.0
            alt = sc.alt_m + a.up_m + a.vs_mps * dt
            row.append(
                State(
                    t=t,
                    name=a.name,
                    lat_units=round(lat * 60 * MIN_UNITS),
                    lon_units=round(lon * 60 * MIN_UNITS),
                    alt_mm=round(alt * 1000),
                    trk_mdeg=round(trk * 1000) % 360000,
                    gs_mkn=round(a.gs_mps / KNOT_MPS * 1000),
                    vs_mps=a.vs_mps,
                )
            )
        yield row


# --- writers ---


def _checksum(body: str) -> str:
    x = 0
    for ch in body.encode("ascii"):
        x ^= ch
    return f"{x:02X}"


def _sentence(body: str) -> str:
    return f"${body}*{_checksum(body)}\r\n"


def _angle(units: int, deg_digits: int, hemis: str) -> tuple[str, str]:
    a = abs(units)
    deg, rest = divmod(a, 60 * MIN_UNITS)
    mins, frac = divmod(rest, MIN_UNITS)
    return f"{deg:0{deg_digits}d}{mins:02d}.{frac:07d}", hemis[0] if units >= 0 else hemis[1]


def nmea_epoch(s: State) -> str:
    """RMC then GGA of one state (u-blox order), CRLF-terminated."""
    when = START + timedelta(seconds=s.t)
    hms = when.strftime("%H%M%S") + ".00"
    lat, ns = _angle(s.lat_units, 2, "NS")
    lon, ew = _angle(s.lon_units, 3, "EW")
    sog = f"{s.gs_mkn // 1000}.{s.gs_mkn % 1000:03d}"
    # A receiver standing still leaves the course empty.
    cog = f"{s.trk_mdeg // 1000}.{s.trk_mdeg % 1000:03d}" if s.gs_mkn else ""
    sign = "-" if s.alt_mm < 0 else ""
    alt = f"{sign}{abs(s.alt_mm) // 1000}.{abs(s.alt_mm) % 1000:03d}"
    rmc = f"GPRMC,{hms},A,{lat},{ns},{lon},{ew},{sog},{cog},{when.strftime('%d%m%y')},,,A"
    gga = f"GPGGA,{hms},{lat},{ns},{lon},{ew},1,{SATS},{HDOP},{alt},M,0.000,M,,"
    return _sentence(rmc) + _sentence(gga)


DAA_HEADER = "NAME lat lon alt trk gs vs time\n[none] [deg] [deg] [m] [deg] [knot] [m/s] [s]\n"


def daa_line(s: State) -> str:
    """One ``.daa`` row (comma separated, units as in ``DAA_HEADER``)."""
    return (
        f"{s.name}, {s.lat:.12f}, {s.lon:.12f}, {s.alt_mm / 1000:.3f}, {s.trk_mdeg / 1000:.3f}, "
        f"{s.gs_mkn / 1000:.3f}, {s.vs_mps:.3f}, {s.t}\n"
    )


def write_scenario(sc: Scenario, out: Path) -> None:
    """Write ``<name>.daa`` and one ``.nmea`` per aircraft into ``out/<name>/``."""
    d = out / sc.name
    d.mkdir(parents=True, exist_ok=True)
    daa = [f"# sepmon DAIDALUS oracle scenario {sc.name}: {sc.description}\n", DAA_HEADER]
    nmea: dict[str, list[str]] = {a.name: [] for a in sc.aircraft}
    for row in states(sc):
        for s in row:
            daa.append(daa_line(s))
            if not any(name == s.name and lo <= s.t < hi for name, lo, hi in sc.dropouts):
                nmea[s.name].append(nmea_epoch(s))
    (d / f"{sc.name}.daa").write_text("".join(daa), encoding="ascii")
    for name, lines in nmea.items():
        with (d / f"{name}.nmea").open("w", encoding="ascii", newline="") as f:
            f.writelines(lines)


# --- the encounter set ---


def _own(gs: float, track: float = 0.0, vs: float = 0.0) -> Aircraft:
    return Aircraft("ownship", track, gs, vs)


def _closure(sc: Scenario) -> float:
    own = sc.aircraft[0]
    return max(math.hypot(b.v_en[0] - own.v_en[0], b.v_en[1] - own.v_en[1]) for b in sc.aircraft[1:])


def encounters() -> list[Scenario]:
    """The whole set, in a fixed order."""
    dthr = DTHR_M
    jet, vert, nuis, cpa = "jet", "vertical", "nuisance", "cpa"
    sc: list[Scenario] = []

    def pair(name: str, kind: str, desc: str, own: Aircraft, other: Aircraft, **kw: Any) -> None:
        sc.append(Scenario(name, kind, desc, (own, other), **kw))

    # Eight jet encounters, 40-500 m/s closure, co-altitude unless said.
    o = _own(250)
    pair(
        "jet-headon-500",
        jet,
        "head-on, 250 + 250 m/s, 0 m miss",
        o,
        intruder("intruder", o, 180, 250),
        lead_s=100,
    )
    o = _own(150)
    pair(
        "jet-headon-300-hmd600",
        jet,
        "head-on, 150 + 150 m/s, 600 m horizontal miss",
        o,
        intruder("intruder", o, 180, 150, hmd_m=600),
        lead_s=90,
    )
    o = _own(100)
    pair(
        "jet-headon-200-vmd90",
        jet,
        "head-on, 100 + 100 m/s, 0 m miss, intruder 90 m (295 ft) above, level",
        o,
        intruder("intruder", o, 180, 100, up_m=90),
        lead_s=85,
    )
    o = _own(200)
    pair(
        "jet-crossing90-283",
        jet,
        "crossing at 90 deg from the left, 200 and 200 m/s (283 m/s closure), 0 m miss",
        o,
        intruder("intruder", o, 90, 200),
    )
    o = _own(220)
    pair(
        "jet-crossing135-388",
        jet,
        "converging from ahead-right at 135 deg, 220 and 200 m/s (388 m/s closure), 300 m miss",
        o,
        intruder("intruder", o, 225, 200, hmd_m=300),
        lead_s=105,
    )
    o = _own(120)
    pair(
        "jet-crossing90-134-hmd300",
        jet,
        "crossing at 90 deg from the left, 120 and 60 m/s (134 m/s), 300 m miss",
        o,
        intruder("intruder", o, 90, 60, hmd_m=300, side=-1),
        lead_s=80,
    )
    o = _own(150)
    pair(
        "jet-overtake-40",
        jet,
        "overtaken from behind, 150 and 190 m/s (40 m/s closure), 200 m miss",
        o,
        intruder("intruder", o, 0, 190, hmd_m=200),
        lead_s=110,
    )
    o = _own(120)
    pair(
        "jet-overtake-80-climb",
        jet,
        "overtaken from behind (120 and 200 m/s), the intruder climbing 5 m/s to co-altitude at the CPA",
        o,
        intruder("intruder", o, 0, 200, vs=5.0),
        lead_s=90,
    )

    # Vertical only: slow descents and a climb through co-altitude traffic inside DTHR, long
    # enough for the levels to fall once the intruder is 700 ft past.
    pair(
        "vertical-descent-2.5",
        vert,
        "parallel at 60 m/s 400 m abeam, the intruder 600 m above descending 2.5 m/s through co-altitude",
        _own(60),
        Aircraft("intruder", 0, 60, -2.5, 400, 0, 0),
        alt_m=LOW_ALT_M,
        t_cpa_s=240,
        duration_s=340,
    )
    pair(
        "vertical-descent-2.0-hover",
        vert,
        "both hovering, the intruder directly above descending 2.0 m/s from 500 m through co-altitude",
        _own(0),
        Aircraft("intruder", 0, 0, -2.0),
        alt_m=LOW_ALT_M,
        t_cpa_s=250,
        duration_s=370,
    )
    pair(
        "vertical-climb-3.0",
        vert,
        "parallel at 50 m/s 800 m abeam, the intruder 600 m below climbing 3.0 m/s through co-altitude",
        _own(50),
        Aircraft("intruder", 0, 50, 3.0, -800, 0, 0),
        alt_m=LOW_ALT_M,
        t_cpa_s=200,
        duration_s=285,
    )

    # Nuisance: never inside DTHR, never predicted to be.
    low: dict[str, Any] = {"alt_m": LOW_ALT_M}
    pair(
        "nuisance-parked-1.4x",
        nuis,
        "two parked vehicles 1.4 x DTHR (1711 m) apart",
        _own(0),
        Aircraft("intruder", 0, 0, 0, 1.4 * dthr, 0),
        t_cpa_s=0,
        duration_s=120,
        **low,
    )
    pair(
        "nuisance-slow-parallel-1.2x",
        nuis,
        "ground vehicles at 10 m/s, parallel, 1.2 x DTHR abeam",
        _own(10),
        Aircraft("intruder", 0, 10, 0, 1.2 * dthr, 0),
        t_cpa_s=60,
        duration_s=120,
        **low,
    )
    pair(
        "nuisance-parallel-2x",
        nuis,
        "aircraft at 60 m/s, parallel, 2 x DTHR abeam",
        _own(60),
        Aircraft("intruder", 0, 60, 0, -2.0 * dthr, 0),
        t_cpa_s=60,
        duration_s=120,
        **low,
    )
    o = _own(30)
    pair(
        "nuisance-diverging",
        nuis,
        "30 m/s each on opposite tracks, 1.3 x DTHR apart at the start and diverging",
        o,
        intruder("intruder", o, 180, 30, hmd_m=1.3 * dthr),
        t_cpa_s=-1,
        duration_s=120,
        **low,
    )
    o = _own(60)
    pair(
        "nuisance-astern",
        nuis,
        "crossing traffic at 60 m/s passing 1.3 x DTHR astern of the ownship (60 m/s)",
        o,
        intruder("intruder", o, 90, 60, hmd_m=1.3 * dthr, side=-1),
        t_cpa_s=70,
        duration_s=140,
        **low,
    )
    o = _own(15)
    pair(
        "nuisance-slow-headon-1.5x",
        nuis,
        "vehicles at 15 m/s head-on, passing 1.5 x DTHR apart",
        o,
        intruder("intruder", o, 180, 15, hmd_m=1.5 * dthr),
        t_cpa_s=100,
        duration_s=200,
        **low,
    )

    # CPA distance and vertical miss variants.
    o = _own(100)
    for hmd, lead in ((400, 88), (900, 97), (1150, 103)):
        pair(
            f"cpa-headon-hmd{hmd}",
            cpa,
            f"head-on, 100 + 100 m/s, {hmd} m horizontal miss ({hmd / dthr:.2f} x DTHR)",
            o,
            intruder("intruder", o, 180, 100, hmd_m=hmd),
            lead_s=lead,
        )
    pair(
        "cpa-headon-hmd1400",
        cpa,
        f"head-on, 100 + 100 m/s, 1400 m horizontal miss ({1400 / dthr:.2f} x DTHR)",
        o,
        intruder("intruder", o, 180, 100, hmd_m=1400),
        t_cpa_s=120,
        duration_s=150,
    )
    pair(
        "cpa-headon-vmd600ft",
        cpa,
        "head-on, 100 + 100 m/s, 0 m miss, intruder 600 ft (182.88 m) above, level: inside ZTHR 700 ft only",
        o,
        intruder("intruder", o, 180, 100, up_m=182.88),
        lead_s=92,
    )
    o = _own(10)
    pair(
        "cpa-slow-headon-20",
        cpa,
        "ground vehicles head-on at 10 + 10 m/s, 0 m miss",
        o,
        intruder("intruder", o, 180, 10),
        lead_s=86,
        **low,
    )

    # A converging pair whose intruder is not received for 10 s twice: around the 55 s onsets
    # of the design geometry and around its 25 s onset. The .daa keeps every state.
    o = _own(200)
    base = Scenario("dropout-crossing90-283", "dropout", "", (o, intruder("intruder", o, 90, 200)))
    t_cpa, _ = timing(base)
    found = violation_span(base, t_cpa)
    assert found is not None
    v = math.ceil(found[0])
    wins = (("intruder", v - 60, v - 50), ("intruder", v - 29, v - 19))
    sc.append(
        Scenario(
            base.name,
            base.kind,
            "as jet-crossing90-283, but the intruder's NMEA is missing for "
            + " and ".join(f"{lo}..{hi - 1} s" for _, lo, hi in wins),
            base.aircraft,
            dropouts=wins,
        )
    )

    o = _own(150)
    sc.append(
        Scenario(
            "multi-two-intruders",
            "multi",
            "ownship 150 m/s; intruder1 head-on 150 m/s with 300 m miss; intruder2 crossing from the right "
            "at 120 m/s with 800 m miss, 20 s later",
            (
                o,
                intruder("intruder1", o, 180, 150, hmd_m=300),
                intruder("intruder2", o, 270, 120, hmd_m=800, cpa_delay_s=20),
            ),
        )
    )
    return sc


INDEX_COLUMNS = (
    "name",
    "kind",
    "aircraft",
    "t_cpa_s",
    "duration_s",
    "closure_mps",
    "design_hmd_m",
    "design_vmd_m",
    "nmea_dropout",
    "description",
)


def write_all(out: Path, scenarios: Sequence[Scenario]) -> None:
    """Write every scenario and the index ``scenarios.csv``."""
    out.mkdir(parents=True, exist_ok=True)
    rows = []
    for s in scenarios:
        write_scenario(s, out)
        t_cpa, duration = timing(s)
        own = s.aircraft[0]
        hmd = min(math.hypot(a.east_m - own.east_m, a.north_m - own.north_m) for a in s.aircraft[1:])
        vmd = min(abs(a.up_m - own.up_m) for a in s.aircraft[1:])
        drop = ";".join(f"{name}:{lo}-{hi - 1}" for name, lo, hi in s.dropouts)
        rows.append(
            (
                s.name,
                s.kind,
                " ".join(a.name for a in s.aircraft),
                f"{t_cpa:g}",
                duration,
                f"{_closure(s):.1f}",
                f"{hmd:.1f}",
                f"{vmd:.2f}",
                drop,
                s.description,
            )
        )
    with (out / "scenarios.csv").open("w", encoding="ascii", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(INDEX_COLUMNS)
        w.writerows(rows)


# --- sensor-uncertainty (SUM) variants: tests/data/daidalus-sum/ ---

SUM_DIR = DATA_DIR.parent / "daidalus-sum"
AXIS_PER_R95 = 1.0 / 2.4477  # a circular bivariate normal holds 95 % within 2.4477 σ


@dataclass(frozen=True)
class Sigma:
    """One aircraft's 1σ uncertainties, in the ``.daa`` SUM columns' terms (m, m/s).

    ``s_en``/``v_en`` are the east-north terms as DAIDALUS's ``.daa`` columns ``s_EN_std``
    and ``v_EN_std`` take them: the signed square root of the east-north covariance
    (covariance = sign · value²).
    """

    s_ew: float
    s_ns: float
    s_en: float
    sz: float
    v_ew: float
    v_ns: float
    v_en: float
    vz: float

    def cov_h(self) -> tuple[float, float, float]:
        """Horizontal position covariance (ee, nn, en), m²."""
        return self.s_ew**2, self.s_ns**2, math.copysign(self.s_en**2, self.s_en)


def _ellipse(major: float, minor: float, orient_deg: float) -> tuple[float, float, float]:
    """(σ east, σ north, signed √|cov en|) of an error ellipse (axes 1σ, major axis from north)."""
    th = math.radians(orient_deg)
    ee = (major * math.sin(th)) ** 2 + (minor * math.cos(th)) ** 2
    nn = (major * math.cos(th)) ** 2 + (minor * math.sin(th)) ** 2
    en = (major**2 - minor**2) * math.sin(th) * math.cos(th)
    return math.sqrt(ee), math.sqrt(nn), math.copysign(math.sqrt(abs(en)), en)


# Profiles (see tests/data/daidalus-sum/README.md for the NACp/NACv categories they sit in).
# "gps": 15 m per axis (95 % radius 36.7 m: NACp 8, EPU < 92.6 m), 22.5 m vertical,
# 1 m/s per axis (95 % 2.4 m/s: NACv 2, < 3 m/s), 1 m/s vertical.
GPS = Sigma(15.0, 15.0, 0.0, 22.5, 1.0, 1.0, 0.0, 1.0)
# "degraded": 30 m per axis (95 % 73 m: NACp 8), 45 m vertical, 3 m/s per axis (95 % 7.3 m/s:
# NACv 1, < 10 m/s), 2 m/s vertical.
DEGRADED = Sigma(30.0, 30.0, 0.0, 45.0, 3.0, 3.0, 0.0, 2.0)
# "ellipse": correlated east/north errors (a GST error ellipse that is not a circle).
_E1, _E2 = _ellipse(25.0, 10.0, 30.0), _ellipse(20.0, 12.0, 120.0)
ELLIPSE_OWN = Sigma(*_E1, 20.0, 1.5, 0.8, 0.6, 0.8)
ELLIPSE_INTR = Sigma(*_E2, 30.0, 0.7, 1.9, -0.9, 1.2)

SUM_PROFILES: dict[str, tuple[str, Sigma, Sigma]] = {
    # tag: (description, ownship, every intruder)
    "gps": ("both GPS-class (15 m, 1 m/s 1-sigma)", GPS, GPS),
    "degraded": ("ownship GPS-class, intruder degraded (30 m, 3 m/s 1-sigma)", GPS, DEGRADED),
    "ellipse": (
        "correlated east/north errors (1-sigma error ellipses 25x10 m at 30 deg, 20x12 m at 120 deg)",
        ELLIPSE_OWN,
        ELLIPSE_INTR,
    ),
}

SUM_SET: tuple[tuple[str, str], ...] = (
    ("jet-headon-500", "gps"),
    ("jet-crossing90-283", "degraded"),
    ("jet-crossing90-134-hmd300", "ellipse"),
    ("jet-overtake-40", "gps"),
    ("jet-overtake-40", "degraded"),
    ("vertical-descent-2.5", "gps"),
    ("vertical-climb-3.0", "degraded"),
    ("vertical-descent-2.0-hover", "ellipse"),
    ("nuisance-parked-1.4x", "gps"),
    ("nuisance-parked-1.4x", "degraded"),
    ("nuisance-parallel-2x", "degraded"),
    ("nuisance-slow-headon-1.5x", "gps"),
    ("cpa-headon-hmd1150", "gps"),
    ("cpa-headon-hmd1400", "degraded"),
    ("cpa-headon-vmd600ft", "ellipse"),
)
"""(base scenario, profile): the SUM variants, named ``<base>--<profile>``."""

SUM_COLUMNS = ("s_EW_std", "s_NS_std", "s_EN_std", "sz_std", "v_EW_std", "v_NS_std", "v_EN_std", "vz_std")
SUM_UNITS = ("[m]", "[m]", "[m]", "[m]", "[m/s]", "[m/s]", "[m/s]", "[m/s]")
DAA_SUM_HEADER = (
    DAA_HEADER.splitlines()[0]
    + " "
    + " ".join(SUM_COLUMNS)
    + "\n"
    + DAA_HEADER.splitlines()[1]
    + " "
    + " ".join(SUM_UNITS)
    + "\n"
)


def gst_sentence(s: State, sig: Sigma) -> str:
    """``$GPGST`` of one state: σ of latitude, longitude, altitude and the error ellipse (1σ, m).

    The RMS of the range residuals (field 2) is left empty: the scenario has no ranges.
    """
    ee, nn, en = sig.cov_h()
    half = 0.5 * (ee + nn)
    d = math.sqrt(max(0.25 * (ee - nn) ** 2 + en * en, 0.0))
    major, minor = math.sqrt(half + d), math.sqrt(max(half - d, 0.0))
    # Major axis direction from true north, clockwise: the eigenvector of the larger eigenvalue.
    orient = math.degrees(0.5 * math.atan2(2 * en, nn - ee)) % 180.0
    hms = (START + timedelta(seconds=s.t)).strftime("%H%M%S") + ".00"
    body = f"GPGST,{hms},,{major:.3f},{minor:.3f},{orient:.1f},{sig.s_ns:.3f},{sig.s_ew:.3f},{sig.sz:.3f}"
    return _sentence(body)


def _sum_cols(sig: Sigma) -> str:
    vals = (sig.s_ew, sig.s_ns, sig.s_en, sig.sz, sig.v_ew, sig.v_ns, sig.v_en, sig.vz)
    return "".join(f", {v:.4f}" for v in vals)


def write_sum_variant(sc: Scenario, tag: str, out: Path) -> str:
    """Write ``<name>--<tag>/``: the ``.daa`` with the SUM columns, NMEA with GST after GGA."""
    desc, own_sig, intr_sig = SUM_PROFILES[tag]
    name = f"{sc.name}--{tag}"
    d = out / name
    d.mkdir(parents=True, exist_ok=True)
    sig = {a.name: (own_sig if k == 0 else intr_sig) for k, a in enumerate(sc.aircraft)}
    daa = [f"# sepmon DAIDALUS SUM oracle scenario {name}: {sc.description}; {desc}\n", DAA_SUM_HEADER]
    nmea: dict[str, list[str]] = {a.name: [] for a in sc.aircraft}
    for row in states(sc):
        for s in row:
            daa.append(daa_line(s).rstrip("\n") + _sum_cols(sig[s.name]) + "\n")
            if not any(n == s.name and lo <= s.t < hi for n, lo, hi in sc.dropouts):
                nmea[s.name].append(nmea_epoch(s) + gst_sentence(s, sig[s.name]))
    (d / f"{name}.daa").write_text("".join(daa), encoding="ascii")
    for ac, lines in nmea.items():
        with (d / f"{ac}.nmea").open("w", encoding="ascii", newline="") as f:
            f.writelines(lines)
    return name


SUM_INDEX_COLUMNS = (
    "name",
    "base",
    "profile",
    *(f"{who}_{c}" for who in ("own", "intr") for c in SUM_COLUMNS),
)


def write_sum_all(out: Path) -> None:
    """Write every SUM variant and the index ``sum_scenarios.csv``."""
    out.mkdir(parents=True, exist_ok=True)
    by_name = {s.name: s for s in encounters()}
    rows = []
    for base, tag in SUM_SET:
        name = write_sum_variant(by_name[base], tag, out)
        _, own_sig, intr_sig = SUM_PROFILES[tag]
        vals = [
            f"{getattr(sig, f):.4f}"
            for sig in (own_sig, intr_sig)
            for f in ("s_ew", "s_ns", "s_en", "sz", "v_ew", "v_ns", "v_en", "vz")
        ]
        rows.append((name, base, tag, *vals))
    with (out / "sum_scenarios.csv").open("w", encoding="ascii", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(SUM_INDEX_COLUMNS)
        w.writerows(rows)


def main(argv: Sequence[str]) -> int:
    """Write the set into ``argv[0]`` (default: the repository's test data folder).

    ``--sum [OUTDIR]`` writes the sensor-uncertainty variants instead (default:
    ``tests/data/daidalus-sum/``).
    """
    if argv and argv[0] == "--sum":
        write_sum_all(Path(argv[1]) if len(argv) > 1 else SUM_DIR)
        return 0
    out = Path(argv[0]) if argv else DATA_DIR
    write_all(out, encounters())
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
