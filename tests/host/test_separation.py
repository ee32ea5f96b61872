"""Separation core: geometry of pairs, CPA and uncertainty margins (no alert policy).

Levels here are the default Alerter's (core.alerter) on what the core hands it
(``near``, ``rel``, the combined margins): tests of the two together, with figures
worked out by hand.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from geographiclib.geodesic import Geodesic
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from sepmon.core import separation
from sepmon.core.alerter import Alerter, preset
from sepmon.core.model import Level, Minima, TrackState
from sepmon.core.separation import (
    PairResult,
    TrackArrays,
    evaluate_pairs,
    uncertainty_margin_m,
    vertical_margin_m,
)
from sepmon.core.spatial import all_pairs

GEOD = Geodesic.WGS84
SEPMON = preset("sepmon")
DISTANCE = preset("distance")
# A fresh, good fix with HDOP 1: horizontal DRMS UERE·HDOP = 5 m, vertical sigma 1.5× = 7.5 m.
# A pair of them, independent errors (variances add), at 95 %: the range's error is the relative
# position error along the line of sight, normal with sigma DRMS_pair/√2 = 5 m, and the one-sided
# 95 % normal quantile is 1.6449; the same quantile of the vertical sigma 7.5·√2.
Z95 = 1.6448536269514722
KH = Z95 / math.sqrt(2.0)
KV = Z95
MH1 = KH * 5.0 * math.sqrt(2.0)  # 8.22 m
MV1 = KV * 7.5 * math.sqrt(2.0)  # 17.45 m


def track(
    source: str,
    lat: float = 0.0,
    lon: float = 0.0,
    alt: float | None = 0.0,
    ve: float = 0.0,
    vn: float = 0.0,
    vu: float = 0.0,
    hdop: float | None = 1.0,
    quality: int = 1,
    age: float = 0.0,
    lost: bool = False,
) -> TrackState:
    return TrackState(source, 0.0, lat, lon, alt, ve, vn, vu, quality, hdop, age, lost)


def moved(lat: float, lon: float, azi: float, dist: float) -> tuple[float, float]:
    d = GEOD.Direct(lat, lon, azi, dist)
    return float(d["lat2"]), float(d["lon2"])


def pair(a: TrackState, b: TrackState) -> PairResult:
    """One pair, with its relative state and margins (near_m: every pair is near)."""
    return evaluate_pairs(TrackArrays.from_states([a, b]), [0], [1], near_m=1e12)


def levels(r: PairResult, alerter: Alerter = SEPMON) -> np.ndarray:
    """The alerter's instantaneous level of every pair of ``r`` (0 for pairs not near)."""
    out = np.zeros(len(r), dtype=np.int8)
    rel = r.rel
    out[r.near] = alerter.levels_now(
        rel[0], rel[1], rel[2], rel[3], rel[4], rel[5], r.margin_h_m, r.margin_v_m
    )
    return out


def time_to_minima(r: PairResult, alerter: Alerter = SEPMON) -> float:
    """Time to the alerter's innermost volume for the first pair of ``r`` (inf: none)."""
    rel = r.rel[:, :1]
    ttv = alerter.times_to_volume(*rel, r.margin_h_m[:1], r.margin_v_m[:1])
    return float(ttv[-1, 0])


# --- hand-computed geometry ----------------------------------------------------------


def test_head_on_100_mps_from_20_km() -> None:
    lat, lon = moved(0.0, 0.0, 90.0, 20_000.0)
    r = pair(track("a", ve=100.0), track("b", lat, lon, ve=-100.0))
    assert r.range_m[0] == pytest.approx(20_000.0, abs=0.01)
    assert r.bearing_deg[0] == pytest.approx(90.0, abs=1e-6)
    assert r.tcpa_s[0] == pytest.approx(100.0, abs=1e-3)
    assert r.cpa_h_m[0] == pytest.approx(0.0, abs=0.1)
    assert r.cpa_v_m[0] == 0.0
    # Relative state: b 20 km east of a, closing at 200 m/s.
    np.testing.assert_allclose(r.rel[:, 0], [20_000.0, 0.0, -200.0, 0.0, 0.0, 0.0], atol=0.01)
    # Violation at (20000 − 3000 − 8.22) / 200 = 85.0 s, beyond the 18 s look-ahead.
    assert math.isinf(time_to_minima(r))
    assert levels(r).tolist() == [Level.NONE]


def test_head_on_5_km_predicts_caution() -> None:
    lat, lon = moved(0.0, 0.0, 90.0, 5_000.0)
    r = pair(track("a", ve=100.0), track("b", lat, lon, ve=-100.0))
    assert r.margin_h_m[0] == pytest.approx(MH1)
    assert time_to_minima(r) == pytest.approx((5000.0 - 3000.0 - MH1) / 200.0, abs=1e-3)
    # 9.94 s: within 12 s (caution), not 8 s (warning). No ring: the range alone raises nothing.
    assert levels(r).tolist() == [Level.CAUTION]


