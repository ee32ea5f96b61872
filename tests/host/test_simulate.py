"""Encounter simulator: sentences, noise, timing, ground truth, faults, writer and CLI."""

from __future__ import annotations

import csv
import itertools
import math
import re
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pynmea2
import pytest
from geographiclib.geodesic import Geodesic
from hypothesis import given
from hypothesis import strategies as st

import sepmon.cli as cli
from sepmon.commands import simulate as simulate_command
from sepmon.core.checksum import checksum_ok, nmea_checksum
from sepmon.sim import FaultModel, Simulation, SimulationError, simulate, write_recording, write_truth_csv
from sepmon.sim.params import RECEIVERS
from sepmon.sim.receiver import SIGMA_H_PER_HDOP, _fmt_angle

TAG_RE = re.compile(rb"^\\(c:(\d+),s:([^,*]+))\*([0-9A-F]{2})\\(.*)\r\n$", re.S)
M_PER_DEG_LAT = 111_200.0  # good to 0.5 % near 47° N, plenty for noise-size comparisons


def _sentences(sim: Simulation, fault: str | None = "") -> Iterator[tuple[float, str, str]]:
    """(fix_t, source, sentence text without CRLF) of the records with the given fault kind."""
    for r in sim.records:
        if fault is None or r.fault == fault:
            yield r.fix_t, r.source, r.data.decode("ascii").rstrip("\r\n")


def _fixes(sim: Simulation, kind: str) -> list[tuple[float, str, pynmea2.NMEASentence]]:
    return [(t, src, pynmea2.parse(s)) for t, src, s in _sentences(sim) if s[3:6] == kind]


def _horizontal_error_m(lat: float, lon: float, tlat: float, tlon: float) -> float:
    return math.hypot(
        (lat - tlat) * M_PER_DEG_LAT, (lon - tlon) * M_PER_DEG_LAT * math.cos(math.radians(tlat))
    )


# --- sentences ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kw",
    [
        {"talker": "GP", "sentences": "RMC,VTG,GGA,GSA,GSV"},
        {"talker": "GN", "sentences": "RMC,VTG,GGA,GSA,GSV", "bystander": True},
        {"talker": "mixed", "rate": 5, "duration": 20},
    ],
)
def test_every_sentence_has_a_valid_checksum_and_parses(kw: dict[str, object]) -> None:
    sim = simulate("crossing", **kw)  # type: ignore[arg-type]
    assert sim.records
    for r in sim.records:
        assert r.fault == ""
        assert r.data.endswith(b"\r\n") and r.data.count(b"\r\n") == 1
        text = r.data.decode("ascii").rstrip("\r\n")
        assert checksum_ok(text), text
        assert len(text) <= 82, text  # the NMEA limit, which the board firmware enforces at 120
        pynmea2.parse(text, check=True)


def test_gn_talker_sends_per_constellation_gsa_and_gsv() -> None:
    sim = simulate("head-on", talker="GN", sentences="RMC,GGA,GSA,GSV", duration=3)
    kinds = Counter(s[1:6] for _, src, s in _sentences(sim) if src == "alpha")
    epochs = len(sim.truth.epochs["alpha"])
    assert kinds["GNRMC"] == kinds["GNGGA"] == epochs
    assert kinds["GNGSA"] == 2 * epochs
    assert kinds["GPGSV"] >= epochs and kinds["GLGSV"] >= epochs
    sysids = {s.split("*")[0].rsplit(",", 1)[1] for _, _, s in _sentences(sim) if s.startswith("$GNGSA")}
    assert sysids == {"1", "2"}


def test_mixed_talker_alternates_by_vehicle() -> None:
    sim = simulate("head-on", talker="mixed", duration=2)
    talkers = {src: s[1:3] for _, src, s in _sentences(sim) if s[3:6] == "GGA"}
    assert talkers == {"alpha": "GP", "bravo": "GN"}


# --- positions, velocities, noise ---------------------------------------------------------------


def test_noise_free_positions_decode_to_the_truth() -> None:
    sim = simulate("climbing", noise_scale=0.0, rate=2, duration=30)
    for kind in ("GGA", "RMC"):
        fixes = _fixes(sim, kind)
        assert fixes
        for t, src, msg in fixes:
            truth = sim.truth.sample(src, t)
            # 1e-5 arc-minute is 1.9 cm: the printing resolution
            assert _horizontal_error_m(msg.latitude, msg.longitude, truth.lat[0], truth.lon[0]) < 0.03
            if kind == "GGA":
                assert float(msg.geo_sep) == 47.0
                assert msg.altitude + 47.0 == pytest.approx(truth.h[0], abs=0.051)


