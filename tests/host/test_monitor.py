"""Monitor: fixes in, events out; hysteresis, lost tracks, threats per board."""

from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from sepmon.core.config import parse_config
from sepmon.core.model import Fix, Level
from sepmon.core.monitor import Monitor

M_PER_DEG = 6_371_008.8 * math.pi / 180.0


def fix(src: str, t: float, north_m: float, sog: float = 0.0, cog: float = 0.0, alt: float = 1000.0) -> Fix:
    return Fix(src, t, 47.0 + north_m / M_PER_DEG, 11.0, alt, sog, cog, 1, 1.0, 10, None)


def head_on(mon: Monitor, t0: float, seconds: int, gap0: float = 8000.0, v: float = 50.0) -> list:
    """alpha flies north from 0, bravo south from gap0, 1 Hz."""
    events = []
    for k in range(seconds):
        t = t0 + k
        events += mon.tick(t)
        events += mon.on_fix(fix("alpha", t, v * k, v, 0.0))
        events += mon.on_fix(fix("bravo", t, gap0 - v * k, v, 180.0))
    return events


def test_levels_rise_in_order_and_fall_once_the_pair_is_clear() -> None:
    # Oracle: geometry by hand. 100 m/s closing from 8 km: the 3 km minima (the default
    # sepmon preset) are entered at t0 + 50 s and left at t0 + 110 s, CPA at t0 + 80 s.
    mon = Monitor(parse_config({"separation": {"hold_s": 3}}))
    ev = head_on(mon, 1000.0, 160)  # ends 8 km apart again
    levels = [(e.t, e.level) for e in ev if e.type == "level"]
    # Up one level at a time; down at once when no level's volume is ahead (as DAIDALUS).
    assert [lv for _, lv in levels] == [1, 2, 3, 0]
    t_adv, t_caution, t_warn, t_clear = (t for t, _ in levels)
    # Each level at least its alerting time (18/12/8 s) before the violation, and at most
    # 2-of-4 confirmation (one more 1 Hz report) plus a report's spacing later than that.
    for t, before in ((t_adv, 18.0), (t_caution, 12.0), (t_warn, 8.0)):
        assert 1050.0 - before - 3.0 <= t <= 1050.0 - before + 1.5
    # Clear only after leaving the minima, within M of N (three clear reports) and the hold.
    assert 1110.0 <= t_clear <= 1110.0 + 5.0
    st = mon.pairs[("alpha", "bravo")]
    assert st.max_level == Level.WARNING and st.min_range_m < 60


def test_a_replay_at_six_times_speed_confirms_in_recorded_seconds() -> None:
    # Oracle: geometry by hand, as above (3 km minima entered at t0 + 50 s recorded time).
    # Fixes received six times faster than recorded (a sped-up replay: the monitor's clock is
    # the receive time) with report_s = 1/6: every level shows, in order, at the recorded
    # times the 1x run would show it. With one report per host second instead, M of N waits
    # six recorded seconds a report: the warning came at +48 s, 6 s later than allowed.
    def run(report_s: float) -> list[tuple[float, int]]:
        mon = Monitor(parse_config({"separation": {"hold_s": 3}}), report_s=report_s)
        out = []
        for k in range(100):
            t = 1000.0 + k
            rx = 1000.0 + k * report_s
            for f in (fix("alpha", t, 50.0 * k, 50.0, 0.0), fix("bravo", t, 8000 - 50.0 * k, 50.0, 180.0)):
                out += mon.on_fix(replace(f, rx_t=rx))
            out += mon.tick(rx)
        return [(1000.0 + (e.t - 1000.0) / report_s, e.level) for e in out if e.type == "level" and e.level]

    fast = run(1.0 / 6.0)
    assert [lv for _, lv in fast] == [1, 2, 3]
    for (t, _), before in zip(fast, (18.0, 12.0, 8.0), strict=True):
        assert 1050.0 - before - 3.0 <= t <= 1050.0 - before + 1.5
    with pytest.raises(ValueError, match="report_s"):
        Monitor(parse_config({}), report_s=0.0)


def test_vertical_separation_prevents_alert() -> None:
    mon = Monitor(parse_config({}))
    ev = []
    for k in range(100):
        t = float(k)
        ev += mon.on_fix(fix("alpha", t, 50.0 * k, 50.0, 0.0, alt=1000.0))
        ev += mon.on_fix(fix("bravo", t, 8000 - 50.0 * k, 50.0, 180.0, alt=2500.0))
    assert not [e for e in ev if e.type == "level"]


