"""Consistency of the DAIDALUS oracle data in tests/data/daidalus/ (DAIDALUS is not needed to run this).

Oracles, none of them sepmon:
- pynmea2 decodes every NMEA recording (checksums included); its values must equal the
  ``.daa`` states to the NMEA fields' resolution, at every second outside the declared dropouts;
- geographiclib (geodesic inverse problem) checks that consecutive ``.daa`` positions move at
  the ground speed and track the file states, and that the design miss distances hold;
- DAIDALUS's own output: every scenario's ``daidalus.csv`` covers each ``.daa`` time step of each
  intruder exactly once; its separations agree with geographiclib's; its levels without
  hysteresis follow from its times to each level's volume and the DO-365B alerting times;
- the DO-365 well-clear definition (WCV_TAUMOD, DTHR 0.66 nmi, TTHR 35 s, ZTHR 700/450 ft,
  180 s look-ahead), evaluated here on the ``.daa`` states, gives DAIDALUS's time to each volume.
"""

from __future__ import annotations

import itertools
import math
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pynmea2
import pytest
from daidalus_oracle import (
    DATA_DIR,
    DaaState,
    ScenarioInfo,
    level_series,
    onsets,
    read_daa,
    read_daidalus,
    scenarios,
)
from geographiclib.geodesic import Geodesic

START = datetime(2026, 6, 1, 10, 0, 0, tzinfo=UTC)  # the recordings' first fix
KNOT = 1852.0 / 3600.0
FT = 0.3048
NMI = 1852.0
# DO-365B DWC Phase I (RTCA DO-365B; the DO_365B_no_SUM configuration's values).
DTHR = 0.66 * NMI
TTHR = 35.0
ZTHR = {1: 700 * FT, 2: 450 * FT, 3: 450 * FT}
ALERTING_TIME = {1: 55.0, 2: 55.0, 3: 25.0}
LOOKAHEAD = 180.0
# DAIDALUS projects on a sphere of 6366707 m, our geometry is WGS-84: distances differ by < 0.4 %.
MODEL_REL = 0.004

SCENARIOS = scenarios()
GEOD = Geodesic.WGS84


def _by_aircraft(states: list[DaaState]) -> dict[str, dict[float, DaaState]]:
    out: dict[str, dict[float, DaaState]] = defaultdict(dict)
    for s in states:
        assert s.t not in out[s.name], f"{s.name} twice at t={s.t}"
        out[s.name][s.t] = s
    return out


def _daa(sc: ScenarioInfo) -> dict[str, dict[float, DaaState]]:
    return _by_aircraft(read_daa(sc.dir / f"{sc.name}.daa"))


def _ids(sc: ScenarioInfo) -> str:
    return sc.name


def test_index_lists_every_folder_and_the_set_covers_the_brief() -> None:
    folders = {p.name for p in DATA_DIR.iterdir() if p.is_dir()}
    assert folders == {sc.name for sc in SCENARIOS}
    kinds = [sc.kind for sc in SCENARIOS]
    assert kinds.count("jet") >= 8
    jets = [sc.closure_mps for sc in SCENARIOS if sc.kind == "jet"]
    assert min(jets) <= 40.5 and max(jets) >= 499.5
    assert kinds.count("vertical") >= 1 and kinds.count("nuisance") >= 5


def test_data_is_small() -> None:
    total = sum(p.stat().st_size for p in DATA_DIR.rglob("*") if p.is_file())
    assert total < 4_000_000


@pytest.mark.parametrize("sc", SCENARIOS, ids=_ids)
def test_daa_has_every_aircraft_every_second(sc: ScenarioInfo) -> None:
    daa = _daa(sc)
    assert list(daa) == list(sc.aircraft)  # ownship first
    for name in sc.aircraft:
        assert sorted(daa[name]) == [float(t) for t in range(sc.duration_s + 1)]