def test_crossing_hand_computed() -> None:
    # a flies north at 50 m/s, b starts 10 km east flying west at 50 m/s.
    lat, lon = moved(30.0, 10.0, 90.0, 10_000.0)
    r = pair(track("a", 30.0, 10.0, vn=50.0), track("b", lat, lon, ve=-50.0))
    # p = (10000, 0), v = (-50, -50): tcpa = 500000 / 5000 = 100 s, cpa = |(5000, -5000)|.
    assert r.tcpa_s[0] == pytest.approx(100.0, rel=1e-3)
    assert r.cpa_h_m[0] == pytest.approx(5000.0 * math.sqrt(2.0), rel=1e-3)
    assert levels(r).tolist() == [Level.NONE]


def test_parallel_same_speed_has_no_tcpa() -> None:
    lat, lon = moved(45.0, 7.0, 0.0, 4_000.0)
    r = pair(track("a", 45.0, 7.0, ve=80.0), track("b", lat, lon, ve=80.0))
    assert math.isnan(r.tcpa_s[0])
    assert r.cpa_h_m[0] == r.range_m[0]
    assert r.cpa_v_m[0] == r.vertical_m[0]
    # 4 km abeam, not closing: the default preset raises nothing; range rings would (caution).
    assert levels(r).tolist() == [Level.NONE]
    assert levels(r, DISTANCE).tolist() == [Level.CAUTION]


def test_diverging_has_no_tcpa() -> None:
    lat, lon = moved(0.0, 0.0, 90.0, 5_000.0)
    r = pair(track("a", ve=-100.0), track("b", lat, lon, ve=100.0))
    assert math.isnan(r.tcpa_s[0])
    assert r.cpa_h_m[0] == r.range_m[0]
    assert levels(r).tolist() == [Level.NONE]
    assert levels(r, DISTANCE).tolist() == [Level.ADVISORY]  # inside 2 × the minima


@pytest.mark.parametrize(
    ("dist", "rings", "default"),
    [
        (7_000.0, Level.NONE, Level.NONE),
        (5_000.0, Level.ADVISORY, Level.NONE),
        (4_000.0, Level.CAUTION, Level.NONE),
        (3_005.0, Level.WARNING, Level.WARNING),  # outside 3 km, inside 3 km + 8.22 m
        (2_500.0, Level.WARNING, Level.WARNING),
        (0.0, Level.WARNING, Level.WARNING),
    ],
)
def test_stationary_pair_alerts_only_from_current_range(dist: float, rings: Level, default: Level) -> None:
    lat, lon = moved(-20.0, 130.0, 33.0, dist)
    r = pair(track("a", -20.0, 130.0), track("b", lat, lon))
    assert math.isnan(r.tcpa_s[0])
    assert levels(r).tolist() == [default]
    assert levels(r, DISTANCE).tolist() == [rings]
    assert time_to_minima(r) == (0.0 if default == Level.WARNING else math.inf)


@pytest.mark.parametrize(
    ("alt_b", "rings"),
    [
        (1000.0, Level.NONE),  # > 2 × 300 + 17.45: clear even directly overhead
        (500.0, Level.ADVISORY),  # < 2 × 300 + 17.45
        (400.0, Level.CAUTION),  # < 1.5 × 300 + 17.45
        (315.0, Level.WARNING),  # < 300 + 17.45
    ],
)
def test_vertical_separation_at_zero_range(alt_b: float, rings: Level) -> None:
    r = pair(track("a", 10.0, 10.0, alt=1000.0), track("b", 10.0, 10.0, alt=1000.0 + alt_b))
    assert r.range_m[0] == 0.0
    assert r.vertical_m[0] == pytest.approx(alt_b)
    assert r.margin_v_m[0] == pytest.approx(MV1)
    assert levels(r, DISTANCE).tolist() == [rings]
    assert levels(r).tolist() == [Level.WARNING if alt_b < 300 + MV1 else Level.NONE]


def test_vertical_closure_predicted() -> None:
    # Co-located horizontally; b 1000 m above descending at 50 m/s.
    r = pair(track("a", alt=0.0), track("b", alt=1000.0, vu=-50.0))
    assert math.isnan(r.tcpa_s[0])  # no horizontal relative motion
    assert time_to_minima(r) == pytest.approx((1000.0 - 300.0 - MV1) / 50.0)
    assert levels(r).tolist() == [Level.ADVISORY]  # 13.6 s: within 18 s, not 12 s


def test_violation_needs_horizontal_and_vertical_at_the_same_time() -> None:
    # Head-on from 5 km (horizontal violation from 9.9 s on), but b climbs away:
    # vertical separation exceeds 317.45 m after 4.3 s, before the horizontal one starts.
    lat, lon = moved(0.0, 0.0, 90.0, 5_000.0)
    r = pair(track("a", ve=100.0, alt=0.0), track("b", lat, lon, ve=-100.0, alt=100.0, vu=50.0))
    assert math.isinf(time_to_minima(r))
    assert r.tcpa_s[0] == pytest.approx(25.0, abs=1e-3)
    assert r.cpa_v_m[0] == pytest.approx(100.0 + 50.0 * 25.0, abs=0.1)
    assert levels(r).tolist() == [Level.NONE]