def test_lost_track_holds_level_and_is_flagged() -> None:
    mon = Monitor(parse_config({"separation": {"hold_s": 2, "stale_s": 3}}))
    head_on(mon, 0.0, 46)  # warning by now, still closing
    assert mon.pairs[("alpha", "bravo")].level == Level.WARNING
    # bravo goes silent; alpha keeps reporting
    ev = []
    for k in range(46, 80):
        ev += mon.tick(float(k))
        ev += mon.on_fix(fix("alpha", float(k), 50.0 * k, 50.0, 0.0))
    assert [e.a for e in ev if e.type == "lost"] == ["bravo"]
    st = mon.pairs[("alpha", "bravo")]
    assert st.lost and st.level == Level.WARNING  # held, never decayed to clear
    threat = mon.threat_for("alpha")
    assert threat.level == Level.WARNING and threat.traffic_lost and not threat.own_unknown
    assert mon.threat_for("bravo").own_unknown


def test_far_lost_track_does_not_degrade_others() -> None:
    mon = Monitor(parse_config({"separation": {"stale_s": 2}}))
    for k in range(3):
        mon.on_fix(fix("alpha", float(k), 0.0))
        mon.on_fix(fix("bravo", float(k), 50_000.0))
    for k in range(3, 10):
        mon.tick(float(k))
        mon.on_fix(fix("alpha", float(k), 0.0))
    threat = mon.threat_for("alpha")
    assert not threat.traffic_lost and not threat.own_unknown and threat.level == Level.NONE


def test_unknown_board_is_own_unknown() -> None:
    mon = Monitor(parse_config({}))
    assert mon.threat_for("nobody").own_unknown


def test_alias_merges_two_paths_into_one_source() -> None:
    mon = Monitor(parse_config({"aliases": {"alpha-radio": "alpha"}}))
    for k in range(5):
        mon.on_fix(fix("alpha", float(k), 0.0))
        mon.on_fix(fix("alpha-radio", float(k), 0.0))  # the same epoch again via the radio
        mon.on_fix(fix("bravo", float(k), 10_000.0))
    assert set(mon.tracker.tracks) == {"alpha", "bravo"}
    assert mon.tracker.tracks["alpha"].duplicates == 5
    assert set(mon.pairs) == {("alpha", "bravo")}


def test_unchecked_pairs_are_never_evaluated() -> None:
    cfg = parse_config(
        {"groups": {"own": ["alpha", "bravo"]}, "pairs": [{"groups": ["own", "own"], "check": False}]}
    )
    mon = Monitor(cfg)
    head_on(mon, 0.0, 60)
    assert mon.pairs == {}


def test_mixed_pair_classes_match_the_core_pair_by_pair() -> None:
    """Per-pair minima from several pair classes, checked pairs only, fixes arriving in
    any order and evaluated in batches: every pair's raw level and geometry equal the
    separation core's for that pair alone with its own rule, at the monitor's clock."""
    from sepmon.core.separation import TrackArrays, evaluate_pairs

    cfg = parse_config(
        {
            "groups": {"red": ["r1", "r2", "r3"], "blue": ["b1", "b2"]},
            "pairs": [
                {"groups": ["red", "blue"], "horizontal_m": 5000, "vertical_m": 500},
                {"groups": ["red", "red"], "check": False},
                {"groups": ["blue", "default"], "horizontal_m": 1500, "warning_s": 4, "caution_s": 6},
            ],
            # Positions below jump kilometres a second to vary the geometry: no speed limit.
            "max_speed_mps": {"default": 1e9},
        }
    )
    mon = Monitor(cfg)
    names = ["r1", "b1", "x1", "r2", "b2", "x2", "r3"]
    rng = np.random.default_rng(5)
    for step in range(30):
        t = 100.0 + step
        for k in rng.permutation(len(names)).tolist():
            if rng.random() < 0.2 and step > 2:
                continue  # some sources skip an epoch: only some pairs are evaluated
            north = float(rng.uniform(-6000, 6000))
            mon.on_fix(
                fix(names[k], t + k * 0.01, north, float(rng.uniform(0, 80)), float(rng.uniform(0, 360))),
                False,
            )
        mon.evaluate()
    states = list(mon.states())
    tracks = TrackArrays.from_states(states)
    checked = 0
    for (a, b), pst in mon.pairs.items():
        assert (a, b) != ("r1", "r2") and not (a.startswith("r") and b.startswith("r"))
        rule = cfg.rule_for(a, b)
        if pst.t != mon.now:
            continue  # not re-evaluated in the last batch: older figures
        res = evaluate_pairs(tracks, [tracks.index(a)], [tracks.index(b)], near_m=1e12)
        raw = rule.alerter.levels_now(*res.rel, res.margin_h_m, res.margin_v_m)
        assert pst.raw_level == raw[0]
        assert pst.range_m == pytest.approx(res.range_m[0], rel=1e-9)
        assert pst.vertical_m == pytest.approx(res.vertical_m[0], abs=1e-6)
        checked += 1
    n = len(names)
    assert len(mon.pairs) == n * (n - 1) // 2 - 3  # the three red-red pairs are never checked
    assert checked >= 10


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_deferred_evaluation_gives_the_same_events_and_pairs(seed: int, tmp_path: Path) -> None:
    """``defer=True`` (evaluations queued, run together by flush()) is the immediate
    monitor's behaviour exactly: the same events in the same order, the same pair status,
    whichever batches of evaluations end up in one flush."""
    from sepmon.apps.analyze import read_recording
    from sepmon.sim import simulate, write_recording

    path = tmp_path / "many.nmea"
    write_recording(simulate("many", seed=seed, rate=2, faults=True), path)
    fixes = sorted(read_recording(path), key=lambda f: f.rx_t if f.rx_t is not None else f.t)
    cfg = parse_config(
        {
            "separation": {"hold_s": 3, "stale_s": 2},
            "groups": {"red": [f.source for f in fixes[:2]]},
            "pairs": [{"groups": ["red", "default"], "horizontal_m": 4500}],
        }
    )
    now_mon, later_mon = Monitor(cfg), Monitor(cfg, defer=True)
    now_events: list = []
    later_events: list = []
    rng = np.random.default_rng(seed)
    next_eval = next_tick = -math.inf
    for fix in fixes:
        clock = fix.rx_t if fix.rx_t is not None else fix.t
        if clock >= next_eval:
            now_events += now_mon.evaluate()
            assert later_mon.evaluate() == []
            next_eval = clock + 0.1
        if clock >= next_tick:
            for mon, out in ((now_mon, now_events), (later_mon, later_events)):
                out += mon.tick(clock) if math.isfinite(next_tick) else mon.check(clock)
            next_tick = math.floor(clock) + 1.0
        at_once = bool(rng.random() < 0.1)
        now_events += now_mon.on_fix(fix, evaluate=at_once)
        assert later_mon.on_fix(fix, evaluate=at_once) == []
        if rng.random() < 0.05:
            later_events += later_mon.flush()
    now_events += now_mon.evaluate()
    later_mon.evaluate()
    later_events += later_mon.flush()
    assert [e.type for e in now_events].count("level") >= 3
    assert [e.to_json() for e in later_events] == [e.to_json() for e in now_events]
    assert later_mon.pairs == now_mon.pairs


