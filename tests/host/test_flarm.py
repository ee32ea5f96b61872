"""FLARM feed: encoding checked by an independent decoder, config errors, and the live TCP/serial output."""

from __future__ import annotations

import asyncio
import json
import math
import os
import shutil
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from itertools import pairwise
from typing import Any

import numpy as np
import pytest
from flarm_decoder import (
    Answer,
    DecodeError,
    Pflaa,
    Pflau,
    Position,
    decode_line,
    decode_stream,
    fields_of,
    pynmea2_fields,
    split_lines,
)

from sepmon.apps.daemon import Daemon
from sepmon.apps.extensions import build_outputs
from sepmon.core.config import parse_config
from sepmon.core.errors import ConfigError
from sepmon.core.geo import enu_basis, geodetic_to_ecef, range_bearing
from sepmon.core.ingest import NmeaIngest
from sepmon.core.model import Event, Fix, PairStatus, TrackState
from sepmon.links.sources import parse_source
from sepmon.outputs.flarm import FlarmOutput, from_config
from sepmon.outputs.flarmcodec import FeedOptions, IdBook, burst, gga, rmc
from sepmon.sim import simulate

W = "outputs.flarm"


def state(source: str, lat: float, lon: float, alt: float | None = 1000.0, **kw: Any) -> TrackState:
    base: dict[str, Any] = dict(t=0.0, ve=0.0, vn=0.0, vu=0.0, quality=1, hdop=1.0, age_s=0.5, lost=False)
    base.update(kw)
    return TrackState(source=source, lat=lat, lon=lon, alt_m=alt, **base)


@dataclass(frozen=True)
class At:
    """A simulated vehicle's true state at one time, as floats."""

    lat: float
    lon: float
    h: float
    ve: float
    vn: float
    vu: float

    @property
    def speed(self) -> float:
        return math.hypot(self.ve, self.vn)

    @property
    def course(self) -> float:
        return math.degrees(math.atan2(self.ve, self.vn)) % 360.0


def truth_at(sim: Any, source: str, t: float) -> At:
    s = sim.truth.sample(source, np.array([t]))
    return At(*(float(np.ravel(getattr(s, k))[0]) for k in ("lat", "lon", "h", "ve", "vn", "vu")))


def decoded(sentences: list[str]) -> list[Any]:
    """The sentences through the spec-written decoder, each also read alike by pynmea2."""
    for s in sentences:
        assert pynmea2_fields(s) == fields_of(s), s
    return [decode_line(s) for s in sentences]


def pair(own: str, other: str, t_violation_s: float | None, *, lost: bool = False) -> PairStatus:
    """The status of ``own``'s pair with ``other`` as far as the feed reads it."""
    a, b = sorted((own, other))
    return PairStatus(a, b, t_violation_s=t_violation_s, lost=lost)


def only(items: list[Any], kind: type) -> list[Any]:
    return [x for x in items if isinstance(x, kind)]


# ---- the decoder itself -------------------------------------------------------------------------


def test_decoder_reads_the_specification_examples_and_rejects_damage() -> None:
    # The examples of the data port specification, with their checksums computed here.
    def framed(body: str) -> str:
        c = 0
        for ch in body.encode():
            c ^= ch
        return f"${body}*{c:02X}"

    u = decode_line(framed("PFLAU,3,1,2,1,2,-30,2,-32,755"))
    assert isinstance(u, Pflau)
    assert (u.rx, u.alarm_level, u.relative_bearing, u.relative_vertical, u.relative_distance) == (
        3,
        2,
        -30,
        -32,
        755,
    )
    a = decode_line(framed("PFLAA,0,-1234,1234,220,2,DD8F12,180,,30,-1.4,1"))
    assert isinstance(a, Pflaa)
    assert (a.relative_north, a.relative_east, a.relative_vertical, a.id, a.track) == (
        -1234,
        1234,
        220,
        "DD8F12",
        180,
    )
    assert (a.ground_speed, a.climb_rate, a.acft_type) == (30, -1.4, 1)
    good = framed("PFLAU,0,1,2,1,0,,0,,,")
    with pytest.raises(DecodeError, match="checksum"):
        decode_line(good[:-1] + ("0" if good[-1] != "0" else "1"))
    with pytest.raises(DecodeError, match="outside"):
        decode_line(framed("PFLAU,0,1,2,1,4,,0,,,"))
    with pytest.raises(DecodeError, match="inside a line"):
        split_lines((good + "\r\n" + good[:9]).encode())


# ---- encoding -----------------------------------------------------------------------------------


def test_burst_without_own_fix_or_traffic_is_a_bare_pflau() -> None:
    # Oracle: FTD-012 (a FLARM without a GPS fix still sends GPRMC with status V, GPGGA
    # with quality 0) and NMEA 0183 (null fields when there is no fix).
    out = decoded(burst(None, [], {}, IdBook(), FeedOptions()))
    assert len(out) == 3
    r, g, u = out
    assert isinstance(r, Position) and r.kind == "RMC" and not r.valid and r.lat is None
    assert isinstance(g, Position) and g.kind == "GGA" and g.quality == 0 and g.lat is None
    assert isinstance(u, Pflau)
    assert (u.rx, u.gps, u.alarm_level, u.alarm_type) == (0, 0, 0, 0)
    assert u.relative_bearing is None and u.relative_distance is None and u.id is None
    own = state("alpha", 47.0, 11.0, ve=20.0)
    out = decoded(burst(own, [own], {}, IdBook(), FeedOptions()))
    assert len(out) == 1 and out[0].gps == 2 and out[0].relative_distance is None
    # The own track lost: no usable fix any more, so RMC says V again (and PFLAU GPS 0).
    lost = state("alpha", 47.0, 11.0, ve=20.0, lost=True)
    fix = Fix("alpha", 1_700_000_000.0, 47.0, 11.0, 900.0, 20.0, 90.0, 1, 0.9, 9)
    out = decoded(burst(lost, [lost], {}, IdBook(), FeedOptions(), own_fix=fix, new_fix=False))
    assert [type(x) for x in out] == [Position, Position, Pflau]
    assert not out[0].valid and out[1].quality == 0 and out[2].gps == 0


def _enu(own: TrackState, lat: float, lon: float, h: float) -> tuple[float, float]:
    """East/north of a point in the own vehicle's tangent plane, straight from ECEF."""
    d = geodetic_to_ecef(lat, lon, h) - geodetic_to_ecef(own.lat, own.lon, own.alt_m or 0.0)
    e, n, _ = enu_basis(own.lat, own.lon)
    return float(d @ e), float(d @ n)