def test_unknown_altitude_is_conservative() -> None:
    lat, lon = moved(50.0, 5.0, 200.0, 2_000.0)
    r = pair(track("a", 50.0, 5.0, alt=None), track("b", lat, lon, alt=5000.0, vu=30.0))
    assert r.vertical_m[0] == 0.0
    assert r.cpa_v_m[0] == 0.0
    assert r.rel[4, 0] == 0.0 and r.rel[5, 0] == 0.0  # co-altitude for all time
    assert levels(r).tolist() == [Level.WARNING]


def test_far_apart_beyond_horizon() -> None:
    lat, lon = moved(0.0, 0.0, 90.0, 150_000.0)
    r = pair(track("a", ve=300.0), track("b", lat, lon, ve=-300.0))
    assert r.tcpa_s[0] == pytest.approx(250.0, rel=1e-3)
    assert levels(r).tolist() == [Level.NONE]


# --- uncertainty ---------------------------------------------------------------------


def test_margin_formula() -> None:
    # One track's summed margin (2 × DRMS + bias), the design's per-track formula.
    assert float(uncertainty_margin_m(1.0, 1, 0.0, 50.0)) == pytest.approx(10.0)
    assert float(uncertainty_margin_m(2.5, 2, 1.0, 50.0)) == pytest.approx(25.0)
    assert float(uncertainty_margin_m(np.nan, 1, 0.0, 0.0)) == pytest.approx(100.0)  # unknown HDOP
    assert float(uncertainty_margin_m(0.0, 1, 0.0, 0.0)) == pytest.approx(100.0)
    for q in (0, 6, 7, 8, 9):
        assert float(uncertainty_margin_m(1.0, q, 0.0, 0.0)) == pytest.approx(110.0)
    # Stale: speed × (age − 1 s).
    assert float(uncertainty_margin_m(1.0, 1, 3.0, 40.0)) == pytest.approx(10.0 + 80.0)
    assert float(vertical_margin_m(1.0, 1, 0.0, 0.0)) == pytest.approx(15.0)
    assert float(vertical_margin_m(1.0, 6, 3.0, -5.0)) == pytest.approx(1.5 * 110.0 + 10.0)
    out = uncertainty_margin_m(np.array([1.0, 2.0]), np.array([1, 6]), 0.0, 0.0)
    np.testing.assert_allclose(out, [10.0, 120.0])


def test_pair_margins_combine_independent_errors_and_add_the_biases() -> None:
    # Oracle: variances of independent errors add, so the pair's DRMS is the root sum of
    # squares; the range's error is that along the line of sight (sigma DRMS/√2) and the
    # one-sided 95 % normal quantile is 1.6449 (likewise the vertical sigma). Biases
    # (degraded fix, drift) are not random: they add.
    lat, lon = moved(40.0, -3.0, 45.0, 3_050.0)
    good = pair(track("a", 40.0, -3.0), track("b", lat, lon))
    assert good.margin_h_m[0] == pytest.approx(MH1)  # 8.22 m: two 10 m bounds summed were 20 m
    bad = pair(track("a", 40.0, -3.0, hdop=10.0), track("b", lat, lon, hdop=4.0))
    assert bad.margin_h_m[0] == pytest.approx(KH * math.hypot(50.0, 20.0))
    assert bad.margin_v_m[0] == pytest.approx(KV * math.hypot(75.0, 30.0))
    assert levels(good).tolist() == [Level.NONE] and levels(bad).tolist() == [Level.WARNING]
    dr = pair(track("a", 40.0, -3.0, quality=6), track("b", lat, lon))
    assert dr.margin_h_m[0] == pytest.approx(MH1 + 100.0)
    assert dr.margin_v_m[0] == pytest.approx(MV1 + 150.0)
    # Parallel at 60 m/s (no closure), one fix 3 s old: it may have moved 120 m since.
    stale = pair(track("a", 40.0, -3.0, ve=60.0, age=3.0), track("b", lat, lon, ve=60.0))
    assert stale.margin_h_m[0] == pytest.approx(MH1 + 120.0)
    assert levels(stale).tolist() == [Level.WARNING]
    # Another confidence: 99 % gives the one-sided 99 % normal quantile, 2.3263.
    tr = TrackArrays.from_states([track("a", 40.0, -3.0), track("b", lat, lon)])
    r99 = evaluate_pairs(tr, [0], [1], near_m=1e12, confidence=0.99)
    assert r99.margin_h_m[0] == pytest.approx(2.3263478740408408 * 5.0)
    assert r99.margin_v_m[0] == pytest.approx(2.3263478740408408 * 7.5 * math.sqrt(2.0))
    with pytest.raises(ValueError, match="confidence"):
        evaluate_pairs(tr, [0], [1], near_m=1.0, confidence=1.0)


def test_lost_column_and_level_from_last_known_data() -> None:
    lat, lon = moved(0.0, 0.0, 0.0, 2_000.0)
    far_lat, far_lon = moved(0.0, 0.0, 180.0, 50_000.0)
    tr = TrackArrays.from_states(
        [
            track("a"),
            track("b", lat, lon, lost=True, age=20.0),
            track("c", far_lat, far_lon),
        ]
    )
    ia, ib = all_pairs(3)
    r = evaluate_pairs(tr, ia, ib, near_m=1e12)
    assert r.lost.tolist() == [True, False, True]  # (a,b), (a,c), (b,c)
    # lost, but evaluated from its last position
    assert levels(r).tolist() == [Level.WARNING, Level.NONE, Level.NONE]