@pytest.mark.parametrize("hdop", [0.8, 3.0])
def test_noisy_positions_stay_within_noise_scaled_by_hdop(hdop: float) -> None:
    sim = simulate("head-on", hdop=hdop, duration=300, seed=7)
    sigma = SIGMA_H_PER_HDOP * hdop
    h_err, v_err, reported = [], [], []
    for t, src, msg in _fixes(sim, "GGA"):
        truth = sim.truth.sample(src, t)
        h_err.append(_horizontal_error_m(msg.latitude, msg.longitude, truth.lat[0], truth.lon[0]))
        v_err.append(msg.altitude + float(msg.geo_sep) - truth.h[0])
        reported.append(float(msg.horizontal_dil))
    # per-axis σ: radial RMS is σ√2; slowly drifting bias, so loose bounds, but it must scale with HDOP
    rms = math.sqrt(np.mean(np.square(h_err)))
    assert 0.4 * sigma * math.sqrt(2) < rms < 1.6 * sigma * math.sqrt(2)
    assert max(h_err) < 6 * sigma * 1.2
    assert max(abs(v) for v in v_err) < 6 * sigma * 1.5 * 1.2
    assert 0.8 * hdop <= min(reported) and max(reported) <= 1.2 * hdop


def test_speed_and_course_match_the_truth() -> None:
    sim = simulate("crossing", speed=60.0, heading=10.0)
    for t, src, msg in _fixes(sim, "RMC"):
        truth = sim.truth.sample(src, t)
        assert float(msg.spd_over_grnd) == pytest.approx(truth.speed[0] * 3600 / 1852, abs=0.5)
        diff = (float(msg.true_course) - truth.course[0] + 180.0) % 360.0 - 180.0
        assert abs(diff) < 0.5
    assert sim.truth.track("alpha").ve == pytest.approx(60 * math.sin(math.radians(10)))


def test_standing_still_reports_jittery_sog_and_random_cog() -> None:
    sim = simulate("head-on", bystander=True, duration=200)
    rmc = [msg for _, src, msg in _fixes(sim, "RMC") if src == "bystander"]
    sog = [float(m.spd_over_grnd) for m in rmc]
    cog = [float(m.true_course) for m in rmc]
    assert max(sog) < 1.5 and np.mean(sog) > 0.05  # a few tenths of a knot
    assert max(cog) - min(cog) > 270.0
    assert len(set(cog)) > len(cog) // 2


@given(st.floats(min_value=-89.99, max_value=89.99), st.floats(min_value=-179.99, max_value=179.99))
def test_coordinate_formatting_round_trips(lat: float, lon: float) -> None:
    la, ns = _fmt_angle(lat, 2, "NS")
    lo, ew = _fmt_angle(lon, 3, "EW")
    msg = pynmea2.GGA(
        "GP", "GGA", ("000000.00", la, ns, lo, ew, "1", "08", "1.0", "0.0", "M", "0", "M", "", "")
    )
    assert len(la) == 10 and len(lo) == 11
    assert msg.latitude == pytest.approx(lat, abs=1e-5 / 60 * 0.51)
    assert msg.longitude == pytest.approx(lon, abs=1e-5 / 60 * 0.51)


# --- timing -------------------------------------------------------------------------------------