@pytest.mark.parametrize("sc", SCENARIOS, ids=_ids)
def test_nmea_decodes_with_pynmea2_to_the_daa_states(sc: ScenarioInfo) -> None:
    daa = _daa(sc)
    for name in sc.aircraft:
        rmc: dict[float, pynmea2.RMC] = {}
        gga: dict[float, pynmea2.GGA] = {}
        raw = (sc.dir / f"{name}.nmea").read_bytes()
        assert raw.endswith(b"\r\n")
        for line in raw.decode("ascii").split("\r\n")[:-1]:
            msg = pynmea2.parse(line, check=True)  # raises on a bad checksum
            when = datetime.combine(START.date(), msg.timestamp.replace(tzinfo=None), tzinfo=UTC)
            t = (when - START).total_seconds()
            if isinstance(msg, pynmea2.RMC):
                assert msg.datestamp == START.date() and msg.status == "A"
                rmc[t] = msg
            elif isinstance(msg, pynmea2.GGA):
                gga[t] = msg
            else:
                pytest.fail(f"{name}: unexpected sentence {line!r}")
        expected = sorted(t for t in daa[name] if sc.received(name, t))
        assert sorted(rmc) == expected and sorted(gga) == expected
        for t in expected:
            s, r, g = daa[name][t], rmc[t], gga[t]
            # 1e-7 arc-minute is 1.7e-9 degree.
            for lat, lon in ((r.latitude, r.longitude), (g.latitude, g.longitude)):
                assert lat == pytest.approx(s.lat, abs=2e-9) and lon == pytest.approx(s.lon, abs=2e-9)
            assert g.gps_qual == 1 and float(g.horizontal_dil) > 0
            assert g.altitude_units == "M" and float(g.geo_sep) == 0.0
            assert g.altitude == pytest.approx(s.alt_m, abs=5e-4)
            assert r.spd_over_grnd == pytest.approx(s.gs_knot, abs=5e-4)
            if s.gs_knot:
                assert r.true_course == pytest.approx(s.trk_deg, abs=5e-4)
            else:
                assert r.true_course is None  # a receiver standing still leaves the course empty


@pytest.mark.parametrize("sc", SCENARIOS, ids=_ids)
def test_daa_states_move_as_their_velocities_say(sc: ScenarioInfo) -> None:
    for _name, track in _daa(sc).items():
        times = sorted(track)
        for t0, t1 in itertools.pairwise(times):
            a, b = track[t0], track[t1]
            inv = GEOD.Inverse(a.lat, a.lon, b.lat, b.lon)
            dt = t1 - t0
            # Constant speed and vertical rate; positions rounded to ~0.2 mm.
            assert inv["s12"] / dt == pytest.approx(a.gs_knot * KNOT, abs=2e-3)
            assert (b.alt_m - a.alt_m) / dt == pytest.approx(a.vs_mps, abs=2e-3)
            if a.gs_knot:
                # A geodesic: the chord leaves along the start's track and arrives along the end's.
                assert math.remainder(inv["azi1"] - a.trk_deg, 360) == pytest.approx(0, abs=0.01)
                assert math.remainder(inv["azi2"] - b.trk_deg, 360) == pytest.approx(0, abs=0.01)


@pytest.mark.parametrize("sc", SCENARIOS, ids=_ids)
def test_design_miss_distances(sc: ScenarioInfo) -> None:
    daa = _daa(sc)
    own = daa[sc.aircraft[0]]
    closest = []
    for name in sc.aircraft[1:]:
        d = [(GEOD.Inverse(own[t].lat, own[t].lon, s.lat, s.lon)["s12"], t) for t, s in daa[name].items()]
        closest.append(min(d))
    hmd, t_min = min(closest)
    assert hmd == pytest.approx(sc.design_hmd_m, abs=1.0 + 0.002 * sc.design_hmd_m)
    if sc.closure_mps > 0 and 0 <= sc.t_cpa_s <= sc.duration_s:
        assert t_min == sc.t_cpa_s
    vmd = (
        min(abs(daa[n][sc.t_cpa_s].alt_m - own[sc.t_cpa_s].alt_m) for n in sc.aircraft[1:])
        if (0 <= sc.t_cpa_s <= sc.duration_s)
        else None
    )
    if vmd is not None:
        assert vmd == pytest.approx(sc.design_vmd_m, abs=1e-3)


def _inf(x: str) -> float:
    return math.inf if x == "infty" else float(x)