def test_lost_fast_track_grows_its_margin() -> None:
    lat, lon = moved(0.0, 0.0, 0.0, 8_000.0)
    fresh = pair(track("a"), track("b", lat, lon, ve=50.0))
    lost = pair(track("a"), track("b", lat, lon, ve=50.0, lost=True, age=121.0))
    assert levels(fresh).tolist() == [Level.NONE]
    assert lost.margin_h_m[0] == pytest.approx(MH1 + 50.0 * 120.0)
    assert levels(lost).tolist() == [Level.WARNING]
    assert bool(lost.lost[0])


# --- what an alerter is handed: the pairs within its reach ---------------------------


def test_near_is_the_pairs_within_reach_and_per_pair_reach() -> None:
    # Oracle: geometry by hand. b 1 km east of a, c 20 km east, both still; d 20 km north
    # closing at 100 m/s. Reach 3 km + speed × 10 s (+ the summed margins, 20 m).
    lat, lon = moved(0.0, 0.0, 90.0, 1_000.0)
    clat, clon = moved(0.0, 0.0, 90.0, 20_000.0)
    dlat, dlon = moved(0.0, 0.0, 0.0, 20_000.0)
    tr = TrackArrays.from_states(
        [track("a"), track("b", lat, lon), track("c", clat, clon), track("d", dlat, dlon, vn=-100.0)]
    )
    r = evaluate_pairs(tr, [0, 0, 0], [1, 2, 3], near_m=3000.0, near_s=10.0)
    assert r.near.tolist() == [0]  # d reaches 4 km + 20 m, short of its 20 km
    r = evaluate_pairs(tr, [0, 0, 0], [1, 2, 3], near_m=3000.0, near_s=200.0)
    assert r.near.tolist() == [0, 2]  # d: 3 km + 100 m/s × 200 s = 23 km
    r = evaluate_pairs(tr, [0, 0, 0], [1, 2, 3], near_m=np.array([500.0, 21_000.0, 0.0]), near_s=0.0)
    assert r.near.tolist() == [1]
    np.testing.assert_allclose(r.rel[:2, 0], [20_000.0, 0.0], atol=0.01)
    with pytest.raises(ValueError):
        evaluate_pairs(tr, [0, 0], [1, 2], near_m=np.array([1.0, 2.0, 3.0]))
    with pytest.raises(ValueError):
        evaluate_pairs(tr, [0], [1], near_m=-1.0)


# --- parameters, containers, self-pairs -----------------------------------------------


def test_never_pairs_a_track_with_itself() -> None:
    tr = TrackArrays.from_states([track("a"), track("b", 0.1, 0.1)])
    with pytest.raises(ValueError, match="itself"):
        evaluate_pairs(tr, [0, 1], [1, 1])
    with pytest.raises(ValueError):
        evaluate_pairs(tr, [0], [2])
    with pytest.raises(ValueError):
        evaluate_pairs(tr, [-1], [0])
    with pytest.raises(ValueError):
        TrackArrays.from_states([track("a"), track("a", 1.0, 1.0)])


def test_empty_pairs() -> None:
    tr = TrackArrays.from_states([track("a")])
    ia, ib = all_pairs(1)
    r = evaluate_pairs(tr, ia, ib, near_m=1e12)
    assert len(r) == 0 and r.near.size == 0 and r.rel.shape == (6, 0)


def test_from_states_columns() -> None:
    tr = TrackArrays.from_states(
        [track("x", 1.0, 2.0, alt=None, hdop=None, quality=6, age=2.5, lost=True), track("y")]
    )
    assert tr.source == ("x", "y")
    assert math.isnan(tr.alt[0]) and math.isnan(tr.hdop[0])
    assert tr.quality.tolist() == [6, 1]
    assert tr.lost.tolist() == [True, False]
    assert tr.index("y") == 1
    assert len(tr) == 2
    assert tr.margin_h_m[0] == pytest.approx(100.0 + 100.0)
    with pytest.raises(ValueError):
        TrackArrays.from_states([track("z", lat=91.0)])


def test_minima_defaults_and_validation() -> None:
    m = Minima()
    assert (m.horizontal_m, m.vertical_m, m.warning_s, m.caution_s, m.advisory_s) == (
        3000.0,
        300.0,
        8.0,
        12.0,
        18.0,
    )
    assert (m.caution_factor, m.advisory_factor) == (1.5, 2.0)
    with pytest.raises(ValueError):
        Minima(warning_s=20.0)
    with pytest.raises(ValueError):
        Minima(caution_factor=3.0)


speeds = st.floats(-300.0, 300.0)


