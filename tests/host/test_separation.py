"""Separation core: geometry of pairs, CPA, uncertainty margins and alert levels."""

from __future__ import annotations

import math

import numpy as np
import pytest
from geographiclib.geodesic import Geodesic
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from sepmon.core import separation
from sepmon.core.model import Level, Minima, TrackState
from sepmon.core.separation import (
    PairResult,
    TrackArrays,
    evaluate_pairs,
    evaluate_with_minima,
    uncertainty_margin_m,
    vertical_margin_m,
)
from sepmon.core.spatial import all_pairs

GEOD = Geodesic.WGS84
# Margin of one fresh, good fix with HDOP 1: 2 × 5 m × 1.
M1 = 10.0


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


def pair(a: TrackState, b: TrackState, **kw: float) -> PairResult:
    return evaluate_pairs(TrackArrays.from_states([a, b]), [0], [1], **kw)  # type: ignore[arg-type]


# --- hand-computed geometry ----------------------------------------------------------


def test_head_on_100_mps_from_20_km() -> None:
    lat, lon = moved(0.0, 0.0, 90.0, 20_000.0)
    r = pair(track("a", ve=100.0), track("b", lat, lon, ve=-100.0))
    assert r.range_m[0] == pytest.approx(20_000.0, abs=0.01)
    assert r.bearing_deg[0] == pytest.approx(90.0, abs=1e-6)
    assert r.tcpa_s[0] == pytest.approx(100.0, abs=1e-3)
    assert r.cpa_h_m[0] == pytest.approx(0.0, abs=0.1)
    assert r.cpa_v_m[0] == 0.0
    # 20 km: outside 2 × 3 km now, violation at (20000 − 3020) / 200 s = 84.9 s, beyond 18 s.
    assert math.isnan(r.t_violation_s[0])
    assert r.level[0] == Level.NONE
    assert r.level.dtype == np.int8


def test_head_on_5_km_predicts_caution() -> None:
    lat, lon = moved(0.0, 0.0, 90.0, 5_000.0)
    r = pair(track("a", ve=100.0), track("b", lat, lon, ve=-100.0))
    # Effective minimum 3000 + 2 × 10 m; closing at 200 m/s.
    assert r.h_min_eff_m[0] == pytest.approx(3000.0 + 2 * M1)
    assert r.t_violation_s[0] == pytest.approx((5000.0 - 3020.0) / 200.0, abs=1e-3)
    # Now: advisory (5000 < 2 × 3000 + 20); predicted 9.9 s <= 12 s: caution.
    assert r.level[0] == Level.CAUTION


def test_crossing_hand_computed() -> None:
    # a flies north at 50 m/s, b starts 10 km east flying west at 50 m/s.
    lat, lon = moved(30.0, 10.0, 90.0, 10_000.0)
    r = pair(track("a", 30.0, 10.0, vn=50.0), track("b", lat, lon, ve=-50.0))
    # p = (10000, 0), v = (-50, -50): tcpa = 500000 / 5000 = 100 s, cpa = |(5000, -5000)|.
    assert r.tcpa_s[0] == pytest.approx(100.0, rel=1e-3)
    assert r.cpa_h_m[0] == pytest.approx(5000.0 * math.sqrt(2.0), rel=1e-3)
    assert r.level[0] == Level.NONE


def test_parallel_same_speed_has_no_tcpa() -> None:
    lat, lon = moved(45.0, 7.0, 0.0, 4_000.0)
    r = pair(track("a", 45.0, 7.0, ve=80.0), track("b", lat, lon, ve=80.0))
    assert math.isnan(r.tcpa_s[0])
    assert r.cpa_h_m[0] == r.range_m[0]
    assert r.cpa_v_m[0] == r.vertical_m[0]
    assert math.isnan(r.t_violation_s[0])
    # 4 km: inside 1.5 × 3 km + margins, so caution from the current geometry only.
    assert r.level[0] == Level.CAUTION


def test_diverging_has_no_tcpa() -> None:
    lat, lon = moved(0.0, 0.0, 90.0, 5_000.0)
    r = pair(track("a", ve=-100.0), track("b", lat, lon, ve=100.0))
    assert math.isnan(r.tcpa_s[0])
    assert r.cpa_h_m[0] == r.range_m[0]
    assert r.level[0] == Level.ADVISORY  # still inside 2 × minima now