@pytest.mark.parametrize("scenario", ["head-on", "crossing", "climbing", "overtaking"])
def test_geometry_matches_the_core_and_the_simulated_positions(scenario: str) -> None:
    sim = simulate(scenario, seed=3, speed=80.0, cpa_time=60.0, vertical=250.0)
    ids = IdBook()
    for t in np.linspace(sim.truth.t0, sim.truth.t0 + sim.truth.duration, 7):
        a, b = truth_at(sim, "alpha", t), truth_at(sim, "bravo", t)
        own = state("alpha", a.lat, a.lon, a.h, ve=a.ve, vn=a.vn)
        other = state("bravo", b.lat, b.lon, b.h, ve=b.ve, vn=b.vn, vu=b.vu)
        # 10 s to impact: FTD-012's band 2 ("9-12 seconds to impact").
        pairs = {"bravo": pair("alpha", "bravo", 10.0)}
        out = decoded(burst(own, [own, other], pairs, ids, FeedOptions()))
        [u] = only(out, Pflau)
        rng, brg = (float(x) for x in range_bearing(own.lat, own.lon, other.lat, other.lon))
        if rng > 20_000:
            assert not only(out, Pflaa)
            continue
        [p] = only(out, Pflaa)
        # Against the core: the surface range and bearing resolved north/east, rounded to metres.
        assert abs(p.relative_north - rng * math.cos(math.radians(brg))) <= 0.5 + 1e-6
        assert abs(p.relative_east - rng * math.sin(math.radians(brg))) <= 0.5 + 1e-6
        assert abs(math.hypot(p.relative_north, p.relative_east) - rng) <= 1.0
        assert abs(u.relative_distance - rng) <= 0.5 + 1e-6
        # Against the simulated positions in the own tangent plane (height and curvature: < 0.1 %).
        e, n = _enu(own, other.lat, other.lon, other.alt_m or 0.0)
        tol = 2.0 + 1e-3 * rng
        assert abs(p.relative_east - e) <= tol and abs(p.relative_north - n) <= tol
        assert abs(p.relative_vertical - (b.h - a.h)) <= 0.5 + 1e-6
        assert u.relative_vertical == p.relative_vertical
        # Bearing relative to the own ground track, clockwise positive.
        own_track = math.degrees(math.atan2(own.ve, own.vn))
        want = (math.degrees(math.atan2(e, n)) - own_track + 180.0) % 360.0 - 180.0
        assert abs((u.relative_bearing - want + 180.0) % 360.0 - 180.0) <= 0.6
        # The intruder's own motion.
        assert p.track is not None and abs((p.track - b.course + 180.0) % 360.0 - 180.0) <= 0.5
        assert p.ground_speed == round(b.speed)
        assert p.climb_rate == pytest.approx(round(b.vu, 1), abs=0.051)
        assert (p.alarm_level, u.alarm_level, u.alarm_type) == (2, 2, 2)
        assert p.id_type == 2 and p.id == u.id == ids.id_for("bravo")


def test_pflau_reports_the_most_urgent_then_nearest_and_lists_in_that_order() -> None:
    own = state("alpha", 47.0, 11.0, ve=15.0)
    near = state("near", 47.01, 11.0)  # ~1.1 km north
    far = state("far", 47.05, 11.0)  # ~5.6 km north
    farther = state("farther", 47.0, 11.2)  # ~15 km east
    ids = IdBook()
    states = [own, far, near, farther]
    # 5 s and 15 s to impact: FTD-012's bands 3 (0-8 s) and 1 (13-18 s).
    pairs = {"far": pair("alpha", "far", 5.0), "near": pair("alpha", "near", 15.0)}
    out = decoded(burst(own, states, pairs, ids, FeedOptions()))
    u = only(out, Pflau)[0]
    assert (u.alarm_level, u.alarm_type, u.id, u.rx) == (3, 2, ids.id_for("far"), 3)
    assert [p.id for p in only(out, Pflaa)] == [ids.id_for(s) for s in ("far", "near", "farther")]
    # No alarm: the nearest vehicle as no-alarm traffic information (AlarmType 0).
    out = decoded(burst(own, states, {}, ids, FeedOptions()))
    u = only(out, Pflau)[0]
    assert (u.alarm_level, u.alarm_type, u.id) == (0, 0, ids.id_for("near"))
    assert u.relative_bearing == -90 or abs(u.relative_bearing + 90) <= 1  # ahead is east; north is left


def test_range_filter_lost_tracks_and_target_cap() -> None:
    own = state("alpha", 47.0, 11.0)
    inside = state("inside", 47.17, 11.0)  # ~18.9 km
    outside = state("outside", 47.2, 11.0)  # ~22.2 km
    lost_quiet = state("lostq", 47.01, 11.0, lost=True)
    lost_alarm = state("losta", 47.02, 11.0, lost=True)
    pairs = {
        "losta": pair("alpha", "losta", 5.0, lost=True),
        "lostq": pair("alpha", "lostq", None, lost=True),
    }
    out = decoded(burst(own, [own, inside, outside, lost_quiet, lost_alarm], pairs, IdBook(), FeedOptions()))
    ids = IdBook()
    # Lost vehicles are not in PFLAA, alarming or not (see test_a_lost_target_...).
    assert {p.id for p in only(out, Pflaa)} == {ids.id_for("inside")}
    assert only(out, Pflau)[0].rx == 2  # RX counts every vehicle heard, whatever the range; not lost ones
    out = decoded(burst(own, [own, inside], {}, IdBook(), FeedOptions(range_m=10_000)))
    assert not only(out, Pflaa)
    many = [state(f"v{i:02d}", 47.0 + i * 1e-3, 11.0) for i in range(1, 30)]
    out = decoded(burst(own, [own, *many], {}, IdBook(), FeedOptions(max_targets=5)))
    assert len(only(out, Pflaa)) == 5 and only(out, Pflau)[0].rx == 29
    # A lost vehicle reported in PFLAU takes no place among the max_targets PFLAA.
    out = decoded(burst(own, [own, lost_alarm, *many], pairs, IdBook(), FeedOptions(max_targets=5)))
    assert len(only(out, Pflaa)) == 5 and only(out, Pflau)[0].id == ids.id_for("losta")


# ---- alarm level by time to impact (issue 15) ---------------------------------------------------

# FTD-012 (FLARM data port ICD), PFLAU and PFLAA <AlarmLevel>: "0 = no alarm (also used for
# no-alarm traffic information), 1 = alarm, 13-18 seconds to impact, 2 = alarm, 9-12 seconds
# to impact, 3 = alarm, 0-8 seconds to impact".
ICD_BANDS = {3: (0.0, 8.0), 2: (9.0, 12.0), 1: (13.0, 18.0)}


def icd_level(t_impact: float) -> int:
    """The band of FTD-012 a time to impact falls in (whole seconds as the ICD writes them)."""
    for level, (lo, hi) in ICD_BANDS.items():
        if lo <= math.ceil(t_impact) <= hi:
            return level
    return 0


@pytest.mark.parametrize("t", [0.4, 3.0, 8.0, 8.6, 10.0, 12.0, 12.3, 15.0, 18.0, 18.5, 25.0, 170.0])
def test_alarm_level_is_the_icds_band_of_the_time_to_impact(t: float) -> None:
    # Oracle: the FTD-012 bands quoted above. The pair is outside its volume, converging:
    # its time to impact is t_violation_s itself.
    own = state("alpha", 47.0, 11.0, vn=50.0)
    other = state("bravo", 47.02, 11.0, vn=-50.0)
    out = decoded(burst(own, [own, other], {"bravo": pair("alpha", "bravo", t)}, IdBook(), FeedOptions()))
    [u] = only(out, Pflau)
    [a] = only(out, Pflaa)
    assert a.alarm_level == u.alarm_level == icd_level(t)
    assert u.alarm_type == (2 if icd_level(t) else 0)  # FTD-012 AlarmType: 2 aircraft alarm, 0 traffic


