"""Tracker: velocity from SOG/COG or positions, noise floor, ageing, lost/regained."""

from __future__ import annotations

import math

from hypothesis import given, settings
from hypothesis import strategies as st

from sepmon.core.model import Fix
from sepmon.core.track import Track, Tracker, TrackEventType, speed_noise_floor_mps

M_PER_DEG = 6_371_008.8 * math.pi / 180.0


def fix(t: float, lat: float = 47.0, lon: float = 11.0, **kw: object) -> Fix:
    base: dict[str, object] = dict(
        source="a", t=t, lat=lat, lon=lon, alt_m=1000.0, sog_mps=None, cog_deg=None,
        quality=1, hdop=1.0, sats=9, rx_t=None,
    )  # fmt: skip
    base.update(kw)
    return Fix(**base)  # type: ignore[arg-type]


def test_velocity_from_sog_cog() -> None:
    tr = Track("a")
    tr.update(fix(0, sog_mps=50.0, cog_deg=90.0))
    assert math.isclose(tr.ve, 50.0) and abs(tr.vn) < 1e-9


def test_standing_still_jitter_is_zero_speed() -> None:
    tr = Track("a")
    for i in range(10):
        tr.update(fix(i, sog_mps=0.15 + 0.05 * (i % 3), cog_deg=(i * 97) % 360))
        assert tr.ve == 0.0 and tr.vn == 0.0


@settings(max_examples=100, deadline=None)
@given(sog=st.floats(0, 0.49), cog=st.floats(0, 359.9), hdop=st.floats(0.5, 20))
def test_anything_below_noise_floor_is_still(sog: float, cog: float, hdop: float) -> None:
    tr = Track("a")
    tr.update(fix(0, sog_mps=sog, cog_deg=cog, hdop=hdop))
    assert (tr.ve, tr.vn) == (0.0, 0.0)
    assert speed_noise_floor_mps(hdop) >= 0.5


def test_velocity_from_positions_when_no_sog() -> None:
    tr = Track("a")
    # 20 m/s north, 10 m/s east
    for i in range(5):
        lat = 47.0 + 20.0 * i / M_PER_DEG
        lon = 11.0 + 10.0 * i / (M_PER_DEG * math.cos(math.radians(47.0)))
        tr.update(fix(i, lat=lat, lon=lon))
    assert math.isclose(tr.vn, 20.0, rel_tol=0.02)
    assert math.isclose(tr.ve, 10.0, rel_tol=0.02)


def test_vertical_rate_and_its_floor() -> None:
    tr = Track("a")
    for i in range(5):
        tr.update(fix(i, alt_m=1000.0 + 5.0 * i))
    assert math.isclose(tr.vu, 5.0)
    tr2 = Track("a")
    for i in range(5):
        tr2.update(fix(i, alt_m=1000.0 + (2.0 if i % 2 else -2.0)))
    assert tr2.vu == 0.0


def test_duplicates_and_out_of_order_are_dropped() -> None:
    tr = Track("a")
    assert tr.update(fix(10))
    assert not tr.update(fix(10))
    assert not tr.update(fix(9, rx_t=None))
    assert (tr.duplicates, tr.out_of_order) == (1, 1)


def test_backward_time_jump_accepted_when_clock_advanced() -> None:
    tr = Track("a")
    assert tr.update(fix(1000, rx_t=5000.0))
    assert tr.update(fix(10, rx_t=5003.0))
    assert tr.last is not None and tr.last.t == 10


def test_state_dead_reckons_and_flags_lost() -> None:
    tr = Track("a", stale_s=5)
    tr.update(fix(0, sog_mps=10.0, cog_deg=0.0))
    s = tr.state(2.0)
    assert math.isclose((s.lat - 47.0) * M_PER_DEG, 20.0, rel_tol=1e-6)
    assert not s.lost and s.age_s == 2.0
    far = tr.state(100.0)
    assert far.lost
    assert math.isclose((far.lat - 47.0) * M_PER_DEG, 50.0, rel_tol=1e-6)  # capped at stale_s


def test_tracker_events_acquired_lost_regained() -> None:
    trk = Tracker(stale_s=5)
    ok, ev = trk.update(fix(0))
    assert ok and [e.type for e in ev] == [TrackEventType.ACQUIRED]
    assert trk.check(3) == []
    lost = trk.check(6)
    assert [(e.type, e.source, e.t) for e in lost] == [(TrackEventType.LOST, "a", 6)]
    assert trk.check(7) == []  # once
    ok, ev = trk.update(fix(8))
    assert [e.type for e in ev] == [TrackEventType.REGAINED]
    assert not trk.tracks["a"].lost


def test_ageing_uses_receive_time() -> None:
    trk = Tracker(stale_s=5)
    trk.update(fix(0, rx_t=1_700_000_000.0))
    assert trk.check(1_700_000_003.0) == []
    assert trk.states(1_700_000_003.0)[0].age_s == 3.0


def test_a_fix_received_before_the_loss_does_not_regain_the_track() -> None:
    """Issue 13 item 7: an epoch left incomplete when the source went silent is flushed at
    shutdown, after the track was declared lost; it must not 'regain' it at a time before
    the loss. Oracle: event order — a regained track cannot precede its loss."""
    trk = Tracker(stale_s=5)
    trk.update(fix(0.0, rx_t=1000.0))
    assert [e.type for e in trk.check(1006.0)] == [TrackEventType.LOST]
    accepted, events = trk.update(fix(1.0, rx_t=1000.9))  # received at 1000.9, delivered at 1006+
    assert not accepted and events == ()
    assert trk.tracks["a"].lost and trk.tracks["a"].stale_after_loss == 1
    accepted, events = trk.update(fix(7.0, rx_t=1007.0))  # a fresh fix does regain it
    assert accepted and [e.type for e in events] == [TrackEventType.REGAINED]