@st.composite
def random_pair(draw: st.DrawFn, min_dist: float = 0.0, max_dist: float = 60_000.0) -> list[TrackState]:
    lat = draw(st.floats(-89.5, 89.5))
    lon = draw(st.floats(-180.0, 180.0))
    azi = draw(st.floats(-180.0, 180.0))
    dist = draw(st.floats(min_dist, max_dist))
    lat_b, lon_b = moved(lat, lon, azi, dist)

    def one(name: str, la: float, lo: float) -> TrackState:
        alt = draw(st.one_of(st.none(), st.floats(0.0, 3000.0)))
        return track(
            name,
            la,
            lo,
            alt=alt,
            ve=draw(speeds),
            vn=draw(speeds),
            vu=draw(st.floats(-30.0, 30.0)),
            hdop=draw(st.one_of(st.none(), st.floats(0.5, 20.0))),
            quality=draw(st.sampled_from([0, 1, 2, 4, 5, 6, 8])),
            age=draw(st.floats(0.0, 10.0)),
            lost=draw(st.booleans()),
        )

    return [one("a", lat, lon), one("b", lat_b, lon_b)]


@given(random_pair())
@settings(max_examples=200, deadline=None)
def test_swapping_a_and_b_changes_only_the_bearing(states: list[TrackState]) -> None:
    tr = TrackArrays.from_states(states)
    ab = evaluate_pairs(tr, [0], [1], near_m=1e12)
    ba = evaluate_pairs(tr, [1], [0], near_m=1e12)
    for col in ("range_m", "vertical_m", "tcpa_s", "cpa_h_m", "cpa_v_m", "lost", "margin_h_m", "margin_v_m"):
        np.testing.assert_array_equal(getattr(ab, col), getattr(ba, col), err_msg=col)
    np.testing.assert_array_equal(ab.rel, -ba.rel)  # b relative to a is minus a relative to b
    np.testing.assert_array_equal(levels(ab), levels(ba))
    if ab.range_m[0] >= 10.0:
        # b → a is the reverse azimuth at b: geographiclib's azi2 + 180°.
        a, b = states
        inv = GEOD.Inverse(a.lat, a.lon, b.lat, b.lon)
        back = (inv["azi2"] + 180.0) % 360.0
        assert abs((ba.bearing_deg[0] - back + 180.0) % 360.0 - 180.0) < 0.01
        assert abs((ab.bearing_deg[0] - inv["azi1"] + 180.0) % 360.0 - 180.0) < 0.01


@given(random_pair())
@settings(max_examples=200, deadline=None)
def test_invariants(states: list[TrackState]) -> None:
    r = evaluate_pairs(TrackArrays.from_states(states), [0], [1], near_m=1e12)
    assert r.range_m[0] >= 0.0 and r.vertical_m[0] >= 0.0
    assert r.margin_h_m[0] > 0.0 and r.margin_v_m[0] > 0.0
    assert 0 <= levels(r)[0] <= 3
    assert bool(r.lost[0]) == (states[0].lost or states[1].lost)
    if np.isfinite(r.tcpa_s[0]):
        assert r.tcpa_s[0] >= 0.0
        # Closing: the predicted miss is never larger than the current range.
        assert r.cpa_h_m[0] <= r.range_m[0] * (1 + 1e-12) + 1e-9
    else:
        assert r.cpa_h_m[0] == r.range_m[0]
    tv = time_to_minima(r)
    if np.isfinite(tv):
        assert 0.0 <= tv <= 18.0
        assert levels(r)[0] >= Level.ADVISORY
    if tv == 0.0:
        assert levels(r)[0] == Level.WARNING


@given(random_pair())
@settings(max_examples=200, deadline=None)
def test_time_to_minima_matches_sampled_motion(states: list[TrackState]) -> None:
    """Independent check of the relative state handed to the Alerter: sample the linear
    relative motion, from geographiclib's geodesic, on a fine grid."""
    tr = TrackArrays.from_states(states)
    r = evaluate_pairs(tr, [0], [1], near_m=1e12)
    a, b = states
    inv = GEOD.Inverse(a.lat, a.lon, b.lat, b.lon)
    assume(inv["s12"] < 20_000.0 and abs(a.lat) < 85.0)
    # Reference model in a's local frame: position from the geodesic, b's velocity carried
    # to a's frame by parallel transport along the geodesic (rotate by azi1 − azi2).
    az = math.radians(inv["azi1"])
    p = np.array([inv["s12"] * math.sin(az), inv["s12"] * math.cos(az)])
    g = math.radians(inv["azi1"] - inv["azi2"])
    vbe = b.ve * math.cos(g) + b.vn * math.sin(g)
    vbn = -b.ve * math.sin(g) + b.vn * math.cos(g)
    v = np.array([vbe - a.ve, vbn - a.vn])
    known = a.alt_m is not None and b.alt_m is not None
    dz = (b.alt_m - a.alt_m) if (a.alt_m is not None and b.alt_m is not None) else 0.0
    dvz = (b.vu - a.vu) if known else 0.0
    t = np.linspace(0.0, 18.0, 18001)
    h = np.hypot(p[0] + v[0] * t, p[1] + v[1] * t)
    z = np.abs(dz + dvz * t)
    # The two models differ by second-order frame effects: allow a small slack in space.
    slack_h = 1e-3 * inv["s12"] + 1.0
    h_eff, v_eff = 3000.0 + r.margin_h_m[0], 300.0 + r.margin_v_m[0]
    inside_loose = (h < h_eff + slack_h) & (z < v_eff + 1e-6)
    inside_tight = (h < h_eff - slack_h) & (z < v_eff - 1e-6)
    tv = time_to_minima(r)
    if math.isinf(tv):
        assert not inside_tight.any()
    else:
        assert inside_loose.any()
        assert t[np.argmax(inside_loose)] <= tv + 1e-3
        if inside_tight.any():
            assert tv <= t[np.argmax(inside_tight)] + 1e-3