@pytest.mark.parametrize("bad", [None, math.nan, math.inf, -math.inf])
def test_no_predicted_impact_is_traffic_at_level_0(bad: float | None) -> None:
    # Oracle: FTD-012 ("0 = no alarm (also used for no-alarm traffic information)"): a pair
    # with no time to impact (not converging, or a value that is not a time) is listed, level 0.
    own = state("alpha", 47.0, 11.0, vn=50.0)
    other = state("bravo", 47.005, 11.0, vn=-50.0)
    out = decoded(burst(own, [own, other], {"bravo": pair("alpha", "bravo", bad)}, IdBook(), FeedOptions()))
    assert [p.alarm_level for p in only(out, Pflaa)] == [0]
    assert (only(out, Pflau)[0].alarm_level, only(out, Pflau)[0].alarm_type) == (0, 0)


@pytest.mark.parametrize(
    ("north", "east", "up", "v_north", "v_up", "want_s"),
    [
        (600.0, 0.0, 0.0, -100.0, 0.0, 6.0),  # head-on inside the minima: 600 m at 100 m/s closure
        (1500.0, 0.0, 0.0, -100.0, 0.0, 15.0),
        (1500.0, 700.0, 0.0, -100.0, 0.0, 15.0),  # will miss by 700 m of 1655: still on course
        (1600.0, 1200.0, 0.0, -100.0, 0.0, None),  # will pass 1200 m abeam of 2000: brushing by
        (0.0, 0.0, 40.0, 0.0, -4.0, 10.0),  # vertical only: 40 m above, descending at 4 m/s
        (0.0, 2000.0, 7.0, 0.0, -7.0, None),  # 2 km abeam, 7 m apart in height closing: not a collision
        (2000.0, 0.0, 0.0, -1.0, 0.0, 2000.0),  # drifting closer at 1 m/s: no impact within 18 s
        (-500.0, 0.0, 0.0, -100.0, 0.0, None),  # already astern and opening
        (0.0, 2000.0, 0.0, 0.0, 0.0, None),  # no relative motion
    ],
)
def test_inside_the_volume_the_time_to_impact_is_a_collision_courses_closest_approach(
    north: float, east: float, up: float, v_north: float, v_up: float, want_s: float | None
) -> None:
    # Oracle: geometry worked out here: relative motion along north (or up) reaches its
    # closest point after the distance along it / closing speed, missing by the distance
    # across it; a collision course misses by at most half the present distance (the
    # feed's documented rule); none when opening or not moving.
    lat, lon = _latlon(north, east)
    own = state("alpha", LAT0, LON0, alt=1000.0)
    other = state("bravo", lat, lon, alt=1000.0 + up, vn=v_north, vu=v_up)
    out = decoded(burst(own, [own, other], {"bravo": pair("alpha", "bravo", 0.0)}, IdBook(), FeedOptions()))
    [p] = only(out, Pflaa)
    assert p.alarm_level == (0 if want_s is None else icd_level(want_s))


R_EARTH = 6_371_008.8
LAT0, LON0 = 47.0, 11.0


def _latlon(north: float, east: float) -> tuple[float, float]:
    """A point north/east of (LAT0, LON0) on a sphere: the tests' own flat geometry."""
    return (
        LAT0 + math.degrees(north / R_EARTH),
        LON0 + math.degrees(east / (R_EARTH * math.cos(math.radians(LAT0)))),
    )


def _through_the_daemon(
    vehicles: dict[str, tuple[float, float, float, float]],
    config: dict[str, Any] | None = None,
    *,
    seconds: int = 8,
    stop: dict[str, int] | None = None,
) -> list[Any]:
    """One burst of the live feed (own vehicle alpha) after ``seconds`` of 1 Hz fixes.

    Each vehicle is (north, east, v_north, v_east) at the last second, in metres and
    m/s, at 1000 m; ``stop`` names vehicles whose fixes end that many seconds early.
    """
    daemon = _inert_daemon(config)
    out = from_config(W, {"own": "alpha", "port": 0})
    t0 = 1_700_000_000.0
    for k in range(seconds):
        batch = []
        for name, (n, e, vn, ve) in vehicles.items():
            ago = seconds - 1 - k
            if stop and ago < stop.get(name, 0):
                continue
            lat, lon = _latlon(n - vn * ago, e - ve * ago)
            cog = math.degrees(math.atan2(ve, vn)) % 360.0
            batch.append(Fix(name, t0 + k, lat, lon, 1000.0, math.hypot(vn, ve), cog, 1, 0.9, 9, rx_t=t0 + k))
        daemon.inject_fixes(batch)
    return decoded(out.sentences(daemon.picture()))


def test_parallel_traffic_2_km_abeam_inside_the_minima_is_traffic_not_an_alarm() -> None:
    # Oracle: geometry (same course and speed 2 km apart: no relative motion, no impact) and
    # FTD-012 (level 0 for no-alarm traffic). The default minima (3 km) put the pair inside
    # them, where the old feed said level 3: "impact within 8 s" for traffic 2 km abeam.
    out = _through_the_daemon({"alpha": (0.0, 0.0, 50.0, 0.0), "bravo": (0.0, 2000.0, 50.0, 0.0)})
    [p] = only(out, Pflaa)
    assert abs(math.hypot(p.relative_north, p.relative_east) - 2000.0) < 10.0
    assert p.alarm_level == 0
    assert (only(out, Pflau)[0].alarm_level, only(out, Pflau)[0].alarm_type) == (0, 0)


def test_traffic_already_astern_is_not_an_alarm() -> None:
    # Oracle: geometry (500 m behind and opening at 100 m/s: the closest point is past) and FTD-012.
    out = _through_the_daemon({"alpha": (0.0, 0.0, 50.0, 0.0), "bravo": (-500.0, 0.0, -50.0, 0.0)})
    [p] = only(out, Pflaa)
    assert p.relative_north == pytest.approx(-500.0, abs=5.0)
    assert p.alarm_level == 0


@pytest.mark.parametrize("minima", [None, {"horizontal_m": 50.0, "vertical_m": 30.0}])
def test_head_on_at_100_mps_with_1500_m_to_go_is_15_s_to_impact_level_1(
    minima: dict[str, float] | None,
) -> None:
    # Oracle: geometry (1500 m / 100 m/s = 15 s to impact) and FTD-012 (13-18 s: level 1),
    # with the default 3 km minima (inside them already: the closest approach counts) and
    # with 50 m ones (outside: the time to reach them, 14.5 s less the margins).
    config = {"separation": minima} if minima else None
    out = _through_the_daemon({"alpha": (0.0, 0.0, 50.0, 0.0), "bravo": (1500.0, 0.0, -50.0, 0.0)}, config)
    [p] = only(out, Pflaa)
    closing = 100.0
    t_impact = math.hypot(p.relative_north, p.relative_east) / closing
    assert t_impact == pytest.approx(15.0, abs=0.1)
    assert p.alarm_level == icd_level(t_impact) == 1
    u = only(out, Pflau)[0]
    assert (u.alarm_level, u.alarm_type, u.relative_bearing) == (1, 2, 0)