def test_rates_per_vehicle_and_utc_grid() -> None:
    sim = simulate("head-on", rates=(1, 5, 10), bystander=True, duration=10)
    for src, rate in (("alpha", 1), ("bravo", 5), ("bystander", 10)):
        times = [t for t, s, m in _fixes(sim, "GGA") if s == src]
        assert len(times) == 10 * rate + 1
        assert np.allclose(np.diff(times), 1.0 / rate)
        ggat = [m.timestamp for t, s, m in _fixes(sim, "GGA") if s == src]
        assert ggat[1].microsecond == (0 if rate == 1 else 1_000_000 // rate)


def test_tag_blocks_are_valid_and_receive_times_monotonic(tmp_path: Path) -> None:
    sim = simulate("overtaking", rate=10, duration=30, bystander=True, sentences="RMC,VTG,GGA,GSA,GSV")
    out = tmp_path / "rec.nmea"
    assert write_recording(sim, out) == [out]
    raw = out.read_bytes()
    lines = raw.split(b"\r\n")[:-1]
    assert len(lines) == len(sim.records)
    last: dict[str, int] = {}
    prev_any = 0
    burst_bytes: Counter[tuple[str, float]] = Counter()
    for line, rec in zip(lines, sim.records, strict=True):
        m = TAG_RE.match(line + b"\r\n")
        assert m, line
        body, ms, source, hh, sentence = m.groups()
        assert int(hh, 16) == nmea_checksum(body)
        assert source.decode() == rec.source
        ms_i = int(ms)
        assert ms_i > 1e11  # milliseconds
        assert ms_i > last.get(rec.source, 0)  # strictly increasing per source
        assert ms_i >= prev_any  # the merged file is in receive order
        prev_any = last[rec.source] = ms_i
        # fix time + 50 ms + up to 20 ms jitter + the burst so far at 115200 baud (±1 ms rounding)
        burst_bytes[rec.source, rec.fix_t] += len(rec.data)
        latency = ms_i / 1000 - rec.fix_t
        assert 0.05 <= latency <= 0.0705 + burst_bytes[rec.source, rec.fix_t] * 10 / 115200
        assert sentence + b"\r\n" == rec.data


def test_start_time_crossing_midnight_rolls_the_date() -> None:
    sim = simulate("head-on", start="2024-12-31T23:59:30Z", duration=60)
    rmc = [m for _, src, m in _fixes(sim, "RMC") if src == "alpha"]
    dates = [m.datetime for m in rmc]
    assert dates[0] == datetime(2024, 12, 31, 23, 59, 30, tzinfo=UTC)
    assert dates[-1] == datetime(2025, 1, 1, 0, 0, 30, tzinfo=UTC)
    assert all(b - a == dates[1] - dates[0] for a, b in itertools.pairwise(dates))
    gga_times = [m.timestamp.strftime("%H%M%S") for _, src, m in _fixes(sim, "GGA") if src == "alpha"]
    assert "235959" in gga_times and "000000" in gga_times


# --- ground truth -------------------------------------------------------------------------------


def test_head_on_cpa_matches_the_analytic_values() -> None:
    speed, sep, miss = 60.0, 8000.0, 250.0
    sim = simulate("head-on", speed=speed, separation=sep, miss=miss, vertical=100.0)
    t_cpa = math.sqrt(sep**2 - miss**2) / (2 * speed)
    assert sim.cpa.t_rel == pytest.approx(t_cpa, abs=1e-9)
    assert sim.cpa.t == pytest.approx(sim.start + t_cpa)
    assert sim.cpa.horizontal_m == pytest.approx(miss, abs=1e-6)
    assert sim.cpa.vertical_m == pytest.approx(100.0)
    assert sim.duration == pytest.approx(round(2 * t_cpa, 2))
    hor, _ = sim.truth.separation("alpha", "bravo", sim.start)
    assert float(hor) == pytest.approx(sep, abs=1e-6)
    # Independently: geodesic distances between the true positions, densely around the CPA.
    t = sim.cpa.t + np.linspace(-2, 2, 401)
    a, b = sim.truth.sample("alpha", t), sim.truth.sample("bravo", t)
    geo = Geodesic.WGS84
    d = [geo.Inverse(a.lat[i], a.lon[i], b.lat[i], b.lon[i])["s12"] for i in range(len(t))]
    i_min = int(np.argmin(d))
    assert d[i_min] == pytest.approx(miss, abs=0.02)
    assert t[i_min] == pytest.approx(sim.cpa.t, abs=0.011)
    d0 = geo.Inverse(a.lat[0], a.lon[0], b.lat[0], b.lon[0])["s12"]
    assert d0 == pytest.approx(float(sim.truth.separation("alpha", "bravo", t[0])[0]), rel=1e-6)


def test_first_violation_of_the_minima_is_exact() -> None:
    sim = simulate("head-on", speed=60.0, separation=7200.0, miss=0.0)
    # range = 7200 − 120 t; below 3000 m from t = 35 s
    assert sim.truth.first_violation("alpha", "bravo", 3000.0, 300.0) == pytest.approx(sim.start + 35.0)
    assert sim.truth.first_violation("alpha", "bravo", 3000.0, 0.0) is None
    hor, _ = sim.truth.separation("alpha", "bravo", sim.start + 35.0)
    assert float(hor) == pytest.approx(3000.0)


@pytest.mark.parametrize(
    ("scenario", "angle", "ratio"), [("head-on", 180, 1.0), ("crossing", 90, 1.0), ("overtaking", 0, 0.6)]
)
def test_encounter_geometry(scenario: str, angle: float, ratio: float) -> None:
    sim = simulate(scenario, miss=100.0)
    a, b = sim.truth.track("alpha"), sim.truth.track("bravo")
    between = math.degrees(math.atan2(b.ve, b.vn) - math.atan2(a.ve, a.vn)) % 360
    assert min(between, 360 - between) == pytest.approx(angle, abs=1e-9)
    assert a.ground_speed / b.ground_speed == pytest.approx(ratio)
    assert sim.cpa.t_rel == pytest.approx(60.0) and sim.cpa.horizontal_m == pytest.approx(100.0)


def test_climbing_crosses_the_level_at_the_cpa() -> None:
    sim = simulate("climbing", vertical=300.0)
    _, v0 = sim.truth.separation("alpha", "bravo", sim.start)
    assert float(v0) == pytest.approx(300.0)
    assert sim.cpa.vertical_m == pytest.approx(0.0, abs=1e-9)
    assert sim.truth.track("bravo").vu == pytest.approx(5.0)
    assert sim.truth.first_violation("alpha", "bravo", 3000.0, 300.0) is not None


def test_parallel_never_closes() -> None:
    sim = simulate("parallel")
    t = sim.start + np.linspace(0, sim.duration, 50)
    hor, ver = sim.truth.separation("alpha", "bravo", t)
    assert np.allclose(hor, 5000.0) and np.allclose(ver, 0.0)
    assert sim.cpa.horizontal_m == pytest.approx(5000.0)
    assert sim.truth.first_violation("alpha", "bravo", 3000.0, 300.0) is None


def test_parallel_at_zero_speed_is_two_parked_vehicles() -> None:
    # Oracle: geographiclib's geodesic between the true positions; the receivers report a
    # standing vehicle (jittery SOG of a few tenths of a knot, random COG).
    sim = simulate("parallel", speed=0.0, separation=80.0, duration=120.0, seed=3)
    assert sim.truth.track("alpha").stationary and sim.truth.track("bravo").stationary
    a, b = sim.truth.at_epochs("alpha"), sim.truth.at_epochs("bravo")
    for k in (0, len(a.t) - 1):
        dist = Geodesic.WGS84.Inverse(a.lat[k], a.lon[k], b.lat[k], b.lon[k])["s12"]
        assert dist == pytest.approx(80.0, abs=1e-3)
    assert sim.truth.first_violation("alpha", "bravo", 50.0, 30.0) is None
    sog = [float(m.spd_over_grnd) for _, _, m in _fixes(sim, "RMC")]
    assert max(sog) < 1.5


def test_noise_scale_multiplies_the_position_error_and_nothing_else() -> None:
    # The same seed draws the same unit noise; noise_scale multiplies it (the nuisance suite's 2x),
    # while the reported HDOP stays the receiver's. Oracle: the truth, errors in metres.
    one, two = (simulate("parallel", speed=5.0, separation=100.0, seed=9, noise_scale=k) for k in (1.0, 2.0))
    e1, e2, h1, h2 = [], [], [], []
    for (t, src, m1), (_, _, m2) in zip(_fixes(one, "GGA"), _fixes(two, "GGA"), strict=True):
        truth = one.truth.sample(src, t)
        e1.append(_horizontal_error_m(m1.latitude, m1.longitude, truth.lat[0], truth.lon[0]))
        e2.append(_horizontal_error_m(m2.latitude, m2.longitude, truth.lat[0], truth.lon[0]))
        h1.append(m1.horizontal_dil)
        h2.append(m2.horizontal_dil)
    assert h1 == h2
    assert np.allclose(e2, 2.0 * np.asarray(e1), atol=0.05)  # NMEA's 1e-5 arc-minute is ~2 cm
    assert np.mean(e1) > 1.0


def test_many_and_bystander() -> None:
    sim = simulate("many", vehicles=8, bystander=True, seed=3)
    assert sim.sources == (*(f"v{i:02d}" for i in range(1, 9)), "bystander")
    pairs = sim.truth.pairs()
    assert len(pairs) == 9 * 8 // 2
    assert sim.cpa == pairs[0] and all(pairs[0].slant_m <= p.slant_m for p in pairs)
    moving = [s for s in sim.sources if not sim.truth.track(s).stationary]
    assert len(moving) >= 4
    # the bystander is parked 15 km out, far from everyone all the time
    for p in pairs:
        if "bystander" in (p.a, p.b):
            assert p.horizontal_m > 5000.0


def test_truth_csv(tmp_path: Path) -> None:
    sim = simulate("head-on", rates=(1, 2), duration=10)
    out = write_truth_csv(sim, tmp_path / "truth.csv")
    with out.open() as f:
        rows = list(csv.DictReader(f))
    assert Counter(r["source"] for r in rows) == {"alpha": 11, "bravo": 21}
    assert [float(r["t"]) for r in rows] == sorted(float(r["t"]) for r in rows)
    r = rows[0]
    assert r["utc"] == "2024-03-15T10:00:00.000Z"
    truth = sim.truth.sample(r["source"], float(r["t"]))
    assert float(r["lat"]) == pytest.approx(truth.lat[0], abs=1e-8)
    assert float(r["h_ellipsoid_m"]) - float(r["alt_msl_m"]) == pytest.approx(47.0)


# --- determinism --------------------------------------------------------------------------------


def test_same_seed_same_bytes_different_seed_different_noise(tmp_path: Path) -> None:
    def recording(seed: int, name: str) -> bytes:
        path = tmp_path / name
        write_recording(simulate("crossing", seed=seed, faults=True), path)
        return path.read_bytes()

    assert recording(5, "a.nmea") == recording(5, "b.nmea")
    assert recording(5, "a.nmea") != recording(6, "c.nmea")
    a, b = simulate("crossing", seed=5), simulate("crossing", seed=6)
    assert a.truth.tracks == b.truth.tracks  # geometry is the parameters', noise is the seed's
    ga, gb = _fixes(a, "GGA"), _fixes(b, "GGA")
    assert sum(x[2].latitude != y[2].latitude for x, y in zip(ga, gb, strict=True)) > len(ga) * 0.9


def test_faults_do_not_change_the_noise() -> None:
    clean = {(t, s, m.latitude) for t, s, m in _fixes(simulate("head-on", seed=2), "GGA")}
    faulty = {(t, s, m.latitude) for t, s, m in _fixes(simulate("head-on", seed=2, faults=True), "GGA")}
    assert faulty and faulty <= clean


# --- faults -------------------------------------------------------------------------------------


def test_faults_appear_in_the_expected_proportions() -> None:
    fm = FaultModel(corrupt=0.04, truncate=0.02, garbage=0.03, dropouts_per_min=0.0)
    sim = simulate("head-on", faults=fm, rate=5, duration=120, seed=11)
    kinds = Counter(r.fault for r in sim.records)
    sentences = len(sim.records) - kinds["garbage"]
    epochs = sum(len(e) for e in sim.truth.epochs.values())
    for kind, p, n in (
        ("corrupt", 0.04, sentences),
        ("truncated", 0.02, sentences),
        ("garbage", 0.03, epochs),
    ):
        expected = p * n
        assert abs(kinds[kind] - expected) < 5 * math.sqrt(expected), (kind, kinds[kind], expected)
    for r in sim.records:
        text = r.data.rstrip(b"\r\n")
        assert r.data.endswith(b"\r\n") and b"\n" not in text and b"\r" not in text
        if r.fault == "":
            assert checksum_ok(text.decode())
        elif r.fault in ("corrupt", "truncated"):
            assert text.startswith(b"$") and not checksum_ok(text.decode())
            with pytest.raises(pynmea2.ParseError):
                pynmea2.parse(text.decode(), check=True)
        else:
            assert r.fault == "garbage" and (set(text) == {0} or text.startswith(b"\xb5\x62"))


def test_dropouts_leave_gaps_and_no_fix_epochs() -> None:
    fm = FaultModel(corrupt=0.0, truncate=0.0, garbage=0.0, dropouts_per_min=3.0, dropout_s=(2.0, 4.0))
    sim = simulate("head-on", faults=fm, duration=600, seed=4)
    nofix = [pynmea2.parse(s) for _, _, s in _sentences(sim, "nofix")]
    assert nofix
    for msg in nofix:
        assert checksum_ok(str(msg))
        if isinstance(msg, pynmea2.GGA):
            assert msg.gps_qual == 0 and msg.lat == ""
        if isinstance(msg, pynmea2.RMC):
            assert msg.status == "V"
    for src in sim.sources:
        sent = sorted({r.fix_t for r in sim.records if r.source == src})
        gaps = np.diff(sent)
        silent = [g for g in gaps if g > 1.5]
        assert silent and all(g <= 5.0 for g in silent)  # silent gaps of 2–4 epochs lost
        missing = len(sim.truth.epochs[src]) - len(sent)
        # 3 per minute × 3 s mean, half of them silent → about 7.5 % of epochs silent
        assert 0.03 < missing / len(sim.truth.epochs[src]) < 0.15


# --- writer -------------------------------------------------------------------------------------


def test_per_source_files_have_no_tag_blocks(tmp_path: Path) -> None:
    sim = simulate("head-on", bystander=True, duration=5)
    written = write_recording(sim, tmp_path / "rec", per_source=True)
    assert sorted(p.name for p in written) == ["alpha.nmea", "bravo.nmea", "bystander.nmea"]
    for p in written:
        assert p.read_bytes() == b"".join(r.data for r in sim.records if r.source == p.stem)
        assert p.read_bytes().startswith(b"$GP")


def test_api_rejects_bad_values() -> None:
    with pytest.raises(SimulationError, match="unknown simulation parameter 'colour'"):
        simulate("head-on", colour="red")
    with pytest.raises(SimulationError, match="unknown scenario"):
        simulate("loop")
    with pytest.raises(SimulationError, match="rates gives 1 values for 2 vehicles"):
        simulate("head-on", rates=(5,))
    with pytest.raises(SimulationError, match="speed"):
        simulate("crossing", speed=0.0)


# --- command line -------------------------------------------------------------------------------


@pytest.fixture
def sepmon_main(monkeypatch: pytest.MonkeyPatch) -> object:
    """The real ``sepmon.cli.main`` with only this command discovered (independent of other commands)."""
    monkeypatch.setattr(cli, "_command_modules", lambda: [simulate_command])
    return cli.main


def test_cli_writes_recording_truth_and_prints_summary(
    sepmon_main: object, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out, truth = tmp_path / "rec.nmea", tmp_path / "truth.csv"
    argv = ["simulate", "head-on", "-o", str(out), "--truth", str(truth), "--seed", "3", "--rate", "5"]
    argv += ["--separation", "6000", "--miss", "0", "--start", "2024-03-15T23:59:30Z", "--faults"]
    assert cli.main(argv) == 0
    printed = capsys.readouterr().out.strip().splitlines()
    assert len(printed) == 1
    line = printed[0]
    assert "2 vehicles" in line and f"{len(out.read_bytes().splitlines())} lines" in line
    assert "true CPA alpha/bravo at +50.00 s (00:00:20.00Z): 0.0 m horizontal" in line
    assert out.read_bytes().startswith(b"\\c:") and truth.read_text().startswith("t,utc,source")
    assert out.read_bytes() == _recording_of(
        simulate(
            "head-on", seed=3, rate=5, separation=6000, miss=0, start="2024-03-15T23:59:30Z", faults=True
        ),
        tmp_path,
    )


def _recording_of(sim: Simulation, tmp_path: Path) -> bytes:
    path = tmp_path / "api.nmea"
    write_recording(sim, path)
    return path.read_bytes()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["bogus", "-o", "{tmp}/x"], "unknown scenario 'bogus'"),
        (["head-on", "-o", "{tmp}/x", "--rate", "-1"], "rate must be"),
        (["head-on", "-o", "{tmp}/x", "--rate", "fast"], "--rate must be a number, got 'fast'"),
        (["head-on", "-o", "{tmp}/missing/dir/x.nmea"], "cannot write"),
        (["head-on"], "an output is required"),
        (["head-on", "-o", "{tmp}/x", "--start", "teatime"], "start must be an ISO 8601 time"),
        (["head-on", "-o", "{tmp}/x", "--separation", "50", "--miss", "100"], "must be at least the miss"),
        (["many", "-o", "{tmp}/x", "--vehicles", "1"], "vehicles must be between 2 and 100"),
        (["head-on", "-o", "{tmp}/x", "--talker", "BD"], "talker must be one of"),
        (["head-on", "-o", "{tmp}/x", "--hdop", "-2"], "hdop must be between"),
    ],
)
def test_cli_bad_arguments_exit_2_with_one_line(
    sepmon_main: object, tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    argv = ["simulate", *(a.replace("{tmp}", str(tmp_path)) for a in args)]
    assert cli.main(argv) == 2
    captured = capsys.readouterr()
    err = captured.err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("sepmon simulate: error: ") and message in err[0], err
    assert "Traceback" not in captured.err and captured.out == ""
    assert not (tmp_path / "x").exists()


def test_cli_as_a_program(tmp_path: Path) -> None:
    out = tmp_path / "rec"
    ok = subprocess.run(
        [
            sys.executable,
            "-m",
            "sepmon",
            "simulate",
            "parallel",
            "-o",
            str(out),
            "--per-source-files",
            "--duration",
            "3",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert ok.returncode == 0, ok.stderr
    assert "parallel: 2 vehicles" in ok.stdout and "(2 files)" in ok.stdout
    assert sorted(p.name for p in out.iterdir()) == ["alpha.nmea", "bravo.nmea"]
    bad = subprocess.run(
        [sys.executable, "-m", "sepmon", "simulate", "crossing", "-o", str(out / "x"), "--rate", "0"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert bad.returncode == 2 and "Traceback" not in bad.stderr
    assert bad.stderr.count("\n") == 1 and "rate must be" in bad.stderr


# --- NMEA dialects and receiver presets ---------------------------------------------------------


@pytest.mark.parametrize("receiver", sorted(RECEIVERS))
def test_receiver_presets_write_their_dialect(receiver: str) -> None:
    # Oracle: NMEA 0183 4.10/4.11 (RMC and GNS end with the navigational status, "V" = not
    # provided; GSA ends with the system ID, GSV with the signal ID) as u-blox's M8/M9
    # interface descriptions show them; pynmea2 parses every sentence.
    dialect, talker, sentences = RECEIVERS[receiver]
    sim = simulate("crossing", dialect=dialect, talker=talker, sentences=",".join(sentences), duration=4)
    texts = [s for _, src, s in _sentences(sim) if src == "alpha"]
    kinds = [s[3:6] for s in texts]
    assert list(dict.fromkeys(kinds)) == list(sentences)  # each epoch in the receiver's order
    new = dialect != "2.3"
    for text in texts:
        assert checksum_ok(text) and len(text) <= 82, text
        msg = pynmea2.parse(text, check=True)
        fields = text.split("*")[0].split(",")[1:]
        kind = text[3:6]
        if kind == "RMC":
            assert (msg.nav_status == "V") if new else len(fields) == 12
        elif kind == "GNS":
            assert msg.mode_indicator == ("AA" if talker == "GN" else "AN" if new else "A")
            assert len(fields) == (13 if new else 12) and (fields[-1] == "V" or not new)
        elif kind == "GSA":
            assert len(fields) == (18 if new or talker == "GN" else 17)
        elif kind == "GSV":
            assert (len(fields) - 3) % 4 == (1 if new else 0)


def test_simulate_command_dialect_and_receiver(tmp_path: Path) -> None:
    out = tmp_path / "m9.nmea"
    assert cli.main(["simulate", "head-on", "-o", str(out), "--receiver", "ublox-m9", "--duration", "3"]) == 0
    text = out.read_text()
    assert "$GNRMC," in text and ",A,V*" in text and "$GNGLL," in text
    assert cli.main(["simulate", "head-on", "-o", str(out), "--dialect", "4.10", "--duration", "3"]) == 0
    assert "$GPRMC," in out.read_text() and ",A,V*" in out.read_text()
    assert cli.main(["simulate", "head-on", "-o", str(out), "--receiver", "nokia"]) == 2
    assert cli.main(["simulate", "head-on", "-o", str(out), "--dialect", "5.0"]) == 2