@pytest.mark.parametrize(
    ("dist", "expected"),
    [
        (7_000.0, Level.NONE),
        (5_000.0, Level.ADVISORY),
        (4_000.0, Level.CAUTION),
        (2_500.0, Level.WARNING),
        (0.0, Level.WARNING),
    ],
)
def test_stationary_pair_alerts_only_from_current_range(dist: float, expected: Level) -> None:
    lat, lon = moved(-20.0, 130.0, 33.0, dist)
    r = pair(track("a", -20.0, 130.0), track("b", lat, lon))
    assert math.isnan(r.tcpa_s[0])
    assert r.level[0] == expected
    if expected == Level.WARNING:
        assert r.t_violation_s[0] == 0.0
    else:
        assert math.isnan(r.t_violation_s[0])


@pytest.mark.parametrize(
    ("alt_b", "expected"),
    [
        (1000.0, Level.NONE),  # > 2 × 300 + margins: clear even directly overhead
        (500.0, Level.ADVISORY),  # < 2 × 300 + 30
        (400.0, Level.CAUTION),  # < 1.5 × 300 + 30
        (320.0, Level.WARNING),  # < 300 + 2 × 15 m vertical margin
    ],
)
def test_vertical_separation_at_zero_range(alt_b: float, expected: Level) -> None:
    r = pair(track("a", 10.0, 10.0, alt=1000.0), track("b", 10.0, 10.0, alt=1000.0 + alt_b))
    assert r.range_m[0] == 0.0
    assert r.vertical_m[0] == pytest.approx(alt_b)
    assert r.v_min_eff_m[0] == pytest.approx(300.0 + 2 * 1.5 * M1)
    assert r.level[0] == expected


def test_vertical_closure_predicted() -> None:
    # Co-located horizontally; b 1000 m above descending at 50 m/s.
    r = pair(track("a", alt=0.0), track("b", alt=1000.0, vu=-50.0))
    assert math.isnan(r.tcpa_s[0])  # no horizontal relative motion
    assert r.t_violation_s[0] == pytest.approx((1000.0 - 330.0) / 50.0)
    assert r.level[0] == Level.ADVISORY  # 13.4 s: within 18 s, not 12 s


def test_violation_needs_horizontal_and_vertical_at_the_same_time() -> None:
    # Head-on from 5 km (horizontal violation from 9.9 s on), but b climbs away:
    # vertical separation exceeds 330 m after 4.6 s, before the horizontal one starts.
    lat, lon = moved(0.0, 0.0, 90.0, 5_000.0)
    r = pair(track("a", ve=100.0, alt=0.0), track("b", lat, lon, ve=-100.0, alt=100.0, vu=50.0))
    assert math.isnan(r.t_violation_s[0])
    assert r.tcpa_s[0] == pytest.approx(25.0, abs=1e-3)
    assert r.cpa_v_m[0] == pytest.approx(100.0 + 50.0 * 25.0, abs=0.1)
    assert r.level[0] == Level.ADVISORY  # from the current geometry only


def test_unknown_altitude_is_conservative() -> None:
    lat, lon = moved(50.0, 5.0, 200.0, 2_000.0)
    r = pair(track("a", 50.0, 5.0, alt=None), track("b", lat, lon, alt=5000.0, vu=30.0))
    assert r.vertical_m[0] == 0.0
    assert r.cpa_v_m[0] == 0.0
    assert r.level[0] == Level.WARNING


def test_far_apart_beyond_horizon() -> None:
    lat, lon = moved(0.0, 0.0, 90.0, 150_000.0)
    r = pair(track("a", ve=300.0), track("b", lat, lon, ve=-300.0))
    assert r.tcpa_s[0] == pytest.approx(250.0, rel=1e-3)
    assert r.level[0] == Level.NONE


# --- uncertainty ---------------------------------------------------------------------


def test_margin_formula() -> None:
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


def test_large_hdop_makes_pair_just_outside_minima_a_warning() -> None:
    lat, lon = moved(40.0, -3.0, 45.0, 3_050.0)
    good = pair(track("a", 40.0, -3.0), track("b", lat, lon))
    bad = pair(track("a", 40.0, -3.0, hdop=10.0), track("b", lat, lon, hdop=10.0))
    assert good.level[0] == Level.CAUTION
    assert bad.h_min_eff_m[0] == pytest.approx(3200.0)
    assert bad.level[0] == Level.WARNING