@pytest.mark.parametrize(("separation", "speed"), [(2000.0, 60.0), (40.0, 0.0)])
@pytest.mark.parametrize("noise", [1.0, 2.0])
def test_noisy_parallel_or_parked_vehicles_inside_the_minima_never_alarm(
    separation: float, speed: float, noise: float
) -> None:
    # Oracle: the simulator's truth (two vehicles on parallel courses, or parked, a fixed
    # distance apart: no relative motion, never an impact) and FTD-012 (level 0 traffic).
    # Their receivers' noise (at the default and twice it) goes through sepmon's ingest and
    # the daemon; every second's PFLAA must stay level 0, inside the 3 km default minima.
    sim = simulate("parallel", seed=5, separation=separation, speed=speed, noise_scale=noise, duration=120)
    a, b = truth_at(sim, "alpha", sim.truth.t0), truth_at(sim, "bravo", sim.truth.t0)
    assert math.hypot(a.ve - b.ve, a.vn - b.vn) < 0.01  # the same velocity (in each one's own frame)
    fixes = _fixes_of(sim)
    daemon = _inert_daemon()
    out = from_config(W, {"own": "alpha", "port": 0})
    levels: list[int] = []
    second = math.floor(fixes[0].rx_t or 0.0)
    i = 0
    while i < len(fixes):
        batch = []
        while i < len(fixes) and (fixes[i].rx_t or 0.0) < second + 1:
            batch.append(fixes[i])
            i += 1
        daemon.inject_fixes(batch)
        levels += [p.alarm_level for p in only(decoded(out.sentences(daemon.picture())), Pflaa)]
        second += 1
    assert len(levels) >= 115 and set(levels) == {0}


def test_a_lost_target_is_not_sent_at_a_frozen_position() -> None:
    # Oracle: FTD-012 (PFLAA is data on aircraft received now; RelativeBearing "empty for
    # non-directional targets") and XCSoar (drops a target 2 s after its last PFLAA, so a
    # PFLAA of a frozen position is drawn as current). bravo, converging head-on, went silent
    # 8 s ago (lost after 5 s): the old feed went on listing it where it was last seen.
    out = _through_the_daemon(
        {"alpha": (0.0, 0.0, 50.0, 0.0), "bravo": (1500.0, 0.0, -50.0, 0.0)}, seconds=14, stop={"bravo": 8}
    )
    assert not only(out, Pflaa)
    [u] = only(out, Pflau)
    assert u.rx == 0 and u.gps == 2
    if u.alarm_level > 0:  # its danger, from the dead-reckoned pair, without a direction
        assert u.relative_bearing is None and u.alarm_type == 2 and u.id == IdBook().id_for("bravo")


def test_the_own_track_lost_is_no_gps_never_an_empty_all_clear() -> None:
    # Oracle: FTD-012 (PFLAU <GPS> "0 = no GPS reception"; a FLARM without GPS sends RMC with
    # status V) and NMEA 0183. The own track went silent 8 s ago while bravo converges: the old
    # feed listed bravo relative to the own vehicle's frozen position as if it were current.
    out = _through_the_daemon(
        {"alpha": (0.0, 0.0, 50.0, 0.0), "bravo": (1500.0, 0.0, -50.0, 0.0)}, seconds=14, stop={"alpha": 8}
    )
    assert not only(out, Pflaa)
    [u] = only(out, Pflau)
    assert u.gps == 0 and u.rx == 1
    rmc_, gga_ = only(out, Position)
    assert not rmc_.valid and gga_.quality == 0
    if u.alarm_level > 0:
        assert u.relative_bearing is None and u.alarm_type == 2


def test_a_lost_target_with_an_alarm_is_reported_without_a_bearing_and_a_quiet_one_fades() -> None:
    # Oracle: FTD-012 (bands; RelativeBearing empty for non-directional targets; AlarmType 2
    # aircraft alarm). Its pair is lost but 5 s to impact (from the dead-reckoned state).
    own = state("alpha", 47.0, 11.0, vn=50.0)
    gone = state("bravo", 47.01, 11.0, vn=-50.0, lost=True)
    quiet = state("charlie", 47.005, 11.0, lost=True)
    pairs = {
        "bravo": pair("alpha", "bravo", 5.0, lost=True),
        "charlie": pair("alpha", "charlie", None, lost=True),
    }
    out = decoded(burst(own, [own, gone, quiet], pairs, IdBook(), FeedOptions()))
    assert not only(out, Pflaa)
    [u] = only(out, Pflau)
    assert (u.alarm_level, u.alarm_type, u.relative_bearing, u.id) == (3, 2, None, IdBook().id_for("bravo"))
    assert u.relative_distance == pytest.approx(1112, abs=2)  # 0.01° of latitude
    # A pair flagged lost with both tracks current (the monitor's say) is treated alike.
    fresh = replace(gone, lost=False)
    out = decoded(
        burst(own, [own, fresh], {"bravo": pair("alpha", "bravo", 5.0, lost=True)}, IdBook(), FeedOptions())
    )
    assert not only(out, Pflaa) and only(out, Pflau)[0].relative_bearing is None
    # Quiet and lost: not listed, not reported; RX counts neither.
    out = decoded(burst(own, [own, quiet], pairs, IdBook(), FeedOptions()))
    assert not only(out, Pflaa)
    assert (only(out, Pflau)[0].rx, only(out, Pflau)[0].relative_distance) == (0, None)


def test_a_vehicle_with_a_position_that_is_not_a_number_is_left_out_not_the_burst() -> None:
    # Oracle: the ICD's field ranges (the decoder refuses anything else). One state with a
    # NaN position used to raise in the encoder and lose the whole second's feed.
    own = state("alpha", 47.0, 11.0, vn=50.0)
    bad = state("bad", math.nan, 11.0)
    fast = state("nanvel", 47.01, 11.0, ve=math.nan, vn=math.nan, vu=math.inf)
    good = state("good", 47.02, 11.0)
    pairs = {"nanvel": pair("alpha", "nanvel", 0.0)}
    out = decoded(burst(own, [own, bad, fast, good], pairs, IdBook(), FeedOptions()))
    ids = IdBook()
    assert [p.id for p in only(out, Pflaa)] == [ids.id_for("nanvel"), ids.id_for("good")]
    assert [p.alarm_level for p in only(out, Pflaa)] == [0, 0]
    # The own position not a number: no usable fix, as a FLARM without GPS reports it.
    out = decoded(burst(state("alpha", math.nan, 11.0), [good], {}, IdBook(), FeedOptions()))
    assert [type(x) for x in out] == [Position, Position, Pflau] and out[2].gps == 0