@pytest.mark.parametrize("sc", SCENARIOS, ids=_ids)
def test_daidalus_output_covers_every_step_and_matches_the_geometry(sc: ScenarioInfo) -> None:
    daa = _daa(sc)
    rows = read_daidalus(sc.dir / "daidalus.csv")
    seen: dict[str, list[float]] = defaultdict(list)
    own_name = sc.aircraft[0]
    for r in rows:
        assert r["ownship"] == own_name and r["alerter"] == "1"
        assert r["level"] in {"0", "1", "2", "3"} and r["level_nohyst"] in {"0", "1", "2", "3"}
        t, intr = float(r["time_s"]), r["traffic"]
        seen[intr].append(t)
        o, i = daa[own_name][t], daa[intr][t]
        dist = GEOD.Inverse(o.lat, o.lon, i.lat, i.lon)["s12"]
        assert float(r["horizontal_separation_nmi"]) * NMI == pytest.approx(dist, rel=MODEL_REL, abs=1.0)
        assert float(r["vertical_separation_ft"]) * FT == pytest.approx(abs(i.alt_m - o.alt_m), abs=1e-3)
        # DAIDALUS's level without hysteresis: the highest level whose volume is reached within
        # that level's alerting time.
        ttv = {lv: _inf(r[f"time_to_volume_{lv}_s"]) for lv in (1, 2, 3)}
        inst = max((lv for lv in (1, 2, 3) if ttv[lv] <= ALERTING_TIME[lv]), default=0)
        assert int(r["level_nohyst"]) == inst, f"t={t} {intr}"
    steps = [float(t) for t in range(sc.duration_s + 1)]
    assert {k: sorted(v) for k, v in seen.items()} == {n: steps for n in sc.aircraft[1:]}
    assert all(len(v) == len(steps) for v in seen.values())


def _relative(o: DaaState, i: DaaState) -> tuple[np.ndarray, np.ndarray, float, float]:
    """Intruder relative to ownship in the ownship's local frame: (s_en, v_en, sz, vz)."""
    inv = GEOD.Inverse(o.lat, o.lon, i.lat, i.lon)
    az1 = math.radians(inv["azi1"])
    s = np.array([inv["s12"] * math.sin(az1), inv["s12"] * math.cos(az1)])
    # The intruder's track carried into the ownship's frame along the geodesic between them.
    trk_i = math.radians(i.trk_deg - inv["azi2"] + inv["azi1"])
    vi = i.gs_knot * KNOT * np.array([math.sin(trk_i), math.cos(trk_i)])
    vo = o.gs_knot * KNOT * np.array([math.sin(math.radians(o.trk_deg)), math.cos(math.radians(o.trk_deg))])
    return s, vi - vo, i.alt_m - o.alt_m, i.vs_mps - o.vs_mps


def time_to_volume(
    s: np.ndarray, v: np.ndarray, sz: np.ndarray, vz: np.ndarray, zthr: float, dt: float = 0.01
) -> np.ndarray:
    """First time within the look-ahead at which each projected pair violates WCV_TAUMOD (TCOA 0).

    ``s``, ``v``: (n, 2) horizontal relative positions and velocities; ``sz``, ``vz``: (n,).
    Sampled every ``dt`` seconds; ``inf`` when there is no violation within the look-ahead.
    """
    t = np.arange(0.0, LOOKAHEAD + dt / 2, dt)[None, :]
    sx, sy = s[:, :1] + v[:, :1] * t, s[:, 1:] + v[:, 1:] * t
    r2 = sx * sx + sy * sy
    sdotv = sx * v[:, :1] + sy * v[:, 1:]
    v2 = (v * v).sum(axis=1)[:, None]
    with np.errstate(divide="ignore", invalid="ignore"):
        tcpa = np.where(v2 > 0, np.maximum(-sdotv / v2, 0.0), 0.0)
        taumod = np.where(sdotv < 0, (DTHR**2 - r2) / sdotv, -1.0)
    hmd2 = r2 + 2 * sdotv * tcpa + v2 * tcpa * tcpa
    horizontal = (r2 <= DTHR**2) | ((hmd2 <= DTHR**2) & (taumod >= 0) & (taumod <= TTHR))
    hit = horizontal & (np.abs(sz[:, None] + vz[:, None] * t) <= zthr)
    first = hit.argmax(axis=1)
    return np.where(hit.any(axis=1), t[0, first], np.inf)