@given(random_pair(min_dist=12_100.0, max_dist=90_000.0))
@settings(max_examples=200, deadline=None)
def test_far_and_diverging_never_alerts(states: list[TrackState]) -> None:
    a, b = states
    # Good, fresh fixes with known altitude: margins stay small (<= 2 × 2 × 5 m × 3).
    a = track("a", a.lat, a.lon, 1000.0, a.ve, a.vn, a.vu, 3.0, 1, 0.5, False)
    b = track("b", b.lat, b.lon, 1000.0, b.ve, b.vn, b.vu, 3.0, 1, 0.5, False)
    tr = TrackArrays.from_states([a, b])
    r = evaluate_pairs(tr, [0], [1], near_m=1e12)
    assume(math.isnan(r.tcpa_s[0]))  # diverging or no relative motion
    assert levels(r)[0] == Level.NONE


@given(random_pair(min_dist=100_000.0, max_dist=500_000.0))
@settings(max_examples=200, deadline=None)
def test_beyond_100_km_never_alerts_at_any_speed(states: list[TrackState]) -> None:
    a, b = states
    a = track("a", a.lat, a.lon, 0.0, a.ve, a.vn, a.vu, a.hdop, 1, a.age_s, False)
    b = track("b", b.lat, b.lon, 0.0, b.ve, b.vn, b.vu, b.hdop, 1, b.age_s, False)
    r = evaluate_pairs(TrackArrays.from_states([a, b]), [0], [1], near_m=1e12)
    assert levels(r)[0] == Level.NONE


def test_many_pairs_vectorised_equals_one_by_one() -> None:
    rs = np.random.default_rng(11)
    n = 30
    states = [
        track(
            f"s{k}",
            47.0 + rs.uniform(-0.1, 0.1),
            8.0 + rs.uniform(-0.1, 0.1),
            alt=float(rs.uniform(0, 1500)),
            ve=float(rs.uniform(-100, 100)),
            vn=float(rs.uniform(-100, 100)),
            hdop=float(rs.uniform(0.7, 5)),
        )
        for k in range(n)
    ]
    tr = TrackArrays.from_states(states)
    ia, ib = all_pairs(n)
    allr = evaluate_pairs(tr, ia, ib, near_m=1e12)
    all_levels = levels(allr)
    assert all_levels.max() >= Level.ADVISORY  # the set is dense enough to alert somewhere
    for k in range(0, ia.size, 37):
        one = evaluate_pairs(tr, ia[k : k + 1], ib[k : k + 1], near_m=1e12)
        for col in ("range_m", "bearing_deg", "tcpa_s", "cpa_h_m", "margin_h_m", "margin_v_m"):
            np.testing.assert_array_equal(getattr(one, col)[0], getattr(allr, col)[k], err_msg=col)
        np.testing.assert_array_equal(one.rel[:, 0], allr.rel[:, k])
        assert levels(one)[0] == all_levels[k]


# --- implementation details that must not change results -------------------------------


def _random_traffic(seed: int, n: int, spread_deg: float) -> TrackArrays:
    """Tracks around one point: standing and moving, some with unknown altitude or lost."""
    rs = np.random.default_rng(seed)
    speed = rs.choice([0.0, 1e-7, 15.0, 120.0, 300.0], n)
    course = rs.uniform(0, 2 * np.pi, n)
    alt = rs.uniform(0, 2000, n)
    alt[rs.uniform(size=n) < 0.2] = np.nan
    return TrackArrays(
        source=tuple(f"s{k}" for k in range(n)),
        lat=np.clip(47.0 + rs.normal(0, spread_deg, n), -90, 90),
        lon=8.0 + rs.normal(0, spread_deg, n),
        alt=alt,
        ve=speed * np.sin(course),
        vn=speed * np.cos(course),
        vu=rs.choice([0.0, 2.0, -8.0], n),
        hdop=rs.choice([np.nan, 0.9, 3.0], n),
        quality=rs.integers(0, 9, n),
        age_s=rs.uniform(0, 20, n),
        lost=rs.uniform(size=n) < 0.1,
    )


def _assert_same_bits(a: PairResult, b: PairResult) -> None:
    for name in PairResult.__dataclass_fields__:
        x, y = getattr(a, name), getattr(b, name)
        assert x.dtype == y.dtype and x.shape == y.shape, name
        assert x.tobytes() == y.tobytes(), name