def test_unknown_heights_are_co_altitude_and_climb_is_clamped() -> None:
    own = state("alpha", 47.0, 11.0, alt=None)
    other = state("bravo", 47.01, 11.0, alt=900.0, vu=-50.0, ve=0.0, vn=0.0)
    out = decoded(burst(own, [own, other], {}, IdBook(), FeedOptions(aircraft_types={"bravo": "D"})))
    p = only(out, Pflaa)[0]
    assert (p.relative_vertical, p.climb_rate, p.ground_speed, p.track, p.acft_type) == (0, -32.7, 0, 0, 13)


def test_ids_are_stable_distinct_and_pinnable() -> None:
    a, b = IdBook(), IdBook()
    names = [f"veh{i}" for i in range(2000)]
    got = [a.id_for(n) for n in names]
    assert got == [b.id_for(n) for n in reversed(names)][::-1]  # order does not matter without collisions
    assert len(set(got)) == len(got)
    assert all(len(i) == 6 and int(i, 16) not in (0, 0xFFFFFF) for i in got)
    pinned = IdBook({"bravo": IdBook().id_for("charlie")})
    assert pinned.id_for("bravo") == IdBook().id_for("charlie")
    assert pinned.id_for("charlie") != pinned.id_for("bravo")  # a collision is resolved, not shared


def test_gga_rmc_round_trip_through_sepmon_ingest_and_the_decoder() -> None:
    fix = Fix("alpha", 1710547199.996, -33.999999999, -0.5, 1234.5, 61.7, 359.96, 1, 0.8, 11)
    sentences = [rmc(fix), gga(fix)]
    r, g = decoded(sentences)
    assert isinstance(r, Position) and isinstance(g, Position)
    assert r.hhmmss == g.hhmmss == "000000.00" and r.ddmmyy == "160324"  # the carry into the next day
    assert r.lat == pytest.approx(fix.lat, abs=1e-6) and r.lon == pytest.approx(fix.lon, abs=1e-6)
    assert g.alt == 1234.5 and r.sog_kn == pytest.approx(61.7 * 3600 / 1852, abs=0.05)
    ing = NmeaIngest("alpha")
    data = ("\r\n".join(sentences) + "\r\n").encode()
    fixes = ing.feed(data) + ing.flush()
    assert len(fixes) == 1
    back = fixes[0]
    assert back.t == pytest.approx(1710547200.0)
    assert back.lat == pytest.approx(fix.lat, abs=1e-6) and back.lon == pytest.approx(fix.lon, abs=1e-6)
    assert back.alt_m == pytest.approx(1234.5) and back.quality == 1 and back.sats == 11
    assert back.sog_mps == pytest.approx(61.7, abs=0.03)


def test_gga_carries_sea_level_height_and_the_receivers_geoid_separation() -> None:
    # Oracle: the receiver's own GGA (NMEA 0183: field 9 altitude above mean sea level,
    # field 11 geoid separation), as the simulator writes it: the feed's GGA must give
    # back the same two fields, as a FLARM does, not the ellipsoid height with no separation.
    sim = simulate("head-on", duration=2, sentences="RMC,GGA", geoid_sep=23.7)
    lines = [data.decode() for _, src, data in sim.lines if src == "alpha" and b"GGA" in data]
    fields = lines[0].split("*")[0].split(",")
    msl, sep = float(fields[9]), float(fields[11])
    assert sep == 23.7
    ing = NmeaIngest("alpha")
    fix = (ing.feed("".join(d.decode() for _, s, d in sim.lines if s == "alpha").encode()) + ing.flush())[0]
    assert fix.geoid_sep_m == 23.7 and fix.alt_m == pytest.approx(msl + sep)
    g = decode_line(gga(fix))
    assert isinstance(g, Position)
    assert g.alt == pytest.approx(msl, abs=0.05) and g.geoid_sep == pytest.approx(sep, abs=0.05)
    # A receiver that sent no separation: its altitude goes out as it came, separation null.
    bare = Fix("alpha", 1_700_000_000.0, 47.0, 11.0, 512.3, 20.0, 90.0, 1, 0.9, 9)
    g = decode_line(gga(bare))
    assert isinstance(g, Position) and g.alt == 512.3 and g.geoid_sep is None


def test_queries_are_answered_as_the_specification_says() -> None:
    # Oracle: FTD-012 ($PFLAV,R -> $PFLAV,A,<hw>,<sw>,<obst>; $PFLAC,R,<item> -> $PFLAC,A,<item>,<value>,
    # $PFLAC,A,ERROR otherwise) and FTD-014's item values (ACFT decimal 0-15, RANGE metres).
    from sepmon.outputs.flarmcodec import DeviceInfo, answer

    info = DeviceInfo(own_id="3F12A0", aircraft_type="D", range_m=5000.0)

    def ask(query: str) -> Answer:
        reply = answer(query, info)
        assert reply is not None
        got = decode_line(reply)
        assert isinstance(got, Answer)
        return got

    assert ask("$PFLAV,R*39").kind == "PFLAV"
    assert ask("$PFLAC,R,ID").values == ("3F12A0",)
    assert ask("$PFLAC,R,ACFT*xx").values == ("13",)
    assert ask("$PFLAC,R,RANGE").values == ("5000",)
    assert ask("$PFLAC,R,NOSUCHITEM").item == "ERROR"
    assert ask("$PFLAC,S,ACFT,1").item == "ERROR"  # not configurable from an app
    assert answer("$GPRMC,,V,,,,,,,,,,N*53", info) is None and answer("garbage", info) is None


# ---- configuration ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ({"own": "alpha", "colour": 1}, r"^outputs\.flarm\.colour: unknown key$"),
        ({}, r"^outputs\.flarm\.own: expected"),
        ({"own": "alpha", "port": 70000}, r"^outputs\.flarm\.port: expected a whole number from 0 to 65535"),
        ({"own": "alpha", "port": "2000"}, r"^outputs\.flarm\.port: "),
        ({"own": "alpha", "port": True}, r"^outputs\.flarm\.port: "),
        ({"own": "alpha", "bind": ""}, r"^outputs\.flarm\.bind: "),
        ({"own": "alpha", "range_m": 0}, r"^outputs\.flarm\.range_m: "),
        ({"own": "alpha", "range_m": 50_000}, r"^outputs\.flarm\.range_m: "),
        ({"own": "alpha", "max_clients": 0}, r"^outputs\.flarm\.max_clients: "),
        ({"own": "alpha", "max_buffer": 10}, r"^outputs\.flarm\.max_buffer: "),
        ({"own": "alpha", "aircraft_type": "Z"}, r"^outputs\.flarm\.aircraft_type: "),
        ({"own": "alpha", "aircraft_types": {"b": 16}}, r"^outputs\.flarm\.aircraft_types\.b: "),
        ({"own": "alpha", "ids": {"b": "12345"}}, r"^outputs\.flarm\.ids\.b: "),
        ({"own": "alpha", "ids": {"b": "FFFFFF"}}, r"^outputs\.flarm\.ids\.b: "),
        (
            {"own": "alpha", "ids": {"b": "abc123", "c": "ABC123"}},
            r"^outputs\.flarm\.ids\.c: .*already pinned",
        ),
        ({"own": "alpha", "tcp": False}, r"^outputs\.flarm: tcp = false and no serial"),
        ({"own": "alpha", "serial": 3}, r"^outputs\.flarm\.serial: "),
        ({"own": "alpha", "baud": 0}, r"^outputs\.flarm\.baud: "),
    ],
)
def test_config_errors_are_one_line(table: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message) as err:
        build_outputs({"flarm": table})
    assert "\n" not in str(err.value)