def test_a_permanent_jump_of_1000_km_is_the_sources_fault_and_never_clears_the_pair() -> None:
    """Issue 13 item 15. Oracle: geometry by hand — 1000 km in 1 s is 1e6 m/s, far past the
    600 m/s default (an airliner's ground speed with a jet-stream tailwind is ~350 m/s)."""
    mon = Monitor(parse_config({"separation": {"hold_s": 2, "stale_s": 3}}))
    head_on(mon, 0.0, 46)
    assert mon.pairs[("alpha", "bravo")].level == Level.WARNING
    ev = []
    for k in range(46, 80):  # bravo now reports 1000 km north, for good
        ev += mon.tick(float(k))
        ev += mon.on_fix(fix("alpha", float(k), 50.0 * k, 50.0, 0.0))
        ev += mon.on_fix(fix("bravo", float(k), 1_000_000.0, 50.0, 180.0))
    jumps = [e for e in ev if e.type == "implausible"]
    assert [e.a for e in jumps] == ["bravo"] and jumps[0].t == 46.0  # once, at the first such fix
    # bravo's last good fix was 8000 - 50 * 45 = 5750 m north: the jump is 994,250 m in 1 s.
    assert jumps[0].detail is not None and "994.3 km" in jumps[0].detail and "994250 m/s" in jumps[0].detail
    assert [e.a for e in ev if e.type == "lost"] == ["bravo"]  # nothing believable followed
    st = mon.pairs[("alpha", "bravo")]
    assert st.level == Level.WARNING and st.lost  # held: not cleared on the jumped position's word
    assert mon.tracker.tracks["bravo"].implausible_total == 80 - 46


def test_the_speed_limit_is_per_group_and_a_fast_vehicle_within_it_is_believed() -> None:
    """A 250 m/s jet passes under the default limit; a boat group limited to 30 m/s does not."""
    cfg = parse_config({"groups": {"boats": ["bravo"]}, "max_speed_mps": {"boats": 30, "default": 600}})
    assert cfg.max_speed_of("alpha") == 600 and cfg.max_speed_of("bravo") == 30
    mon = Monitor(cfg)
    ev = []
    for k in range(5):
        ev += mon.on_fix(fix("alpha", float(k), 250.0 * k, 250.0, 0.0))
        ev += mon.on_fix(fix("bravo", float(k), 50_000 + 250.0 * k, 250.0, 0.0))
    assert [e.a for e in ev if e.type == "implausible"] == ["bravo"]
    assert mon.tracker.tracks["alpha"].implausible_total == 0