def _reach(alerters: list[Alerter], m: int, seed: int) -> tuple[np.ndarray, np.ndarray, list[Alerter]]:
    """Per-pair alerters (one of ``alerters`` each) and their reach as near_m/near_s arrays."""
    rs = np.random.default_rng(seed)
    pick = rs.integers(0, len(alerters), m)
    near_m = np.array([float(a.reach_m(0.0)) for a in alerters])[pick]
    near_s = np.array([float(a.reach_m(1.0) - a.reach_m(0.0)) for a in alerters])[pick]
    return near_m, near_s, [alerters[k] for k in pick.tolist()]


def _levels_per_pair(r: PairResult, who: list[Alerter]) -> np.ndarray:
    out = np.zeros(len(r), dtype=np.int8)
    for j, k in enumerate(r.near.tolist()):
        rel = r.rel[:, j]
        out[k] = who[k].levels_now(*rel, r.margin_h_m[j], r.margin_v_m[j])[0]
    return out


@pytest.mark.parametrize("per_pair", [False, True])
@pytest.mark.parametrize(("seed", "spread_deg"), [(1, 0.005), (2, 0.03), (3, 0.2)])
def test_the_reach_filter_leaves_out_only_pairs_that_cannot_alert(
    seed: int, spread_deg: float, per_pair: bool
) -> None:
    # Oracle: the Alerter itself on every pair (near_m huge: nothing left out). Its reach
    # (DTHR + speed · (E + TTHR), a bound worked out in Alerter.reach_m) must leave out
    # only pairs whose level is 0, near the edge of the filter too.
    tr = _random_traffic(seed, 80, spread_deg)
    ia, ib = all_pairs(len(tr))
    alerters = [SEPMON, preset("do365"), DISTANCE, preset("flarm")] if per_pair else [SEPMON]
    near_m, near_s, who = _reach(alerters, ia.size, seed)
    filtered = evaluate_pairs(tr, ia, ib, near_m=near_m, near_s=near_s)
    everything = evaluate_pairs(tr, ia, ib, near_m=1e12)
    assert filtered.near.size < ia.size if spread_deg > 0.01 else True
    for name in ("range_m", "bearing_deg", "vertical_m", "tcpa_s", "cpa_h_m", "cpa_v_m", "lost"):
        assert getattr(filtered, name).tobytes() == getattr(everything, name).tobytes(), name
    want = _levels_per_pair(everything, who)
    assert want.max() >= Level.ADVISORY
    np.testing.assert_array_equal(_levels_per_pair(filtered, who), want)


def test_reach_filter_degenerate_geometry() -> None:
    # Pole to pole (the chord is vertical in the mid frame, so the relative position
    # is not rescaled to the range), coincident and near-antipodal tracks.
    states = [
        track("n", 90.0, 77.0, ve=-10.0, vn=-0.4),
        track("s", -90.0, 77.0, alt=600.0, ve=300.0, vn=-2.6, vu=-2.7),
        track("s2", -90.0, 77.0, alt=100.0),
        track("c1", 10.0, 20.0, ve=50.0),
        track("c2", 10.0, 20.0, alt=None),
        track("anti", -10.0, -160.0, vn=20.0),
        track("far", 40.0, 20.0),
    ]
    tr = TrackArrays.from_states(states)
    ia, ib = all_pairs(len(tr))
    reach = {"near_m": float(SEPMON.reach_m(0.0)), "near_s": float(SEPMON.reach_m(1.0) - SEPMON.reach_m(0.0))}
    filtered = evaluate_pairs(tr, ia, ib, **reach)
    everything = evaluate_pairs(tr, ia, ib, near_m=1e12)
    assert 0 < filtered.near.size < ia.size
    np.testing.assert_array_equal(levels(filtered), levels(everything))


def test_blocks_give_the_same_bits(monkeypatch: pytest.MonkeyPatch) -> None:
    tr = _random_traffic(4, 60, 0.05)
    ia, ib = all_pairs(len(tr))
    ia, ib = ib[::-1].copy(), ia[::-1].copy()  # any order, either way round
    near_m, near_s, _ = _reach([SEPMON, preset("do365")], ia.size, 4)
    for kw in ({}, {"near_m": 3000.0, "near_s": 18.0}, {"near_m": near_m, "near_s": near_s}):
        whole = evaluate_pairs(tr, ia, ib, **kw)  # type: ignore[arg-type]
        monkeypatch.setattr(separation, "_BLOCK", 97)
        blocks = evaluate_pairs(tr, ia, ib, **kw)  # type: ignore[arg-type]
        monkeypatch.undo()
        _assert_same_bits(whole, blocks)