def test_config_defaults_and_registry() -> None:
    [out] = build_outputs({"flarm": {"own": "alpha", "aircraft_type": 8, "ids": {"bravo": "abc123"}}})
    assert isinstance(out, FlarmOutput) and out.name == "flarm"
    s = out.settings
    assert (s.port, s.bind, s.tcp, s.serial, s.max_clients) == (2000, "127.0.0.1", True, None, 8)
    assert s.feed.range_m == 20_000 and s.feed.aircraft_type == "8" and s.ids == {"bravo": "ABC123"}
    assert build_outputs({"flarm": {"own": "alpha", "enabled": False}}) == []


# ---- the live output -------------------------------------------------------------------------


def _inert_daemon(config_raw: dict[str, Any] | None = None, **kw: Any) -> Daemon:
    """A daemon whose only link is a UDP listener nobody sends to: fixes come by inject_fix."""
    spec = parse_source("test", {"name": "quiet", "url": "udp://127.0.0.1:0"})
    return Daemon(parse_config(config_raw or {}), [spec], **kw)


class Reader:
    """A TCP client collecting bytes with their (daemon-clock) arrival times."""

    def __init__(self, clock: Callable[[], float]) -> None:
        self.clock = clock
        self.data = bytearray()
        self.chunks: list[tuple[float, bytes]] = []
        self.task: asyncio.Task[None] | None = None

    async def connect(self, port: int) -> None:
        reader, self.writer = await asyncio.open_connection("127.0.0.1", port)
        self.task = asyncio.create_task(self._run(reader))

    async def _run(self, reader: asyncio.StreamReader) -> None:
        while chunk := await reader.read(65536):
            self.data += chunk
            self.chunks.append((self.clock(), chunk))

    async def close(self) -> None:
        self.writer.close()
        if self.task is not None:
            await asyncio.wait_for(self.task, 2.0)

    def timed_lines(self) -> list[tuple[float, str]]:
        """(arrival time, line) for every complete line, in order."""
        out, buf = [], b""
        for t, chunk in self.chunks:
            buf += chunk
            *lines, buf = buf.split(b"\r\n")
            out += [(t, ln.decode("ascii")) for ln in lines]
        return out


async def _wait_for(cond: Callable[[], bool], timeout: float) -> None:
    end = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < end, "timed out"
        await asyncio.sleep(0.02)


def test_pflau_every_second_with_no_traffic_in_real_time() -> None:
    async def main() -> Reader:
        out = from_config(W, {"own": "alpha", "port": 0})
        daemon = _inert_daemon(outputs=[out])
        task = asyncio.create_task(daemon.serve(install_signals=False))
        await _wait_for(lambda: out.port is not None, 3.0)
        assert out.port is not None
        client = Reader(time.monotonic)
        await client.connect(out.port)
        await asyncio.sleep(2.6)
        await client.close()
        daemon.stop()
        await asyncio.wait_for(task, 3.0)
        return client

    client = asyncio.run(main())
    items = decode_stream(bytes(client.data))
    pflau = [x for x in items if isinstance(x, Pflau)]
    assert pflau and all(x.gps == 0 and x.rx == 0 for x in pflau)
    # No own fix: every second also an RMC with status V and a GGA with quality 0.
    positions = [x for x in items if isinstance(x, Position)]
    assert len(positions) == 2 * len(pflau) and not any(p.valid for p in positions)
    times = [t for t, line in client.timed_lines() if line.startswith("$PFLAU")]
    assert len(times) in (2, 3)
    assert all(0.75 <= b - a <= 1.25 for a, b in pairwise(times))


def _fixes_of(sim: Any) -> list[Fix]:
    """The simulated receivers' bytes read by sepmon's own ingest, in receive order."""
    ings: dict[str, NmeaIngest] = {}
    fixes: list[Fix] = []
    for rx_t, source, data in sim.lines:
        ing = ings.setdefault(source, NmeaIngest(source))
        fixes += ing.feed(data, rx_t)
    for ing in ings.values():
        fixes += ing.flush()
    return sorted(fixes, key=lambda f: f.rx_t if f.rx_t is not None else f.t)


def test_live_feed_inside_the_daemon_head_on() -> None:
    # 150 m/s each way from 9 km: minima (3000 m) violated ~20 s in. The daemon's clock runs at 5x.
    sim = simulate("head-on", seed=7, speed=150.0, cpa_time=30.0, duration=23.0)
    violation = sim.truth.first_violation("alpha", "bravo", 3000.0, 300.0)
    assert violation is not None
    intruder_from = sim.truth.t0 + 3.0  # bravo heard only from here: first the own vehicle alone
    fixes = [f for f in _fixes_of(sim) if f.source == "alpha" or (f.rx_t or 0.0) >= intruder_from]
    speedup = 5.0
    sim_t0 = sim.truth.t0 - 2.5  # 2.5 s with nothing at all
    wall_t0 = time.monotonic()

    def clock() -> float:
        return sim_t0 + speedup * (time.monotonic() - wall_t0)

    end = sim.truth.t0 + sim.truth.duration

    async def main() -> tuple[Reader, FlarmOutput]:
        out = from_config(W, {"own": "alpha", "port": 0})
        daemon = _inert_daemon(outputs=[out], clock=clock)
        task = asyncio.create_task(daemon.serve(install_signals=False))
        await _wait_for(lambda: out.port is not None, 3.0)
        assert out.port is not None
        client = Reader(clock)
        await client.connect(out.port)
        i = 0
        while clock() < end:
            now = clock()
            while i < len(fixes) and (fixes[i].rx_t or 0.0) <= now:
                daemon.inject_fix(fixes[i])
                i += 1
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.05)
        await client.close()
        daemon.stop()
        await asyncio.wait_for(task, 3.0)
        return client, out

    client, out = asyncio.run(main())
    assert out.errors == 0
    # Every byte: complete lines, valid checksums, fields within the specification.
    decode_stream(bytes(client.data))
    lines = [(t, decode_line(ln)) for t, ln in client.timed_lines()]
    pflau = [(t, x) for t, x in lines if isinstance(x, Pflau)]
    times = [t for t, _ in pflau]
    assert len(pflau) >= int(end - sim_t0) - 2
    assert all(0.6 <= b - a <= 1.6 for a, b in pairwise(times)), times

    ids = IdBook()
    bravo_id = ids.id_for("bravo")
    before_own = [x for t, x in pflau if t < sim.truth.t0 - 0.3]
    assert before_own and all(x.gps == 0 and x.rx == 0 and x.relative_distance is None for x in before_own)
    alone = [x for t, x in pflau if sim.truth.t0 + 1.5 < t < intruder_from - 0.3]
    assert alone and all(x.gps == 2 and x.rx == 0 and x.relative_distance is None for x in alone)
    assert not [x for t, x in lines if isinstance(x, Pflaa) and t < intruder_from - 0.3]

    # The intruder: listed, at the right place, and the alarm reaches 3 before the minima are broken.
    intruded = [(t, x) for t, x in pflau if t > intruder_from + 1.0]
    assert intruded and all(x.rx == 1 and x.id == bravo_id for _, x in intruded)
    first3 = next(t for t, x in pflau if x.alarm_level == 3)
    assert first3 < violation - 2.0
    levels = [x.alarm_level for t, x in pflau if t <= first3]
    assert levels == sorted(levels), levels  # rising, never falling on the way in
    pflaa = [(t, x) for t, x in lines if isinstance(x, Pflaa)]
    assert pflaa and all(x.id == bravo_id and x.id_type == 2 for _, x in pflaa)
    for t, p in pflaa:
        a, b = truth_at(sim, "alpha", t), truth_at(sim, "bravo", t)
        rng, brg = (float(v) for v in range_bearing(a.lat, a.lon, b.lat, b.lon))
        # Noise, dead reckoning to the burst time and the client's arrival delay: tens of metres at 300 m/s.
        assert abs(p.relative_north - rng * math.cos(math.radians(brg))) < 120.0
        assert abs(p.relative_east - rng * math.sin(math.radians(brg))) < 120.0
        assert abs(p.relative_vertical) < 40.0
    # PFLAA and PFLAU of one burst agree on the level.
    for (t, u), (t2, p) in zip(
        [(t, x) for t, x in pflau if t > intruder_from + 1.0],
        [(t, x) for t, x in pflaa if t > intruder_from + 1.0],
        strict=False,
    ):
        if abs(t - t2) < 0.01:
            assert u.alarm_level == p.alarm_level
    # The own position went out as GGA/RMC, once per new fix, never repeated.
    pos = [x for _, x in lines if isinstance(x, Position) and x.valid]
    assert pos and {p.kind for p in pos} == {"GGA", "RMC"}
    rmc_times = [p.hhmmss for p in pos if p.kind == "RMC"]
    assert len(rmc_times) == len(set(rmc_times))