def test_dead_reckoning_and_stale_fixes_widen_minima() -> None:
    lat, lon = moved(40.0, -3.0, 45.0, 3_100.0)
    assert pair(track("a", 40.0, -3.0), track("b", lat, lon)).level[0] == Level.CAUTION
    dr = pair(track("a", 40.0, -3.0, quality=6), track("b", lat, lon))
    assert dr.h_min_eff_m[0] == pytest.approx(3000.0 + 110.0 + 10.0)
    assert dr.level[0] == Level.WARNING
    # Parallel at 60 m/s (no closure), one fix 3 s old: 120 m more.
    stale = pair(track("a", 40.0, -3.0, ve=60.0, age=3.0), track("b", lat, lon, ve=60.0))
    assert stale.h_min_eff_m[0] == pytest.approx(3000.0 + 10.0 + 120.0 + 10.0)
    assert stale.level[0] == Level.WARNING


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
    r = evaluate_pairs(tr, ia, ib)
    assert r.lost.tolist() == [True, False, True]  # (a,b), (a,c), (b,c)
    assert r.level[0] == Level.WARNING  # lost, but evaluated from its last position
    assert r.level[1] == Level.NONE
    assert r.level[2] == Level.NONE


def test_lost_fast_track_grows_its_margin() -> None:
    lat, lon = moved(0.0, 0.0, 0.0, 8_000.0)
    fresh = pair(track("a"), track("b", lat, lon, ve=50.0))
    lost = pair(track("a"), track("b", lat, lon, ve=50.0, lost=True, age=121.0))
    assert fresh.level[0] == Level.NONE
    assert lost.h_min_eff_m[0] == pytest.approx(3000.0 + 20.0 + 50.0 * 120.0)
    assert lost.level[0] == Level.WARNING
    assert bool(lost.lost[0])


# --- parameters, containers, self-pairs -----------------------------------------------


def test_per_pair_minima() -> None:
    lat, lon = moved(0.0, 0.0, 90.0, 1_000.0)
    tr = TrackArrays.from_states([track("a"), track("b", lat, lon), track("c", lat, lon + 0.01)])
    r = evaluate_pairs(tr, [0, 0], [1, 2], horizontal_m=np.array([3000.0, 300.0]), vertical_m=[300.0, 50.0])
    assert r.level.tolist() == [Level.WARNING, Level.NONE]
    np.testing.assert_allclose(r.h_min_eff_m, [3020.0, 320.0])
    with pytest.raises(ValueError):
        evaluate_pairs(tr, [0, 0], [1, 2], horizontal_m=np.array([1.0, 2.0, 3.0]))
    with pytest.raises(ValueError):
        evaluate_pairs(tr, [0], [1], horizontal_m=-1.0)


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
    r = evaluate_pairs(tr, ia, ib)
    assert len(r) == 0
    assert r.level.dtype == np.int8


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
    lat, lon = moved(0.0, 0.0, 90.0, 5_000.0)
    tr = TrackArrays.from_states([track("a", ve=100.0), track("b", lat, lon, ve=-100.0)])
    assert evaluate_with_minima(tr, [0], [1], Minima()).level[0] == Level.CAUTION
    wide = Minima(horizontal_m=5000.0, vertical_m=500.0)
    assert evaluate_with_minima(tr, [0], [1], wide).level[0] == Level.WARNING