def test_index_and_parameter_forms() -> None:
    tr = _random_traffic(5, 12, 0.05)
    ia, ib = all_pairs(len(tr))
    ref = evaluate_pairs(tr, ia, ib)
    for a, b in (
        (ia.tolist(), ib.tolist()),
        (ia.astype(np.int32), ib.astype(np.int32)),
        (np.repeat(ia, 2)[::2], np.repeat(ib, 2)[::2]),  # not contiguous
        (ia.reshape(-1, 1), ib.reshape(-1, 1)),
    ):
        r = evaluate_pairs(tr, a, b)
        for name in ("range_m", "bearing_deg", "tcpa_s", "cpa_h_m"):
            np.testing.assert_array_equal(getattr(r, name), getattr(ref, name))
    # Scalars as float, int, numpy scalar, 0-d or one-element array: the same bits.
    ref = evaluate_pairs(tr, ia, ib, near_m=3000.0)
    for h in (3000.0, 3000, np.float64(3000.0), np.array(3000.0), np.array([3000.0])):
        _assert_same_bits(evaluate_pairs(tr, ia, ib, near_m=h), ref)
    for bad in (float("nan"), float("inf"), -1.0, np.array([[1.0]])):
        with pytest.raises(ValueError):
            evaluate_pairs(tr, ia, ib, near_m=bad)
    with pytest.raises(ValueError, match="out of range"):
        evaluate_pairs(tr, [0], [np.iinfo(np.intp).min])
    with pytest.raises(ValueError, match="same length"):
        evaluate_pairs(tr, [0, 1], [2])


def test_track_columns_keep_validation() -> None:
    base = _random_traffic(6, 5, 0.05)
    cols = {
        name: getattr(base, name) for name in TrackArrays.__dataclass_fields__ if not name.startswith("_")
    }
    for name in ("lat", "lon", "ve", "vn", "vu", "age_s"):
        bad = cols[name].copy()
        bad[2] = np.nan
        with pytest.raises(ValueError, match=name):
            TrackArrays(**{**cols, name: bad})
    with pytest.raises(ValueError, match="rows"):
        TrackArrays(**{**cols, "hdop": cols["hdop"][:4]})
    # Lists and other dtypes are converted; the derived data does not depend on the form.
    listed = TrackArrays(
        **{name: list(v) if name != "source" and v is not None else v for name, v in cols.items()}
    )
    ia, ib = all_pairs(5)
    _assert_same_bits(evaluate_pairs(listed, ia, ib), evaluate_pairs(base, ia, ib))
    np.testing.assert_array_equal(
        base.margin_h_m, uncertainty_margin_m(base.hdop, base.quality, base.age_s, np.hypot(base.ve, base.vn))
    )
    np.testing.assert_array_equal(
        base.margin_v_m, vertical_margin_m(base.hdop, base.quality, base.age_s, base.vu)
    )


def test_antipodal_tracks_are_far_apart_not_in_conflict() -> None:
    # Pole to pole and an antipodal pair: ~20,000 km apart whatever the mid frame
    # says, so no predicted violation and no alert, moving or not.
    states = [
        track("n", 90.0, 77.0, ve=-10.0, vn=-0.4),
        track("s", -90.0, 77.0, ve=300.0, vn=-2.6),
        track("a", 10.0, 20.0, vn=20.0),
        track("b", -10.0, -160.0, vn=-20.0),
        track("c1", 10.0, 20.0, ve=50.0),  # coincident with a: still in conflict
    ]
    tr = TrackArrays.from_states(states)
    res = evaluate_pairs(tr, [0, 2, 2], [1, 3, 4], near_m=1e12)
    assert (res.range_m[:2] > 15_000_000).all()  # the arc formula is exact to 500 km, rough beyond
    assert levels(res).tolist() == [Level.NONE, Level.NONE, Level.WARNING]
    swapped = evaluate_pairs(tr, [1, 3, 4], [0, 2, 2], near_m=1e12)
    for col in ("range_m", "tcpa_s", "cpa_h_m"):
        np.testing.assert_array_equal(getattr(swapped, col), getattr(res, col), err_msg=col)
    np.testing.assert_array_equal(levels(swapped), levels(res))


# --- the readable margins and their fast twin -----------------------------------------------------

_margin_row = st.tuples(
    st.one_of(st.just(math.nan), st.just(0.0), st.just(math.inf), st.floats(-5.0, 99.0)),  # HDOP
    st.integers(-3, 12),  # GGA quality, including codes that do not exist
    st.floats(0.0, 600.0),  # age
    st.floats(-300.0, 300.0),  # ve
    st.floats(-300.0, 300.0),  # vn
    st.floats(-60.0, 60.0),  # vu
)


@settings(max_examples=300, deadline=None)
@given(st.lists(_margin_row, min_size=1, max_size=16))
def test_track_columns_carry_the_readable_margins(
    rows: list[tuple[float, int, float, float, float, float]],
) -> None:
    """TrackArrays computes both margins inline for speed; they are the readable functions' bits.

    Oracle: uncertainty_margin_m / vertical_margin_m, the design's formula as written
    (held to hand-computed figures in test_margin_formula above).
    """
    hdop, quality, age, ve, vn, vu = (np.array(col) for col in zip(*rows, strict=True))
    n = len(rows)
    tr = TrackArrays(
        source=tuple(f"s{k}" for k in range(n)),
        lat=np.zeros(n),
        lon=np.zeros(n),
        alt=np.zeros(n),
        ve=ve,
        vn=vn,
        vu=vu,
        hdop=hdop,
        quality=quality.astype(np.int64),
        age_s=age,
        lost=age > 5.0,
    )
    np.testing.assert_array_equal(tr.margin_h_m, uncertainty_margin_m(hdop, quality, age, np.hypot(ve, vn)))
    np.testing.assert_array_equal(tr.margin_v_m, vertical_margin_m(hdop, quality, age, vu))