def test_slow_client_is_dropped_and_clients_are_bounded() -> None:
    async def main() -> None:
        events: list[Event] = []
        out = from_config(W, {"own": "alpha", "port": 0, "max_clients": 2, "max_buffer": 4096})
        daemon = _inert_daemon(outputs=[out], on_event=events.append)
        await out.start(daemon)
        assert out.port is not None
        # A second feed on the same port: reported, not raised, retried later.
        busy = from_config(W, {"own": "alpha", "port": out.port})
        await busy.start(daemon)
        assert busy.port is None
        assert [e.type for e in events] == ["flarm_up", "flarm_down"]
        assert f"cannot listen on 127.0.0.1:{out.port}" in (events[1].detail or "")
        # A client that never reads, with a tiny receive window.
        stuck = socket.socket()
        stuck.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1024)
        stuck.setblocking(False)
        await asyncio.get_running_loop().sock_connect(stuck, ("127.0.0.1", out.port))
        good = Reader(time.monotonic)
        await good.connect(out.port)
        await _wait_for(lambda: out.client_count == 2, 2.0)
        # A third client is refused: the server closes it at once.
        r3, w3 = await asyncio.open_connection("127.0.0.1", out.port)
        assert await asyncio.wait_for(r3.read(), 2.0) == b""
        w3.close()
        # A connect flood: every one refused and counted, one event for the burst.
        for _ in range(20):
            rf, wf = await asyncio.open_connection("127.0.0.1", out.port)
            assert await asyncio.wait_for(rf.read(), 2.0) == b""
            wf.close()
        assert out.refused == 21
        line = burst(None, [], {}, IdBook(), FeedOptions())[0]
        t0 = time.monotonic()
        for _ in range(4000):  # ~10 MB: far more than any socket buffer holds
            out.send([line] * 100)
            await asyncio.sleep(0)
            if out.dropped_clients:
                break
        assert time.monotonic() - t0 < 5.0  # never waited for the stuck client
        assert out.dropped_clients == 1
        details = [e.detail or "" for e in events if e.type == "flarm_client"]
        assert sum(d.endswith(" connected") for d in details) == 2
        assert sum("refused" in d for d in details) == 1
        assert sum("bytes behind" in d for d in details) == 1
        await _wait_for(lambda: out.client_count == 1, 2.0)
        out.send([line])
        await asyncio.sleep(0.2)
        await out.stop()
        await good.close()
        stuck.close()
        split_lines(bytes(good.data))  # the good client saw whole lines only
        assert bytes(good.data).endswith((line + "\r\n").encode())

    asyncio.run(main())


def test_serial_output_on_a_pty_and_a_busy_port() -> None:
    master, slave = os.openpty()
    path = os.ttyname(slave)

    t0 = 1_700_000_000.0

    async def main() -> bytes:
        out = from_config(W, {"own": "alpha", "tcp": False, "serial": path, "baud": 115200})
        daemon = _inert_daemon(config_raw={})
        daemon.inject_fix(
            Fix("alpha", 1_700_000_000.0, 47.0, 11.0, 900.0, 20.0, 90.0, 1, 0.9, 9, rx_t=1_700_000_000.0)
        )
        await out.start(daemon)
        os.write(master, b"$PFLAC,R,RANGE\r\n")  # an app on the (now raw) serial line asks (FTD-012)
        for k in range(3):
            out.on_tick(t0 + k, daemon.picture())
        await out.stop()
        return _read_available(master)

    try:
        got = asyncio.run(main())
    finally:
        os.close(master)
        os.close(slave)
    items = decode_stream(got)
    assert sum(isinstance(x, Pflau) for x in items) == 3
    assert sum(isinstance(x, Position) for x in items) == 2  # one fix: RMC + GGA once
    assert [(x.item, x.values) for x in items if isinstance(x, Answer)] == [("RANGE", ("20000",))]


def _read_available(fd: int) -> bytes:
    """Everything readable from ``fd`` now."""
    os.set_blocking(fd, False)
    got = b""
    while True:
        try:
            chunk = os.read(fd, 65536)
        except BlockingIOError:
            return got
        if not chunk:
            return got
        got += chunk


def test_serial_queue_keeps_whole_lines_when_the_port_does_not_drain() -> None:
    from sepmon.outputs.flarm import SerialSink

    sink = SerialSink("/nonexistent", 19200, limit=100)
    line = b"$PFLAU,0,1,0,1,0,,0,,,*4E\r\n"
    sink.pending += line[:10]  # pretend the first 10 bytes of a line are already waiting
    sink.write(line * 10)  # port closed: nothing drains
    assert bytes(sink.pending).count(b"\n") == 1  # the started line is finished, whole lines dropped
    assert sink.dropped_bytes == 10 + len(line) * 10 - len(sink.pending)


# ---- the feed read by a real gpsd, and slow clients --------------------------------------------