# --- properties ----------------------------------------------------------------------

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
    ab = evaluate_pairs(tr, [0], [1])
    ba = evaluate_pairs(tr, [1], [0])
    for col in ("range_m", "vertical_m", "tcpa_s", "cpa_h_m", "cpa_v_m", "t_violation_s", "level", "lost"):
        np.testing.assert_array_equal(getattr(ab, col), getattr(ba, col), err_msg=col)
    np.testing.assert_array_equal(ab.h_min_eff_m, ba.h_min_eff_m)
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
    r = evaluate_pairs(TrackArrays.from_states(states), [0], [1])
    assert r.range_m[0] >= 0.0 and r.vertical_m[0] >= 0.0
    assert 0 <= r.level[0] <= 3
    assert bool(r.lost[0]) == (states[0].lost or states[1].lost)
    if np.isfinite(r.tcpa_s[0]):
        assert r.tcpa_s[0] >= 0.0
        # Closing: the predicted miss is never larger than the current range.
        assert r.cpa_h_m[0] <= r.range_m[0] * (1 + 1e-12) + 1e-9
    else:
        assert r.cpa_h_m[0] == r.range_m[0]
    tv = r.t_violation_s[0]
    if np.isfinite(tv):
        assert 0.0 <= tv <= 18.0
        assert r.level[0] >= Level.ADVISORY
    if tv == 0.0:
        assert r.level[0] == Level.WARNING


@given(random_pair())
@settings(max_examples=200, deadline=None)
def test_t_violation_matches_sampled_motion(states: list[TrackState]) -> None:
    """Independent check of t_violation: sample the linear relative motion on a fine grid."""
    tr = TrackArrays.from_states(states)
    r = evaluate_pairs(tr, [0], [1])
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
    inside_loose = (h < r.h_min_eff_m[0] + slack_h) & (z < r.v_min_eff_m[0] + 1e-6)
    inside_tight = (h < r.h_min_eff_m[0] - slack_h) & (z < r.v_min_eff_m[0] - 1e-6)
    tv = r.t_violation_s[0]
    if np.isnan(tv):
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
    r = evaluate_pairs(tr, [0], [1])
    assume(math.isnan(r.tcpa_s[0]))  # diverging or no relative motion
    assert r.level[0] == Level.NONE


@given(random_pair(min_dist=100_000.0, max_dist=500_000.0))
@settings(max_examples=200, deadline=None)
def test_beyond_100_km_never_alerts_at_any_speed(states: list[TrackState]) -> None:
    a, b = states
    a = track("a", a.lat, a.lon, 0.0, a.ve, a.vn, a.vu, a.hdop, 1, a.age_s, False)
    b = track("b", b.lat, b.lon, 0.0, b.ve, b.vn, b.vu, b.hdop, 1, b.age_s, False)
    r = evaluate_pairs(TrackArrays.from_states([a, b]), [0], [1])
    assert r.level[0] == Level.NONE


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
    allr = evaluate_pairs(tr, ia, ib)
    assert allr.level.max() >= Level.ADVISORY  # the set is dense enough to alert somewhere
    for k in range(0, ia.size, 37):
        one = evaluate_pairs(tr, ia[k : k + 1], ib[k : k + 1])
        for col in ("range_m", "bearing_deg", "tcpa_s", "cpa_h_m", "t_violation_s", "level"):
            np.testing.assert_array_equal(getattr(one, col)[0], getattr(allr, col)[k], err_msg=col)


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


def _random_minima(seed: int, m: int) -> dict[str, np.ndarray]:
    """Per-pair minima, including factors below 1 (allowed here, unlike in Minima)."""
    rs = np.random.default_rng(seed)
    return {
        "horizontal_m": rs.uniform(0, 5000, m),
        "vertical_m": rs.uniform(0, 500, m),
        "warning_s": rs.uniform(0, 10, m),
        "caution_s": rs.uniform(0, 20, m),
        "advisory_s": rs.uniform(0, 30, m),
        "caution_factor": rs.uniform(0, 3, m),
        "advisory_factor": rs.uniform(0, 3, m),
    }


def _with_and_without_prefilter(
    monkeypatch: pytest.MonkeyPatch,
    tr: TrackArrays,
    ia: np.ndarray,
    ib: np.ndarray,
    kw: dict[str, np.ndarray],
) -> tuple[PairResult, PairResult, bool]:
    """evaluate_pairs as is, and with the alert rules run on every pair; and whether the
    prefilter left any pair out."""
    filtered = evaluate_pairs(tr, ia, ib, **kw)  # type: ignore[arg-type]
    picked = separation._may_alert
    seen: list[bool] = []

    def everything(range_m: np.ndarray, *args: object) -> np.ndarray:
        seen.append(picked(range_m, *args).size < range_m.size)  # type: ignore[arg-type]
        return np.arange(range_m.size)

    with monkeypatch.context() as mp:
        mp.setattr(separation, "_may_alert", everything)
        unfiltered = evaluate_pairs(tr, ia, ib, **kw)  # type: ignore[arg-type]
    return filtered, unfiltered, any(seen)