@pytest.mark.parametrize("sc", SCENARIOS, ids=_ids)
def test_daidalus_times_to_volume_follow_the_do365_definition(sc: ScenarioInfo) -> None:
    daa = _daa(sc)
    own = daa[sc.aircraft[0]]
    rows = read_daidalus(sc.dir / "daidalus.csv")
    rel = [_relative(own[float(r["time_s"])], daa[r["traffic"]][float(r["time_s"])]) for r in rows]
    s = np.array([x[0] for x in rel])
    v = np.array([x[1] for x in rel])
    sz = np.array([x[2] for x in rel])
    vz = np.array([x[3] for x in rel])
    speed = np.hypot(v[:, 0], v[:, 1])
    # Sphere against ellipsoid scales distances by up to MODEL_REL: times shift by that share of
    # the time the current range takes to close.
    with np.errstate(divide="ignore", invalid="ignore"):
        tol = 0.05 + np.where(speed > 0, MODEL_REL * np.hypot(s[:, 0], s[:, 1]) / speed, 0.0)
    for lv in (1, 2, 3):
        # In blocks of rows: a row is 18001 samples.
        ours = np.concatenate(
            [
                time_to_volume(s[k : k + 32], v[k : k + 32], sz[k : k + 32], vz[k : k + 32], ZTHR[lv])
                for k in range(0, len(rows), 32)
            ]
        )
        theirs = np.array([_inf(r[f"time_to_volume_{lv}_s"]) for r in rows])
        for k, r in enumerate(rows):
            where = f"t={r['time_s']} {r['traffic']} level {lv}: DAIDALUS {theirs[k]}, DO-365 here {ours[k]}"
            if math.isinf(theirs[k]) or math.isinf(ours[k]):
                # They may differ only where the volume is grazed at the end of the look-ahead.
                assert (
                    math.isinf(theirs[k]) == math.isinf(ours[k]) or min(theirs[k], ours[k]) > LOOKAHEAD - 2
                ), where
            else:
                assert abs(ours[k] - theirs[k]) <= tol[k], where


@pytest.mark.parametrize(
    "sc", [s for s in SCENARIOS if s.kind == "nuisance" or s.design_hmd_m > DTHR], ids=_ids
)
def test_daidalus_never_alerts_on_traffic_that_stays_outside_dthr(sc: ScenarioInfo) -> None:
    rows = read_daidalus(sc.dir / "daidalus.csv")
    for intr in sc.aircraft[1:]:
        for col in ("level", "level_nohyst"):
            assert onsets(level_series(rows, intr, col)) == {1: None, 2: None, 3: None}


def test_dropout_scenario_shares_its_oracle_with_the_unbroken_one() -> None:
    # Same geometry with and without the NMEA gaps: the .daa and DAIDALUS's levels are identical.
    a, b = DATA_DIR / "jet-crossing90-283", DATA_DIR / "dropout-crossing90-283"
    body = [ln for ln in (a / "jet-crossing90-283.daa").read_text().splitlines() if not ln.startswith("#")]
    assert body == [
        ln for ln in (b / "dropout-crossing90-283.daa").read_text().splitlines() if not ln.startswith("#")
    ]
    assert (a / "daidalus.csv").read_bytes() == (b / "daidalus.csv").read_bytes()
    gaps = {sc.name: sc for sc in SCENARIOS}["dropout-crossing90-283"].dropouts
    assert gaps and all(hi - lo == 9 for _, lo, hi in gaps)
    # The first gap holds DAIDALUS's first onset, so the Alerter must raise while the track is lost.
    first = onsets(level_series(read_daidalus(b / "daidalus.csv"), "intruder"))[1]
    assert first is not None and any(lo <= first <= hi for _, lo, hi in gaps)


def test_start_time_matches_generator() -> None:
    first = (DATA_DIR / "jet-headon-500" / "ownship.nmea").read_bytes().decode("ascii").split("\r\n")[0]
    msg = pynmea2.parse(first)
    assert datetime.combine(START.date(), msg.timestamp.replace(tzinfo=None), tzinfo=UTC) == START
    assert (
        Path(__file__).with_name("make_scenarios.py").read_text().count("datetime(2026, 6, 1, 10, 0, 0") == 1
    )