def _gpsd() -> str:
    exe = shutil.which("gpsd") or next(
        (p for p in ("/usr/sbin/gpsd", "/sbin/gpsd") if os.access(p, os.X_OK)), None
    )
    if exe is None:
        reason = "gpsd (Debian package gpsd) is not installed"
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    return exe


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.timeout(90)
def test_a_real_gpsd_reading_the_feed_gets_the_receivers_heights() -> None:
    # Oracle: gpsd (a real NMEA reader) connected to the feed as a tcp:// device, and the own
    # receiver's GGA (sea-level height, geoid separation). gpsd adds its own geoid model to a
    # GGA without separation, so an ellipsoid height sent with an empty field came out too
    # high by the geoid (the double count of issue 19); a FLARM-like GGA gives gpsd the
    # receiver's sea-level height and ellipsoid height back.
    gpsd = _gpsd()
    start = datetime.fromtimestamp(math.floor(time.time()), UTC)
    sim = simulate("head-on", start=start, duration=12, rate=1, sentences="RMC,GGA", geoid_sep=23.7)
    msl_at: dict[float, float] = {}
    for _, src, data in sim.lines:
        f = data.decode().split("*")[0].split(",")
        if src == "alpha" and f[0].endswith("GGA"):
            hh, mm, ss = int(f[1][:2]), int(f[1][2:4]), float(f[1][4:])
            day = start.replace(hour=0, minute=0, second=0, microsecond=0).timestamp()
            t = day + hh * 3600 + mm * 60 + ss
            msl_at[t + 86400 if t < start.timestamp() - 1 else t] = float(f[9])  # past midnight
    fixes = [replace(f, rx_t=None) for f in _fixes_of(sim) if f.source == "alpha"]
    assert len(fixes) >= 10 and all(f.geoid_sep_m == 23.7 for f in fixes)

    async def main() -> list[dict[str, Any]]:
        out = from_config(W, {"own": "alpha", "port": 0})
        daemon = _inert_daemon(outputs=[out])
        task = asyncio.create_task(daemon.serve(install_signals=False))
        await _wait_for(lambda: out.port is not None, 3.0)
        gport = _free_port()
        proc = await asyncio.create_subprocess_exec(
            gpsd, "-N", "-n", "-S", str(gport), f"tcp://127.0.0.1:{out.port}",
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
        )  # fmt: skip
        tpvs: list[dict[str, Any]] = []
        try:
            deadline = time.monotonic() + 15
            while True:
                try:
                    reader, writer = await asyncio.open_connection("127.0.0.1", gport)
                    break
                except OSError:
                    assert time.monotonic() < deadline, "gpsd did not listen"
                    await asyncio.sleep(0.1)
            writer.write(b'?WATCH={"enable":true,"json":true}\n')
            t0 = time.monotonic()
            for fix in fixes:  # at the receiver's own pace
                await asyncio.sleep(max(0.0, t0 + (fix.t - fixes[0].t) - time.monotonic()))
                daemon.inject_fix(fix)
                while True:
                    try:
                        line = await asyncio.wait_for(reader.readline(), 0.01)
                    except TimeoutError:
                        break
                    msg = json.loads(line)
                    if msg.get("class") == "TPV" and msg.get("mode", 0) >= 3 and "time" in msg:
                        tpvs.append(msg)
            writer.close()
        finally:
            proc.terminate()
            await proc.wait()
            daemon.stop()
            await asyncio.wait_for(task, 3.0)
        return tpvs

    tpvs = asyncio.run(main())
    assert len(tpvs) >= 5, tpvs
    for tpv in tpvs:
        t = datetime.fromisoformat(tpv["time"].replace("Z", "+00:00")).timestamp()
        msl = msl_at[round(t, 2)]
        assert tpv["altMSL"] == pytest.approx(msl, abs=0.15), tpv
        assert tpv["altHAE"] == pytest.approx(msl + 23.7, abs=0.15), tpv
        assert tpv["geoidSep"] == pytest.approx(23.7, abs=0.15), tpv


@pytest.mark.timeout(30)
def test_a_client_that_stops_reading_is_cut_off_by_age_before_the_kernel_buffers_fill() -> None:
    # Oracle: the kernel's own accounting (a client socket that is never read, with the
    # default receive buffer, while the server's side is left to autotune) — the old feed
    # counted only its own buffer, which stays empty until megabytes sit in the kernel.
    async def main() -> tuple[FlarmOutput, list[Event], Reader, float]:
        events: list[Event] = []
        out = from_config(W, {"own": "alpha", "port": 0, "max_lag_s": 1.0})
        daemon = _inert_daemon(outputs=[out], on_event=events.append)
        await out.start(daemon)
        assert out.port is not None
        stuck = socket.create_connection(("127.0.0.1", out.port))  # connected, never read
        good = Reader(time.monotonic)
        await good.connect(out.port)
        await _wait_for(lambda: out.client_count == 2, 2.0)
        line = burst(None, [], {}, IdBook(), FeedOptions())[-1]
        t0 = time.monotonic()
        cut = math.inf
        while time.monotonic() - t0 < 8.0:  # 20 bursts of ~8 KB a second
            out.send([line] * 300)
            await asyncio.sleep(0.05)
            if out.dropped_clients and cut == math.inf:
                cut = time.monotonic() - t0
                break
        await asyncio.sleep(0.2)
        await out.stop()
        await good.close()
        stuck.close()
        return out, events, good, cut

    out, events, good, cut = asyncio.run(main())
    assert out.dropped_clients == 1, "the stuck client was never cut off"
    assert cut < 4.0, cut  # 1 s of standing still, plus what fits in the small kernel buffers
    details = [e.detail or "" for e in events if e.type == "flarm_client" and "dropped" in (e.detail or "")]
    assert len(details) == 1 and "behind" in details[0]
    split_lines(bytes(good.data))  # the reading client was never cut and saw whole lines


@pytest.mark.timeout(20)
def test_an_apps_queries_get_answers_on_its_own_connection() -> None:
    # Oracle: FTD-012 (queries and the form of their answers), checked by the spec-written decoder.
    async def main() -> list[Answer]:
        out = from_config(W, {"own": "alpha", "port": 0, "ids": {"alpha": "3F12A0"}})
        daemon = _inert_daemon(outputs=[out])
        await out.start(daemon)
        assert out.port is not None
        reader, writer = await asyncio.open_connection("127.0.0.1", out.port)
        writer.write(b"$PFLAV,R*39\r\n$PFLAC,R,ID*42\r\n$PFLAC,S,NMEAOUT,0\r\n")
        got: list[Answer] = []
        while len(got) < 3:
            line = (await asyncio.wait_for(reader.readline(), 3.0)).decode().strip()
            item = decode_line(line)
            if isinstance(item, Answer):
                got.append(item)
        writer.close()
        await out.stop()
        return got

    v, ident, refused = asyncio.run(main())
    assert v.kind == "PFLAV" and len(v.values) == 3
    assert (ident.item, ident.values) == ("ID", ("3F12A0",))
    assert refused.item == "ERROR"