@pytest.mark.parametrize("per_pair", [False, True])
@pytest.mark.parametrize(("seed", "spread_deg"), [(1, 0.005), (2, 0.03), (3, 0.2)])
def test_alert_prefilter_changes_nothing(
    monkeypatch: pytest.MonkeyPatch, seed: int, spread_deg: float, per_pair: bool
) -> None:
    # The alert rules only run on the pairs _may_alert picks; running them on every
    # pair must give the same bits, in particular near the edge of the filter.
    tr = _random_traffic(seed, 80, spread_deg)
    ia, ib = all_pairs(len(tr))
    kw = _random_minima(seed, ia.size) if per_pair else {}
    filtered, unfiltered, left_out = _with_and_without_prefilter(monkeypatch, tr, ia, ib, kw)
    # Both ways are covered: some pairs left out, and (close together) none.
    assert left_out if spread_deg > 0.01 else (per_pair or not left_out)
    assert filtered.level.max() >= Level.ADVISORY
    _assert_same_bits(filtered, unfiltered)


def test_alert_prefilter_degenerate_geometry(monkeypatch: pytest.MonkeyPatch) -> None:
    # Pole to pole (the chord is vertical in the mid frame, so the relative position
    # is not rescaled to the range), coincident and near-antipodal tracks, absurd speeds.
    states = [
        track("n", 90.0, 77.0, ve=-10.0, vn=-0.4),
        track("s", -90.0, 77.0, alt=600.0, ve=300.0, vn=-2.6, vu=-2.7),
        track("s2", -90.0, 77.0, alt=100.0),
        track("c1", 10.0, 20.0, ve=50.0),
        track("c2", 10.0, 20.0, alt=None),
        track("anti", -10.0, -160.0, vn=20.0),
        track("far", 40.0, 20.0),
        # A relative velocity that overflows to NaN: the rules see the pair as not moving.
        track("f1", 30.0, 45.0, ve=1.7e308),
        track("f2", 30.0, 45.001, ve=-1.7e308),
    ]
    tr = TrackArrays.from_states(states)
    ia, ib = all_pairs(len(tr))
    filtered, unfiltered, left_out = _with_and_without_prefilter(monkeypatch, tr, ia, ib, {})
    assert left_out
    _assert_same_bits(filtered, unfiltered)


def test_blocks_give_the_same_bits(monkeypatch: pytest.MonkeyPatch) -> None:
    tr = _random_traffic(4, 60, 0.05)
    ia, ib = all_pairs(len(tr))
    ia, ib = ib[::-1].copy(), ia[::-1].copy()  # any order, either way round
    for kw in ({}, _random_minima(4, ia.size)):
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
        for name in ("range_m", "bearing_deg", "t_violation_s", "level"):
            np.testing.assert_array_equal(getattr(r, name), getattr(ref, name))
    # Scalars as float, int, numpy scalar, 0-d or one-element array: the same bits.
    for h in (3000.0, 3000, np.float64(3000.0), np.array(3000.0), np.array([3000.0])):
        _assert_same_bits(evaluate_pairs(tr, ia, ib, horizontal_m=h), ref)
    for bad in (float("nan"), float("inf"), -1.0, np.array([[1.0]])):
        with pytest.raises(ValueError):
            evaluate_pairs(tr, ia, ib, horizontal_m=bad)
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
    listed = TrackArrays(**{name: list(v) if name != "source" else v for name, v in cols.items()})
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
    res = evaluate_pairs(tr, [0, 2, 2], [1, 3, 4])
    assert (res.range_m[:2] > 15_000_000).all()  # the arc formula is exact to 500 km, rough beyond
    assert res.level.tolist() == [Level.NONE, Level.NONE, Level.WARNING]
    assert np.isnan(res.t_violation_s[:2]).all()
    swapped = evaluate_pairs(tr, [1, 3, 4], [0, 2, 2])
    for col in ("range_m", "tcpa_s", "cpa_h_m", "t_violation_s", "level"):
        np.testing.assert_array_equal(getattr(swapped, col), getattr(res, col), err_msg=col)


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
